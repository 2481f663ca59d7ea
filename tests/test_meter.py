"""The meter client against the independent meter model: every generation, every decimal point,
fallbacks, staleness, address changes, and the audit of every byte that left the board."""

import random

import pytest

from kaskad import meter, mirtek
from kaskad_sim.frame import decode_frame
from kaskad_sim.meter import SimMeter
from rig import Rig, expected_from

MINUTE_MS = 60_000


def published(rig, max_age_ms=5 * MINUTE_MS):
    now = rig.clock.now_ms()
    return [rig.client.reading.get(field, now, max_age_ms) for field in range(meter.FIELD_COUNT)]


@pytest.mark.parametrize("decimals", [0, 1, 2, 3])
def test_old_generation_poll_in_fixed_units(decimals):
    rig = Rig(decimals=decimals, tariffs_raw=(987654321, 12345, 1, 0), power_raw=5 * 10**decimals + 3)
    assert rig.client.poll(), rig.errors
    assert published(rig) == expected_from(rig.meter)
    reading = rig.client.reading
    assert reading.serial == "3171112520109" and reading.made == "04.10.2017"
    assert reading.generation == mirtek.GEN_OLD


@pytest.mark.parametrize("generation", ["transitional", "new"])
def test_newer_generations_use_their_forms(generation):
    rig = Rig(generation=generation, current_3byte=True, current_raw=70123, power_raw=4321)
    assert rig.client.poll(), rig.errors
    assert published(rig) == expected_from(rig.meter)
    commands = [(c, d) for _, c, d in rig.sent_commands()]
    assert (mirtek.CMD_ENERGY, b"\x00") in commands and (mirtek.CMD_INSTANT, b"\x00") in commands
    assert (mirtek.CMD_POWER, b"") not in commands  # 0x2D means something else on these meters
    assert rig.client.reading.generation == (mirtek.GEN_NEW if generation == "new" else mirtek.GEN_TRANSITIONAL)


def test_instant_values_refused_fall_back_to_voltage_and_current():
    rig = Rig(generation="new", supports_instant=False)
    assert rig.client.poll(), rig.errors  # every value still arrived
    values = published(rig)
    assert values[meter.VOLTAGE] == rig.meter.voltage_raw and values[meter.CURRENT] == rig.meter.current_raw
    assert any("falling back" in line for line in rig.errors)
    rig.errors.clear()
    assert rig.client.poll(), rig.errors  # later polls go straight to the fallback
    assert (mirtek.CMD_INSTANT, b"\x00") not in [(c, d) for _, c, d in rig.sent_commands()[-6:]]


def test_the_current_2_and_3_byte_forms():
    rig = Rig(current_3byte=True, current_raw=100_000)  # 100 A needs the third byte
    assert rig.client.poll(), rig.errors
    assert published(rig)[meter.CURRENT] == 100_000


def test_a_meter_without_factory_strings_is_asked_once():
    rig = Rig(supports_factory_strings=False)
    rig.client.poll()
    rig.client.poll()
    reading = rig.client.reading
    assert reading.serial is None and reading.made is None
    asks = [c for _, c, _ in rig.sent_commands() if c == mirtek.CMD_FACTORY_STRING]
    assert len(asks) == 1
    assert published(rig)[meter.TOTAL] is not None


def test_identity_is_read_once_and_again_after_an_address_change():
    rig = Rig()
    rig.client.poll()
    rig.client.poll()
    assert [c for _, c, _ in rig.sent_commands()].count(mirtek.CMD_FACTORY_STRING) == 2
    rig.meter.address = 7943
    rig.meter.serial = "3171112507943"
    rig.client.address = 7943
    assert published(rig)[meter.TOTAL] is None  # values of the old meter are gone at once
    assert rig.client.poll(), rig.errors
    assert rig.client.reading.serial == "3171112507943"
    assert rig.sent_commands()[-1][0] == 7943


def test_a_silent_meter_keeps_the_last_values_until_they_are_too_old():
    rig = Rig()
    assert rig.client.poll()
    good = published(rig)
    rig.meter.persistent_fault = "silent"
    rig.vclock.advance_to(rig.vclock.now_ns() + 2 * MINUTE_MS * 1_000_000)
    assert not rig.client.poll()
    assert published(rig) == good  # kept, with their age
    assert len(rig.errors) == 1 and "ping" in rig.errors[0] and "timeout" in rig.errors[0]
    rig.vclock.advance_to(rig.vclock.now_ns() + 4 * MINUTE_MS * 1_000_000)
    assert published(rig) == [None] * meter.FIELD_COUNT  # stale past the maximum age
    now = rig.clock.now_ms()
    assert all(rig.client.reading.is_stale(f, now, 5 * MINUTE_MS) for f in range(meter.FIELD_COUNT))


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
    rig.client.poll()
    first = rig.clock.now_ms()
    rig.meter.__class__ = CorruptVoltageMeter
    rig.meter.voltage_raw = 23456
    rig.meter.battery_remaining_months = 96
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    assert not rig.client.poll()
    reading = rig.client.reading
    assert published(rig)[meter.VOLTAGE] == 22987  # the last confirmed value, not the new one
    assert reading.confirmed_ms[meter.VOLTAGE] < first
    assert published(rig)[meter.BATTERY] == 50 and reading.confirmed_ms[meter.BATTERY] > first
    assert len(rig.errors) == 1 and rig.errors[0].startswith("voltage: CRC mismatch")


def test_status_flags_of_every_reply_are_kept():
    rig = Rig(flags_a=0b0010_0010, flags_b=0b0010_0000)  # M2 alternating field, P1 terminal seal, ND
    rig.client.poll()
    reading = rig.client.reading
    names = {name for name, index, bit in mirtek.FLAGS
             if (reading.flags_a if index == 1 else reading.flags_b) >> bit & 1}
    assert names == {"magnet_ac", "seal_terminal_open", "emergency"}


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
            rig.client.address = rig.meter.address
        if poll % 131 == 130:
            rig.meter.supports_instant = not rig.meter.supports_instant
        rig.client.poll()
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
    assert rig.client.poll()
    good = published(rig)
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    rig.meter.glitches = 1
    assert not rig.client.poll()
    assert published(rig) == good
    assert any("not confirmed" in line for line in rig.errors)


def test_a_wrong_first_energy_read_is_not_published():
    rig = Rig(meter_class=GlitchingMeter)
    rig.meter.glitches = 1
    rig.client.poll()
    assert published(rig)[: meter.TOTAL + 1] == [None] * 5
    assert rig.client.poll(), rig.errors  # the next poll reads, confirms and publishes
    assert published(rig) == expected_from(rig.meter)


def test_a_genuine_jump_is_confirmed_and_published():
    rig = Rig()
    rig.client.poll()
    rig.meter.tariffs_raw = [1, 2, 3, 4]  # a replaced meter at the same address: registers went back
    rig.meter.tariffs_in_use = 4
    assert rig.client.poll(), rig.errors
    assert published(rig)[: meter.TOTAL + 1] == [10, 20, 30, 40, 100]


def test_normal_growth_needs_no_second_read():
    rig = Rig(power_raw=300)  # 3 kW
    rig.client.poll()
    before = len(rig.sent_commands())
    rig.vclock.advance_to(rig.vclock.now_ns() + MINUTE_MS * 1_000_000)
    rig.meter.tariffs_raw[0] += 5  # 50 Wh in a minute: 3 kW
    assert rig.client.poll(), rig.errors
    energy_reads = [c for _, c, _ in rig.sent_commands()[before:] if c == mirtek.CMD_ENERGY]
    assert energy_reads == [mirtek.CMD_ENERGY]


def test_implausible_instant_values_are_refused():
    rig = Rig(voltage_raw=60000)  # 600 V
    assert not rig.client.poll()
    assert published(rig)[meter.VOLTAGE] is None
    assert any(line == "voltage: voltage_cv 60000 is out of the plausible range (at most 50000)" for line in rig.errors)


def test_one_value_gone_stale_makes_the_meter_silent_even_after_it_was_forgotten():
    # a stale field's confirmation time is forgotten (it must never look fresh after a ticks
    # wrap); the meter is still silent for Home Assistant's problem sensor
    reading = meter.Reading()
    reading.set(meter.VOLTAGE, 23000, 0)
    reading.set(meter.CURRENT, 1000, 50_000)
    assert reading.get(meter.VOLTAGE, 40_000, 30_000) is None  # stale, forgotten
    assert reading.silent(40_000, 30_000)


def test_the_flags_go_stale_across_the_ticks_wrap():
    from kaskad.clock import TICKS_PERIOD
    reading = meter.Reading()
    reading.flags_a, reading.flags_b, reading.flags_ms = 0x02, 0, TICKS_PERIOD - 10
    assert reading.flags(5, 30_000)  # 15 ms later, across the wrap
    assert not reading.flags(100_000, 30_000)  # 100 s later, across the wrap
    assert not reading.flags(20, 30_000)  # and for good


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
    assert not rig.client.poll()
    assert any("ping: meter reports address 20110" in line for line in rig.errors), rig.errors
    assert published(rig) == [None] * meter.FIELD_COUNT
    assert [command for _, command, _ in rig.sent_commands()] == [mirtek.CMD_PING]  # nothing else asked


def test_a_meter_at_another_address_gets_a_hint_and_no_other_request():
    rig = Rig(address=20109)
    rig.client.address = 20110
    assert not rig.client.poll()
    assert len(rig.errors) == 1
    assert "no meter answers at address 20110; check KASKAD_METER_ADDRESS against the ID-xxxxx" in rig.errors[0]
