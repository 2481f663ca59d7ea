"""The serial console: one line per poll, per error and per change (DESIGN principle 7).

The firmware writes through ``reading``, ``error`` and ``info``, giving the loop's ``now_ms``
(ticks, kaskad.clock: for the values' ages); each line is stamped with the uptime from the clock
given to ``set_clock`` (ticks wrap, uptime does not). Where the lines go is the sink's business.
On the board the sink prints text to USB serial; the PC runner swaps in a JSON sink with
``set_sink``. Lines are built only once per event, never in a tight loop.
"""

from kaskad import reading as fields

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

    def reading(self, uptime_ms, now_ms, reading, max_age_ms, fields_):
        """One line; what the meter does not offer is left out (the family has no such value)."""
        parts = []
        for field in range(fields.FIELD_COUNT):
            value = reading.get(field, now_ms, max_age_ms)
            if value is not None or reading.is_stale(field, now_ms, max_age_ms):
                parts.append(_SHOWN[field] % fixed(value, _PLACES[field]))
        stale = [fields.FIELD_NAMES[f] for f in fields_ if reading.is_stale(f, now_ms, max_age_ms)]
        print("%s meter %s %s (%s): %s | %s%s" % (
            uptime(uptime_ms), reading.family, "-" if reading.address is None else reading.address,
            reading.model or "?", " ".join(parts) or "no values", flags_text(reading, now_ms, max_age_ms),
            (" | stale: " + ", ".join(stale)) if stale else ""))

    def error(self, uptime_ms, what):
        print("%s error: %s" % (uptime(uptime_ms), what))

    def info(self, uptime_ms, text):
        print("%s %s" % (uptime(uptime_ms), text))


# Each field of kaskad.reading in the reading line, in its order: how it is shown, decimal places
_SHOWN = ("T1 %s", "T2 %s", "T3 %s", "T4 %s", "total %s kWh", "%s V", "%s A", "%s W", "battery %s %%", "%s VA")
_PLACES = b"\x03\x03\x03\x03\x03\x02\x03\x02\x00\x02"


def flags(reading, now_ms, max_age_ms):
    """(name, True/False/None) of every flag by meaning: None where the meter does not report
    it, or its last status is older than max_age_ms."""
    return [(name, reading.flag(bit, now_ms, max_age_ms)) for bit, name in fields.FLAG_NAMES]


def flags_text(reading, now_ms, max_age_ms):
    known = [(name, on) for name, on in flags(reading, now_ms, max_age_ms) if on is not None]
    if not known:
        return "flags unknown"
    on = [name for name, value in known if value]
    return ("flags: " + ", ".join(on)) if on else "flags clear"


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
