"""Type-check the firmware against the board's API: mypy with mypy.ini and the custom typeshed.

Usage: typecheck.py [PATH ...]
Without paths it checks code.py (if present) and lib/kaskad. Exits with mypy's status and prints
mypy's output. Run it with the project's venv python (`make typecheck`): the stubs, the board
selection and the custom typeshed live in .venv.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "mypy.ini")
TYPESHED = os.path.join(ROOT, ".venv", "circuitpython-typeshed")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_typeshed  # noqa: E402


def default_targets():
    targets = []
    for top in ("code.py", "safemode.py"):
        path = os.path.join(ROOT, top)
        if os.path.exists(path):
            targets.append(path)
    targets.append(os.path.join(ROOT, "lib", "kaskad"))
    return targets


def ensure_board():
    """The board stubs must be the Feather's (a reinstall of circuitpython-stubs resets them)."""
    import board_imports

    try:
        text = board_imports.board_stub_text()
    except OSError:
        text = ""
    if "board_id: %s" % board_imports.BOARD not in text:
        setboard = os.path.join(os.path.dirname(sys.executable), "circuitpython_setboard")
        subprocess.run([setboard, board_imports.BOARD], check=True, stdout=subprocess.DEVNULL)


def ensure_typeshed():
    if not build_typeshed.is_current(TYPESHED):
        print("typecheck: building the CircuitPython typeshed in %s" % TYPESHED, file=sys.stderr)
        build_typeshed.main([TYPESHED])


def command(paths):
    return [sys.executable, "-m", "mypy", "--config-file", CONFIG] + list(paths)


def run(paths=None, cwd=None):
    """Run mypy; return (exit status, combined output)."""
    ensure_board()
    ensure_typeshed()
    proc = subprocess.run(command(paths or default_targets()), cwd=cwd or ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.returncode, proc.stdout


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    status, output = run([os.path.abspath(p) for p in argv])
    sys.stdout.write(output)
    return status


if __name__ == "__main__":
    sys.exit(main())
