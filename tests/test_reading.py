"""The neutral reading (kaskad.reading) and the family table (kaskad.meters)."""

import ast
import os
import sys

import pytest

from kaskad import meters
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
    assert reading.flags == fields.FLAG_BATTERY_LOW
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
    with pytest.raises(ValueError, match="kaskad-11-c1, mercury-206, ce-102m"):
        meters.load("mercury-230")
