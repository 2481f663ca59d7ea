"""The device end to end in virtual time: the unchanged code.py with its radio, configuration
service, button, LED and watchdog; a simulated meter; scripted centrals; Home Assistant's own
BTHome parser. (host/board_rig.py runs the board and the scripts.)"""

import os

import _harness
import pytest

from board_rig import MS, SECOND, Board, claim, command, connect, open_as_owner, send
from ha_view import HomeAssistantView
from kaskad_client import COMMAND_UUID, STATUS_UUID, OwnerClient, Refused, parse_status
from test_device import expected_in_ha

OWNER = bytes(range(16))
BINDKEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
SETTINGS = "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n"


def home_assistant(events, bindkey=None, since_s=0, view=None):
    view = view or HomeAssistantView(bindkey)
    seen = {}
    for t_ns, adv, scan, extended, connectable in events:
        assert not extended and len(adv) <= 31 and len(scan) <= 31
        seen.update(view.receive(adv, scan, _harness.ble_address(), since_s + t_ns / SECOND, connectable))
    return seen, view


def between(events, start_s, end_s):
    return [e for e in events if start_s * SECOND <= e[0] < end_s * SECOND]


def packet_kinds(events):
    """'A' (energy) or 'B' (instant values) for each plain BTHome event, in order of changes."""
    kinds = []
    for event in events:
        adv = event[1]
        kind = "A" if len(adv) > 20 and b"\x4d" in adv[9:] else "B"
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    return kinds


def console_lines(capsys):
    return capsys.readouterr().out.splitlines()


# --- the radio with a configuration connection open ------------------------------------------------

def test_beacons_go_on_while_the_owner_is_connected_and_it_is_connectable_only_without(tmp_path, capsys):
    board = Board(tmp_path, SETTINGS)
    log = {}

    def script():
        central = _harness.ble_central()
        yield 8000
        connection = yield from claim(central, OWNER)
        log["connected_s"] = _harness.clock().now_ns() / SECOND
        for _ in range(10):  # stay 20 s, asking for the status now and then
            code, data = yield from command(central, connection, connection.status())
            assert code == 0 and data[0] == 1
            yield 2000
        central.disconnect()
        log["left_s"] = _harness.clock().now_ns() / SECOND

    assert board.run(45, script()) == "stop"
    during = between(board.events, log["connected_s"] + 0.1, log["left_s"])
    after = between(board.events, log["left_s"] + 0.2, 45)
    before = between(board.events, 0.5, 8)
    assert len(during) >= 18  # one every second (the default interval) for 20 s
    assert not any(e[4] for e in during), "connectable while a configuration connection is open"
    assert all(e[4] for e in before) and all(e[4] for e in after)
    assert packet_kinds(during).count("A") >= 3 and packet_kinds(during).count("B") >= 3
    seen, _ = home_assistant(during)
    for key, value in expected_in_ha(board.meter).items():
        assert seen[key] == pytest.approx(value), key
    assert "loop:" not in capsys.readouterr().out


def test_every_reading_of_a_changing_meter_arrives_while_configuring(tmp_path):
    board = Board(tmp_path, SETTINGS)
    meter = board.meter
    expected = []

    def script():
        central = _harness.ble_central()
        yield 5000
        connection = yield from claim(central, OWNER)
        for step in range(5):
            meter.voltage_raw = 22000 + 100 * step
            meter.current_raw = 1000 + 250 * step
            yield 10000  # one poll period
            seen, _ = home_assistant(between(_harness.ble_adv_events(0, _harness.clock().now_ns()),
                                             _harness.clock().now_ns() / SECOND - 6.5, 1e9))
            expected.append((seen.get("voltage"), meter.voltage_raw / 100, seen.get("current"),
                             meter.current_raw / 1000))
            code, _ = yield from command(central, connection, connection.status())
            assert code == 0

    board.run(62, script())
    assert len(expected) == 5
    for got_v, want_v, got_a, want_a in expected:
        assert got_v == pytest.approx(want_v) and got_a == pytest.approx(want_a)


# --- the owner ------------------------------------------------------------------------------------

def test_the_owner_changes_address_and_bindkey_and_both_survive_a_reboot(tmp_path, capsys):
    board = Board(tmp_path, SETTINGS)
    meter = board.meter
    marks = {}

    def script():
        central = _harness.ble_central()
        yield 12000
        connection = yield from claim(central, OWNER)
        meter.address = 30001  # the owner points the head at another meter and says so
        marks["heard"] = len(meter.heard)
        code, _ = yield from command(central, connection, connection.set_meter_address(30001))
        assert code == 0
        marks["address_s"] = _harness.clock().now_ns() / SECOND
        code, _ = yield from command(central, connection, connection.set_bindkey(BINDKEY))
        assert code == 0
        marks["key_s"] = _harness.clock().now_ns() / SECOND
        yield 15000
        code, _ = yield from command(central, connection, connection.reboot())
        assert code == 0
        yield 5000

    assert board.run(60, script()) == "reset"
    first_out = capsys.readouterr().out
    assert "rebooting as the owner asked" in first_out
    new_requests = meter.heard[marks["heard"]:]
    assert new_requests and all(frame.dst == 30001 for frame in new_requests)
    # the next poll came at once, not at the next slot of the 10 s grid
    after_key = between(board.events, marks["key_s"] + 0.05, 1e9)
    seen_with_key, _ = home_assistant(after_key, BINDKEY)
    for key, value in expected_in_ha(meter).items():
        assert seen_with_key[key] == pytest.approx(value), key
    seen_plain, _ = home_assistant(after_key)
    wrong_key = bytes(15) + b"\x01"
    seen_wrong, _ = home_assistant(after_key, wrong_key)
    assert not any(k.startswith(("energy", "voltage", "current", "power")) for k in seen_plain)
    assert not any(k.startswith(("energy", "voltage", "current", "power")) for k in seen_wrong)
    reset_at_s = board.clock.now_ns() / SECOND

    # the reboot: same NVM, same settings.toml; the changes hold and the owner is still the owner
    later = {}

    def after_reboot():
        central = _harness.ble_central()
        yield 3000
        connection = yield from open_as_owner(central, OWNER)
        later["status"] = yield from command(central, connection, connection.status())
        later["public"] = parse_status(central.read(STATUS_UUID))

    assert board.run(20, after_reboot()) == "stop"
    out = capsys.readouterr().out
    assert "meter 30001" in out and "encrypted" in out
    assert later["status"] == (0, bytes((1, 0, 2)))  # one owner, my slot 0, two overrides
    assert later["public"]["owned"] and later["public"]["encrypted"]
    assert later["public"]["meter_address"] == 30001
    seen, _ = home_assistant(board.events, BINDKEY, since_s=reset_at_s + 1)
    assert seen["energy_1"] == pytest.approx(expected_in_ha(meter)["energy_1"])


# --- attackers ------------------------------------------------------------------------------------

def nvm_bytes(board):
    return board.nvm.read_bytes() if os.path.exists(board.nvm) else b""


def test_an_attacker_without_a_key_a_replay_and_a_tampered_frame_change_nothing(tmp_path, capsys):
    board = Board(tmp_path, SETTINGS)
    captured = []
    outcomes = {}

    def script():
        owner, thief = _harness.ble_central(), _harness.ble_central()
        yield 3000
        connection = yield from claim(owner, OWNER)
        frames = connection.set_poll_seconds(3600)
        captured.extend(frames)  # what a sniffer heard
        code, _ = yield from command(owner, connection, frames)
        assert code == 0
        owner.disconnect()
        yield 500
        outcomes["nvm"] = nvm_bytes(board)
        # 1: sealed under a key that is not an owner's
        status = yield from connect(thief)
        fake = OwnerClient(bytes(16)).connect(status["challenge"])
        outcomes["no key"] = yield from send(thief, fake.set_poll_seconds(5)[0])
        yield 500
        outcomes["no key connected"] = thief.connected
        # 2: the captured frame again, in a new connection
        yield from connect(thief)
        outcomes["replay"] = yield from send(thief, captured[0])
        yield 500
        # 3: the captured frame with one bit flipped
        yield from connect(thief)
        tampered = bytearray(captured[0])
        tampered[5] ^= 0x10
        outcomes["tampered"] = yield from send(thief, bytes(tampered))
        yield 500
        # 4: a second claim while the window is still open
        yield from connect(thief)
        outcomes["claim"] = yield from send(thief, b"\x01" + bytes(16))
        yield 500
        outcomes["nvm after"] = nvm_bytes(board)

    board.run(30, script())
    assert outcomes["no key"] == b"\x7f\x04" and not outcomes["no key connected"]
    assert outcomes["replay"] == b"\x7f\x04"  # a new challenge: the old frame no longer opens
    assert outcomes["tampered"] == b"\x7f\x04"
    assert outcomes["claim"] == b"\x7f\x02"
    assert outcomes["nvm after"] == outcomes["nvm"]
    out = capsys.readouterr().out
    assert out.count("config: refused") == 4 and "loop:" not in out


def test_a_claim_after_the_window_is_refused(tmp_path):
    board = Board(tmp_path, SETTINGS)
    got = {}

    def script():
        central = _harness.ble_central()
        yield 601000  # ten minutes and a second after boot
        status = yield from connect(central)
        got["claimable"] = status["claimable"]
        got["answer"] = yield from send(central, b"\x01" + OWNER)

    board.run(610, script())
    assert got == {"claimable": False, "answer": b"\x7f\x03"}


def test_garbage_writes_of_every_length_change_nothing_and_crash_nothing(tmp_path, capsys):
    board = Board(tmp_path, SETTINGS)
    results = []
    state = {}

    def script():
        central = _harness.ble_central()
        yield 3000
        connection = yield from claim(central, OWNER)
        central.disconnect()
        yield 200
        state["nvm"] = nvm_bytes(board)
        for length in range(1, 21):
            for pattern in (0x00, 0xFF, 0x02, 0x01, 0x7F, length):
                yield from connect(central)
                central.write(COMMAND_UUID, bytes([pattern]) * length, response=False)
                waited = 0
                while central.connected and waited < 40000:
                    yield 50
                    waited += 50
                results.append((length, pattern, central.connected, waited))
                if central.connected:
                    central.disconnect()
                yield 100
        state["nvm after"] = nvm_bytes(board)

    board.run(3600, script())
    assert len(results) == 120
    # every garbage connection ends: at once when the frame is refused, or after 30 s without proof
    assert all(not connected and waited <= 31000 for _, _, connected, waited in results), results
    assert state["nvm after"] == state["nvm"]
    out = capsys.readouterr().out
    assert "loop:" not in out


# --- the button -----------------------------------------------------------------------------------

def test_a_long_press_forgets_the_owner_and_opens_the_claim_window(tmp_path, capsys):
    board = Board(tmp_path, SETTINGS)
    got = {}

    def script():
        old, new = _harness.ble_central(), _harness.ble_central()
        yield 2000
        yield from claim(old, OWNER)
        old.disconnect()
        yield 650000  # the boot window has closed
        status = yield from connect(new)
        got["before"] = (status["owned"], status["claimable"])
        new.disconnect()
        yield 500
        now = _harness.clock().now_ns()
        _harness.button_press(at_ns=now)
        _harness.button_release(at_ns=now + 5200 * MS)
        yield 6000
        got["led"] = [level for t, level in _harness.pin_history("LED") if t > now + 5300 * MS]
        second = bytes(range(16, 32))
        yield from claim(new, second)
        got["claimed"] = True
        yield 300
        status = parse_status(new.read(STATUS_UUID))
        got["after"] = (status["owned"], status["claimable"])

    board.run(700, script())
    assert got["before"] == (True, False)
    assert got["claimed"] and got["after"] == (True, False)
    # the claim window blinks fast: 100 ms on, 100 ms off
    assert got["led"].count(True) >= 3
    assert "owners forgotten" in capsys.readouterr().out


def test_a_short_press_polls_the_meter_at_once(tmp_path):
    board = Board(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 600\n")
    counts = {}

    def script():
        yield 20000
        counts["before"] = len(board.meter.heard)
        now = _harness.clock().now_ns()
        _harness.button_press(at_ns=now)
        _harness.button_release(at_ns=now + 300 * MS)
        yield 2000
        counts["after"] = len(board.meter.heard)
        counts["pings"] = sum(1 for f in board.meter.heard[counts["before"]:] if f.command == 0x01)

    board.run(25, script())
    assert counts["after"] > counts["before"] and counts["pings"] == 1


# --- failures -------------------------------------------------------------------------------------

def test_the_watchdog_resets_a_hung_loop(tmp_path, monkeypatch):
    from kaskad.app import App

    def hang(self):
        if self.clock.uptime_ms() > 30000:
            while True:
                self.clock.sleep_ms(1000)  # stuck, but no exception
    monkeypatch.setattr(App, "_led_stage", hang)
    board = Board(tmp_path, SETTINGS)
    assert board.run(600) == "reset"
    assert "watchdog" in board.reason
    # with the default settings a hung loop is reset within a minute
    assert 30 * SECOND < board.clock.now_ns() <= 90 * SECOND


STAGES = ("_button_stage", "_poll_stage", "_radio_stage", "_config_stage", "_led_stage")


@pytest.mark.parametrize("stage", STAGES)
def test_an_exception_in_any_stage_is_survived(tmp_path, monkeypatch, capsys, stage):
    from kaskad.app import App

    real = getattr(App, stage)
    failures = {"left": 3}

    def flaky(self):
        if self.clock.uptime_ms() > 5000 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("injected")
        return real(self)
    monkeypatch.setattr(App, stage, flaky)
    board = Board(tmp_path, SETTINGS)

    def script():
        central = _harness.ble_central()
        yield 20000
        connection = yield from claim(central, OWNER)
        code, _ = yield from command(central, connection, connection.status())
        assert code == 0

    assert board.run(40, script()) == "stop"
    out = capsys.readouterr().out
    assert out.count("loop: %s: RuntimeError('injected')" % stage.strip("_").replace("_stage", "")) == 3
    seen, _ = home_assistant(between(board.events, 25, 40))
    for key, value in expected_in_ha(board.meter).items():
        assert seen[key] == pytest.approx(value), key


def test_a_stage_that_always_fails_resets_the_board(tmp_path, monkeypatch, capsys):
    from kaskad.app import App, MAX_FAILED_STEPS

    def broken(self):
        raise RuntimeError("broken")
    monkeypatch.setattr(App, "_radio_stage", broken)
    board = Board(tmp_path, SETTINGS)
    assert board.run(120) == "reset"
    assert "microcontroller.reset" in board.reason
    out = capsys.readouterr().out
    assert out.count("loop: radio: RuntimeError('broken')") == MAX_FAILED_STEPS


def test_every_setting_the_owner_changes_takes_effect_at_once_and_a_factory_reset_forgets_them(tmp_path, capsys):
    board = Board(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 600\n")
    meter = board.meter
    marks = {}

    def script():
        central = _harness.ble_central()
        yield 2000
        connection = yield from claim(central, OWNER)
        assert (yield from command(central, connection, connection.set_name("Cabinet 3")))[0] == 0
        marks["name"] = _harness.clock().now_ns()
        assert (yield from command(central, connection, connection.set_advertising(500, 1500)))[0] == 0
        marks["adv"] = _harness.clock().now_ns()
        pings = sum(1 for f in meter.heard if f.command == 0x01)
        assert (yield from command(central, connection, connection.set_poll_seconds(5)))[0] == 0
        yield 12000
        marks["polls"] = sum(1 for f in meter.heard if f.command == 0x01) - pings
        assert (yield from command(central, connection, connection.set_bindkey(BINDKEY)))[0] == 0
        yield 4000
        marks["encrypted"] = _harness.ble_on_air()[1]
        assert (yield from command(central, connection, connection.clear_bindkey()))[0] == 0
        marks["cleared"] = _harness.clock().now_ns()
        yield 4000
        assert (yield from command(central, connection, connection.set_advertising(400, 300)))[0] == 17
        assert (yield from command(central, connection, connection.factory_reset()))[0] == 0
        yield 5000

    assert board.run(60, script()) == "reset"
    after_name = between(board.events, marks["name"] / SECOND + 0.01, marks["adv"] / SECOND)
    assert after_name and all(b"Cabinet 3" in scan for _, _, scan, _, _ in after_name)
    timed = [e[0] for e in between(board.events, marks["adv"] / SECOND + 0.01, marks["adv"] / SECOND + 6)]
    gaps = sorted({round((b - a) / MS) for a, b in zip(timed, timed[1:])})
    assert 500 in gaps and max(gaps) <= 500
    assert marks["polls"] in (2, 3)  # every 5 s now, not every 600 s
    assert marks["encrypted"][7] & 0x01  # the BTHome device-info byte says encrypted
    plain_again = between(board.events, marks["cleared"] / SECOND + 0.01, marks["cleared"] / SECOND + 4)
    seen, _ = home_assistant(plain_again)
    assert seen["energy_1"] == pytest.approx(expected_in_ha(meter)["energy_1"])
    capsys.readouterr()

    got = {}

    def after_reset():
        central = _harness.ble_central()
        yield 2000
        status = yield from connect(central)
        got["status"] = status
        got["scan"] = _harness.ble_on_air()
    board.run(10, after_reset())
    assert got["status"]["owned"] is False and got["status"]["claimable"] is True
    assert got["status"]["poll_seconds"] == 600
    assert b"KASKAD 20109" in board.events[-1][2]


def owned_after_a_second():
    central = _harness.ble_central()
    yield 1000
    yield from claim(central, OWNER)  # no claim window blinking from now on
    central.disconnect()


def test_the_led_says_whether_the_meter_answers(tmp_path):
    board = Board(tmp_path, SETTINGS)
    board.run(30, owned_after_a_second())
    answering = len([t for t, level in _harness.pin_history("LED") if level and t > 12 * SECOND])
    board.meter.address = 1  # the head now faces nothing that answers at 20109
    board.run(30)
    pulses = [t for t, level in _harness.pin_history("LED") if level and t > 12 * SECOND]
    # answering: a heartbeat (one blink per 2 s) and a blink per poll; silent: two blinks per 2 s,
    # less those that fall while a poll waits for the meter (about 3 s per poll)
    assert 8 <= answering <= 12 and 14 <= len(pulses) <= 20, (answering, len(pulses))


def test_a_button_or_led_that_cannot_be_had_is_reported_and_the_meter_still_read(tmp_path, capsys):
    board = Board(tmp_path, SETTINGS + 'KASKAD_LED = "TX"\nKASKAD_BUTTON = "RX"\n')  # the UART has them
    assert board.run(15) == "stop"
    out = capsys.readouterr().out
    assert "LED: not available" in out and "button: not available" in out
    seen, _ = home_assistant(board.events)
    assert seen["energy_1"] == pytest.approx(expected_in_ha(board.meter)["energy_1"])
