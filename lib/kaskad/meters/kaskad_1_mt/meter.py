"""The read-only KASKAD-1-MT client (MIRTEK protocol): one poll cycle into a kaskad.reading.Reading.

Per poll (mirtek.md §4; the order of the old firmware):
  0x01 ping                  the meter's address and firmware version; its role byte tells an
                             old meter from a newer one, 0x30's board id transitional from new
  0x0A serial number, date of manufacture       once per meter; meters made before 2015 refuse
  0x05 energy T1..T4 and their sum              the form by generation, the other if refused
  0x1E battery
  old meters:   0x29 voltage, 0x2D power, 0x2C current (some lack 0x2C)
  newer meters: 0x2B group 0 (voltage, current, power at once); refused -> 0x29 and 0x2C

A request a meter lacks (0x05 in both forms, 0x2C, 0x2B) is taken to be lacking after
REFUSALS_IN_A_ROW polls in a row that refused it, and is then asked only every
REPROBE_POLLS polls, so the poll stays short; one answer makes it a request of every
poll again. A single refused reply (a line fault, a restarted meter) never ends a reading.

Every value is checked for plausibility after the frame checks (CRC8 misses about 1 in 256
frames hit by errors scattered over several bytes); energy registers that look wrong are read a
second time and published only when both replies agree byte for byte (kaskad.meters.plausible).
The meter's generation goes into the reading's ``model`` ("KASKAD-1-MT (new)").

Flags: every reply carries two status bytes (§3). MIRTEK_FLAGS maps the bits that have a meaning
in kaskad.reading; the others are not published (see the table).
"""

from kaskad import reading as fields
from kaskad.meters import MeterRefused, ReplyError, plausible
from kaskad.meters.kaskad_1_mt import frame

# Request forms, remembered per meter once one works
_FORM_OLD = 0
_FORM_NEW = 1

MODELS = (None, "KASKAD-1-MT (old)", "KASKAD-1-MT (transitional)", "KASKAD-1-MT (new)")  # by frame.GEN_*

_ENERGY_TYPE_ACTIVE_IMPORT = b"\x00"
_PHASE_1 = b"\x01"
_INSTANT_GROUP_0 = b"\x00"
_FIELD_SERIAL = b"\x01"
_FIELD_MADE = b"\x02"

# MIRTEK status flags (§3; offset in the unstuffed body, bit, flag by meaning). Bytes A (body[8]:
# W SY M2 M1 P3 P2 P1 JL) and B (body[9]: N AR ND IN R2 R1 R0 J), the first letter bit 7.
_STATUS_A = 8
_STATUS_B = 9
MIRTEK_FLAGS = (
    (_STATUS_A, 1, fields.FLAG_SEAL_TERMINAL_OPEN),  # P1: the terminal-block cover seal was opened
    (_STATUS_A, 2, fields.FLAG_SEAL_CASE_OPEN),  # P2: the housing cover seal was opened
    (_STATUS_A, 3, fields.FLAG_SEAL_MODULE_OPEN),  # P3: the communication-module cover seal was opened
    (_STATUS_A, 4, fields.FLAG_MAGNET_DC),  # M1: a constant magnetic field was detected
    (_STATUS_A, 5, fields.FLAG_MAGNET_AC),  # M2: an alternating magnetic field was detected
    (_STATUS_B, 5, fields.FLAG_EMERGENCY),  # ND: an emergency condition has occurred
    (_STATUS_B, 7, fields.FLAG_IMBALANCE),  # N: current imbalance (phase and neutral differ)
)
# R2 (B bit 3, 1 = load disconnected) is FLAG_RELAY_OFF only when R0 (bit 1) says a relay is
# fitted; a meter without one never cuts the consumer off (known, clear).
_RELAY_OPEN_BIT = 3
_RELAY_FITTED_BIT = 1
# Not published, having no meaning in kaskad.reading: W (prepaid balance critical), SY (clock
# synchronised today), JL (new journal entries), AR (auto-registration), IN (pulse input), R1
# (relay type), J (factory jumper). The meter reports no battery or internal-error flag: those
# stay unknown (the battery is a percentage, 0x1E).
FLAGS_KNOWN = (fields.FLAG_SEAL_TERMINAL_OPEN | fields.FLAG_SEAL_CASE_OPEN | fields.FLAG_SEAL_MODULE_OPEN
               | fields.FLAG_MAGNET_DC | fields.FLAG_MAGNET_AC | fields.FLAG_EMERGENCY | fields.FLAG_IMBALANCE
               | fields.FLAG_RELAY_OFF)


def flags_from_status(body):
    """The FLAG_* bits of a reply's status bytes (body is the unstuffed frame)."""
    flags = 0
    for at, bit, flag in MIRTEK_FLAGS:
        if body[at] >> bit & 1:
            flags |= flag
    status_b = body[_STATUS_B]
    if status_b >> _RELAY_OPEN_BIT & 1 and status_b >> _RELAY_FITTED_BIT & 1:
        flags |= fields.FLAG_RELAY_OFF
    return flags


# Taken to be lacking after this many polls in a row refused it: a line fault or a restart refuses
# a request now and then (15 % faulty replies in the long faulty run make three refusals in a row
# of one request about one poll in a million), a meter that lacks it refuses it every time.
REFUSALS_IN_A_ROW = 3
# Then asked again every this many polls: well inside the 100 polls within which every value the
# meter offers must come back (tests/test_meter_faulty_runs.py), one exchange in 16 polls.
REPROBE_POLLS = 16


class Meter:
    def __init__(self, link, clock, address, report):
        self.link = link
        self._clock = clock
        self.report = report
        self.progress = None  # called after each exchange, answered or not: the poll is alive
        self._request = bytearray(frame.MAX_WIRE)
        self._request_view = memoryview(self._request)
        self.framer = frame.Framer()
        self._data = memoryview(self.framer.buf)[frame.HEADER_LEN :]
        # The status bytes of the last valid reply as sent (§3), for kaskad.meter's MIRTEK-shaped
        # reading; the reading itself gets them by meaning.
        self.role = 0
        self.flags_a = None
        self.flags_b = None
        self.address = address

    @property
    def address(self):
        return self._address

    @address.setter
    def address(self, value):
        """A new address is a new meter: its generation, identity and request forms are learned again."""
        frame.check_request(value, frame.CMD_PING, 0)  # a bad address fails here, not at the first poll
        self._address = value
        self._identity_done = False
        self.generation = frame.GEN_UNKNOWN
        self._energy_form = _FORM_OLD
        self._refused = bytearray(3)  # polls in a row that refused 0x05 (both forms), 0x2C, 0x2B

    def poll(self, reading):
        """One cycle; returns True when every step succeeded. Never raises a reply error."""
        reading.ok = False
        if not self._step(self._ping, reading, "ping"):
            return False  # the meter is not there: the other steps would only time out
        ok = True
        if not self._identity_done:
            ok = self._step(self._identity, reading, "identity") and ok
        ok = self._step(self._energy, reading, "energy") and ok
        ok = self._step(self._battery, reading, "battery") and ok
        if self.generation == frame.GEN_OLD:
            ok = self._step(self._voltage, reading, "voltage") and ok
            ok = self._step(self._power, reading, "power") and ok
            ok = self._step(self._current, reading, "current") and ok
        else:
            ok = self._step(self._instant, reading, "instant values") and ok
        reading.ok = ok
        return ok

    def identify(self, reading):
        """Generation and firmware version (ping), serial number and date of manufacture."""
        return self._step(self._ping, reading, "ping") and self._step(self._identity, reading, "identity")

    def _step(self, action, reading, name):
        try:
            action(reading)
            return True
        except ReplyError as error:
            if action == self._ping and error.what.startswith("timeout: no reply"):
                # silence to the very first, shortest request: most likely another address (a
                # meter answers only its own) or a head that is off the port
                self.report("%s: %s: no meter answers at address %d; check KASKAD_METER_ADDRESS "
                            "against the ID-xxxxx on the meter's display, and the optical head"
                            % (name, error.what, self._address))
            else:
                self.report("%s: %s" % (name, error.what))
            return False

    def _ask(self, reading, command, data=b""):
        """One exchange; returns the reply's DATA (a view valid until the next exchange).
        Raises MeterRefused for an error status, ReplyError when every attempt failed."""
        size = frame.encode_request(self._request, self._address, command, data)  # the allowlist
        framer = self.framer
        framer.expect(self._address, command, frame.reply_lengths(command, len(data), self.generation))
        try:
            self.link.exchange(self._request_view, size, framer)
        finally:
            if self.progress is not None:
                self.progress()
        body = framer.buf
        if body[10] != 0:
            raise frame.refused(command, body[10])
        self.role = body[7]
        self.flags_a = body[_STATUS_A]
        self.flags_b = body[_STATUS_B]
        reading.set_flags(flags_from_status(body), FLAGS_KNOWN, self._clock.now_ms())
        return self._data[: framer.length - frame.HEADER_LEN - 1]

    def _ping(self, reading):
        reply = self._ask(reading, frame.CMD_PING)
        if frame.u16(reply, 2) != self._address:
            raise ReplyError("ping: meter reports address %d" % frame.u16(reply, 2))
        version = frame.u16(reply, 0)
        if self.generation == frame.GEN_UNKNOWN:
            self._learn_generation(reading, self.role)
        reading.model = MODELS[self.generation]
        if reading.firmware_version is None:
            reading.firmware_version = "0x%04x" % version

    def _learn_generation(self, reading, role):
        """Old meters have role < 0x32; for newer ones 0x30's board id tells transitional from
        new (§4.0). Sets the request forms to try first."""
        generation = frame.generation_from_role(role)
        if generation == frame.GEN_UNKNOWN:
            try:
                generation = frame.generation_from_board_id(self._ask(reading, frame.CMD_INFO)[0])
            except MeterRefused:
                pass
            if generation == frame.GEN_UNKNOWN:
                self.report("info: board id unknown, treating the meter as transitional")
                generation = frame.GEN_TRANSITIONAL
        self.generation = generation
        self._energy_form = _FORM_OLD if generation == frame.GEN_OLD else _FORM_NEW

    def _identity(self, reading):
        """Serial number and date of manufacture (0x0A), once per meter; meters made before 2015
        refuse it, and then both stay unknown."""
        try:
            reading.serial = frame.factory_string(self._ask(reading, frame.CMD_FACTORY_STRING, _FIELD_SERIAL), 31)
            reading.made = frame.factory_string(self._ask(reading, frame.CMD_FACTORY_STRING, _FIELD_MADE), 31)
        except MeterRefused as refusal:
            self.report("identity: %s; serial and date stay unknown" % refusal.what)
        self._identity_done = True

    def _may_ask(self, request):
        """Whether this poll asks for `request` (0: 0x05, 1: 0x2C, 2: 0x2B; call once a poll). Past
        REFUSALS_IN_A_ROW the count goes on with the polls that skip it; at the REPROBE_POLLS-th it
        is asked again, until an answer (back to 0) or a refusal (back to REFUSALS_IN_A_ROW)."""
        refused = self._refused
        if refused[request] < REFUSALS_IN_A_ROW or refused[request] == REFUSALS_IN_A_ROW + REPROBE_POLLS - 1:
            return True
        refused[request] += 1
        return False

    def _answered(self, request, answered):
        self._refused[request] = 0 if answered else min(self._refused[request] + 1, REFUSALS_IN_A_ROW)

    def _energy(self, reading):
        if not self._may_ask(0):
            return
        form = self._energy_form
        try:
            self._energy_in_form(reading, form)
        except MeterRefused as refusal:
            other = _FORM_NEW if form == _FORM_OLD else _FORM_OLD
            self.report("energy: %s; trying the other form" % refusal.what)
            try:
                self._energy_in_form(reading, other)
            except MeterRefused:
                self._answered(0, False)
                raise
            self._energy_form = other
        self._answered(0, True)

    def _energy_in_form(self, reading, form):
        """Registers that look wrong (tariffs not adding up to the sum, a register going backwards
        or growing faster than plausible.MAX_POWER_W allows, or the first read of a meter) are
        read a second time and published only if both replies agree byte for byte."""
        reply = self._ask_energy(reading, form)
        if self._energy_suspicious(reading, reply, form):
            first = bytes(reply)
            if bytes(self._ask_energy(reading, form)) != first:
                raise ReplyError("energy registers implausible and not confirmed by a second read")
        config, total_at, tariffs_at = _energy_layout(reply, form)
        now = self._clock.now_ms()
        for field in range(fields.TOTAL + 1):
            at = total_at if field == fields.TOTAL else tariffs_at + 4 * field
            reading.set(field, frame.energy_wh(frame.u32(reply, at), config), now)

    def _ask_energy(self, reading, form):
        if form == _FORM_OLD:
            return self._ask(reading, frame.CMD_ENERGY)
        return self._ask(reading, frame.CMD_ENERGY, _ENERGY_TYPE_ACTIVE_IMPORT)

    def _energy_suspicious(self, reading, reply, form):
        config, total_at, tariffs_at = _energy_layout(reply, form)
        tariffs_in_use = ((config >> 6) & 3) + 1
        tariff_sum = 0
        for tariff in range(tariffs_in_use):
            tariff_sum += frame.u32(reply, tariffs_at + 4 * tariff)
        if tariff_sum != frame.u32(reply, total_at):
            return True
        now = self._clock.now_ms()
        one_count_wh = frame.energy_wh(1, config)
        for field in range(fields.TOTAL + 1):
            at = total_at if field == fields.TOTAL else tariffs_at + 4 * field
            value = frame.energy_wh(frame.u32(reply, at), config)
            if plausible.energy_suspicious(reading, field, value, now, one_count_wh):
                return True
        return False

    def _battery(self, reading):
        reply = self._ask(reading, frame.CMD_BATTERY)
        percent = frame.battery_pct(reply[0], reply[1])
        if percent is None:
            raise ReplyError("%d months left of %d makes no sense" % (reply[1], reply[0]))
        reading.set(fields.BATTERY, percent, self._clock.now_ms())

    def _voltage(self, reading):
        reply = self._ask(reading, frame.CMD_VOLTAGE, _PHASE_1)
        _check_phase(reply)
        self._set_checked(reading, fields.VOLTAGE, frame.u16(reply, 1), plausible.MAX_VOLTAGE_CV)

    def _power(self, reading):
        """Old meters: u24 one-minute average, decimals of kW from the config byte after it."""
        reply = self._ask(reading, frame.CMD_POWER)
        self._set_checked(reading, fields.POWER, frame.power_cw(frame.u24(reply, 0), reply[3]), plausible.MAX_POWER_CW)

    def _current(self, reading):
        if not self._may_ask(1):
            return
        try:
            reply = self._ask(reading, frame.CMD_CURRENT, _PHASE_1)
        except MeterRefused:
            self._answered(1, False)  # some old meters lack 0x2C
            raise
        self._answered(1, True)
        _check_phase(reply)
        current = frame.u16(reply, 1) if len(reply) == 3 else frame.u24(reply, 1)
        self._set_checked(reading, fields.CURRENT, current, plausible.MAX_CURRENT_MA)

    def _instant(self, reading):
        """0x2B group 0: several values at once; refused (or taken to be lacking) -> 0x29 and 0x2C."""
        reply = None
        if self._may_ask(2):
            try:
                reply = self._ask(reading, frame.CMD_INSTANT, _INSTANT_GROUP_0)
            except MeterRefused as refusal:
                self.report("instant values: %s; falling back to 0x29/0x2C" % refusal.what)
            self._answered(2, reply is not None)
        if reply is None:
            self._voltage(reading)
            self._current(reading)
            return
        if reply[0] != 0:
            raise ReplyError("instant values: group %d, expected 0" % reply[0])
        if len(reply) == 30:  # new: P(3) in W at 5, voltage A at 15, current A (3 bytes) at 21
            self._set_checked(reading, fields.POWER, frame.u24(reply, 5) * 100, plausible.MAX_POWER_CW)
            self._set_checked(reading, fields.VOLTAGE, frame.u16(reply, 15), plausible.MAX_VOLTAGE_CV)
            self._set_checked(reading, fields.CURRENT, frame.u24(reply, 21), plausible.MAX_CURRENT_MA)
        else:  # transitional, 25 or 28 bytes: voltage A at 13, current A at 19 (2 or 3 bytes).
            # Its 2-byte power has no stated unit (§4.11): it is not published.
            self._set_checked(reading, fields.VOLTAGE, frame.u16(reply, 13), plausible.MAX_VOLTAGE_CV)
            current = frame.u16(reply, 19) if len(reply) == 25 else frame.u24(reply, 19)
            self._set_checked(reading, fields.CURRENT, current, plausible.MAX_CURRENT_MA)

    def _set_checked(self, reading, field, value, limit):
        if value > limit:
            raise ReplyError("%s %d is out of the plausible range (at most %d)" % (fields.FIELD_NAMES[field], value, limit))
        reading.set(field, value, self._clock.now_ms())


def _check_phase(reply):
    if reply[0] != 1:
        raise ReplyError("reply for phase %d, asked for phase 1" % reply[0])


def _energy_layout(reply, form):
    """(config byte, offset of the sum of the tariffs in use, offset of T1) of a 0x05 reply (§4.3)."""
    if form == _FORM_OLD:  # 26 bytes: sum, cfg, kd, role, factor(3), T1..T4
        return reply[4], 0, 10
    return reply[1], 10, 14  # 30 bytes: type, cfg, VT(2), CT(2), grand total, sum, T1..T4
