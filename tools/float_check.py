"""Find floats in the firmware: the board's floats are 30-bit (5-6 significant digits).

Measurements stay integers in fixed units from the wire to the advertisement. This scan of
code.py and lib/kaskad/*.py (or the files given) reports every
  * float literal (``1.5``, ``1e3``),
  * true division (``a / b``, ``a /= b``): it always yields a float, even for two ints,
  * ``float(...)`` call,
unless a line of the expression carries the marker comment ``# float-ok: <reason>``. The firmware
must hand seconds as a float to ``time.sleep`` and ``busio.UART.timeout``; it does so only on
marked lines.

Usage: float_check.py [FILE ...]   (exit 1 and one line per hit when there are unmarked floats)
"""

import ast
import io
import os
import re
import sys
import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(r"#\s*float-ok:\s*\S")


def firmware_files(root=ROOT):
    files = []
    for top in ("code.py", "safemode.py"):
        path = os.path.join(root, top)
        if os.path.exists(path):
            files.append(path)
    lib = os.path.join(root, "lib", "kaskad")
    for dirpath, dirs, names in os.walk(lib):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files.extend(os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".py"))
    return files


def marked_lines(source):
    """Line numbers whose comment carries the `# float-ok: reason` marker."""
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and MARKER.search(tok.string):
            lines.add(tok.start[0])
    return lines


def hits(source, filename="<source>"):
    """[(line, col, what)] for every unmarked float in `source`."""
    tree = ast.parse(source, filename)
    marked = marked_lines(source)
    found = []

    def report(node, what):
        span = range(node.lineno, (getattr(node, "end_lineno", None) or node.lineno) + 1)
        if not any(line in marked for line in span):
            found.append((node.lineno, node.col_offset, what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (float, complex)):
            report(node, "float literal %r" % (node.value,))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            report(node, "true division '/'")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div):
            report(node, "true division '/='")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            report(node, "float() call")
    found.sort()
    return found


def check(paths):
    """[(path, line, col, what, source line)] for all `paths`."""
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        lines = source.splitlines()
        for line, col, what in hits(source, path):
            out.append((path, line, col, what, lines[line - 1].strip() if line <= len(lines) else ""))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    paths = argv or firmware_files()
    found = check(paths)
    for path, line, col, what, text in found:
        print("%s:%d:%d: %s: %s" % (os.path.relpath(path), line, col + 1, what, text))
    if found:
        print("%d unmarked float(s): use integers in fixed units, // for division, or mark a line "
              "that must hand the board a float with `# float-ok: <reason>`" % len(found))
        return 1
    print("no unmarked floats in %d file(s)" % len(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
