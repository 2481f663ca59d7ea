"""The read-only Mercury-206 client: decoded into a kaskad.reading.Reading in fixed units.

Per poll (docs/protocols/mercury-206.md §2.3; what the old C driver read, and what it missed):
  0x2F serial number   the wake-up, and a check that the meter at this address is the one asked
  0x66 date of manufacture                   until read, at most on the first 3 polls of a meter
  0x63 voltage (0.1 V), current (0.01 A), active power (W)
  0x27 active energy T1..T4 (0.01 kWh); the old driver dropped T4
  0x69 running hours on mains and on battery, for the battery estimate

Choices where the notes are open:
* Wake-up: the meter may ignore or garble the first request after an idle gap (the author's
  finding). The old driver sent 0x82 twice with a 500 ms pause; 0x82's meaning is unknown
  [unverified], so it is not sent. The first request of a poll is 0x2F, a read, sent as a wake-up
  (ByteLink's ``wake_chars``): an extra attempt that waits WAKE_CHARS character times for the
  reply to begin, then the exchange as usual (its retries are not spent on the wake-up). The
  notes give no reply delay for this meter; WAKE_CHARS (25 ms at 9600 baud) is the 20 ms the
  model assumes with a margin. An awake meter that answers later costs a resend, never a reading;
  the full reply timeout (1000 ms) would make the poll five times its physical floor.
* No session, no password, no error reply documented: a refusal looks like silence.
* TOTAL is the sum of T1..T4 from the same reply. Registers are read a second time, and
  published only if both replies agree, when they look wrong (first read, going backwards, or
  growing faster than 60 kW allows).
* The power in 0x63 is taken as active power in W, as the old driver did [unverified against the
  vendor manual].
* The battery is the old firmware's estimate, not a measurement: 120 months of life minus the
  meter's age from its running hours (mains + battery) [unverified as a measure of the battery].
* Flags: the notes name no status word for this meter; none are published.
"""

from kaskad import reading as fields
from kaskad.meters import ReplyError, plausible, step
from kaskad.meters.mercury_206 import frame

_ENERGY_COUNT_WH = 10
_BATTERY_LIFE_MONTHS = 120
_HOURS_PER_MONTH = 24 * 30
WAKE_CHARS = 24  # character times the wake-up attempt waits for the reply to begin (see above)
IDENTITY_TRIES = 3  # polls that try to read the date of manufacture before giving up on it


class Meter:
    def __init__(self, link, clock, address, report):
        self.link = link
        self._clock = clock
        self.report = report
        self.progress = None  # called after each exchange, answered or not: the poll is alive
        self._request = bytearray(frame.REQUEST_LEN)
        self._request_view = memoryview(self._request)
        self.framer = frame.Framer()
        self._tariffs = [0] * fields.TARIFFS
        self._first = bytearray(16)  # energy bytes of a first read, for the confirming read
        self.address = address

    @property
    def address(self):
        return self._address

    @address.setter
    def address(self, value):
        frame.check_request(value, frame.CMD_SERIAL)  # a bad address fails here, not at the first poll
        self._address = value
        self._identity_done = False
        self._identity_tries = 0

    def poll(self, reading):
        """One cycle; returns True when every step succeeded. Never raises a reply error."""
        reading.ok = False
        if not step(self._serial, reading, "serial number", self.report):
            return False  # the meter is not there: the other steps would only time out
        ok = True
        if not self._identity_done:
            made = step(self._made, reading, "date of manufacture", self.report)
            self._identity_tries += 1
            self._identity_done = made or self._identity_tries == IDENTITY_TRIES
            ok = made and ok
        ok = step(self._instant, reading, "voltage, current, power", self.report) and ok
        ok = step(self._energy, reading, "energy", self.report) and ok
        ok = step(self._battery, reading, "battery", self.report) and ok
        reading.ok = ok
        return ok

    def identify(self, reading):
        ok = step(self._serial, reading, "serial number", self.report)
        ok = step(self._made, reading, "date of manufacture", self.report) and ok
        self._identity_done = True
        return ok


    def _ask(self, command, wake_chars=0):
        """One exchange; the reply is in framer.buf, its data from offset 5."""
        size = frame.encode_request(self._request, self._address, command)
        self.framer.expect(self._request, command)
        try:
            self.link.exchange(self._request_view, size, self.framer, wake_chars)
        finally:
            if self.progress is not None:
                self.progress()
        return self.framer.buf

    def _serial(self, reading):
        buf = self._ask(frame.CMD_SERIAL, WAKE_CHARS)  # the first request of a poll
        if buf[5] > 0x3F:  # above ADDRESS_MAX: also keeps the value a small int
            raise ReplyError("serial number out of range")
        serial = (buf[5] << 24) | (buf[6] << 16) | (buf[7] << 8) | buf[8]
        if serial != self._address:
            raise ReplyError("meter reports serial number %d, expected %d" % (serial, self._address))
        if reading.serial is None:
            reading.model = "Mercury-206"
            reading.serial = "%d" % serial

    def _made(self, reading):
        buf = self._ask(frame.CMD_MADE)
        day = frame.bcd(buf, 5, 1)
        month = frame.bcd(buf, 6, 1)
        year = frame.bcd(buf, 7, 1)
        if not 1 <= day <= 31 or not 1 <= month <= 12 or year < 0:
            raise ReplyError("date of manufacture %02x.%02x.%02x makes no sense" % (buf[5], buf[6], buf[7]))
        reading.made = "20%02d-%02d-%02d" % (year, month, day)

    def _instant(self, reading):
        buf = self._ask(frame.CMD_INSTANT)
        voltage = frame.bcd(buf, 5, 2)
        current = frame.bcd(buf, 7, 2)
        power = frame.bcd(buf, 9, 3)
        if voltage < 0 or current < 0 or power < 0:
            raise ReplyError("voltage, current, power: not BCD")
        voltage *= 10
        current *= 10
        power *= 100
        _check(fields.VOLTAGE, voltage, plausible.MAX_VOLTAGE_CV)
        _check(fields.CURRENT, current, plausible.MAX_CURRENT_MA)
        _check(fields.POWER, power, plausible.MAX_POWER_CW)
        now = self._clock.now_ms()  # one reply: publish all three or none
        reading.set(fields.VOLTAGE, voltage, now)
        reading.set(fields.CURRENT, current, now)
        reading.set(fields.POWER, power, now)

    def _energy(self, reading):
        buf = self._ask(frame.CMD_ENERGY)
        self._decode_energy(buf)
        now = self._clock.now_ms()
        tariffs = self._tariffs
        suspicious = False
        for n in range(fields.TARIFFS):
            if plausible.energy_suspicious(reading, fields.ENERGY_T1 + n, tariffs[n], now, _ENERGY_COUNT_WH):
                suspicious = True
        if suspicious:
            first = self._first
            for i in range(16):
                first[i] = buf[5 + i]
            buf = self._ask(frame.CMD_ENERGY)
            for i in range(16):
                if buf[5 + i] != first[i]:
                    raise ReplyError("energy registers implausible and not confirmed by a second read")
        total = 0
        for n in range(fields.TARIFFS):
            reading.set(fields.ENERGY_T1 + n, tariffs[n], now)
            total += tariffs[n]
        reading.set(fields.TOTAL, total, now)

    def _decode_energy(self, buf):
        tariffs = self._tariffs
        for n in range(fields.TARIFFS):
            raw = frame.bcd(buf, 5 + 4 * n, 4)
            if raw < 0:
                raise ReplyError("energy T%d: not BCD" % (n + 1))
            tariffs[n] = raw * _ENERGY_COUNT_WH  # at most 999 999 990 Wh: below MAX_ENERGY_WH

    def _battery(self, reading):
        buf = self._ask(frame.CMD_HOURS)
        mains = frame.bcd(buf, 5, 3)
        battery = frame.bcd(buf, 8, 3)
        if mains < 0 or battery < 0:
            raise ReplyError("running hours: not BCD")
        percent = plausible.battery_pct_from_age((mains + battery) // _HOURS_PER_MONTH, _BATTERY_LIFE_MONTHS)
        reading.set(fields.BATTERY, percent, self._clock.now_ms())


def _check(field, value, limit):
    if value > limit:
        raise ReplyError("%s %d is out of the plausible range (at most %d)" % (fields.FIELD_NAMES[field], value, limit))
