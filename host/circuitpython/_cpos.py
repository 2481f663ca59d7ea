"""Stand-in for CircuitPython's ``os`` module (only what the firmware may use).

Not installed as ``os`` (CPython needs its own); the runner maps ``import os`` in code.py to it.

``getenv`` follows CircuitPython 10.3 (supervisor/shared/settings.c via os.getenv, PR #10819):
it ALWAYS returns a str or ``default`` and never raises for a bad file. ``A = 123`` gives
``"123"`` (not 123); ``B = true`` gives ``"true"``; ``C = hello`` gives ``"hello"``; a malformed
value (unclosed string, text after the closing quote, bad ``\\u`` escape, empty value), a key
after a ``[section]``, a missing key or a missing file gives ``default``. Typed values come from
``supervisor.get_setting``.
"""
import errno as _errno
import os as _hostos
from typing import NamedTuple, Optional

import _cpsettings
import _harness

__all__ = ["getenv", "urandom", "listdir", "uname", "sep"]

sep = "/"


def getenv(key: str, default: Optional[str] = None) -> Optional[str]:
    """The value of ``key`` in /settings.toml as a str, or ``default``."""
    if not isinstance(key, (str, bytes)):
        raise TypeError("can't convert '%s' object to str implicitly" % type(key).__name__)
    err, raw, _quoted = _cpsettings.get_raw(_harness.settings_path(), key)
    if err != _cpsettings.OK:
        return default
    return _cpsettings.decode(raw)


def urandom(size: int) -> bytes:
    """``size`` random bytes (the nRF52840 has a hardware RNG)."""
    if not isinstance(size, int):
        raise TypeError("can't convert %s to int" % type(size).__name__)
    if size < 0:
        raise MemoryError("memory allocation failed")  # host choice: a negative size cannot be allocated
    return _hostos.urandom(size)


def listdir(dir: str = ".") -> "list[str]":
    """Names in a directory of the CIRCUITPY drive (``_harness.set_drive_path``); cwd is ``/``."""
    root = _harness.drive_path()
    rel = dir.lstrip("/")
    if root is None or rel.split("/")[0] == "..":
        raise OSError(_errno.ENOENT, "No such file/directory")
    path = _hostos.path.join(root, rel) if rel not in ("", ".") else root
    if not _hostos.path.isdir(path):
        raise OSError(_errno.ENOENT, "No such file/directory")
    return sorted(_hostos.listdir(path))


class _Uname(NamedTuple):
    sysname: str
    nodename: str
    release: str
    version: str
    machine: str


def uname() -> _Uname:
    """What the board reports about itself."""
    # 10.2.1: the release whose behaviour the stand-ins model (the newest 10.x release tag)
    return _Uname("nrf52840", "nrf52840", "10.2.1", "10.2.1 on host stand-in",
                  "Adafruit Feather nRF52840 Express with nRF52840")
