"""The neutral reading (kaskad.reading) and the family table (kaskad.meters)."""

import ast
import os
import sys

import pytest

from kaskad import meters
from kaskad.clock import TICKS_PERIOD
from kaskad.meters import plausible
from kaskad import reading as fields
from kaskad.reading import Reading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_value_reads_until_it_is_older_than_the_maximum_age():
    reading = Reading()
    assert reading.get(fields.VOLTAGE, 0, 1000) is None and not reading.is_stale(fields.VOLTAGE, 0, 1000)
    reading.set(fields.VOLTAGE, 23010, 5000)
    assert reading.get(fields.VOLTAGE, 6000, 1000) == 23010
    assert reading.get(fields.VOLTAGE, 6001, 1000) is None and reading.is_stale(fields.VOLTAGE, 6001, 1000)


def test_forget_clears_in_place_and_keeps_the_address():
    reading = Reading()
    values, confirmed = reading.values, reading.confirmed_ms
    reading.address = 32580
    reading.set(fields.TOTAL, 1, 1)
    reading.serial, reading.made, reading.model = "1", "2021-03-15", "x"
    reading.set_flags(fields.FLAG_BATTERY_LOW, fields.FLAG_BATTERY_LOW, 1)
    reading.forget()
    assert reading.values is values and reading.confirmed_ms is confirmed
    assert values == [None] * fields.FIELD_COUNT and confirmed == [None] * fields.FIELD_COUNT
    assert (reading.serial, reading.made, reading.model, reading.flags_known) == (None, None, None, 0)
    assert reading.address == 32580


def test_a_flag_the_meter_does_not_report_is_unknown_not_false():
    reading = Reading()
    reading.set_flags(fields.FLAG_BATTERY_LOW | fields.FLAG_RELAY_OFF, fields.FLAG_BATTERY_LOW, 100)
    assert reading.flag(fields.FLAG_BATTERY_LOW, 100, 10) is True
    assert reading.flag(fields.FLAG_RELAY_OFF, 100, 10) is None
    assert reading.flag_bits == fields.FLAG_BATTERY_LOW
    assert reading.flag(fields.FLAG_BATTERY_LOW, 111, 10) is None  # stale


def test_flags_are_distinct_bits_with_names():
    bits = [bit for bit, _ in fields.FLAG_NAMES]
    assert all(bit and bit & (bit - 1) == 0 for bit in bits) and len(set(bits)) == len(bits)
    assert len(fields.FIELD_NAMES) == fields.FIELD_COUNT


def test_the_meters_package_imports_no_family():
    path = os.path.join(ROOT, "lib", "kaskad", "meters", "__init__.py")
    tree = ast.parse(open(path).read())
    imported = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    families = {package for _, package in meters.FAMILIES}
    assert not [n for n in imported if any(f in ast.dump(n) for f in families)]


def test_load_imports_only_the_family_named():
    for _, package in meters.FAMILIES:
        sys.modules.pop("kaskad.meters." + package, None)
    family = meters.load("mercury-206")
    assert family.NAME == "mercury-206" and family.BAUD == 9600
    assert "kaskad.meters.ce_102m" not in sys.modules and "kaskad.meters.kaskad_11_c1" not in sys.modules
    with pytest.raises(ValueError, match="kaskad-1-mt, kaskad-11-c1, mercury-206, ce-102m"):
        meters.load("mercury-230")


# --- ticks ms wrap at 2**29 on the board (kaskad.clock): ages go through ticks_diff ---------------

NEAR_WRAP = TICKS_PERIOD - 10  # 10 ms before supervisor.ticks_ms wraps to 0


def test_a_value_stays_fresh_across_the_ticks_wrap_and_goes_stale_for_good():
    reading = Reading()
    reading.set(fields.VOLTAGE, 23010, NEAR_WRAP)
    assert reading.age_ms(fields.VOLTAGE, 5, 30_000) == 15  # 15 ms later, across the wrap
    assert reading.get(fields.VOLTAGE, 5, 30_000) == 23010
    assert reading.get(fields.VOLTAGE, 30_000, 30_000) is None  # 30.01 s later
    assert reading.is_stale(fields.VOLTAGE, 30_000, 30_000)
    # a time that would look fresh again (2**29 ms on: the same ticks) stays stale: forgotten
    assert reading.get(fields.VOLTAGE, 5, 30_000) is None and reading.confirmed_ms[fields.VOLTAGE] is None


def test_a_confirmation_far_in_the_past_is_never_taken_for_a_fresh_one():
    reading = Reading()
    reading.set(fields.TOTAL, 1, 100)
    now = 100 + (1 << 28)  # 3.1 days on: ticks_diff says -2**28, not a small age
    assert reading.get(fields.TOTAL, now, 30_000) is None and reading.is_stale(fields.TOTAL, now, 30_000)


def test_the_flags_go_stale_across_the_ticks_wrap():
    reading = Reading()
    reading.set_flags(fields.FLAG_MAGNET_AC, fields.FLAG_MAGNET_AC | fields.FLAG_EMERGENCY, NEAR_WRAP)
    assert reading.flags(5, 30_000) and reading.flag(fields.FLAG_MAGNET_AC, 5, 30_000) is True
    assert reading.flag(fields.FLAG_EMERGENCY, 5, 30_000) is False
    assert not reading.flags(100_000, 30_000)  # 100 s later, across the wrap
    assert not reading.flags(20, 30_000)  # and for good
    assert reading.flag(fields.FLAG_MAGNET_AC, 20, 30_000) is None


def test_one_value_gone_stale_makes_the_meter_silent_even_after_it_was_forgotten():
    # a stale field's confirmation time is forgotten (it must never look fresh after a ticks
    # wrap); the meter is still silent for Home Assistant's problem sensor
    reading = Reading()
    assert reading.silent(0, 30_000)  # never heard
    reading.set(fields.VOLTAGE, 23000, NEAR_WRAP)
    reading.set(fields.CURRENT, 1000, 50_000)
    assert not reading.silent(20, 60_000)
    assert reading.get(fields.VOLTAGE, 40_000, 30_000) is None  # stale, forgotten
    assert reading.silent(40_000, 30_000)
    reading.set(fields.VOLTAGE, 23000, 40_000)  # a good poll confirms it again
    assert not reading.silent(40_001, 30_000)


def test_forget_clears_staleness_too():
    reading = Reading()
    reading.set(fields.VOLTAGE, 1, 0)
    assert reading.is_stale(fields.VOLTAGE, 50_000, 1000)
    reading.forget()
    assert not reading.is_stale(fields.VOLTAGE, 50_000, 1000) and reading.stale == [False] * fields.FIELD_COUNT


def test_energy_growth_is_bounded_across_the_ticks_wrap():
    reading = Reading()
    reading.set(fields.TOTAL, 1_000_000, NEAR_WRAP)
    now = 60_000 - 10  # one minute later, across the wrap: 60 kW allows 1000 Wh
    assert not plausible.energy_suspicious(reading, fields.TOTAL, 1_000_900, now, 1)
    assert plausible.energy_suspicious(reading, fields.TOTAL, 1_002_000, now, 1)
    assert plausible.energy_suspicious(reading, fields.TOTAL, 999_999, now, 1)  # backwards
