"""The read-only KASKAD-11-C1 client: one session per poll, decoded into a kaskad.reading.Reading.

Per poll (docs/protocols/kaskad-11-c1.md §1.3; what the old C driver read, and what it missed):
  0x02 open channel, level 2, password "000000000"
  0x25 serial number, 0x53 date of manufacture          until read (at most 3 polls), each read
                                                        twice: kept only when both reads agree
  0x20 p=1 current (mA)      a 16-byte reply is a three-phase meter: not supported, poll ends
  0x20 p=0 voltage (0.1 V)
  0x20 p=3 active power (0.1 W); the old driver read p=5, apparent power (0.1 VA). If the meter
       refuses p=3, p=5 is read instead and published as apparent power, never as active power.
       After ACTIVE_REFUSALS polls in a row that refused p=3, p=3 is asked only every
       REPROBE_POLLS polls (a meter without it costs one exchange then, not one a poll); one
       answer makes it the form of every poll again (a transient refusal, a restarted meter)
  0x26 n=1..4 active energy import, accumulators 1-4 (10 Wh); the old driver read 1-3
  0x16 date and time, for the battery estimate (only when the date of manufacture is known)
  0x03 close channel (also after a failed step)

Choices where the notes are open:
* An energy register whose value changed since it was last confirmed is read a second time and
  published only if both reads agree: the additive sum cannot be trusted alone, and the meter
  has no total register to check the tariffs against. TOTAL is the sum of T1..T4, published only
  when all four were confirmed in the same poll.
* The battery is the old firmware's estimate, not a measurement: a 120-month life from the date
  of manufacture, read against the meter's own clock; published only when both dates are valid
  and the clock is not before the date of manufacture (the old driver wrapped around).
* Addresses: 1..65535. How the meter maps a display ID above 65535 onto the 16-bit address is
  [unverified] (the old driver could never match one): such an ID is refused by the settings.
* The echo hazard [unverified: only if the head hears itself]: the request for tariff 1 passes
  every check the old driver made. Here the link discards the echo, each reply must have the
  exact length for its request, and a frame equal to our own request is never taken for a reply.
* A refusal (STATUS other than 0x01) is reported and not retried; its length is [unverified].
* Access level byte in the open reply: not checked [unverified what the meter puts there].
* The level-2 password stays the fixed "000000000" of the old driver (the allowlist accepts any
  nine digits, for a configurable password later); 0x05 (open by serial number), 0x4F (read
  the address) and the write commands 0x7E/0x7D are not on the allowlist.
* Three-phase meters: detected by the current reply's length, as the old driver did; only the
  channel is closed.
* Flags: the protocol notes name no status word for this meter; none are published.
"""

from kaskad import reading as fields
from kaskad.meters import MeterRefused, ReplyError, plausible, step
from kaskad.meters.kaskad_11_c1 import frame

_ENERGY_COUNT_WH = 10
_BATTERY_LIFE_MONTHS = 120
_PASSWORD = b"\x02000000000"  # level 2 (read-only user), nine ASCII zeros


IDENTITY_TRIES = 3  # polls that try to read the identity before giving up on it
# Active power refused in this many polls in a row: the meter is taken to lack it. A line fault
# or a restart refuses one request now and then (the long faulty run's 15 % faulty replies make
# three refusals of p=3 in a row about one poll in a million); a meter without p=3 refuses it
# every time, so three polls (each still publishing apparent power) are enough to tell.
ACTIVE_REFUSALS = 3
REPROBE_POLLS = 16  # then p=3 is asked again every this many polls: well inside the 100 polls
# within which every value the meter offers must come back (tests/test_meter_faulty_runs.py)


class Meter:
    def __init__(self, link, clock, address, report):
        self.link = link
        self._clock = clock
        self.report = report
        self.progress = None  # called after each exchange, answered or not: the poll is alive
        self._request = bytearray(frame.MAX_REQUEST)
        self._request_view = memoryview(self._request)
        self._param = bytearray(1)
        self.framer = frame.Framer()
        self._tariffs = [0] * fields.TARIFFS
        self._first = bytearray(frame.MAX_REPLY)
        self.address = address

    @property
    def address(self):
        return self._address

    @address.setter
    def address(self, value):
        """A new address is a new meter: its identity and power form are learned again."""
        frame.check_request(value, frame.CMD_CLOSE, b"")  # a bad address fails here, not at the first poll
        self._address = value
        self._identity_done = False
        self._identity_tries = 0
        self._made_months = -1  # year * 12 + month - 1 of the date of manufacture, when known
        self._active_refused = 0  # polls in a row that refused active power (at most ACTIVE_REFUSALS)
        self._polls_without_active = 0  # polls since p=3 was last asked, once it is taken to be lacking

    # --- one poll -----------------------------------------------------------------------------

    def poll(self, reading):
        """One session; returns True when every step succeeded. Never raises a reply error."""
        reading.ok = False
        if not self._step(self._open, "open channel"):
            return False
        ok = True
        try:
            if not self._identity_done:
                ok = self._identify(reading) and ok
            if not step(self._current, reading, "current", self.report):
                return False  # a three-phase meter, or the meter stopped answering
            ok = step(self._voltage, reading, "voltage", self.report) and ok
            ok = step(self._power, reading, "power", self.report) and ok
            ok = step(self._energy, reading, "energy", self.report) and ok
            if self._made_months >= 0:
                ok = step(self._battery, reading, "battery", self.report) and ok
        finally:
            ok = self._step(self._close, "close channel") and ok
        reading.ok = ok
        return ok

    def identify(self, reading):
        """Serial number and date of manufacture, in a session of their own."""
        if not self._step(self._open, "open channel"):
            return False
        ok = self._identify(reading)
        return self._step(self._close, "close channel") and ok

    def _identify(self, reading):
        reading.model = "KASKAD-11-C1"
        ok = step(self._serial, reading, "serial number", self.report)
        ok = step(self._made, reading, "date of manufacture", self.report) and ok
        self._identity_tries += 1
        self._identity_done = ok or self._identity_tries == IDENTITY_TRIES  # then stop asking
        return ok

    def _step(self, action, name):
        try:
            action()
            return True
        except ReplyError as error:
            self.report("%s: %s" % (name, error.what))
            return False


    def _ask(self, command, data=b"", param=-1):
        """One exchange; returns the reply's data bytes (after the 4-byte header, before STATUS)
        as a count: they are at framer.buf[4:4 + count]."""
        size = frame.encode_request(self._request, self._address, command, data)
        framer = self.framer
        framer.expect(self._address, command, param, self._request, size)
        try:
            self.link.exchange(self._request_view, size, framer)
        finally:
            if self.progress is not None:
                self.progress()
        status = framer.status()
        if status != frame.STATUS_OK:
            raise MeterRefused("status 0x%02x for command 0x%02x" % (status, command), status)
        return framer.buf[0] - 6

    def _ask_param(self, command, param):
        self._param[0] = param
        return self._ask(command, self._param, param)

    # --- the steps ----------------------------------------------------------------------------

    def _open(self):
        self._ask(frame.CMD_OPEN, _PASSWORD)

    def _close(self):
        self._ask(frame.CMD_CLOSE)

    def _ask_twice(self, command):
        """For what is read once and kept (identity): two replies with the same data, or ReplyError."""
        count = self._ask(command)
        first = self._first
        buf = self.framer.buf
        for i in range(count):
            first[i] = buf[4 + i]
        if self._ask(command) != count:
            raise ReplyError("a second read disagrees")
        for i in range(count):
            if buf[4 + i] != first[i]:
                raise ReplyError("a second read disagrees")
        return count

    def _serial(self, reading):
        count = self._ask_twice(frame.CMD_SERIAL)
        buf = self.framer.buf
        for i in range(4, 4 + count):
            if not 0x20 < buf[i] < 0x7F:
                raise ReplyError("serial number is not printable text")
        if count == 0:
            raise ReplyError("serial number is empty")
        reading.serial = bytes(buf[4:4 + count]).decode()

    def _made(self, reading):
        self._ask_twice(frame.CMD_MADE)
        buf = self.framer.buf
        year, month, day = buf[4], buf[5], buf[6]
        if year > 99 or not 1 <= month <= 12 or not 1 <= day <= 31:
            raise ReplyError("date of manufacture %d-%d-%d makes no sense" % (year, month, day))
        reading.made = "20%02d-%02d-%02d" % (year, month, day)
        self._made_months = year * 12 + month - 1

    def _current(self, reading):
        self._ask_param(frame.CMD_NET, frame.PARAM_CURRENT)
        buf = self.framer.buf
        if buf[0] != 9:
            raise ReplyError("three-phase meter (current reply of %d bytes): not supported" % buf[0])
        self._set_checked(reading, fields.CURRENT, buf[5] | (buf[6] << 8), plausible.MAX_CURRENT_MA)

    def _voltage(self, reading):
        self._ask_param(frame.CMD_NET, frame.PARAM_VOLTAGE)
        buf = self.framer.buf
        self._set_checked(reading, fields.VOLTAGE, (buf[5] | (buf[6] << 8)) * 10, plausible.MAX_VOLTAGE_CV)

    def _power(self, reading):
        if self._ask_active():
            try:
                self._ask_param(frame.CMD_NET, frame.PARAM_ACTIVE_POWER)
            except MeterRefused as refusal:
                if self._active_refused < ACTIVE_REFUSALS:
                    self._active_refused += 1
                self.report("active power: %s; reading apparent power instead" % refusal.what)
            else:
                self._active_refused = 0
                self._set_checked(reading, fields.POWER, self._u24_at_5() * 10, plausible.MAX_POWER_CW)
                return
        self._ask_param(frame.CMD_NET, frame.PARAM_APPARENT_POWER)
        self._set_checked(reading, fields.APPARENT_POWER, self._u24_at_5() * 10, plausible.MAX_POWER_CW)

    def _ask_active(self):
        """Whether this poll asks for active power (see the module's docstring)."""
        if self._active_refused < ACTIVE_REFUSALS:
            return True
        self._polls_without_active += 1
        if self._polls_without_active < REPROBE_POLLS:
            return False
        self._polls_without_active = 0
        return True

    def _u24_at_5(self):
        buf = self.framer.buf
        return buf[5] | (buf[6] << 8) | (buf[7] << 16)

    def _energy(self, reading):
        tariffs = self._tariffs
        for n in range(fields.TARIFFS):
            tariffs[n] = self._register(n + 1)
            if tariffs[n] != reading.values[fields.ENERGY_T1 + n]:
                if self._register(n + 1) != tariffs[n]:
                    raise ReplyError("energy T%d changed and a second read disagrees" % (n + 1))
        now = self._clock.now_ms()
        total = 0
        for n in range(fields.TARIFFS):
            reading.set(fields.ENERGY_T1 + n, tariffs[n], now)
            total += tariffs[n]
        reading.set(fields.TOTAL, total, now)

    def _register(self, n):
        """Accumulator n in Wh (the reply counts 10 Wh)."""
        self._ask_param(frame.CMD_ENERGY, n)
        buf = self.framer.buf
        if buf[8] > 0x05:  # above MAX_ENERGY_WH / 10 = 0x05F5E0FF: also keeps the value a small int
            raise ReplyError("energy T%d is out of the plausible range" % n)
        raw = buf[5] | (buf[6] << 8) | (buf[7] << 16) | (buf[8] << 24)
        wh = raw * _ENERGY_COUNT_WH
        if wh > plausible.MAX_ENERGY_WH:
            raise ReplyError("energy T%d %d Wh is out of the plausible range" % (n, wh))
        return wh

    def _battery(self, reading):
        """Old firmware's estimate from the meter's clock and its date of manufacture."""
        self._ask(frame.CMD_CLOCK)
        buf = self.framer.buf
        low = buf[4] | (buf[5] << 8) | (buf[6] << 16)  # bits 0-23
        high = buf[7] | (buf[8] << 8)  # bits 24-39
        second = low & 0x3F
        minute = (low >> 6) & 0x3F
        hour = (low >> 12) & 0x1F
        weekday = (low >> 17) & 0x07
        day = ((low >> 20) & 0x0F) | ((high & 0x01) << 4)
        month = (high >> 1) & 0x0F
        year = (high >> 5) & 0x7F
        if second > 59 or minute > 59 or hour > 23 or not 1 <= weekday <= 7 or not 1 <= day <= 31 \
                or not 1 <= month <= 12 or year > 99:
            raise ReplyError("meter clock 20%02d-%02d-%02d %02d:%02d:%02d makes no sense" % (
                year, month, day, hour, minute, second))
        percent = plausible.battery_pct_from_age(year * 12 + month - 1 - self._made_months, _BATTERY_LIFE_MONTHS)
        if percent is None:
            raise ReplyError("meter clock is before the date of manufacture")
        reading.set(fields.BATTERY, percent, self._clock.now_ms())

    def _set_checked(self, reading, field, value, limit):
        if value > limit:
            raise ReplyError("%s %d is out of the plausible range (at most %d)" % (
                fields.FIELD_NAMES[field], value, limit))
        reading.set(field, value, self._clock.now_ms())
