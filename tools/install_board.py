"""Copy the firmware onto a mounted CIRCUITPY drive (`make install CIRCUITPY=/media/$USER/CIRCUITPY`).

Copies lib/kaskad to CIRCUITPY/lib/kaskad (replacing what was there, no __pycache__), compiled
to .mpy with mpy-cross (tools/mpy_build.py): the board then loads bytecode instead of compiling
about 40 KB of source in its ~100 KB heap (--source copies the .py files instead); then
safemode.py and code.py (last, so the board's auto-reload finds the library in place), and
settings.toml only if
the drive has none: the user's own settings are never overwritten. Refuses a directory that
has no boot_out.txt (not a CircuitPython drive) unless --force.

Usage: install_board.py [--force] [--source] CIRCUITPY
"""

import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def copy_tree(src, dest, compiled=False):
    for dirpath, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        target = os.path.join(dest, os.path.relpath(dirpath, src))
        os.makedirs(target, exist_ok=True)
        for name in files:
            path = os.path.join(dirpath, name)
            if compiled and name.endswith(".py"):
                compile_into(path, target)
            elif name.endswith((".py", ".mpy")):
                shutil.copyfile(path, os.path.join(target, name))


def compile_into(src, target):
    """``src`` compiled for the board into the folder ``target``."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mpy_build

    made, error = mpy_build.compile_file(src, target, root=os.path.dirname(src))
    if made is None:
        raise SystemExit("install: mpy-cross cannot compile %s:\n%s" % (src, error))


def firmware_imports(root):
    """The top-level names code.py and lib/ import: a library of requirements-board.txt that none
    imports (adafruit_ble since issue 13: the host tests use it) is not asked for on the drive."""
    import ast

    paths = [os.path.join(root, "code.py")] + [os.path.join(d, f) for d, _, files in os.walk(os.path.join(root, "lib"))
                                               for f in files if f.endswith(".py")]
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def install(drive, root=ROOT, force=False, say=print, compiled=True):
    if not os.path.isdir(drive):
        raise SystemExit("install: %s is not a directory (is the board mounted?)" % drive)
    if not force and not os.path.exists(os.path.join(drive, "boot_out.txt")):
        raise SystemExit("install: %s has no boot_out.txt, so it is not a CIRCUITPY drive "
                         "(FORCE=1 / --force to copy anyway)" % drive)
    code = os.path.join(root, "code.py")
    if not os.path.exists(code):
        raise SystemExit("install: %s is missing" % code)
    lib_dest = os.path.join(drive, "lib", "kaskad")
    shutil.rmtree(lib_dest, ignore_errors=True)
    copy_tree(os.path.join(root, "lib", "kaskad"), lib_dest, compiled)
    say("copied lib/kaskad -> %s%s" % (lib_dest, " (compiled to .mpy)" if compiled else ""))
    settings_src = os.path.join(root, "settings.toml")
    settings_dest = os.path.join(drive, "settings.toml")
    if os.path.exists(settings_dest):
        say("kept the drive's settings.toml")
    elif os.path.exists(settings_src):
        shutil.copyfile(settings_src, settings_dest)
        say("copied settings.toml (edit it on the drive)")
    else:
        say("no settings.toml in the repository: none copied")
    safemode = os.path.join(root, "safemode.py")
    if os.path.exists(safemode):  # what brings an unattended board back out of safe mode
        shutil.copyfile(safemode, os.path.join(drive, "safemode.py"))
        say("copied safemode.py")
    shutil.copyfile(code, os.path.join(drive, "code.py"))
    say("copied code.py")
    board_lib = os.path.join(root, ".venv", "board-lib")
    if os.path.isdir(board_lib):
        used = firmware_imports(root)
        missing = sorted(
            name for name in os.listdir(board_lib)
            if not name.endswith((".dist-info", ".egg-info")) and name not in ("bin", "__pycache__")
            and name.split(".")[0] in used
            and not os.path.exists(os.path.join(drive, "lib", name))
            and not os.path.exists(os.path.join(drive, "lib", name.replace(".py", ".mpy")))
        )
        if missing:
            say("libraries still missing on the drive: %s (install them with `circup install ...`)"
                % ", ".join(missing))
    if hasattr(os, "sync"):
        os.sync()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Copy the firmware onto a CIRCUITPY drive.")
    ap.add_argument("--force", action="store_true", help="copy even without boot_out.txt")
    ap.add_argument("--source", action="store_true", help="copy lib/kaskad as .py instead of .mpy")
    ap.add_argument("drive")
    ns = ap.parse_args(argv)
    install(ns.drive, force=ns.force or os.environ.get("FORCE") == "1",
            compiled=not (ns.source or os.environ.get("SOURCE") == "1"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
