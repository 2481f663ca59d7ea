"""The KASKAD-1-MT family's client (kaskad.meters.kaskad_1_mt) against the independent meter model
(host/kaskad_sim/meter.py): every generation, every decimal point, fallbacks, staleness, address
changes, flags by meaning, and the audit of every byte that left the board."""

import random

import pytest

from kaskad import reading as fields
from kaskad.meters import RefusedCommand
from kaskad.meters.kaskad_1_mt import frame as mirtek
from kaskad.meters.kaskad_1_mt.meter import REFUSALS_IN_A_ROW
from kaskad.reading import Reading
from kaskad_sim.frame import decode_frame
from kaskad_sim.meter import SimMeter
from family_rig import refuse
from rig import Rig, expected_reading

MINUTE_MS = 60_000


def published(rig, max_age_ms=5 * MINUTE_MS):
    now = rig.clock.now_ms()
    return [rig.reading.get(field, now, max_age_ms) for field in range(fields.FIELD_COUNT)]


@pytest.mark.parametrize("decimals", [0, 1, 2, 3])
def test_old_generation_poll_in_fixed_units(decimals):
    rig = Rig(decimals=decimals, tariffs_raw=(987654321, 12345, 1, 0), power_raw=5 * 10**decimals + 3)
    assert rig.poll(), rig.errors
    assert published(rig) == expected_reading(rig.meter)
    reading = rig.reading
    assert reading.serial == "3171112520109" and reading.made == "04.10.2017"
    assert reading.model == "KASKAD-1-MT (old)" and rig.client.generation == mirtek.GEN_OLD
    assert reading.firmware_version == "0x%04x" % rig.meter.firmware_version


@pytest.mark.parametrize("generation", ["transitional", "new"])
def test_newer_generations_use_their_forms(generation):
    rig = Rig(generation=generation, current_3byte=True, current_raw=70123, power_raw=4321)
    assert rig.poll(), rig.errors
    assert published(rig) == expected_reading(rig.meter)
    commands = [(c, d) for _, c, d in rig.sent_commands()]
    assert (mirtek.CMD_ENERGY, b"\x00") in commands and (mirtek.CMD_INSTANT, b"\x00") in commands
    assert (mirtek.CMD_POWER, b"") not in commands  # 0x2D means something else on these meters
    assert rig.reading.model == "KASKAD-1-MT (%s)" % generation


def test_instant_values_refused_fall_back_to_voltage_and_current():
    rig = Rig(generation="new", supports_instant=False)
    assert rig.poll(), rig.errors  # every value still arrived
    values = published(rig)
    assert values[fields.VOLTAGE] == rig.meter.voltage_raw and values[fields.CURRENT] == rig.meter.current_raw
    assert any("falling back" in line for line in rig.errors)
    for _ in range(REFUSALS_IN_A_ROW - 1):  # refused in this many polls in a row: taken to be lacking
        rig.poll()
    rig.errors.clear()
    sent = len(rig.sent_commands())
    assert rig.poll(), rig.errors  # later polls go straight to the fallback
    assert (mirtek.CMD_INSTANT, b"\x00") not in [(c, d) for _, c, d in rig.sent_commands()[sent:]]


def command_is(command):
    return lambda request: decode_frame(request).command == command


def test_two_refused_energy_replies_do_not_end_energy_readings():
    rig = Rig()
    assert rig.poll(), rig.errors
    both = [True, True]
    refused = refuse(rig.meter, lambda request: command_is(mirtek.CMD_ENERGY)(request) and both and both.pop())
    assert not rig.poll()  # both request forms refused once
    assert len(refused) == 2
    for _ in range(3):
        rig.meter.tariffs_raw[0] += 2
        assert rig.poll(), rig.errors
        assert published(rig)[: fields.TOTAL + 1] == expected_reading(rig.meter)[: fields.TOTAL + 1]


@pytest.mark.parametrize("command, field", [(mirtek.CMD_ENERGY, fields.ENERGY_T1), (mirtek.CMD_CURRENT, fields.CURRENT)],
                         ids=["energy", "current"])
def test_a_request_the_meter_refuses_is_asked_now_and_then_and_its_value_comes_back(command, field):
    rig = Rig()
    lacking = [True]
    refused = refuse(rig.meter, lambda request: command_is(command)(request) and lacking[0])
    polls = 64
    for _ in range(polls):
        rig.poll()
    asked = len(refused) // (2 if command == mirtek.CMD_ENERGY else 1)  # energy: both forms a poll
    assert asked <= polls // 8, "asked in %d of %d polls" % (asked, polls)
    lacking[0] = False  # the meter answers it again (a restart, a line that healed)
    for waited in range(1, 101):
        rig.meter.tariffs_raw[0] += 2
        rig.meter.current_raw += 1
        rig.poll()
        if published(rig)[field] == expected_reading(rig.meter)[field]:
            break
    assert waited <= 20, "came back after %d polls" % waited


def test_one_refused_instant_reply_does_not_end_the_new_meters_power():
    rig = Rig(generation="new")
    assert rig.poll(), rig.errors
    once = [True]
    refuse(rig.meter, lambda request: command_is(mirtek.CMD_INSTANT)(request) and once and once.pop())
    assert rig.poll(), rig.errors  # voltage and current from 0x29/0x2C this time
    rig.meter.power_raw += 7
    assert rig.poll(), rig.errors
    assert published(rig)[fields.POWER] == expected_reading(rig.meter)[fields.POWER]


def test_the_current_2_and_3_byte_forms():
    rig = Rig(current_3byte=True, current_raw=100_000)  # 100 A needs the third byte
    assert rig.poll(), rig.errors
    assert published(rig)[fields.CURRENT] == 100_000


def test_a_meter_without_factory_strings_is_asked_once():
    rig = Rig(supports_factory_strings=False)
    rig.poll()
    rig.poll()
    reading = rig.reading
    assert reading.serial is None and reading.made is None
    asks = [c for _, c, _ in rig.sent_commands() if c == mirtek.CMD_FACTORY_STRING]
    assert len(asks) == 1
    assert published(rig)[fields.TOTAL] is not None


def test_identity_is_read_once_and_again_after_an_address_change():
    rig = Rig()
    rig.poll()
    rig.poll()
    assert [c for _, c, _ in rig.sent_commands()].count(mirtek.CMD_FACTORY_STRING) == 2
    rig.meter.address = 7943
    rig.meter.serial = "3171112507943"
    rig.readdress(7943)
    assert published(rig)[fields.TOTAL] is None  # values of the old meter are gone at once
    assert rig.poll(), rig.errors
    assert rig.reading.serial == "3171112507943"
    assert rig.sent_commands()[-1][0] == 7943


def test_a_silent_meter_keeps_the_last_values_until_they_are_too_old():
    rig = Rig()
    assert rig.poll()
    good = published(rig)
    rig.meter.persistent_fault = "silent"
    rig.vclock.advance_to(rig.vclock.now_ns() + 2 * MINUTE_MS * 1_000_000)
    assert not rig.poll()
    assert published(rig) == good  # kept, with their age
    assert len(rig.errors) == 1 and "ping" in rig.errors[0] and "timeout" in rig.errors[0]
    rig.vclock.advance_to(rig.vclock.now_ns() + 4 * MINUTE_MS * 1_000_000)
    assert published(rig) == [None] * fields.FIELD_COUNT  # stale past the maximum age
    now = rig.clock.now_ms()
    assert [f for f in range(fields.FIELD_COUNT) if not rig.reading.is_stale(f, now, 5 * MINUTE_MS)] == [
        fields.APPARENT_POWER]  # never given by this meter: unknown, not stale


class CorruptVoltageMeter(SimMeter):
    """Answers every voltage request with a bad CRC, everything else correctly."""

    def handle_frame(self, wire):
        try:
            if decode_frame(wire).command == mirtek.CMD_VOLTAGE:
                self.inject("bad_crc")
        except ValueError:
            pass
        return super().handle_frame(wire)


def test_a_failed_step_keeps_only_that_field_old():
    rig = Rig()
    rig.poll()
    first = rig.clock.now_ms()
    rig.meter.__class__ = CorruptVoltageMeter
    rig.meter.voltage_raw = 23456
    rig.meter.battery_remaining_months = 96
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    assert not rig.poll()
    reading = rig.reading
    assert published(rig)[fields.VOLTAGE] == 22987  # the last confirmed value, not the new one
    assert reading.confirmed_ms[fields.VOLTAGE] < first
    assert published(rig)[fields.BATTERY] == 50 and reading.confirmed_ms[fields.BATTERY] > first
    assert len(rig.errors) == 1 and rig.errors[0].startswith("voltage: no valid reply: CRC mismatch")


# The meter model's status bits (mirtek.md §3, written out here from the document, not from the
# family's table): byte A  W SY M2 M1 P3 P2 P1 JL,  byte B  N AR ND IN R2 R1 R0 J.
A_P1, A_P2, A_P3, A_M1, A_M2 = 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5
A_OTHERS = 1 << 7 | 1 << 6 | 1 << 0  # W, SY, JL: no meaning in kaskad.reading
B_N, B_ND, B_R2, B_R1, B_R0 = 1 << 7, 1 << 5, 1 << 3, 1 << 2, 1 << 1
B_OTHERS = 1 << 6 | 1 << 4 | 1 << 2 | 1 << 0  # AR, IN, R1, J


def flags_seen(rig):
    reading = rig.reading
    assert reading.flags(rig.clock.now_ms(), MINUTE_MS)
    return {name for bit, name in fields.FLAG_NAMES if reading.flag(bit, rig.clock.now_ms(), MINUTE_MS)}


@pytest.mark.parametrize("flags_a,flags_b,names", [
    (A_M2 | A_P1, B_ND, {"magnet_ac", "seal_terminal_open", "emergency"}),
    (A_P2 | A_P3 | A_M1, B_N, {"seal_case_open", "seal_module_open", "magnet_dc", "imbalance"}),
    (A_OTHERS, B_OTHERS, set()),  # the bits without a meaning publish nothing
    (0, B_R0 | B_R2, {"relay_off"}),  # a relay is fitted, and it is open
    (0, B_R2, set()),  # no relay fitted: nothing can be cut off
])
def test_status_flags_are_published_by_meaning(flags_a, flags_b, names):
    rig = Rig(flags_a=flags_a, flags_b=flags_b)
    assert rig.poll(), rig.errors
    assert flags_seen(rig) == names
    now = rig.clock.now_ms()
    # what the MIRTEK status says nothing about is unknown, not clear
    assert rig.reading.flag(fields.FLAG_BATTERY_LOW, now, MINUTE_MS) is None
    assert rig.reading.flag(fields.FLAG_METER_ERROR, now, MINUTE_MS) is None
    assert rig.reading.flag(fields.FLAG_MAGNET_DC, now, MINUTE_MS) is ("magnet_dc" in names)


def test_the_flags_follow_the_last_reply():
    rig = Rig(flags_a=A_M1)
    rig.poll()
    rig.meter.flags_a = 0
    rig.poll()
    assert flags_seen(rig) == set()


def test_only_allowlisted_commands_ever_leave_the_board():
    """A long run with random faults, meter swaps and generations: every frame the board sent,
    decoded by the meter model's own parser, is an allowlisted read with no broadcast."""
    rng = random.Random(7)
    rig = Rig()
    generations = {"old": 0x30, "transitional": 0x90, "new": 0x90}
    faults = ["silent", "bad_crc", "noise", "error_status", "wrong_command", "truncated", "split", None]
    for poll in range(400):
        fault = rng.choice(faults)
        if fault:
            rig.meter.inject(fault, times=rng.randint(1, 3))
        if poll % 97 == 96:  # another meter, perhaps of another generation
            rig.meter.generation = rng.choice(sorted(generations))
            rig.meter.role = generations[rig.meter.generation]
            rig.meter.address = rng.randint(1, 65534)
            rig.readdress(rig.meter.address)
        if poll % 131 == 130:
            rig.meter.supports_instant = not rig.meter.supports_instant
        rig.poll()
        rig.vclock.advance_to(rig.vclock.now_ns() + 60_000_000_000)
    sent = rig.sent_commands()
    assert len(sent) > 1500
    assert {c for _, c, _ in sent} >= {0x01, 0x05, 0x0A, 0x1E, 0x29, 0x2B, 0x2C, 0x2D, 0x30}
    for dst, command, data in sent:
        assert 1 <= dst <= 65534
        assert len(data) in mirtek.READ_ONLY[command]
    assert rig.meter.forbidden == []


class GlitchingMeter(SimMeter):
    """Sends one energy reply whose T4 register is wrong but whose frame is perfectly valid,
    as a noisy line does once in a few hundred multi-bit errors."""

    glitches = 0

    def handle_frame(self, wire):
        try:
            glitch = self.glitches and decode_frame(wire).command == mirtek.CMD_ENERGY
        except ValueError:
            glitch = False
        if not glitch:
            return super().handle_frame(wire)
        self.glitches -= 1
        saved = list(self.tariffs_raw)
        self.tariffs_raw[3] ^= 1 << 20
        try:
            return super().handle_frame(wire)
        finally:
            self.tariffs_raw = saved


def test_a_valid_looking_but_wrong_energy_reply_is_not_published():
    rig = Rig(meter_class=GlitchingMeter)
    assert rig.poll()
    good = published(rig)
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    rig.meter.glitches = 1
    assert not rig.poll()
    assert published(rig) == good
    assert any("not confirmed" in line for line in rig.errors)


def test_a_wrong_first_energy_read_is_not_published():
    rig = Rig(meter_class=GlitchingMeter)
    rig.meter.glitches = 1
    rig.poll()
    assert published(rig)[: fields.TOTAL + 1] == [None] * 5
    assert rig.poll(), rig.errors  # the next poll reads, confirms and publishes
    assert published(rig) == expected_reading(rig.meter)


def test_a_genuine_jump_is_confirmed_and_published():
    rig = Rig()
    rig.poll()
    rig.meter.tariffs_raw = [1, 2, 3, 4]  # a replaced meter at the same address: registers went back
    rig.meter.tariffs_in_use = 4
    assert rig.poll(), rig.errors
    assert published(rig)[: fields.TOTAL + 1] == [10, 20, 30, 40, 100]


def test_normal_growth_needs_no_second_read():
    rig = Rig(power_raw=300)  # 3 kW
    rig.poll()
    before = len(rig.sent_commands())
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    rig.meter.tariffs_raw[0] += 5  # 50 Wh in a minute: 3 kW
    assert rig.poll(), rig.errors
    energy_reads = [c for _, c, _ in rig.sent_commands()[before:] if c == mirtek.CMD_ENERGY]
    assert energy_reads == [mirtek.CMD_ENERGY]


def test_implausible_instant_values_are_refused():
    rig = Rig(voltage_raw=60000)  # 600 V
    assert not rig.poll()
    assert published(rig)[fields.VOLTAGE] is None
    assert any(line == "voltage: voltage_cv 60000 is out of the plausible range (at most 50000)" for line in rig.errors)


class ElsewhereMeter(SimMeter):
    """Answers from the right address, but its ping says it is another meter (a repeater, a
    second meter on the same optical head): what it reports is not this meter's."""

    def _ping_elsewhere(self, data):
        reply = SimMeter._ping(self, data)
        return reply[:2] + (self.address + 1).to_bytes(2, "little")

    _HANDLERS = dict(SimMeter._HANDLERS)
    _HANDLERS[mirtek.CMD_PING] = _ping_elsewhere


def test_a_ping_reply_naming_another_address_fails_the_poll_and_publishes_nothing():
    rig = Rig(meter_class=ElsewhereMeter)
    assert not rig.poll()
    assert any("ping: meter reports address 20110" in line for line in rig.errors), rig.errors
    assert published(rig) == [None] * fields.FIELD_COUNT
    assert [command for _, command, _ in rig.sent_commands()] == [mirtek.CMD_PING]  # nothing else asked


def test_a_meter_at_another_address_gets_a_hint_and_no_other_request():
    rig = Rig(address=20109)
    rig.readdress(20110)
    assert not rig.poll()
    assert len(rig.errors) == 1
    assert "no meter answers at address 20110; check KASKAD_METER_ADDRESS against the ID-xxxxx" in rig.errors[0]


def test_a_refused_address_is_refused_when_set_not_at_the_first_poll():
    rig = Rig()
    for address in (0, 0xFFFF):
        with pytest.raises(RefusedCommand):
            rig.client.address = address
    assert rig.wire.tx_log == []


def test_identify_reads_the_generation_and_identity_without_a_poll():
    rig = Rig(generation="new")
    reading = Reading()
    assert rig.client.identify(reading), rig.errors
    assert reading.model == "KASKAD-1-MT (new)" and reading.serial == rig.meter.serial
    assert reading.made == rig.meter.made and reading.get(fields.TOTAL, rig.clock.now_ms(), MINUTE_MS) is None


def test_progress_is_called_after_every_exchange():
    rig = Rig()
    calls = []
    rig.client.progress = lambda: calls.append(rig.link.exchanges)
    assert rig.poll()
    assert calls == list(range(1, rig.link.exchanges + 1)) and len(calls) >= 7
    rig.meter.persistent_fault = "silent"
    calls.clear()
    assert not rig.poll()
    assert len(calls) == 1  # the unanswered ping: the poll stops there


class SumGlitchMeter(SimMeter):
    """Sends one energy reply whose sum register is a count higher than its tariffs add up to,
    in a perfectly valid frame: a growth the limit alone would let through."""

    glitches = 0

    def _sum_in_use(self):
        total = SimMeter._sum_in_use(self)
        if not self.glitches:
            return total
        self.glitches -= 1
        return (int.from_bytes(total, "little") + 1).to_bytes(4, "little")


def test_tariffs_that_do_not_add_up_to_the_sum_are_not_published():
    rig = Rig(meter_class=SumGlitchMeter)
    assert rig.poll(), rig.errors
    good = published(rig)
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    rig.meter.glitches = 1  # the first read is glitched, the confirming read is not: they differ
    assert not rig.poll()
    assert published(rig)[: fields.TOTAL + 1] == good[: fields.TOTAL + 1]
    assert any("not confirmed" in line for line in rig.errors), rig.errors


def test_a_battery_reply_that_makes_no_sense_keeps_the_last_percentage():
    rig = Rig()
    assert rig.poll(), rig.errors
    good = published(rig)[fields.BATTERY]
    rig.meter.battery_remaining_months = rig.meter.battery_total_months + 1
    assert not rig.poll()
    assert published(rig)[fields.BATTERY] == good
    assert any(line.startswith("battery: %d months left of %d makes no sense" % (
        rig.meter.battery_remaining_months, rig.meter.battery_total_months)) for line in rig.errors), rig.errors
