"""Stand-in for CircuitPython's ``watchdog`` module on the nRF52840 (CircuitPython 10.x).

Sources: shared-bindings/watchdog/WatchDogTimer.c, ports/nordic/common-hal/watchdog/
WatchDogTimer.c (10.2.1; line numbers below are that file's), shared-module/watchdog/__init__.c,
ports/nordic/supervisor/port.c, circuitpython-stubs 10.3 (``deinit`` is gone in 10.x: set
``mode = None``). The sole timer is ``microcontroller.watchdog``; ``WatchDogTimer()`` is a TypeError.

Two things are modelled apart, as on the board:
- the Python object (``common_hal_mcu_watchdogtimer_obj`` in ports/nordic/common-hal/
  microcontroller/__init__.c, and the nrfx driver state): static RAM, back to mode None and
  timeout 0.0 after any chip reset, kept across a reload;
- the nRF WDT peripheral: once started it cannot be stopped; a software reset
  (NVIC_SystemReset: ``microcontroller.reset()``, a reset into safe mode) leaves it counting
  with its reload value locked (nRF52840 PS, WDT: CRV/RREN/CONFIG are write-protected while it
  runs); only its own reset (a bite) or power-on stops it.

Rules:
- ``timeout`` (float seconds, the board's 30-bit float): a value whose integer part is below 0
  is ``ValueError("timeout must be >= 0")`` (mp_arg_validate_int_min on the truncated value, so
  -0.5 passes, as on the board). Setting it feeds the watchdog. In RAISE mode the timer is
  reprogrammed (more than 2**32 ticks of 31250 Hz, about 137439 s, is a ValueError); in RESET
  mode it is ``RuntimeError("timeout cannot be changed once mode is set to RESET")`` (:105).
- ``mode = WatchDogMode.RAISE``: ``WatchDogTimeout`` (an ``Exception``) is raised in the firmware
  when the clock passes the deadline without a ``feed()``; the mode is then ``None`` (the
  port's timer handler).
- ``mode = WatchDogMode.RESET``: nrfx_wdt_init with ``int(timeout * 1000)`` ms (more than
  2**32-1 ms is a ValueError; the ms become CRV = ms * 32768 // 1000 ticks of the 32768 Hz
  clock). A second time in one boot is ``OSError(1)`` (nrfx_wdt_init on an initialised driver).
  After a software reset the driver is fresh, so it is accepted, but a WDT still running from
  before keeps its old period: the new timeout does not reach the hardware.
- ``mode = None`` from RESET: 10.2.1 accepts it, and ``feed()`` then no longer feeds the
  hardware, which resets the board; after PR #11295 it is ``RuntimeError("WatchDogTimer cannot
  be deinitialized once mode is set to RESET")`` (the fixed WatchDogTimer.c, as on the PR's
  branch tannewt/circuitpython).
- ``feed()`` does nothing when ``mode`` is None.
- The end of every run (``_end_of_run``; main.c cleanup_after_vm() -> reset_port() ->
  watchdog_reset()): in RESET mode, a run that ended with an exception other than
  KeyboardInterrupt or ReloadException leaves the watchdog alone; otherwise 10.2.1 calls
  common_hal_watchdog_deinit(), which in RESET mode raises with the VM still up (:79) and no
  handler above it: nlr_jump_fail() -> safe mode NLR_JUMP_FAIL. After PR #11295 RESET mode is
  left as it is (mode RESET, still fed by feed()). Any other mode goes back to None.

On the host, expiry in RESET mode raises ``HostReset(cause="watchdog")`` from the clock advance
that would pass the deadline, with the clock left exactly at the deadline
(``_harness.watchdog_deadline_ns()``).
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


class _Object:
    """The Python-visible timer and the nrfx driver: static RAM, zeroed by any chip reset."""

    def __init__(self) -> None:
        self.timeout = 0.0
        self.mode: Optional[WatchDogMode] = None
        self.raise_period_ns = 0
        self.raise_deadline: Optional[int] = None
        self.driver_started = False     # nrfx_wdt_init done in this boot


class _Hardware:
    """The nRF WDT peripheral: survives software resets and reloads."""

    def __init__(self) -> None:
        self.period_ns = 0
        self.deadline: Optional[int] = None   # None: not running


_s = _Object()
_hw = _Hardware()


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
            if _hw.deadline is not None:
                _hw.deadline = _now() + _hw.period_ns
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
        elif _s.mode is WatchDogMode.RESET:
            raise RuntimeError("timeout cannot be changed once mode is set to RESET")
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
            if _s.driver_started:
                raise OSError(1)
            _s.driver_started = True
            if _hw.deadline is None:
                crv = (ms * 32768 // 1000) & _UINT32_MAX
                crv = max(crv, 0xF)  # nRF52840 PS: CRV minimum 0xF
                _hw.period_ns = crv * 1_000_000_000 // 32768
            # else: running since before a software reset; CRV is locked, the old period stays
            _hw.deadline = _now() + _hw.period_ns  # nrfx_wdt_enable, then nrfx_wdt_feed
        elif _s.mode is WatchDogMode.RESET and _harness.circuitpython() == _harness.FIXED:
            raise RuntimeError("WatchDogTimer cannot be deinitialized once mode is set to RESET")
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
    hw, rs = _hw.deadline, _s.raise_deadline
    if hw is not None and hw <= target and (stop is None or hw < stop) and (rs is None or hw <= rs):
        clock._now = max(clock._now, hw)
        _hw.deadline = None  # the watchdog reset resets the WDT itself
        raise _vclock.HostReset("watchdog expired in RESET mode at %d ns: the board resets" % hw,
                                cause="watchdog")
    if rs is not None and rs <= target and (stop is None or rs < stop):
        clock._now = max(clock._now, rs)
        _s.raise_deadline = None
        _s.mode = None
        raise WatchDogTimeout()


_vclock._advance_hooks.append(_advance_hook)


def _on_reset() -> None:
    """A chip reset zeroes the object; power-on (and the WDT's own reset) stops the WDT."""
    global _s, _hw
    cause = _harness.reset_cause()
    if cause == _harness.RELOAD:
        return
    _s = _Object()
    if cause in (_harness.POWER_ON, _harness.WATCHDOG):
        _hw = _Hardware()


_harness.on_reset(_on_reset)


def _end_of_run(exception: Optional[BaseException]) -> bool:
    """shared-module/watchdog/__init__.c watchdog_reset() at the end of a run (``exception``:
    how the run ended, None for a normal end). Returns True when 10.2.1 crashes here (the
    RuntimeError of WatchDogTimer.c:79 with no handler: nlr_jump_fail, safe mode NLR_JUMP_FAIL)."""
    if _s.mode is WatchDogMode.RESET:
        if exception is not None and not isinstance(exception, (KeyboardInterrupt, _vclock.ReloadException)):
            return False
        if _harness.circuitpython() == _harness.V10_2_1:
            return True
        return False  # PR #11295: RESET cannot be undone, so it is left as it is
    _s.raise_deadline = None
    _s.mode = None
    return False


def _deadline_ns() -> Optional[int]:
    return _hw.deadline
