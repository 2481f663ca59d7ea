# The VM check convention (tests/test_board_compat.py runs every tests/vm/check_*.py):
#   a plain script in the MicroPython/CircuitPython common subset -- no typing at run time, no
#   f-string `=`, no dataclasses/enum/abc, no reliance on dict order, no keyword arguments to
#   int.from_bytes -- that asserts what it checks and prints "ok" as its last line.
#   It runs under `micropython -X heapsize=...` (tools/vm_run.py) with lib/ and tests/vm/ on the
#   module path; a `# vm-heapsize: 64K` comment in the first 10 lines sets a smaller heap.
#   Run one by hand: make vm FILE=tests/vm/check_vm_sanity.py
# This one checks the VM itself: that it is MicroPython or CircuitPython (CircuitPython's own core
# calls itself "circuitpython"), that its heap is capped (except on the WebAssembly VM, whose heap
# grows by design: tools/vm_run.py --vm wasm), and that the firmware package is importable from lib/.
# vm-heapsize: 64K
import gc
import struct
import sys

assert sys.implementation.name in ("micropython", "circuitpython"), sys.implementation.name
GROWING_HEAP = "Emscripten" in getattr(sys.implementation, "_machine", "")

# The heap is the capped one (64K above), not the 2 MB default.
gc.collect()
total = gc.mem_free() + gc.mem_alloc()
if not GROWING_HEAP:
    assert total <= 64 * 1024, total
    try:
        big = bytearray(96 * 1024)
        raise AssertionError("a 96 KB buffer fitted in a 64 KB heap")
    except MemoryError:
        pass

# Small ints: 31 bits on a 32-bit VM (the board, wasm32), 63 on the 64-bit unix VM; either way
# 2**29 (a ticks_ms value) and the sum of two of them allocate nothing.
def ticks_sum_allocates(a, b):
    gc.collect()
    before = gc.mem_alloc()
    total = (a + b) & ((1 << 29) - 1)
    return gc.mem_alloc() - before + total * 0


assert ticks_sum_allocates((1 << 29) - 1, (1 << 29) - 1) == 0
assert ticks_sum_allocates((1 << 29) - 1, (1 << 29) - 1) == 0

# The common subset the firmware relies on.
assert int.from_bytes(b"\x01\x02", "little") == 0x0201
assert (0x0201).to_bytes(2, "little") == b"\x01\x02"
assert struct.pack("<HB", 0x1234, 7) == b"\x34\x12\x07"
assert struct.unpack_from("<H", b"\x00\x34\x12", 1) == (0x1234,)
buf = bytearray(4)
view = memoryview(buf)
view[1:3] = b"ab"
assert bytes(buf) == b"\x00ab\x00"
try:
    from micropython import const
except ImportError:
    raise AssertionError("micropython.const missing")
assert const(5) == 5

# aesio (the board's, or host/vm's shim over cryptolib or plain Python): FIPS-197 appendix C.1.
import aesio

out = bytearray(16)
aesio.AES(bytes(range(16)), aesio.MODE_ECB).encrypt_into(bytes.fromhex("00112233445566778899aabbccddeeff"), out)
assert out == bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a"), out

# The firmware package resolves from lib/ (MICROPYPATH).
import kaskad

assert kaskad.__name__ == "kaskad"

print("ok")
