"""End to end in virtual time: the simulated meter -> the board's unchanged code.py -> its
advertisements, event by event -> Home Assistant's own BTHome parser."""

import boot
import _harness
import pytest

from ha_view import HomeAssistantView
from kaskad_sim.meter import SimMeter
from kaskad_sim.wire import SimWire

KEY = "231d39c1d7cc1ab1aee224cd096db932"
SECOND = 1_000_000_000


def run_board(tmp_path, seconds, settings_text, meter=None, nvm_file=None):
    """Boot code.py for `seconds` of virtual time; return the advertising events and the meter."""
    path = tmp_path / "settings.toml"
    path.write_text(settings_text)
    clock = _harness.reset()
    _harness.set_settings_path(str(path))
    if nvm_file:
        _harness.set_nvm_file(str(nvm_file))
    meter = meter or SimMeter(address=20109)
    _harness.attach_far_end("TX", "RX", SimWire(meter))
    clock.stop_at_ns = seconds * SECOND
    with pytest.raises(_harness.HostStop):
        boot.run_code_py()
    return _harness.ble_adv_events(0, seconds * SECOND), meter


def home_assistant(events, view=None, bindkey=None, since_s=0):
    """Feed every event to HA's receiver (its clock at ``since_s`` when the board booted); return
    (the latest value of each sensor, the receiver, which lives on across reboots)."""
    view = view or HomeAssistantView(bytes.fromhex(bindkey) if bindkey else None)
    seen = {}
    for t_ns, adv, scan, extended, connectable in events:
        assert not extended and len(adv) <= 31 and len(scan) <= 31
        seen.update(view.receive(adv, scan, _harness.ble_address(), since_s + t_ns / SECOND, connectable))
    return seen, view


def ad_structures(adv):
    """{AD type: data} of one advertisement (the BLE core spec's LL TT data... layout)."""
    found, at = {}, 0
    while at < len(adv) and adv[at]:
        found[adv[at + 1]] = adv[at + 2:at + 1 + adv[at]]
        at += 1 + adv[at]
    return found


def bthome_data(adv):
    """The BTHome service data (device-info byte onwards), or None (the name packet)."""
    data = ad_structures(adv).get(0x16)
    return data[2:] if data is not None and data[:2] == b"\xd2\xfc" else None


def expected_in_ha(meter):
    wh = 10 ** (3 - meter.decimals)
    return {
        "energy_1": meter.tariffs_raw[0] * wh / 1000,
        "energy_2": meter.tariffs_raw[1] * wh / 1000,
        "energy_3": meter.tariffs_raw[2] * wh / 1000,
        "voltage": round(meter.voltage_raw / 100, 1),
        "current": meter.current_raw / 1000,
        "power": meter.power_raw * 10 ** (5 - meter.decimals) / 100,
        "battery": round(meter.battery_remaining_months * 100 / meter.battery_total_months),
    }


def test_every_reading_arrives_in_home_assistant(tmp_path):
    events, meter = run_board(tmp_path, 20, "KASKAD_METER_ADDRESS = 20109\n")
    seen, view = home_assistant(events)
    for key, value in expected_in_ha(meter).items():
        assert seen[key] == pytest.approx(value), key
    assert view.title(_harness.ble_address()).startswith("KASKAD 20109")


def test_the_two_packets_alternate_at_the_switch_period(tmp_path):
    events, _ = run_board(tmp_path, 30, "KASKAD_METER_ADDRESS = 20109\nKASKAD_ADV_SWITCH_MS = 3000\n"
                                        "KASKAD_ADV_INTERVAL_MS = 1000\n")
    kinds = []
    for t_ns, adv, scan, _, _ in events:
        kind = "A" if b"\x4d" in adv[9:] and len(adv) > 20 else "B"
        if not kinds or kinds[-1][1] != kind:
            kinds.append((t_ns, kind))
    assert len(kinds) >= 8
    assert all(a[1] != b[1] for a, b in zip(kinds, kinds[1:]))
    gaps = [(b[0] - a[0]) / 1e6 for a, b in zip(kinds[1:], kinds[2:])]
    assert all(abs(gap - 3000) < 50 for gap in gaps), gaps


def test_a_new_reading_reaches_home_assistant_at_the_next_poll(tmp_path):
    meter = SimMeter(address=20109)
    events, _ = run_board(tmp_path, 7, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\n", meter)
    seen, view = home_assistant(events)
    assert seen["voltage"] == pytest.approx(229.9)
    # the meter changes; the same Home Assistant keeps listening across the next polls
    meter.voltage_raw = 23456
    meter.tariffs_raw[0] += 3
    events, _ = run_board(tmp_path, 12, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\n", meter)
    later, _ = home_assistant(events)
    assert later["voltage"] == pytest.approx(234.6)  # 234.56 V rounded half up to 0.1 V
    assert later["energy_1"] == pytest.approx((123456 + 3) * 10 / 1000)


def test_encrypted_packets_decode_with_the_key_only(tmp_path):
    # the battery travels encrypted in the status packet, the first rare one (at 15 s)
    events, meter = run_board(tmp_path, 20, 'KASKAD_METER_ADDRESS = 20109\nKASKAD_BINDKEY = "%s"\n' % KEY)
    bthome = [bthome_data(adv) for _, adv, _, _, _ in events]
    assert all(data[0] == 0x41 for data in bthome if data is not None)  # DI: encrypted BTHome v2
    # the rest is the name packet (the hold after boot, and now and then): flags and name only
    assert all(set(ad_structures(adv)) == {0x01, 0x09} for (_, adv, _, _, _), data in zip(events, bthome)
               if data is None)
    seen, _ = home_assistant(events, bindkey=KEY)
    for key, value in expected_in_ha(meter).items():
        assert seen[key] == pytest.approx(value), key
    wrong, _ = home_assistant(events, bindkey="00" * 16)
    none, _ = home_assistant(events)
    assert not {"energy_1", "voltage", "power"} & (set(wrong) | set(none))


def test_the_counter_survives_reboots_and_home_assistant_keeps_accepting(tmp_path):
    nvm = tmp_path / "nvm.bin"
    text = 'KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\nKASKAD_BINDKEY = "%s"\n' % KEY
    view = None
    counters = []
    for boot_number in range(4):
        meter = SimMeter(address=20109, voltage_raw=22000 + boot_number * 100)
        events, _ = run_board(tmp_path, 8, text, meter, nvm_file=nvm)
        counters.extend(int.from_bytes(adv[-8:-4], "little") for _, adv, _, _, _ in events
                        if bthome_data(adv) is not None)
        seen, view = home_assistant(events, view, bindkey=KEY, since_s=boot_number * 10)
        assert seen["voltage"] == pytest.approx(220.0 + boot_number), boot_number
    distinct = sorted(set(counters))
    assert counters == sorted(counters)  # only ever growing, across every reboot
    assert len(distinct) >= 8


def test_without_a_meter_address_the_board_still_advertises(tmp_path):
    events, _ = run_board(tmp_path, 8, "KASKAD_POLL_SECONDS = 5\n")
    assert events
    assert all(adv.startswith(b"\x02\x01\x06") and bthome_data(adv) is not None for _, adv, _, _, _ in events)
    # the name first, then the meter's silence: Home Assistant shows a problem
    seen, view = home_assistant(events)
    assert seen["binary_problem"] is True and view.title(_harness.ble_address()) == "KASKAD " + _harness.ble_address()[-5:].replace(":", "")
