"""The one place where the host wires the CircuitPython stand-ins to the simulation.

State is module-level, like the board's own: one clock, one set of wires, one settings file.
Tests and the runner call ``reset()`` first; it also forgets the wiring, the settings path and
the NVM file (the NVM comes back erased unless ``set_nvm_file`` is called again).

Far end of a UART (see ``attach_far_end``): any object with
    transmit(data: bytes, start_ns: int, char_ns: int) -> None
        the board began sending ``data`` at ``start_ns``; byte i has left at start_ns+(i+1)*char_ns
    next_arrival_ns() -> int | None
        when the next byte towards the board arrives, or None if nothing is coming
    pop_arrivals(until_ns: int) -> list[tuple[int, int]]
        the (arrival_ns, byte) pairs that reached the board by ``until_ns``, oldest first
"""
from typing import Any, Callable, Optional

from _vclock import HostPowerCut, HostReset, HostSpin, HostStop, ReloadException, VirtualClock

__all__ = [
    "HostStop", "HostSpin", "HostPowerCut", "VirtualClock", "reset", "clock", "on_reset",
    "attach_far_end", "attach_serial", "uart_link",
    "set_settings_path", "settings_path", "set_drive_path", "drive_path",
    "set_serial_connected", "serial_connected", "set_cpu_uid", "cpu_uid",
    "set_nvm_file", "nvm_file", "nvm_cut_power_after", "nvm_write_log", "nvm_write_count",
    "nvm_page_erases", "aes_block_count", "set_ble_address", "ble_address", "ble_air_log",
    "ble_on_air", "on_ble_advertise", "ble_adv_events", "ble_connect", "ble_disconnect",
    "ble_central", "CentralError",
    "HostReset", "button_press", "button_release", "pin_history", "watchdog_deadline_ns",
    "ReloadException", "reset_cause", "POWER_ON", "SOFTWARE", "WATCHDOG", "RELOAD",
    "set_usb_power", "usb_power", "set_circuitpython", "circuitpython", "FIXED", "V10_2_1",
    "set_safe_mode_reason", "safe_mode_reason", "set_run_reason", "run_reason",
    "nvm_fail_next", "sleep_memory",
]

# What started this run of the stand-ins (``reset(cause=...)``): what survives depends on it.
POWER_ON = "power_on"   # power applied (or a brown-out): every RAM and the WDT start afresh
SOFTWARE = "software"   # NVIC_SystemReset (ports/nordic/supervisor/port.c reset_cpu()): the WDT
#                         runs on; RAM in .uninitialized (sleep memory, the safe-mode word) stays
WATCHDOG = "watchdog"   # the nRF WDT bit: the WDT itself is reset (stopped); RESETREAS.DOG set
RELOAD = "reload"       # no chip reset: the supervisor ends the VM and starts code.py again

# The CircuitPython release the twin behaves as, where releases differ (the watchdog at the end
# of a run; see watchdog.py): 10.2.1, the newest release tag, or the behaviour after upstream
# PR #11295 (later than 10.2.1).
V10_2_1 = "10.2.1"
FIXED = "fixed"

DEFAULT_UID = bytes.fromhex("4b41534b41443031")  # 8 bytes, like the nRF52840 FICR device id

_clock: VirtualClock = VirtualClock()
_links: "dict[tuple[Optional[str], Optional[str]], tuple[str, Any]]" = {}
_settings_path: Optional[str] = None
_drive_path: Optional[str] = None
_serial_connected = True
_uid = DEFAULT_UID
_reset_hooks: "list[Callable[[], None]]" = []
_cause = POWER_ON
_usb_power = True
_version = V10_2_1
_safe_mode_reason: Optional[str] = None
_run_reason = "STARTUP"


def reset(clock: Optional[VirtualClock] = None, realtime: bool = False,
          cause: str = POWER_ON) -> VirtualClock:
    """Start a fresh simulated board: a new clock (or ``clock``), no wiring, no settings file.

    Every stand-in that holds hardware (claimed pins, live UARTs) is released, as at power-on.
    ``cause`` (POWER_ON, SOFTWARE, WATCHDOG, RELOAD) says what the board went through: the
    stand-ins keep what the board keeps (the running WDT after a software reset or a reload,
    the NVM contents, the sleep memory); pass the running clock for anything but POWER_ON, as
    the board's tick count runs on across resets (port.c reset_cpu() saves it). The USB power
    and the CircuitPython version stay as set (they are the bench, not the board).
    Returns the clock in use.
    """
    global _clock, _settings_path, _drive_path, _serial_connected, _uid, _cause, _safe_mode_reason
    global _run_reason
    if cause not in (POWER_ON, SOFTWARE, WATCHDOG, RELOAD):
        raise ValueError("unknown reset cause %r" % (cause,))
    _cause = cause
    if cause != RELOAD:
        _safe_mode_reason = None
        _run_reason = "STARTUP"
    _clock = clock if clock is not None else VirtualClock(realtime=realtime)
    _links.clear()
    _settings_path = None
    _drive_path = None
    _serial_connected = _usb_power
    _uid = DEFAULT_UID
    for hook in list(_reset_hooks):
        hook()
    return _clock


def reset_cause() -> str:
    """What the last ``reset()`` modelled: POWER_ON, SOFTWARE, WATCHDOG or RELOAD."""
    return _cause


def set_usb_power(present: bool) -> None:
    """Whether USB power (VBUS) is present: a computer or a USB charger. Without it there is no
    serial console either. ports/nordic/supervisor/port.c port_init() boots into safe mode after
    a watchdog reset only when VBUS is detected."""
    global _usb_power, _serial_connected
    _usb_power = bool(present)
    _serial_connected = _usb_power


def usb_power() -> bool:
    return _usb_power


def set_circuitpython(version: str) -> None:
    """Behave as CircuitPython ``V10_2_1`` or ``FIXED`` (after PR #11295) where they differ."""
    global _version
    if version not in (V10_2_1, FIXED):
        raise ValueError("version must be %r or %r" % (V10_2_1, FIXED))
    _version = version


def circuitpython() -> str:
    return _version


def set_safe_mode_reason(name: Optional[str]) -> None:
    """The supervisor's safe mode for this boot (a ``supervisor.SafeModeReason`` name), or None."""
    global _safe_mode_reason
    _safe_mode_reason = name


def safe_mode_reason() -> Optional[str]:
    return _safe_mode_reason


def set_run_reason(name: str) -> None:
    """Why this run of code.py started (a ``supervisor.RunReason`` name)."""
    global _run_reason
    _run_reason = name


def run_reason() -> str:
    return _run_reason

def clock() -> VirtualClock:
    """The clock every stand-in uses."""
    return _clock


def on_reset(hook: Callable[[], None]) -> None:
    """Register ``hook`` to run on every ``reset()`` (stand-ins use it to release hardware)."""
    if hook not in _reset_hooks:
        _reset_hooks.append(hook)


def _pin_key(name: Optional[str]) -> Optional[str]:
    """Canonical name of a board pin given by any of its aliases (``"D3"`` and ``"LED"`` agree)."""
    if name is None:
        return None
    import board  # the stand-in; imported late to keep this module free of cycles
    pin = getattr(board, name)  # AttributeError for a name the board lacks, like the board
    return pin._name


def attach_far_end(tx_pin_name: Optional[str], rx_pin_name: Optional[str], far_end: Any) -> None:
    """Connect ``far_end`` to a UART built on these board pins (names such as ``"TX"``, ``"RX"``).

    Attach before the UART is built: it looks up its far end once, in its constructor.
    A UART whose pins have nothing attached talks to an idle line: writes vanish, reads time out.
    """
    for method in ("transmit", "next_arrival_ns", "pop_arrivals"):
        if not callable(getattr(far_end, method, None)):
            raise TypeError("far end lacks %s()" % method)
    _links[(_pin_key(tx_pin_name), _pin_key(rx_pin_name))] = ("sim", far_end)


def attach_serial(port_path: str, tx_pin_name: Optional[str] = "TX",
                  rx_pin_name: Optional[str] = "RX") -> None:
    """Connect a UART on these pins to a real serial port through pyserial (real time).

    The clock must be in realtime mode (``reset(realtime=True)``) when the UART is built.
    """
    _links[(_pin_key(tx_pin_name), _pin_key(rx_pin_name))] = ("serial", port_path)


def uart_link(tx_name: Optional[str], rx_name: Optional[str]) -> "tuple[str, Any] | None":
    """What a UART on these (canonical) pin names talks to: ("sim", far_end), ("serial", path) or None."""
    return _links.get((tx_name, rx_name))


def set_settings_path(path: Optional[str]) -> None:
    """The host file that plays ``/settings.toml`` on the CIRCUITPY drive (None: no such file)."""
    global _settings_path
    _settings_path = path


def settings_path() -> Optional[str]:
    return _settings_path


def set_drive_path(path: Optional[str]) -> None:
    """The host directory that plays the root of the CIRCUITPY drive (for ``os.listdir``)."""
    global _drive_path
    _drive_path = path


def drive_path() -> Optional[str]:
    return _drive_path


def set_serial_connected(connected: bool) -> None:
    """Whether a terminal is open on the USB serial console (``supervisor.runtime.serial_connected``)."""
    global _serial_connected
    _serial_connected = bool(connected)


def serial_connected() -> bool:
    return _serial_connected


def set_cpu_uid(uid: bytes) -> None:
    """The chip's unique id (``microcontroller.cpu.uid``)."""
    global _uid
    _uid = bytes(uid)


def cpu_uid() -> bytes:
    return _uid


# --- microcontroller.nvm (the flash model is in nvm.py, imported late: it imports this module) --

def set_nvm_file(path: Optional[str]) -> None:
    """Keep ``microcontroller.nvm`` in the host file ``path``: its contents now, every store after.

    A missing file is created erased (8192 bytes of 0xFF); a file of another size is a ValueError.
    Without a file (or after ``reset()``) the NVM lives in memory and each ``reset()`` erases it.
    ``None`` detaches the file and keeps the contents in memory.
    """
    import nvm
    nvm._attach_file(path)


def nvm_file() -> Optional[str]:
    import nvm
    return nvm._file


def nvm_cut_power_after(n_bytes: Optional[int]) -> None:
    """Cut the power during the next NVM store (slice or index), after ``n_bytes`` of it.

    The store keeps its first ``n_bytes`` (and, as flash does, leaves the rest of the page it was
    writing erased: 0xFF), saves that to the NVM file if there is one, then raises
    ``HostPowerCut``. ``n_bytes`` >= the store's length: the store completes, then the power goes.
    One-shot; ``None`` disarms. A zero-length store touches no flash and leaves it armed.
    """
    import nvm
    nvm._arm_cut(n_bytes)


def nvm_fail_next(n_stores: int = 1) -> None:
    """The next ``n_stores`` NVM stores fail as the board's can (the SoftDevice refuses the flash
    operation, e.g. while the radio is busy): ``RuntimeError("Unable to write to nvm.")``
    (shared-bindings/nvm/ByteArray.c) and the flash unchanged. 0 disarms."""
    import nvm
    nvm._arm_failures(n_stores)


def sleep_memory() -> bytearray:
    """The 256 bytes of ``alarm.sleep_memory`` as they stand (for tests to look at)."""
    import alarm
    return bytearray(alarm._memory)


def nvm_write_log() -> "list[tuple[int, int, int]]":
    """Every NVM store since ``reset()``: (offset, length, virtual time ns when it began), in order."""
    import nvm
    return list(nvm._log)


def nvm_write_count() -> int:
    """How many NVM stores since ``reset()`` (each erases and rewrites at least one 4 KB page)."""
    import nvm
    return len(nvm._log)


def nvm_page_erases() -> "list[int]":
    """Erases of each 4 KB NVM page since ``reset()`` (the nRF52840 endures 10 000 per page)."""
    import nvm
    return list(nvm._erases)


# --- aesio (the counter lives in aesio.py, imported late) ---------------------------------------

def aes_block_count() -> int:
    """AES block operations (16-byte encryptions or decryptions) done by ``aesio`` since ``reset()``."""
    import aesio
    return aesio._blocks


# --- _bleio (the radio model is in _bleio.py, imported late: it imports this module) -------------

def set_ble_address(display: "str | bytes") -> None:
    """The board's BLE MAC in display order (``"C8:1D:F5:ED:A8:35"`` or 6 bytes, most significant
    first); ``_bleio.adapter.address.address_bytes`` gives it reversed, as on the board.
    Lasts until ``reset()`` (default C8:1D:F5:ED:A8:35); the adapter's default name follows it."""
    import _bleio
    _bleio._set_board_address(display)


def ble_address() -> str:
    """The board's BLE MAC in display order, e.g. ``"C8:1D:F5:ED:A8:35"``."""
    import _bleio
    return _bleio._board_address_display()


def ble_air_log() -> "list[tuple[int, bytes, bytes, bool, bool]]":
    """Every ``start_advertising`` since ``reset()``: (virtual time ns, advertising data, scan
    response (b"" if none), extended (over 31 bytes: legacy scanners never see it), connectable)."""
    import _bleio
    return _bleio._air_log()


def on_ble_advertise(callback: "Callable[[tuple[int, bytes, bytes, bool, bool]], None]") -> None:
    """Call ``callback(entry)`` each time the firmware starts advertising (until ``reset()``);
    the entry is shaped like those of ``ble_air_log()``."""
    import _bleio
    _bleio._observe(callback)


def ble_on_air(t_ns: "int | None" = None) -> "tuple[int, bytes, bytes, bool, bool] | None":
    """The entry of ``ble_air_log()`` on air at ``t_ns`` (now by default), or None if silent."""
    import _bleio
    return _bleio._on_air(clock().now_ns() if t_ns is None else t_ns)


def ble_adv_events(start_ns: int, end_ns: int) -> "list[tuple[int, bytes, bytes, bool, bool]]":
    """Each advertising event the radio sends in [start_ns, end_ns), oldest first, as
    (event time ns, advertising data, scan response, extended, connectable): one at each start,
    then one per advertising interval until stopped (or its timeout)."""
    import _bleio
    return _bleio._adv_events(start_ns, end_ns)


class CentralError(Exception):
    """What a fake central (``ble_central``) meets: refused connection, ATT error, not connected."""


def ble_central(mtu: int = 23) -> Any:
    """A fake central (a phone or PC) with this ATT MTU (23-517), not yet connected: see
    ``_bleio._Central`` for ``connect``, ``disconnect``, ``connected``, ``services``,
    ``characteristics``, ``read``, ``write``, ``subscribe``, ``unsubscribe``, ``notifications``,
    ``take_notifications``. ``reset()`` ends its link (the board is powered afresh)."""
    import _bleio
    return _bleio._Central(mtu)


def ble_connect() -> Any:
    """A central connects to the board whatever is on air (even with no advertisement):
    advertising stops, ``adapter.connected`` becomes True. Returns that central (ATT MTU 23)."""
    import _bleio
    return _bleio._connect()


def ble_disconnect() -> None:
    """The most recently connected central still connected disconnects (advertising stays
    stopped until the firmware restarts it); nothing happens when none is connected."""
    import _bleio
    _bleio._disconnect()


# --- digitalio / keypad / watchdog (the models are in digitalio.py and watchdog.py) ---------------

def _wire(pin_name: str, at_ns: Optional[int], level: Optional[bool]) -> None:
    import digitalio
    name = _pin_key(pin_name)
    assert name is not None
    t = clock().now_ns() if at_ns is None else int(at_ns)
    line = digitalio._external.setdefault(name, [])
    if line and t < line[-1][0]:
        raise ValueError("button events must come in time order (%d < %d)" % (t, line[-1][0]))
    line.append((t, level))


def button_press(pin_name: str = "SWITCH", at_ns: Optional[int] = None) -> None:
    """A button from this board pin to ground closes at ``at_ns`` (now by default): the pin reads
    low from then on, whatever its pull. Events on one pin must come in time order; a press in
    the future is allowed (keypad and DigitalInOut see it when the clock gets there)."""
    _wire(pin_name, at_ns, False)


def button_release(pin_name: str = "SWITCH", at_ns: Optional[int] = None) -> None:
    """The button opens at ``at_ns`` (now by default): the pin reads its pull again."""
    _wire(pin_name, at_ns, None)


def pin_history(pin_name: str = "LED") -> "list[tuple[int, bool]]":
    """Every level a ``DigitalInOut`` output drove on this pin since ``reset()``:
    (virtual time ns, level), oldest first (repeats of the same level included)."""
    import digitalio
    name = _pin_key(pin_name)
    return list(digitalio._history.get(name or "", ()))


def watchdog_deadline_ns() -> Optional[int]:
    """When the running nRF WDT (``WatchDogMode.RESET``) resets the board unless fed, or None.

    The clock advance that would pass this time stops exactly at it and raises ``HostReset``
    (a BaseException, not a HostStop): ``time.sleep``, a UART read, anything that waits.
    """
    import watchdog
    return watchdog._deadline_ns()
