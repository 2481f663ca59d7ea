"""kaskad.radio on the strict _bleio stand-in, with a real Broadcaster and Home Assistant's own
receiver: a packet with nothing to say gives way to the other, advertising stopped by a central
comes back at the next step, and an unusable key never puts a reading on air."""

import _bleio
import _harness

from ha_view import HomeAssistantView
from kaskad import reading as fields
from kaskad.bthome import Broadcaster, MemoryCounterStore
from kaskad.radio import Radio

MAC = bytes.fromhex("C81DF5EDA835")
BTHOME_SERVICE_DATA = b"\x16\xd2\xfc"  # AD type 0x16 with the BTHome UUID 0xFCD2


def voltage_only(broadcaster):
    reading = fields.Reading()
    reading.set(fields.VOLTAGE, 22990, 0)
    broadcaster.update(reading, 0, 60_000)


def on_air_in_home_assistant():
    _t, adv, scan, _extended, connectable = _harness.ble_on_air()
    return HomeAssistantView(None).receive(adv, scan, _harness.ble_address(), 1.0, connectable)


def make_radio():
    lines = []
    _bleio.adapter.address  # turns the radio on, as code.py does (off at power-on)
    broadcaster = Broadcaster(MAC, "KASKAD 20109", None, MemoryCounterStore(), lines.append, hold_ms=0)
    voltage_only(broadcaster)  # packet A (energy) has nothing, packet B has the voltage
    return Radio(_bleio.adapter, broadcaster, 1000, 3000, lines.append), broadcaster, lines


def test_each_packet_goes_on_air_in_its_slot():
    # packet A (energy: none known here) still carries the problem flag (the meter is heard);
    # packet B the voltage, after the switch
    radio, _, lines = make_radio()
    assert radio.tick(0) and radio.on_air == 0  # packet A's slot
    assert on_air_in_home_assistant().get("binary_problem") is False
    assert radio.tick(3000) and radio.on_air == 1
    assert on_air_in_home_assistant().get("voltage") == 229.9
    assert lines == []


def test_advertising_stopped_by_a_central_comes_back_at_the_next_step():
    radio, _, _ = make_radio()
    radio.tick(0)
    central = _harness.ble_central()
    central.connect()  # the board stops advertising when a central connects
    central.disconnect()
    assert not _bleio.adapter.advertising
    radio.keep_on_air(100)
    assert _bleio.adapter.advertising and on_air_in_home_assistant().get("binary_problem") is False


def test_withheld_readings_leave_only_a_connectable_advertisement_without_bthome_data():
    radio, broadcaster, _ = make_radio()
    broadcaster.withhold(True)
    radio.tick(0)
    _t, adv, _scan, _extended, connectable = _harness.ble_on_air()
    # no BTHome service data at all (the flags and the name), and connectable: the owner can
    # still connect and fix the key
    assert BTHOME_SERVICE_DATA not in adv and connectable
    assert (on_air_in_home_assistant() or {}).get("voltage") is None
    radio.set_connectable(False, 10)
    on_air = _harness.ble_on_air()
    assert on_air is None or BTHOME_SERVICE_DATA not in on_air[1]  # never readings in the clear
