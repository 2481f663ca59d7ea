"""Stand-in for CircuitPython's ``supervisor`` module, driven by the harness clock.

``ticks_ms()``, ``runtime`` (``serial_connected``, ``usb_connected``, ``serial_bytes_available``,
``run_reason``, ``safe_mode_reason``, ``autoreload``), ``RunReason``, ``SafeModeReason``,
``reload()`` and ``get_setting()``. What the supervisor does around code.py (reloads, safe mode,
the REPL) is modelled in host/supervisor_loop.py; this module is what code sees of it.
"""
import _cpsettings
import _harness

__all__ = ["ticks_ms", "runtime", "Runtime", "RunReason", "SafeModeReason", "get_setting", "reload"]

_TICKS_PERIOD = 1 << 29
# shared-bindings/supervisor/__init__.c supervisor_ticks_ms(): (common_hal_time_monotonic_ms() +
# 0x1fff0000) % (1 << 29), the ms since boot counted by supervisor/shared/tick.c: the count starts
# 65536 ms before its first wrap, so code meets the wrap 65.536 s after power-on.
_TICKS_OFFSET = _TICKS_PERIOD - 0x10000


def ticks_ms() -> int:
    """Milliseconds since an unspecified point, wrapping at 2**29 (first wrap 65.536 s after boot)."""
    ms = _harness.clock().poll() // 1_000_000
    return (ms + _TICKS_OFFSET) % _TICKS_PERIOD


class RunReason:
    """Why CircuitPython started running this time."""

    __slots__ = ("_name",)
    _name: str
    STARTUP: "RunReason"
    AUTO_RELOAD: "RunReason"
    SUPERVISOR_RELOAD: "RunReason"
    REPL_RELOAD: "RunReason"

    def __new__(cls, *args: object, **kwargs: object) -> "RunReason":
        raise TypeError("cannot create 'RunReason' instances")

    def __repr__(self) -> str:
        return "supervisor.RunReason." + self._name


for _rname in ("STARTUP", "AUTO_RELOAD", "SUPERVISOR_RELOAD", "REPL_RELOAD"):
    _robj = object.__new__(RunReason)
    _robj._name = _rname
    setattr(RunReason, _rname, _robj)
del _rname, _robj


class SafeModeReason:
    """Why CircuitPython went into safe mode (shared-bindings/supervisor/SafeModeReason.c:
    exactly these; SAFEMODE_PY_ERROR has no Python name)."""

    __slots__ = ("_name",)
    _name: str
    NONE: "SafeModeReason"
    BROWNOUT: "SafeModeReason"
    FLASH_WRITE_FAIL: "SafeModeReason"
    GC_ALLOC_OUTSIDE_VM: "SafeModeReason"
    HARD_FAULT: "SafeModeReason"
    INTERRUPT_ERROR: "SafeModeReason"
    NLR_JUMP_FAIL: "SafeModeReason"
    NO_CIRCUITPY: "SafeModeReason"
    NO_HEAP: "SafeModeReason"
    PROGRAMMATIC: "SafeModeReason"
    SDK_FATAL_ERROR: "SafeModeReason"
    STACK_OVERFLOW: "SafeModeReason"
    USB_BOOT_DEVICE_NOT_INTERFACE_ZERO: "SafeModeReason"
    USB_TOO_MANY_ENDPOINTS: "SafeModeReason"
    USB_TOO_MANY_INTERFACE_NAMES: "SafeModeReason"
    USER: "SafeModeReason"
    WATCHDOG: "SafeModeReason"

    def __new__(cls, *args: object, **kwargs: object) -> "SafeModeReason":
        raise TypeError("cannot create 'SafeModeReason' instances")

    def __repr__(self) -> str:
        return "supervisor.SafeModeReason." + self._name


SAFE_MODE_REASONS = (
    "NONE", "BROWNOUT", "FLASH_WRITE_FAIL", "GC_ALLOC_OUTSIDE_VM", "HARD_FAULT", "INTERRUPT_ERROR",
    "NLR_JUMP_FAIL", "NO_CIRCUITPY", "NO_HEAP", "PROGRAMMATIC", "SDK_FATAL_ERROR", "STACK_OVERFLOW",
    "USB_BOOT_DEVICE_NOT_INTERFACE_ZERO", "USB_TOO_MANY_ENDPOINTS", "USB_TOO_MANY_INTERFACE_NAMES",
    "USER", "WATCHDOG")
for _sname in SAFE_MODE_REASONS:
    _sobj = object.__new__(SafeModeReason)
    _sobj._name = _sname
    setattr(SafeModeReason, _sname, _sobj)
del _sname, _sobj


class Runtime:
    """Current status of runtime objects; use ``supervisor.runtime``, the only instance."""

    __slots__ = ("_autoreload",)

    def __new__(cls, *args: object, **kwargs: object) -> "Runtime":
        raise TypeError("cannot create 'Runtime' instances")

    @property
    def serial_connected(self) -> bool:
        """Whether a terminal has the USB serial console open (read-only)."""
        return _harness.serial_connected()

    @property
    def usb_connected(self) -> bool:
        """Whether USB is enumerated (read-only); the host says so whenever the console is open."""
        return _harness.serial_connected()

    @property
    def serial_bytes_available(self) -> int:
        """Bytes waiting on the console input (read-only); the host console never types."""
        return 0

    @property
    def run_reason(self) -> RunReason:
        """Why this run started (read-only): STARTUP after a reset, AUTO_RELOAD after a write to
        the drive, REPL_RELOAD after Ctrl-D (main.c, supervisor/shared/reload.c)."""
        return getattr(RunReason, _harness.run_reason())

    @property
    def safe_mode_reason(self) -> SafeModeReason:
        """Why the board is in safe mode (read-only), ``SafeModeReason.NONE`` when it is not."""
        return getattr(SafeModeReason, _harness.safe_mode_reason() or "NONE")

    @property
    def autoreload(self) -> bool:
        """Whether CircuitPython may autoreload on workflow writes. A static of
        supervisor/shared/reload.c: it outlives a reload; main() turns it on at each boot that
        is not in safe mode."""
        return self._autoreload

    @autoreload.setter
    def autoreload(self, value: bool) -> None:
        self._autoreload = bool(value)


runtime: Runtime = object.__new__(Runtime)
runtime._autoreload = True


def _reset_runtime() -> None:
    if _harness.reset_cause() != _harness.RELOAD:
        runtime._autoreload = _harness.safe_mode_reason() is None


_harness.on_reset(_reset_runtime)


def reload() -> None:
    """Reload the main Python code and run it (equivalent to hitting Ctrl-D at the REPL):
    supervisor/shared/reload.c reload_initiate(RUN_REASON_SUPERVISOR_RELOAD) raises the board's
    ReloadException into the running code."""
    from _vclock import ReloadException
    _harness.set_run_reason("SUPERVISOR_RELOAD")
    raise ReloadException()


def get_setting(key: str, default: object = None) -> object:
    """Parse ``key`` in /settings.toml: a quoted string -> str, ``true``/``false`` -> bool, an
    integer (C ``strtol`` base 0: ``42``, ``-7``, ``0x1F``, ``011`` is 9) -> int.

    ``default`` when the key or the file is missing; ``ValueError`` for anything else (floats
    included: supervisor/shared/settings.c settings_get_obj() has no float branch).
    """
    if not isinstance(key, (str, bytes)):
        raise TypeError("can't convert '%s' object to str implicitly" % type(key).__name__)
    err, value = _cpsettings.get_obj(_harness.settings_path(), key)
    if err in (_cpsettings.ERR_OPEN, _cpsettings.ERR_NOT_FOUND):
        return default
    if err == _cpsettings.ERR_UNICODE:
        raise ValueError("Invalid unicode escape")
    if err != _cpsettings.OK:
        raise ValueError("Invalid format")
    return value
