"""Stand-in for CircuitPython's ``watchdog`` module on the nRF52840 (CircuitPython 10.x).

Sources: shared-bindings/watchdog/WatchDogTimer.c, ports/nordic/common-hal/watchdog/
WatchDogTimer.c, circuitpython-stubs 10.3 (``deinit`` is gone in 10.x: set ``mode = None``).
The sole timer is ``microcontroller.watchdog``; ``WatchDogTimer()`` is a TypeError.

- ``timeout`` (float seconds, the board's 30-bit float): a value whose integer part is below 0
  is ``ValueError("timeout must be >= 0")`` (mp_arg_validate_int_min on the truncated value, so
  -0.5 passes, as on the board). Setting it feeds the watchdog. In RAISE mode the timer is
  reprogrammed (more than 2**32 ticks of 31250 Hz, about 137439 s, is a ValueError); in RESET
  mode the value is stored but the running hardware keeps its old reload value (the nRF WDT's
  CRV cannot change while it runs).
- ``mode = WatchDogMode.RAISE``: ``WatchDogTimeout`` is raised in the firmware when the clock
  passes the deadline without a ``feed()``; the mode is then ``None`` (the port's timer handler).
- ``mode = WatchDogMode.RESET``: the nRF WDT starts with ``int(timeout * 1000)`` ms (more than
  2**32-1 ms is a ValueError; the ms become CRV = ms * 32768 // 1000 ticks of the 32768 Hz clock,
  truncated to the 32-bit register). It can NEVER be stopped: setting ``mode`` to None or RAISE
  afterwards is accepted, but ``feed()`` then no longer feeds the hardware, which resets the board.
  Setting RESET a second time is ``OSError(1)`` (nrfx_wdt_init on a running driver fails).
- ``feed()`` does nothing when ``mode`` is None.

On the host, expiry in RESET mode raises ``HostReset`` from the clock advance that would pass the
deadline, with the clock left exactly at the deadline (``_harness.watchdog_deadline_ns()``).
"""
import math
from typing import Any, Optional

import _harness
import _vclock
from _cpfloat import f30, f32
from _mpobj import get_float as _get_float

__all__ = ["WatchDogMode", "WatchDogTimeout", "WatchDogTimer"]

_UINT32_MAX = (1 << 32) - 1


class WatchDogTimeout(Exception):
    """Raised when the watchdog timer is in ``WatchDogMode.RAISE`` and expires."""


class WatchDogMode:
    """Run state of the watchdog timer: RAISE or RESET."""

    __slots__ = ("_name",)
    _name: str
    RAISE: "WatchDogMode"
    RESET: "WatchDogMode"

    def __new__(cls, *args: object, **kwargs: object) -> "WatchDogMode":
        raise TypeError("cannot create 'WatchDogMode' instances")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("'WatchDogMode' object has no attribute '%s'" % name)

    def __repr__(self) -> str:
        return "watchdog.WatchDogMode." + self._name


for _n in ("RAISE", "RESET"):
    _m = object.__new__(WatchDogMode)
    object.__setattr__(_m, "_name", _n)
    setattr(WatchDogMode, _n, _m)
del _n, _m


class _State:
    def __init__(self) -> None:
        self.timeout = 0.0
        self.mode: Optional[WatchDogMode] = None
        self.raise_period_ns = 0
        self.raise_deadline: Optional[int] = None
        self.hw_period_ns = 0           # the running nRF WDT's period (0: never started)
        self.hw_deadline: Optional[int] = None


_s = _State()


def _now() -> int:
    return _harness.clock().now_ns()


class WatchDogTimer:
    """The watchdog; the sole instance is ``microcontroller.watchdog``."""

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> "WatchDogTimer":
        raise TypeError("cannot create 'WatchDogTimer' instances")

    def feed(self) -> None:
        """Feed the watchdog; does nothing when it is not active."""
        if _s.mode is WatchDogMode.RESET:
            if _s.hw_deadline is not None:
                _s.hw_deadline = _now() + _s.hw_period_ns
        elif _s.mode is WatchDogMode.RAISE:
            _s.raise_deadline = _now() + _s.raise_period_ns

    @property
    def timeout(self) -> float:
        return _s.timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        t = _get_float(value)
        whole = 0 if math.isnan(t) else (-1 if t == -math.inf else (1 << 31) - 1 if t == math.inf else int(t))
        if whole < 0:
            raise ValueError("timeout must be >= 0")
        if _s.mode is WatchDogMode.RAISE:
            _s.raise_period_ns = _raise_period_ns(t)
        _s.timeout = f30(t)
        self.feed()

    @property
    def mode(self) -> Optional[WatchDogMode]:
        return _s.mode

    @mode.setter
    def mode(self, value: Optional[WatchDogMode]) -> None:
        if value is not None and type(value) is not WatchDogMode:
            raise TypeError("mode must be of type WatchDogMode, not %s" % type(value).__name__)
        if value is WatchDogMode.RAISE:
            _s.raise_period_ns = _raise_period_ns(_s.timeout)
            _s.raise_deadline = _now() + _s.raise_period_ns
        elif value is WatchDogMode.RESET:
            ms = _reset_ms(_s.timeout)
            if _s.hw_deadline is not None:
                raise OSError(1)
            crv = (ms * 32768 // 1000) & _UINT32_MAX
            crv = max(crv, 0xF)  # nRF52840 PS: CRV minimum 0xF
            _s.hw_period_ns = crv * 1_000_000_000 // 32768
            _s.hw_deadline = _now() + _s.hw_period_ns
        if value is not WatchDogMode.RAISE:
            _s.raise_deadline = None
        _s.mode = value


def _raise_period_ns(timeout: float) -> int:
    ms = _ms(timeout)
    ticks = ms * 31250 // 1000  # nrfx_timer_ms_to_ticks at 31250 Hz
    if ticks > _UINT32_MAX:
        raise ValueError("timeout duration exceeded the maximum supported value")
    return ticks * 32_000  # 32 us per tick


def _ms(timeout: float) -> int:
    v = f32(timeout * 1000.0)
    if math.isnan(v) or v < 0:
        return 0
    return int(min(v, 2.0 ** 63))


def _reset_ms(timeout: float) -> int:
    ms = _ms(timeout)
    if ms > _UINT32_MAX:
        raise ValueError("timeout duration exceeded the maximum supported value")
    return ms


def _advance_hook(clock: Any, now: int, target: int) -> None:
    if clock is not _harness.clock():
        return
    stop = clock.stop_at_ns
    hw, rs = _s.hw_deadline, _s.raise_deadline
    if hw is not None and hw <= target and (stop is None or hw < stop) and (rs is None or hw <= rs):
        clock._now = max(clock._now, hw)
        _s.hw_deadline = None
        raise _vclock.HostReset("watchdog expired in RESET mode at %d ns: the board resets" % hw)
    if rs is not None and rs <= target and (stop is None or rs < stop):
        clock._now = max(clock._now, rs)
        _s.raise_deadline = None
        _s.mode = None
        raise WatchDogTimeout()


_vclock._advance_hooks.append(_advance_hook)


def _power_on() -> None:
    global _s
    _s = _State()


_harness.on_reset(_power_on)


def _deadline_ns() -> Optional[int]:
    return _s.hw_deadline
