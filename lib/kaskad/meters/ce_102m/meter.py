"""The read-only Energomera CE-102M client: one session per poll, into a kaskad.reading.Reading.

Per poll (docs/protocols/ce-102m.md §3.3; what the old C driver read, and what it missed):
  /?!        identification: its text becomes the reading's model
  ACK 051    option select: normal protocol, 9600 baud, data mode
  STAT_()    status word: flags
  SNUMB()    serial number   until read (at most 3 polls), read twice: kept when both agree
  ET0PE()    active energy: the total, then T1, T2, ... (the old driver skipped the total and
             kept T1-T3); T1..T4 and the total are published
  POWEP()    active power, kW
  VOLTA()    voltage, V
  CURRE()    current, A (the old driver's uint16 of mA overflowed above 65 A)
  B0         break: end of session, no answer (also sent after a failed step)

Choices where the notes are open:
* 9600 baud from the first byte, no drop to 300 baud and no speed change, as the old driver
  did (it worked with real meters) [unverified for factory defaults].
* The identification's baud character is not acted on; its text is only recorded.
* A data reply must name what was asked (``ET0PE(``...): the old driver never looked, and the
  notes' frames show the name [unverified on a real meter]. A reply without it is refused, so a
  meter that leaves names out is reported as failing rather than risking one value taken for
  another.
* Decimals are parsed exactly and scaled to the field's unit (the old driver got fraction
  lengths other than the expected one wrong); digits beyond the unit are dropped; a sign, an
  exponent or a second point rejects the value.
* POWEP() is taken as kW, as the old driver did [unverified]; a value in W would be 1000 times
  too large and fails the 60 kW limit rather than being published.
* ET0PE(): the number of values and their formatting on a real meter are [unverified]. The
  first value is the total; those after it are the tariffs. The tariffs must add up to the total
  within one unit of the last digit shown per tariff (rounding [unverified]); a 7-bit sum lets
  two swapped digits through, and a swap moves a value by at least 9 such units. When the
  registers go backwards or grow faster than 60 kW allows, or on the first read, ET0PE is read
  again and published only if both replies are identical.
* Status word (8 hex digits, bit 0 = least significant): bit 3 battery discharged ->
  battery_low; bit 19 battery past its service life -> battery_expired; bits 16 (energy
  parameter error), 20-21 (CRC errors), 28 (schedule error) -> meter_error. Bits 7 (energy
  direction), 12 (clock status) and 14 (DST) are not published: what their set state means is
  [unverified]. No battery percentage: the meter gives none (the old driver sent 0 % or 100 %).
* No date of manufacture: the notes know no request for it; it stays unknown.
"""

from kaskad import reading as fields
from kaskad.meters import ReplyError, plausible, step
from kaskad.meters.ce_102m import frame

IDENTITY_TRIES = 3  # polls that try to read the serial number before giving up on it
_MAX_VALUES = 10  # total + up to 9 tariffs in one ET0PE reply
_STATUS_BITS_LOW = (  # (bit in the low 16 bits of the status word, flag)
    (3, fields.FLAG_BATTERY_LOW),
)
_STATUS_BITS_HIGH = (  # (bit - 16, flag)
    (0, fields.FLAG_METER_ERROR),  # 16: energy parameter error
    (3, fields.FLAG_BATTERY_EXPIRED),  # 19
    (4, fields.FLAG_METER_ERROR),  # 20: CRC error
    (5, fields.FLAG_METER_ERROR),  # 21: CRC error
    (12, fields.FLAG_METER_ERROR),  # 28: schedule error
)
FLAGS_KNOWN = fields.FLAG_BATTERY_LOW | fields.FLAG_BATTERY_EXPIRED | fields.FLAG_METER_ERROR
_PLACES_WH = 3  # kWh -> Wh
_PLACES_CW = 5  # kW -> 0.01 W
_PLACES_CV = 2  # V -> 0.01 V
_PLACES_MA = 3  # A -> mA
_POW10 = (1, 10, 100, 1000, 10000, 100000)


class Meter:
    def __init__(self, link, clock, address, report):
        self.link = link
        self._clock = clock
        self.report = report
        self.progress = None  # called after each exchange, answered or not: the poll is alive
        self._request = bytearray(frame.MAX_REQUEST)
        self._request_view = memoryview(self._request)
        self.framer = frame.Framer()
        self._starts = bytearray(_MAX_VALUES)  # value spans in the last data reply
        self._ends = bytearray(_MAX_VALUES)
        self._count = 0
        self._places = 0  # fraction digits taken by the last _decimal
        self._energy_wh = [0] * _MAX_VALUES
        self._first = bytearray(frame.MAX_REPLY)
        self._ident = bytearray(frame.MAX_REPLY)  # the last identification's text
        self._ident_size = -1
        self.address = address

    @property
    def address(self):
        return self._address

    @address.setter
    def address(self, value):
        """The meter has no address (point to point): anything but None is a settings mistake."""
        if value is not None:
            raise ValueError("the CE-102M has no address: leave KASKAD_METER_ADDRESS unset")
        self._address = None
        self._identity_done = False
        self._identity_tries = 0
        self._ident_size = -1

    def poll(self, reading):
        """One session; returns True when every step succeeded. Never raises a reply error."""
        reading.ok = False
        if not step(self._open, reading, "identification", self.report) or \
                not step(self._option, reading, "option select", self.report):
            self._break()  # a meter left in a session from before starts clean next time
            return False
        ok = step(self._status, reading, "status", self.report)
        if not self._identity_done:
            serial = step(self._serial, reading, "serial number", self.report)
            self._identity_tries += 1
            self._identity_done = serial or self._identity_tries == IDENTITY_TRIES
            ok = serial and ok
        ok = step(self._energy, reading, "energy", self.report) and ok
        ok = step(self._power, reading, "power", self.report) and ok
        ok = step(self._voltage, reading, "voltage", self.report) and ok
        ok = step(self._current, reading, "current", self.report) and ok
        self._break()
        reading.ok = ok
        return ok

    def identify(self, reading):
        ok = step(self._open, reading, "identification", self.report) and \
            step(self._option, reading, "option select", self.report) and \
            step(self._serial, reading, "serial number", self.report)
        self._break()
        self._identity_done = True
        return ok


    def _break(self):
        size = frame.encode_session(self._request, frame.BREAK)
        self.link.send(self._request_view, size)

    def _session(self, request, kind):
        size = frame.encode_session(self._request, request)
        self.framer.expect(kind)
        self._exchange(size)

    def _read(self, name):
        """R1 NAME(); the value spans land in _starts/_ends/_count."""
        size = frame.encode_read(self._request, name)
        framer = self.framer
        framer.expect(frame.EXPECT_DATA, name)
        self._exchange(size)
        self._split(len(name))

    def _exchange(self, size):
        try:
            self.link.exchange(self._request_view, size, self.framer)
        finally:
            if self.progress is not None:
                self.progress()

    def _split(self, name_len):
        """Find the bracketed values of the data reply in framer.buf: NAME(v)[CR LF (v)...][CR LF] ETX."""
        buf = self.framer.buf
        end = self.framer.size - 2  # the ETX
        pos = 1 + name_len
        count = 0
        while pos < end:
            if buf[pos] != frame.OPEN or count == _MAX_VALUES:
                raise ReplyError("reply layout: expected '(' at byte %d" % pos)
            close = pos + 1
            while close < end and buf[close] != frame.CLOSE:
                close += 1
            if close == end:
                raise ReplyError("reply layout: no ')'")
            self._starts[count] = pos + 1
            self._ends[count] = close
            count += 1
            pos = close + 1
            if pos + 1 < end and buf[pos] == frame.CR and buf[pos + 1] == frame.LF:
                pos += 2
        if pos != end or count == 0:
            raise ReplyError("reply layout: no value")
        self._count = count

    def _decimal(self, index, places):
        """Value ``index`` of the last reply as an int in units of 10**-places."""
        buf = self.framer.buf
        start = self._starts[index]
        end = self._ends[index]
        value = 0
        digits = 0
        fraction = -1  # digits taken after the point; -1 before the point
        for i in range(start, end):
            c = buf[i]
            if c == 0x2E and fraction < 0:  # .
                fraction = 0
            elif 0x30 <= c <= 0x39:
                if fraction < 0:
                    digits += 1
                    if digits > 9 - places:
                        raise ReplyError("value too large")
                    value = value * 10 + c - 0x30
                elif fraction < places:
                    value = value * 10 + c - 0x30
                    fraction += 1
            else:
                raise ReplyError("value is not a decimal number")
        if digits == 0:
            raise ReplyError("value has no integer digits")
        taken = fraction if fraction > 0 else 0
        self._places = taken
        return value * _POW10[places - taken]

    # --- the steps ----------------------------------------------------------------------------

    def _open(self, reading):
        """The identification has no checksum, only parity: its text becomes the model once two
        sessions in a row brought the same."""
        self._session(frame.IDENT, frame.EXPECT_IDENT)
        framer = self.framer
        size = framer.size - 3  # without '/' and CR LF
        candidate = self._ident
        if size == self._ident_size and _same_at(framer.buf, 1, candidate, size):
            if reading.model is None:
                reading.model = bytes(candidate[:size]).decode()
        else:
            for i in range(size):
                candidate[i] = framer.buf[1 + i]
            self._ident_size = size

    def _option(self, reading):
        self._session(frame.OPTION, frame.EXPECT_BLOCK)

    def _status(self, reading):
        self._read(frame.STATUS)
        buf = self.framer.buf
        start = self._starts[0]
        if self._count != 1 or self._ends[0] - start != 8:
            raise ReplyError("status word: expected 8 hex digits")
        high = _hex(buf, start)
        low = _hex(buf, start + 4)
        flags = 0
        for bit, flag in _STATUS_BITS_LOW:
            if low >> bit & 1:
                flags |= flag
        for bit, flag in _STATUS_BITS_HIGH:
            if high >> bit & 1:
                flags |= flag
        reading.set_flags(flags, FLAGS_KNOWN, self._clock.now_ms())

    def _serial(self, reading):
        """Read twice: the number is kept, and a 7-bit sum lets two swapped digits through."""
        self._read(frame.SERIAL)
        self._confirm(frame.SERIAL, "serial number")
        buf = self.framer.buf
        start = self._starts[0]
        end = self._ends[0]
        if self._count != 1 or end == start:
            raise ReplyError("serial number: expected one value")
        for i in range(start, end):
            if not 0x20 < buf[i] < 0x7F:
                raise ReplyError("serial number is not printable text")
        reading.serial = bytes(buf[start:end]).decode()

    def _confirm(self, name, what):
        """Read ``name`` again; ReplyError unless the reply is the same, byte for byte."""
        framer = self.framer
        size = framer.size
        first = self._first
        for i in range(size):
            first[i] = framer.buf[i]
        self._read(name)
        if framer.size != size or not _same_at(framer.buf, 0, first, size):
            raise ReplyError("%s implausible and not confirmed by a second read" % what)

    def _energy(self, reading):
        self._read(frame.ENERGY)
        self._decode_energy()
        if self._energy_suspicious(reading):
            self._confirm(frame.ENERGY, "energy registers")
            self._decode_energy()
        values = self._energy_wh
        now = self._clock.now_ms()
        reading.set(fields.TOTAL, values[0], now)
        for n in range(fields.TARIFFS):
            if n + 1 < self._count:
                reading.set(fields.ENERGY_T1 + n, values[n + 1], now)

    def _decode_energy(self):
        """Total and tariffs in Wh; the tariffs must add up to the total within rounding: one unit
        of the last digit shown per tariff (a digit error moves a value by at least 9 of them)."""
        values = self._energy_wh
        places = 0
        for i in range(self._count):
            values[i] = self._decimal(i, _PLACES_WH)
            if values[i] > plausible.MAX_ENERGY_WH:
                raise ReplyError("energy %d Wh is out of the plausible range" % values[i])
            if self._places > places:
                places = self._places
        tariffs = self._count - 1
        if tariffs:
            tariff_sum = 0
            for n in range(1, self._count):
                tariff_sum += values[n]
            slack = (tariffs if tariffs < 8 else 8) * _POW10[_PLACES_WH - places]
            if not -slack <= values[0] - tariff_sum <= slack:
                raise ReplyError("tariffs add up to %d Wh, the total is %d Wh" % (tariff_sum, values[0]))

    def _energy_suspicious(self, reading):
        """First read, going backwards, or growing faster than MAX_POWER_W allows."""
        values = self._energy_wh
        now = self._clock.now_ms()
        if plausible.energy_suspicious(reading, fields.TOTAL, values[0], now, 10):
            return True
        for n in range(fields.TARIFFS):
            if n + 1 < self._count and plausible.energy_suspicious(
                    reading, fields.ENERGY_T1 + n, values[n + 1], now, 10):
                return True
        return False

    def _power(self, reading):
        self._single(frame.POWER, fields.POWER, _PLACES_CW, plausible.MAX_POWER_CW, reading)

    def _voltage(self, reading):
        self._single(frame.VOLTAGE, fields.VOLTAGE, _PLACES_CV, plausible.MAX_VOLTAGE_CV, reading)

    def _current(self, reading):
        self._single(frame.CURRENT, fields.CURRENT, _PLACES_MA, plausible.MAX_CURRENT_MA, reading)

    def _single(self, name, field, places, limit, reading):
        self._read(name)
        if self._count != 1:
            raise ReplyError("expected one value, got %d" % self._count)
        value = self._decimal(0, places)
        if value > limit:
            raise ReplyError("%s %d is out of the plausible range (at most %d)" % (
                fields.FIELD_NAMES[field], value, limit))
        reading.set(field, value, self._clock.now_ms())


def _hex(buf, start):
    """Four hex digits as an int; ReplyError for anything else."""
    value = 0
    for i in range(start, start + 4):
        c = buf[i]
        if 0x30 <= c <= 0x39:
            digit = c - 0x30
        elif 0x41 <= c <= 0x46:
            digit = c - 0x37
        elif 0x61 <= c <= 0x66:
            digit = c - 0x57
        else:
            raise ReplyError("status word: not hex")
        value = value << 4 | digit
    return value


def _same_at(a, start, b, size):
    for i in range(size):
        if a[start + i] != b[i]:
            return False
    return True
