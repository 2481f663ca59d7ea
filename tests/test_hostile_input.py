"""Hostile and careless settings.toml files, booted through the board's unchanged code.py in
virtual time: none boot-loops, each problem is one short console line that says what to do, the
meter is read whenever the board's own reader (the _cpsettings port of settings.c) finds the
address, and a key that cannot be used never puts readings on air in the clear."""

import boot
import _cpsettings
import _harness
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from board_rig import Board, claim, command
from ha_view import HomeAssistantView
from kaskad_client import STATUS_UUID, parse_status
from kaskad import settings_file
from kaskad_sim.meter import SimMeter
from kaskad_sim.wire import SimWire

SECOND = 1_000_000_000
KEY = "231d39c1d7cc1ab1aee224cd096db932"
OWNER = bytes(range(16))
A = b"KASKAD_METER_ADDRESS = 20109\n"
CP1251_COMMENT = "# Счётчик в коридоре\n".encode("cp1251")


def boot_with(tmp_path, content, seconds=12, meter=None):  # past the 4.5 s name-only hold after boot
    """Boot code.py on ``content`` as settings.toml; (console text, advertising events)."""
    path = tmp_path / "settings.toml"
    path.write_bytes(content)
    clock = _harness.reset()
    _harness.set_settings_path(str(path))
    _harness.attach_far_end("TX", "RX", SimWire(meter or SimMeter(address=20109)))
    clock.stop_at_ns = seconds * SECOND
    with pytest.raises(_harness.HostStop):
        boot.run_code_py()
    return _harness.ble_adv_events(0, seconds * SECOND)


def console(capsys):
    return capsys.readouterr().out


def home_assistant(events, bindkey=None):
    view = HomeAssistantView(bytes.fromhex(bindkey) if bindkey else None)
    seen = {}
    for t_ns, adv, scan, _extended, connectable in events:
        seen.update(view.receive(adv, scan, _harness.ble_address(), t_ns / SECOND, connectable))
    return seen


# (what the user did, the file, what the console must say (every piece), whether the meter is read)
CASES = [
    ("cp1251 comment", A + CP1251_COMMENT, ["not UTF-8 on line 2"], True),
    ("cp1251 comment first", CP1251_COMMENT + A, ["not UTF-8 on line 1"], True),
    ("latin-1 byte in a value", A + b'KASKAD_NAME = "Z\xe4hler"\n',
     ["not UTF-8 on line 2", 'KASKAD_NAME = "Z?hler": settings.toml value cannot be read (the text is not UTF-8'], True),
    ("UTF-8 BOM", b"\xef\xbb\xbf" + A,
     ["starts with a byte-order mark: the first key, KASKAD_METER_ADDRESS, is not seen; save as "
      "UTF-8 without BOM", "KASKAD_METER_ADDRESS is not set"], False),
    ("BOM before a comment", b"\xef\xbb\xbf# settings\n" + A, [], True),
    ("a [section]", A + b"[kaskad]\nKASKAD_POLL_SECONDS = 30\n",
     ["line 2 is a [section]: the board reads no key from there on; not read: KASKAD_POLL_SECONDS"], True),
    ("empty file", b"", ["KASKAD_METER_ADDRESS is not set"], False),
    ("file of NULs", b"\0" * 4096, ["line 1 starts with a NUL byte", "KASKAD_METER_ADDRESS is not set"], False),
    ("NULs after the address", A + b"\0" * 64 + b"\nKASKAD_POLL_SECONDS = 30\n",
     ["line 2 starts with a NUL byte: the board reads nothing from there on", "not read: KASKAD_POLL_SECONDS"],
     True),
    ("huge file", A + (b"# " + b"x" * 98 + b"\n") * 1000, ["over 64 KB: only its first 64 KB"], True),
    ("one huge line", A + b"#" * 200000, ["over 64 KB"], True),
    ("CRLF line ends", A.replace(b"\n", b"\r\n") + b'KASKAD_NAME = "Hall"\r\n', [], True),
    ("CR-only line ends", b"KASKAD_POLL_SECONDS = 30\rKASKAD_METER_ADDRESS = 20109\r",
     ["line 1 has a line break the board does not see (CR alone", "KASKAD_POLL_SECONDS = 30?KASKAD_METER_ADDRESS = 20109: settings.toml value cannot be read",
      "KASKAD_METER_ADDRESS is not set"], False),
    ("two numbers", b"KASKAD_METER_ADDRESS = 20109 20110\n",
     ["KASKAD_METER_ADDRESS = 20109 20110: settings.toml value cannot be read (Invalid format: text goes in double quotes"], False),
    ("true as a number", A + b"KASKAD_POLL_SECONDS = true\n", ["KASKAD_POLL_SECONDS = true rejected: expected a whole number"], True),
    ("a float", A + b"KASKAD_POLL_SECONDS = 1.5e3\n", ["KASKAD_POLL_SECONDS = 1.5e3: settings.toml value cannot be read"], True),
    ("a bad \\u escape", A + b'KASKAD_NAME = "\\uZZZZ"\n', ['KASKAD_NAME = "\\uZZZZ": settings.toml value cannot be read'], True),
    ("a pin with a blank", A + b'KASKAD_UART_TX = " TX"\n', ["pin ' TX' does not exist on this board; using TX"], True),
    ("cp1251 name in quotes", A + 'KASKAD_NAME = "Счётчик"\n'.encode("cp1251"),
     ["not UTF-8 on line 2", "the text is not UTF-8: save the file as UTF-8"], True),
    ("tabs", b"\tKASKAD_METER_ADDRESS\t=\t20109\t# tab\n", [], True),
    ("a key with a space", A + b'KASKAD NAME = "Hall"\n',
     ["line 2 is not KEY = value and is ignored: 'KASKAD NAME = \"Hall\"'"], True),
    ("lower-case key", A + b"kaskad_poll_seconds = 30\n",
     ["kaskad_poll_seconds: keys are case-sensitive, write KASKAD_POLL_SECONDS"], True),
    ("hex number", b"KASKAD_METER_ADDRESS = 0x4E8D\n", [], True),
    ("negative number", A + b"KASKAD_POLL_SECONDS = -5\n", ["KASKAD_POLL_SECONDS = -5 rejected: expected 5..86400"], True),
    ("huge number", A + b"KASKAD_POLL_SECONDS = 99999999999\n",
     ["KASKAD_POLL_SECONDS = 99999999999 rejected: expected 5..86400"], True),
    ("leading zero", A + b"KASKAD_POLL_SECONDS = 010\n",
     ["KASKAD_POLL_SECONDS = 010: a number with a leading 0 is octal to the board (8)"], True),
    ("quotes missing", A + b"KASKAD_NAME = Hall meter\n",
     ["KASKAD_NAME = Hall meter: settings.toml value cannot be read", "text goes in double quotes"], True),
    ("quote not closed", A + b'KASKAD_NAME = "Hall\n', ["KASKAD_NAME = \"Hall: settings.toml value cannot be read"], True),
    ("number in quotes", b'KASKAD_METER_ADDRESS = "20109"\n', [], True),
    ("a key twice", A + b"KASKAD_POLL_SECONDS = 30\nKASKAD_POLL_SECONDS = 3600\n",
     ["KASKAD_POLL_SECONDS is set twice in settings.toml (lines 2 and 3): the board uses line 2"], True),
    ("empty value", A + b"KASKAD_POLL_SECONDS =\n", ["KASKAD_POLL_SECONDS = : settings.toml value cannot be read (Invalid format"], True),
    ("misspelt key", A + b"KASKAD_POLL_SECOND = 30\n", ["KASKAD_POLL_SECOND: unknown key"], True),
    ("Cyrillic name of 14 letters", A + 'KASKAD_NAME = "Счётчик_в_доме"\n'.encode(), [], True),
    ("Cyrillic name of 16 letters", A + 'KASKAD_NAME = "Счётчик_коридора"\n'.encode(),
     ["expected 1 to 29 bytes in UTF-8 (a Cyrillic letter takes 2), got 31"], True),
]


@pytest.mark.parametrize("what,content,said,read", CASES, ids=[c[0] for c in CASES])
def test_a_careless_file_is_named_and_the_board_runs(tmp_path, capsys, what, content, said, read):
    events = boot_with(tmp_path, content)
    out = console(capsys)
    assert "boot failed" not in out and "resetting" not in out, out
    for piece in said:
        assert piece in out, out
    started = [line for line in out.splitlines() if "kaskad-ble" in line]
    assert len(started) == 1, out  # booted once: no boot loop
    assert all(len(line) < 300 for line in out.splitlines()), out  # short lines, never the file
    readings = [line for line in out.splitlines() if " meter 20109 " in line]
    assert bool(readings) == read, out
    if read:
        assert home_assistant(events).get("energy_1") == 1234.56
    if not said:
        assert " error: " not in out, out


def test_the_stand_in_and_the_firmware_agree_the_cp1251_file_keeps_its_address(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(CP1251_COMMENT + A + b'KASKAD_NAME = "\xd1\xf7\xe5\xf2"\n')
    assert _cpsettings.get_obj(str(path), "KASKAD_METER_ADDRESS") == (_cpsettings.OK, 20109)
    with pytest.raises(UnicodeError):
        _cpsettings.get_obj(str(path), "KASKAD_NAME")


def test_a_bom_hides_the_first_key_from_the_board_reader_too(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(b"\xef\xbb\xbf" + A + b"KASKAD_POLL_SECONDS = 30\n")
    assert _cpsettings.get_obj(str(path), "KASKAD_METER_ADDRESS")[0] == _cpsettings.ERR_NOT_FOUND
    assert _cpsettings.get_obj(str(path), "KASKAD_POLL_SECONDS") == (_cpsettings.OK, 30)


def test_a_duplicate_key_the_board_takes_the_first(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(b"KASKAD_POLL_SECONDS = 30\nKASKAD_POLL_SECONDS = 3600\n")
    assert _cpsettings.get_obj(str(path), "KASKAD_POLL_SECONDS") == (_cpsettings.OK, 30)


# --- the firmware's scan sees the keys the board's reader finds, and no others -----------------
_KEYS = ["KASKAD_A", "KASKAD_B", "KASKAD_AB", "K"]
_LINE = st.one_of(
    st.builds(lambda pre, k, sp, v: pre + k.encode() + sp + b"=" + v,
              st.sampled_from([b"", b" ", b"\t", b"\r", b"\xef\xbb\xbf", b"#", b"x"]), st.sampled_from(_KEYS),
              st.sampled_from([b"", b" ", b"\t "]), st.sampled_from([b" 1", b'"v"', b"", b" 0x1f # c", b"\xd1"])),
    st.sampled_from([b"", b"[t]", b"  [t]", b"# c", b"\xff\xfe", b"KASKAD_A B = 1", b"=1"]),
)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=8), st.sampled_from([b"\n", b"\r\n"]))
def test_the_scan_finds_exactly_the_keys_the_board_reader_finds(tmp_path_factory, lines, newline):
    path = tmp_path_factory.mktemp("scan") / "settings.toml"
    content = newline.join(lines)
    path.write_bytes(content)
    with open(path, "rb") as raw:
        found = settings_file.scan(raw, lambda line: None)
    for key in _KEYS:
        err, _raw, _quoted = _cpsettings.get_raw(str(path), key)
        assert (err != _cpsettings.ERR_NOT_FOUND) == (key in found.keys), (key, content)
    for key in found.unseen:
        assert _cpsettings.get_raw(str(path), key)[0] == _cpsettings.ERR_NOT_FOUND, (key, content)


BTHOME_SERVICE_DATA = b"\x16\xd2\xfc"  # AD type 0x16 with the BTHome UUID 0xFCD2


# --- a key that cannot be used: fail closed, visibly, and the owner can still fix it ---------
@pytest.mark.parametrize("line", [
    b'KASKAD_BINDKEY = "231d39c1d7cc1ab1aee224cd096db93"\n',  # 31 digits
    b'KASKAD_BINDKEY = "231d39c1d7cc1ab1aee224cd096db93g"\n',
    b"KASKAD_BINDKEY = 231d39c1d7cc1ab1aee224cd096db932\n",  # quotes missing
    b'KASKAD_BINDKEY = "231d39c1d7cc1ab1aee224cd096db932\n',  # not closed
], ids=["31 digits", "not hex", "no quotes", "not closed"])
def test_a_bindkey_that_cannot_be_used_broadcasts_no_readings(tmp_path, capsys, line):
    events = boot_with(tmp_path, A + line, seconds=20)
    out = console(capsys)
    assert "KASKAD_BINDKEY" in out and "no readings are broadcast until it is fixed" in out, out
    assert " meter 20109 " in out  # the meter is still read and shown on the console
    # on air: the flags and the name only (no BTHome service data), connectable so the owner can fix it
    assert events and all(BTHOME_SERVICE_DATA not in adv and connectable for _t, adv, _s, _e, connectable in events)
    assert home_assistant(events) == {}
    assert home_assistant(events, KEY) == {}
    assert "boot failed" not in out


def test_a_bindkey_after_a_section_is_not_taken_for_no_key(tmp_path, capsys):
    events = boot_with(tmp_path, A + b"[ble]\nKASKAD_BINDKEY = \"%s\"\n" % KEY.encode(), seconds=10)
    out = console(capsys)
    assert "KASKAD_BINDKEY is in settings.toml where the board cannot read it" in out, out
    assert home_assistant(events) == {}


def test_the_led_shows_three_blinks_when_the_key_cannot_be_used(tmp_path):
    boot_with(tmp_path, A + b'KASKAD_BINDKEY = "00"\n', seconds=12)
    history = [(t, on) for t, on in _harness.pin_history("LED") if t >= 8 * SECOND]
    ons = [t for t, on in history if on]
    # three rising edges in each 2 s period, 250 ms apart
    first = ons[0]
    period = [t - first for t in ons if t - first < 2 * SECOND]
    assert period == [0, 250_000_000, 500_000_000], history


def test_the_owner_sees_the_refused_key_and_can_set_one(tmp_path, capsys):
    """Status bit 3; the board stays connectable, and a key the owner sets ends the withholding
    at once and after a reboot (no lock-out)."""
    board = Board(tmp_path, (A + b'KASKAD_BINDKEY = "nope"\n').decode())
    seen = {}

    def script():
        central = _harness.ble_central()
        yield 3000
        connection = yield from claim(central, OWNER)
        seen["claimed"] = parse_status(central.read(STATUS_UUID))
        seen["asked_s"] = _harness.clock().now_ns() / SECOND
        code, _ = yield from command(central, connection, connection.set_bindkey(bytes.fromhex(KEY)))
        assert code == 0
        seen["after"] = parse_status(central.read(STATUS_UUID))
        seen["key_s"] = _harness.clock().now_ns() / SECOND
        central.disconnect()

    assert board.run(25, script()) == "stop"
    assert seen["claimed"]["key_refused"] and not seen["claimed"]["encrypted"]
    assert not seen["after"]["key_refused"] and seen["after"]["encrypted"]
    before = [e for e in board.events if e[0] < seen["asked_s"] * SECOND]
    after = [e for e in board.events if e[0] > (seen["key_s"] + 0.1) * SECOND]
    assert home_assistant(before) == {} and home_assistant(before, KEY) == {}
    assert home_assistant(after, KEY).get("energy_1") == 1234.56
    capsys.readouterr()
    assert board.run(10) == "stop"  # a reboot: the owner's key holds, the file's stays refused
    assert home_assistant(board.events, KEY).get("energy_1") == 1234.56
    out = capsys.readouterr().out
    assert "the owner's choice over Bluetooth is used instead" in out and "encrypted BTHome" in out, out


def test_a_meter_at_another_address_is_named_as_the_likely_cause(tmp_path, capsys):
    boot_with(tmp_path, b"KASKAD_METER_ADDRESS = 20110\n", seconds=8, meter=SimMeter(address=20109))
    out = console(capsys)
    assert "no meter answers at address 20110; check KASKAD_METER_ADDRESS against the ID-xxxxx" in out, out
    assert "flags clear" not in out and "flags unknown" in out
