"""Mercury-206 frames: CRC-16/MODBUS, the read-only allowlist, requests, replies, packed BCD.

From docs/protocols/mercury-206.md §2 (the team's notes, from the old C driver; the vendor manual was not at hand):

  request  ADDR(4, big-endian) CMD                CRC_lo CRC_hi
  reply    ADDR(4, big-endian) CMD DATA...        CRC_lo CRC_hi

ADDR is the meter's serial number; the CRC (reflected 0xA001, init 0xFFFF) covers ADDR to the
end of DATA. There is no length field: each reply's length is known from its command, so the
Framer looks for exactly that many bytes that start with our address and command and end in a
matching CRC, anywhere in the stream (the echo, garbage before the reply, a late reply to the
wake-up are skipped). Numbers are packed BCD, most significant byte first, except the serial
number (plain binary).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


from kaskad.meters import RefusedCommand

CMD_SERIAL = const(0x2F)  # serial number, 4 bytes binary
CMD_ENERGY = const(0x27)  # active energy T1..T4, 4 x 4 BCD bytes, 0.01 kWh
CMD_INSTANT = const(0x63)  # U (2 BCD, 0.1 V), I (2 BCD, 0.01 A), P (3 BCD, W)
CMD_MADE = const(0x66)  # date of manufacture, DD MM YY in BCD
CMD_HOURS = const(0x69)  # running hours on mains and on battery, 2 x 3 BCD bytes

ADDRESS_MIN = const(1)
ADDRESS_MAX = const(999999999)  # the serial number; 9 digits keep it below 2**30 (a small int)
REQUEST_LEN = const(7)
MAX_REPLY = const(23)

# The allowlist: the only commands this firmware can send (none carries data), each with the
# length of its reply. 0x82, which the old driver sent twice as a wake-up ping, is not on it:
# its meaning is not documented anywhere at hand (the C header calls it "timeout"), and the
# wake-up works as well with a request known to be a read.
READ_ONLY = (
    (CMD_SERIAL, 11),
    (CMD_MADE, 10),
    (CMD_INSTANT, 14),
    (CMD_ENERGY, 23),
    (CMD_HOURS, 13),
)


def crc16(buf, end):
    """CRC-16/MODBUS of buf[0:end]."""
    crc = 0xFFFF
    for i in range(end):
        crc ^= buf[i]
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def reply_length(command):
    for allowed, length in READ_ONLY:
        if allowed == command:
            return length
    return 0


def check_request(address, command):
    if not ADDRESS_MIN <= address <= ADDRESS_MAX:
        raise RefusedCommand("meter address (serial number) %d is outside %d..%d" % (address, ADDRESS_MIN, ADDRESS_MAX))
    if not reply_length(command):
        raise RefusedCommand("command 0x%02x is not on the read-only allowlist" % command)


def encode_request(buf, address, command):
    """Write the 7-byte request into buf; checks the allowlist first (nothing written if refused)."""
    check_request(address, command)
    buf[0] = (address >> 24) & 0xFF
    buf[1] = (address >> 16) & 0xFF
    buf[2] = (address >> 8) & 0xFF
    buf[3] = address & 0xFF
    buf[4] = command
    crc = crc16(buf, 5)
    buf[5] = crc & 0xFF
    buf[6] = crc >> 8
    return REQUEST_LEN


def bcd(buf, start, count):
    """Packed BCD buf[start:start+count] as an int, or -1 when a nibble is not a decimal digit."""
    value = 0
    for i in range(start, start + count):
        byte = buf[i]
        high = byte >> 4
        low = byte & 0x0F
        if high > 9 or low > 9:
            return -1
        value = value * 100 + high * 10 + low
    return value


class Framer:
    """Finds the reply to one request in a byte stream (the interface is in kaskad.meters.link)."""

    def __init__(self):
        self.buf = bytearray(MAX_REPLY)
        self.length = 0
        self.why = None
        self.max_chars = 2 * REQUEST_LEN + 2 * MAX_REPLY
        self.gap_chars = 20  # the longest silence inside a reply, in character times
        self._prefix = bytearray(5)  # address and command every reply starts with
        self._size = 0

    def expect(self, request, command):
        for i in range(5):
            self._prefix[i] = request[i]
        self._size = reply_length(command)

    def begin(self):
        self.length = 0
        self.why = None

    @property
    def in_frame(self):
        return self.length > 0

    def feed(self, value):
        buf = self.buf
        buf[self.length] = value
        self.length += 1
        size = self._size
        while self.length:
            if not self._prefix_matches():
                self._drop_first()
                continue
            if self.length < size:
                return False
            crc = crc16(buf, size - 2)
            if buf[size - 2] == crc & 0xFF and buf[size - 1] == crc >> 8:
                return True
            self.why = "CRC mismatch"
            self._drop_first()
        return False

    def _prefix_matches(self):
        """The bytes so far could begin our reply: our address and command."""
        buf = self.buf
        prefix = self._prefix
        for i in range(self.length if self.length < 5 else 5):
            if buf[i] != prefix[i]:
                return False
        return True

    def _drop_first(self):
        buf = self.buf
        for i in range(1, self.length):
            buf[i - 1] = buf[i]
        self.length -= 1
