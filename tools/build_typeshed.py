"""Build a custom typeshed in which the standard-library modules the board has are CircuitPython's.

mypy takes `time`, `os`, `struct`, `hashlib`, ... from CPython's typeshed, so `time.perf_counter()`,
`struct.Struct`, `os.environ` or `hashlib.sha256().hexdigest()` type-check and then fail on the
board. The `circuitpython-stubs` sdist (not its wheel) ships CircuitPython's own stubs for those
modules. This script:

1. copies mypy's bundled typeshed;
2. for every stub in the sdist whose name is a standard-library module in typeshed AND a module
   the board has (the board stub lists them in its docstring), moves CPython's version aside to
   ``_cpython_<name>`` and puts CircuitPython's in its place;
3. rewrites typeshed's own imports of those modules (``from os import PathLike`` in builtins.pyi,
   ``from time import struct_time`` in datetime.pyi, ...) to the ``_cpython_`` copies, so the rest
   of typeshed keeps working while user code sees only what the board has;
4. corrects a few wrong return types in those stubs (FIXUPS below);
5. adds the small overrides kept in tools/typeshed_overrides/ (modules the sdist has no stub for,
   e.g. `gc` with `mem_free`).

Usage: build_typeshed.py OUT [--sdist FILE.tar.gz]
Without --sdist the sdist of the installed circuitpython-stubs version is fetched with
``pip download --no-binary :all: --no-deps`` (PyPI only). OUT is replaced atomically; OUT/STAMP
records the versions it was built from.
"""

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
# Return types the circuitpython-stubs 10.3.1 sdist gets wrong: on the board os.listdir gives a
# list, os.urandom bytes, os.rename None, math.fmod a float, math.frexp (mantissa, exponent), as
# in MicroPython and CPython. A wrong return type would make correct firmware fail the check.
# A fixup whose text is no longer found (fixed upstream) is reported and skipped.
FIXUPS = [
    ("os", "def listdir(dir: str) -> str:", "def listdir(dir: str) -> list[str]:"),
    ("os", "def urandom(size: int) -> str:", "def urandom(size: int) -> bytes:"),
    ("os", "def rename(old_path: str, new_path: str) -> str:", "def rename(old_path: str, new_path: str) -> None:"),
    ("math", "def fmod(x: float, y: float) -> int:", "def fmod(x: float, y: float) -> float:"),
    ("math", "def frexp(x: float) -> Tuple[int, int]:", "def frexp(x: float) -> Tuple[float, int]:"),
]
OVERRIDES = os.path.join(HERE, "typeshed_overrides")
PREFIX = "_cpython_"


def stamp_text():
    """What the typeshed depends on: rebuilt when any of these change."""
    parts = [
        "mypy==" + importlib.metadata.version("mypy"),
        "circuitpython-stubs==" + importlib.metadata.version("circuitpython-stubs"),
    ]
    for name in sorted(os.listdir(OVERRIDES)):
        with open(os.path.join(OVERRIDES, name), "rb") as f:
            parts.append("%s:%d" % (name, hash_bytes(f.read())))
    with open(os.path.abspath(__file__), "rb") as f:
        parts.append("builder:%d" % hash_bytes(f.read()))
    parts.append("board modules:%d" % hash_bytes(",".join(sorted(read_board_modules() or ())).encode()))
    return "\n".join(parts) + "\n"


def hash_bytes(data):
    return zlib.crc32(data)


def read_board_modules():
    """Modules the selected board includes, from the board stub's docstring (None if unknown).

    `circuitpython_setboard` copies the board's stub (with its "Included modules: ..." line) into
    board-stubs/__init__.pyi.
    """
    path = str(importlib.metadata.distribution("circuitpython-stubs").locate_file("board-stubs/__init__.pyi"))
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        m = re.search(r"Included modules:(.*)", f.read())
    if not m:
        return None
    return set(name.strip() for name in m.group(1).split(",") if name.strip())


def fetch_sdist(version, dest):
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
        "circuitpython-stubs==" + version, "-d", dest,
    ]
    subprocess.run(cmd, check=True)
    for name in os.listdir(dest):
        if name.endswith(".tar.gz"):
            return os.path.join(dest, name)
    raise SystemExit("pip download produced no sdist in %s" % dest)


def extract_stubs(sdist, dest):
    """Extract the sdist; return {module: path to its __init__.pyi}."""
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    (root,) = [os.path.join(dest, d) for d in os.listdir(dest)]
    found = {}
    for name in os.listdir(root):
        init = os.path.join(root, name, "__init__.pyi")
        if os.path.isfile(init):
            found[name] = init
    return found


def import_pattern(names):
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return (
        re.compile(r"^(\s*)import (%s)(\.[\w.]+)?(\s+as\s+\w+)?\s*(#.*)?$" % alt),
        re.compile(r"^(\s*)from (%s)((?:\.\w+)*) import " % alt),
    )


def rewrite_imports(stdlib, names):
    """Point typeshed's own imports of the replaced modules at the _cpython_ copies."""
    plain, from_ = import_pattern(names)
    for dirpath, _dirs, files in os.walk(stdlib):
        for fname in files:
            if not fname.endswith(".pyi"):
                continue
            path = os.path.join(dirpath, fname)
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            changed = False
            for i, line in enumerate(lines):
                m = plain.match(line)
                if m:
                    indent, mod, sub, alias, comment = m.groups()
                    if ", " in line.split("#")[0]:
                        raise SystemExit("cannot rewrite multi-import line %s: %r" % (path, line))
                    if sub and not alias:
                        # `import os.path` binds `os`: bind the private copy under that name.
                        new = "%simport %s%s as %s" % (indent, PREFIX, mod, mod)
                    else:
                        new = "%simport %s%s%s%s" % (indent, PREFIX, mod, sub or "", alias or " as " + mod)
                    lines[i] = new
                    changed = True
                    continue
                m = from_.match(line)
                if m:
                    indent, mod, sub = m.groups()
                    lines[i] = "%sfrom %s%s%s import %s" % (indent, PREFIX, mod, sub, line[m.end():])
                    changed = True
            if changed:
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(lines))


def move_aside(stdlib, name):
    """Rename CPython's stub of `name` (file or package) to _cpython_<name>."""
    as_file = os.path.join(stdlib, name + ".pyi")
    as_pkg = os.path.join(stdlib, name)
    if os.path.isfile(as_file):
        os.rename(as_file, os.path.join(stdlib, PREFIX + name + ".pyi"))
    elif os.path.isdir(as_pkg):
        os.rename(as_pkg, os.path.join(stdlib, PREFIX + name))
    else:
        raise SystemExit("typeshed has no stub for %s" % name)


def apply_fixups(stdlib, replaced):
    for name, old, new in FIXUPS:
        if name not in replaced:
            continue
        path = os.path.join(stdlib, name + ".pyi")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if old not in text:
            print("build_typeshed: fixup not needed any more in %s: %s" % (name, old), file=sys.stderr)
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))


def typeshed_modules(stdlib):
    names = {}
    with open(os.path.join(stdlib, "VERSIONS"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                mod, rng = line.split(":", 1)
                names[mod.strip()] = rng.strip()
    return names


def build(out, sdist=None):
    import mypy

    src = os.path.join(os.path.dirname(mypy.__file__), "typeshed")
    work = tempfile.mkdtemp(prefix="cp-typeshed-")
    try:
        if sdist is None:
            sdist = fetch_sdist(importlib.metadata.version("circuitpython-stubs"), os.path.join(work, "dl"))
        cp_stubs = extract_stubs(sdist, os.path.join(work, "sdist"))
        tree = os.path.join(work, "typeshed")
        shutil.copytree(src, tree)
        stdlib = os.path.join(tree, "stdlib")
        versions = typeshed_modules(stdlib)
        on_board = read_board_modules()
        replaced = sorted(
            name for name in cp_stubs
            if name in versions and (on_board is None or name in on_board)
        )
        overrides = sorted(n[:-4] for n in os.listdir(OVERRIDES) if n.endswith(".pyi"))
        all_names = sorted(set(replaced) | set(overrides))
        for name in all_names:
            move_aside(stdlib, name)
        rewrite_imports(stdlib, all_names)
        for name in replaced:
            shutil.copyfile(cp_stubs[name], os.path.join(stdlib, name + ".pyi"))
        apply_fixups(stdlib, replaced)
        for name in overrides:
            shutil.copyfile(os.path.join(OVERRIDES, name + ".pyi"), os.path.join(stdlib, name + ".pyi"))
        # VERSIONS: the private copies are available wherever the originals were.
        extra = []
        for mod, rng in versions.items():
            top = mod.split(".")[0]
            if top in all_names:
                extra.append("%s%s: %s" % (PREFIX, mod, rng))
        with open(os.path.join(stdlib, "VERSIONS"), "a", encoding="utf-8") as f:
            f.write("\n# CircuitPython: CPython's versions of the replaced modules, for typeshed's own use\n")
            f.write("\n".join(extra) + "\n")
        with open(os.path.join(tree, "STAMP"), "w", encoding="utf-8") as f:
            f.write(stamp_text())
        with open(os.path.join(tree, "REPLACED"), "w", encoding="utf-8") as f:
            f.write("circuitpython-stubs sdist: %s\n" % " ".join(replaced))
            f.write("tools/typeshed_overrides: %s\n" % " ".join(overrides))
        tmp_out = out + ".new"
        shutil.rmtree(tmp_out, ignore_errors=True)
        shutil.move(tree, tmp_out)
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp_out, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return replaced, overrides


def is_current(out):
    try:
        with open(os.path.join(out, "STAMP"), encoding="utf-8") as f:
            return f.read() == stamp_text()
    except OSError:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--sdist", help="circuitpython-stubs sdist (.tar.gz); fetched from PyPI if absent")
    ap.add_argument("--if-stale", action="store_true", help="do nothing if OUT is current")
    args = ap.parse_args(argv)
    if args.if_stale and is_current(args.out):
        return 0
    replaced, overrides = build(os.path.abspath(args.out), args.sdist)
    print("custom typeshed in %s: CircuitPython stubs for %s; overrides %s"
          % (args.out, ", ".join(replaced), ", ".join(overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
