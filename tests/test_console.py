"""The console's lines: integers shown as decimals without floats, flags and staleness said."""

from fractions import Fraction

from hypothesis import given, strategies as st

from kaskad import console, reading as fields


@given(st.integers(-10**12, 10**12), st.integers(0, 3))
def test_fixed_point_text_is_exact(value, places):
    text = console.fixed(value, places)
    assert Fraction(text) == Fraction(value, 10 ** places)
    if places:
        assert len(text.split(".")[1]) == places


def test_fixed_point_examples():
    assert console.fixed(22987, 2) == "229.87"
    assert console.fixed(5, 3) == "0.005"
    assert console.fixed(-1, 2) == "-0.01"
    assert console.fixed(None, 2) == "?"


def test_a_reading_line_names_flags_and_stale_fields(capsys):
    reading = fields.Reading()
    reading.family, reading.address, reading.model = "kaskad-1-mt", 20109, "KASKAD-1-MT (old)"
    reading.set(fields.VOLTAGE, 23001, 0)
    reading.set(fields.BATTERY, 96, 100_000)
    reading.set_flags(fields.FLAG_MAGNET_AC, fields.FLAG_MAGNET_AC | fields.FLAG_SEAL_CASE_OPEN, 100_000)
    console.TextSink().reading(100_000, 100_000, reading, 60_000, range(fields.FIELD_COUNT))
    line = capsys.readouterr().out
    assert "meter kaskad-1-mt 20109 (KASKAD-1-MT (old))" in line
    assert "? V" in line  # 100 s old with a 60 s limit: not shown
    assert "battery 96 %" in line
    assert "flags: magnet_ac" in line
    assert "stale: voltage_cv" in line


def test_what_the_meter_does_not_offer_is_left_out_of_the_line(capsys):
    reading = fields.Reading()
    reading.family = "ce-102m"
    reading.set(fields.TOTAL, 1234567, 0)
    reading.set(fields.POWER, 12345, 0)
    reading.set_flags(fields.FLAG_BATTERY_LOW, fields.FLAG_BATTERY_LOW | fields.FLAG_METER_ERROR, 0)
    console.TextSink().reading(0, 0, reading, 60_000, range(fields.FIELD_COUNT))
    line = capsys.readouterr().out
    assert "meter ce-102m - (?): total 1234.567 kWh 123.45 W | flags: battery_low" in line
    for absent in ("T1", " V ", " A ", "battery ", "VA", "?"[:0] + "stale"):
        assert absent not in line.split("(?)")[1], absent
    reading.forget()
    console.TextSink().reading(0, 0, reading, 60_000, range(fields.FIELD_COUNT))
    assert "no values | flags unknown" in capsys.readouterr().out
