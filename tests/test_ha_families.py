"""Home Assistant's view of each meter family, end to end: the simulated meter of the family on the
wire (host/kaskad_sim), the unchanged code.py booted by the runner (host/run.py --meter F, in
virtual time), and Home Assistant's own BTHome parser (bthome-ble, host/ha_view.py) reading every
advertisement put on air.

The expected values come from the simulated meter's registers by the units its document gives
(never from the firmware); the expected entities are what the family offers: every family gives
energy (T1..T3), power, current, voltage, the problem flag and its serial; the battery, its date of
manufacture, tamper and safety only where the meter has them. What a family lacks never appears,
not even as zero.
"""

import pytest

from kaskad_sim.families import build_meter
from rig import expected_from
from test_run import run_json, run_virtual, settings_file  # noqa: F401 (fixtures)

# Registers chosen so that every value is exact in the firmware's units (no rounding to agree on).
STATE = {
    "kaskad-1-mt": {},
    "kaskad-11-c1": {"energy_import": (123456, 7890, 12, 5), "voltage_raw": 2301, "current_ma": 4321,
                     "active_power_raw": 9870},
    "mercury-206": {"tariffs_raw": (123456, 7890, 3, 0), "voltage_raw": 2295, "current_raw": 1234,
                    "power_w": 2831},
    "ce-102m": {"tariffs_raw": (900012, 334555, 7, 0), "power_raw": 1_234_560, "voltage_raw": 23010,
                "current_ma": 5432},
}
ADDRESS = {"kaskad-1-mt": 20109, "kaskad-11-c1": 20109, "mercury-206": 36896545, "ce-102m": None}

COMMON = {"energy_1", "energy_2", "energy_3", "power", "current", "voltage", "binary_problem", "text"}
ENTITIES = {  # what each family offers beyond COMMON
    "kaskad-1-mt": {"battery", "binary_battery", "binary_tamper", "binary_safety", "raw"},
    "kaskad-11-c1": {"battery", "binary_battery", "raw"},
    "mercury-206": {"battery", "binary_battery", "raw"},
    "ce-102m": {"binary_battery"},  # its status word has battery flags, no % and no date
}


def truth(family, meter):
    """(Wh of T1..T3, 0.01 V, mA, 0.01 W, serial, date as HA's raw sensor shows it) by the
    documents' units (host/kaskad_sim docstrings)."""
    if family == "kaskad-1-mt":
        values = expected_from(meter)
        return values[:3], values[5], values[6], values[7], "3171112520109", "04102017"
    if family == "kaskad-11-c1":
        return ([wh * 10 for wh in meter.energy_import[:3]], meter.voltage_raw * 10, meter.current_ma,
                meter.active_power_raw * 10, meter.serial, "%02d%02d%04d" % tuple(reversed(meter.released)))
    if family == "mercury-206":
        return ([wh * 10 for wh in meter.tariffs_raw[:3]], meter.voltage_raw * 10, meter.current_raw * 10,
                meter.power_w * 100, str(meter.serial), "%02d%02d%04d" % tuple(reversed(meter.released)))
    scale = 10 ** (3 - meter.energy_decimals)
    return ([raw * scale for raw in meter.tariffs_raw[:3]], meter.voltage_raw * 10 ** (2 - meter.voltage_decimals),
            meter.current_ma * 10 ** (3 - meter.current_decimals), meter.power_raw * 10 ** 5 // 10 ** meter.power_decimals,
            meter.serial, None)


@pytest.fixture
def family_run(tmp_path, monkeypatch, run_json):  # noqa: F811
    """Run the firmware against ``family``'s simulated meter; (meter, JSON lines)."""
    import run as runner

    def go(family, seconds=75, extra="", fault=None):
        meters = []

        def build(name, address):
            meters.append(build_meter(name, address, **STATE[name]))
            meters[-1].persistent_fault = fault
            return meters[-1]

        monkeypatch.setattr(runner, "build_meter", build)
        address = ADDRESS[family]
        text = ("KASKAD_METER_ADDRESS = %d\n" % address if address else "") + extra
        lines = run_json("--meter", family, "--settings", settings_file(tmp_path, text), "--seconds", str(seconds))
        return meters[0], lines

    return go


def ha_seen(lines):
    seen = {}
    for line in lines:
        if line["type"] == "advert":
            seen.update(line["ha"])
    seen.pop("packet_id", None)
    return seen


@pytest.mark.parametrize("family", sorted(STATE))
def test_home_assistant_gets_what_the_meter_holds_and_only_what_the_family_offers(family, family_run):
    meter, lines = family_run(family)
    assert [line["what"] for line in lines if line["type"] == "error"] == []
    seen = ha_seen(lines)
    assert set(seen) == COMMON | ENTITIES[family], sorted(seen)
    tariffs, voltage_cv, current_ma, power_cw, serial, made = truth(family, meter)
    assert [seen["energy_%d" % (i + 1)] for i in range(3)] == [wh / 1000 for wh in tariffs]
    assert seen["voltage"] == (voltage_cv + 5) // 10 / 10
    assert seen["current"] == current_ma / 1000
    assert seen["power"] == power_cw / 100
    assert seen["text"] == serial
    assert seen.get("raw") == made
    assert seen["binary_problem"] is False
    reading = [line for line in lines if line["type"] == "reading"][0]
    assert reading["family"] == family
    if "battery" in seen:
        assert seen["battery"] == reading["battery_pct"]  # an estimate: the drivers' tests check it
    assert meter.forbidden == []


@pytest.mark.parametrize("family", ["mercury-206", "ce-102m"])
def test_a_silent_meter_of_any_family_is_a_problem_and_nothing_else(family, family_run):
    meter, lines = family_run(family, seconds=30, fault="silent")
    assert ha_seen(lines) == {"binary_problem": True}  # nothing sent as zero


def test_the_settings_family_wins_over_the_simulated_one_and_the_runner_says_so(tmp_path, run_virtual, capsys):  # noqa: F811
    path = settings_file(tmp_path, 'KASKAD_METER = "kaskad-11-c1"\nKASKAD_METER_ADDRESS = 20109\n')
    import run as runner

    capsys.readouterr()
    assert runner.main(["--json", "--meter", "mercury-206", "--settings", path, "--seconds", "6"]) == 0
    out, err = capsys.readouterr()
    assert "KASKAD_METER = 'kaskad-11-c1' but --meter mercury-206 is on the wire" in err
    assert '"family": "kaskad-11-c1"' in out and '"energy_wh": [null' in out


def test_without_meter_option_the_settings_family_is_simulated(tmp_path, run_json):  # noqa: F811
    path = settings_file(tmp_path, 'KASKAD_METER = "mercury-206"\nKASKAD_METER_ADDRESS = 36896545\n')
    lines = run_json("--settings", path, "--seconds", "4")
    reading, = [line for line in lines if line["type"] == "reading"]
    assert reading["family"] == "mercury-206" and reading["serial"] == "36896545"
