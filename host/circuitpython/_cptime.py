"""Stand-in for CircuitPython's ``time`` module, bound to the harness clock.

Not installed as ``time`` (CPython's is built in); the runner maps ``import time`` in code.py
to this module. As on the board:
- ``monotonic()`` is a 30-bit float of whole milliseconds: it loses precision after about an
  hour of uptime (2**22 ms), and keeps losing it.
- ``sleep(s)`` sleeps ``round(s * 1000)`` whole milliseconds (``sleep(0.0004)`` does not sleep);
  a negative length raises ``ValueError``.
- ``time()`` is integer seconds; the RTC starts at 2000-01-01 00:00:00 when nobody set it.
"""
import calendar
import math
import time as _host_time
from typing import Optional, Sequence

import _harness
from _cpfloat import f30, f32

__all__ = ["monotonic", "monotonic_ns", "sleep", "time", "localtime", "mktime", "struct_time"]

_EPOCH_2000 = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds
_FIELDS = ("tm_year", "tm_mon", "tm_mday", "tm_hour", "tm_min", "tm_sec", "tm_wday", "tm_yday",
           "tm_isdst")


def _number(obj: object) -> float:
    if isinstance(obj, (int, float)):
        return f30(float(obj))
    raise TypeError("can't convert %s to float" % type(obj).__name__)


def monotonic() -> float:
    """Seconds since boot as the board's float (30 bits: ms precision only for ~1.16 h)."""
    ms = _harness.clock().poll() // 1_000_000
    return f30(f32(f32(float(ms)) / 1000.0))


def monotonic_ns() -> int:
    """Nanoseconds since boot, an exact integer."""
    return _harness.clock().poll()


def sleep(seconds: float) -> None:
    """Sleep for ``seconds``, rounded to whole milliseconds; ValueError if negative."""
    s = _number(seconds)
    msecs = f32(1000.0 * s + 0.5)
    if s < 0:
        raise ValueError("sleep length must be non-negative")
    # common_hal_time_delay_ms(uint32_t): the Cortex-M4 conversion gives 0 for NaN, saturates above
    ms = 0 if math.isnan(msecs) else min(int(min(msecs, 2.0**32)), 2**32 - 1)
    clock = _harness.clock()
    clock.advance_to(clock.now_ns() + ms * 1_000_000)


def time() -> int:
    """Seconds since 1970 from the board's RTC, which starts at 2000-01-01 if never set."""
    return _EPOCH_2000 + _harness.clock().poll() // 1_000_000_000


class struct_time(tuple):  # noqa: N801 (the board's name)
    """A date and time: ``(tm_year, tm_mon, tm_mday, tm_hour, tm_min, tm_sec, tm_wday, tm_yday,
    tm_isdst)``, built from any 9-sequence."""

    def __new__(cls, time_tuple: Sequence[int]) -> "struct_time":
        items = tuple(time_tuple)
        if len(items) != 9:
            raise TypeError("time.struct_time() takes a 9-sequence")
        return super().__new__(cls, items)

    def __repr__(self) -> str:
        return "struct_time(%s)" % ", ".join("%s=%r" % kv for kv in zip(_FIELDS, self))

    tm_year = property(lambda self: self[0])
    tm_mon = property(lambda self: self[1])
    tm_mday = property(lambda self: self[2])
    tm_hour = property(lambda self: self[3])
    tm_min = property(lambda self: self[4])
    tm_sec = property(lambda self: self[5])
    tm_wday = property(lambda self: self[6])
    tm_yday = property(lambda self: self[7])
    tm_isdst = property(lambda self: self[8])


def localtime(secs: Optional[int] = None) -> struct_time:
    """Seconds since 1970 as a ``struct_time`` (UTC: the board has no time zone); not before 2000."""
    if secs is None:
        secs = time()
    if not isinstance(secs, int):
        raise TypeError("can't convert %s to int" % type(secs).__name__)
    if secs < _EPOCH_2000:
        raise OverflowError("timestamp out of range for platform time_t")
    g = _host_time.gmtime(secs)
    return struct_time((g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec,
                        g.tm_wday, g.tm_yday, -1))


def mktime(t: Sequence[int]) -> int:
    """The inverse of ``localtime``: a ``struct_time`` or 9-tuple to seconds since 1970."""
    items = tuple(t)
    if len(items) != 9:
        raise TypeError("function takes 9 positional arguments but %d were given" % len(items))
    if items[0] < 2000:
        raise OverflowError("timestamp out of range for platform time_t")
    return calendar.timegm((items[0], items[1], items[2], items[3], items[4], items[5], 0, 0, 0))
