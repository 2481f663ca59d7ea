"""A real Home Assistant core (2025.4.4, its bluetooth, bthome and energy integrations, in its own
test harness) fed what the board puts on air (tests_ha/air.py: the unchanged code.py on the twin,
the simulated meter), the three ways Home Assistant receives advertisements:

- "active": a local adapter scanning actively: advertisement and scan response as ONE report;
- "proxy": an ESPHome Bluetooth proxy: advertisement and scan response as two reports;
- "passive": a passive scanner: the advertisements only.

Each report goes through habluetooth's scanner (``BaseHaRemoteScanner._async_on_advertisement``,
which merges what one address sent, as HA's own scanners do) and HA's Bluetooth manager, as in HA
core's tests/components/bluetooth helpers. HA's clock for Bluetooth is the board's virtual time
offset to now. Assertions are on HA's entities and the energy integration's own validation.
"""
import json
import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import pytest
from bluetooth_data_tools import monotonic_time_coarse, parse_advertisement_data_tuple
from habluetooth import BaseHaRemoteScanner

from homeassistant import config_entries
from homeassistant.components import bluetooth
from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done, do_adhoc_statistics)

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "231d39c1d7cc1ab1aee224cd096db932"
SILENT_FROM_S, SILENT_UNTIL_S, POLL_S, MAX_AGE_S = 32, 95, 10, 20  # as in air.py
DEVICE = "kaskad_20109_a835"
_AIR = {}


def air(scenario, tmp_path_factory):
    """The board's advertisements for ``scenario`` (run once per session, in its own process)."""
    if scenario not in _AIR:
        tmp = tmp_path_factory.mktemp(scenario)
        done = subprocess.run([sys.executable, os.path.join(HERE, "air.py"), scenario, str(tmp)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        with open(tmp / "air.json") as data:
            _AIR[scenario] = json.load(data)
    return _AIR[scenario]


class Scanner(BaseHaRemoteScanner):
    """A scanner that hands HA's Bluetooth manager the reports it is given."""


class Feed:
    """The board's air through one scanner into HA, in the board's virtual time."""

    def __init__(self, hass, kind, air):
        self.hass = hass
        self.kind = kind
        self.air = air
        self.address = air["address"]
        self.t0 = monotonic_time_coarse()
        self.scanner = Scanner("kaskad-%s" % kind, "kaskad-%s" % kind, None, True)
        self.unregister = bluetooth.async_register_scanner(hass, self.scanner)
        self.position = [0, 0]  # run, event

    def _report(self, chunks, t):
        parsed = parse_advertisement_data_tuple(chunks)
        name, uuids, service_data, manufacturer_data, tx_power = parsed
        self.scanner._async_on_advertisement(self.address, -60, name, uuids, service_data,
                                             manufacturer_data, tx_power, {}, self.t0 + t)

    async def until(self, t_s):
        """Feed every advertising event before board time ``t_s`` (seconds since the first boot)."""
        runs = self.air["runs"]
        while self.position[0] < len(runs):
            run = runs[self.position[0]]
            events = run["events"]
            while self.position[1] < len(events):
                t, adv, scan, _ = events[self.position[1]]
                t += run["start_s"]
                if t >= t_s:
                    await self.hass.async_block_till_done()
                    return
                adv, scan = bytes.fromhex(adv), bytes.fromhex(scan)
                if self.kind == "active":
                    self._report((adv, scan) if scan else (adv,), t)
                elif self.kind == "proxy":
                    self._report((adv,), t)
                    if scan:
                        self._report((scan,), t + 0.001)
                else:
                    self._report((adv,), t)
                self.position[1] += 1
            self.position = [self.position[0] + 1, 0]
        await self.hass.async_block_till_done()


def expected(truth):
    """What HA must show, from the simulated meter's own registers, in HA's units."""
    wh = truth["energy_wh"]
    months_left, months = truth["battery_months"]
    battery = int((Decimal(months_left) * 100 / months).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    volts = (Decimal(truth["voltage_cv"]) / 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return {
        # entity: (state, device class, state class, unit)
        "sensor.%s_energy_1" % DEVICE: (str(Decimal(wh[0]) / 1000), "energy", "total", "kWh"),
        "sensor.%s_energy_2" % DEVICE: (str(Decimal(wh[1]) / 1000), "energy", "total", "kWh"),
        "sensor.%s_energy_3" % DEVICE: (str(Decimal(wh[2]) / 1000), "energy", "total", "kWh"),
        "sensor.%s_power" % DEVICE: (str(Decimal(truth["power_cw"]) / 100), "power", "measurement", "W"),
        "sensor.%s_current" % DEVICE: (str(Decimal(truth["current_ma"]) / 1000), "current", "measurement", "A"),
        "sensor.%s_voltage" % DEVICE: (str(volts), "voltage", "measurement", "V"),
        "sensor.%s_battery" % DEVICE: (str(battery), "battery", "measurement", "%"),
        "sensor.%s_text" % DEVICE: (truth["serial"], None, None, None),
        "sensor.%s_raw" % DEVICE: (truth["made"].replace(".", ""), None, None, None),
        "binary_sensor.%s_battery" % DEVICE: (STATE_ON if battery <= 10 else STATE_OFF, "battery", None, None),
        "binary_sensor.%s_problem" % DEVICE: (STATE_OFF, "problem", None, None),
        "binary_sensor.%s_safety" % DEVICE: (STATE_ON if truth["flags_b"] & 0x20 else STATE_OFF, "safety", None, None),
        "binary_sensor.%s_tamper" % DEVICE: (STATE_ON if truth["flags_a"] & 0x3E else STATE_OFF, "tamper", None, None),
    }


def same_number(a, b):
    try:
        return Decimal(a) == Decimal(b)
    except ArithmeticError:
        return a == b


def entities(hass):
    """{entity id: (state, device class, state class, unit)} of every entity of the device."""
    registry = er.async_get(hass)
    found = {}
    for entry in registry.entities.values():
        if entry.platform != "bthome":
            continue
        state = hass.states.get(entry.entity_id)
        if state is None:  # disabled by default (packet id, signal strength)
            continue
        found[entry.entity_id] = (state.state, state.attributes.get("device_class"),
                                  state.attributes.get("state_class"),
                                  state.attributes.get("unit_of_measurement"))
    return found


def assert_shows(hass, want, skip=()):
    got = entities(hass)
    for entity_id, (state, *rest) in want.items():
        if entity_id in skip:
            continue
        assert entity_id in got, (entity_id, sorted(got))
        assert same_number(got[entity_id][0], state), (entity_id, got[entity_id], state)
        assert list(got[entity_id][1:]) == rest, (entity_id, got[entity_id])
    return got


async def discover_and_add(hass, feed, bindkey, until_s):
    """Feed until HA's discovery flow appears; confirm it (with the key when encrypted)."""
    await feed.until(until_s)
    # HA's Bluetooth manager matched the device to bthome (its discovered service info); the
    # flow is started with that service info as HA core's tests/components/bthome do (the
    # manager's own dispatch of discovery flows did not fire in this harness)
    info = bluetooth.async_last_service_info(hass, feed.address, connectable=False)
    assert info is not None and "0000fcd2-0000-1000-8000-00805f9b34fb" in info.service_data
    flow = await hass.config_entries.flow.async_init(
        "bthome", context={"source": config_entries.SOURCE_BLUETOOTH}, data=info)
    progress = [f for f in hass.config_entries.flow.async_progress() if f["flow_id"] == flow["flow_id"]]
    title = progress[0]["context"]["title_placeholders"]["name"]
    if bindkey is None:
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], user_input={})
    else:
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], user_input=None)
        assert result["step_id"] == "get_encryption_key"
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], user_input={"bindkey": "00" * 16})
        assert result["type"] is FlowResultType.FORM and result["errors"] == {"bindkey": "decryption_failed"}
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], user_input={"bindkey": bindkey})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    return title, result["title"]


@pytest.mark.parametrize("scenario", ["plain", "encrypted"])
@pytest.mark.parametrize("kind", ["active", "proxy", "passive"])
async def test_home_assistant_shows_the_meter(recorder_mock, hass: HomeAssistant, enable_bluetooth,
                                            tmp_path_factory, kind, scenario):
    the_air = air(scenario, tmp_path_factory)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)  # discovery flows wait for HA's start
    await hass.async_block_till_done()
    feed = Feed(hass, kind, the_air)
    bindkey = KEY if scenario == "encrypted" else None
    # discovery: from the first advertisements (the name packet of the hold after boot, then data)
    card, title = await discover_and_add(hass, feed, bindkey, 10)
    assert card == title == "KASKAD 20109 A835", (kind, card, title)
    await feed.until(SILENT_FROM_S)  # every packet, the rare ones too, has come round
    want = expected(the_air["truth"])
    text = "sensor.%s_text" % DEVICE  # the identity packet comes round after ~40 s
    shown = assert_shows(hass, want, skip=(text,))
    device = hass.data["device_registry"].async_get_device(connections={("bluetooth", feed.address)})
    assert device.name == "KASKAD 20109 A835"
    print("\n%s, %s: %d entities" % (kind, scenario, len(shown)))
    for entity_id in sorted(shown):
        print("  %-45s %-14s %-10s %-12s %s" % ((entity_id,) + tuple(
            "-" if v is None else v for v in shown[entity_id][1:]) + (shown[entity_id][0],)))

    # the Energy dashboard takes the three tariffs, as HA's own validation says
    manager = await energy_data.async_get_manager(hass)
    await manager.async_update({"energy_sources": [{
        "type": "grid", "flow_from": [
            {"stat_energy_from": "sensor.%s_energy_%d" % (DEVICE, i), "stat_cost": None,
             "entity_energy_price": None, "number_energy_price": None} for i in (1, 2, 3)],
        "flow_to": [], "cost_adjustment_day": 0}], "device_consumption": []})
    # statistics metadata appears when the recorder compiles the current 5-minute period
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    do_adhoc_statistics(hass, start=now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0))
    await async_wait_recording_done(hass)
    validation = await energy_validate.async_validate(hass)
    assert validation.as_dict() == {"energy_sources": [[]], "device_consumption": []}

    # the meter falls silent at SILENT_FROM_S (just after a poll): HA shows the problem
    problem = "binary_sensor.%s_problem" % DEVICE
    t = SILENT_FROM_S
    while hass.states.get(problem).state == STATE_OFF and t < SILENT_UNTIL_S:
        t += 0.5
        await feed.until(t)
    last_good_poll = SILENT_FROM_S - SILENT_FROM_S % POLL_S
    shown_after = t - last_good_poll
    print("  problem on %.1f s after the last good poll (%.1f s after the meter fell silent)"
          % (shown_after, t - SILENT_FROM_S))
    assert hass.states.get(problem).state == STATE_ON
    assert shown_after <= POLL_S + MAX_AGE_S + 7  # the max age, then the next packet switch
    # the stale values stay as they were: a packet without them leaves HA's state untouched
    await feed.until(SILENT_UNTIL_S)
    shown[text] = assert_shows(hass, {text: want[text]})[text]
    print("  %-45s %-14s %-10s %-12s %s" % (text, "-", "-", "-", shown[text][0]))
    assert_shows(hass, {k: v for k, v in want.items() if k != problem}, skip=(
        "binary_sensor.%s_tamper" % DEVICE, "binary_sensor.%s_safety" % DEVICE))
    # the meter answers again: the next good poll clears it
    t = SILENT_UNTIL_S
    while hass.states.get(problem).state == STATE_ON and t < SILENT_UNTIL_S + 2 * POLL_S:
        t += 0.5
        await feed.until(t)
    next_poll = SILENT_UNTIL_S + (-SILENT_UNTIL_S) % POLL_S
    print("  problem off %.1f s after the first good poll" % (t - next_poll))
    assert hass.states.get(problem).state == STATE_OFF
    assert t - next_poll <= 7

    # a reboot (runs[1]), the meter's voltage changed: the first packets with data after it are
    # taken (none dropped): within one switch of the first, HA shows the new voltage
    run = the_air["runs"][1]
    first = next(t for t, adv, _, _ in run["events"] if has_values(bytes.fromhex(adv)))
    first += run["start_s"]
    await feed.until(first + 0.5)  # the first packet with data after the reboot ...
    taken = hass.config_entries.async_entries("bthome")[0].runtime_data.device_data.last_service_info
    assert abs(taken.time - (feed.t0 + first)) < 0.01, "the first packet after the reboot was dropped"
    await feed.until(first + 3.5)  # ... and the other one, a switch later
    voltage = "sensor.%s_voltage" % DEVICE
    print("  after the reboot: first packet with data %.1f s after boot; voltage %s"
          % (first - run["start_s"], hass.states.get(voltage).state))
    volts = (Decimal(the_air["truth"]["reboot_voltage_cv"]) / 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    assert same_number(hass.states.get(voltage).state, volts)
    await feed.until(run["start_s"] + 30)
    assert_shows(hass, {k: v for k, v in want.items() if k != voltage})
    feed.unregister()


def has_values(adv):
    """True when the advertisement carries BTHome objects (not the name packet)."""
    at = 0
    while at < len(adv) and adv[at]:
        if adv[at + 1] == 0x16 and adv[at + 2:at + 4] == b"\xd2\xfc" and adv[at] > 4:
            return True
        at += 1 + adv[at]
    return False


async def test_home_assistant_shows_a_mercury_206_with_what_it_offers(recorder_mock, hass: HomeAssistant,
                                                                     enable_bluetooth, tmp_path_factory):
    """Another meter family (Mercury-206) gives the same entities as far as it offers them: no
    tamper or safety (its notes name no status word), the rest as from the KASKAD-1-MT."""
    the_air = air("mercury-206", tmp_path_factory)
    truth = the_air["truth"]
    assert truth["forbidden"] == 0
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    feed = Feed(hass, "active", the_air)
    card, title = await discover_and_add(hass, feed, None, 10)
    device = "kaskad_%d_a835" % 36896545
    assert card == title == "KASKAD 36896545 A835"
    await feed.until(69)
    volts = (Decimal(truth["voltage_cv"]) / 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    want = {
        "sensor.%s_energy_1" % device: (str(Decimal(truth["energy_wh"][0]) / 1000), "energy", "total", "kWh"),
        "sensor.%s_energy_2" % device: (str(Decimal(truth["energy_wh"][1]) / 1000), "energy", "total", "kWh"),
        "sensor.%s_energy_3" % device: (str(Decimal(truth["energy_wh"][2]) / 1000), "energy", "total", "kWh"),
        "sensor.%s_power" % device: (str(Decimal(truth["power_cw"]) / 100), "power", "measurement", "W"),
        "sensor.%s_current" % device: (str(Decimal(truth["current_ma"]) / 1000), "current", "measurement", "A"),
        "sensor.%s_voltage" % device: (str(volts), "voltage", "measurement", "V"),
        "sensor.%s_text" % device: (truth["serial"], None, None, None),
        "sensor.%s_raw" % device: (truth["made"], None, None, None),
        "binary_sensor.%s_problem" % device: (STATE_OFF, "problem", None, None),
    }
    shown = assert_shows(hass, want)
    # the battery is the old firmware's estimate from running hours: there, whatever its value
    estimated = {"sensor.%s_battery" % device, "binary_sensor.%s_battery" % device}
    assert set(shown) == set(want) | estimated, sorted(shown)
    print("\nmercury-206: %d entities" % len(shown))
    for entity_id in sorted(shown):
        print("  %-45s %s" % (entity_id, shown[entity_id][0]))
    feed.unregister()
