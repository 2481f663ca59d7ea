"""The console's lines: integers shown as decimals without floats, flags and staleness said."""

from fractions import Fraction

from hypothesis import given, strategies as st

from kaskad import console, meter


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
    reading = meter.Reading()
    reading.address = 20109
    reading.set(meter.VOLTAGE, 23001, 0)
    reading.set(meter.BATTERY, 96, 100_000)
    reading.flags_a = 1 << 5  # M2: alternating magnetic field
    reading.flags_b = 0
    console.TextSink().reading(100_000, 100_000, reading, 60_000, range(meter.FIELD_COUNT))
    line = capsys.readouterr().out
    assert "? V" in line  # 100 s old with a 60 s limit: not shown
    assert "battery 96 %" in line
    assert "flags: magnet_ac" in line
    assert "stale: voltage_cv" in line
