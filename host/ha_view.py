"""What Home Assistant makes of the board's advertisements: its own BTHome receiver, fed like HA.

The chain is the one Home Assistant runs: the raw advertising data and scan response ->
``bluetooth_data_tools.parse_advertisement_data`` -> ``habluetooth.BluetoothServiceInfoBleak``
-> ``bthome_ble.BTHomeBluetoothDeviceData(bindkey=...).update`` -> sensor values. One
device-data object is kept per device address for the whole life of a ``HomeAssistantView``
(as HA keeps one per config entry), so its packet-id dedup, its 4-second rule and its
encryption-counter replay check act across calls exactly as in HA.

Between the scanner and the integration, HA's Bluetooth manager (habluetooth
``BluetoothManager.scanner_adv_received``) passes an advertisement on only when its service data,
manufacturer data, service UUIDs or name differ from the previous one of that address: the
repeats of one advertising set never reach bthome-ble. ``suppress_identical`` (on by default)
does the same here.

``receive`` returns only what THIS advertisement produced: ``{"energy_1": 12345.678, "battery":
96, "power": 1230.0, "current": 5.432, "voltage": 229.9, "packet_id": 7, ...}`` in HA's units
(kWh, %, W, A, V), keyed like HA's sensors (binary sensors as ``"binary_<key>": True/False``,
e.g. ``binary_problem``, ``binary_tamper``); an empty dict when the receiver dropped or could not
decrypt it. The signal strength HA adds to every update is left out.

Nothing here belongs to the firmware; no code in lib/ may import it.
"""
from typing import Any, Optional

from bleak.backends.device import BLEDevice
from bluetooth_data_tools import parse_advertisement_data
from bthome_ble import BTHomeBluetoothDeviceData
from habluetooth import BluetoothServiceInfoBleak

__all__ = ["HomeAssistantView", "decode", "DEFAULT_ADDRESS"]

DEFAULT_ADDRESS = "C8:1D:F5:ED:A8:35"
BINARY = "binary_"  # binary sensors' keys get this prefix: "binary_problem", "binary_battery"
_SKIPPED = {"signal_strength"}


class HomeAssistantView:
    """Home Assistant's BTHome integration listening to one or more devices."""

    def __init__(self, bindkey: Optional[bytes] = None, source: str = "host-scanner",
                 suppress_identical: bool = True) -> None:
        """``bindkey``: the key typed into HA for every device (None: no key)."""
        self.bindkey = bindkey
        self.source = source
        self.suppress_identical = suppress_identical
        self.devices: "dict[str, BTHomeBluetoothDeviceData]" = {}
        self._last: "dict[str, dict[Any, Any]]" = {}
        self._previous: "dict[str, tuple[Any, ...]]" = {}

    def device(self, address: str = DEFAULT_ADDRESS) -> BTHomeBluetoothDeviceData:
        """The receiver's state for ``address`` (created on first use, then kept)."""
        address = address.upper()
        data = self.devices.get(address)
        if data is None:
            data = BTHomeBluetoothDeviceData(bindkey=self.bindkey)
            self.devices[address] = data
            self._last[address] = {}
        return data

    def service_info(self, adv: bytes, scan: Optional[bytes], address: str, time_s: float,
                     connectable: bool = True, rssi: int = -60) -> BluetoothServiceInfoBleak:
        """The ``BluetoothServiceInfoBleak`` HA builds from one advertisement (+ scan response)."""
        chunks = (bytes(adv),) if not scan else (bytes(adv), bytes(scan))
        parsed = parse_advertisement_data(chunks)
        address = address.upper()
        name = parsed.local_name
        return BluetoothServiceInfoBleak(
            name or address, address, rssi, parsed.manufacturer_data, parsed.service_data,
            parsed.service_uuids, self.source, BLEDevice(address, name, {}), None, connectable,
            time_s, parsed.tx_power, b"".join(chunks))

    def receive(self, adv: bytes, scan: Optional[bytes] = None, address: str = DEFAULT_ADDRESS,
                time_s: float = 0.0, connectable: bool = True) -> "dict[str, Any]":
        """Feed one advertisement seen at ``time_s`` (seconds, monotonic); the values it produced."""
        data = self.device(address)
        info = self.service_info(adv, scan, address, time_s, connectable)
        seen = (info.service_data, info.manufacturer_data, info.service_uuids, info.name)
        if self.suppress_identical and self._previous.get(info.address) == seen:
            return {}
        self._previous[info.address] = seen
        update = data.update(info)
        # entity_values holds every value seen so far; a value this advertisement produced is a
        # new SensorValue object (the receiver makes one per object it accepts).
        last = self._last[address.upper()]
        fresh = {}
        for prefix, values in (("", update.entity_values), (BINARY, update.binary_entity_values)):
            for key, value in values.items():
                if key.key in _SKIPPED:
                    continue
                if last.get((prefix, key)) is not value:
                    fresh[prefix + key.key] = value.native_value
                last[(prefix, key)] = value
        return fresh

    def title(self, address: str = DEFAULT_ADDRESS) -> Optional[str]:
        """The device title HA shows ("{local name} {last 4 hex of the MAC}")."""
        return self.device(address).title


def decode(adv: bytes, scan: Optional[bytes] = None, bindkey: Optional[bytes] = None,
           address: str = DEFAULT_ADDRESS, time_s: float = 0.0) -> "dict[str, Any]":
    """One advertisement through a fresh receiver (no history): the values HA reads from it."""
    return HomeAssistantView(bindkey).receive(adv, scan, address, time_s)
