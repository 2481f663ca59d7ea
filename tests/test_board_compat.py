"""Board compatibility: the checks that bring the host close to the Feather nRF52840 Express.

* type check of code.py and lib/kaskad against circuitpython-stubs (board feather_nrf52840_express,
  adafruit-circuitpython-typing, a custom typeshed with CircuitPython's time/os/struct/...);
* imports: only modules the board has, or guarded ones (tools/board_imports.py);
* every tests/vm/check_*.py on a real MicroPython VM with a capped heap (tools/vm_run.py);
* no unmarked floats in the firmware (tools/float_check.py);
* every firmware file compiles with mpy-cross (tools/mpy_build.py);
* `make install` copies the right files and refuses without a drive (tools/install_board.py).
Each checker also gets a test that it can fail, so a green run means something.
Run under the project's venv (`make test`): the stubs, the VM and mpy-cross live there.
"""

import glob
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import board_imports  # noqa: E402
import float_check  # noqa: E402
import install_board  # noqa: E402
import mpy_build  # noqa: E402
import typecheck  # noqa: E402
import vm_run  # noqa: E402

VM_CHECKS = sorted(glob.glob(os.path.join(ROOT, "tests", "vm", "check_*.py")))


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "w", encoding="utf-8") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return str(path)


# --- type check ---------------------------------------------------------------------------------


def test_firmware_typechecks_against_the_board_api():
    status, output = typecheck.run()
    assert status == 0, "mypy (mypy.ini, board feather_nrf52840_express) rejects the firmware:\n" + output


# Each case: a snippet that is wrong on the board, and what mypy must say about it.
WRONG_API = {
    "uart_baud_keyword": ("import board, busio\nbusio.UART(board.TX, board.RX, baud=9600)\n",
                          'Unexpected keyword argument "baud"'),
    "uart_flush": ("import board, busio\nuart = busio.UART(board.TX, board.RX)\nuart.flush()\n",
                   'has no attribute "flush"'),
    "uart_write_str": ("import board, busio\nbusio.UART(board.TX, board.RX).write('text')\n",
                       'Argument 1 to "write" of "UART" has incompatible type "str"'),
    "uart_read_may_be_none": ("import board, busio\nb = busio.UART(board.TX, board.RX).read(4)\nb[0]\n",
                              "is not indexable"),
    "board_d99": ("import board\npin = board.D99\n", 'has no attribute "D99"'),
    "aesio_mode_ccm": ("import aesio\nmode = aesio.MODE_CCM\n", 'has no attribute "MODE_CCM"'),
    "nvm_may_be_none": ("import microcontroller\nfirst = microcontroller.nvm[0]\n", "is not indexable"),
    "connection_address": ("import _bleio\ndef peer(c: _bleio.Connection) -> None:\n    print(c.address)\n",
                           'has no attribute "address"'),
    "time_perf_counter": ("import time\nt = time.perf_counter()\n", 'has no attribute "perf_counter"'),
    "struct_Struct": ("import struct\ns = struct.Struct('<I')\n", 'has no attribute "Struct"'),
    "os_environ": ("import os\ne = os.environ\n", 'has no attribute "environ"'),
    "hashlib_sha256": ("import hashlib\nh = hashlib.sha256(b'')\n", 'has no attribute "sha256"'),
    "hashlib_hexdigest": ("import hashlib\nh = hashlib.new('sha256', b'').hexdigest()\n",
                          'has no attribute "hexdigest"'),
    "unannotated_body": ("import board, busio\ndef poll():\n    busio.UART(board.TX, board.RX).flush()\n",
                         'has no attribute "flush"'),
}

# The same modules used the board's way: must pass, or the rejections above prove nothing.
RIGHT_API = """
import gc
import hashlib
import os
import struct
import time

import aesio
import board
import busio
import microcontroller

try:
    from typing import Optional
except ImportError:
    pass
from micropython import const

RATE = const(9600)
uart = busio.UART(board.TX, board.RX, baudrate=RATE, timeout=0, receiver_buffer_size=256)
uart.reset_input_buffer()
uart.write(b"\\x01\\x02")
data = uart.read(4)
if data is not None:
    first = data[0]
nvm = microcontroller.nvm
if nvm is not None:
    nvm[0:2] = b"\\x00\\x01"
cipher = aesio.AES(bytes(16), aesio.MODE_ECB)
out = bytearray(16)
cipher.encrypt_into(bytes(16), out)
time.sleep(0.01)  # float-ok: seconds
now = time.monotonic_ns()
packed = struct.pack("<HI", 1, 2)
value = int.from_bytes(packed, "little")
name = os.getenv("KASKAD_ADDRESS", "0")
digest = hashlib.new("sha256", b"abc").digest()
free = gc.mem_free()


def poll(n: "Optional[int]") -> int:
    return n or 0
"""


@pytest.fixture(scope="module")
def wrong_api_report(tmp_path_factory):
    """One mypy run over one file per case (plus the right-API control); errors by file name."""
    tmp = tmp_path_factory.mktemp("typecheck")
    paths = [write(tmp / ("case_%s.py" % name), code) for name, (code, _) in WRONG_API.items()]
    paths.append(write(tmp / "right_api.py", RIGHT_API))
    status, output = typecheck.run(paths, cwd=str(tmp))
    by_file = {}
    for line in output.splitlines():
        m = re.match(r"(.*?\.py):\d+: (error|note): (.*)", line)
        if m:
            by_file.setdefault(os.path.basename(m.group(1)), []).append(m.group(3))
    return status, output, by_file


def test_typecheck_accepts_the_right_api(wrong_api_report):
    _status, output, by_file = wrong_api_report
    assert "right_api.py" not in by_file, output


@pytest.mark.parametrize("case", sorted(WRONG_API))
def test_typecheck_rejects_what_the_board_lacks(case, wrong_api_report):
    status, output, by_file = wrong_api_report
    assert status != 0
    messages = by_file.get("case_%s.py" % case, [])
    expected = WRONG_API[case][1]
    assert any(expected in m for m in messages), "mypy did not reject case %s (%r):\n%s" % (case, expected, output)


# --- imports ------------------------------------------------------------------------------------


def test_firmware_imports_only_what_the_board_has():
    allowed = board_imports.allowed_modules()
    bad = []
    for path in float_check.firmware_files():
        with open(path, encoding="utf-8") as f:
            for line, module in board_imports.stray_imports(f.read(), allowed, path):
                bad.append("%s:%d: %s" % (os.path.relpath(path, ROOT), line, module))
    assert not bad, "imports the board does not have (guard optional ones with try/except ImportError):\n" + "\n".join(bad)


def test_board_import_check_catches_cpython_modules():
    allowed = board_imports.allowed_modules()
    assert {"busio", "aesio", "_bleio", "struct", "time", "microcontroller", "kaskad", "gc", "micropython"} <= allowed
    source = textwrap.dedent("""
        import dataclasses
        from enum import Enum
        import abc, struct
        from typing import Optional
        import hmac
        try:
            from typing import List
        except ImportError:
            pass
        try:
            import adafruit_missing
        except (ValueError, ImportError):
            pass
        if TYPE_CHECKING:
            import collections.abc
        try:
            import base64
        except ValueError:
            pass
        from . import sibling
        import kaskad.reading
    """)
    found = board_imports.stray_imports(source, allowed)
    assert [m for _, m in found] == ["dataclasses", "enum", "abc", "typing", "hmac", "base64"]


# --- MicroPython VM -----------------------------------------------------------------------------


def test_every_firmware_module_runs_in_a_vm_check():
    """Each module of lib/kaskad is imported by at least one tests/vm/check_*.py, so none goes to
    the board without having run on a MicroPython VM."""
    import re

    sources = "".join(open(path, encoding="utf-8").read() for path in VM_CHECKS)
    imported = set(re.findall(r"from kaskad\.(\w+) import", sources))
    for names in re.findall(r"from kaskad import ([\w ,]+)", sources):
        imported.update(name.split(" as ")[0].strip() for name in names.split(","))
    modules = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "lib", "kaskad", "*.py"))}
    modules.discard("__init__")
    assert modules and modules - imported == set(), "not run on the VM: %s" % sorted(modules - imported)


@pytest.mark.parametrize("vm", ["unix", "wasm"])
@pytest.mark.parametrize("script", VM_CHECKS, ids=[os.path.basename(p) for p in VM_CHECKS])
def test_vm_check(script, vm):
    """Every check on the 64-bit unix VM (capped heap) and on the 32-bit WebAssembly VM (31-bit
    small ints, as on the board: an int past 2**30 allocates there). `make test` installs the
    WebAssembly VM with npm ci, so a missing one is a failure, not a skip."""
    proc = vm_run.run(script, vm=vm, timeout=900)
    report = "%s on the %s MicroPython VM (rc %d):\n--- stdout\n%s--- stderr\n%s" % (
        os.path.basename(script), vm, proc.returncode, proc.stdout, proc.stderr)
    assert proc.returncode == 0, report
    lines = proc.stdout.strip().splitlines()
    assert lines and lines[-1].strip() == "ok", "no closing 'ok'. " + report


CPYTHON_ONLY = {
    "from_bytes_keyword": ("int.from_bytes(b'\\x01\\x02', byteorder='little')\n", "TypeError"),
    "dataclasses": ("import dataclasses\n", "ImportError"),
    "typing": ("from typing import Optional\n", "ImportError"),
    "struct_Struct": ("import struct\nstruct.Struct('<I')\n", "AttributeError"),
    "bytes_ljust": ("b'ab'.ljust(4, b'\\x00')\n", "AttributeError"),
    "memoryview_tobytes": ("memoryview(b'ab').tobytes()\n", "AttributeError"),
    "match_statement": ("match 1:\n    case 1:\n        pass\n", "SyntaxError"),
}


@pytest.mark.parametrize("case", sorted(CPYTHON_ONLY))
def test_vm_rejects_cpython_only_code(case, tmp_path):
    code, error = CPYTHON_ONLY[case]
    script = write(tmp_path / "cpython_only.py", code + "print('ok')\n")
    # The same file runs on CPython: the VM, not the snippet, is what fails.
    if case not in ("dataclasses", "typing", "struct_Struct"):
        assert subprocess.run([sys.executable, script], stdout=subprocess.PIPE).returncode == 0
    proc = vm_run.run(script)
    assert proc.returncode != 0, proc.stdout
    assert error in proc.stderr + proc.stdout
    assert "ok" not in proc.stdout


def test_vm_heap_cap_raises_memory_error(tmp_path):
    script = write(tmp_path / "alloc.py", """
        buf = bytearray(200 * 1024)
        print("ok", len(buf))
    """)
    capped = vm_run.run(script, heap="64K")
    assert capped.returncode != 0
    assert "MemoryError" in capped.stderr + capped.stdout
    roomy = vm_run.run(script, heap="1M")
    assert roomy.returncode == 0 and roomy.stdout.startswith("ok"), roomy.stderr


def test_vm_heap_marker_sets_the_heap(tmp_path):
    script = write(tmp_path / "heap.py", """
        # vm-heapsize: 48K
        import gc
        gc.collect()
        print(gc.mem_free() + gc.mem_alloc())
    """)
    proc = vm_run.run(script)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) <= 48 * 1024


def test_vm_module_path_is_lib_and_tests_vm(tmp_path):
    script = write(tmp_path / "path.py", """
        import sys
        print(repr(sys.path))
        import kaskad
        print("ok")
    """)
    proc = vm_run.run(script)
    assert proc.returncode == 0, proc.stderr
    assert os.path.join(ROOT, "lib") in proc.stdout and os.path.join(ROOT, "tests", "vm") in proc.stdout
    assert "frozen" not in proc.stdout


# --- floats -------------------------------------------------------------------------------------


def test_firmware_has_no_unmarked_floats():
    found = float_check.check(float_check.firmware_files())
    assert not found, "unmarked floats (the board's floats are 30-bit; mark a needed one `# float-ok: why`):\n" + "\n".join(
        "%s:%d: %s: %s" % (os.path.relpath(p, ROOT), line, what, text) for p, line, _, what, text in found)


def test_float_check_catches_unmarked_floats(tmp_path):
    path = write(tmp_path / "floats.py", """
        import time
        x = 25
        a = x / 10
        b = 1.5
        x /= 2
        c = float(x)
        d = 2e3
        e = x // 10
        f = "1.5 / 2"
        time.sleep(0.5)  # float-ok: time.sleep takes seconds
        g = (x /
             4)  # float-ok: spans two lines, marked on the last
        h = 0.25  # float-ok:
        i = 0.75  # float ok: misspelt marker
        s = "# float-ok: not a comment"; j = 3.5
    """)
    found = [(line, what) for _, line, _, what, _ in float_check.check([path])]
    assert found == [
        (3, "true division '/'"),
        (4, "float literal 1.5"),
        (5, "true division '/='"),
        (6, "float() call"),
        (7, "float literal 2000.0"),
        (13, "float literal 0.25"),
        (14, "float literal 0.75"),
        (15, "float literal 3.5"),
    ]
    assert float_check.main([path]) == 1
    clean = write(tmp_path / "clean.py", "import time\ntime.sleep(0.5)  # float-ok: seconds\nn = 7 // 2\n")
    assert float_check.check([clean]) == []
    assert float_check.main([clean]) == 0


# --- mpy-cross ----------------------------------------------------------------------------------


def test_firmware_compiles_with_mpy_cross(tmp_path):
    failures = []
    for src in float_check.firmware_files():
        dest, error = mpy_build.compile_file(src, str(tmp_path))
        if dest is None:
            failures.append("%s:\n%s" % (os.path.relpath(src, ROOT), error))
        else:
            with open(dest, "rb") as f:
                assert f.read(2) == b"C\x06", dest  # CircuitPython's magic, mpy v6
    assert not failures, "mpy-cross (the board's compiler) rejects:\n" + "\n".join(failures)


def test_mpy_cross_rejects_cpython_only_syntax(tmp_path):
    src = write(tmp_path / "m.py", "match 1:\n    case 1:\n        pass\n")
    dest, error = mpy_build.compile_file(src, str(tmp_path / "out"), root=str(tmp_path))
    assert dest is None and "SyntaxError" in error


# --- make install -------------------------------------------------------------------------------


def test_make_install_refuses_without_circuitpy():
    env = dict(os.environ)
    env.pop("CIRCUITPY", None)
    proc = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "install"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode != 0
    assert "CIRCUITPY=" in proc.stdout


def test_install_copies_firmware_and_keeps_settings(tmp_path):
    root = tmp_path / "repo"
    write(root / "code.py", "print('new')\n")
    write(root / "settings.toml", 'KASKAD_ADDRESS = "1"\n')
    write(root / "lib" / "kaskad" / "__init__.py", "")
    write(root / "safemode.py", "print('back')\n")
    write(root / "lib" / "kaskad" / "app.py", "X = 1\n")
    write(root / "lib" / "kaskad" / "__pycache__" / "app.cpython-311.pyc", "junk")
    drive = tmp_path / "CIRCUITPY"
    write(drive / "boot_out.txt", "Adafruit CircuitPython 10.0.0 on 2025-01-01; Adafruit Feather nRF52840 Express\n")
    write(drive / "lib" / "kaskad" / "stale.py", "old\n")
    said = []
    install_board.install(str(drive), root=str(root), say=said.append)
    assert sorted(os.listdir(str(drive / "lib" / "kaskad"))) == ["__init__.mpy", "app.mpy"]
    assert (drive / "lib" / "kaskad" / "app.mpy").read_bytes()[:1] == b"C"  # CircuitPython's magic
    install_board.install(str(drive), root=str(root), say=said.append, compiled=False)
    assert sorted(os.listdir(str(drive / "lib" / "kaskad"))) == ["__init__.py", "app.py"]
    assert (drive / "code.py").read_text() == "print('new')\n"
    assert (drive / "safemode.py").read_text() == "print('back')\n"
    assert (drive / "settings.toml").read_text() == 'KASKAD_ADDRESS = "1"\n'
    # A second install keeps the user's edited settings.
    (drive / "settings.toml").write_text('KASKAD_ADDRESS = "42"\n')
    install_board.install(str(drive), root=str(root), say=said.append)
    assert (drive / "settings.toml").read_text() == 'KASKAD_ADDRESS = "42"\n'
    # Not a CircuitPython drive: refused, nothing written.
    other = tmp_path / "not_a_board"
    other.mkdir()
    with pytest.raises(SystemExit):
        install_board.install(str(other), root=str(root), say=said.append)
    assert os.listdir(str(other)) == []


def test_install_asks_only_for_the_libraries_the_firmware_imports(tmp_path):
    root = tmp_path / "repo"
    write(root / "code.py", "import used_lib\n")
    write(root / "lib" / "kaskad" / "__init__.py", "")
    for name in ("used_lib", "unused_lib"):  # libraries of requirements-board.txt, as make venv puts them
        write(root / ".venv" / "board-lib" / name / "__init__.py", "")
    drive = tmp_path / "CIRCUITPY"
    write(drive / "boot_out.txt", "Adafruit CircuitPython 10.2.1\n")
    said = []
    install_board.install(str(drive), root=str(root), say=said.append)
    missing = [line for line in said if "still missing" in line]
    assert len(missing) == 1 and "used_lib" in missing[0] and "unused_lib" not in missing[0], said
