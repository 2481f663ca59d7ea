"""The serial console: one line per poll, per error and per change (DESIGN principle 7).

The firmware writes through ``reading``, ``error`` and ``info``, giving the loop's ``now_ms``
(ticks, kaskad.clock: for the values' ages); each line is stamped with the uptime from the clock
given to ``set_clock`` (ticks wrap, uptime does not). Where the lines go is the sink's business.
On the board the sink prints text to USB serial; the PC runner swaps in a JSON sink with
``set_sink``. Lines are built only once per event, never in a tight loop.
"""

from kaskad import meter, mirtek

_POW10 = (1, 10, 100, 1000)


def fixed(value, places):
    """An integer in 10^-places units as decimal text without floats: fixed(22987, 2) == '229.87'."""
    if value is None:
        return "?"
    sign = "-" if value < 0 else ""
    whole, frac = divmod(-value if value < 0 else value, _POW10[places])
    if places == 0:
        return sign + str(whole)
    frac_text = str(frac)
    return sign + str(whole) + "." + "0" * (places - len(frac_text)) + frac_text


def uptime(now_ms):
    return fixed(now_ms // 100, 1) + " s"


class TextSink:
    """Human-readable lines, as a user sees them on the board's serial console."""

    def reading(self, uptime_ms, now_ms, reading, max_age_ms, fields):
        def value(field, places):
            return fixed(reading.get(field, now_ms, max_age_ms), places)

        tariffs = " ".join("T%d %s" % (i + 1, value(meter.ENERGY_T1 + i, 3)) for i in range(4))
        flags = [name for name, index, bit in mirtek.FLAGS if flag_value(reading, index, bit)]
        stale = [meter.FIELD_NAMES[f] for f in fields if reading.is_stale(f, now_ms, max_age_ms)]
        print("%s meter %s (%s): %s total %s kWh | %s V %s A %s W | battery %s %% | %s%s" % (
            uptime(uptime_ms), reading.address, mirtek.GENERATION_NAMES[reading.generation] or "?",
            tariffs, value(meter.TOTAL, 3), value(meter.VOLTAGE, 2), value(meter.CURRENT, 3),
            value(meter.POWER, 2), value(meter.BATTERY, 0),
            ("flags: " + ", ".join(flags)) if flags else (
                "flags clear" if reading.flags_a is not None or reading.flags_b is not None else "flags unknown"),
            (" | stale: " + ", ".join(stale)) if stale else ""))

    def error(self, uptime_ms, what):
        print("%s error: %s" % (uptime(uptime_ms), what))

    def info(self, uptime_ms, text):
        print("%s %s" % (uptime(uptime_ms), text))


def flag_value(reading, index, bit):
    """A status flag as True/False, or None before any reply carried the status bytes."""
    status = reading.flags_a if index == 1 else reading.flags_b
    return None if status is None else bool(status & (1 << bit))


_sink = TextSink()
_clock = None


def set_sink(sink):
    global _sink
    _sink = sink


def set_clock(clock):
    """The clock whose ``uptime_ms`` stamps each line (without one, ``now_ms`` does)."""
    global _clock
    _clock = clock


def _uptime(now_ms):
    return now_ms if _clock is None else _clock.uptime_ms()


def reading(now_ms, reading_, max_age_ms, fields):
    _sink.reading(_uptime(now_ms), now_ms, reading_, max_age_ms, fields)


def error(now_ms, what):
    _sink.error(_uptime(now_ms), what)


def info(now_ms, text):
    _sink.info(_uptime(now_ms), text)
