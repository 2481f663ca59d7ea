"""Stand-in for CircuitPython's ``_bleio`` on the Feather nRF52840 Express (Nordic port, S140).

Advertising, the GATT server (``UUID``, ``Attribute``, ``Service``, ``Characteristic``,
``CharacteristicBuffer``) and the board's side of connections (``Connection``). Scanning, the
board as a central (``Adapter.connect``), pairing and remote services raise
``NotImplementedError`` rather than pretending. A host-only fake central (``_Central``, made by
``_harness.ble_central``) plays the phone or PC that connects to the board.

It accepts what the board accepts and fails the same way. Sources (CircuitPython 9.x-10.x):
shared-bindings/_bleio/{Adapter,Address,UUID,Service,Characteristic,CharacteristicBuffer,
Connection}.c, shared-module/_bleio/{Attribute,Characteristic}.h/.c, ports/nordic/common-hal/
_bleio/{Adapter,__init__,UUID,Service,Characteristic,CharacteristicBuffer,Connection}.c,
ports/nordic/bluetooth/ble_drv.c, py/{argcheck,stream,ringbuf}.c, the S140 ble_gatts.h.
"inferred" marks a rule read from the API or the SoftDevice documentation but not from the
firmware itself (or not seen on a board).

Advertising (Adapter.c, Address.c, __init__.c check_nrf_error, py/argcheck.c):
- ``address_bytes`` is little-endian (least significant byte first); ``repr`` shows the display
  order, ``<Address c8:1d:f5:ed:a8:35>``. The board's own address is random static (type 1).
- The default ``name`` is "CIRCUITPY" + the last four hex digits of the address, lower case.
- ``start_advertising(data, *, scan_response=None, connectable=True, anonymous=False,
  timeout=0, interval=0.1, tx_power=0, directed_to=None)``, checked in the board's order:
  ``interval`` seen as the board's 30-bit float must lie in 0.02f..10.24f (``ValueError(
  "interval must be in range 0.02-10.24")``; 0.02 and 10.24 themselves read back as exactly
  0.02f and 10.24f, since py/obj.h refills the two dropped mantissa bits, and are accepted); more than 31 bytes of data with a scan
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
  "Invalid BLE parameter")``; connectable advertising while all 4 peripheral links
  (BLEIO_PERIPH_ROLE_COUNT, Adapter.c) are in use is ``BluetoothError("Unknown system firmware
  error: 0012")`` (NRF_ERROR_CONN_COUNT from sd_ble_gap_adv_start; inferred from the S140 API).
- Data over 31 bytes (or a scan response over 31) goes out as BT5 extended advertising, which
  legacy (BT 4.x) scanners never see: the air log marks it ``extended``.
- Advertising stops when a central connects and is not restarted by itself; it may be started
  again while connected. ``enabled = False`` stops it too.
- ``advertising``, ``connected``, ``connections`` are read-only.

The shared-bindings default of ``tx_power`` is 0 in circuitpython-stubs 10.3.1 (what the
firmware is type-checked against); one stored copy of shared-bindings/_bleio/Adapter.c shows -20.
The stand-in uses 0; no firmware behaviour here depends on it.

UUID (shared-bindings/_bleio/UUID.c, nordic UUID.c, Adapter.c):
- ``UUID(value)``: an ``int`` (exactly int: a bool is no int to the board) 0..0xFFFF is a 16-bit
  UUID, else ``ValueError("UUID integer value must be 0-0xffff")`` (a long int beyond 32 bits:
  ``OverflowError``); a ``str`` must be exactly 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx' (36
  characters, hex digits of either case; 32 digits without hyphens are refused), else
  ``ValueError("UUID string not 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'")``; a buffer must hold 16
  bytes, little-endian (``ValueError("Byte buffer must be 16 bytes.")``); anything else, another
  ``UUID`` included, is ``ValueError("UUID value is not str, int or byte buffer")``.
- With the adapter disabled, a 128-bit UUID, a ``Service`` or ``add_to_service`` is
  ``BluetoothError("Unknown system firmware error: 0002")`` (inferred, as for advertising).
- A 128-bit UUID registers its base (bytes 12-13 zeroed) with the SoftDevice; 75 distinct bases
  fit (BLEIO_VS_UUID_COUNT), the 76th is ``MemoryError("Nordic system firmware out of memory")``.
- ``uuid16`` (for a 128-bit UUID: bytes 12-13), ``uuid128`` (16 bytes little-endian;
  ``AttributeError("not a 128-bit UUID")`` for a 16-bit one), ``size`` (16 or 128).
  ``pack_into(buffer, *, offset=0)``: ``offset`` is keyword-only, the buffer must be writable;
  ``offset + size/8 > len`` (in size_t arithmetic) is ``ValueError("Buffer + offset too small %d
  %d %d")`` -- the board prints the format unfilled. A negative offset that wraps past that check
  writes before the buffer on the board; the stand-in raises RuntimeError instead.
- Equal when both are 16-bit with the same value, or both 128-bit with the same bytes; a 16-bit
  and a 128-bit UUID are never equal; a UUID never equals another type (even an adafruit_ble
  UUID: the board's binary op answers False itself). ``hash``: the 16-bit value, or the sum of
  the eight little-endian 16-bit words of the 128-bit value. ``repr`` and ``str``:
  ``UUID(0x180f)`` / ``UUID('6e400001-b5a3-f393-e0a9-e50e24dcca9e')``.

GATT server (Service.c, Characteristic.c, Attribute.c, nordic Service.c/Characteristic.c):
- ``Attribute`` security modes: NO_ACCESS 0x00, OPEN 0x11, ENCRYPT_NO_MITM 0x21,
  ENCRYPT_WITH_MITM 0x31, LESC_ENCRYPT_WITH_MITM 0x41, SIGNED_NO_MITM 0x12, SIGNED_WITH_MITM
  0x22. ``Characteristic`` properties: BROADCAST 1, INDICATE 2, NOTIFY 4, READ 8, WRITE 16,
  WRITE_NO_RESPONSE 32. ``Attribute()``, ``Characteristic()``, ``Connection()`` are
  ``TypeError("cannot create '...' instances")``.
- ``Service(uuid, *, secondary=False)`` adds the service to the GATT table at once; it cannot be
  removed (``deinit()`` does nothing on nordic). A non-UUID is ``TypeError("uuid must be of type
  UUID, not str")``. ``characteristics`` (a new tuple), ``remote`` (False), ``secondary``,
  ``uuid``.
- ``Characteristic.add_to_service(service, uuid, *, properties=0, read_perm=Attribute.OPEN,
  write_perm=Attribute.OPEN, max_length=20, fixed_length=False, initial_value=None,
  user_description=None)``, in the board's order: the ints convert first (a float is
  ``TypeError``); ``service``/``uuid`` of the wrong type: ``TypeError("service must be of type
  Service, not ...")``; ``properties`` is kept as a uint8_t, so bits above 7 are silently dropped
  and bits 6-7 are ``ValueError("Invalid properties")``; a perm outside the seven modes is
  ``ValueError("Invalid security_mode")``; ``max_length < 0`` is ``ValueError("max_length must be
  >= 0")``; no ``initial_value`` means ``max_length`` zeros when fixed (else empty); a longer
  initial value, or one not exactly ``max_length`` long when fixed, is ``ValueError(
  "initial_value length is wrong")``; ``user_description`` must be a str; then ``max_length``
  over 512 (510 when ``fixed_length``) is ``ValueError("max_length must be 0-512 when
  fixed_length is False")``. The SoftDevice adds characteristics only to the most recently
  added service: adding to an older one is ``ValueError("Invalid BLE parameter")`` (inferred
  from ble_gatts.h). The attribute-table size limit is not modelled.
- A local characteristic has ``properties``, ``uuid``, ``value``, ``descriptors`` (always ``()``:
  the user description lives inside the SoftDevice), ``set_cccd``, ``deinit`` (no effect here;
  inferred) -- and no ``max_length`` nor ``service`` (not in the board's locals table).
- ``value`` reads a new bytearray of the current value. Setting it: with ``fixed_length`` any
  other length is ``ValueError("Value length != required fixed length")``, then over
  ``max_length`` is ``ValueError("Value length > max_length")``; the value is stored whether or
  not anyone is connected; then each connection whose central enabled notifications in the CCCD
  gets a notification, and each one that enabled indications an indication. A notification or
  indication carries the first ATT_MTU-3 bytes (sd_ble_gatts_hvx sends one PDU and CircuitPython
  ignores the length it reports back: inferred). Only one indication may be unconfirmed per
  connection: setting the value again within two connection intervals of an indication is
  ``BluetoothError("Unknown system firmware error: 0011")`` (NRF_ERROR_BUSY; the firmware only
  retries NRF_ERROR_RESOURCES; the timing is inferred). Notifications cost no virtual time.
- ``set_cccd(*, notify=False, indicate=False)`` on a local characteristic: without NOTIFY or
  INDICATE ``BluetoothError("No CCCD for this Characteristic")``, else ``RoleError("Can't set
  CCCD on local Characteristic")``.
- Centrals see permissions as the SoftDevice enforces them: NO_ACCESS is "read/write not
  permitted", any mode needing encryption "insufficient authentication" (this central never
  pairs). A CCCD's write permission is the characteristic's *read* permission (nordic
  Service.c), so a NOTIFY characteristic with ``read_perm=NO_ACCESS`` cannot be subscribed to.

CharacteristicBuffer (shared-bindings CharacteristicBuffer.c, nordic CharacteristicBuffer.c,
py/stream.c, py/ringbuf.c, py/argcheck.c):
- ``CharacteristicBuffer(characteristic, *, timeout=1.0, buffer_size=64)``; there is no
  ``max_packet_size`` and no ``deinited`` on the board. ``buffer_size`` converts first (float:
  ``TypeError``); then ``TypeError("characteristic must be of type Characteristic, not ...")``,
  ``ValueError("timeout must be >= 0")`` (``TypeError("timeout must be of type float, not
  str")``), ``ValueError("buffer_size must be >= 1")`` (messages of the argcheck helpers: inferred
  for 10.x). ``timeout_ms = timeout * 1000`` in single precision, truncated.
- Every central write to the characteristic appends its bytes to a ring of exactly
  ``buffer_size`` bytes: writes are not framed, two writes concatenate. When the ring is full the
  NEW bytes that do not fit are dropped (ringbuf_put_n stops at the first byte that fails); what
  is queued stays.
- One driver read of n bytes waits, in one window of ``timeout`` measured in whole ms from the
  call, until the ring holds n bytes (the stand-in advances the virtual clock to the end of the
  window: nothing can arrive meanwhile), then takes what is there. It never reports EAGAIN, so
  ``read(n)`` returns b"" (never None) when nothing came, and repeats driver reads until n bytes
  or one brings nothing; ``read()`` reads 256 at a time until one brings nothing (each read
  waits its own window: with timeout=1 and data waiting, 2 s pass); ``readinto(buf)`` returns
  the count (0 when nothing came; a length argument is ``ValueError("length argument not allowed
  for this type")``); ``readline()`` reads one byte per window up to b"\n". ``read``,
  ``readinto`` and ``readline`` take positional arguments only. timeout=0 never waits.
- ``in_waiting`` (a clock poll, like ``UART.in_waiting``: a busy-wait on it is caught),
  ``reset_input_buffer()``; after ``deinit()`` (which stops the queueing) those and
  any read of at least one byte are ``ValueError("Object has been deinitialized and can no longer
  be used. Create a new object.")``; ``read(0)`` still gives b"". No ``write``.

Connection (shared-bindings Connection.c, nordic Connection.c, Adapter.c):
- ``adapter.connections`` is a tuple of the live links in connection-slot order (a new link takes
  the lowest free of 5 slots); the same tuple object until a link opens or closes, and the same
  ``Connection`` object for a link as long as it lasts. At most 4 centrals at once.
- ``connected``, ``paired`` (always False here), ``disconnect()`` (the link ends at once, the
  central sees it; nothing happens on a dead link), ``max_packet_length`` (ATT_MTU - 3),
  ``connection_interval`` (ms, 1.25 x the interval in 1.25 ms units; the central accepts the
  board's preferred 24 units = 30.0 ms at once -- the firmware asks MSEC_TO_UNITS(15,
  UNIT_0_625_MS), a 0.625 ms macro for a 1.25 ms field; setting it takes ``interval/1.25f``
  truncated, 6..3200 units (inferred) else ``ValueError("Invalid BLE parameter")``). On a dead
  link ``connection_interval``, ``max_packet_length``, ``pair()`` and
  ``discover_remote_services()`` are ``ConnectionError("Connection has been disconnected and can
  no longer be used. Create a new connection.")``; on a live one ``pair()`` and
  ``discover_remote_services()`` are not simulated (NotImplementedError). No peer address.
- ATT_MTU: the board answers an exchange with min(client MTU, 512), never below 23
  (Connection.c BLE_GATTS_EVT_EXCHANGE_MTU_REQUEST). CCCDs start off on every connection (no
  bonding).
- The radio is off at power-on (``enabled`` is False: the supervisor's BLE workflow stays off on
  a USB board that is not bonded, supervisor/shared/bluetooth/bluetooth.c); reading ``address``
  or setting ``enabled = True`` turns it on.
- ``adapter.enabled = False`` ends every link and forgets the GATT table and registered UUID
  bases (sd_softdevice_disable); Python objects made before keep working locally, which the
  board does not promise (not modelled).

Fake central (host only, ``_harness.ble_central(mtu=23)`` -> ``_Central``): see ``_Central``.
UUID strings there: 128-bit as lower-case 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', 16-bit in the
board's ``str`` form 'UUID(0x2a19)'; as input also the Bluetooth base form
'00002a19-0000-1000-8000-00805f9b34fb', any case, or a ``UUID`` object.

Host-only, in ``_harness``: ``set_ble_address`` (the board's MAC, display order, default
C8:1D:F5:ED:A8:35), ``ble_air_log`` (each start: (t_ns, adv bytes, scan bytes, extended,
connectable)), ``ble_on_air``, ``ble_adv_events`` (every advertising event in a stretch of
virtual time), ``ble_connect`` / ``ble_disconnect``, ``ble_central``, ``CentralError``.
``_harness.reset()`` stops advertising, drops connections, centrals' links, the GATT table,
buffers and the log, and restores the default address and name (a freshly powered board).
"""
import math
from typing import Any, Optional

import _harness
from _mpobj import get_float as _get_float, get_int as _get_int, get_write_buffer
from _cpfloat import f30, f32

__all__ = ["Adapter", "Address", "Attribute", "BluetoothError", "Characteristic",
           "CharacteristicBuffer", "Connection", "RoleError", "SecurityError", "Service", "UUID",
           "adapter"]


class BluetoothError(Exception):
    """Catchall exception for Bluetooth related errors."""


class RoleError(BluetoothError):
    """Raised when a resource is used as the mismatched role."""


class SecurityError(BluetoothError):
    """Raised when a security related error occurs."""


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
_CONN_SLOTS = 5  # BLEIO_TOTAL_CONNECTION_COUNT (nordic Adapter.h)
_PERIPH_LINKS = 4  # BLEIO_PERIPH_ROLE_COUNT (nordic Adapter.c): links with the board as peripheral
_VS_UUID_COUNT = 75  # BLEIO_VS_UUID_COUNT (nordic Adapter.c)
_ATT_MTU_DEFAULT = 23  # BLE_GATT_ATT_MTU_DEFAULT
_VAR_ATTR_LEN_MAX = 512  # BLE_GATTS_VAR_ATTR_LEN_MAX, also the largest ATT_MTU the board accepts
_FIX_ATTR_LEN_MAX = 510  # BLE_GATTS_FIX_ATTR_LEN_MAX
_PPCP_INTERVAL = 24  # MSEC_TO_UNITS(15, UNIT_0_625_MS) put in a 1.25 ms field: 30 ms
_READALL_CHUNK = 256  # py/stream.c DEFAULT_BUFFER_SIZE
_NOT_ENABLED = "Unknown system firmware error: 0002"  # NRF_ERROR_SOFTDEVICE_NOT_ENABLED (inferred)
_DEINITED = "Object has been deinitialized and can no longer be used. Create a new object."
_DISCONNECTED = "Connection has been disconnected and can no longer be used. Create a new connection."


def _read_buffer(obj: object) -> bytes:
    """py/obj.c mp_get_buffer_raise(..., MP_BUFFER_READ); a str offers its UTF-8 bytes."""
    if isinstance(obj, str):
        return obj.encode("utf-8")
    try:
        return bytes(memoryview(obj).cast("B"))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError("object with buffer protocol required") from None


_write_view = get_write_buffer


def _check_type(obj: object, cls: type, arg: str) -> None:
    """py/argcheck.c mp_arg_validate_type()."""
    if not isinstance(obj, cls):
        raise TypeError("%s must be of type %s, not %s" % (arg, cls.__name__, type(obj).__name__))


def _no_instances(cls: type) -> None:
    """A type without make_new (py/objtype.c)."""
    raise TypeError("cannot create '%s' instances" % cls.__name__)


class _ReadOnly:
    """MicroPython objects have no __dict__: only properties with a setter may be assigned."""

    __slots__ = ()
    _settable: "tuple[str, ...]" = ()

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._settable:
            object.__setattr__(self, name, value)
            return
        raise AttributeError("can't set attribute '%s'" % name)


# --- Address ----------------------------------------------------------------------------------

class Address(_ReadOnly):
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


# --- UUID -------------------------------------------------------------------------------------

_vs_bases: "set[bytes]" = set()  # vendor-specific bases registered with the SoftDevice


class UUID(_ReadOnly):
    """A 16-bit or 128-bit UUID. Can be used for services, characteristics, descriptors and more."""

    __slots__ = ("_uuid16", "_base")
    _uuid16: int
    _base: Optional[bytes]  # None: a 16-bit SIG UUID; else the 128-bit base, bytes 12-13 zeroed

    def __init__(self, value: object) -> None:
        if type(value) is int:  # mp_obj_is_int: a bool or an int subclass is not
            uuid16 = _get_int(value)
            if not 0 <= uuid16 <= 0xFFFF:
                raise ValueError("UUID integer value must be 0-0xffff")
            base = None
        else:
            if isinstance(value, str):
                chars = value.encode("utf-8")
                good = len(chars) == 36 and all(
                    chars[i] == 0x2D if i in (8, 13, 18, 23) else chr(chars[i]) in "0123456789abcdefABCDEF"
                    for i in range(36))
                if not good:
                    raise ValueError("UUID string not 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'")
                raw = bytes.fromhex(value.replace("-", ""))[::-1]
            else:
                try:
                    raw = bytes(memoryview(value).cast("B"))  # type: ignore[arg-type]
                except TypeError:
                    raise ValueError("UUID value is not str, int or byte buffer") from None
                if len(raw) != 16:
                    raise ValueError("Byte buffer must be 16 bytes.")
            uuid16 = raw[12] | raw[13] << 8
            base = raw[:12] + b"\0\0" + raw[14:]
            if not adapter._enabled:
                raise BluetoothError(_NOT_ENABLED)
            if base not in _vs_bases:  # sd_ble_uuid_vs_add
                if len(_vs_bases) >= _VS_UUID_COUNT:
                    raise MemoryError("Nordic system firmware out of memory")
                _vs_bases.add(base)
        object.__setattr__(self, "_uuid16", uuid16)
        object.__setattr__(self, "_base", base)

    @property
    def uuid16(self) -> int:
        """The 16-bit part of the UUID (read-only)."""
        return self._uuid16

    @property
    def uuid128(self) -> bytes:
        """The 128-bit value, little-endian; AttributeError for a 16-bit UUID (read-only)."""
        if self._base is None:
            raise AttributeError("not a 128-bit UUID")
        return self._full()

    @property
    def size(self) -> int:
        return 16 if self._base is None else 128

    def _full(self) -> bytes:
        base = self._base
        assert base is not None
        return base[:12] + bytes((self._uuid16 & 0xFF, self._uuid16 >> 8)) + base[14:]

    def pack_into(self, buffer: object, *, offset: object = 0) -> None:
        """Packs the UUID, little-endian, into ``buffer`` at ``offset`` (keyword-only)."""
        where = _get_int(offset)
        view = _write_view(buffer)
        n = self.size // 8
        if ((where & 0xFFFFFFFF) + n) & 0xFFFFFFFF > len(view):  # size_t arithmetic
            raise ValueError("Buffer + offset too small %d %d %d")
        if where < 0:
            raise RuntimeError("host stand-in: pack_into(offset=%d) writes before the buffer on "
                               "the board" % where)
        view[where:where + n] = self._full() if self._base is not None else bytes(
            (self._uuid16 & 0xFF, self._uuid16 >> 8))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UUID):
            return False  # bleio_uuid_binary_op answers itself: no reflected __eq__
        if self._base is None or other._base is None:
            return self._base is None and other._base is None and self._uuid16 == other._uuid16
        return self._full() == other._full()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        if self._base is None:
            return self._uuid16
        full = self._full()
        return sum(full[i] | full[i + 1] << 8 for i in range(0, 16, 2))

    def __repr__(self) -> str:
        if self._base is None:
            return "UUID(0x%04x)" % self._uuid16
        return "UUID('%s')" % _uuid128_text(self._full())


def _uuid128_text(little: bytes) -> str:
    h = little[::-1].hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


# --- Attribute, Service, Characteristic ---------------------------------------------------------

class Attribute:
    """Definitions associated with all BLE attributes: the security modes."""

    NO_ACCESS = 0x00
    OPEN = 0x11
    ENCRYPT_NO_MITM = 0x21
    ENCRYPT_WITH_MITM = 0x31
    LESC_ENCRYPT_WITH_MITM = 0x41
    SIGNED_NO_MITM = 0x12
    SIGNED_WITH_MITM = 0x22

    def __new__(cls, *args: object, **kwargs: object) -> "Attribute":
        _no_instances(cls)
        raise AssertionError


_MODES = (0x00, 0x11, 0x21, 0x31, 0x41, 0x12, 0x22)
_table: "list[Service]" = []  # the GATT table: local services in the order they were added


class Service(_ReadOnly):
    """A local GATT service: added to the table when made, never removed."""

    __slots__ = ("_uuid", "_secondary", "_chars")
    _uuid: UUID
    _secondary: bool
    _chars: "list[Characteristic]"

    def __init__(self, uuid: object, *, secondary: object = False) -> None:
        _check_type(uuid, UUID, "uuid")
        is_secondary = bool(secondary)
        if not adapter._enabled:
            raise BluetoothError(_NOT_ENABLED)  # sd_ble_gatts_service_add (inferred)
        object.__setattr__(self, "_uuid", uuid)
        object.__setattr__(self, "_secondary", is_secondary)
        object.__setattr__(self, "_chars", [])
        _table.append(self)

    def deinit(self) -> None:
        """Does nothing on nordic: the SoftDevice cannot remove a service."""

    @property
    def characteristics(self) -> "tuple[Characteristic, ...]":
        return tuple(self._chars)

    @property
    def remote(self) -> bool:
        return False

    @property
    def secondary(self) -> bool:
        return self._secondary

    @property
    def uuid(self) -> UUID:
        return self._uuid

    def __repr__(self) -> str:
        return "Service(%r)" % (self._uuid,)


class Characteristic(_ReadOnly):
    """A local characteristic; made (and added to a Service) by ``add_to_service``."""

    __slots__ = ("_service", "_uuid", "_props", "_read_perm", "_write_perm", "_max_length",
                 "_fixed", "_value", "_user_description", "_buffers")
    _settable = ("value",)
    _service: Service
    _uuid: UUID
    _props: int
    _read_perm: int
    _write_perm: int
    _max_length: int
    _fixed: bool
    _value: bytes
    _user_description: Optional[str]
    _buffers: "list[CharacteristicBuffer]"

    BROADCAST = 1 << 0
    INDICATE = 1 << 1
    NOTIFY = 1 << 2
    READ = 1 << 3
    WRITE = 1 << 4
    WRITE_NO_RESPONSE = 1 << 5

    def __new__(cls, *args: object, **kwargs: object) -> "Characteristic":
        _no_instances(cls)
        raise AssertionError

    @classmethod
    def add_to_service(cls, service: object, uuid: object, *, properties: object = 0,
                       read_perm: object = Attribute.OPEN, write_perm: object = Attribute.OPEN,
                       max_length: object = 20, fixed_length: object = False,
                       initial_value: object = None, user_description: object = None) -> "Characteristic":
        """Create a new Characteristic and add it to ``service`` (the last one added)."""
        props, rperm, wperm = _get_int(properties), _get_int(read_perm), _get_int(write_perm)
        max_len = _get_int(max_length)
        fixed = bool(fixed_length)
        _check_type(service, Service, "service")
        _check_type(uuid, UUID, "uuid")
        props &= 0xFF  # bleio_characteristic_properties_t is a uint8_t
        if props & ~0x3F:
            raise ValueError("Invalid properties")
        for perm in (rperm, wperm):
            if perm not in _MODES:
                raise ValueError("Invalid security_mode")
        if max_len < 0:
            raise ValueError("max_length must be >= 0")
        if initial_value is None:
            initial = bytes(max_len) if fixed and max_len > 0 else b""
        else:
            initial = _read_buffer(initial_value)
        if len(initial) > max_len or (fixed and len(initial) != max_len):
            raise ValueError("initial_value length is wrong")
        if user_description is not None and not isinstance(user_description, str):
            raise TypeError("can't convert '%s' object to str implicitly" % type(user_description).__name__)
        # ports/nordic/common-hal/_bleio/Characteristic.c common_hal_bleio_characteristic_construct()
        limit = _FIX_ATTR_LEN_MAX if fixed else _VAR_ATTR_LEN_MAX
        if max_len > limit:
            raise ValueError("max_length must be 0-%d when fixed_length is %s" % (limit, fixed))
        assert isinstance(service, Service) and isinstance(uuid, UUID)
        if not adapter._enabled:
            raise BluetoothError(_NOT_ENABLED)
        if service not in _table or _table[-1] is not service:
            raise ValueError("Invalid BLE parameter")  # sd_ble_gatts_characteristic_add (inferred)
        self = object.__new__(Characteristic)
        for name, value in (("_service", service), ("_uuid", uuid), ("_props", props),
                            ("_read_perm", rperm), ("_write_perm", wperm), ("_max_length", max_len),
                            ("_fixed", fixed), ("_value", initial),
                            ("_user_description", user_description), ("_buffers", [])):
            object.__setattr__(self, name, value)
        service._chars.append(self)
        return self

    @property
    def properties(self) -> int:
        return self._props

    @property
    def uuid(self) -> UUID:
        return self._uuid

    @property
    def descriptors(self) -> "tuple[Any, ...]":
        return ()

    @property
    def value(self) -> bytearray:
        """The current value (a new bytearray at each read)."""
        return bytearray(self._value)

    @value.setter
    def value(self, new: object) -> None:
        data = _read_buffer(new)
        if self._fixed and len(data) != self._max_length:
            raise ValueError("Value length != required fixed length")
        if len(data) > self._max_length:
            raise ValueError("Value length > max_length")
        object.__setattr__(self, "_value", data)
        if not self._props & (Characteristic.NOTIFY | Characteristic.INDICATE):
            return
        for link in adapter._slots:  # every connection, in slot order
            if link is None:
                continue
            bits = link.cccd.get(self, 0)
            if self._props & Characteristic.NOTIFY and bits & 1:
                link.central._receive(self, data[:link.att_mtu - 3])
            if self._props & Characteristic.INDICATE and bits & 2:
                now = _harness.clock().now_ns()
                if now < link.hvc_due_ns:
                    raise BluetoothError("Unknown system firmware error: 0011")  # NRF_ERROR_BUSY
                link.central._receive(self, data[:link.att_mtu - 3])
                link.hvc_due_ns = now + 2 * link.interval * 1_250_000

    def set_cccd(self, *, notify: object = False, indicate: object = False) -> None:
        bool(notify), bool(indicate)
        if not self._props & (Characteristic.NOTIFY | Characteristic.INDICATE):
            raise BluetoothError("No CCCD for this Characteristic")
        raise RoleError("Can't set CCCD on local Characteristic")

    def deinit(self) -> None:
        """No effect in the stand-in (what nordic does here is inferred: the table keeps it)."""

    def __repr__(self) -> str:
        return "Characteristic(%r)" % (self._uuid,)


# --- CharacteristicBuffer -----------------------------------------------------------------------

class CharacteristicBuffer(_ReadOnly):
    """Queues every central write to a local characteristic as one byte stream."""

    __slots__ = ("_char", "_timeout_ms", "_cap", "_ring")
    _char: Optional[Characteristic]
    _timeout_ms: int
    _cap: int
    _ring: bytearray

    def __init__(self, characteristic: object, *, timeout: object = 1.0, buffer_size: object = 64) -> None:
        size = _get_int(buffer_size)
        _check_type(characteristic, Characteristic, "characteristic")
        if not isinstance(timeout, (int, float)):
            raise TypeError("timeout must be of type float, not %s" % type(timeout).__name__)
        seconds = f30(float(timeout))
        if seconds < 0:
            raise ValueError("timeout must be >= 0")
        if size < 1:
            raise ValueError("buffer_size must be >= 1")
        millis = 0 if math.isnan(seconds) else min(int(f32(seconds * 1000.0)), 0xFFFFFFFF)
        assert isinstance(characteristic, Characteristic)
        object.__setattr__(self, "_char", characteristic)
        object.__setattr__(self, "_timeout_ms", millis)
        object.__setattr__(self, "_cap", size)
        object.__setattr__(self, "_ring", bytearray())
        characteristic._buffers.append(self)

    def _put(self, data: bytes) -> None:
        """ringbuf_put_n(): what fits goes in, the rest of this write is dropped."""
        self._ring.extend(data[:self._cap - len(self._ring)])

    def _check(self) -> None:
        if self._char is None:
            raise ValueError(_DEINITED)

    def _driver_read(self, n: int) -> bytes:
        """bleio_characteristic_buffer_read() + common_hal_..._read(): one timeout window."""
        self._check()
        if n == 0:
            return b""
        clock = _harness.clock()
        if len(self._ring) < n and self._timeout_ms:
            start_ms = clock.now_ns() // 1_000_000
            clock.advance_to((start_ms + self._timeout_ms) * 1_000_000)
        got = bytes(self._ring[:n])
        del self._ring[:n]
        return got

    def _rw(self, n: int) -> bytes:
        """py/stream.c mp_stream_rw(): repeat until ``n`` bytes or a read brings nothing."""
        done = bytearray()
        while len(done) < n:
            chunk = self._driver_read(n - len(done))
            if not chunk:
                break
            done += chunk
        return bytes(done)

    def read(self, nbytes: object = None, /) -> bytes:
        """Read at most ``nbytes`` bytes (all that arrives, 256 per window, if None or -1)."""
        n = -1 if nbytes is None else _get_int(nbytes)
        if n == -1:
            total = bytearray()
            want = _READALL_CHUNK
            while True:
                chunk = self._driver_read(want)
                if not chunk:
                    return bytes(total)
                total += chunk
                want = want - len(chunk) if len(chunk) < want else _READALL_CHUNK
        if n < 0:
            raise MemoryError("memory allocation failed, allocating %d bytes" % (n & 0xFFFFFFFF))
        return self._rw(n)

    def readinto(self, buf: object, /, *length: object) -> int:
        """Read at most ``len(buf)`` bytes into ``buf``; the number read (0 if none came)."""
        view = _write_view(buf)
        if length:
            raise ValueError("length argument not allowed for this type")
        data = self._rw(len(view))
        view[:len(data)] = data
        return len(data)

    def readline(self, size: object = -1, /) -> bytes:
        """Read up to and including b"\\n" (one byte per timeout window)."""
        limit = _get_int(size)
        line = bytearray()
        while limit < 0 or len(line) < limit:
            byte = self._driver_read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def __iter__(self) -> "CharacteristicBuffer":
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    @property
    def in_waiting(self) -> int:
        """The number of bytes queued (does not wait)."""
        self._check()
        _harness.clock().poll()
        return len(self._ring)

    def reset_input_buffer(self) -> None:
        self._check()
        self._ring.clear()

    def __repr__(self) -> str:
        return "<CharacteristicBuffer>"

    def deinit(self) -> None:
        char = self._char
        if char is not None:
            char._buffers.remove(self)
            object.__setattr__(self, "_char", None)
            self._ring.clear()


# --- connections --------------------------------------------------------------------------------

class _Link:
    """bleio_connection_internal_t: one link, the board being the peripheral."""

    __slots__ = ("central", "att_mtu", "cccd", "connected", "obj", "interval", "hvc_due_ns", "seq")
    _made = 0

    def __init__(self, central: "_Central", att_mtu: int) -> None:
        self.central = central
        self.att_mtu = att_mtu
        self.cccd: "dict[Characteristic, int]" = {}  # bit 0 notify, bit 1 indicate
        self.connected = True
        self.obj: Optional[Connection] = None
        self.interval = _PPCP_INTERVAL  # in 1.25 ms units
        self.hvc_due_ns = 0  # an indication is unconfirmed until then
        _Link._made += 1
        self.seq = _Link._made  # connection order


class Connection(_ReadOnly):
    """A link to a central, as the board sees it (found in ``adapter.connections``)."""

    __slots__ = ("_link",)
    _settable = ("connection_interval",)
    _link: _Link

    def __new__(cls, *args: object, **kwargs: object) -> "Connection":
        _no_instances(cls)
        raise AssertionError

    def _live(self) -> _Link:
        if not self._link.connected:
            raise ConnectionError(_DISCONNECTED)
        return self._link

    @property
    def connected(self) -> bool:
        return self._link.connected

    @property
    def paired(self) -> bool:
        return False

    def disconnect(self) -> None:
        """End the link (nothing happens if it has ended)."""
        if self._link.connected:
            _end_link(self._link)

    def pair(self, bond: object = True) -> None:
        bool(bond)
        self._live()
        raise NotImplementedError("host stand-in: _bleio pairing is not simulated")

    def discover_remote_services(self, service_uuids_whitelist: object = None) -> Any:
        self._live()
        raise NotImplementedError("host stand-in: _bleio remote services are not simulated")

    @property
    def connection_interval(self) -> float:
        """Time between connection events, in ms (a multiple of 1.25)."""
        return f30(f32(1.25 * self._live().interval))

    @connection_interval.setter
    def connection_interval(self, value: object) -> None:
        interval = _get_float(value)
        link = self._live()
        units = int(f32(interval / f32(1.25))) & 0xFFFF if math.isfinite(interval) else 0
        if not 6 <= units <= 3200:
            raise ValueError("Invalid BLE parameter")  # sd_ble_gap_conn_param_update (inferred)
        link.interval = units

    @property
    def max_packet_length(self) -> int:
        """ATT_MTU - 3: the most a notification carries."""
        return self._live().att_mtu - 3

    def __repr__(self) -> str:
        return "<Connection>"


def _connection_obj(link: _Link) -> Connection:
    """bleio_connection_new_from_internal(): one Connection object per link."""
    if link.obj is None:
        obj = object.__new__(Connection)
        object.__setattr__(obj, "_link", link)
        link.obj = obj
    return link.obj


def _end_link(link: _Link) -> None:
    """BLE_GAP_EVT_DISCONNECTED (Adapter.c): the slot frees, the Connection goes dead."""
    link.connected = False
    slots = adapter._slots
    if link in slots:
        slots[slots.index(link)] = None
    object.__setattr__(adapter, "_conn_tuple", None)


# --- the air, as the host sees it -------------------------------------------------------------

class _Advertising:
    """One ``start_advertising`` while it lasts: what the radio sends and when."""

    __slots__ = ("start_ns", "data", "scan", "extended", "connectable", "interval_ns", "stop_ns",
                 "anonymous", "tx_power", "directed")

    def __init__(self, start_ns: int, data: bytes, scan: bytes, extended: bool, connectable: bool,
                 interval_ns: int, stop_ns: Optional[int], anonymous: bool, tx_power: int,
                 directed: bool) -> None:
        self.start_ns = start_ns
        self.data = data
        self.scan = scan
        self.extended = extended
        self.connectable = connectable
        self.interval_ns = interval_ns
        self.stop_ns = stop_ns  # None: until stopped
        self.anonymous = anonymous
        self.tx_power = tx_power
        self.directed = directed

    def entry(self, t_ns: int) -> "tuple[int, bytes, bytes, bool, bool]":
        return (t_ns, self.data, self.scan, self.extended, self.connectable)


_log: "list[_Advertising]" = []
DEFAULT_ADDRESS = "C8:1D:F5:ED:A8:35"  # display order; random static (the two top bits set)
_board_address = _address_from_display(DEFAULT_ADDRESS)  # the chip's own, little-endian


# --- Adapter ----------------------------------------------------------------------------------

class Adapter:
    """The BLE adapter (``_bleio.adapter``, the only instance on a board with native BLE)."""

    __slots__ = ("_enabled", "_address", "_name", "_current", "_slots", "_conn_tuple")
    _enabled: bool
    _address: bytes
    _name: str
    _current: Optional[_Advertising]
    _slots: "list[Optional[_Link]]"  # bleio_connections[]: a link in each used slot
    _conn_tuple: "Optional[tuple[Connection, ...]]"  # cached like adapter->connection_objs

    def __new__(cls, *args: object, **kwargs: object) -> "Adapter":
        # shared-bindings/_bleio/Adapter.c without CIRCUITPY_BLEIO_HCI
        raise NotImplementedError("Cannot create a new Adapter; use _bleio.adapter;")

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("enabled", "address", "name"):
            object.__setattr__(self, name, value)  # the property setters below
            return
        raise AttributeError("can't set attribute '%s'" % name)

    def _power_on(self) -> None:
        # Off at power-on: supervisor_bluetooth_init() (supervisor/shared/bluetooth/bluetooth.c)
        # leaves the BLE workflow disabled on a board with USB that is not bonded and whose boot
        # button was not pressed in the first second, so supervisor_start_bluetooth() never calls
        # common_hal_bleio_adapter_set_enabled(true). The radio comes on when code reads
        # ``address`` (common_hal_bleio_adapter_get_address enables it), sets ``enabled``, or
        # adafruit_ble's BLERadio() does so.
        object.__setattr__(self, "_enabled", False)
        object.__setattr__(self, "_address", _board_address)
        object.__setattr__(self, "_current", None)
        self._drop_links()
        self._reset_name()

    def _drop_links(self) -> None:
        for link in getattr(self, "_slots", ()):
            if link is not None:
                link.connected = False
        object.__setattr__(self, "_slots", [None] * _CONN_SLOTS)
        object.__setattr__(self, "_conn_tuple", None)

    def _links(self) -> "list[_Link]":
        return [link for link in self._slots if link is not None]

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
        if not on:  # sd_softdevice_disable(): links, GATT table and UUID bases are gone
            self._stop()
            self._drop_links()
            _table.clear()
            _vs_bases.clear()
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
        return any(link is not None for link in self._slots)

    @property
    def connections(self) -> "tuple[Connection, ...]":
        """The live connections in slot order: the same tuple until a link opens or closes."""
        if self._conn_tuple is None:
            object.__setattr__(self, "_conn_tuple", tuple(_connection_obj(link) for link in self._links()))
        assert self._conn_tuple is not None
        return self._conn_tuple

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
        if is_connectable and len(self._links()) >= _PERIPH_LINKS:
            raise BluetoothError("Unknown system firmware error: 0012")  # NRF_ERROR_CONN_COUNT
        # .interval = SEC_TO_UNITS(interval, UNIT_0_625_MS) + 0.5f, in single precision, uint16
        units = int(f32(f32(f32(seconds * 1000000.0) / 625.0) + 0.5)) & 0xFFFF
        # .duration = SEC_TO_UNITS(timeout, UNIT_10_MS) in uint32 arithmetic; 0 is unlimited
        duration_units = ((duration_s * 1000000) & 0xFFFFFFFF) // 10000
        now = _harness.clock().now_ns()
        stop = None if duration_units == 0 else now + duration_units * 10_000_000
        current = _Advertising(now, adv, scan, extended, is_connectable, units * 625_000, stop,
                               is_anonymous, power, directed_to is not None)
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

    # --- not simulated ---

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



# --- the fake central (host only) ---------------------------------------------------------------

def _uuid_text(uuid: UUID) -> str:
    """128-bit: 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'; 16-bit: the board's str, 'UUID(0x2a19)'."""
    return repr(uuid) if uuid._base is None else _uuid128_text(uuid._full())


def _uuid_keys(uuid: UUID) -> "set[str]":
    keys = {_uuid_text(uuid).lower()}
    if uuid._base is None:
        keys.add("0000%04x-0000-1000-8000-00805f9b34fb" % uuid._uuid16)
    return keys


def _uuid_key(which: object) -> str:
    if isinstance(which, UUID):
        return _uuid_text(which).lower()
    if isinstance(which, str):
        return which.strip().lower()
    raise TypeError("a UUID string or a _bleio.UUID, not %s" % type(which).__name__)


def _access(perm: int, what: str) -> None:
    """The SoftDevice's check of a security mode on a link that is never encrypted."""
    if perm == Attribute.NO_ACCESS:
        raise _harness.CentralError("%s not permitted" % what)
    if perm != Attribute.OPEN:
        raise _harness.CentralError("insufficient authentication")


class _Central:
    """A phone or PC in range of the board (host only; made by ``_harness.ble_central``).

    ``connect()`` works only while a connectable, undirected advertisement is on air (else
    ``CentralError("no connectable advertisement on air")``) and a peripheral link is free; the
    board stops advertising; the ATT MTU becomes max(23, min(mtu, 512)); every CCCD starts off.
    ``disconnect()`` ends the link from the central's side (nothing if not connected);
    ``connected`` is False once either side ended it; ``connect()`` again makes a new link.

    While connected (else ``CentralError("not connected")``), by UUID string (see the module
    docstring; a UUID matching no characteristic, or several, is a CentralError):
    - ``services()`` / ``characteristics(service_uuid=None)``: the GATT table, in table order.
    - ``read(uuid)``: the whole value (a long read where needed, as bleak does); needs READ (the
      central's own check) and ``read_perm`` OPEN.
    - ``write(uuid, data, response=True)``: needs WRITE (or WRITE_NO_RESPONSE for
      ``response=False``) and ``write_perm`` OPEN; without response at most ATT_MTU-3 bytes;
      longer than ``max_length``, or another length than a ``fixed_length`` one:
      ``CentralError("invalid attribute value length")`` and nothing changes (the fixed-length
      case is inferred). A write with response longer than ATT_MTU-3 would be a queued (prepare/
      execute) write, which needs the app to answer BLE_EVT_USER_MEM_REQUEST; ble_drv.c has no
      handler for it, so what the board does is unknown: CentralError, nothing delivered. A
      delivered write replaces the value and is appended to every CharacteristicBuffer on it.
    - ``subscribe(uuid)`` / ``unsubscribe(uuid)``: write the CCCD (notify if the characteristic
      has NOTIFY, else indicate); needs NOTIFY or INDICATE; the CCCD's write permission is the
      characteristic's read permission.
    ``notifications``: every notification and indication received, (t_ns, uuid string, bytes), in
    order, stamped with the virtual time the firmware set the value; ``take_notifications(
    uuid_str=None)`` returns and removes them (only those of one UUID if given).
    ``mtu``: the MTU this central asks for; ``att_mtu``: the link's ATT MTU (None if not connected).
    """

    def __init__(self, mtu: int = _ATT_MTU_DEFAULT) -> None:
        mtu = int(mtu)
        if not _ATT_MTU_DEFAULT <= mtu <= 517:
            raise ValueError("a central's ATT MTU is 23-517, not %d" % mtu)
        self.mtu = mtu
        self.notifications: "list[tuple[int, str, bytes]]" = []
        self._link: Optional[_Link] = None

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    @property
    def att_mtu(self) -> Optional[int]:
        """The ATT MTU of the live link (None when not connected)."""
        return self._link.att_mtu if self.connected and self._link is not None else None

    def connect(self) -> None:
        adapter._expire()
        current = adapter._current
        if current is None or not current.connectable:
            raise _harness.CentralError("no connectable advertisement on air")
        if current.directed:
            raise _harness.CentralError("the advertisement is directed to another device")
        self._attach()

    def _attach(self) -> None:
        if self.connected:
            raise _harness.CentralError("already connected")
        if not adapter._enabled:
            raise _harness.CentralError("the board's radio is off")
        if len(adapter._links()) >= _PERIPH_LINKS:
            raise _harness.CentralError("the board has no free peripheral link")
        adapter._stop()  # Adapter.c: connecting ends the advertisement
        link = _Link(self, max(_ATT_MTU_DEFAULT, min(self.mtu, _VAR_ATTR_LEN_MAX)))
        adapter._slots[adapter._slots.index(None)] = link
        object.__setattr__(adapter, "_conn_tuple", None)
        self._link = link

    def disconnect(self) -> None:
        if self.connected and self._link is not None:
            _end_link(self._link)

    def _live(self) -> _Link:
        if not self.connected or self._link is None:
            raise _harness.CentralError("not connected")
        return self._link

    def services(self) -> "list[str]":
        self._live()
        return [_uuid_text(service._uuid) for service in _table]

    def characteristics(self, service_uuid: object = None) -> "list[str]":
        self._live()
        key = None if service_uuid is None else _uuid_key(service_uuid)
        return [_uuid_text(char._uuid) for service in _table
                if key is None or key in _uuid_keys(service._uuid) for char in service._chars]

    def _find(self, uuid_str: object) -> Characteristic:
        key = _uuid_key(uuid_str)
        found = [char for service in _table for char in service._chars if key in _uuid_keys(char._uuid)]
        if not found:
            raise _harness.CentralError("no characteristic %s in the GATT table" % (uuid_str,))
        if len(found) > 1:
            raise _harness.CentralError("%d characteristics have UUID %s" % (len(found), uuid_str))
        return found[0]

    def read(self, uuid_str: object) -> bytes:
        self._live()
        char = self._find(uuid_str)
        if not char._props & Characteristic.READ:
            raise _harness.CentralError("read not permitted")
        _access(char._read_perm, "read")
        return char._value

    def write(self, uuid_str: object, data: object, response: bool = True) -> None:
        link = self._live()
        char = self._find(uuid_str)
        payload = bytes(memoryview(data).cast("B"))  # type: ignore[arg-type]
        if not char._props & (Characteristic.WRITE if response else Characteristic.WRITE_NO_RESPONSE):
            raise _harness.CentralError("write not permitted")
        if not response and len(payload) > link.att_mtu - 3:
            raise _harness.CentralError("a write without response carries at most ATT_MTU-3 = %d "
                                        "bytes, not %d" % (link.att_mtu - 3, len(payload)))
        _access(char._write_perm, "write")
        if len(payload) > char._max_length or (char._fixed and len(payload) != char._max_length):
            raise _harness.CentralError("invalid attribute value length")
        if len(payload) > link.att_mtu - 3:
            raise _harness.CentralError(
                "host stand-in: a write of %d bytes at ATT MTU %d is a queued (prepare/execute) "
                "write, which CircuitPython never answers (no BLE_EVT_USER_MEM_REQUEST handler): "
                "not simulated" % (len(payload), link.att_mtu))
        object.__setattr__(char, "_value", payload)  # the SoftDevice stores it, then BLE_GATTS_EVT_WRITE
        for buffer in list(char._buffers):
            buffer._put(payload)

    def _cccd(self, uuid_str: object, bits: int) -> None:
        link = self._live()
        char = self._find(uuid_str)
        if not char._props & (Characteristic.NOTIFY | Characteristic.INDICATE):
            raise _harness.CentralError("%s has no CCCD (neither NOTIFY nor INDICATE)" % (uuid_str,))
        _access(char._read_perm, "write")  # the CCCD's write permission (nordic Service.c)
        if bits:
            bits = 1 if char._props & Characteristic.NOTIFY else 2
        link.cccd[char] = bits

    def subscribe(self, uuid_str: object) -> None:
        self._cccd(uuid_str, 1)

    def unsubscribe(self, uuid_str: object) -> None:
        self._cccd(uuid_str, 0)

    def _receive(self, char: Characteristic, data: bytes) -> None:
        self.notifications.append((_harness.clock().now_ns(), _uuid_text(char._uuid), bytes(data)))

    def take_notifications(self, uuid_str: object = None) -> "list[tuple[int, str, bytes]]":
        if uuid_str is None:
            taken, self.notifications = self.notifications, []
            return taken
        key = _uuid_key(uuid_str)
        taken = [n for n in self.notifications if key in _text_keys(n[1])]
        self.notifications = [n for n in self.notifications if n not in taken]
        return taken

    def __repr__(self) -> str:
        return "<Central mtu=%d %s>" % (self.mtu, "connected" if self.connected else "not connected")


_Central.__name__ = _Central.__qualname__ = "Central"


def _text_keys(text: str) -> "set[str]":
    """The keys naming the UUID that ``_uuid_text`` wrote as ``text``."""
    keys = {text.lower()}
    if text.startswith("UUID(0x"):
        keys.add("0000%s-0000-1000-8000-00805f9b34fb" % text[7:11])
    return keys


# --- host-only, called through _harness -------------------------------------------------------

def _reset() -> None:
    global _board_address
    _log.clear()
    _observers.clear()
    _table.clear()
    _vs_bases.clear()
    _board_address = _address_from_display(DEFAULT_ADDRESS)
    adapter._power_on()


def _set_board_address(display: "str | bytes") -> None:
    global _board_address
    _board_address = _address_from_display(display)
    adapter._stop()
    adapter._power_on()


def _board_address_display() -> str:
    return ":".join("%02X" % b for b in reversed(_board_address))


def _connect() -> _Central:
    """A central connects whatever is on air (``_harness.ble_connect``): advertising stops."""
    central = _Central()
    central._attach()
    return central


def _disconnect() -> None:
    """The most recently connected central still connected leaves (none: nothing happens)."""
    links = [link for link in adapter._slots if link is not None]
    if links:
        _end_link(max(links, key=lambda link: link.seq))


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
