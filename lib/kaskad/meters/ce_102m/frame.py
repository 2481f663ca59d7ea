"""Energomera CE-102M frames: 7E1 parity in software, Energomera's BCC, the read-only allowlist.

From docs/protocols/ce-102m.md §3 (the team's notes, from the old C driver; the vendor manual was not at hand).
An IEC 61107-style ASCII session at 9600 baud:

  /?! CR LF                        ->  / XXX Z ident CR LF          (identification)
  ACK 0 5 1 CR LF                  ->  SOH ... ETX BCC  or STX ... ETX BCC   (option select)
  SOH R 1 STX NAME ( ) ETX BCC     ->  STX NAME ( value ) [CR LF ( value ) ...] [CR LF] ETX BCC
  SOH B 0 ETX BCC                      (break: end of session, no answer)

BCC is Energomera's own: the sum of every byte after the leading SOH/STX up to and including
ETX, AND 0x7F (not IEC 62056-21's XOR). The line is 7E1, done on the nRF's 8N1 UART: bit 7 of
every byte sent carries even parity over the low 7 bits, and every byte received must have it
(the old driver only masked it off; a parity error here rejects the frame).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


from kaskad.meters import RefusedCommand

SOH = const(0x01)
STX = const(0x02)
ETX = const(0x03)
ACK = const(0x06)
CR = const(0x0D)
LF = const(0x0A)
SLASH = const(0x2F)
OPEN = const(0x28)  # (
CLOSE = const(0x29)  # )

# Session requests (7-bit)
IDENT = b"/?!\r\n"
OPTION = b"\x06051\r\n"  # ACK, normal protocol, 9600 baud, programming (data) mode
BREAK = b"\x01B0\x03"  # + BCC

# The allowlist: the only data this firmware can ask for, all with R1 (read). There is no way to
# build a write (W1), a password (P1) or an execute request.
STATUS = b"STAT_"
SERIAL = b"SNUMB"
ENERGY = b"ET0PE"
POWER = b"POWEP"
VOLTAGE = b"VOLTA"
CURRENT = b"CURRE"
READ_ONLY = (STATUS, SERIAL, ENERGY, POWER, VOLTAGE, CURRENT)
SESSION = (IDENT, OPTION, BREAK)

MAX_REQUEST = const(16)
MAX_REPLY = const(200)

# What a framer looks for
EXPECT_IDENT = const(0)  # / ... CR LF
EXPECT_BLOCK = const(1)  # SOH or STX ... ETX BCC (the answer to option select)
EXPECT_DATA = const(2)  # STX NAME ( ... ETX BCC, NAME as asked
_CR_WIRE = const(0x8D)  # CR with its parity bit; ETX (0x03) and LF (0x0A) have none


def with_parity(value):
    """The 7-bit value with bit 7 set when the low 7 bits hold an odd number of ones."""
    ones = value ^ (value >> 4)
    ones ^= ones >> 2
    ones ^= ones >> 1
    return value | 0x80 if ones & 1 else value


def bcc(buf, start, end):
    """Energomera's block check of the 7-bit bytes buf[start:end]."""
    total = 0
    for i in range(start, end):
        total += buf[i]
    return total & 0x7F


def _add_parity(buf, size):
    for i in range(size):
        buf[i] = with_parity(buf[i])
    return size


def encode_session(buf, request):
    """One of SESSION, with parity, into buf; returns its length."""
    if request not in SESSION:
        raise RefusedCommand("%r is not a session request this firmware sends" % (request,))
    size = len(request)
    for i in range(size):
        buf[i] = request[i]
    if request == BREAK:
        buf[size] = bcc(buf, 1, size)
        size += 1
    return _add_parity(buf, size)


def encode_read(buf, name):
    """``SOH R 1 STX NAME ( ) ETX BCC`` with parity into buf; returns its length. Checks the
    allowlist first: nothing is written for a name not on it."""
    if name not in READ_ONLY:
        raise RefusedCommand("%r is not on the read-only allowlist" % (name,))
    buf[0] = SOH
    buf[1] = 0x52  # R
    buf[2] = 0x31  # 1
    buf[3] = STX
    size = 4
    for value in name:
        buf[size] = value
        size += 1
    buf[size] = OPEN
    buf[size + 1] = CLOSE
    buf[size + 2] = ETX
    buf[size + 3] = bcc(buf, 1, size + 3)
    return _add_parity(buf, size + 4)


class Framer:
    """Finds the reply to one request in a byte stream of parity-carrying bytes (the interface
    is in kaskad.meters.link). A complete frame is left in ``buf[:size]`` with parity removed."""

    def __init__(self):
        self.buf = bytearray(MAX_REPLY)
        self.length = 0
        self.size = 0
        self.why = None
        self.max_chars = 2 * MAX_REQUEST + 2 * MAX_REPLY
        self.gap_chars = 20  # the longest silence inside a reply, in character times
        self._expect = EXPECT_IDENT
        self._name = b""
        self._scanned = 1  # bytes before this index hold no end marker

    def expect(self, kind, name=b""):
        self._expect = kind
        self._name = name

    def begin(self):
        self.length = 0
        self._scanned = 1
        self.why = None

    @property
    def in_frame(self):
        return self.length > 0

    def _is_start(self, raw):
        if self._expect == EXPECT_IDENT:
            return raw == with_parity(SLASH)
        if self._expect == EXPECT_BLOCK and raw == with_parity(SOH):
            return True
        return raw == with_parity(STX)

    def feed(self, value):
        if self.length == 0 and not self._is_start(value):
            return False
        buf = self.buf
        if self.length == MAX_REPLY:
            self.why = "frame too long"
            self._restart()
            if self.length == 0 and not self._is_start(value):
                return False
        buf[self.length] = value
        self.length += 1
        while self.length:
            end = self._find_end()
            if end == 0:
                return False
            if self._valid(end):
                self.size = end
                for i in range(end):
                    buf[i] &= 0x7F
                return True
            self._restart()
        return False

    def _find_end(self):
        """The length of the candidate once its end has arrived, else 0."""
        buf = self.buf
        length = self.length
        i = self._scanned
        if self._expect == EXPECT_IDENT:
            while i < length:
                if buf[i] == LF and buf[i - 1] == _CR_WIRE:
                    return i + 1
                i += 1
        else:
            while i < length:
                if buf[i] == ETX:
                    if i + 1 < length:
                        return i + 2
                    break  # the BCC is still to come: look here again
                i += 1
        self._scanned = i
        return 0

    def _valid(self, size):
        buf = self.buf
        for i in range(size):
            if with_parity(buf[i] & 0x7F) != buf[i]:
                self.why = "parity error"
                return False
        if self._expect == EXPECT_IDENT:
            for i in range(1, size - 2):
                if not 0x20 <= buf[i] & 0x7F < 0x7F:
                    self.why = "identification is not printable"
                    return False
            if size < 8:
                self.why = "identification too short"
                return False
            return True
        if _bcc_7bit(buf, size - 1) != buf[size - 1] & 0x7F:
            self.why = "BCC mismatch"
            return False
        if self._expect == EXPECT_DATA:
            name = self._name
            count = len(name)
            if size < count + 5:
                self.why = "reply too short"
                return False
            for i in range(count):
                if buf[1 + i] & 0x7F != name[i]:
                    self.why = "reply names other data"
                    return False
            if buf[1 + count] & 0x7F != OPEN:
                self.why = "reply names other data"
                return False
        return True

    def _restart(self):
        """Drop the candidate's first byte and go on from the next possible start."""
        buf = self.buf
        length = self.length
        start = 1
        while start < length and not self._is_start(buf[start]):
            start += 1
        for i in range(start, length):
            buf[i - start] = buf[i]
        self.length = length - start
        self._scanned = 1


def _bcc_7bit(buf, end):
    """bcc() of buf[1:end] with the parity bits masked off."""
    total = 0
    for i in range(1, end):
        total += buf[i] & 0x7F
    return total & 0x7F
