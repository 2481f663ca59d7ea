"""KASKAD-11-C1 frames: the additive checksum, the read-only allowlist, requests, replies.

From docs/protocols/kaskad-11-c1.md §1 (the team's notes, from the vendor's protocol document and the old C driver):

  request  LEN CMD ADDR_lo ADDR_hi DATA...        SUM
  reply    LEN CMD ADDR_lo ADDR_hi DATA... STATUS SUM

LEN counts the whole frame (LEN itself and SUM); SUM is the 8-bit wrap-around sum of every byte
before it; numbers are little-endian binary; STATUS 0x01 is success. The address is the 16-bit
"ID-xxxxx" on the meter's display.

An additive sum misses errors that cancel out (two swapped bytes, two bits flipped the opposite
way), so the Framer also insists on the exact reply length for the command, the address, the
command and the parameter echoed back, and never takes our own request for a reply.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


from kaskad.meters import RefusedCommand

CMD_OPEN = const(0x02)  # open channel: access level + password
CMD_CLOSE = const(0x03)
CMD_CLOCK = const(0x16)  # date and time, 5 bytes bit-packed
CMD_NET = const(0x20)  # one network parameter: PARAM byte in the request
CMD_SERIAL = const(0x25)  # factory serial number, ASCII
CMD_ENERGY = const(0x26)  # active energy import, accumulator 1..4 in the request
CMD_MADE = const(0x53)  # release (manufacture) date

PARAM_VOLTAGE = const(0)  # 0.1 V
PARAM_CURRENT = const(1)  # mA
PARAM_ACTIVE_POWER = const(3)  # 0.1 W
PARAM_APPARENT_POWER = const(5)  # 0.1 VA

LEVEL_READ = const(2)  # the read-only user level
PASSWORD_LEN = const(9)
STATUS_OK = const(0x01)
ADDRESS_MIN = const(1)
ADDRESS_MAX = const(65535)

MAX_REQUEST = const(15)  # open channel: 5 + level + 9 password bytes
MAX_REPLY = const(19)  # serial number: 6 + 13 ASCII bytes
REFUSAL_LEN = const(6)  # the shortest reply: a status and nothing else

# The allowlist, the only requests this firmware can build: (command, data length, first data
# byte or -1). Opening the channel at the read-only level is the one request with a password.
READ_ONLY = (
    (CMD_OPEN, 1 + PASSWORD_LEN, LEVEL_READ),
    (CMD_CLOSE, 0, -1),
    (CMD_SERIAL, 0, -1),
    (CMD_MADE, 0, -1),
    (CMD_CLOCK, 0, -1),
    (CMD_NET, 1, PARAM_VOLTAGE),
    (CMD_NET, 1, PARAM_CURRENT),
    (CMD_NET, 1, PARAM_ACTIVE_POWER),
    (CMD_NET, 1, PARAM_APPARENT_POWER),
    (CMD_ENERGY, 1, 1),
    (CMD_ENERGY, 1, 2),
    (CMD_ENERGY, 1, 3),
    (CMD_ENERGY, 1, 4),
)


def checksum(buf, end):
    """The 8-bit sum of buf[0:end]."""
    total = 0
    for i in range(end):
        total += buf[i]
    return total & 0xFF


def check_request(address, command, data):
    """Raise RefusedCommand unless (address, command, data) is on the allowlist."""
    if not ADDRESS_MIN <= address <= ADDRESS_MAX:
        raise RefusedCommand("meter address %d is outside %d..%d" % (address, ADDRESS_MIN, ADDRESS_MAX))
    size = len(data)
    for allowed, allowed_size, first in READ_ONLY:
        if allowed == command and allowed_size == size and (first < 0 or data[0] == first):
            if command == CMD_OPEN:
                for i in range(1, size):
                    if not 0x30 <= data[i] <= 0x39:
                        raise RefusedCommand("the password must be %d digits" % PASSWORD_LEN)
            return
    raise RefusedCommand("command 0x%02x with data %s is not on the read-only allowlist" % (
        command, " ".join("%02x" % b for b in data) or "(none)"))


def encode_request(buf, address, command, data=b""):
    """Write the request into buf (MAX_REQUEST bytes); return its length. Checks the allowlist
    first: nothing is written for a refused request."""
    check_request(address, command, data)
    size = 5 + len(data)
    buf[0] = size
    buf[1] = command
    buf[2] = address & 0xFF
    buf[3] = address >> 8
    for i in range(len(data)):
        buf[4 + i] = data[i]
    buf[size - 1] = checksum(buf, size - 1)
    return size


def reply_lengths(command, param):
    """The frame lengths (LEN) of a successful reply, by request (§1.3)."""
    if command == CMD_OPEN:
        return (7,)
    if command == CMD_CLOSE:
        return (6,)
    if command == CMD_SERIAL:
        return tuple(range(6, MAX_REPLY + 1))
    if command == CMD_MADE:
        return (9,)
    if command == CMD_CLOCK or command == CMD_ENERGY:
        return (11,)
    if param == PARAM_CURRENT:
        return (9, 16)  # 16: a three-phase meter (3 x uint24)
    if param == PARAM_VOLTAGE:
        return (9,)
    return (10,)  # power: uint24


class Framer:
    """Finds the reply to one request in a byte stream (the interface is in kaskad.meters.link).

    A candidate starts at a byte that is a possible LEN for this request; once LEN bytes are in,
    it must carry our address and command, a matching sum, and the parameter or accumulator we
    asked for; a frame with a status other than 0x01 is a refusal and is accepted as such (the
    client raises). How long a refusal is, is not documented [unverified]: any length from 6 (the
    status and nothing else) up to the longest successful reply is taken.
    """

    def __init__(self):
        self.buf = bytearray(MAX_REPLY)
        self.length = 0
        self.why = None
        self.max_chars = 2 * MAX_REQUEST + 2 * MAX_REPLY
        self.gap_chars = 20  # the longest silence inside a reply, in character times
        self._address = 0
        self._command = 0
        self._param = -1
        self._lengths = (0,)
        self._longest = 0
        self._request = b""
        self._request_size = 0

    def expect(self, address, command, param, request, request_size):
        self._address = address
        self._command = command
        self._param = param
        self._lengths = reply_lengths(command, param)
        self._longest = self._lengths[-1]
        self._request = request
        self._request_size = request_size

    def begin(self):
        self.length = 0
        self.why = None

    @property
    def in_frame(self):
        return self.length > 0

    def status(self):
        return self.buf[self.buf[0] - 2]

    def feed(self, value):
        buf = self.buf
        buf[self.length] = value
        self.length += 1
        while self.length:
            size = buf[0]
            if not REFUSAL_LEN <= size <= self._longest:
                self._drop_first()
                continue
            if self.length < size:
                return False
            if self._valid(size):
                return True
            self._drop_first()
        return False

    def _drop_first(self):
        buf = self.buf
        for i in range(1, self.length):
            buf[i - 1] = buf[i]
        self.length -= 1

    def _valid(self, size):
        buf = self.buf
        if checksum(buf, size - 1) != buf[size - 1]:
            self.why = "checksum mismatch"
            return False
        if buf[1] != self._command:
            self.why = "reply to command 0x%02x" % buf[1]
            return False
        if buf[2] | (buf[3] << 8) != self._address:
            self.why = "reply from address %d" % (buf[2] | (buf[3] << 8))
            return False
        if size == self._request_size and self._is_request(size):
            return False  # our own request, heard back
        status = buf[size - 2]
        if status != STATUS_OK:
            return True  # a refusal, whatever its length
        if size not in self._lengths:
            self.why = "reply length %d" % size
            return False
        if self._param >= 0 and buf[4] != self._param:
            self.why = "reply for parameter %d, asked for %d" % (buf[4], self._param)
            return False
        return True

    def _is_request(self, size):
        request = self._request
        for i in range(size):
            if self.buf[i] != request[i]:
                return False
        return True
