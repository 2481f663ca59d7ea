"""Boot the board's own code.py on a PC.

CircuitPython-only modules (board, busio, microcontroller, ...) are strict stand-ins found on
sys.path under host/circuitpython. ``time`` and ``os`` exist in CPython too, with other APIs, so
only code.py's own imports of those two names are answered with the board's versions (bound to
the virtual clock and to settings.toml); the firmware library never imports them (it is handed
the clock), which tests/test_firmware_rules.py checks.
"""

import builtins
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE_PY = os.path.join(ROOT, "code.py")


def add_paths():
    """Put the firmware library and the stand-ins first on sys.path, as the board would see them."""
    for sub in ("host", "lib", os.path.join("host", "circuitpython")):
        path = os.path.join(ROOT, sub)
        if path not in sys.path:
            sys.path.insert(0, path)


def run_code_py(path=CODE_PY):
    """Execute code.py as the board does (as __main__); returns when it ends or raises HostStop."""
    add_paths()
    import _cpos
    import _cptime

    board_modules = {"time": _cptime, "os": _cpos}
    host_import = builtins.__import__

    def board_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name in board_modules:
            return board_modules[name]
        return host_import(name, globals, locals, fromlist, level)

    board_builtins = dict(vars(builtins))
    board_builtins["__import__"] = board_import
    board_builtins["open"] = board_open
    with open(path) as source:
        program = compile(source.read(), path, "exec")
    exec(program, {"__name__": "__main__", "__file__": path, "__builtins__": board_builtins})


def board_open(path, mode="r", *args, **kwargs):
    """open() as code.py sees the CIRCUITPY drive: paths from its root, and read-only, because
    the drive is read-only to code.py while a computer has it mounted over USB."""
    import errno

    import _harness

    if any(flag in mode for flag in "wax+"):
        raise OSError(errno.EROFS, "Read-only filesystem")
    settings_path = _harness.settings_path()
    if path in ("/settings.toml", "settings.toml") and settings_path:
        return open(settings_path, mode, *args, **kwargs)
    root = _harness.drive_path() or (os.path.dirname(settings_path) if settings_path else None)
    if root is None:
        raise OSError(errno.ENOENT, "No such file/directory")
    return open(os.path.join(root, path.lstrip("/")), mode, *args, **kwargs)
