"""`make run`'s contract: host/run.py boots the unchanged code.py against the meter model, or
against a meter at the other end of a pty, and prints text or one JSON object per line.

No test here depends on this machine's speed: the runner's own ``main`` runs in-process with its
clock switched to virtual time (``run_virtual``: the board's clock moves only when it waits, so
"the first reading within 1 s" is a promise about the firmware, not about the PC). Two smoke tests
run the real command in real time (a subprocess; a pty needs real time) and assert only what it
prints, with seconds to spare; speed figures are `make bench`'s.
"""

import json
import os
import subprocess
import sys

import _harness
import pytest
from kaskad import console
from kaskad_sim.meter import SimMeter
from kaskad_sim.pty_meter import PtyMeter
from rig import expected_from

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "host", "run.py")


def run(*args, timeout=30):
    done = subprocess.run([sys.executable, RUN, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def run_virtual(monkeypatch, capsys):
    """host/run.py's main(argv) in-process, in virtual time; returns what it printed."""
    import run as runner

    real_reset = _harness.reset

    def virtual_reset(clock=None, realtime=False, **kwargs):
        return real_reset(clock, False, **kwargs)

    monkeypatch.setattr(_harness, "reset", virtual_reset)

    def go(*args):
        capsys.readouterr()
        try:
            assert runner.main(list(args)) == 0
        finally:
            console.set_sink(console.TextSink())
        return capsys.readouterr().out

    return go


@pytest.fixture
def run_json(run_virtual):
    def go(*args):
        return [json.loads(line) for line in run_virtual("--json", *args).splitlines()
                if line.startswith("{")]

    return go


def settings_file(tmp_path, text):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return str(path)


def readings(lines):
    return [line for line in lines if line["type"] == "reading"]


def test_the_first_reading_comes_within_a_second_and_matches_the_meter(run_json):
    lines = run_json("--seconds", "3.5")
    first, = readings(lines)
    assert first["t"] < 3.0  # safe_mode.c: the board first waits 1 s for a reset press
    truth = expected_from(SimMeter())
    assert first["energy_wh"] == truth[:4]
    assert [first[k] for k in ("total_wh", "voltage_cv", "current_ma", "power_cw", "battery_pct")] == truth[4:]
    assert first["address"] == 20109 and first["family"] == "kaskad-1-mt" and "old" in first["model"]
    assert first["serial"] == "3171112520109" and first["made"] == SimMeter().made  # the factory string as the meter has it
    assert set(first["flags"]) >= {"seal_terminal_open", "magnet_ac", "magnet_dc"}


def test_the_simulated_meter_answers_at_the_settings_address(tmp_path, run_json):
    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 7943\nKASKAD_POLL_SECONDS = 5\n")
    lines = run_json("--settings", path, "--seconds", "3.2")
    assert [line["address"] for line in readings(lines)] == [7943]


def test_a_missing_address_is_said_not_crashed_on(tmp_path, run_json):
    path = settings_file(tmp_path, "KASKAD_POLL_SECONDS = 5\n")
    lines = run_json("--settings", path, "--seconds", "3")
    errors = [line["what"] for line in lines if line["type"] == "error"]
    assert errors and "KASKAD_METER_ADDRESS" in errors[0]
    assert readings(lines) == []


def test_bad_settings_name_the_key_and_the_board_still_reads(tmp_path, run_json):
    path = settings_file(tmp_path, 'KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = "often"\n'
                                   'KASKAD_BAUD = 0\n')
    lines = run_json("--settings", path, "--seconds", "3.2")
    errors = " ".join(line["what"] for line in lines if line["type"] == "error")
    assert "KASKAD_POLL_SECONDS" in errors and "KASKAD_BAUD" in errors
    assert len(readings(lines)) == 1


def test_text_mode_prints_one_line_per_poll(tmp_path, run_virtual):
    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\n")
    out = run_virtual("--settings", path, "--seconds", "8.5")
    polls = [line for line in out.splitlines() if " meter kaskad-1-mt 20109 " in line]
    assert len(polls) == 2
    assert "229.87 V" in polls[0] and "1888.880 kWh" in polls[0]


def test_a_meter_on_a_pty(tmp_path):
    # real time (a pty is a real port): a smoke test with seconds to spare, asserting what arrives;
    # polls every 5 s, so one slow exchange on a busy machine does not decide it
    meter = SimMeter(address=20109, voltage_raw=23111)
    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\n")
    with PtyMeter(meter) as pty:
        out = run("--json", "--serial", pty.slave_path, "--settings", path, "--seconds", "8")
    got = readings([json.loads(line) for line in out.splitlines()])
    assert any(r["voltage_cv"] == 23111 and r["energy_wh"][0] == 1234560 for r in got), got
    assert meter.forbidden == []


def test_the_benchmark_prints_its_figures():
    bench = os.path.join(ROOT, "host", "bench.py")
    done = subprocess.run([sys.executable, bench, "--delay-ms", "30"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    families = ("kaskad-1-mt", "kaskad-11-c1", "mercury-206", "ce-102m")
    rows = [line for line in done.stdout.splitlines() if line.startswith(families) and line.split()[1].isdigit()]
    assert len(rows) == 8 and all(row.count("x") >= 2 for row in rows)  # first and steady poll each
    assert "from the meter's energy reply to the new packet on air: median" in done.stdout
    assert done.stdout.count(" n=") == 4


def test_json_shows_what_home_assistant_makes_of_each_advertisement(run_json):
    lines = run_json("--seconds", "16")  # data from the first switch after the 4.5 s hold
    adverts = [line for line in lines if line["type"] == "advert"]
    assert len(adverts) >= 2
    assert all(len(bytes.fromhex(line["adv"])) <= 31 for line in adverts)
    seen = {}
    for line in adverts:
        seen.update(line["ha"])
    truth = expected_from(SimMeter())
    assert seen["energy_1"] == truth[0] / 1000 and seen["voltage"] == round(truth[5] / 100, 1)
    assert adverts[0]["address"] == "C8:1D:F5:ED:A8:35"


def test_text_mode_shows_home_assistants_view(run_virtual):
    out = run_virtual("--seconds", "16")
    assert any(line.split(": ", 1)[0].endswith("Home Assistant (KASKAD 20109 A835)") and "energy_1 1234.56" in line
               for line in out.splitlines()), out


def test_editing_the_settings_file_reloads_the_board_with_them(tmp_path):
    """The runner watches --settings as the board's drive: an edit reloads the board, and the
    next lines show the new settings (the test waits for lines, never for the clock)."""
    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 5\n")
    runner = subprocess.Popen([sys.executable, RUN, "--json", "--settings", path, "--seconds", "120"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    seen = []
    try:
        for raw in runner.stdout:
            line = json.loads(raw)
            seen.append(line)
            if line["type"] == "reading" and not any(s["type"] == "supervisor" for s in seen):
                if sum(1 for s in seen if s["type"] == "reading") == 1:
                    with open(path, "w") as f:
                        f.write("KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 7\n")
            if line["type"] == "info" and "poll every 7 s" in line["text"]:
                break
    finally:
        runner.kill()
        runner.wait()
    events = [s["event"] for s in seen if s["type"] == "supervisor"]
    assert events[:3] == ["traceback", "code_done", "reload"], events
    reload = [s for s in seen if s["type"] == "supervisor" and s["event"] == "reload"][0]
    assert reload["run_reason"] == "AUTO_RELOAD"
    assert "poll every 7 s" in seen[-1]["text"]
    assert not [s for s in seen if s["type"] == "safe_mode"]


def test_the_runner_reports_safe_mode_and_its_reason(tmp_path):
    """How the runner shows a life that goes through safe mode (here a watchdog bite on USB
    power, run in virtual time through the runner's own reporting)."""
    import io

    import _harness
    from json_console import JsonSink
    from kaskad_sim.wire import SimWire
    from run import show_supervisor
    from supervisor_loop import Life

    path = settings_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\n")

    def wire():
        _harness.set_settings_path(path)
        _harness.attach_far_end("TX", "RX", SimWire(SimMeter()))

    out = io.StringIO()
    life = Life(path, on_boot=wire, on_event=show_supervisor(JsonSink(out)))
    life.type_keys(10, "\x03")
    life.type_keys(11, "x")  # into the REPL: the watchdog, which nothing feeds now, bites
    life.run(80)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    safe = [line for line in lines if line["type"] == "safe_mode"]
    assert safe == [{"type": "safe_mode", "t": safe[0]["t"], "reason": "WATCHDOG",
                     "text": "Internal watchdog timer expired."}]
    assert 10 < safe[0]["t"] <= 50
    events = [line["event"] for line in lines if line["type"] == "supervisor"]
    assert "output" in events and events.count("reset") == 2
