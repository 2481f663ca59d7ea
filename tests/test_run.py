"""`make run`'s contract: host/run.py boots the unchanged code.py in real time against the meter
model, or against a meter at the other end of a pty, and prints text or one JSON object per line."""

import json
import os
import subprocess
import sys

from kaskad_sim.meter import SimMeter
from kaskad_sim.pty_meter import PtyMeter
from rig import expected_from

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "host", "run.py")


def run(*args, timeout=30):
    done = subprocess.run([sys.executable, RUN, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_json(*args):
    return [json.loads(line) for line in run("--json", *args).splitlines()]


def settings_file(tmp_path, text):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return str(path)


def readings(lines):
    return [line for line in lines if line["type"] == "reading"]


def test_the_first_reading_comes_within_a_second_and_matches_the_meter():
    lines = run_json("--seconds", "1.5")
    first, = readings(lines)
    assert first["t"] < 1.0
    truth = expected_from(SimMeter())
    assert first["energy_wh"] == truth[:4]
    assert [first[k] for k in ("total_wh", "voltage_cv", "current_ma", "power_cw", "battery_pct")] == truth[4:]
    assert first["address"] == 20109 and first["generation"] == "old"
    assert first["serial"] == "3171112520109" and first["made"] == "04.10.2017"
    assert set(first["flags"]) >= {"seal_terminal_open", "magnet_ac", "magnet_dc"}


def test_the_simulated_meter_answers_at_the_settings_address(tmp_path):
    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 7943\nKASKAD_POLL_SECONDS = 5\n")
    lines = run_json("--settings", path, "--seconds", "1.2")
    assert [line["address"] for line in readings(lines)] == [7943]


def test_a_missing_address_is_said_not_crashed_on(tmp_path):
    path = settings_file(tmp_path, "KASKAD_POLL_SECONDS = 5\n")
    lines = run_json("--settings", path, "--seconds", "1")
    errors = [line["what"] for line in lines if line["type"] == "error"]
    assert errors and "KASKAD_METER_ADDRESS" in errors[0]
    assert readings(lines) == []


def test_bad_settings_name_the_key_and_the_board_still_reads(tmp_path):
    path = settings_file(tmp_path, 'KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = "often"\n'
                                   'KASKAD_BAUD = 0\n')
    lines = run_json("--settings", path, "--seconds", "1.2")
    errors = " ".join(line["what"] for line in lines if line["type"] == "error")
    assert "KASKAD_POLL_SECONDS" in errors and "KASKAD_BAUD" in errors
    assert len(readings(lines)) == 1


def test_text_mode_prints_one_line_per_poll(tmp_path):
    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\n")
    out = run("--settings", path, "--seconds", "6.5")
    polls = [line for line in out.splitlines() if " meter 20109 " in line]
    assert len(polls) == 2
    assert "229.87 V" in polls[0] and "1888.880 kWh" in polls[0]


def test_a_meter_on_a_pty(tmp_path):
    meter = SimMeter(address=20109, voltage_raw=23111)
    with PtyMeter(meter) as pty:
        lines = run_json("--serial", pty.slave_path, "--seconds", "1.5")
    first, = readings(lines)
    assert first["voltage_cv"] == 23111 and first["energy_wh"][0] == 1234560
    assert meter.forbidden == []


def test_the_benchmark_prints_its_figures():
    bench = os.path.join(ROOT, "host", "bench.py")
    done = subprocess.run([sys.executable, bench, "--delay-ms", "30"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("old meter", "new meter"))]
    assert len(rows) == 4 and all(row.count("x") >= 2 for row in rows)
    assert "from the meter's energy reply to the new packet on air: median" in done.stdout
    assert done.stdout.count(" n=") == 4


def test_json_shows_what_home_assistant_makes_of_each_advertisement():
    lines = run_json("--seconds", "4")
    adverts = [line for line in lines if line["type"] == "advert"]
    assert len(adverts) >= 2
    assert all(len(bytes.fromhex(line["adv"])) <= 31 for line in adverts)
    seen = {}
    for line in adverts:
        seen.update(line["ha"])
    truth = expected_from(SimMeter())
    assert seen["energy_1"] == truth[0] / 1000 and seen["voltage"] == round(truth[5] / 100, 1)
    assert adverts[0]["address"] == "C8:1D:F5:ED:A8:35"


def test_text_mode_shows_home_assistants_view():
    out = run("--seconds", "4")
    assert "Home Assistant (KASKAD 20109 A835): energy_1 1234.56" in out
