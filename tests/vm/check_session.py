# Runs on the MicroPython VM: an owner's session (kaskad.session, which code.py imports only when
# a central connects) in the common subset -- a claim, a sealed STATUS, a refusal -- and
# kaskad.unload (a module forgotten is out of sys.modules and its package, imports again, and on
# the unix VM its heap is freed). That the frames are right is tests/test_owner_vectors.py's
# (CPython, against vectors made without this code); here: that it runs on MicroPython.
import gc
import sys

from kaskad import unload
from kaskad.ccm import CCM, MIC_LEN, NONCE_LEN
from kaskad.config import ClaimWindow
from kaskad.session import DIR_TO_CLIENT, DIR_TO_DEVICE, E_BAD_FRAME, OK, OP_STATUS, T_CLAIM, T_COMMAND
from kaskad.session import T_REFUSAL, T_RESPONSE, ConfigSession
from kaskad.store import Store

GROWING_HEAP = "Emscripten" in getattr(sys.implementation, "_machine", "")  # see check_loop.py
KEY = bytes(range(1, 17))
CHALLENGE = bytes(range(100, 111))


class Clock:
    def __init__(self):
        self.ms = 1000

    def now_ms(self):
        return self.ms


def nonce(direction, seq):
    out = bytearray(NONCE_LEN)
    out[0:11] = CHALLENGE
    out[11] = direction
    out[12] = seq
    return out


def opened(response, seq):
    """(code, data) of a sealed response, opened with the owner's key."""
    assert response[0] == T_RESPONSE and response[1] == seq, response
    n = len(response) - 2 - MIC_LEN
    plain = bytearray(n)
    assert CCM(KEY).decrypt_into(nonce(DIR_TO_CLIENT, seq), memoryview(response)[2:], n, plain), response
    return plain[0], bytes(plain[1:])


clock = Clock()
window = ClaimWindow(clock)
window.open()
lines = []
store = Store(bytearray(b"\xff" * 512), lines.append)
session = ConfigSession(CHALLENGE, store, clock, window, {}, None, None, lines.append)
response, end = session.handle(bytes((T_CLAIM,)) + KEY)
assert not end and opened(response, 0) == (OK, b""), response
assert store.owners == [KEY] and not window.is_open()

sealed = bytearray(2 + 1 + MIC_LEN)
sealed[0] = T_COMMAND
sealed[1] = 1
CCM(KEY).encrypt_into(nonce(DIR_TO_DEVICE, 1), bytes((OP_STATUS,)), 1, memoryview(sealed)[2:])
response, end = session.handle(bytes(sealed))
assert not end and opened(response, 1) == (OK, bytes((1, 0, 0))), response

response, end = session.handle(b"\x05\x00")
assert end and response == bytes((T_REFUSAL, E_BAD_FRAME)), response
assert session.should_disconnect() and any("refused" in line for line in lines), lines

# kaskad.unload: settings_file, as code.py forgets it once settings.toml is read
gc.collect()
before = gc.mem_alloc()
from kaskad import settings_file  # noqa: E402

loaded = gc.mem_alloc()
del settings_file
unload.forget("kaskad.settings_file")
assert "kaskad.settings_file" not in sys.modules and not hasattr(sys.modules["kaskad"], "settings_file")
gc.collect()
if not GROWING_HEAP:  # on wasm a collection waits until the script returns (check_loop.py)
    left = gc.mem_alloc() - before
    assert left < (loaded - before) // 4, "forgotten, settings_file still holds %d of %d bytes" % (left, loaded - before)
from kaskad import settings_file  # noqa: E402,F811  imports again from the file

assert settings_file.MAX_SCAN_BYTES == 65536
print("ok")
