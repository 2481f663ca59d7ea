"""Stand-in for CircuitPython's ``_bleio`` on the Feather nRF52840 Express (Nordic port, S140).

Minimal for now: ``adapter`` (the one ``Adapter``), ``Address``, ``BluetoothError``, and
advertising. Scanning, connecting as a central and GATT services come later and raise
``NotImplementedError`` here rather than pretending.

It accepts what the board accepts and fails the same way; the rules come from
shared-bindings/_bleio/Adapter.c, shared-bindings/_bleio/Address.c, ports/nordic/common-hal/
_bleio/Adapter.c and __init__.c (check_nrf_error), py/argcheck.c:
- ``address_bytes`` is little-endian (least significant byte first); ``repr`` shows the display
  order, ``<Address c8:1d:f5:ed:a8:35>``. The board's own address is random static (type 1).
- The default ``name`` is "CIRCUITPY" + the last four hex digits of the address, lower case.
- ``start_advertising(data, *, scan_response=None, connectable=True, anonymous=False,
  timeout=0, interval=0.1, tx_power=0, directed_to=None)``, checked in the board's order:
  ``interval`` seen as the board's 30-bit float must lie in 0.02f..10.24f (``ValueError(
  "interval must be in range 0.02-10.24")``; note that 0.02 itself, rounded down to 30 bits,
  falls below 0.02f and is refused, 10.24 is accepted); more than 31 bytes of data with a scan
  response while connectable is ``BluetoothError("Cannot have scan responses for extended,
  connectable advertisements.")``; ``directed_to`` needs ``connectable`` and an ``Address``;
  then "Already advertising." (``BluetoothError``) while a previous ``start_advertising`` is on
  air; data or scan response over 255 bytes (238 when connectable) is ``ValueError("Data too
  large for advertisement packet")``; more than 31 bytes with any scan response is
  ``BluetoothError("Extended advertisements with scan response not supported.")``; directed
  advertising carries no data; a ``timeout`` over 180 s (computed in uint32 like the firmware's
  SEC_TO_UNITS, which wraps for huge values) is ``BluetoothError("Timeout is too long: Maximum
  timeout length is 180 seconds")``; ``anonymous`` forces the timeout to 180 s; a ``tx_power``
  the SoftDevice lacks (nRF52840: -40, -20, -16, -12, -8, -4, 0, 2..8 dBm) is ``ValueError(
  "Invalid BLE parameter")``.
- Data over 31 bytes (or a scan response over 31) goes out as BT5 extended advertising, which
  legacy (BT 4.x) scanners never see: the air log marks it ``extended``.
- Advertising stops when a central connects (``_harness.ble_connect()``) and is not restarted
  by itself; it may be started again while connected. ``enabled = False`` stops it too.
- ``advertising``, ``connected``, ``connections`` are read-only.

The shared-bindings default of ``tx_power`` is 0 in circuitpython-stubs 10.3.1 (what the
firmware is type-checked against); one stored copy of shared-bindings/_bleio/Adapter.c shows -20.
The stand-in uses 0; no firmware behaviour here depends on it.

Host-only, in ``_harness``: ``set_ble_address`` (the board's MAC, display order, default
C8:1D:F5:ED:A8:35), ``ble_air_log`` (each start: (t_ns, adv bytes, scan bytes, extended,
connectable)), ``ble_on_air``, ``ble_adv_events`` (every advertising event in a stretch of
virtual time), ``ble_connect`` / ``ble_disconnect``. ``_harness.reset()`` stops advertising,
drops connections and the log, and restores the default address and name.
"""
from typing import Any, Optional

import _harness
from _mpobj import get_float as _get_float, get_int as _get_int
from _cpfloat import f30, f32

__all__ = ["Adapter", "Address", "BluetoothError", "adapter"]


class BluetoothError(Exception):
    """Catchall exception for Bluetooth related errors."""


_LEGACY_MAX = 31  # BLE_GAP_ADV_SET_DATA_SIZE_MAX
_EXTENDED_MAX = 255  # BLE_GAP_ADV_SET_DATA_SIZE_EXTENDED_MAX_SUPPORTED (S140)
_EXTENDED_CONNECTABLE_MAX = 238  # BLE_GAP_ADV_SET_DATA_SIZE_EXTENDED_CONNECTABLE_MAX_SUPPORTED
_TIMEOUT_LIMITED_MAX = 18000  # BLE_GAP_ADV_TIMEOUT_LIMITED_MAX, in 10 ms units (180 s)
_PRIVATE_ADDR_CYCLE_S = 900  # BLE_GAP_DEFAULT_PRIVATE_ADDR_CYCLE_INTERVAL_S
_ADV_INTERVAL_MIN = f32(0.02)  # ADV_INTERVAL_MIN (0.02f)
_ADV_INTERVAL_MAX = f32(10.24)  # ADV_INTERVAL_MAX (10.24f)
_TX_POWERS = (-40, -20, -16, -12, -8, -4, 0, 2, 3, 4, 5, 6, 7, 8)  # nRF52840, S140
_DEVNAME_MAX = 248  # BLE_GAP_DEVNAME_MAX_LEN
_DEFAULT = object()  # an argument not given (an explicit None is an error for interval)


def _read_buffer(obj: object) -> bytes:
    """py/obj.c mp_get_buffer_raise(..., MP_BUFFER_READ); a str offers its UTF-8 bytes."""
    if isinstance(obj, str):
        return obj.encode("utf-8")
    try:
        return bytes(memoryview(obj).cast("B"))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError("object with buffer protocol required") from None


# --- Address ----------------------------------------------------------------------------------

class Address:
    """Encapsulates the address of a BLE device."""

    __slots__ = ("_bytes", "_type")
    _bytes: bytes
    _type: int

    PUBLIC = 0
    RANDOM_STATIC = 1
    RANDOM_PRIVATE_RESOLVABLE = 2
    RANDOM_PRIVATE_NON_RESOLVABLE = 3

    def __init__(self, address: object, address_type: object = 0) -> None:
        kind = _get_int(address_type)
        data = _read_buffer(address)
        if len(data) != 6:
            raise ValueError("address length must be 6")
        if not 0 <= kind <= 3:
            raise ValueError("address_type must be 0-3")
        object.__setattr__(self, "_bytes", data)
        object.__setattr__(self, "_type", kind)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("can't set attribute '%s'" % name)

    @property
    def address_bytes(self) -> bytes:
        """The address, least significant byte first (read-only)."""
        return self._bytes

    @property
    def type(self) -> int:
        return self._type

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Address) and other._type == self._type and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes) ^ self._type

    def __repr__(self) -> str:
        return "<Address %s>" % ":".join("%02x" % b for b in reversed(self._bytes))


def _address_from_display(display: "str | bytes") -> bytes:
    """``"C8:1D:F5:ED:A8:35"`` or 6 bytes in display order -> address_bytes (little-endian)."""
    if isinstance(display, str):
        raw = bytes.fromhex(display.replace(":", "").replace("-", ""))
    else:
        raw = bytes(display)
    if len(raw) != 6:
        raise ValueError("a BLE address has 6 bytes, got %d" % len(raw))
    return raw[::-1]


# --- the air, as the host sees it -------------------------------------------------------------

class _Advertising:
    """One ``start_advertising`` while it lasts: what the radio sends and when."""

    __slots__ = ("start_ns", "data", "scan", "extended", "connectable", "interval_ns", "stop_ns",
                 "anonymous", "tx_power")

    def __init__(self, start_ns: int, data: bytes, scan: bytes, extended: bool, connectable: bool,
                 interval_ns: int, stop_ns: Optional[int], anonymous: bool, tx_power: int) -> None:
        self.start_ns = start_ns
        self.data = data
        self.scan = scan
        self.extended = extended
        self.connectable = connectable
        self.interval_ns = interval_ns
        self.stop_ns = stop_ns  # None: until stopped
        self.anonymous = anonymous
        self.tx_power = tx_power

    def entry(self, t_ns: int) -> "tuple[int, bytes, bytes, bool, bool]":
        return (t_ns, self.data, self.scan, self.extended, self.connectable)


_log: "list[_Advertising]" = []
DEFAULT_ADDRESS = "C8:1D:F5:ED:A8:35"  # display order; random static (the two top bits set)
_board_address = _address_from_display(DEFAULT_ADDRESS)  # the chip's own, little-endian


# --- Adapter ----------------------------------------------------------------------------------

class Adapter:
    """The BLE adapter (``_bleio.adapter``, the only instance on a board with native BLE)."""

    __slots__ = ("_enabled", "_address", "_name", "_current", "_connections")
    _enabled: bool
    _address: bytes
    _name: str
    _current: Optional[_Advertising]
    _connections: int

    def __new__(cls, *args: object, **kwargs: object) -> "Adapter":
        # shared-bindings/_bleio/Adapter.c without CIRCUITPY_BLEIO_HCI
        raise NotImplementedError("Cannot create a new Adapter; use _bleio.adapter;")

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("enabled", "address", "name"):
            object.__setattr__(self, name, value)  # the property setters below
            return
        raise AttributeError("can't set attribute '%s'" % name)

    def _power_on(self) -> None:
        object.__setattr__(self, "_enabled", True)
        object.__setattr__(self, "_address", _board_address)
        object.__setattr__(self, "_current", None)
        object.__setattr__(self, "_connections", 0)
        self._reset_name()

    def _reset_name(self) -> None:
        """Adapter.c bleio_adapter_reset_name(): "CIRCUITPY" + hex of addr[1], addr[0]."""
        a = self._address
        object.__setattr__(self, "_name", "CIRCUITPY%02x%02x" % (a[1], a[0]))

    # --- state ---

    @property
    def enabled(self) -> bool:
        """State of the BLE adapter."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: object) -> None:
        on = bool(value)  # mp_obj_is_true
        if on == self._enabled:
            return
        if not on:
            self._stop()
            object.__setattr__(self, "_connections", 0)
        object.__setattr__(self, "_enabled", on)
        if on:
            self._reset_name()

    @property
    def address(self) -> Address:
        """MAC address of the BLE adapter (a new Address object at each read, as on the board)."""
        object.__setattr__(self, "_enabled", True)  # common_hal_bleio_adapter_get_address()
        return Address(self._address, Address.RANDOM_STATIC)

    @address.setter
    def address(self, value: object) -> None:
        if not isinstance(value, Address):
            raise BluetoothError("Could not set address")
        object.__setattr__(self, "_address", value.address_bytes)

    @property
    def name(self) -> str:
        """The name used once connected (and by adafruit_ble's default scan response)."""
        return self._name

    @name.setter
    def name(self, value: object) -> None:
        if not isinstance(value, str):
            raise TypeError("can't convert '%s' object to str implicitly" % type(value).__name__)
        raw = value.encode("utf-8")[:_DEVNAME_MAX]
        object.__setattr__(self, "_name", raw.decode("utf-8", "ignore"))

    @property
    def advertising(self) -> bool:
        """True while advertising (read-only)."""
        self._expire()
        return self._current is not None

    @property
    def connected(self) -> bool:
        """True while a central is connected (read-only)."""
        return self._connections > 0

    @property
    def connections(self) -> "tuple[Any, ...]":
        """Active connections (read-only). The stand-in has no Connection objects yet."""
        return ()

    # --- advertising ---

    def start_advertising(self, data: object, *, scan_response: object = None,
                          connectable: object = True, anonymous: object = False,
                          timeout: object = 0, interval: object = _DEFAULT, tx_power: object = 0,
                          directed_to: object = None) -> None:
        """Start advertising ``data`` (and ``scan_response`` to active scanners)."""
        # shared-bindings/_bleio/Adapter.c bleio_adapter_start_advertising(): argument parsing
        # converts the bools and ints first, then the buffers, the interval and the rest.
        is_connectable = bool(connectable)
        is_anonymous = bool(anonymous)
        timeout_int = _get_int(timeout)
        power = _get_int(tx_power)
        adv = _read_buffer(data)
        scan = b"" if scan_response is None else _read_buffer(scan_response)
        seconds = _get_float(0.1 if interval is _DEFAULT else interval)  # ADV_INTERVAL_DEFAULT
        if seconds < _ADV_INTERVAL_MIN or seconds > _ADV_INTERVAL_MAX:
            raise ValueError("interval must be in range 0.02-10.24")
        if len(adv) > _LEGACY_MAX and is_connectable and len(scan) > 0:
            raise BluetoothError("Cannot have scan responses for extended, connectable advertisements.")
        if directed_to is not None:
            if not is_connectable:
                raise BluetoothError("Only connectable advertisements can be directed")
            if not isinstance(directed_to, Address):
                raise TypeError("directed_to must be of type Address, not %s" % type(directed_to).__name__)

        # ports/nordic/common-hal/_bleio/Adapter.c common_hal_bleio_adapter_start_advertising()
        self._expire()
        if self._current is not None:
            raise BluetoothError("Already advertising.")
        for chunk in (adv, scan):
            if len(chunk) > _EXTENDED_MAX or (is_connectable and len(chunk) > _EXTENDED_CONNECTABLE_MAX):
                raise ValueError("Data too large for advertisement packet")
        if len(adv) > _LEGACY_MAX and len(scan) > 0:
            raise BluetoothError("Extended advertisements with scan response not supported.")
        if len(adv) > 0 and directed_to is not None:
            raise BluetoothError("Data not supported with directed advertising")
        duration_s = timeout_int & 0xFFFFFFFF  # uint32_t timeout
        if is_anonymous:
            duration_s = min(_TIMEOUT_LIMITED_MAX // 100, _PRIVATE_ADDR_CYCLE_S)
        elif ((duration_s * 1000000) & 0xFFFFFFFF) // 10000 > _TIMEOUT_LIMITED_MAX:  # SEC_TO_UNITS
            raise BluetoothError("Timeout is too long: Maximum timeout length is %d seconds"
                                 % (_TIMEOUT_LIMITED_MAX // 100))
        if not self._enabled:
            # The SoftDevice is off: its first call answers NRF_ERROR_SOFTDEVICE_NOT_ENABLED (2),
            # which check_nrf_error() turns into this (inferred, not seen on a board).
            raise BluetoothError("Unknown system firmware error: 0002")
        extended = len(adv) > _LEGACY_MAX or len(scan) > _LEGACY_MAX
        if extended and is_connectable and len(scan) > 0:
            # A scan response > 31 bytes makes an extended connectable *non-scannable* set, which
            # the SoftDevice refuses in sd_ble_gap_adv_set_configure (NRF_ERROR_INVALID_PARAM).
            raise ValueError("Invalid BLE parameter")
        if power not in _TX_POWERS:
            raise ValueError("Invalid BLE parameter")  # sd_ble_gap_tx_power_set()
        # .interval = SEC_TO_UNITS(interval, UNIT_0_625_MS) + 0.5f, in single precision, uint16
        units = int(f32(f32(f32(seconds * 1000000.0) / 625.0) + 0.5)) & 0xFFFF
        # .duration = SEC_TO_UNITS(timeout, UNIT_10_MS) in uint32 arithmetic; 0 is unlimited
        duration_units = ((duration_s * 1000000) & 0xFFFFFFFF) // 10000
        now = _harness.clock().now_ns()
        stop = None if duration_units == 0 else now + duration_units * 10_000_000
        current = _Advertising(now, adv, scan, extended, is_connectable, units * 625_000, stop,
                               is_anonymous, power)
        object.__setattr__(self, "_current", current)
        _log.append(current)
        for observer in _observers:
            observer(current.entry(current.start_ns))

    def stop_advertising(self) -> None:
        """Stop sending advertising packets (nothing happens when none are being sent)."""
        self._stop()

    def _stop(self) -> None:
        current = self._current
        if current is not None:
            now = _harness.clock().now_ns()
            if current.stop_ns is None or current.stop_ns > now:
                current.stop_ns = now
            object.__setattr__(self, "_current", None)

    def _expire(self) -> None:
        """A timed advertisement ends by itself (BLE_GAP_EVT_ADV_SET_TERMINATED)."""
        current = self._current
        if current is not None and current.stop_ns is not None and current.stop_ns <= _harness.clock().now_ns():
            object.__setattr__(self, "_current", None)

    # --- what later issues add ---

    def start_scan(self, *args: object, **kwargs: object) -> Any:
        raise NotImplementedError("host stand-in: _bleio scanning is not simulated")

    def stop_scan(self) -> None:
        pass

    def connect(self, *args: object, **kwargs: object) -> Any:
        raise NotImplementedError("host stand-in: _bleio central connections are not simulated")

    def erase_bonding(self) -> None:
        pass

    def __repr__(self) -> str:
        return "<Adapter>"


adapter: Adapter = object.__new__(Adapter)


# --- host-only, called through _harness -------------------------------------------------------

def _reset() -> None:
    global _board_address
    _log.clear()
    _observers.clear()
    _board_address = _address_from_display(DEFAULT_ADDRESS)
    adapter._power_on()


def _set_board_address(display: "str | bytes") -> None:
    global _board_address
    _board_address = _address_from_display(display)
    adapter._stop()
    adapter._power_on()


def _board_address_display() -> str:
    return ":".join("%02X" % b for b in reversed(_board_address))


def _connect() -> None:
    """A central connects: advertising stops (Adapter.c advertising_on_ble_evt)."""
    adapter._stop()
    object.__setattr__(adapter, "_connections", adapter._connections + 1)


def _disconnect() -> None:
    if adapter._connections:
        object.__setattr__(adapter, "_connections", adapter._connections - 1)


_observers: "list[Any]" = []


def _observe(callback: Any) -> None:
    """Host only: call ``callback(entry)`` at every start_advertising (entry as in ``_air_log``)."""
    _observers.append(callback)


def _air_log() -> "list[tuple[int, bytes, bytes, bool, bool]]":
    return [entry.entry(entry.start_ns) for entry in _log]


def _on_air(t_ns: int) -> "Optional[tuple[int, bytes, bytes, bool, bool]]":
    for entry in reversed(_log):
        if entry.start_ns <= t_ns and (entry.stop_ns is None or t_ns < entry.stop_ns):
            return entry.entry(entry.start_ns)
    return None


def _adv_events(start_ns: int, end_ns: int) -> "list[tuple[int, bytes, bytes, bool, bool]]":
    """Every advertising event in [start_ns, end_ns): the first at each start, then one per
    interval (the 0-10 ms advDelay the spec adds to each event is left out: deterministic)."""
    events = []
    for entry in _log:
        stop = end_ns if entry.stop_ns is None else min(entry.stop_ns, end_ns)
        t = entry.start_ns
        if t < start_ns:
            t += -(-(start_ns - t) // entry.interval_ns) * entry.interval_ns
        while t < stop:
            events.append(entry.entry(t))
            t += entry.interval_ns
    events.sort(key=lambda e: e[0])
    return events


_harness.on_reset(_reset)
_reset()
