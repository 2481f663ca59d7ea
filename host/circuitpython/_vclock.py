"""The host's clock: integer nanoseconds since the simulated board booted.

Every stand-in (``time``, ``supervisor``, ``busio``) reads and advances this one clock, so a
whole run is deterministic in virtual time. In realtime mode the clock follows the wall clock
instead (for a real serial port or a human watching), and advancing it really sleeps.

``HostStop`` ends a host run. It derives from ``BaseException`` so that firmware code written
as ``except Exception:`` (which the main loop must do to survive errors) cannot swallow it.
``HostSpin`` (a busy-wait) and ``HostPowerCut`` (a simulated power cut) are kinds of it.
"""
import time as _walltime


class HostStop(BaseException):
    """Raised when the clock reaches ``stop_at_ns``: the host run is over, not a firmware error."""


class HostSpin(HostStop):
    """Raised when firmware polls a frozen virtual clock too often: a busy-wait that would hang."""


class HostPowerCut(HostStop):
    """Raised when the host cuts the simulated board's power (``_harness.nvm_cut_power_after``).

    What the board had stored by then stays stored (an NVM write stops part way); the run is over.
    """


class HostReset(BaseException):
    """The simulated board reset itself: ``microcontroller.reset()``, or the watchdog in
    ``WatchDogMode.RESET`` expired (see ``_harness.watchdog_deadline_ns``), or the supervisor
    reset into safe mode after a crash.

    Not a ``HostStop``: a reset is something the firmware did, and a runner that treats it as a
    clean end would hide a hung loop. ``except Exception:`` in firmware cannot swallow it.

    ``cause``: ``"software"`` (NVIC_SystemReset: microcontroller.reset(), a reset into safe
    mode) or ``"watchdog"`` (the nRF WDT bit: RESETREAS.DOG). ``safe_mode``: the reason a reset
    into safe mode saved for the next boot (supervisor/shared/safe_mode.c), else None.
    """

    def __init__(self, what: str = "", cause: str = "software", safe_mode: "str | None" = None) -> None:
        super().__init__(what)
        self.cause = cause
        self.safe_mode = safe_mode


class ReloadException(BaseException):
    """The board's own ``ReloadException`` (py/objexcept.c: a BaseException, so ``except
    Exception`` in code.py does not catch it): the supervisor raises it into the running code
    when a file on the drive was written (supervisor/shared/reload.c reload_initiate()) or
    ``supervisor.reload()`` was called. Its name is the board's; firmware can only tell it by name.
    """


# Host-only: callables ``hook(clock, now_ns, target_ns)`` run before the clock moves forward; one
# may move the clock to an earlier deadline itself and raise (the watchdog does).
_advance_hooks: "list" = []


class VirtualClock:
    """A monotonic clock in integer nanoseconds since boot.

    ``realtime=False`` (the default): time moves only when someone calls ``advance_to`` or
    ``sleep_ns``; nothing ever really sleeps.
    ``realtime=True``: ``now_ns`` follows the wall clock from the moment the clock was made,
    and ``advance_to`` sleeps until the wall clock gets there.

    ``stop_at_ns``: advancing to or beyond it moves the clock to exactly ``stop_at_ns`` and raises
    ``HostStop``. In realtime mode, reading the clock past it raises too.

    ``poll_cost_ns``: virtual time charged by each ``poll()`` (a firmware-facing clock read such as
    ``time.monotonic()``). 0 keeps reads free; after ``SPIN_LIMIT`` reads in a row without the
    clock moving, ``poll()`` raises ``HostSpin`` instead of letting a busy-wait hang the host.
    """

    SPIN_LIMIT = 1_000_000

    def __init__(self, realtime: bool = False, stop_at_ns: "int | None" = None,
                 poll_cost_ns: int = 0) -> None:
        self.realtime = realtime
        self.stop_at_ns = stop_at_ns
        self.poll_cost_ns = poll_cost_ns
        self._now = 0
        self._wall_start = _walltime.monotonic_ns()
        self._spins = 0
        self._spin_at = -1

    def now_ns(self) -> int:
        """Nanoseconds since boot. Never decreases."""
        if self.realtime:
            wall = _walltime.monotonic_ns() - self._wall_start
            if wall > self._now:
                self._now = wall
            self._check_stop(self._now)
        return self._now

    def advance_to(self, t_ns: int) -> None:
        """Move the clock forward to ``t_ns``; a time in the past leaves the clock where it is."""
        t_ns = int(t_ns)
        now = self.now_ns()
        if t_ns <= now:
            return
        for hook in list(_advance_hooks):
            hook(self, now, t_ns)
        stop = self.stop_at_ns
        target = t_ns if stop is None or t_ns < stop else stop
        if self.realtime:
            while True:
                remaining = target - (_walltime.monotonic_ns() - self._wall_start)
                if remaining <= 0:
                    break
                _walltime.sleep(remaining / 1e9)
        self._now = max(self._now, target)
        self._check_stop(t_ns)

    def sleep_ns(self, dt_ns: int) -> None:
        """Advance the clock by ``dt_ns`` (must not be negative)."""
        if dt_ns < 0:
            raise ValueError("cannot sleep a negative time")
        self.advance_to(self.now_ns() + int(dt_ns))

    def poll(self) -> int:
        """A firmware-facing clock read: charge ``poll_cost_ns`` and guard against busy-waits."""
        if self.poll_cost_ns:
            self.advance_to(self.now_ns() + self.poll_cost_ns)
        now = self.now_ns()
        if now == self._spin_at:
            self._spins += 1
            if self._spins >= self.SPIN_LIMIT:
                raise HostSpin(
                    "firmware read the virtual clock %d times without it moving: a busy-wait "
                    "hangs in virtual time (sleep, or give the clock a poll_cost_ns)" % self._spins)
        else:
            self._spin_at = now
            self._spins = 0
        return now

    def _check_stop(self, t_ns: int) -> None:
        stop = self.stop_at_ns
        if stop is not None and t_ns >= stop:
            raise HostStop("virtual clock reached stop_at_ns=%d" % stop)
