"""The firmware's heap in use on 32-bit and 64-bit MicroPython VMs: `make heap` (issue 13).

For each VM (wasm32: the WebAssembly MicroPython from npm, 4-byte pointers and 31-bit small ints as
on the board; unix64: the capped unix port from PyPI) and each form of the firmware (.py source as
`make install SOURCE=1` copies it, .mpy as `make install` does), the heap in use (gc.mem_alloc()
after a full collection):

  boot       after importing what code.py imports (its `from kaskad...` lines, read from code.py,
             kaskad.gatt included) with the REAL adafruit_ble (.venv/board-lib) over a `_bleio`
             stub (tools/heap/_bleio.py: C on the board);
  loop       with the loop running: tests/vm/check_loop.py's board (its fakes, the real App,
             encrypted Broadcaster, Radio, ConfigPort...) built and turned for WARM_UP_POLLS (20) polls;
  +1000      after 1000 more polls (--polls) (must equal `loop`: nothing kept per poll);
  smallest   the smallest heap boot, build and 20 polls complete in (unix64), bisected
             with -X heapsize to 1 KB (unix64 only: the wasm port grows its heap on demand, see
             tools/heap/heap_wasm.mjs, so it has no cap to bisect).

Module trees are built under build/heap/{py,mpy}: lib/kaskad, adafruit_ble, the stub, the VM
stand-ins for C modules the loop needs (host/vm: aesio over _pyaes, keypad), heap_boot (code.py's
imports) and heap_loop (check_loop.py up to its measurements). .mpy files keep MicroPython's
magic byte 'M' (tools/mpy_build.py sets CircuitPython's 'C' for the board; both are mpy v6.3).

Usage: heap_table.py [--quick] [--modules] [--json] [--polls N]
  --quick    wasm32 and .mpy only, no bisection (what the budget test runs)
  --modules  also the import cost of each module on wasm32 from .mpy
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import vm_run  # noqa: E402
from mpy_build import mpy_cross  # noqa: E402

# THE budget: the firmware's own bytes in use (``firmware``: less the VM's stand-ins for C and the
# harness's code) on wasm32 from .mpy with the loop running, checked by tests/test_heap_budget.py:
# today's figure plus a small margin, so that growth is caught; never raise it without saying why.
# History (raw figures, adafruit_ble imported): 100 944 bytes before the `ha` merge, 104 752 after
# it, 111 280 after the `input` merge (firmware figure then: 98 304). Issue 13 (branch `heap`):
# 65 344 (63.8 KB), the GATT service made on _bleio without adafruit_ble, the owner's session
# imported on connection, settings_file and settings forgotten after boot (see the README).
# 72 256 (70.6 KB) once merged with the KASKAD-1-MT as a meter family (issue 14): the board holds the
# neutral reading, the family interface and the one link, and still the MIRTEK-shaped kaskad.meter,
# kaskad.mirtek and kaskad.link over them until the publishers read kaskad.reading.
BUDGET_LOOP_WASM_MPY = 71 * 1024
BOARD_HEAP = 160 * 1024  # at most, what the Feather nRF52840 leaves (ports/nordic/mpconfigport.h)
TARGET = 72 * 1024  # issue 13

BUILD = os.path.join(ROOT, "build", "heap")
BOARD_LIB = os.path.join(ROOT, ".venv", "board-lib")
STUBS = [os.path.join(HERE, "heap", "_bleio.py"), os.path.join(HERE, "heap", "__future__.py")] + [
    os.path.join(ROOT, "host", "vm", name) for name in ("aesio.py", "_pyaes.py", "keypad.py")]
LOOP_MARK = "# --- heap growth over POLLS polls"
WARM_UP_POLLS = 20  # past the 10-minute claim window: its end changes state once (48 bytes on wasm32)
POLLS = 1000
CHUNK = 10  # polls per runPython call on wasm (each call ends with a collection)



# Modules code.py imports only when a central connects (in make_session), not at boot.
ON_CONNECT = ("kaskad.session",)
# The VM stand-ins for modules that are C on the board (their heap is not the firmware's).
STANDINS = "import _bleio, aesio, keypad"  # aesio imports _pyaes
MODULES_MARK = "modules\t"
CODE_PY_COPY = "code_py_source.py"  # code.py in the trees, under a name nothing imports


def phases(polls=POLLS):
    """What each figure is taken after: the VM as started, the stand-ins for C imported, boot,
    check_loop's code imported (the harness: fakes of the hardware), the loop built and warmed
    up, ``polls`` more polls (run CHUNK at a time). The boot and harness phases also print the
    names in sys.modules (printed, not kept: nothing is added to the heap)."""
    listing = "print(%r + ' '.join(__import__('sys').modules))" % MODULES_MARK
    return [
        ("empty", "import gc", 1),
        ("standins", STANDINS, 1),
        ("boot", "import heap_boot", 1),
        ("configured", "\n".join(kaskad_imports(loop_source())) + "\n" + forget_source()
         + listing.replace("\\t'", "\\tconfigured '"), 1),
        ("harness", "import heap_loop\n" + forget_source() + listing.replace("\\t'", "\\tharness '"), 1),
        ("loop", "_board = heap_loop.build()\nheap_loop.run_polls(_board[0], _board[1], %d)" % WARM_UP_POLLS, 1),
        ("polls", "heap_loop.run_polls(_board[0], _board[1], %d)" % CHUNK, polls // CHUNK),
    ]


def boot_source():
    """What code.py's boot leaves imported: its kaskad imports (read from code.py, dedented, all
    run in a function as boot() runs them), less those of ON_CONNECT; then the modules code.py
    forgets after using them (``unload.forget("...")``) are forgotten the same way."""
    with open(os.path.join(ROOT, "code.py"), encoding="utf-8") as f:
        text = f.read()
    lines = kaskad_imports(text)
    lines = [line for line in lines if not any(_imports(line, name) for name in ON_CONNECT)]
    return "def _boot():\n" + "".join("    %s\n" % line for line in lines) + "\n\n_boot()\n" + forget_source()


def forget_source():
    """Forget what code.py's boot forgets: its ``unload.forget("...")`` calls in the bodies of its
    top-level functions (file_keys, boot), not those in nested functions, which are callbacks that
    run later (on_connection, when a central leaves). Run after each phase that may import them: the
    figures are of the device idle, holding only what it needs; a module imported by check_loop
    (kaskad.settings, for Settings) is then held only by what still refers to it."""
    import ast

    with open(os.path.join(ROOT, "code.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, nested or node is not tree)
                continue
            if (not nested and isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr == "forget" and isinstance(child.func.value, ast.Name)
                    and child.func.value.id == "unload" and child.args
                    and isinstance(child.args[0], ast.Constant) and child.args[0].value not in names):
                names.append(child.args[0].value)
            visit(child, nested)

    visit(tree, False)
    return "".join("__import__('kaskad.unload').unload.forget(%r)\n" % name for name in names)


def kaskad_imports(text):
    """The firmware imports of a script, dedented."""
    return [line.strip() for line in text.splitlines() if re.match(r"\s*(from kaskad[ .]|import kaskad)", line)]


def _imports(line, module):
    package, _, leaf = module.rpartition(".")
    return re.match(r"(from %s import .*\b%s\b|from %s import|import %s\b)" % (
        re.escape(package), leaf, re.escape(module), re.escape(module)), line) is not None


def loop_source():
    with open(os.path.join(ROOT, "tests", "vm", "check_loop.py"), encoding="utf-8") as f:
        text = f.read()
    if LOOP_MARK not in text:
        raise SystemExit("tests/vm/check_loop.py no longer has %r: update tools/heap_table.py" % LOOP_MARK)
    return text.split(LOOP_MARK)[0]


def build_trees(build=BUILD):
    """build/heap/py and build/heap/mpy (or under ``build``); returns {'py': dir, 'mpy': dir}."""
    if not os.path.isdir(os.path.join(BOARD_LIB, "adafruit_ble")):
        raise SystemExit("no .venv/board-lib/adafruit_ble: run `make venv`")
    src = os.path.join(build, "py")
    shutil.rmtree(build, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(os.path.join(ROOT, "lib", "kaskad"), os.path.join(src, "kaskad"), ignore=ignore)
    shutil.copytree(os.path.join(BOARD_LIB, "adafruit_ble"), os.path.join(src, "adafruit_ble"), ignore=ignore)
    for stub in STUBS:
        shutil.copy(stub, src)
    with open(os.path.join(src, "heap_boot.py"), "w", encoding="utf-8") as f:
        f.write(boot_source())
    with open(os.path.join(src, "heap_loop.py"), "w", encoding="utf-8") as f:
        f.write(loop_source())
    out = os.path.join(build, "mpy")
    for folder, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), src)
            dest = os.path.join(out, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            proc = subprocess.run([mpy_cross(), "-o", dest, "-s", name, os.path.join(folder, name)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode:
                raise SystemExit("mpy-cross %s:\n%s" % (rel, proc.stdout))
    for tree in (src, out):  # for code_py_cost: the board compiles code.py from source
        shutil.copy(os.path.join(ROOT, "code.py"), os.path.join(tree, CODE_PY_COPY))
    return {"py": src, "mpy": out}


def parse(stdout):
    """{phase: bytes}, and under "modules" {phase: set of module names} where listed."""
    figures = {name: int(value) for tag, name, value in
               (line.split("\t") for line in stdout.splitlines() if line.startswith("heap\t"))}
    figures["modules"] = {line.split("\t")[1].split(" ")[0]: set(line.split("\t")[1].split(" ")[1:])
                          for line in stdout.splitlines() if line.startswith(MODULES_MARK)}
    return figures


def firmware(figures, phase):
    """The firmware's own heap at ``phase``: less the stand-ins for C (their import cost) and the
    harness's code (check_loop's fakes). What check_loop imports from kaskad beyond boot (kaskad.ccm:
    its Broadcaster has a bindkey) is imported first ("configured") and counted as the firmware's;
    refused if the harness still imported a firmware module (its cost would be taken off)."""
    listed = figures["modules"]
    extra = sorted(n for n in listed["harness"] - listed["configured"] if n.startswith("kaskad"))
    if extra:
        raise SystemExit("tests/vm/check_loop.py imported %s indirectly, which the phases before it did "
                         "not: the harness figure would hide it" % ", ".join(extra))
    value = figures[phase] - (figures["standins"] - figures["empty"])
    if phase not in ("boot", "configured"):
        value -= figures["harness"] - figures["configured"]
    return value


def run_wasm(tree, phases, timeout=900):
    if not vm_run.wasm_ready():
        raise SystemExit("no WebAssembly MicroPython: run `npm ci` (needs node and npm)")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"name": n, "code": c, "repeat": r} for n, c, r in phases], f)
    try:
        proc = subprocess.run(["node", os.path.join(HERE, "heap", "heap_wasm.mjs"), tree, f.name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    finally:
        os.unlink(f.name)
    if proc.returncode:
        raise RuntimeError("wasm VM failed:\n" + proc.stdout[-2000:] + proc.stderr[-4000:])
    return parse(proc.stdout)


def unix_script(phases):
    """The phases as one script: this VM's gc.collect() is a real collection."""
    parts = ["import gc"]
    for name, code, repeat in phases:
        parts.append("for _i in range(%d):\n%s" % (repeat, "".join("    " + l + "\n" for l in code.splitlines())))
        parts.append("gc.collect()\nprint('heap\\t%s\\t%%d' %% gc.mem_alloc())" % name)
    return "\n".join(parts) + "\n"


def run_unix(tree, phases, heap="4M", timeout=900):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(unix_script(phases))
    env = dict(os.environ, MICROPYPATH=tree)
    try:
        proc = subprocess.run([vm_run.micropython_binary(), "-X", "heapsize=" + heap, f.name], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    finally:
        os.unlink(f.name)
    if proc.returncode:
        return None, proc.stderr[-2000:]
    return parse(proc.stdout), ""


def smallest_unix(tree, low_kb, high_kb=1024):
    """The smallest -X heapsize (1 KB steps) in which boot, the build and 10 + CHUNK polls complete
    (the loop's state is all made in the warm-up: `polls` equals `loop`, so more polls need no more)."""
    while low_kb < high_kb:
        mid = (low_kb + high_kb) // 2
        figures, _ = run_unix(tree, phases(CHUNK), "%dK" % mid)
        if figures and "polls" in figures:
            high_kb = mid
        else:
            low_kb = mid + 1
    return high_kb * 1024


def module_costs(tree):
    """Each module's import cost on wasm32: imported one at a time (dependencies first, as far as a
    fixed order allows), the heap in use after each. A module imported as another's dependency
    is counted with it (its own line then reads 0). The meter families are left to family_costs;
    adafruit_ble, which the firmware no longer imports, is measured last, for reference."""
    names = ["_bleio", "_pyaes", "aesio", "keypad", "kaskad"]
    kaskad = sorted(n[:-4] for n in os.listdir(os.path.join(tree, "kaskad")) if n.endswith(".mpy") and n != "__init__.mpy")
    order = ["clock", "reading", "mirtek", "meter", "console", "link", "ccm", "settings", "store",
             "restarts", "bthome", "radio", "button", "led", "config", "gatt", "app", "unload"]
    names += ["kaskad." + n for n in order if n in kaskad] + ["kaskad." + n for n in kaskad if n not in order]
    meters = os.path.join(tree, "kaskad", "meters")
    if os.path.isdir(meters):
        names += ["kaskad.meters"] + sorted("kaskad.meters." + n[:-4] for n in os.listdir(meters)
                                            if n.endswith(".mpy") and n != "__init__.mpy")
    names += ["__future__", "adafruit_ble", "adafruit_ble.uuid", "adafruit_ble.characteristics.stream"]
    phases = [("empty", "import gc", 1)] + [(n, "import " + n, 1) for n in names]
    return run_wasm(tree, phases), names


def families(tree):
    """The meter families: the packages under kaskad/meters (kaskad.meters.FAMILIES lists them)."""
    meters = os.path.join(tree, "kaskad", "meters")
    if not os.path.isdir(meters):
        return []
    return sorted(n for n in os.listdir(meters) if os.path.isdir(os.path.join(meters, n)) and not n.startswith("_"))


def family_costs(tree):
    """Import-time heap of each meter family on wasm32 (issue 14), each in a fresh VM after boot:
    {family: (bytes its package adds after boot, bytes kaskad.meters and its shared modules add)}.
    The shared part (kaskad.meters, .link, .plausible) is imported first, as any family needs it."""
    shared = "import kaskad.meters, kaskad.meters.link, kaskad.meters.plausible"
    costs = {}
    for family in families(tree):
        figures = run_wasm(tree, [("boot", "import heap_boot", 1), ("shared", shared, 1),
                                  ("family", "import kaskad.meters.%s" % family, 1)])
        costs[family] = (figures["family"] - figures["shared"], figures["shared"] - figures["boot"])
    return costs


def moment_costs(tree):
    """After boot on wasm32: kaskad.settings_file loaded (boot only), then used as code.py uses it
    and forgotten (kaskad.unload); kaskad.session loaded (a central connected), then forgotten with
    kaskad.settings as code.py does when the central leaves; and code.py's own code, compiled from its source as the board
    compiles it (code.py cannot be .mpy), which the firmware figure leaves out."""
    forget = ("import io\nfrom kaskad import unload\n"
              "kaskad.settings_file.scan(io.BytesIO(b'KASKAD_METER_ADDRESS = 1\\n'), print)\n"
              "unload.forget('kaskad.settings_file')\ndel io, unload")
    return run_wasm(tree, [("boot", "import heap_boot", 1), ("settings_file", "import kaskad.settings_file", 1),
                           ("forgotten", forget, 1), ("session", "import kaskad.session", 1),
                           ("left", "from kaskad import unload\nunload.forget('kaskad.session')\n"
                                    "unload.forget('kaskad.settings')\ndel unload", 1),
                           ("source", "_source = open(%r).read()" % ("/heap/" + CODE_PY_COPY), 1),
                           ("code.py", "_code = compile(_source, 'code.py', 'exec')", 1)])


def kb(value):
    return "%6.1f KB" % (value / 1024) if value is not None else "%9s" % "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--wasm-mpy", action="store_true", help="only the wasm32 .mpy row (with --modules: its costs too)")
    ap.add_argument("--modules", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--polls", type=int, default=POLLS, help="polls after the warm-up (default %d)" % POLLS)
    ns = ap.parse_args(argv)
    trees = build_trees()
    rows = []
    for vm in ("wasm32", "unix64"):
        for form in ("py", "mpy"):
            if (ns.quick or ns.wasm_mpy) and (vm, form) != ("wasm32", "mpy"):
                continue
            if vm == "wasm32":
                figures, smallest = run_wasm(trees[form], phases(ns.polls)), None
            else:
                figures, error = run_unix(trees[form], phases(ns.polls))
                if figures is None:
                    raise SystemExit("unix VM failed:\n" + error)
                smallest = None if ns.quick else smallest_unix(trees[form], figures["polls"] // 1024)
            rows.append({"vm": vm, "form": form, "empty": figures["empty"], "boot": figures["boot"],
                         "loop": figures["loop"], "polls": ns.polls, "after_polls": figures["polls"],
                         "smallest_heap": smallest, "firmware_boot": firmware(figures, "boot"),
                         "firmware_loop": firmware(figures, "loop"), "firmware_after_polls": firmware(figures, "polls"),
                         "standins": figures["standins"] - figures["empty"],
                         "harness": figures["harness"] - figures["configured"]})
    if ns.json:
        print(json.dumps({"rows": rows, "budget": BUDGET_LOOP_WASM_MPY}))
        return 0
    print("heap in use (gc.mem_alloc() after a full collection); raw: all the VM holds; firmware: less the")
    print("stand-ins for C modules (_bleio, aesio over _pyaes, keypad) and the harness's code (check_loop's fakes)")
    print("%-7s %-4s %9s %9s %9s %9s %9s | %9s %9s %9s | %9s %9s" % (
        "VM", "form", "empty", "boot", "loop", "+%d" % ns.polls, "smallest",
        "fw boot", "fw loop", "fw +%d" % ns.polls, "stand-ins", "harness"))
    for r in rows:
        print("%-7s %-4s %s %s %s %s %s | %s %s %s | %s %s" % (
            r["vm"], r["form"], kb(r["empty"]), kb(r["boot"]), kb(r["loop"]), kb(r["after_polls"]),
            kb(r["smallest_heap"]), kb(r["firmware_boot"]), kb(r["firmware_loop"]),
            kb(r["firmware_after_polls"]), kb(r["standins"]), kb(r["harness"])))
    print("budget (tests/test_heap_budget.py, firmware figure, wasm32 .mpy loop): %s; issue 13 target: %s;"
          " board GC heap at most %s" % (kb(BUDGET_LOOP_WASM_MPY).strip(), kb(TARGET).strip(), kb(BOARD_HEAP).strip()))
    print(__doc__.split("Module trees")[0].split("\n\n", 1)[1].rstrip())
    print(CAVEATS)
    if ns.modules:
        figures, names = module_costs(trees["mpy"])
        print("\nimport cost on wasm32 from .mpy (heap in use after each import minus before; a module"
              " another imported first is counted there; _bleio, _pyaes, aesio, keypad, __future__ are VM"
              " stand-ins for C; a new qstr pool, twice the last one, lands on whichever module fills the last)")
        before = figures["empty"]
        for name in names:
            note = ""
            if name.startswith(("adafruit_ble", "__future__")):
                note = "  (not imported by the firmware: for reference)"
            elif name in ON_CONNECT:
                note = "  (only while a central is connected)"
            print("%9d  %s%s" % (figures[name] - before, name, note))
            before = figures[name]
        print("%9d  total" % (before - figures["empty"]))
        moments = moment_costs(trees["mpy"])
        print("\nmodules not held while the loop runs, on wasm32 from .mpy, after boot:")
        print("%9d  kaskad.settings_file while boot reads settings.toml; %d left once forgotten"
              " (kaskad.unload: its interned names, qstrs are never freed)" % (
                  moments["settings_file"] - moments["boot"], moments["forgotten"] - moments["boot"]))
        print("%9d  kaskad.session with kaskad.settings (and kaskad.ccm, unless a bindkey loaded it) while"
              " a central is connected; %d left once it has gone (code.py forgets the session and the"
              " settings: kaskad.ccm and the names stay)" % (
                  moments["session"] - moments["forgotten"], moments["left"] - moments["forgotten"]))
        print("%9d  code.py's own code, compiled from source on the board (not in the firmware figure,"
              " nor in issue 13's check_loop measure)" % (moments["code.py"] - moments["source"]))
        costs = family_costs(trees["mpy"])
        if costs:
            print("\nmeter families, import-time heap on wasm32 from .mpy (after boot; issue 14): the family's"
                  " package, and the shared kaskad.meters, .link, .plausible any family needs")
            for family, (own, shared) in sorted(costs.items()):
                print("%9d  kaskad.meters.%s  (+ %d shared)" % (own, family, shared))
    return 0


CAVEATS = """
How far from a 32-bit CircuitPython board: issue 13 measured CircuitPython 10.2.1's core built
32-bit (nRF object representation) from .mpy: lib/kaskad ~61 KB after import, ~96.5 KB with
adafruit_ble and the loop, 106 KB smallest heap. wasm32 has the board's pointer and small-int
sizes, so objects, dicts, bytecode and qstrs are laid out alike; it differs in: floats are boxed
heap objects (16 bytes each; on the board a float is an immediate, 30-bit), MicroPython 1.27 is
not CircuitPython 10 (no CircuitPython-specific module attributes, different qstr pool and
interning), C modules (_bleio, aesio, keypad) are Python stand-ins here (their import cost counts;
on the board they are in flash), and no other tenant (USB, the supervisor) shares the heap. The
unix64 VM doubles pointer-sized slots, so its figures overstate the board's."""

if __name__ == "__main__":
    sys.exit(main())
