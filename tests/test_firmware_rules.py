"""Rules the host relies on to run the firmware unchanged.

host/boot.py answers only code.py's own `import time` / `import os` with the board's versions, so
the library must take its clock (and settings reader) from code.py and never import those itself;
otherwise on a PC it would read CPython's wall clock while the board's stand-ins run in virtual time.
"""

import ast
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_SHADOWED = {"time", "os"}


def imported_modules(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def test_the_library_never_imports_time_or_os():
    files = glob.glob(os.path.join(ROOT, "lib", "kaskad", "*.py"))
    assert len(files) >= 5
    offences = ["%s:%d imports %s" % (os.path.relpath(path, ROOT), line, name)
                for path in files for name, line in imported_modules(path) if name in HOST_SHADOWED]
    assert offences == []


def test_the_rule_catches_an_offence(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from time import monotonic\nimport os.path\n")
    assert {name for name, _ in imported_modules(str(bad))} == HOST_SHADOWED
