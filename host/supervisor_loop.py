"""CircuitPython's supervisor around code.py, in the twin: what main.c does between runs.

One ``Life`` is one board from power-on: it boots, runs safemode.py or code.py, and goes through
whatever the board would go through next, in virtual time (or real time for the runner), until
the clock's ``stop_at_ns``. Each rule names the CircuitPython 10.2.1 source it follows:

- Power-on and every reset: ports/nordic/supervisor/port.c port_init() boots into safe mode
  WATCHDOG after a watchdog reset when USB power (VBUS) is present; otherwise a reason saved by a
  reset into safe mode is taken (supervisor/shared/safe_mode.c wait_for_safe_mode_reset()),
  and, unless the reset came from the watchdog or a brown-out, the board first waits 1000 ms for
  a reset-button press (DEFAULT_SAFE_MODE_DELAY_MSECS; the watchdog keeps counting meanwhile).
  The tick count, a running WDT and the sleep memory survive a reset (port.c reset_cpu() saves the
  ticks; watchdog.py, alarm.py); power-on clears them.
- Not in safe mode, autoreload is turned on (main.c main()); in safe mode, safemode.py runs
  first (main.c run_safemode_py(), not for SafeModeReason.USER), an error in it makes the reason
  SAFEMODE_PY_ERROR, and code.py never runs ("Running in safe mode! Not running saved code.").
- A write to the drive (supervisor/shared/reload.c autoreload_trigger(), when autoreload is on
  and no REPL suspends it) raises ReloadException into running code at once; code.py starts again
  CIRCUITPY_AUTORELOAD_DELAY_MS (750) after the last write, with RunReason.AUTO_RELOAD.
- Ctrl-C while code runs raises KeyboardInterrupt in it. After a run the board waits
  (main.c run_code_py()): a reload when one is due; Ctrl-D reloads (RunReason.REPL_RELOAD);
  any other key enters the REPL, where autoreload is suspended and Ctrl-D soft-reboots into
  code.py. A run ending in SystemExit goes straight to the REPL.
- The end of every run, the REPL's included (main.c cleanup_after_vm() -> reset_port() ->
  watchdog_reset()): see watchdog._end_of_run(); a crash there is nlr_jump_fail() ->
  reset_into_safe_mode(NLR_JUMP_FAIL), and a crash while already in safe mode (any reason
  after BROWNOUT) hangs the board for good (safe_mode.c), until the watchdog or power ends it.
- ``microcontroller.reset()``: filesystem_flush() then reset_cpu() at once
  (ports/nordic/common-hal/microcontroller/__init__.c).

What the Life reports goes to ``on_event(kind, t_s, fields)``: "boot" (cause, safe_mode),
"safe_mode" (reason, text), "output" (file, text: what safemode.py printed), "traceback" (text),
"reload" (run_reason), "code_done" (how), "repl", "reset" (cause, safe_mode), "hang". The runner
prints them; tests read ``events``.
"""

import os
import traceback

import _harness
import _vclock
import boot

ROOT = boot.ROOT
SAFEMODE_PY = os.path.join(ROOT, "safemode.py")
AUTORELOAD_DELAY_NS = 750_000_000   # CIRCUITPY_AUTORELOAD_DELAY_MS (py/circuitpy_mpconfig.h)
SAFE_MODE_WAIT_NS = 1_000_000_000   # safe_mode.c DEFAULT_SAFE_MODE_DELAY_MSECS
CTRL_C = "\x03"
CTRL_D = "\x04"

# supervisor/shared/safe_mode.c print_safe_mode_message()
SAFE_MODE_TEXT = {
    "BROWNOUT": "Power dipped. Make sure you are providing enough power.",
    "USER": "You pressed the reset button during boot.",
    "NO_CIRCUITPY": "CIRCUITPY drive could not be found or created.",
    "PROGRAMMATIC": "The `microcontroller` module was used to boot into safe mode.",
    "SAFEMODE_PY_ERROR": "Error in safemode.py.",
    "STACK_OVERFLOW": "Stack overflow. Increase stack size.",
    "WATCHDOG": "Internal watchdog timer expired.",
    "HARD_FAULT": "CircuitPython core code crashed hard. Whoops!\nHard fault: memory access or instruction error.",
    "NLR_JUMP_FAIL": "CircuitPython core code crashed hard. Whoops!\nNLR jump failed. Likely memory corruption.",
    "NO_HEAP": "CircuitPython core code crashed hard. Whoops!\nUnable to allocate to the heap.",
}


class _Hang(Exception):
    """The board sits in an endless loop (a crash while already in safe mode)."""


class Life:
    """``drive``: the host folder that plays CIRCUITPY (settings.toml; safemode.py is the
    repository's unless ``safemode_py`` names another file or None); ``on_boot()``: called after
    every reset and reload to wire the board again (settings path, NVM file, the meter)."""

    def __init__(self, settings_path, on_boot=None, on_event=None, realtime=False,
                 safemode_py=SAFEMODE_PY, code_py=boot.CODE_PY, watch_settings=False):
        self.settings_path = settings_path
        self.on_boot = on_boot
        self.on_event = on_event
        self.realtime = realtime
        self.safemode_py = safemode_py
        self.code_py = code_py
        self.watch_settings = watch_settings
        self.events = []          # (kind, t_s, fields)
        self.adverts = []         # every advertising event of the life (see _harness.ble_adv_events)
        self._segment_ns = 0      # since when the radio's log holds this boot's events
        self.clock = None
        self._schedule = []       # (t_ns, action) not yet due, in time order
        self._input = []          # console characters not yet read
        self._running = None      # "code" or "safemode" while a program runs, else None
        self._reload_at = None    # when the pending autoreload may start (ns), or None
        self._suspended = False   # autoreload suspended by the REPL
        self._safe_mode = None
        self._settings_stamp = None
        self._next_look_ns = 0

    # --- what the world does to the board ------------------------------------------------------
    def at(self, t_s, action):
        """Run ``action()`` at virtual time ``t_s`` (seconds since power-on)."""
        self._schedule.append((int(t_s * 1e9), action))
        self._schedule.sort(key=lambda item: item[0])

    def edit_settings(self, t_s, text):
        """At ``t_s`` the user saves ``text`` as settings.toml on the drive (over USB)."""
        def write():
            with open(self.settings_path, "w") as f:
                f.write(text)
            self.drive_written()
        self.at(t_s, write)

    def type_keys(self, t_s, keys):
        """At ``t_s`` someone types ``keys`` on the serial console."""
        self.at(t_s, lambda: self.keys(keys))

    def drive_written(self):
        """A file on the drive was written over USB: reload.c autoreload_trigger()."""
        import supervisor
        if not supervisor.runtime.autoreload or self._suspended or not _harness.usb_power():
            return
        pending = self._reload_at is not None
        self._reload_at = self.clock.now_ns() + AUTORELOAD_DELAY_NS
        if not pending:
            _harness.set_run_reason("AUTO_RELOAD")
            if self._running is not None:
                raise _vclock.ReloadException()

    def keys(self, keys):
        if not _harness.usb_power():
            return  # no USB, no console
        for char in keys:
            if char == CTRL_C and self._running is not None:
                self._input.clear()
                raise KeyboardInterrupt()
            self._input.append(char)

    # --- the life ------------------------------------------------------------------------------
    def run(self, seconds):
        """Power the board on and live until ``seconds`` of virtual time; returns ``events``."""
        self.clock = _harness.reset(realtime=self.realtime)
        self.clock.stop_at_ns = int(seconds * 1e9)
        _vclock._advance_hooks.insert(0, self._hook)
        cause, saved = _harness.POWER_ON, None
        try:
            while True:
                cause, saved = self._boot(cause, saved)
        except _harness.HostStop:
            pass
        finally:
            _vclock._advance_hooks.remove(self._hook)
            self._collect()
        return self.events

    def _event(self, kind, **fields):
        t_s = self.clock.now_ns() / 1e9
        self.events.append((kind, t_s, fields))
        if self.on_event is not None:
            self.on_event(kind, t_s, fields)

    def _collect(self):
        now = self.clock._now  # not now_ns(): in real time that raises once past the end
        self.adverts += _harness.ble_adv_events(self._segment_ns, now)
        self._segment_ns = now

    def _rewire(self, cause):
        self._collect()
        _harness.reset(clock=self.clock, cause=cause)
        if self.on_boot is not None:
            self.on_boot()

    def _boot(self, cause, saved):
        """One boot after power-on or a reset; returns the next reset's (cause, saved reason)."""
        if cause != _harness.POWER_ON:
            self._rewire(cause)
        elif self.on_boot is not None:
            self.on_boot()
        self._reload_at = None
        self._suspended = False
        self._input.clear()
        safe = None
        if cause == _harness.WATCHDOG and _harness.usb_power():
            safe = "WATCHDOG"                     # port.c port_init()
        elif saved is not None:
            safe = saved                          # safe_mode.c wait_for_safe_mode_reset()
        self._safe_mode = safe
        _harness.set_safe_mode_reason(safe)
        import supervisor
        supervisor.runtime.autoreload = safe is None
        self._event("boot", cause=cause, safe_mode=safe)
        try:
            if safe is None and cause != _harness.WATCHDOG:
                self._idle_until(self.clock.now_ns() + SAFE_MODE_WAIT_NS)
            if safe is not None:
                self._event("safe_mode", reason=safe, text=SAFE_MODE_TEXT.get(safe, "Unknown reason."))
                self._run_safemode_py()
            while True:
                if not self._wait(self._run_code_py()):
                    self._repl()  # returns on Ctrl-D, reloaded: code.py next
        except _harness.HostReset as reset:
            self._running = None
            self._event("reset", cause=reset.cause, safe_mode=reset.safe_mode)
            return reset.cause, reset.safe_mode
        except _Hang:
            self._event("hang")
            try:
                while True:  # deaf to keys and writes: only the watchdog or the end leave
                    self.clock.advance_to(self.clock.now_ns() + 200_000_000)
            except _harness.HostReset as reset:
                self._event("reset", cause=reset.cause, safe_mode=reset.safe_mode)
                return reset.cause, reset.safe_mode

    def _crash(self):
        """main.c nlr_jump_fail() -> safe_mode.c reset_into_safe_mode(NLR_JUMP_FAIL)."""
        if self._safe_mode is not None and self._safe_mode != "BROWNOUT":
            raise _Hang()
        raise _harness.HostReset("reset into safe mode: NLR_JUMP_FAIL", cause=_harness.SOFTWARE,
                                 safe_mode="NLR_JUMP_FAIL")

    def _exec(self, path, kind):
        """Run one program; returns how it ended: None (normally) or its exception."""
        import watchdog
        self._running = kind
        ended = None
        try:
            boot.run_code_py(path)
        except (_harness.HostStop, _harness.HostReset):
            self._running = None
            raise
        except BaseException as error:  # what the supervisor's pyexec_file() catches
            ended = error
            if not isinstance(error, _vclock.ReloadException):
                lines = traceback.format_exception_only(type(error), error)
                self._event("traceback", text="".join(lines).strip())
        self._running = None
        if watchdog._end_of_run(ended):
            self._crash()
        return ended

    def _run_safemode_py(self):
        if self._safe_mode == "USER" or not self.safemode_py or not os.path.exists(self.safemode_py):
            return
        import contextlib
        import io
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                ended = self._exec(self.safemode_py, "safemode")
        finally:
            if out.getvalue():
                self._event("output", file="safemode.py", text=out.getvalue().rstrip("\n"))
        if ended is not None:
            self._safe_mode = "SAFEMODE_PY_ERROR"
            _harness.set_safe_mode_reason("SAFEMODE_PY_ERROR")
        self._rewire(_harness.RELOAD)

    def _run_code_py(self):
        """main.c run_code_py(): code.py unless in safe mode or a reload is already pending."""
        if self._safe_mode is not None or self._reload_at is not None:
            return "not run"
        ended = self._exec(self.code_py, "code")
        if isinstance(ended, _vclock.ReloadException):
            how = "reload"
        elif isinstance(ended, SystemExit):
            how = "exit"
        elif ended is None:
            how = "done"
        else:
            how = "exception"
        self._event("code_done", how=how)
        return how

    def _wait(self, how):
        """main.c: after a run, wait for a reload or a key. True: run code.py next; False: REPL."""
        if how == "exit":
            return False
        while True:
            if self._reload_at is not None and self.clock.now_ns() > self._reload_at:
                self._reload_at = None
                self._reload("AUTO_RELOAD")
                return True
            if self._input and self._reload_at is None:
                char = self._input.pop(0)
                if char == CTRL_D:
                    _harness.set_run_reason("REPL_RELOAD")
                    self._reload("REPL_RELOAD")
                    return True
                return False
            self._idle_until(self._next_wake())

    def _repl(self):
        """The REPL: autoreload suspended; Ctrl-D soft-reboots (then cleanup_after_vm)."""
        import watchdog
        self._event("repl")
        self._suspended = True
        try:
            while True:
                while self._input:
                    if self._input.pop(0) == CTRL_D:
                        # cleanup_after_vm(MP_OBJ_SENTINEL): watchdog_reset() sees the last
                        # run's result, cleared to MP_OBJ_NULL after code.py's cleanup
                        if watchdog._end_of_run(None):
                            self._crash()
                        self._reload("REPL_RELOAD")
                        return "repl"
                self._idle_until(self._next_wake())
        finally:
            self._suspended = False

    def _reload(self, reason):
        _harness.set_run_reason(reason)
        self._event("reload", run_reason=reason)
        self._rewire(_harness.RELOAD)
        _harness.set_run_reason(reason)

    # --- time ----------------------------------------------------------------------------------
    def _next_wake(self):
        wake = None
        if self._schedule:
            wake = self._schedule[0][0]
        if self._reload_at is not None:
            at = self._reload_at + 1
            wake = at if wake is None or at < wake else wake
        if self.watch_settings:
            at = self.clock.now_ns() + 200_000_000
            wake = at if wake is None or at < wake else wake
        return wake

    def _idle_until(self, t_ns):
        """The supervisor idles (port_idle_until_interrupt) until ``t_ns`` (None: for ever)."""
        while t_ns is None or self.clock.now_ns() < t_ns:
            wake = self._next_wake()
            target = t_ns if wake is None or (t_ns is not None and t_ns < wake) else wake
            if target is None:
                target = self.clock.now_ns() + 3600 * 10 ** 9
            self.clock.advance_to(max(target, self.clock.now_ns() + 1))
            if t_ns is None and (self._input or self._reload_at is not None):
                return

    def _hook(self, clock, now_ns, target_ns):
        """Clock advance hook: the world acts at its scheduled times, inside any wait."""
        if clock is not self.clock or getattr(self, "_busy", False):
            return
        self._busy = True
        try:
            if self.watch_settings:
                self._look_at_settings()
            while self._schedule and self._schedule[0][0] <= target_ns:
                t_ns = self._schedule[0][0]
                if t_ns > clock.now_ns():
                    clock.advance_to(t_ns)  # the watchdog may bite first: then it stays due
                _, action = self._schedule.pop(0)
                action()
        finally:
            self._busy = False

    def _look_at_settings(self):
        """The runner: an edit of the settings file on the PC is a write to the drive."""
        import time as walltime
        now = walltime.monotonic_ns()
        if now < self._next_look_ns:
            return
        self._next_look_ns = now + 200_000_000
        try:
            stat = os.stat(self.settings_path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if self._settings_stamp is None:
            self._settings_stamp = stamp
            return
        if stamp != self._settings_stamp:
            self._settings_stamp = stamp
            self.drive_written()
