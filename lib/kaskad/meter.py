"""The read-only KASKAD-1-MT client: one poll cycle, decoded into a Reading in fixed integer units.

A field changes only when a reply passed every check; it remembers when it was last confirmed
and reads as None once older than the maximum age ("a missing value is better than a stale one").
The meter generation comes from the role byte of the ping reply (and 0x30's board id for newer
meters); each quantity has a preferred request form per generation and a fallback used when the
meter refuses the first one.
"""

from kaskad import mirtek
from kaskad.clock import ticks_diff

# Reading fields, in fixed units
ENERGY_T1 = 0  # Wh, T1..T4 at 0..3
TOTAL = 4  # Wh, sum of the tariffs in use
VOLTAGE = 5  # 0.01 V
CURRENT = 6  # mA
POWER = 7  # 0.01 W
BATTERY = 8  # %
FIELD_COUNT = 9
FIELD_NAMES = ("energy_t1_wh", "energy_t2_wh", "energy_t3_wh", "energy_t4_wh", "total_wh",
               "voltage_cv", "current_ma", "power_cw", "battery_pct")

# Request forms, remembered per meter once one works
_FORM_OLD = 0
_FORM_NEW = 1
_FORM_NONE = 2  # the meter refused every form: stop asking until the next identity read

# Plausibility limits. CRC8 misses about 1 in 256 frames hit by errors scattered over several
# bytes, so a value that passed every frame check must still make physical sense.
MAX_POWER_W = 60000  # more than any single-phase household connection: bounds register growth
MAX_VOLTAGE_CV = 50000  # 500 V
MAX_CURRENT_MA = 200000  # 200 A
AGE_LIMIT_MS = (1 << 28) - 1  # the longest age ticks can tell (kaskad.clock); KASKAD_MAX_AGE_SECONDS stays below

_ENERGY_TYPE_ACTIVE_IMPORT = b"\x00"
_PHASE_1 = b"\x01"
_INSTANT_GROUP_0 = b"\x00"
_FIELD_SERIAL = b"\x01"
_FIELD_MADE = b"\x02"


class Reading:
    """The meter's values with the time each was last confirmed (ticks ms, kaskad.clock).

    Ticks tell ages apart only up to 2**28 ms (3.1 days), so a field found older than the
    maximum age is marked stale for good (its confirmation time forgotten) until it is confirmed
    again: it can never look fresh after the ticks wrapped. The loop asks at every poll and every
    packet switch, far more often than that."""

    def __init__(self):
        self._clear()

    def _clear(self):
        self.values = [None] * FIELD_COUNT
        self.confirmed_ms = [None] * FIELD_COUNT
        self.stale = [False] * FIELD_COUNT
        self.address = None
        self.serial = None
        self.made = None
        self.generation = mirtek.GEN_UNKNOWN
        self.firmware_version = None
        self.flags_a = None
        self.flags_b = None
        self.flags_ms = None  # when a reply last brought the status flags
        self.ok = False  # the last poll confirmed every field it asked for

    def set(self, field, value, now_ms):
        self.values[field] = value
        self.confirmed_ms[field] = now_ms
        self.stale[field] = False

    def get(self, field, now_ms, max_age_ms):
        """The field's value, or None when unknown or older than max_age_ms."""
        if self.age_ms(field, now_ms, max_age_ms) is None:
            return None
        return self.values[field]

    def flags(self, now_ms, max_age_ms):
        """True when the status flags are known and not older than max_age_ms."""
        if self.flags_ms is None:
            return False
        age = ticks_diff(now_ms, self.flags_ms)
        if age > max_age_ms or age < -max_age_ms:  # stale for good, as a field (age_ms)
            self.flags_ms = None
            return False
        return True

    def silent(self, now_ms, max_age_ms):
        """True when the meter is not answering: a value it gave has gone stale, or it never
        gave one. A good poll confirms every value again and ends it."""
        heard = False
        for field in range(FIELD_COUNT):
            if self.age_ms(field, now_ms, max_age_ms) is not None:
                heard = True
            elif self.stale[field]:
                return True
        return not heard

    def is_stale(self, field, now_ms, max_age_ms):
        """Known once, and now older than max_age_ms."""
        self.age_ms(field, now_ms, max_age_ms)
        return self.stale[field]

    def age_ms(self, field, now_ms, max_age_ms):
        """ms since the field was confirmed; None when unknown or stale (then stale for good)."""
        confirmed = self.confirmed_ms[field]
        if confirmed is None:
            return None
        age = ticks_diff(now_ms, confirmed)
        if age > max_age_ms or age < -max_age_ms:  # far negative: the ticks wrapped past 2**28 ms
            self.confirmed_ms[field] = None
            self.stale[field] = True
            return None
        return age

    def forget(self):
        """Drop everything: after an address change the values belong to another meter."""
        self._clear()


class MeterClient:
    """Polls one meter through an OpticalLink; reports each failed step through ``report(what)``."""

    def __init__(self, link, clock, address, report):
        self.link = link
        self._clock = clock
        self.report = report
        self.reading = Reading()
        self.progress = None  # called after each exchange, answered or not: the poll is alive
        self.address = address  # the setter initialises the per-meter state

    @property
    def address(self):
        return self._address

    @address.setter
    def address(self, value):
        """A new address is a new meter: forget its values, identity and request forms."""
        self._address = value
        self.reading.forget()
        self.reading.address = value
        self._identity_done = False
        self._energy_form = _FORM_OLD
        self._instant_form = _FORM_OLD
        self._current_form = _FORM_OLD

    def poll(self):
        """One cycle; returns True when every step succeeded. Never raises a reply error."""
        reading = self.reading
        reading.ok = False
        if not self._step(self._ping, "ping"):
            return False  # the meter is not there: the other steps would only time out
        ok = True
        if not self._identity_done:
            ok = self._step(self._identity, "identity") and ok
        ok = self._step(self._energy, "energy") and ok
        ok = self._step(self._battery, "battery") and ok
        if reading.generation == mirtek.GEN_OLD or self._instant_form != _FORM_NEW:
            ok = self._step(self._voltage, "voltage") and ok
            if reading.generation == mirtek.GEN_OLD:
                ok = self._step(self._power, "power") and ok
            ok = self._step(self._current, "current") and ok
        else:
            ok = self._step(self._instant, "instant values") and ok
        reading.ok = ok
        return ok

    def _step(self, action, name):
        try:
            action()
            return True
        except mirtek.ReplyError as error:
            if action == self._ping and error.what.startswith("timeout: no reply"):
                # silence to the very first, shortest request: most likely another address (a
                # meter answers only its own) or a head that is off the port
                self.report("%s: %s: no meter answers at address %d; check KASKAD_METER_ADDRESS "
                            "against the ID-xxxxx on the meter's display, and the optical head"
                            % (name, error.what, self._address))
            else:
                self.report("%s: %s" % (name, error.what))
            return False

    def _ask(self, command, data=b""):
        lengths = mirtek.reply_lengths(command, len(data), self.reading.generation)
        try:
            reply = self.link.exchange(self._address, command, data, lengths)
        finally:
            if self.progress is not None:
                self.progress()
        reading = self.reading
        reading.flags_a = self.link.flags_a
        reading.flags_b = self.link.flags_b
        reading.flags_ms = self._clock.now_ms()
        return reply

    def _ping(self):
        reply = self._ask(mirtek.CMD_PING)
        if mirtek.u16(reply, 2) != self._address:
            raise mirtek.ReplyError("ping: meter reports address %d" % mirtek.u16(reply, 2))
        self.reading.firmware_version = mirtek.u16(reply, 0)
        if self.reading.generation == mirtek.GEN_UNKNOWN:
            self._learn_generation(self.link.role)

    def _learn_generation(self, role):
        """Old meters have role < 0x32; for newer ones 0x30's board id tells transitional from
        new (§4.0). Sets the request forms to try first."""
        generation = mirtek.generation_from_role(role)
        if generation == mirtek.GEN_UNKNOWN:
            try:
                generation = mirtek.generation_from_board_id(self._ask(mirtek.CMD_INFO)[0])
            except mirtek.MeterRefused:
                pass
            if generation == mirtek.GEN_UNKNOWN:
                self.report("info: board id unknown, treating the meter as transitional")
                generation = mirtek.GEN_TRANSITIONAL
        self.reading.generation = generation
        form = _FORM_OLD if generation == mirtek.GEN_OLD else _FORM_NEW
        self._energy_form = form
        self._instant_form = form

    def _identity(self):
        """Serial number and date of manufacture (0x0A), once per meter; meters made before 2015
        refuse it, and then both stay unknown."""
        reading = self.reading
        try:
            reading.serial = mirtek.factory_string(self._ask(mirtek.CMD_FACTORY_STRING, _FIELD_SERIAL), 31)
            reading.made = mirtek.factory_string(self._ask(mirtek.CMD_FACTORY_STRING, _FIELD_MADE), 31)
        except mirtek.MeterRefused as refusal:
            self.report("identity: %s; serial and date stay unknown" % refusal.what)
        self._identity_done = True

    def _energy(self):
        if self._energy_form == _FORM_NONE:
            return
        form = self._energy_form
        try:
            self._energy_in_form(form)
        except mirtek.MeterRefused as refusal:
            other = _FORM_NEW if form == _FORM_OLD else _FORM_OLD
            self.report("energy: %s; trying the other form" % refusal.what)
            try:
                self._energy_in_form(other)
            except mirtek.MeterRefused:
                self._energy_form = _FORM_NONE
                raise
            self._energy_form = other

    def _energy_in_form(self, form):
        """Registers that look wrong (tariffs not adding up to the sum, a register going backwards
        or growing faster than MAX_POWER_W allows, or the first read of a meter) are read a second
        time and published only if both replies agree byte for byte."""
        reply = self._ask_energy(form)
        if self._energy_suspicious(reply, form):
            first = bytes(reply)
            if bytes(self._ask_energy(form)) != first:
                raise mirtek.ReplyError("energy registers implausible and not confirmed by a second read")
        config, total_at, tariffs_at = _energy_layout(reply, form)
        now = self._clock.now_ms()
        reading = self.reading
        for field in range(TOTAL + 1):
            at = total_at if field == TOTAL else tariffs_at + 4 * field
            reading.set(field, mirtek.energy_wh(mirtek.u32(reply, at), config), now)

    def _ask_energy(self, form):
        if form == _FORM_OLD:
            return self._ask(mirtek.CMD_ENERGY)
        return self._ask(mirtek.CMD_ENERGY, _ENERGY_TYPE_ACTIVE_IMPORT)

    def _energy_suspicious(self, reply, form):
        config, total_at, tariffs_at = _energy_layout(reply, form)
        tariffs_in_use = ((config >> 6) & 3) + 1
        tariff_sum = 0
        for tariff in range(tariffs_in_use):
            tariff_sum += mirtek.u32(reply, tariffs_at + 4 * tariff)
        if tariff_sum != mirtek.u32(reply, total_at):
            return True
        reading = self.reading
        now = self._clock.now_ms()
        one_count_wh = mirtek.energy_wh(1, config)
        for field in range(TOTAL + 1):
            last = reading.values[field]
            age = reading.age_ms(field, now, AGE_LIMIT_MS)
            if last is None or age is None:  # unknown, or too old to bound its growth
                return True
            at = total_at if field == TOTAL else tariffs_at + 4 * field
            growth = mirtek.energy_wh(mirtek.u32(reply, at), config) - last
            limit = age * MAX_POWER_W // 3600000 + one_count_wh
            if not 0 <= growth <= limit:
                return True
        return False

    def _battery(self):
        reply = self._ask(mirtek.CMD_BATTERY)
        percent = mirtek.battery_pct(reply[0], reply[1])
        if percent is None:
            raise mirtek.ReplyError("battery: %d months left of %d makes no sense" % (reply[1], reply[0]))
        self.reading.set(BATTERY, percent, self._clock.now_ms())

    def _voltage(self):
        reply = self._ask(mirtek.CMD_VOLTAGE, _PHASE_1)
        self._check_phase(reply)
        self._set_checked(VOLTAGE, mirtek.u16(reply, 1), MAX_VOLTAGE_CV)

    def _power(self):
        """Old meters: u24 one-minute average, decimals of kW from the config byte after it."""
        reply = self._ask(mirtek.CMD_POWER)
        self._set_checked(POWER, mirtek.power_cw(mirtek.u24(reply, 0), reply[3]), MAX_POWER_W * 100)

    def _current(self):
        if self._current_form == _FORM_NONE:
            return
        try:
            reply = self._ask(mirtek.CMD_CURRENT, _PHASE_1)
        except mirtek.MeterRefused:
            self._current_form = _FORM_NONE  # some old meters lack 0x2C: stop asking
            raise
        self._check_phase(reply)
        current = mirtek.u16(reply, 1) if len(reply) == 3 else mirtek.u24(reply, 1)
        self._set_checked(CURRENT, current, MAX_CURRENT_MA)

    def _instant(self):
        """0x2B group 0: several values at once; refused -> fall back to 0x29 and 0x2C."""
        try:
            reply = self._ask(mirtek.CMD_INSTANT, _INSTANT_GROUP_0)
        except mirtek.MeterRefused as refusal:
            self._instant_form = _FORM_OLD
            self.report("instant values: %s; falling back to 0x29/0x2C" % refusal.what)
            self._voltage()
            self._current()
            return
        if reply[0] != 0:
            raise mirtek.ReplyError("instant values: group %d, expected 0" % reply[0])
        if len(reply) == 30:  # new: P(3) in W at 5, voltage A at 15, current A (3 bytes) at 21
            self._set_checked(POWER, mirtek.u24(reply, 5) * 100, MAX_POWER_W * 100)
            self._set_checked(VOLTAGE, mirtek.u16(reply, 15), MAX_VOLTAGE_CV)
            self._set_checked(CURRENT, mirtek.u24(reply, 21), MAX_CURRENT_MA)
        else:  # transitional, 25 or 28 bytes: voltage A at 13, current A at 19 (2 or 3 bytes).
            # Its 2-byte power has no stated unit (§4.11): it is not published.
            self._set_checked(VOLTAGE, mirtek.u16(reply, 13), MAX_VOLTAGE_CV)
            current = mirtek.u16(reply, 19) if len(reply) == 25 else mirtek.u24(reply, 19)
            self._set_checked(CURRENT, current, MAX_CURRENT_MA)

    def _set_checked(self, field, value, limit):
        if value > limit:
            raise mirtek.ReplyError("%s %d is out of the plausible range (at most %d)" % (FIELD_NAMES[field], value, limit))
        self.reading.set(field, value, self._clock.now_ms())

    @staticmethod
    def _check_phase(reply):
        if reply[0] != 1:
            raise mirtek.ReplyError("reply for phase %d, asked for phase 1" % reply[0])


def _energy_layout(reply, form):
    """(config byte, offset of the sum of the tariffs in use, offset of T1) of a 0x05 reply (§4.3)."""
    if form == _FORM_OLD:  # 26 bytes: sum, cfg, kd, role, factor(3), T1..T4
        return reply[4], 0, 10
    return reply[1], 10, 14  # 30 bytes: type, cfg, VT(2), CT(2), grand total, sum, T1..T4
