"""What the board's own reader sees in settings.toml, and what an editor did to the file.

The board reads settings.toml with the byte scanner of ``supervisor/shared/settings.c``
(CircuitPython 10.x, behind ``os.getenv`` and ``supervisor.get_setting``), never as text, so a
file in another encoding still gives its keys and numbers. This module reads the file as bytes,
by the same rules, and says in one short line each what the user could not guess:

| what is in the file                 | what settings.c does (function)                              |
|-------------------------------------|--------------------------------------------------------------|
| blanks before a key                 | skipped: `` \\t\\v\\f\\r`` (``consume_whitespace``)            |
| ``KEY = value``                     | the key's bytes compared, blanks, then ``=`` (``key_matches``) |
| a UTF-8 byte-order mark (EF BB BF)  | three more bytes before the first key: that key never matches |
| a line starting ``[``               | ends the scan: no key on or after it is read (``seek_eof``)    |
| a line starting with a NUL byte     | ends the scan too (``get_next_byte`` gives 0 for NUL and EOF)  |
| a key written twice                 | the first line wins (``settings_get_vstr`` stops at a match)   |
| a byte that is not UTF-8            | harmless in a comment; a quoted value with one is refused      |
|                                     | (``mp_obj_new_str_from_vstr`` raises UnicodeError, py/obj.h)   |
| a number with a leading 0           | octal (``strtol(buf, &end, 0)`` in ``get_int``)               |
| a number beyond 32 bits             | clamped to 2147483647 (``strtol``'s LONG_MAX)                  |
| a CR alone as a line end (old Mac)  | no line end: ``next_line`` stops only at ``\\n``                 |

``scan(stream, report)`` reads at most ``MAX_SCAN_BYTES`` in small chunks (the file may be huge or
have no line ends) and returns a ``FileScan``: the keys the board reads, in order; the text the
file wrote for each (to echo a rejected number as written); and the KASKAD_ keys that are in the
file but that the board never reads.
"""

MAX_SCAN_BYTES = 65536
_CHUNK = 256
_LINE_KEEP = 120  # bytes of a line kept for its key and value; the rest only counts as "long"
_BLANKS = b" \t\v\f\r"
_BOM = b"\xef\xbb\xbf"
_PREFIX = b"KASKAD_"
_SHOWN = 3  # line numbers named in one message


class FileScan:
    """The result of ``scan``; iterating it gives the keys the board reads (first occurrences)."""

    def __init__(self):
        self.keys = []  # str, in file order, each once
        self.written = {}  # key -> the value as the file wrote it (ASCII-safe, cut), first occurrence
        self.unseen = []  # KASKAD_ keys in the file that the board does not read
        self.bom = False

    def __iter__(self):
        return iter(self.keys)


def scan(stream, report):
    """Read ``stream`` (a file opened ``"rb"``: ``readinto``) and report what the board misreads."""
    result = FileScan()
    state = _State(result)
    buf = bytearray(_CHUNK)
    total = 0
    while total < MAX_SCAN_BYTES:
        n = stream.readinto(buf)
        if not n:
            break
        total += n
        state.feed(buf, n)
    else:
        if stream.readinto(buf):
            report("settings.toml is over %d KB: only its first %d KB were checked" % (
                MAX_SCAN_BYTES // 1024, MAX_SCAN_BYTES // 1024))
    state.end()
    state.tell(report)
    return result


class _State:
    def __init__(self, result):
        self.result = result
        self.line = bytearray()
        self.long = False
        self.number = 0  # of the line being read, from 1
        self.stop = None  # (line number, why) once the board stops reading
        self.not_utf8 = []
        self.not_keys = []  # (line number, start of line) of lines that are no KEY = value
        self.case = []  # (line number, key) of keys in the wrong case
        self.twice = []  # (key, first line, later line)
        self.first_line = {}
        self.nul_inside = 0
        self.bom_key = None
        self.lone_cr = 0  # a line with a CR inside: old-Mac line ends the board does not split at

    def feed(self, buf, n):
        line = self.line
        for i in range(n):
            b = buf[i]
            if b == 10:
                self._line_done()
                line = self.line
            elif len(line) < _LINE_KEEP:
                line.append(b)
            else:
                self.long = True

    def end(self):
        if self.line or self.long:
            self._line_done()
        result = self.result  # a hidden line of a key that another line gives is no loss
        result.unseen = [key for key in result.unseen if key not in self.first_line]
        if self.bom_key in self.first_line:
            self.bom_key = None

    def _line_done(self):
        self.number += 1
        line = bytes(self.line)
        if not self.lone_cr and 13 in line[:-1]:
            self.lone_cr = self.number
        if not _is_utf8(line, self.long):
            self.not_utf8.append(self.number)
        self._key_line(line)
        self.line = bytearray()
        self.long = False

    def _key_line(self, line):
        result = self.result
        bom = self.number == 1 and line[:3] == _BOM
        if bom:  # settings.c compares these three bytes with the key: line 1 never matches
            result.bom = True
            line = line[3:]
        i = 0
        while i < len(line) and line[i] in _BLANKS:
            i += 1
        if i == len(line) or line[i] == 0x23:  # blank, or a # comment
            return
        if self.stop is None and not bom and line[i] in (0x5B, 0):  # [ or NUL
            self.stop = (self.number, "NUL" if line[i] == 0 else "[section]")
            return
        j = i
        while j < len(line) and line[j] not in _BLANKS and line[j] != 0x3D:  # =
            j += 1
        k = j
        while k < len(line) and line[k] in _BLANKS:
            k += 1
        token = line[i:j]
        if k == len(line) or line[k] != 0x3D or j == i:
            if self.stop is None:
                self.not_keys.append((self.number, _ascii(line[i:i + 24])))
            return
        key = _ascii(token)
        if 0 in line and self.stop is None and not self.nul_inside:
            self.nul_inside = self.number
        if token.upper().startswith(_PREFIX) and token != token.upper():
            self.case.append((self.number, key))
        if bom:
            self.bom_key = key
        if bom or self.stop is not None:
            if token.startswith(_PREFIX) and key not in result.unseen:
                result.unseen.append(key)
            return
        if key in self.first_line:
            self.twice.append((key, self.first_line[key], self.number))
            return
        self.first_line[key] = self.number
        result.keys.append(key)
        result.written[key] = _value_text(line[k + 1:])

    def tell(self, report):
        result = self.result
        if self.bom_key is not None:
            report("settings.toml starts with a byte-order mark: the first key, %s, is not seen; "
                   "save as UTF-8 without BOM" % self.bom_key)
        if self.stop is not None:
            line, why = self.stop
            missed = [key for key in result.unseen if key != self.bom_key]
            if why == "NUL":
                report("settings.toml line %d starts with a NUL byte: the board reads nothing from "
                       "there on (a damaged file?)%s" % (line, _missed(missed)))
            else:
                report("settings.toml line %d is a [section]: the board reads no key from there on%s"
                       % (line, _missed(missed)))
        if self.lone_cr:
            report("settings.toml line %d has a line break the board does not see (CR alone, an old "
                   "Mac line end): the lines after it run together; save with LF or CRLF line ends"
                   % self.lone_cr)
        if self.nul_inside:
            report("settings.toml line %d has a NUL byte in it (a damaged file?)" % self.nul_inside)
        if self.not_utf8:
            report("settings.toml is not UTF-8 on line %s (saved in another encoding?): a comment "
                   "there is harmless, a text value is refused; save the file as UTF-8"
                   % _numbers(self.not_utf8))
        for number, start in self.not_keys[:_SHOWN]:
            report("settings.toml line %d is not KEY = value and is ignored: %r" % (number, start))
        if len(self.not_keys) > _SHOWN:
            report("settings.toml: %d more lines are not KEY = value" % (len(self.not_keys) - _SHOWN))
        for number, key in self.case:
            report("settings.toml line %d: %s: keys are case-sensitive, write %s"
                   % (number, key, key.upper()))
        for key, first, later in self.twice:
            report("%s is set twice in settings.toml (lines %d and %d): the board uses line %d"
                   % (key, first, later, first))


def _missed(keys):
    if not keys:
        return ""
    return "; not read: " + ", ".join(keys[:_SHOWN]) + (" and %d more" % (len(keys) - _SHOWN)
                                                         if len(keys) > _SHOWN else "")


def _numbers(numbers):
    shown = ", ".join(str(n) for n in numbers[:_SHOWN])
    if len(numbers) > _SHOWN:
        shown += " and %d more" % (len(numbers) - _SHOWN)
    return shown


def _is_utf8(line, cut):
    """Whether ``line`` is UTF-8 (a line cut short may end inside a character)."""
    for drop in range(4 if cut else 1):
        try:
            line[:len(line) - drop].decode()
            return True
        except UnicodeError:
            pass
    return False


def _ascii(data):
    """Bytes as text for a console line: ASCII kept, any other byte shown as ``?``."""
    return "".join(chr(b) if 32 <= b < 127 else "?" for b in data)


def _value_text(rest):
    """A value as written: the rest of the line without blanks and a bare value's comment."""
    i = 0
    while i < len(rest) and rest[i] in _BLANKS:
        i += 1
    rest = rest[i:]
    if rest[:1] != b'"':
        cut = rest.find(b"#")
        if cut >= 0:
            rest = rest[:cut]
    j = len(rest)
    while j > 0 and rest[j - 1] in _BLANKS:
        j -= 1
    return _ascii(rest[:min(j, 40)])
