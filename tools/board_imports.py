"""Check that the firmware imports only what exists on the board.

mypy takes `dataclasses`, `enum`, `abc`, `typing`, `hmac`, ... from CPython's typeshed and lets them
pass; on the board `import dataclasses` is an ImportError that ends code.py. This AST scan of
code.py and lib/kaskad (or the files given) allows an absolute import only of
  * a module the board has built in: the "Included modules" list in the board stub that
    `circuitpython_setboard feather_nrf52840_express` installs (plus `gc` and `micropython`, core
    modules of every build that the list leaves out),
  * the firmware's own packages (top-level names under lib/),
  * a CircuitPython library of requirements-board.txt (top-level names in .venv/board-lib),
and any other import only where a missing module is expected: inside a ``try:`` whose handlers
catch ImportError (or Exception, or everything), or under ``if TYPE_CHECKING:`` / ``if False:``.
Relative imports are the package's own.

Usage: board_imports.py [FILE ...]   (run with the venv's python; exit 1 on a stray import)
"""

import ast
import importlib.metadata
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = "feather_nrf52840_express"
ALWAYS = {"gc", "micropython"}
TRY_NODES = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def board_stub_text():
    path = str(importlib.metadata.distribution("circuitpython-stubs").locate_file("board-stubs/__init__.pyi"))
    with open(path, encoding="utf-8") as f:
        return f.read()


def board_modules():
    """Top-level modules built into the selected board, from its stub; fails if it is not BOARD."""
    text = board_stub_text()
    if "board_id: %s" % BOARD not in text:
        raise SystemExit("board-stubs is not %s: run `.venv/bin/circuitpython_setboard %s`" % (BOARD, BOARD))
    m = re.search(r"Included modules:(.*)", text)
    if not m:
        raise SystemExit("board stub has no 'Included modules' line")
    names = set(name.strip().split(".")[0] for name in m.group(1).split(",") if name.strip())
    return names | ALWAYS


def top_level_names(directory):
    names = set()
    if os.path.isdir(directory):
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if entry.endswith((".dist-info", ".egg-info")) or entry in ("bin", "__pycache__"):
                continue
            if os.path.isdir(path) or entry.endswith((".py", ".mpy")):
                names.add(entry.split(".")[0])
    return names


def allowed_modules(root=ROOT):
    return board_modules() | top_level_names(os.path.join(root, "lib")) | top_level_names(
        os.path.join(root, ".venv", "board-lib"))


def _catches_import_error(handler):
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for t in types:
        name = t.id if isinstance(t, ast.Name) else (t.attr if isinstance(t, ast.Attribute) else None)
        if name in GUARD_EXCEPTIONS:
            return True
    return False


def _is_type_checking_guard(test):
    if isinstance(test, ast.Constant) and test.value is False:
        return True
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def stray_imports(source, allowed, filename="<source>"):
    """[(line, module)] for unguarded imports of modules not in `allowed`."""
    tree = ast.parse(source, filename)
    found = []

    def visit(node, guarded):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not guarded:
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                modules = [] if node.level else [node.module or ""]
            for module in modules:
                if module.split(".")[0] not in allowed:
                    found.append((node.lineno, module))
        if isinstance(node, TRY_NODES):
            body_guarded = guarded or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                visit(child, body_guarded)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, guarded)
            return
        if isinstance(node, ast.If) and _is_type_checking_guard(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from float_check import firmware_files

    paths = argv or firmware_files()
    allowed = allowed_modules()
    bad = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line, module in stray_imports(f.read(), allowed, path):
                print("%s:%d: import of %r: not built into %s and not in lib/ or requirements-board.txt "
                      "(guard it with try/except ImportError if it is optional)" % (os.path.relpath(path), line, module, BOARD))
                bad += 1
    if bad:
        return 1
    print("imports OK in %d file(s)" % len(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
