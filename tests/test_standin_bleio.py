"""_bleio stand-in: each rule here is one a lenient stand-in would break.

The board's behaviour comes from shared-bindings/_bleio/Adapter.c, shared-bindings/_bleio/
Address.c and ports/nordic/common-hal/_bleio/Adapter.c (see host/circuitpython/_bleio.py).
"""
import pytest

import _bleio
import _harness

ADV = bytes.fromhex("020106") + bytes.fromhex("1216d2fc40000701600b78e001433815 4afb08".replace(" ", ""))
SCAN = bytes.fromhex("0d094b41534b414420323031303939")[:-1]


def raises(exc, message, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert str(info.value) == message
    return info.value


@pytest.fixture
def adapter():
    """The adapter with its radio on, as code.py leaves it (it reads the address first)."""
    _bleio.adapter.enabled = True
    return _bleio.adapter


# --- Address and the board's identity -------------------------------------------------------------


def test_address_bytes_are_little_endian_and_repr_is_display_order(adapter):
    address = adapter.address
    assert address.address_bytes == bytes.fromhex("35a8edf51dc8")
    assert repr(address) == "<Address c8:1d:f5:ed:a8:35>"
    assert address.type == _bleio.Address.RANDOM_STATIC


def test_the_host_sets_the_mac_in_display_order(adapter):
    _harness.set_ble_address("12:34:56:78:9A:BC")
    assert adapter.address.address_bytes == bytes([0xBC, 0x9A, 0x78, 0x56, 0x34, 0x12])
    assert _harness.ble_address() == "12:34:56:78:9A:BC"
    assert adapter.name == "CIRCUITPY9abc"
    _harness.set_ble_address(bytes.fromhex("C81DF5EDA835"))
    assert adapter.address.address_bytes == bytes.fromhex("35a8edf51dc8")
    with pytest.raises(ValueError):
        _harness.set_ble_address("12:34:56")
    _harness.set_ble_address("12:34:56:78:9A:BC")
    _harness.reset()
    assert _harness.ble_address() == "C8:1D:F5:ED:A8:35"


def test_default_name_is_circuitpy_and_the_last_four_hex_digits(adapter):
    assert adapter.name == "CIRCUITPYa835"
    adapter.name = "KASKAD 20109"
    assert adapter.name == "KASKAD 20109"
    with pytest.raises(TypeError):
        adapter.name = 5


def test_address_objects(adapter):
    a = _bleio.Address(bytes(range(6)), _bleio.Address.PUBLIC)
    assert a == _bleio.Address(bytearray(range(6)), 0)
    assert a != _bleio.Address(bytes(range(6)), 1)
    assert hash(a) == hash(_bleio.Address(bytes(range(6)), 0))
    raises(ValueError, "address length must be 6", _bleio.Address, bytes(5), 0)
    raises(ValueError, "address_type must be 0-3", _bleio.Address, bytes(6), 4)
    raises(TypeError, "object with buffer protocol required", _bleio.Address, 5, 0)
    with pytest.raises(AttributeError):
        a.address_bytes = bytes(6)
    assert adapter.address == adapter.address and adapter.address is not adapter.address


def test_there_is_one_adapter_and_its_state_is_read_only(adapter):
    raises(NotImplementedError, "Cannot create a new Adapter; use _bleio.adapter;", _bleio.Adapter)
    for name in ("advertising", "connected", "connections"):
        raises(AttributeError, "can't set attribute '%s'" % name, setattr, adapter, name, True)
    assert adapter.connections == ()


def test_the_radio_is_off_at_power_on_until_the_address_is_read():
    adapter = _bleio.adapter
    # supervisor/shared/bluetooth/bluetooth.c: no BLE workflow on an unbonded USB board, so
    # nothing enables the SoftDevice; common_hal_bleio_adapter_get_address() does.
    assert adapter.enabled is False
    raises(_bleio.BluetoothError, "Unknown system firmware error: 0002", adapter.start_advertising, ADV)
    adapter.address
    assert adapter.enabled is True
    adapter.start_advertising(ADV)
    assert adapter.advertising


# --- start_advertising: what the board accepts ------------------------------------------------------


def test_legacy_advertisement_with_scan_response_goes_on_air(adapter):
    adapter.start_advertising(ADV, scan_response=SCAN)
    assert adapter.advertising
    assert _harness.ble_air_log() == [(0, ADV, SCAN, False, True)]
    assert _harness.ble_on_air() == (0, ADV, SCAN, False, True)


def test_advertising_data_is_copied_when_it_starts(adapter):
    buf = bytearray(ADV)
    adapter.start_advertising(memoryview(buf))
    buf[-1] ^= 0xFF
    assert _harness.ble_on_air()[1] == ADV


def test_already_advertising_is_a_bluetooth_error(adapter):
    adapter.start_advertising(ADV)
    raises(_bleio.BluetoothError, "Already advertising.", adapter.start_advertising, ADV)
    adapter.stop_advertising()
    assert not adapter.advertising
    adapter.start_advertising(ADV)
    adapter.stop_advertising()
    adapter.stop_advertising()  # stopping twice is fine


@pytest.mark.parametrize("interval", [0.0199999, 0.019, 0, -1, 10.2401, 10.25, 11])
def test_interval_outside_0_02_to_10_24_is_refused(adapter, interval):
    # 10.2401 is what 10240 ms became before: the board refuses it, and the radio stays off.
    raises(ValueError, "interval must be in range 0.02-10.24", adapter.start_advertising, ADV,
           interval=interval)
    assert not adapter.advertising


@pytest.mark.parametrize("interval, spacing_ns", [(0.02, 20_000_000), (0.0201, 20_000_000), (0.1, 100_000_000),
                                                  (1, 1_000_000_000), (10.24, 10_240_000_000)])
def test_interval_is_kept_in_0_625_ms_units(adapter, interval, spacing_ns):
    adapter.start_advertising(ADV, interval=interval)
    events = _harness.ble_adv_events(0, 3 * spacing_ns)
    assert [t for t, *_ in events] == [0, spacing_ns, 2 * spacing_ns]


def test_interval_must_be_a_number(adapter):
    raises(TypeError, "can't convert str to float", adapter.start_advertising, ADV, interval="1")
    raises(TypeError, "can't convert NoneType to float", adapter.start_advertising, ADV, interval=None)


def test_only_data_is_positional(adapter):
    with pytest.raises(TypeError):
        adapter.start_advertising(ADV, SCAN)


def test_more_than_31_bytes_become_extended_advertising(adapter):
    data = ADV + bytes(10)
    adapter.start_advertising(data, connectable=False)
    assert _harness.ble_air_log()[-1] == (0, data, b"", True, False)
    adapter.stop_advertising()
    adapter.start_advertising(data)  # connectable, no scan response: allowed, still extended
    assert _harness.ble_air_log()[-1][3] is True


def test_exactly_31_bytes_stay_legacy(adapter):
    adapter.start_advertising(bytes(31), scan_response=bytes(31))
    assert _harness.ble_air_log()[-1][3] is False


def test_extended_connectable_advertising_has_no_scan_response(adapter):
    raises(_bleio.BluetoothError, "Cannot have scan responses for extended, connectable advertisements.",
           adapter.start_advertising, bytes(32), scan_response=SCAN)
    raises(_bleio.BluetoothError, "Extended advertisements with scan response not supported.",
           adapter.start_advertising, bytes(32), scan_response=SCAN, connectable=False)
    raises(ValueError, "Invalid BLE parameter", adapter.start_advertising, ADV, scan_response=bytes(32))
    assert not adapter.advertising
    adapter.start_advertising(ADV, scan_response=bytes(32), connectable=False)  # extended, scannable
    assert _harness.ble_air_log()[-1][3] is True


def test_data_too_large(adapter):
    raises(ValueError, "Data too large for advertisement packet", adapter.start_advertising, bytes(239))
    adapter.start_advertising(bytes(238))
    adapter.stop_advertising()
    raises(ValueError, "Data too large for advertisement packet", adapter.start_advertising, bytes(256),
           connectable=False)
    adapter.start_advertising(bytes(255), connectable=False)


def test_timeout_limits_and_expiry(adapter):
    raises(_bleio.BluetoothError, "Timeout is too long: Maximum timeout length is 180 seconds",
           adapter.start_advertising, ADV, timeout=181)
    raises(TypeError, "can't convert float to int", adapter.start_advertising, ADV, timeout=1.5)
    adapter.start_advertising(ADV, timeout=2, interval=1)
    _harness.clock().advance_to(1_999_999_999)
    assert adapter.advertising
    _harness.clock().advance_to(2_000_000_000)
    assert not adapter.advertising
    assert len(_harness.ble_adv_events(0, 10_000_000_000)) == 2
    adapter.start_advertising(ADV)  # a timed-out advertisement no longer blocks a new one


def test_tx_power_must_be_one_the_radio_has(adapter):
    raises(ValueError, "Invalid BLE parameter", adapter.start_advertising, ADV, tx_power=1)
    raises(ValueError, "Invalid BLE parameter", adapter.start_advertising, ADV, tx_power=9)
    assert not adapter.advertising
    adapter.start_advertising(ADV, tx_power=-40)
    adapter.stop_advertising()
    adapter.start_advertising(ADV, tx_power=8)


def test_directed_advertising_rules(adapter):
    peer = _bleio.Address(bytes(6), 1)
    raises(_bleio.BluetoothError, "Only connectable advertisements can be directed",
           adapter.start_advertising, b"", directed_to=peer, connectable=False)
    raises(TypeError, "directed_to must be of type Address, not bytes",
           adapter.start_advertising, b"", directed_to=bytes(6))
    raises(_bleio.BluetoothError, "Data not supported with directed advertising",
           adapter.start_advertising, ADV, directed_to=peer)
    adapter.start_advertising(b"", directed_to=peer)


def test_a_central_connecting_stops_advertising(adapter):
    adapter.start_advertising(ADV, interval=1)
    _harness.clock().advance_to(1_500_000_000)
    _harness.ble_connect()
    assert adapter.connected and not adapter.advertising
    _harness.clock().advance_to(5_000_000_000)
    assert len(_harness.ble_adv_events(0, 5_000_000_000)) == 2  # at 0 and 1 s, then the connection
    adapter.start_advertising(ADV, interval=1)  # may advertise again while connected
    assert adapter.advertising
    _harness.ble_disconnect()
    assert not adapter.connected and adapter.advertising


def test_disabling_the_adapter_stops_advertising(adapter):
    adapter.start_advertising(ADV)
    adapter.enabled = False
    assert not adapter.advertising
    with pytest.raises(_bleio.BluetoothError):
        adapter.start_advertising(ADV)
    adapter.enabled = True
    adapter.start_advertising(ADV)


def test_the_air_over_virtual_time(adapter):
    clock = _harness.clock()
    adapter.start_advertising(ADV, scan_response=SCAN, interval=1)
    clock.advance_to(2_500_000_000)
    adapter.stop_advertising()
    other = ADV[:-1] + b"\x09"
    adapter.start_advertising(other, interval=0.5)
    clock.advance_to(4_000_000_000)
    events = _harness.ble_adv_events(0, 4_000_000_000)
    assert [(t, data) for t, data, *_ in events] == [
        (0, ADV), (1_000_000_000, ADV), (2_000_000_000, ADV),
        (2_500_000_000, other), (3_000_000_000, other), (3_500_000_000, other)]
    assert _harness.ble_on_air(1_000_000_000)[1] == ADV
    assert _harness.ble_on_air(2_600_000_000)[1] == other
    assert [t for t, *_ in _harness.ble_adv_events(1_200_000_000, 3_100_000_000)] == [
        2_000_000_000, 2_500_000_000, 3_000_000_000]


def test_reset_forgets_the_air(adapter):
    adapter.start_advertising(ADV)
    _harness.ble_connect()
    adapter.name = "x"
    _harness.reset()
    assert not adapter.advertising and not adapter.connected
    assert _harness.ble_air_log() == []
    assert adapter.name == "CIRCUITPYa835"
    assert _harness.ble_on_air() is None


def test_what_is_not_simulated_says_so(adapter):
    with pytest.raises(NotImplementedError):
        adapter.start_scan()
    with pytest.raises(NotImplementedError):
        adapter.connect(adapter.address, timeout=1)
