"""_bleio GATT server stand-in and the fake central: each rule here is one a lenient stand-in would break.

The board's behaviour comes from shared-bindings/_bleio/{UUID,Service,Characteristic,
CharacteristicBuffer,Connection}.c and ports/nordic/common-hal/_bleio/*.c (see the docstring of
host/circuitpython/_bleio.py, which also marks what is inferred).
"""
import pytest

import _bleio
import _harness
from _harness import CentralError

from adafruit_ble.attributes import Attribute
from adafruit_ble.characteristics import Characteristic
from adafruit_ble.characteristics.stream import StreamIn
from adafruit_ble.services import Service
from adafruit_ble.uuid import VendorUUID

BASE = "fd6a6a7f-dc80-4975-8990-114ecbf30c%02x"
SERVICE, STATUS, COMMAND, RESPONSE, PLAIN = (BASE % n for n in range(0x45, 0x4A))
ADV = bytes.fromhex("020106")
NS = 1_000_000_000


@pytest.fixture(autouse=True)
def radio_on():
    """The radio is off at power-on; a program turns it on first (code.py reads the address)."""
    _bleio.adapter.enabled = True


def raises(exc, message, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert str(info.value) == message
    return info.value


def make_service(buffer_size=64, response_max=20, timeout=0):
    """A fresh adafruit_ble Service class (class attributes bind per class) and its instance."""

    class ConfigService(Service):
        uuid = VendorUUID(SERVICE)
        status = Characteristic(uuid=VendorUUID(STATUS), properties=Characteristic.READ,
                                write_perm=Attribute.NO_ACCESS, max_length=85)
        command = StreamIn(uuid=VendorUUID(COMMAND), timeout=timeout, buffer_size=buffer_size)
        response = Characteristic(uuid=VendorUUID(RESPONSE),
                                  properties=Characteristic.NOTIFY | Characteristic.READ,
                                  write_perm=Attribute.NO_ACCESS, max_length=response_max)
        plain = Characteristic(uuid=VendorUUID(PLAIN), properties=Characteristic.WRITE, max_length=20)

    return ConfigService()


def connected_central(mtu=23):
    _bleio.adapter.start_advertising(ADV)
    central = _harness.ble_central(mtu=mtu)
    central.connect()
    return central


def local(uuid16=0x2A19, service_uuid=0x180F, **kwargs):
    service = _bleio.Service(_bleio.UUID(service_uuid))
    return _bleio.Characteristic.add_to_service(service, _bleio.UUID(uuid16), **kwargs)


# --- UUID ---------------------------------------------------------------------------------------


def test_16_bit_uuid():
    u = _bleio.UUID(0x180F)
    assert (u.uuid16, u.size, repr(u), str(u), hash(u)) == (0x180F, 16, "UUID(0x180f)", "UUID(0x180f)", 0x180F)
    raises(AttributeError, "not a 128-bit UUID", getattr, u, "uuid128")
    buf = bytearray(4)
    u.pack_into(buf, offset=2)
    assert buf == b"\x00\x00\x0f\x18"
    with pytest.raises(TypeError):
        u.pack_into(buf, 2)  # offset is keyword-only on the board
    raises(ValueError, "Buffer + offset too small %d %d %d", u.pack_into, buf, offset=3)
    raises(TypeError, "object with buffer protocol required", u.pack_into, bytes(4))


def test_128_bit_uuid_from_string_and_little_endian_bytes():
    text = "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"
    u = _bleio.UUID(text)
    little = bytes.fromhex(text.replace("-", ""))[::-1]
    assert u == _bleio.UUID(little) == _bleio.UUID(bytearray(little))
    assert (u.size, u.uuid16, u.uuid128) == (128, 0x0001, little)
    assert repr(u) == "UUID('6e400001-b5a3-f393-e0a9-e50e24dcca9e')"
    assert hash(u) == sum(int.from_bytes(little[i:i + 2], "little") for i in range(0, 16, 2))
    buf = bytearray(17)
    u.pack_into(buf, offset=1)
    assert bytes(buf[1:]) == little
    assert u != _bleio.UUID(text.replace("0001", "0002", 1))


@pytest.mark.parametrize("value, exc, message", [
    (-1, ValueError, "UUID integer value must be 0-0xffff"),
    (0x10000, ValueError, "UUID integer value must be 0-0xffff"),
    ("180f", ValueError, "UUID string not 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'"),
    ("6e400001b5a3f393e0a9e50e24dcca9e", ValueError, "UUID string not 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'"),
    ("6e400001-b5a3-f393-e0a9-e50e24dcca9g", ValueError, "UUID string not 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'"),
    ("6e400001-b5a3-f393-e0a9e-50e24dcca9e", ValueError, "UUID string not 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'"),
    (bytes(15), ValueError, "Byte buffer must be 16 bytes."),
    (True, ValueError, "UUID value is not str, int or byte buffer"),
    (1.5, ValueError, "UUID value is not str, int or byte buffer"),
    (1 << 40, OverflowError, "overflow converting long int to machine word"),
])
def test_uuid_values_the_board_refuses(value, exc, message):
    raises(exc, message, _bleio.UUID, value)


def test_a_uuid_is_not_made_from_another_uuid():
    raises(ValueError, "UUID value is not str, int or byte buffer", _bleio.UUID, _bleio.UUID(5))


def test_uuid_equality_follows_the_board():
    sig = _bleio.UUID(0x2A19)
    base_form = _bleio.UUID("00002a19-0000-1000-8000-00805f9b34fb")
    assert sig != base_form and not sig == base_form  # 16-bit and 128-bit never match
    vendor = VendorUUID(STATUS)
    assert not (vendor.bleio_uuid == vendor)  # the board's UUID compares only with UUIDs ...
    assert vendor == vendor.bleio_uuid  # ... adafruit_ble's UUID does the other direction
    assert {sig: 1}[_bleio.UUID(0x2A19)] == 1


def test_seventy_five_vendor_bases_fit_the_softdevice():
    for n in range(75):  # bytes 12-13 ("0000xxxx") are the 16-bit part, the rest is the base
        _bleio.UUID("%04x0000-0000-1000-8000-00805f9b34fb" % n)
    _bleio.UUID("0000ffff-0000-1000-8000-00805f9b34fb")  # a registered base: no new slot
    raises(MemoryError, "Nordic system firmware out of memory", _bleio.UUID, "ffff0000-0000-1000-8000-00805f9b34fb")
    _harness.reset()
    _bleio.adapter.enabled = True  # off again at power-on
    _bleio.UUID("ffff0000-0000-1000-8000-00805f9b34fb")  # a new boot forgets the bases


# --- Service and Characteristic -----------------------------------------------------------------


def test_board_constants_and_no_constructors():
    a, c = _bleio.Attribute, _bleio.Characteristic
    assert (a.NO_ACCESS, a.OPEN, a.ENCRYPT_NO_MITM, a.ENCRYPT_WITH_MITM, a.LESC_ENCRYPT_WITH_MITM,
            a.SIGNED_NO_MITM, a.SIGNED_WITH_MITM) == (0x00, 0x11, 0x21, 0x31, 0x41, 0x12, 0x22)
    assert (c.BROADCAST, c.INDICATE, c.NOTIFY, c.READ, c.WRITE, c.WRITE_NO_RESPONSE) == (1, 2, 4, 8, 16, 32)
    for cls in (_bleio.Attribute, _bleio.Characteristic, _bleio.Connection):
        raises(TypeError, "cannot create '%s' instances" % cls.__name__, cls)
    assert issubclass(_bleio.RoleError, _bleio.BluetoothError)


def test_a_service_is_in_the_table_at_once():
    central = connected_central()
    assert central.services() == []
    service = _bleio.Service(_bleio.UUID(0x180F), secondary=1)
    assert central.services() == ["UUID(0x180f)"]
    assert (service.remote, service.secondary, service.characteristics) == (False, True, ())
    service.deinit()  # does nothing on nordic: the service stays
    assert central.services() == ["UUID(0x180f)"]
    raises(TypeError, "uuid must be of type UUID, not int", _bleio.Service, 0x180F)
    with pytest.raises(TypeError):
        _bleio.Service(_bleio.UUID(1), True)  # secondary is keyword-only


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(properties=0x40), ValueError, "Invalid properties"),
    (dict(properties=1.0), TypeError, "can't convert float to int"),
    (dict(read_perm=0x13), ValueError, "Invalid security_mode"),
    (dict(write_perm=1), ValueError, "Invalid security_mode"),
    (dict(max_length=-1), ValueError, "max_length must be >= 0"),
    (dict(max_length=4, initial_value=b"12345"), ValueError, "initial_value length is wrong"),
    (dict(max_length=4, fixed_length=True, initial_value=b"123"), ValueError, "initial_value length is wrong"),
    (dict(max_length=513), ValueError, "max_length must be 0-512 when fixed_length is False"),
    (dict(max_length=511, fixed_length=True), ValueError, "max_length must be 0-510 when fixed_length is True"),
    (dict(initial_value=5), TypeError, "object with buffer protocol required"),
    (dict(user_description=5), TypeError, "can't convert 'int' object to str implicitly"),
])
def test_add_to_service_refuses_what_the_board_refuses(kwargs, exc, message):
    raises(exc, message, local, **kwargs)


def test_add_to_service_types_and_order():
    service = _bleio.Service(_bleio.UUID(0x180F))
    raises(TypeError, "service must be of type Service, not str", _bleio.Characteristic.add_to_service,
           "svc", _bleio.UUID(1))
    raises(TypeError, "uuid must be of type UUID, not int", _bleio.Characteristic.add_to_service, service, 1)
    with pytest.raises(TypeError):
        _bleio.Characteristic.add_to_service(service, _bleio.UUID(1), 8)  # properties is keyword-only
    _bleio.Service(_bleio.UUID(0x1810))
    raises(ValueError, "Invalid BLE parameter", _bleio.Characteristic.add_to_service, service, _bleio.UUID(1))


def test_characteristic_limits_and_defaults():
    assert local(properties=0x108).properties == _bleio.Characteristic.READ  # a uint8_t on the board
    assert local(max_length=512).value == bytearray()
    assert local(max_length=510, fixed_length=True).value == bytearray(510)  # zeros when fixed


def test_local_value_rules():
    var = local(max_length=4, initial_value=b"ab")
    assert var.value == bytearray(b"ab") and isinstance(var.value, bytearray)
    assert var.value is not var.value
    var.value = b"abcd"
    raises(ValueError, "Value length > max_length", setattr, var, "value", b"abcde")
    raises(TypeError, "object with buffer protocol required", setattr, var, "value", 5)
    assert var.value == bytearray(b"abcd")
    fixed = local(max_length=2, fixed_length=True)
    raises(ValueError, "Value length != required fixed length", setattr, fixed, "value", b"a")
    assert repr(var) == "Characteristic(UUID(0x2a19))" and var.descriptors == ()
    for missing in ("max_length", "service"):  # not on the device
        assert not hasattr(var, missing)
    raises(AttributeError, "can't set attribute 'uuid'", setattr, var, "uuid", _bleio.UUID(1))


def test_set_cccd_on_a_local_characteristic():
    raises(_bleio.BluetoothError, "No CCCD for this Characteristic", local(properties=8).set_cccd, notify=True)
    raises(_bleio.RoleError, "Can't set CCCD on local Characteristic", local(properties=4).set_cccd, notify=True)


# --- adafruit_ble end to end --------------------------------------------------------------------


def test_adafruit_ble_service_end_to_end():
    service = make_service()
    service.status = b"ready"
    central = connected_central()
    assert central.services() == [SERVICE]
    assert sorted(central.characteristics(SERVICE)) == sorted([STATUS, COMMAND, RESPONSE, PLAIN])
    assert central.read(STATUS) == b"ready"
    raises(CentralError, "write not permitted", central.write, STATUS, b"x")
    raises(CentralError, "read not permitted", central.read, COMMAND)  # StreamIn: NO_ACCESS
    raises(CentralError, "read not permitted", central.read, PLAIN)  # no READ property
    assert isinstance(service.command, _bleio.CharacteristicBuffer)


def test_queued_writes_are_not_collapsed_but_plain_ones_are():
    service = make_service()
    central = connected_central()
    assert service.command.read(8) == b""  # timeout=0: nothing yet, and b"" rather than None
    for part in (b"\x02ab", b"\x01c", b"de"):
        central.write(COMMAND.upper(), part, response=False)
    for part in (b"first", b"second", b"third"):
        central.write(PLAIN, part)
    assert service.command.in_waiting == 7
    assert service.command.read(7) == b"\x02ab\x01cde"
    assert service.plain == bytearray(b"third")  # a plain characteristic keeps the last write only


def test_a_full_command_buffer_drops_the_new_bytes():
    service = make_service(buffer_size=8)
    central = connected_central()
    central.write(COMMAND, b"12345")
    central.write(COMMAND, b"abcde")
    assert service.command.in_waiting == 8
    assert service.command.read(3) == b"123"
    central.write(COMMAND, b"XYZW")
    assert service.command.read() == b"45abcXYZ"


def test_write_limits():
    service = make_service(buffer_size=30)
    central = connected_central()
    raises(CentralError, "a write without response carries at most ATT_MTU-3 = 20 bytes, not 21",
           central.write, COMMAND, bytes(21), response=False)
    raises(CentralError, "invalid attribute value length", central.write, COMMAND, bytes(31))
    assert service.command.in_waiting == 0
    with pytest.raises(CentralError, match="not simulated"):  # a long write needs prepare/execute
        central.write(COMMAND, bytes(21))
    assert service.command.in_waiting == 0
    big = connected_central(mtu=247)
    big.write(COMMAND, bytes(30), response=False)
    assert service.command.in_waiting == 30


def test_notifications_only_after_subscribing_and_truncated_to_the_mtu():
    service = make_service(response_max=40)
    small, large = connected_central(mtu=23), connected_central(mtu=247)
    service.response = b"before"
    assert small.notifications == [] and large.notifications == []
    small.subscribe(RESPONSE)
    large.subscribe(RESPONSE)
    clock = _harness.clock()
    clock.advance_to(5 * NS)
    service.response = bytes(range(40))
    assert small.take_notifications() == [(5 * NS, RESPONSE, bytes(range(20)))]
    assert large.take_notifications(uuid_str=RESPONSE) == [(5 * NS, RESPONSE, bytes(range(40)))]
    assert small.read(RESPONSE) == bytes(range(40))  # a read gets it all (long read)
    assert [c.max_packet_length for c in _bleio.adapter.connections] == [20, 244]
    small.unsubscribe(RESPONSE)
    service.response = b"after"
    assert small.notifications == [] and large.take_notifications() == [(5 * NS, RESPONSE, b"after")]


def test_subscribing_needs_notify_or_indicate_and_the_read_permission():
    plain = local(properties=_bleio.Characteristic.READ)
    secret = _bleio.Characteristic.add_to_service(
        _bleio.Service(_bleio.UUID(0x1811)), _bleio.UUID(0x2A46),
        properties=_bleio.Characteristic.NOTIFY, read_perm=_bleio.Attribute.NO_ACCESS)
    central = connected_central()
    assert plain.properties == _bleio.Characteristic.READ
    raises(CentralError, "UUID(0x2a19) has no CCCD (neither NOTIFY nor INDICATE)", central.subscribe, "UUID(0x2a19)")
    raises(CentralError, "write not permitted", central.subscribe, "00002a46-0000-1000-8000-00805f9b34fb")
    secret.value = b"x"
    assert central.notifications == []


def test_encrypted_attributes_refuse_an_unpaired_central():
    local(properties=_bleio.Characteristic.READ, read_perm=_bleio.Attribute.ENCRYPT_NO_MITM)
    central = connected_central()
    raises(CentralError, "insufficient authentication", central.read, _bleio.UUID(0x2A19))


def test_one_indication_at_a_time():
    ind = local(properties=_bleio.Characteristic.INDICATE, max_length=4)
    central = connected_central()
    central.subscribe("UUID(0x2a19)")
    ind.value = b"1"
    raises(_bleio.BluetoothError, "Unknown system firmware error: 0011", setattr, ind, "value", b"2")
    assert ind.value == bytearray(b"2")  # the value was stored before the indication failed
    _harness.clock().advance_to(60_000_000)  # two 30 ms connection intervals: confirmed
    ind.value = b"3"
    assert [data for _t, _u, data in central.take_notifications()] == [b"1", b"3"]


# --- CharacteristicBuffer -----------------------------------------------------------------------


def test_characteristic_buffer_arguments():
    char = local(properties=_bleio.Characteristic.WRITE)
    raises(TypeError, "characteristic must be of type Characteristic, not int", _bleio.CharacteristicBuffer, 5)
    raises(ValueError, "timeout must be >= 0", _bleio.CharacteristicBuffer, char, timeout=-1)
    raises(TypeError, "timeout must be of type float, not str", _bleio.CharacteristicBuffer, char, timeout="1")
    raises(ValueError, "buffer_size must be >= 1", _bleio.CharacteristicBuffer, char, buffer_size=0)
    raises(TypeError, "can't convert float to int", _bleio.CharacteristicBuffer, char, buffer_size=1.5)
    with pytest.raises(TypeError):
        _bleio.CharacteristicBuffer(char, max_packet_size=20)  # not on the board
    with pytest.raises(TypeError):
        _bleio.CharacteristicBuffer(char, 1.0)  # timeout is keyword-only
    assert not hasattr(_bleio.CharacteristicBuffer(char), "write")


def test_reads_wait_for_the_timeout_in_virtual_time():
    char = local(properties=_bleio.Characteristic.WRITE)
    buf = _bleio.CharacteristicBuffer(char, timeout=1, buffer_size=16)
    central = connected_central()
    clock = _harness.clock()
    assert buf.read(4) == b"" and clock.now_ns() == 1 * NS
    assert buf.readinto(bytearray(4)) == 0 and clock.now_ns() == 2 * NS
    central.write("UUID(0x2a19)", b"ab\ncd")
    assert buf.read(2) == b"ab" and clock.now_ns() == 2 * NS  # enough was there: no wait
    assert buf.readline() == b"\n" and clock.now_ns() == 2 * NS
    assert buf.read() == b"cd" and clock.now_ns() == 4 * NS  # a window for 256, then an empty one
    with pytest.raises(TypeError):
        buf.read(nbytes=2)  # positional only
    raises(ValueError, "length argument not allowed for this type", buf.readinto, bytearray(4), 2)


def test_timeout_zero_never_waits():
    char = local(properties=_bleio.Characteristic.WRITE)
    buf = _bleio.CharacteristicBuffer(char, timeout=0)
    assert (buf.read(), buf.read(3), buf.readline(), buf.readinto(bytearray(2))) == (b"", b"", b"", 0)
    assert _harness.clock().now_ns() == 0


def test_deinit_and_reset_input_buffer():
    char = local(properties=_bleio.Characteristic.WRITE)
    buf = _bleio.CharacteristicBuffer(char, timeout=0)
    central = connected_central()
    central.write("UUID(0x2a19)", b"abc")
    buf.reset_input_buffer()
    assert buf.in_waiting == 0
    central.write("UUID(0x2a19)", b"def")
    buf.deinit()
    buf.deinit()
    deinited = "Object has been deinitialized and can no longer be used. Create a new object."
    for call in (lambda: buf.in_waiting, lambda: buf.read(1), buf.read, buf.reset_input_buffer):
        raises(ValueError, deinited, call)
    assert buf.read(0) == b""  # py/stream.c never calls the driver for 0 bytes
    other = _bleio.CharacteristicBuffer(char, timeout=0)
    central.write("UUID(0x2a19)", b"ghi")
    assert other.read() == b"ghi"  # the deinited buffer no longer takes writes; a new one does


# --- connections --------------------------------------------------------------------------------


def test_connect_needs_a_connectable_advertisement():
    central = _harness.ble_central()
    raises(CentralError, "no connectable advertisement on air", central.connect)
    _bleio.adapter.start_advertising(ADV, connectable=False)
    raises(CentralError, "no connectable advertisement on air", central.connect)
    _bleio.adapter.stop_advertising()
    _bleio.adapter.start_advertising(ADV, timeout=1)
    _harness.clock().advance_to(1 * NS)
    raises(CentralError, "no connectable advertisement on air", central.connect)  # timed out
    raises(CentralError, "not connected", central.services)
    raises(CentralError, "not connected", central.read, STATUS)
    _bleio.adapter.start_advertising(ADV)
    central.connect()
    assert central.connected and not _bleio.adapter.advertising and _bleio.adapter.connected


def test_connections_keep_their_objects_and_either_side_may_disconnect():
    adapter = _bleio.adapter
    first = connected_central()
    connections = adapter.connections
    assert adapter.connections is connections and len(connections) == 1
    conn = connections[0]
    assert repr(conn) == "<Connection>" and not hasattr(conn, "address")
    assert (conn.connected, conn.paired, conn.connection_interval) == (True, False, 30.0)
    second = connected_central()  # advertising may restart while connected
    assert adapter.connections[0] is conn and len(adapter.connections) == 2
    first.disconnect()
    assert not first.connected and not conn.connected and adapter.connections == (adapter.connections[0],)
    dead = "Connection has been disconnected and can no longer be used. Create a new connection."
    raises(ConnectionError, dead, getattr, conn, "connection_interval")
    raises(ConnectionError, dead, getattr, conn, "max_packet_length")
    conn.disconnect()  # nothing on a dead link
    adapter.connections[0].disconnect()  # the board ends the other link
    assert not second.connected and not adapter.connected and adapter.connections == ()
    raises(CentralError, "not connected", second.write, PLAIN, b"x")


def test_a_new_link_takes_the_lowest_free_slot_and_starts_unsubscribed():
    service = make_service()
    a, _b = connected_central(), connected_central()
    conn_b = _bleio.adapter.connections[1]
    a.subscribe(RESPONSE)
    a.disconnect()
    _bleio.adapter.start_advertising(ADV)
    a.connect()  # the same central again: a new link, in slot 0
    connections = _bleio.adapter.connections
    assert connections[1] is conn_b and connections[0] is not conn_b and connections[0].connected
    service.response = b"x"
    assert a.notifications == []  # CCCDs start off on every link


def test_at_most_four_centrals():
    for _ in range(4):
        connected_central()
    raises(_bleio.BluetoothError, "Unknown system firmware error: 0012", _bleio.adapter.start_advertising, ADV)
    _bleio.adapter.start_advertising(ADV, connectable=False)  # beacons may go on
    raises(CentralError, "the board has no free peripheral link", _harness.ble_connect)


def test_connection_interval_setter():
    connected_central()
    conn = _bleio.adapter.connections[0]
    conn.connection_interval = 45
    assert conn.connection_interval == 45.0
    raises(ValueError, "Invalid BLE parameter", setattr, conn, "connection_interval", 5)
    raises(TypeError, "can't convert str to float", setattr, conn, "connection_interval", "45")


def test_harness_connect_needs_no_advertisement_and_reset_forgets_everything():
    service = make_service()
    central = _harness.ble_connect()
    assert _bleio.adapter.connected and central.services() == [SERVICE]
    _harness.ble_disconnect()
    assert not central.connected and not _bleio.adapter.connected
    central = connected_central()
    _harness.reset()
    assert not central.connected and _bleio.adapter.connections == ()
    assert not _bleio.adapter.enabled  # off again at power-on
    _bleio.adapter.enabled = True
    assert connected_central().services() == []
    assert service.bleio_service.characteristics  # the old Python objects remain, off the air


def test_disabling_the_adapter_ends_links_and_forgets_the_table():
    make_service()
    central = connected_central()
    _bleio.adapter.enabled = False
    assert not central.connected
    raises(_bleio.BluetoothError, "Unknown system firmware error: 0002", _bleio.Service, _bleio.UUID(1))
    _bleio.adapter.enabled = True
    assert connected_central().services() == []
