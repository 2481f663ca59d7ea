"""The command-line tool (clients/cli/kaskad_cli.py) against the real code.py on the twin.

Everything between the tool and the board is real except the radio: the tool calls bleak's own
BleakScanner and BleakClient, which are given the project's backend (host/twin_bleak.py, bleak's
``backend=`` parameter) whose far end is the strict ``_bleio`` stand-in's fake central, talking to
the unchanged code.py running in virtual time with a simulated meter (host/board_rig.py). What the
board did is judged by independent receivers: the simulated meter's decoding of the requests on the
wire, and Home Assistant's own BTHome parser (host/ha_view.py) for the advertisements.
"""

import io
import os
import stat
import sys
from pathlib import Path

import _harness
import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason

from board_rig import SECOND, Board
from ha_view import HomeAssistantView
from kaskad_sim.frame import decode_frame
from kaskad_sim.meter import SimMeter
from kaskad import settings
from twin_bleak import Twin, TwinClient, TwinScanner

sys.path.append(str(Path(__file__).resolve().parent.parent / "clients" / "cli"))
import kaskad_cli  # noqa: E402

ADDRESS = "C8:1D:F5:ED:A8:35"  # the stand-in board's default
SETTINGS = "KASKAD_METER_ADDRESS = 20109\n"


class Result:
    def __init__(self, code, out, err, started_s, finished_s):
        self.code, self.out, self.err = code, out, err
        self.started_s, self.finished_s = started_s, finished_s


class User:
    """One person at a PC: a key file of their own, running ``kaskad`` commands."""

    def __init__(self, path, client_backend=TwinClient):
        self.key_file = path
        self.client_backend = client_backend

    async def run(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        started = _harness.clock().now_ns() / SECOND
        code = await kaskad_cli.run(["--key-file", str(self.key_file), "--scan-seconds", "3"] + list(argv),
                                    out, err, TwinScanner, self.client_backend)
        return Result(code, out.getvalue(), err.getvalue(), started, _harness.clock().now_ns() / SECOND)


def on_twin(board, flow, seconds=120, at_s=2, stop_after_s=0.5):
    """Run ``flow()`` (a coroutine of User.run calls) against the board from ``at_s``; the board's
    run ends ``stop_after_s`` after the flow (None: at ``seconds``). Returns the flow's result."""
    twin = Twin(stop_after_s)
    twin.start(flow, at_s)
    try:
        ended = board.run(seconds)
    finally:
        twin.close()
    if twin.error is not None:
        raise twin.error
    assert twin.done, "the flow did not finish within %s s of virtual time (board: %s)" % (seconds, ended)
    return twin.result


class ListeningMeter(SimMeter):
    """The simulated meter, noting the destination of every request it hears (its own decoding)."""

    def __init__(self, **state):
        super().__init__(**state)
        self.dsts = []  # (virtual time s, destination address)

    def handle_frame(self, wire):
        self.dsts.append((_harness.clock().now_ns() / SECOND, decode_frame(wire).dst))
        return super().handle_frame(wire)

    def requests_to(self, since_s):
        return [dst for t, dst in self.dsts if t >= since_s]


@pytest.fixture
def board(tmp_path):
    return Board(tmp_path, SETTINGS)


@pytest.fixture
def alice(tmp_path):
    return User(tmp_path / "alice" / "keys.json")


@pytest.fixture
def mallory(tmp_path):
    return User(tmp_path / "mallory" / "keys.json")


# --- claim, status --------------------------------------------------------------------------------
def test_claim_keeps_the_key_private_and_status_shows_the_board_live(board, alice):
    async def flow():
        return await alice.run("scan"), await alice.run("claim"), await alice.run("status")

    scan, claim, status = on_twin(board, flow)
    assert scan.code == 0, scan.err
    assert ADDRESS in scan.out and "no owner, claim window open" in scan.out
    assert claim.code == 0, claim.err
    # the key file: only its owner may read it, and the key is printed nowhere
    mode = stat.S_IMODE(os.stat(alice.key_file).st_mode)
    assert mode == 0o600
    key = kaskad_cli.KeyFile(alice.key_file).key(ADDRESS)
    assert key is not None and key.hex() not in claim.out + claim.err
    assert status.code == 0, status.err
    meter = board.meter
    assert "1 of 4; you are owner 0" in status.out
    assert "meter address  20109" in status.out and "poll period    60 s" in status.out
    assert "serial number  %s" % meter.serial in status.out
    assert "last poll      ok" in status.out and "encryption     off" in status.out
    assert "meter flags    clear" in status.out and "last answer    " in status.out
    # the readings, as Home Assistant's parser reads them from the board's advertisements
    assert "  voltage      %.1f V" % round(meter.voltage_raw / 100, 1) in status.out
    assert "  energy_1     %s kWh" % (meter.tariffs_raw[0] * 10 ** (3 - meter.decimals) / 1000) in status.out
    # the board knows the key: it survives a reboot in NVM
    assert key in _stored_owners(board)


def test_claim_with_show_key_prints_the_key_that_was_stored(board, alice):
    async def flow():
        return await alice.run("--device", ADDRESS, "claim", "--show-key")

    claim = on_twin(board, flow)
    assert claim.code == 0, claim.err
    assert kaskad_cli.KeyFile(alice.key_file).key(ADDRESS).hex() in claim.out


def _stored_owners(board):
    import microcontroller
    from kaskad.store import Store
    _harness.reset()
    _harness.set_nvm_file(str(board.nvm))
    return Store(microcontroller.nvm, lambda line: None).owners


# --- set: the next poll goes to the new address -----------------------------------------------------
def test_a_new_meter_address_is_where_the_next_poll_goes(tmp_path, alice):
    meter = ListeningMeter(address=20110)  # the meter really is 20110; settings.toml says 20109
    board = Board(tmp_path, SETTINGS, meter)

    async def flow():
        claim = await alice.run("claim")
        changed = await alice.run("set", "address", "20110")
        polled = await alice.run("poll-now")
        return claim, changed, polled

    claim, changed, polled = on_twin(board, flow, stop_after_s=6)
    assert (claim.code, changed.code, polled.code) == (0, 0, 0), claim.err + changed.err + polled.err
    before = meter.requests_to(0)
    assert before and set(before[:3]) == {20109}  # before: the file's address, unanswered
    after = meter.requests_to(changed.finished_s)
    assert after and set(after) == {20110}, after
    # and the meter answered it: Home Assistant receives its readings after the change
    view = HomeAssistantView()
    seen = {}
    for t_ns, adv, scan, _, connectable in _harness.ble_adv_events(int(changed.finished_s * SECOND), _harness.clock().now_ns()):
        seen.update(view.receive(adv, scan, ADDRESS, t_ns / SECOND, connectable))
    assert seen.get("voltage") == pytest.approx(meter.voltage_raw / 100, abs=0.05)


# --- bindkey: Home Assistant decrypts with the printed key ------------------------------------------
def test_a_generated_bindkey_is_printed_once_and_home_assistant_decrypts_with_it(board, alice):
    async def flow():
        await alice.run("claim")
        generated = await alice.run("bindkey", "generate")
        return generated, await alice.run("status")

    generated, status = on_twin(board, flow, stop_after_s=8)
    assert generated.code == 0, generated.err
    assert status.code == 0 and "encryption     on" in status.out
    assert "  voltage      %.1f V" % round(board.meter.voltage_raw / 100, 1) in status.out
    printed = [word for word in generated.out.split() if len(word) == 32]
    assert len(printed) == 1
    bindkey = bytes.fromhex(printed[0])
    assert printed[0] not in generated.err
    events = _harness.ble_adv_events(int(generated.finished_s * SECOND), _harness.clock().now_ns())
    assert events and all(adv[7] == 0x41 for _, adv, _, _, _ in events)  # BTHome v2, encrypted
    for key, expect in ((bindkey, True), (None, False), (bytes(16), False)):
        view = HomeAssistantView(key)
        seen = {}
        for t_ns, adv, scan, _, connectable in events:
            seen.update(view.receive(adv, scan, ADDRESS, t_ns / SECOND, connectable))
        assert ("energy_1" in seen and "voltage" in seen) == expect, (key, seen)
        if expect:
            assert seen["voltage"] == pytest.approx(board.meter.voltage_raw / 100, abs=0.05)


# --- strangers -----------------------------------------------------------------------------------
def test_a_second_user_who_is_not_an_owner_is_refused_and_changes_nothing(board, alice, mallory):
    async def flow():
        await alice.run("claim")
        claim = await mallory.run("claim")
        none = await mallory.run("status")
        await mallory.run("key", "import", ADDRESS, "ab" * 16)
        forged = await mallory.run("set", "poll", "5")
        status = await alice.run("status")
        return claim, none, forged, status

    claim, none, forged, status = on_twin(board, flow)
    assert claim.code == kaskad_cli.EXIT_REFUSED and "already has an owner" in claim.err
    assert none.code == kaskad_cli.EXIT_REFUSED and "you hold no owner key" in none.err
    assert forged.code == kaskad_cli.EXIT_REFUSED
    assert "NOT_OPENED (4)" in forged.err and "you are not an owner" in forged.err
    assert status.code == 0 and "poll period    60 s" in status.out and "1 of 4" in status.out


def test_a_board_refusal_is_printed_with_its_meaning(board, alice):
    async def flow():
        await alice.run("claim")
        return await alice.run("owner", "remove", "0")

    last = on_twin(board, flow)
    assert last.code == kaskad_cli.EXIT_ANSWER
    assert "LAST_OWNER (20): the last owner cannot be removed" in last.err


def test_owners_added_listed_and_removed(board, alice, mallory):
    async def flow():
        await alice.run("claim")
        added = await alice.run("owner", "add")
        key = [w for w in added.out.split() if len(w) == 32][0]
        await mallory.run("key", "import", ADDRESS, key)
        listed = await mallory.run("owner", "list")
        removed = await alice.run("owner", "remove", "1")
        after = await mallory.run("status")
        return added, listed, removed, after

    added, listed, removed, after = on_twin(board, flow)
    assert added.code == 0 and "owner added in slot 1" in added.out
    assert listed.code == 0 and "2 owner(s)" in listed.out and "your key is in slot 1" in listed.out
    assert removed.code == 0
    assert after.code == kaskad_cli.EXIT_REFUSED and "NOT_OPENED" in after.err


def test_removing_ones_own_key_drops_it_from_the_key_file(board, alice, mallory):
    async def flow():
        await alice.run("claim")
        added = await alice.run("owner", "add")
        await mallory.run("key", "import", ADDRESS, [w for w in added.out.split() if len(w) == 32][0])
        removed = await mallory.run("owner", "remove", "1")
        return removed, await alice.run("owner", "list")

    removed, listed = on_twin(board, flow)
    assert removed.code == 0 and "that was your own key" in removed.out
    assert kaskad_cli.KeyFile(mallory.key_file).key(ADDRESS) is None
    assert listed.code == 0 and "1 owner(s)" in listed.out


# --- connection lost midway: nothing half-applied -----------------------------------------------------
class DropsAfterWrites(TwinClient):
    """A PC whose link drops (out of range) after its n-th write of the command stream."""
    writes_left = None

    async def write_gatt_char(self, characteristic, data, response):
        await super().write_gatt_char(characteristic, data, response)
        if DropsAfterWrites.writes_left is not None:
            DropsAfterWrites.writes_left -= 1
            if DropsAfterWrites.writes_left == 0:
                self._central.disconnect()


def test_a_connection_lost_midway_applies_nothing_and_says_so(board, tmp_path, alice):
    flaky = User(alice.key_file, client_backend=DropsAfterWrites)
    name = "Garage meter with long name"  # 27 bytes: three frames (two STAGE parts and SET_NAME)
    assert settings.validate("KASKAD_NAME", name)[1] is None

    async def flow():
        await alice.run("claim")
        DropsAfterWrites.writes_left = 2  # the first STAGE frame takes two writes
        lost = await flaky.run("set", "name", name)
        DropsAfterWrites.writes_left = None
        status = await alice.run("status")
        return lost, status

    lost, status = on_twin(board, flow, stop_after_s=5)
    assert lost.code == kaskad_cli.EXIT_LOST, lost.err
    assert "connection lost" in lost.err and "nothing was applied" in lost.err
    assert status.code == 0 and "overrides      0 setting" in status.out
    names = {adv_name(adv, scan) for _, adv, scan, _, _ in
             _harness.ble_adv_events(int(lost.finished_s * SECOND), _harness.clock().now_ns())}
    assert names == {"KASKAD 20109"}


def test_a_connection_lost_after_the_last_frame_says_the_change_is_uncertain(board, alice):
    flaky = User(alice.key_file, client_backend=DropsAfterWrites)

    async def flow():
        await alice.run("claim")
        DropsAfterWrites.writes_left = 1  # SET_POLL is one frame, one write
        lost = await flaky.run("set", "poll", "30")
        DropsAfterWrites.writes_left = None
        return lost, await alice.run("status")

    lost, status = on_twin(board, flow)
    assert lost.code == kaskad_cli.EXIT_LOST
    assert "before the board answered: it may or may not have been applied" in lost.err
    assert status.code == 0  # the board goes on serving its owner


def adv_name(adv, scan):
    from bluetooth_data_tools import parse_advertisement_data
    return parse_advertisement_data((adv, scan) if scan else (adv,)).local_name


# --- clear errors ----------------------------------------------------------------------------------
def test_device_not_found(board, alice):
    async def flow():
        return await alice.run("--device", "AA:BB:CC:DD:EE:FF", "status")

    result = on_twin(board, flow)
    assert result.code == kaskad_cli.EXIT_NOT_FOUND and "AA:BB:CC:DD:EE:FF not heard" in result.err


def test_claim_window_closed(board, alice):
    async def flow():
        return await alice.run("claim")

    result = on_twin(board, flow, seconds=700, at_s=601)
    assert result.code == kaskad_cli.EXIT_REFUSED and "claim window is closed" in result.err
    assert not os.path.exists(alice.key_file)


class NoAdapter(TwinScanner):
    """What BlueZ's manager raises when the machine has no Bluetooth adapter (bleak 3)."""

    async def start(self):
        raise BleakBluetoothNotAvailableError("No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH)


def test_no_adapter(tmp_path):
    import asyncio
    err = io.StringIO()
    code = asyncio.run(kaskad_cli.run(["--key-file", str(tmp_path / "k.json"), "scan"], io.StringIO(), err,
                                      NoAdapter, TwinClient))
    assert code == kaskad_cli.EXIT_NO_ADAPTER and "no Bluetooth adapter" in err.getvalue()


class Untouchable(TwinScanner):
    def __init__(self, *args, **kwargs):
        raise AssertionError("the tool looked for a board before checking the value")


def _limits(key):
    row = settings.spec(key)
    return row[3], row[4]


@pytest.mark.parametrize("argv, key", [
    (lambda lo, hi: ["set", "address", str(lo - 1)], "KASKAD_METER_ADDRESS"),
    (lambda lo, hi: ["set", "address", str(hi + 1)], "KASKAD_METER_ADDRESS"),
    (lambda lo, hi: ["set", "poll", str(lo - 1)], "KASKAD_POLL_SECONDS"),
    (lambda lo, hi: ["set", "poll", str(hi + 1)], "KASKAD_POLL_SECONDS"),
    (lambda lo, hi: ["set", "poll", "ten"], "KASKAD_POLL_SECONDS"),
    (lambda lo, hi: ["set", "name", "x" * (hi + 1)], "KASKAD_NAME"),
    (lambda lo, hi: ["set", "adv", str(lo - 1), "3000"], "KASKAD_ADV_INTERVAL_MS"),
    (lambda lo, hi: ["set", "adv", "1000", str(hi + 1)], "KASKAD_ADV_SWITCH_MS"),
    (lambda lo, hi: ["set", "adv", "2000", "1000"], "KASKAD_ADV_SWITCH_MS"),
    (lambda lo, hi: ["bindkey", "set", "abc"], "KASKAD_BINDKEY"),
])
def test_values_are_checked_with_the_firmware_schema_before_anything_is_sent(tmp_path, argv, key):
    import asyncio
    err = io.StringIO()
    code = asyncio.run(kaskad_cli.run(["--key-file", str(tmp_path / "k.json")] + argv(*_limits(key)),
                                      io.StringIO(), err, Untouchable, TwinClient))
    assert code == kaskad_cli.EXIT_USAGE, err.getvalue()
    assert key in err.getvalue()


def test_a_key_file_others_can_read_is_refused(tmp_path):
    import asyncio
    path = tmp_path / "k.json"
    path.write_text('{"devices": {}}')
    path.chmod(0o644)
    err = io.StringIO()
    code = asyncio.run(kaskad_cli.run(["--key-file", str(path), "status"], io.StringIO(), err, Untouchable, TwinClient))
    assert code == kaskad_cli.EXIT_ERROR and "chmod 600" in err.getvalue()


# --- reboot, factory reset -------------------------------------------------------------------------
def test_reboot_and_factory_reset(board, alice):
    async def flow():
        await alice.run("claim")
        await alice.run("set", "poll", "30")
        return await alice.run("reboot")

    rebooted = on_twin(board, flow, stop_after_s=None, seconds=30)
    assert rebooted.code == 0, rebooted.err
    assert board.ended == "reset"

    async def after_reboot():
        status = await alice.run("status")
        refused = await alice.run("factory-reset")
        reset = await alice.run("factory-reset", "--yes")
        return status, refused, reset

    status, refused, reset = on_twin(board, after_reboot, stop_after_s=None, seconds=60)
    assert status.code == 0 and "poll period    30 s" in status.out  # the override survived the reboot
    assert refused.code == kaskad_cli.EXIT_USAGE
    assert reset.code == 0 and board.ended == "reset"
    assert kaskad_cli.KeyFile(alice.key_file).key(ADDRESS) is None  # a key the board forgot is dropped

    async def after_reset():
        scan = await alice.run("scan")
        await alice.run("key", "import", ADDRESS, "00" * 16)
        return scan, await alice.run("status")

    scan, status = on_twin(board, after_reset)
    assert "no owner, claim window open" in scan.out
    assert status.code == kaskad_cli.EXIT_REFUSED and "NO_OWNER" in status.err


def test_the_tool_runs_as_a_program_from_the_checkout(tmp_path):
    """As the README's `.venv/bin/kaskad` runs it: its own imports, no test paths."""
    import subprocess
    script = Path(__file__).resolve().parent.parent / "clients" / "cli" / "kaskad_cli.py"
    env = dict(os.environ, PYTHONPATH="", KASKAD_KEY_FILE=str(tmp_path / "keys.json"))
    result = subprocess.run([sys.executable, str(script), "set", "poll", "3"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == kaskad_cli.EXIT_USAGE, result.stderr
    lowest, highest = _limits("KASKAD_POLL_SECONDS")
    assert "expected %d..%d" % (lowest, highest) in result.stderr
    assert not (tmp_path / "keys.json").exists()


def test_a_board_busy_with_another_central_is_reported_as_such(board, alice):
    from bleak import BleakClient, BleakScanner

    async def flow():
        await alice.run("claim")
        device = await BleakScanner.find_device_by_address(ADDRESS, timeout=3, backend=TwinScanner)
        other = BleakClient(device, backend=TwinClient)  # someone else's phone, connected and idle
        await other.connect()
        busy = await alice.run("--connect-seconds", "3", "status")
        await other.disconnect()
        return busy, await alice.run("status")

    busy, status = on_twin(board, flow)
    assert busy.code == kaskad_cli.EXIT_NOT_FOUND
    assert "could not connect" in busy.err and "one at a time" in busy.err
    assert status.code == 0, status.err


def test_status_names_the_meters_raised_flags(tmp_path, alice):
    # the simulated meter reports its terminal cover seal open (P1) and a DC magnetic field (M1)
    meter = SimMeter(address=20109, flags_a=0b00010010)
    board = Board(tmp_path, SETTINGS, meter)

    async def flow():
        await alice.run("claim")
        return await alice.run("status")

    status = on_twin(board, flow)
    assert status.code == 0, status.err
    assert "meter flags    seal_terminal_open, magnet_dc" in status.out
    age = int(status.out.split("last answer")[1].split()[0])
    assert 0 <= age <= status.finished_s  # the first poll ran at boot


def test_status_says_when_the_files_bindkey_cannot_be_used_and_generate_fixes_it(tmp_path, alice):
    # a 31-digit key in settings.toml: the board withholds every reading (status bit 3), and the
    # owner's status must say so, not "encryption off"; a generated key ends it
    board = Board(tmp_path, SETTINGS + 'KASKAD_BINDKEY = "231d39c1d7cc1ab1aee224cd096db93"\n')

    async def flow():
        await alice.run("claim")
        before = await alice.run("status")
        await alice.run("bindkey", "generate")
        return before, await alice.run("status")

    before, after = on_twin(board, flow)
    assert before.code == 0, before.err
    assert "KASKAD_BINDKEY in settings.toml cannot be used: NO readings are broadcast" in before.out
    assert "cannot be used" not in after.out and "encryption     on" in after.out, after.out
