"""The board's life end to end, in virtual time, against CircuitPython 10.2.1 and the behaviour
after PR #11295: the unchanged code.py and safemode.py under the twin's supervisor
(host/supervisor_loop.py), a simulated meter, Home Assistant's own BTHome parser.

Each case is the issue 9 "done when" item named in its test: (a) settings edits on the drive,
(b) a hung loop on USB power and on battery, (c) a boot that fails with the watchdog running,
(d) Ctrl-C then Ctrl-D at the console, (g) a poll whose NVM write fails.
"""

import pytest

import _harness
from board_rig import Board
from ha_view import HomeAssistantView
from kaskad import console
from kaskad_sim.meter import SimMeter

SECOND = 1_000_000_000
VERSIONS = [_harness.V10_2_1, _harness.FIXED]
KEY = "231d39c1d7cc1ab1aee224cd096db932"


class Recorder:
    """A console sink that keeps what the firmware says, with the board's own times."""

    def __init__(self):
        self.lines = []  # (kind, t_s, text or reading.ok)

    def reading(self, uptime_ms, now_ms, reading, max_age_ms, fields):
        self.lines.append(("reading", uptime_ms / 1000, reading.ok))

    def error(self, uptime_ms, what):
        self.lines.append(("error", uptime_ms / 1000, what))

    def info(self, uptime_ms, text):
        self.lines.append(("info", uptime_ms / 1000, text))

    def good_readings(self, after_s=0.0):
        return [t for kind, t, ok in self.lines if kind == "reading" and ok is True and t > after_s]

    def texts(self, kind, part):
        return [(t, text) for k, t, text in self.lines if k == kind and part in text]


class Bench:
    """One board on a bench (board_rig.Board: settings.toml on its drive, an NVM file, a meter),
    living its whole life under this CircuitPython version, on USB power or not."""

    def __init__(self, tmp_path, settings_text, version, usb_power=True, meter=None):
        self.board = Board(tmp_path, settings_text, meter)
        self.meter = self.board.meter
        _harness.set_circuitpython(version)
        _harness.set_usb_power(usb_power)
        self.console = Recorder()
        self.life = self.board.life()

    def run(self, seconds):
        console.set_sink(self.console)
        try:
            self.life.run(seconds)
        finally:
            console.set_sink(console.TextSink())
        return self.life.events

    def kinds(self, kind):
        return [(t, fields) for k, t, fields in self.life.events if k == kind]

    def home_assistant(self, since_s, until_s, bindkey=None):
        """What Home Assistant's parser makes of the adverts in [since_s, until_s): the latest
        value of each sensor and the device's title."""
        view = HomeAssistantView(bytes.fromhex(bindkey) if bindkey else None)
        seen = {}
        for t_ns, adv, scan, _extended, connectable in self.life.adverts:
            if since_s * SECOND <= t_ns < until_s * SECOND:
                seen.update(view.receive(adv, scan, _harness.ble_address(), t_ns / SECOND, connectable))
        return seen, view.title(_harness.ble_address())


def no_safe_mode_and_no_reset(bench):
    assert bench.kinds("safe_mode") == [] and bench.kinds("reset") == [] and bench.kinds("hang") == []


# --- (a) edits of settings.toml on the drive -------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_a_three_edits_in_a_row_each_take_effect_without_safe_mode(tmp_path, version):
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_NAME = \"Flat 0\"\n", version)
    edits = [(20, 1), (35, 2), (50, 3)]
    for at, n in edits:
        bench.life.edit_settings(at, "KASKAD_METER_ADDRESS = 20109\nKASKAD_NAME = \"Flat %d\"\n"
                                     "KASKAD_POLL_SECONDS = %d\n" % (n, 10 * n))
    bench.run(65)
    no_safe_mode_and_no_reset(bench)
    reloads = bench.kinds("reload")
    assert [round(t, 2) for t, _ in reloads] == [20.75, 35.75, 50.75]
    assert all(fields["run_reason"] == "AUTO_RELOAD" for _, fields in reloads)
    for (at, n), end in zip(edits, [35, 50, 65]):
        started = bench.console.texts("info", "poll every %d s" % (10 * n))
        assert [t for t, _ in started if at < t < at + 2], (n, started)
        assert bench.console.good_readings(at) and min(bench.console.good_readings(at)) < at + 3
        seen, title = bench.home_assistant(at + 1, end)
        assert title.startswith("Flat %d" % n) and seen.get("energy_1") == pytest.approx(1234.56)


class MuteAfterPing(SimMeter):
    """Answers the ping, then nothing: every later request of a poll waits out all its tries."""

    def handle_frame(self, wire):
        plan = super().handle_frame(wire)
        if self.heard and self.heard[-1].command != 0x01:
            return None
        return plan


@pytest.mark.parametrize("version", VERSIONS)
def test_a_an_edit_to_the_slowest_settings_never_lets_the_watchdog_bite(tmp_path, version):
    # the watchdog's period was fixed by the first run; a poll whose every exchange times out
    # with 6 tries of 5.3 s lasts minutes, and must not be mistaken for a hang
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\n", version, meter=MuteAfterPing(address=20109))
    bench.life.edit_settings(10, "KASKAD_METER_ADDRESS = 20109\nKASKAD_RETRIES = 5\n"
                                 "KASKAD_REPLY_TIMEOUT_MS = 5000\n")
    bench.run(400)
    no_safe_mode_and_no_reset(bench)
    assert len(bench.console.texts("error", "timeout")) + len(bench.console.texts("error", "no reply")) >= 5


# --- (b) a hung loop -------------------------------------------------------------------------------

def hang_once_after(monkeypatch, t_ms):
    from kaskad.app import App
    hung = {"at_s": None}

    def led_stage(self):
        if hung["at_s"] is None and self.clock.uptime_ms() > t_ms:
            hung["at_s"] = self.clock.uptime_ms() / 1000
            while True:
                self.clock.sleep_ms(1000)  # stuck, but no exception
    monkeypatch.setattr(App, "_led_stage", led_stage)
    return hung


@pytest.mark.parametrize("usb_power", [True, False], ids=["usb", "battery"])
@pytest.mark.parametrize("version", VERSIONS)
def test_b_a_hung_loop_is_back_to_reading_within_a_minute(tmp_path, monkeypatch, version, usb_power):
    hung = hang_once_after(monkeypatch, 30000)
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n", version, usb_power)
    bench.run(150)
    assert hung["at_s"] is not None
    resets = bench.kinds("reset")
    assert resets[0][1]["cause"] == "watchdog" and resets[0][0] - hung["at_s"] <= 41
    if usb_power:  # port.c: a watchdog reset with VBUS present boots into safe mode...
        assert [f["reason"] for _, f in bench.kinds("safe_mode")] == ["WATCHDOG"]
        assert resets[1][1]["cause"] == "software"  # ...where safemode.py resets at once
    else:
        assert bench.kinds("safe_mode") == []
    back = bench.console.good_readings(hung["at_s"])
    assert back and back[0] - hung["at_s"] < 60
    assert len(resets) == (2 if usb_power else 1)  # and it stays up


@pytest.mark.parametrize("version", VERSIONS)
def test_b_a_board_that_keeps_hanging_slows_down(tmp_path, monkeypatch, version):
    from kaskad.app import App

    def led_stage(self):  # hangs in every run, before any reading
        while True:
            self.clock.sleep_ms(1000)
    monkeypatch.setattr(App, "_led_stage", led_stage)
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\n", version, usb_power=True)
    bench.run(900)
    boots = [t for t, f in bench.kinds("boot") if f["safe_mode"] is None]
    waits = bench.console.texts("error", "in a row without a good reading: waiting")
    assert waits and "waiting 60 s" in waits[0][1]
    # without the wait: one boot every ~42 s, 21 in 900 s
    assert len(boots) <= 12
    assert all(f["reason"] == "WATCHDOG" for _, f in bench.kinds("safe_mode"))


# --- (c) a boot that fails with the watchdog running ------------------------------------------------

def fail_boot(monkeypatch, where, fail):
    """Make boot() raise while ``fail["left"]``: at the UART (before the watchdog is taken over)
    or at the configuration service (after)."""
    if where == "uart":
        import busio
        owner, name = busio, "UART"
    else:
        import kaskad.gatt
        owner, name = kaskad.gatt.ConfigService, "__init__"
    real = getattr(owner, name)

    def broken(*args, **kwargs):
        if fail["left"]:
            fail["left"] -= 1
            raise RuntimeError("injected boot failure")
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, broken)


@pytest.mark.parametrize("where", ["uart", "config service"])
@pytest.mark.parametrize("version", VERSIONS)
def test_c_a_failed_boot_never_lets_the_watchdog_bite(tmp_path, monkeypatch, version, where):
    fail = {"left": 0}
    fail_boot(monkeypatch, where, fail)
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\n", version)
    # the first run works and leaves the watchdog running; an edit reloads into two failing boots
    bench.life.at(5, lambda: fail.update(left=2))
    bench.life.edit_settings(6, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 20\n")
    bench.run(120)
    failed = bench.console.texts("error", "boot failed")
    assert len(failed) == 2
    resets = bench.kinds("reset")
    assert [f["cause"] for _, f in resets] == ["software", "software"]
    assert bench.kinds("safe_mode") == []
    assert bench.console.good_readings(resets[-1][0])


# --- (d) Ctrl-C, then Ctrl-D ------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_d_ctrl_c_then_ctrl_d(tmp_path, version):
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n", version)
    bench.life.type_keys(15, "\x03")
    bench.life.type_keys(30, "\x04")
    bench.run(45)
    no_safe_mode_and_no_reset(bench)
    done = bench.kinds("code_done")
    assert done[0][0] == 15 and done[0][1]["how"] == "exception"
    assert "Ctrl-C" in [f["text"] for k, t, f in bench.life.events if k == "traceback"][0]
    assert not bench.console.good_readings(15.5) or min(bench.console.good_readings(15.5)) > 30
    assert [f["run_reason"] for _, f in bench.kinds("reload")] == ["REPL_RELOAD"]
    assert bench.console.good_readings(30)


@pytest.mark.parametrize("version", VERSIONS)
def test_d_ctrl_c_then_the_repl_the_watchdog_ends_it_and_code_py_returns(tmp_path, version):
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n", version)
    bench.life.type_keys(15, "\x03")
    bench.life.type_keys(16, "x")  # "Press any key to enter the REPL"
    bench.run(120)
    assert bench.kinds("repl")[0][0] == 16
    resets = bench.kinds("reset")
    assert resets[0][1]["cause"] == "watchdog" and resets[0][0] <= 15 + 40
    assert [f["reason"] for _, f in bench.kinds("safe_mode")] == ["WATCHDOG"]
    assert bench.console.good_readings(resets[0][0])


@pytest.mark.parametrize("version", VERSIONS)
def test_d_ctrl_d_in_the_repl(tmp_path, version):
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n", version)
    bench.life.type_keys(15, "\x03")
    bench.life.type_keys(16, "x")
    bench.life.type_keys(20, "\x04")
    bench.run(60)
    if version == _harness.V10_2_1:
        # leaving the REPL deinits the RESET watchdog (the last run's result is cleared): crash,
        # safe mode NLR_JUMP_FAIL, safemode.py resets
        assert [f["reason"] for _, f in bench.kinds("safe_mode")] == ["NLR_JUMP_FAIL"]
    else:
        no_safe_mode_and_no_reset(bench)
    assert bench.console.good_readings(20) and min(bench.console.good_readings(20)) < 25


# --- (g) an NVM write that fails during a poll -------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_g_a_failed_nvm_write_is_reported_loses_nothing_and_is_retried(tmp_path, version):
    bench = Bench(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_BINDKEY = \"%s\"\n" % KEY, version)
    bench.life.at(0.5, lambda: _harness.nvm_fail_next(1))  # the counter block of the first packet
    bench.run(30)
    no_safe_mode_and_no_reset(bench)
    failed = bench.console.texts("error", "Unable to write to nvm.")
    assert len(failed) == 1 and "counter store cannot be written" in failed[0][1]
    seen, _ = bench.home_assistant(0, 30, bindkey=KEY)
    assert seen.get("energy_1") == pytest.approx(1234.56) and seen.get("voltage") == pytest.approx(229.9)
    # retried: the reserved block end is in NVM, above every counter sent
    from kaskad.store import Store
    import microcontroller
    store = Store(microcontroller.nvm, lambda line: None)
    counters = [int.from_bytes(adv[-8:-4], "little") for _, adv, _, _, _ in bench.life.adverts
                if len(adv) > 12 and adv[4:7] == b"\x16\xd2\xfc"]  # not the name packet
    assert counters and store.counter_end > max(counters)
