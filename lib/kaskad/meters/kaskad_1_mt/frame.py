"""MIRTEK frames for the KASKAD-1-MT optical port: CRC8, byte stuffing, requests, replies.

The protocol is described in ``docs/protocols/mirtek.md``; section numbers below refer to it.
A frame on the wire is ``73 55 | body (stuffed) | 55``; the unstuffed body is
``PARAMS 00 DST(2) SRC(2) CMD STATUS-or-PASSWORD(4) DATA(L) CRC8``.

This module is read-only by construction: :func:`encode_request` is the only way to make a
request, and it refuses every command outside :data:`READ_ONLY` (the family's ONE allowlist) and
every broadcast or out-of-range address before a single byte exists to be written.

Runs on CircuitPython, MicroPython and CPython alike: no typing at run time, no dict order,
no keyword arguments to ``int.from_bytes``, integers only.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


from kaskad.meters import MeterRefused, RefusedCommand, ReplyError

# Framing (§1.1, §1.6)
START = const(0x73)  # first start byte, and the escape byte inside a body
SYNC = const(0x55)  # second start byte, and the stop byte
ESCAPED_55 = const(0x11)  # 0x55 travels as 73 11
ESCAPED_73 = const(0x22)  # 0x73 travels as 73 22

HEADER_LEN = const(11)  # PARAMS, reserved, DST(2), SRC(2), CMD, STATUS/PASSWORD(4)
MAX_DATA = const(31)  # 5 bits of PARAMS
MAX_BODY = const(43)  # header + 31 data bytes + CRC
MAX_WIRE = const(89)  # 2 start bytes + every body byte doubled + stop byte
GAP_CHARS = const(8)  # the longest silence inside a reply, in character times (§6)

READER_ADDRESS = const(0xFFFF)  # source address of the polling program (§1.3)
BROADCAST = const(0xFFFF)
LAST_METER_ADDRESS = const(65534)

# PARAMS bits (§1.2)
PARAMS_ENCODED = const(0x80)  # C: data must be decoded; we never ask for it
PARAMS_REQUEST = const(0x20)  # D: 1 = request, 0 = reply
PARAMS_LENGTH = const(0x1F)

# Commands this firmware sends (§4); all read-only
CMD_PING = const(0x01)
CMD_ENERGY = const(0x05)
CMD_FACTORY_STRING = const(0x0A)
CMD_CONFIGURE = const(0x10)
CMD_BATTERY = const(0x1E)
CMD_VOLTAGE = const(0x29)
CMD_INSTANT = const(0x2B)
CMD_CURRENT = const(0x2C)
CMD_POWER = const(0x2D)
CMD_INFO = const(0x30)

# The allowlist: command -> request DATA lengths that are read-only forms of it.
# 0x05 and 0x2D take no data on old meters; 0x05 takes an energy type on newer ones (§4.3).
# The 5-byte form of 0x2D (ReadEnergyOnHour) is read-only too but not needed.
READ_ONLY = {
    CMD_PING: (0,),
    CMD_ENERGY: (0, 1),
    CMD_FACTORY_STRING: (1,),
    CMD_CONFIGURE: (0,),
    CMD_BATTERY: (0,),
    CMD_VOLTAGE: (1,),
    CMD_INSTANT: (1,),
    CMD_CURRENT: (1,),
    CMD_POWER: (0,),
    CMD_INFO: (0,),
}

# Meter generations (§4.0)
GEN_UNKNOWN = const(0)
GEN_OLD = const(1)
GEN_TRANSITIONAL = const(2)
GEN_NEW = const(3)
GENERATION_NAMES = (None, "old", "transitional", "new")
ROLE_FIRST_NEWER = const(0x32)  # role codes below this are old-generation meters
TRANSITIONAL_BOARD_IDS = (0x07, 0x08, 0x0A, 0x0B)
NEW_BOARD_IDS = (0x09, 0x0E, 0x0F, 0x10, 0x20, 0x21, 0x22)

# Error codes in the 4th status byte (§3)
STATUS_MEANINGS = {
    0x01: "write with a wrong password",
    0x02: "invalid parameter",
    0x03: "attempt to change a factory parameter",
    0x04: "wrong data length",
    0x05: "interface is locked",
    0x06: "requested data does not exist",
    0x07: "read with a wrong password",
    0x08: "command cannot be executed",
    0x09: "command cannot be executed at the moment",
    0x0A: "action already performed",
    0xFE: "supply voltage was lost",
}


def refused(command, code):
    """The MeterRefused for an error status ``code`` in the reply to ``command`` (§3)."""
    meaning = STATUS_MEANINGS.get(code, "unknown error code")
    return MeterRefused("status 0x%02x (%s) for command 0x%02x" % (code, meaning, command), code)


def _make_crc_table():
    table = bytearray(256)
    for value in range(256):
        crc = value
        for _ in range(8):
            crc = ((crc << 1) ^ 0xA9) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table[value] = crc
    return bytes(table)


# CRC8: polynomial 0xA9, init 0, MSB first, no reflection, no final XOR (§1.5)
_CRC_TABLE = _make_crc_table()


def crc8(data, start=0, end=-1):
    """CRC8 of ``data[start:end]`` (the whole buffer by default), without slicing."""
    if end < 0:
        end = len(data)
    crc = 0
    table = _CRC_TABLE
    for i in range(start, end):
        crc = table[crc ^ data[i]]
    return crc


def check_request(address, command, data_len):
    """Raise RefusedCommand unless (address, command, data length) is a read-only unicast request."""
    if not 1 <= address <= LAST_METER_ADDRESS:
        raise RefusedCommand("meter address %d is outside 1..%d" % (address, LAST_METER_ADDRESS))
    lengths = READ_ONLY.get(command)
    if lengths is None:
        raise RefusedCommand("command 0x%02x is not on the read-only allowlist" % command)
    if data_len not in lengths:
        raise RefusedCommand("command 0x%02x with %d data bytes is not a read-only form" % (command, data_len))


def encode_request(wire, address, command, data=b""):
    """Write the request frame for ``command`` to meter ``address`` into ``wire``; return its length.

    ``wire`` is a bytearray of at least MAX_WIRE bytes. Password is always zero (§1.4).
    The allowlist is checked first: nothing is written for a refused request.
    """
    length = len(data)
    check_request(address, command, length)
    body = wire  # build the unstuffed body at the end of the buffer, then stuff it forward
    base = MAX_WIRE - (HEADER_LEN + length + 1)
    body[base] = PARAMS_REQUEST | length
    body[base + 1] = 0
    body[base + 2] = address & 0xFF
    body[base + 3] = address >> 8
    body[base + 4] = READER_ADDRESS & 0xFF
    body[base + 5] = READER_ADDRESS >> 8
    body[base + 6] = command
    for i in range(4):
        body[base + 7 + i] = 0
    for i in range(length):
        body[base + HEADER_LEN + i] = data[i]
    end = base + HEADER_LEN + length
    body[end] = crc8(body, base, end)
    return _stuff_in_place(wire, base, end + 1)


def _stuff_in_place(wire, base, end):
    """Stuff wire[base:end] into wire[2:] behind the start bytes; the stuffed copy never overtakes
    the source because the source sits at the very end of the buffer."""
    wire[0] = START
    wire[1] = SYNC
    pos = 2
    for i in range(base, end):
        value = wire[i]
        if value == SYNC:
            wire[pos] = START
            wire[pos + 1] = ESCAPED_55
            pos += 2
        elif value == START:
            wire[pos] = START
            wire[pos + 1] = ESCAPED_73
            pos += 2
        else:
            wire[pos] = value
            pos += 1
    wire[pos] = SYNC
    return pos + 1


# Results of Framer.unstuff()
FEED_MORE = const(0)  # keep feeding
FEED_FRAME = const(1)  # a complete body is in framer.buf[:framer.length]
FEED_BAD_ESCAPE = const(2)  # 0x73 followed by something other than 11/22/55
FEED_TOO_LONG = const(3)  # no stop byte within MAX_BODY body bytes

_HUNT = const(0)
_START_SEEN = const(1)
_BODY = const(2)
_BODY_ESCAPE = const(3)


class Framer:
    """Finds the reply to one request in a byte stream, unstuffing as bytes arrive, without
    allocating (the framer interface is in kaskad.meters.link).

    Inside a body a raw 0x55 is always the stop byte, and ``73 55`` only ever starts a frame
    (§1.6), so a torn frame followed by a new start resynchronises by itself, and after a frame
    that failed a check the search goes on with the next start pair. A frame with the D bit set
    is a request (our own echo, §1.7) and is skipped. A valid frame with an error status is
    accepted: a refusal is an answer, and the client raises it (``refused``).
    """

    def __init__(self):
        self.buf = bytearray(MAX_BODY)  # the unstuffed body of the frame found
        self.length = 0
        self.escape_byte = 0  # the byte after 0x73 when FEED_BAD_ESCAPE was returned
        self.why = None
        self.max_chars = MAX_WIRE
        self.gap_chars = GAP_CHARS
        self._state = _HUNT
        self._address = 0
        self._command = 0
        self._lengths = ()

    def expect(self, address, command, lengths):
        """The reply wanted: from ``address``, to ``command``, with DATA of one of ``lengths``."""
        self._address = address
        self._command = command
        self._lengths = lengths

    def begin(self):
        self.length = 0
        self.why = None
        self._state = _HUNT

    @property
    def in_frame(self):
        """True between a start pair and its stop byte."""
        return self._state >= _BODY

    def feed(self, value):
        result = self.unstuff(value)
        if result == FEED_MORE:
            return False
        if result == FEED_BAD_ESCAPE:
            self.why = "bad escape: 0x73 followed by 0x%02x" % self.escape_byte
            return False
        if result == FEED_TOO_LONG:
            self.why = "frame too long: no stop byte within %d bytes" % MAX_BODY
            return False
        if frame_is_request(self.buf, self.length):
            return False  # our own request, heard by the optical head
        try:
            check_reply(self.buf, self.length, self._address, self._command, self._lengths)
        except MeterRefused:
            return True
        except ReplyError as error:
            self.why = error.what
            return False
        return True

    def unstuff(self, value):
        """Take one byte; FEED_FRAME once a whole body is in buf[:length]."""
        state = self._state
        if state == _BODY:
            if value == SYNC:
                self._state = _HUNT
                return FEED_FRAME
            if value == START:
                self._state = _BODY_ESCAPE
                return FEED_MORE
            return self._append(value)
        if state == _BODY_ESCAPE:
            self._state = _BODY
            if value == ESCAPED_55:
                return self._append(SYNC)
            if value == ESCAPED_73:
                return self._append(START)
            if value == SYNC:  # a new frame starts: the one before was torn
                self.length = 0
                return FEED_MORE
            self.escape_byte = value
            self._state = _HUNT
            return FEED_BAD_ESCAPE
        if value == START:
            self._state = _START_SEEN
        elif state == _START_SEEN and value == SYNC:
            self._state = _BODY
            self.length = 0
        else:
            self._state = _HUNT
        return FEED_MORE

    def _append(self, value):
        if self.length == MAX_BODY:
            self._state = _HUNT
            return FEED_TOO_LONG
        self.buf[self.length] = value
        self.length += 1
        return FEED_MORE


def frame_is_request(body, length):
    """True when an unstuffed frame has the D bit set: a request (such as our own echo)."""
    return length > 0 and bool(body[0] & PARAMS_REQUEST)


def check_reply(body, length, address, command, lengths):
    """Validate an unstuffed reply body against the request it answers (checklist §1.7).

    ``lengths`` is the tuple of DATA lengths acceptable for this command and generation.
    Returns the DATA length; the DATA starts at ``body[HEADER_LEN]``. Raises ReplyError
    (MeterRefused for an error status) naming the first check that failed.
    """
    if length < HEADER_LEN + 1:
        raise ReplyError("frame too short: %d bytes" % length)
    data_len = length - HEADER_LEN - 1
    crc = crc8(body, 0, length - 1)
    if crc != body[length - 1]:
        raise ReplyError("CRC mismatch: frame says 0x%02x, computed 0x%02x" % (body[length - 1], crc))
    params = body[0]
    if params & PARAMS_LENGTH != data_len:
        raise ReplyError("length: PARAMS says %d data bytes, frame has %d" % (params & PARAMS_LENGTH, data_len))
    if params & PARAMS_REQUEST:
        raise ReplyError("direction: frame is a request (D=1), not a reply")
    if params & PARAMS_ENCODED:
        raise ReplyError("encoded reply (C=1) is not supported")
    source = body[4] | (body[5] << 8)
    if source != address:
        raise ReplyError("address: reply from %d, expected %d" % (source, address))
    if body[6] != command:
        raise ReplyError("command: reply to 0x%02x, expected 0x%02x" % (body[6], command))
    if body[10] != 0:
        raise refused(command, body[10])
    if data_len not in lengths:
        raise ReplyError("data length %d for command 0x%02x, expected %s" % (data_len, command, _lengths_text(lengths)))
    return data_len


def _lengths_text(lengths):
    if not lengths:
        return "none (not supported by this generation)"
    return " or ".join(str(n) for n in lengths)


def reply_lengths(command, request_len, generation):
    """DATA lengths a valid reply may have (table at the end of §4), by command and generation.

    For 0x05 and 0x2D the request's form (its data length) decides the layout.
    An unknown generation accepts the union of the generations' lengths.
    """
    if command == CMD_PING:
        return (4,)
    if command == CMD_ENERGY:
        return (26,) if request_len == 0 else (30,)
    if command == CMD_FACTORY_STRING:
        return (31,)
    if command == CMD_BATTERY:
        return (2,)
    if command == CMD_VOLTAGE:
        return (3,)
    if command == CMD_CURRENT:
        return (3, 4)
    if command == CMD_POWER:
        return (5,) if request_len == 0 else (30,)
    if command == CMD_CONFIGURE:
        return _by_generation(generation, (7,), (8, 9), (19,))
    if command == CMD_INFO:
        return _by_generation(generation, (27,), (27,), (28, 31))
    if command == CMD_INSTANT:
        return _by_generation(generation, (), (25, 28), (30,))
    return ()


def _by_generation(generation, old, transitional, new):
    if generation == GEN_OLD:
        return old
    if generation == GEN_TRANSITIONAL:
        return transitional
    if generation == GEN_NEW:
        return new
    return old + transitional + new


def generation_from_role(role):
    """Old meters have role codes below 0x32; newer ones need 0x30's board id to tell apart (§4.0)."""
    return GEN_OLD if role < ROLE_FIRST_NEWER else GEN_UNKNOWN


def generation_from_board_id(board_id):
    if board_id in TRANSITIONAL_BOARD_IDS:
        return GEN_TRANSITIONAL
    if board_id in NEW_BOARD_IDS:
        return GEN_NEW
    return GEN_UNKNOWN


def u16(buf, offset):
    return buf[offset] | (buf[offset + 1] << 8)


def u24(buf, offset):
    return buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16)


def u32(buf, offset):
    return buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16) | (buf[offset + 3] << 24)


# Fixed-unit conversions. The decimal point comes from the configuration byte that arrived in
# the same reply (§4.2): bits 1-0 give 0..3 decimals of kWh (energy) or kW (power).
_POW10 = (1, 10, 100, 1000, 10000, 100000)


def decimals(config):
    return config & 0x03


def energy_wh(raw, config):
    """Register count -> Wh: raw / 10^d kWh = raw * 10^(3-d) Wh, exact for d = 0..3."""
    return raw * _POW10[3 - decimals(config)]


def power_cw(raw, config):
    """Power count -> 0.01 W: raw / 10^d kW = raw * 10^(5-d) cW, exact for d = 0..3."""
    return raw * _POW10[5 - decimals(config)]


def battery_pct(total_months, remaining_months):
    """remaining * 100 / total, rounded half up; None when the pair makes no sense."""
    if total_months == 0 or remaining_months > total_months:
        return None
    return (remaining_months * 200 + total_months) // (2 * total_months)


def factory_string(data, data_len):
    """0x0A reply -> text: 30 ASCII bytes after the field number, cut at the first NUL, trimmed."""
    end = 1
    while end < data_len and data[end] != 0:
        end += 1
    for i in range(1, end):
        if not 0x20 <= data[i] < 0x7F:
            return None
    return bytes(data[1:end]).decode().strip()
