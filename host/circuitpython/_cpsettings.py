"""The board's ``/settings.toml`` reader, ported line by line from CircuitPython 10.x
``supervisor/shared/settings.c`` (the code behind ``os.getenv`` and ``supervisor.get_setting``).

It is a byte-level scanner, not a TOML parser, and these are its rules:
- The file is scanned from the top on every call; the first line whose key matches wins
  (a duplicated key: the first one counts). A line whose first non-blank character is ``[``
  ends the search: keys inside or after any ``[section]`` are never found.
- ``KEY = value`` with optional blanks around ``=``. Leading blanks before the key are skipped.
  A ``#`` line is simply a line whose key does not match.
- A value starting with ``"`` is a string: it must close on the same line, and only blanks or a
  ``# comment`` may follow it. Escapes: ``\\b \\r \\n \\t \\v \\f``, ``\\uXXXX``, ``\\UXXXXXXXX``; any
  other escaped character stands for itself (``\\"``, ``\\\\``, ``\\q`` -> ``q``).
- Anything else is a bare value: the rest of the line up to ``#``, blanks and ``\\r`` trimmed.
- An empty value is an error. A NUL byte reads as end of file.
"""
from typing import Optional, Tuple

OK = 0
ERR_OPEN = 1
ERR_UNICODE = 2
ERR_LENGTH = 3
ERR_NOT_FOUND = 4
ERR_BAD_VALUE = 5

_SPACE = frozenset(b" \t\n\v\f\r")
_NL = 0x0A
_HASH = 0x23
_QUOTE = 0x22
_BACKSLASH = 0x5C
_ESCAPES = {ord("b"): 0x08, ord("r"): 0x0D, ord("n"): 0x0A, ord("t"): 0x09,
            ord("v"): 0x0B, ord("f"): 0x0C}
_LONG_MAX = 2**31 - 1  # C long on the Cortex-M4
_ULONG_MAX = 2**32 - 1


class _File:
    """A FatFs file as settings.c reads it: one byte at a time, 0 at the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def next(self) -> int:
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def eof(self) -> bool:
        return self.pos >= len(self.data)

    def seek_eof(self) -> None:
        self.pos = len(self.data)


def _next_line(f: _File) -> None:
    while True:
        c = f.next()
        if c == 0 or c == _NL:
            return


def _consume_whitespace(f: _File) -> int:
    """Skip blanks (not newlines); return the next character, 0 at end of file."""
    while True:
        c = f.next()
        if c == _NL or c == 0 or c not in _SPACE:
            return c


def _key_matches(f: _File, key: bytes) -> bool:
    c = _consume_whitespace(f)
    if c == ord("[") or c == 0:  # [section] is not implemented: stop at the first one
        f.seek_eof()
        return False
    for k in key:
        if c != k:
            if c != _NL:
                _next_line(f)
            return False
        c = f.next()
    if c in _SPACE:
        c = _consume_whitespace(f)
    if c != ord("="):
        if c != _NL:
            _next_line(f)
        return False
    return True


def _strtoul16(text: bytes) -> Tuple[int, int]:
    """C ``strtoul(text, &end, 16)`` on a 32-bit target: (value, characters consumed)."""
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    neg = False
    if i < len(text) and text[i] in b"+-":
        neg = text[i] == ord("-")
        i += 1
    if text[i:i + 2].lower() == b"0x" and i + 2 < len(text) and chr(text[i + 2]) in "0123456789abcdefABCDEF":
        i += 2
    start = i
    while i < len(text) and chr(text[i]) in "0123456789abcdefABCDEF":
        i += 1
    if i == start:
        return 0, 0
    value = min(int(text[start:i], 16), _ULONG_MAX)
    if neg:
        value = (-value) & _ULONG_MAX
    return value, i


def _strtol0(text: bytes) -> Tuple[int, int]:
    """C ``strtol(text, &end, 0)`` on a 32-bit target: (value, characters consumed), clamped."""
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    neg = False
    if i < len(text) and text[i] in b"+-":
        neg = text[i] == ord("-")
        i += 1
    if text[i:i + 2].lower() == b"0x" and i + 2 < len(text) and chr(text[i + 2]) in "0123456789abcdefABCDEF":
        base, digits = 16, "0123456789abcdefABCDEF"
        i += 2
    elif text[i:i + 1] == b"0":
        base, digits = 8, "01234567"
    else:
        base, digits = 10, "0123456789"
    start = i
    while i < len(text) and chr(text[i]) in digits:
        i += 1
    if i == start:
        return 0, 0
    value = int(text[start:i], base)
    value = -value if neg else value
    return max(-_LONG_MAX - 1, min(_LONG_MAX, value)), i


def _read_unicode_escape(f: _File, size: int, out: bytearray) -> int:
    raw = bytes(f.next() for _ in range(size))
    text = raw.split(b"\0", 1)[0]  # a C string ends at the first NUL
    value, used = _strtoul16(text)
    if used != size:
        return ERR_BAD_VALUE
    if value >= 0x110000:
        return ERR_UNICODE
    out += chr(value).encode("utf-8", "surrogatepass")
    return OK


def _read_string_value(f: _File, out: bytearray) -> int:
    while True:
        c = f.next()
        if c == 0 or c == _NL:
            return ERR_BAD_VALUE
        if c == _QUOTE:
            c = _consume_whitespace(f)
            if c == _HASH:
                _next_line(f)
                return OK
            if c == 0 or c == _NL:
                return OK
            return ERR_BAD_VALUE
        if c == _BACKSLASH:
            c = f.next()
            if c == 0 or c == _NL:
                return ERR_BAD_VALUE
            if c in (ord("u"), ord("U")):
                res = _read_unicode_escape(f, 4 if c == ord("u") else 8, out)
                if res != OK:
                    return res
                continue
            c = _ESCAPES.get(c, c)
        out.append(c)


def _read_bare_value(f: _File, out: bytearray, c: int) -> int:
    trailing = 0
    while True:
        if c == 0 or c == _NL or c == _HASH:
            if trailing:
                del out[-trailing:]
            if c == _HASH:
                _next_line(f)
            return OK
        out.append(c)
        trailing = trailing + 1 if c in b" \t\r" else 0
        c = f.next()


def _read_value(f: _File, out: bytearray) -> Tuple[int, bool]:
    c = _consume_whitespace(f)
    if c == _QUOTE:
        return _read_string_value(f, out), True
    if c == _NL or c == 0:
        return ERR_BAD_VALUE, False
    return _read_bare_value(f, out, c), False


def _c_key(key: "str | bytes") -> bytes:
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    return data.split(b"\0", 1)[0]


def get_raw(path: Optional[str], key: "str | bytes") -> Tuple[int, bytes, bool]:
    """settings_get_vstr(): (error code, value bytes, whether the value was quoted)."""
    if path is None:
        return ERR_OPEN, b"", False
    try:
        with open(path, "rb") as fh:
            f = _File(fh.read())
    except OSError:
        return ERR_OPEN, b"", False
    out = bytearray()
    result, quoted = ERR_NOT_FOUND, False
    k = _c_key(key)
    while not f.eof():
        if _key_matches(f, k):
            result, quoted = _read_value(f, out)
            break
    return result, bytes(out), quoted


def decode(raw: bytes) -> str:
    """A value as the board's str: UTF-8, else UnicodeError (surrogates from ``\\u`` escapes pass)."""
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise UnicodeError("settings.toml value is not valid UTF-8") from None


def _short(raw: bytes) -> Optional[bytes]:
    """The 16-byte buffer of get_int()/get_bool(): None when the value (plus NUL) does not fit."""
    return raw if len(raw) + 1 <= 16 else None


def get_obj(path: Optional[str], key: "str | bytes") -> Tuple[int, object]:
    """settings_get_obj(): a quoted string as str, ``true``/``false`` as bool, a C long as int."""
    err, raw, quoted = get_raw(path, key)
    if err != OK:
        return err, None
    if quoted:
        return OK, decode(raw)
    buf = _short(raw)
    if buf is None:
        return ERR_BAD_VALUE, None
    if buf == b"true":
        return OK, True
    if buf == b"false":
        return OK, False
    value, used = _strtol0(buf)
    if used == 0:  # no digits at all
        return ERR_BAD_VALUE, None
    while used < len(buf) and buf[used] in _SPACE:
        used += 1
    if used != len(buf):
        return ERR_BAD_VALUE, None
    return OK, value
