"""The settings schema: every malformed value names its key, typos are caught, defaults keep the
board running, numbers read the same through every CircuitPython reader, and overrides follow the
precedence rule."""

import os

import _cpos
import _harness
import microcontroller
import pytest
import supervisor

from kaskad import meters, settings, settings_file
from kaskad.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BAD_VALUES = {
    settings.INT: ['"twelve"', "1.5", "true", '"0x10"', "-99999999"],
    settings.PIN: ["5", "true", '""', '"A_VERY_LONG_PIN_NAME_X"'],
    settings.TEXT: ["5", '""', '"' + "x" * 30 + '"'],
    settings.KEY: ['"00112233"', '"zz112233445566778899aabbccddeeff"', "12", '"' + "a" * 33 + '"'],
    settings.CHOICE: ['"verbose"', "1"],
    # 9601 and 300 the board would silently run at 14400 and 1200 (busio/UART.c get_nrf_baud)
    settings.BAUD: ["9601", "300", "250000", '"fast"', "9600.0"],
    settings.FAMILY: ['"kaskad-1"', '"Mercury-206"', "206", '""'],
    settings.ADDRESS: ['"twelve"', "1.5", "true", "0", "65535", "-5"],  # KASKAD-1-MT's: 1..65534
}
CASES = [(row[0], bad) for row in settings.SCHEMA for bad in BAD_VALUES[row[1]]]


def load_file(tmp_path, text, store=None):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    _harness.set_settings_path(str(path))
    lines = []
    with open(path, "rb") as f:
        keys = settings_file.scan(f, lines.append)
    return settings.load(supervisor.get_setting, lines.append, keys, store), lines


@pytest.mark.parametrize("key,bad", CASES)
def test_every_malformed_value_names_its_key_and_the_default_is_used(tmp_path, key, bad):
    loaded, lines = load_file(tmp_path, "%s = %s\n" % (key, bad))
    mentioned = [line for line in lines if line.startswith(key)]
    assert len(mentioned) == 1, lines
    assert "expected" in mentioned[0] or "cannot be read" in mentioned[0]
    row = settings.spec(key)
    assert getattr(loaded, settings.attribute(key)) == row[2]


def test_good_values_of_every_kind(tmp_path):
    loaded, lines = load_file(tmp_path, "\n".join([
        "KASKAD_METER_ADDRESS = 7943",
        'KASKAD_BINDKEY = "231d39c1d7cc1ab1aee224cd096db932"',
        'KASKAD_NAME = "Meter in the hall"',
        'KASKAD_UART_TX = "D5"',
        'KASKAD_LOG = "debug"',
        "KASKAD_POLL_SECONDS = 0x3c",
    ]) + "\n")
    assert lines == []
    assert loaded.meter_address == 7943 and loaded.poll_seconds == 60
    assert loaded.bindkey == bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
    assert loaded.name == "Meter in the hall" and loaded.uart_tx == "D5" and loaded.log == "debug"


def test_an_empty_bindkey_means_no_encryption(tmp_path):
    loaded, lines = load_file(tmp_path, 'KASKAD_BINDKEY = ""\n')
    assert lines == [] and loaded.bindkey is None


def test_numbers_read_the_same_as_text_from_os_getenv(tmp_path):
    # CircuitPython 10.3's os.getenv returns every value as text
    path = tmp_path / "settings.toml"
    path.write_text("KASKAD_METER_ADDRESS = 20109\nKASKAD_BAUD = 4800\n")
    _harness.set_settings_path(str(path))
    assert _cpos.getenv("KASKAD_METER_ADDRESS") == "20109"
    lines = []
    loaded = settings.load(_cpos.getenv, lines.append)
    assert lines[0].startswith("KASKAD_BAUD = 4800 is not the rate") and loaded.meter_address == 20109 and loaded.baud == 4800
    assert len(lines) == 1


def test_a_misspelt_key_is_named_with_the_likely_one(tmp_path):
    loaded, lines = load_file(tmp_path, "KASKAD_POL_SECONDS = 30\nOTHER_APP_KEY = 1\n")
    assert lines == ["KASKAD_POL_SECONDS: unknown key in settings.toml (a typo?); known keys: KASKAD_POLL_SECONDS"]
    assert loaded.poll_seconds == 60


def test_a_switch_shorter_than_the_interval_is_refused(tmp_path):
    loaded, lines = load_file(tmp_path, "KASKAD_ADV_INTERVAL_MS = 2000\nKASKAD_ADV_SWITCH_MS = 500\n")
    assert len(lines) == 1 and "KASKAD_ADV_SWITCH_MS" in lines[0]
    assert loaded.adv_switch_ms == 2000


def test_keys_after_a_table_are_not_the_boards(tmp_path):
    loaded, lines = load_file(tmp_path, "KASKAD_METER_ADDRESS = 5\n[other]\nKASKAD_TYPO = 1\n")
    # the board's reader stops at the [section] (settings.c key_matches): said once, no typo hunt
    assert lines == ["settings.toml line 2 is a [section]: the board reads no key from there on; "
                     "not read: KASKAD_TYPO"] and loaded.meter_address == 5


def test_the_shipped_settings_file_loads_cleanly_and_documents_every_key(tmp_path):
    text = open(os.path.join(ROOT, "settings.toml")).read()
    loaded, lines = load_file(tmp_path, text)
    assert lines == []
    assert loaded.meter_address == 20109
    for row in settings.SCHEMA:
        assert row[0] in text, "settings.toml does not document %s" % row[0]


def override_store():
    return Store(microcontroller.nvm, lambda line: None)


@pytest.mark.parametrize("text, address", [
    ("KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 60\n", 7943),
    ('KASKAD_METER = "mercury-206"\nKASKAD_METER_ADDRESS = 20109\n', 36896545),  # the family's range
])
def test_an_override_wins_over_an_unchanged_file(tmp_path, text, address):
    loaded, _ = load_file(tmp_path, text)
    store = override_store()
    store.set_override("KASKAD_METER_ADDRESS", address, loaded.file_fingerprints["KASKAD_METER_ADDRESS"])
    store.commit()
    again, lines = load_file(tmp_path, text, override_store())
    assert again.meter_address == address and lines == []


def test_a_file_edited_after_the_override_wins(tmp_path):
    loaded, _ = load_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 60\n")
    store = override_store()
    store.set_override("KASKAD_METER_ADDRESS", 7943, loaded.file_fingerprints["KASKAD_METER_ADDRESS"])
    store.set_override("KASKAD_POLL_SECONDS", 30, loaded.file_fingerprints["KASKAD_POLL_SECONDS"])
    store.commit()
    edited = "KASKAD_METER_ADDRESS = 11111\nKASKAD_POLL_SECONDS = 60\n"
    again, lines = load_file(tmp_path, edited, override_store())
    assert again.meter_address == 11111  # the file changed this key: the file wins
    assert again.poll_seconds == 30  # this key did not change in the file: the override stays
    assert lines == ["KASKAD_METER_ADDRESS: settings.toml was edited after the Bluetooth override; the file wins"]
    kept = override_store()
    assert [key for key, _, _ in kept.overrides] == ["KASKAD_POLL_SECONDS"]  # dropped for good


def test_an_override_the_schema_rejects_is_dropped(tmp_path):
    loaded, _ = load_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\n")
    store = override_store()
    store.set_override("KASKAD_METER_ADDRESS", 70000, loaded.file_fingerprints["KASKAD_METER_ADDRESS"])
    store.set_override("KASKAD_GONE", 1, 0)
    store.commit()
    again, lines = load_file(tmp_path, "KASKAD_METER_ADDRESS = 20109\n", override_store())
    assert again.meter_address == 20109
    assert any(line.startswith("KASKAD_METER_ADDRESS = 70000 (Bluetooth override) rejected") for line in lines)
    assert any(line.startswith("KASKAD_GONE:") for line in lines)
    assert override_store().overrides == []


def test_validate_answers_for_a_single_key():
    assert settings.validate("KASKAD_POLL_SECONDS", 30) == (30, None)
    assert settings.validate("KASKAD_POLL_SECONDS", 1)[1] == "expected 5..86400"
    assert settings.validate("KASKAD_NOPE", 1) == (None, "unknown key")


def test_every_baud_rate_accepted_is_one_the_uart_makes_exactly(tmp_path):
    # the strict busio stand-in runs at the rate the nRF makes (UART.c get_nrf_baud); an accepted
    # setting must be that very rate, or the link's bit-times would be wrong
    import busio
    import board

    accepted = [rate for rate in range(0, 120_001) if settings.validate("KASKAD_BAUD", rate)[1] is None]
    assert settings.validate("KASKAD_BAUD", 230400)[1] is not None
    assert 9600 in accepted and 2400 in accepted
    for rate in accepted:
        _harness.reset()
        uart = busio.UART(board.TX, board.RX, baudrate=rate)
        assert busio._wire_baud(uart.baudrate) == rate
        uart.deinit()


# --- the meter family decides the address and the baud rate -------------------------------------


def test_an_unknown_family_names_the_key_and_every_accepted_value(tmp_path):
    loaded, lines = load_file(tmp_path, 'KASKAD_METER = "mercury-200"\nKASKAD_METER_ADDRESS = 20109\n')
    assert loaded.meter == "kaskad-1-mt" and loaded.family.NAME == "kaskad-1-mt"
    line, = lines
    assert line.startswith("KASKAD_METER = 'mercury-200' rejected")
    for name in ("kaskad-1-mt", "kaskad-11-c1", "mercury-206", "ce-102m"):
        assert name in line


@pytest.mark.parametrize("family, good, bad", [
    ("kaskad-1-mt", [1, 65534], [0, 65535]),
    ("kaskad-11-c1", [1, 65535], [0, 65536]),
    ("mercury-206", [1, 36896545, 999999999], [0, 1000000000]),
])
def test_the_address_range_is_the_familys(tmp_path, family, good, bad):
    package = meters.load(family)
    for value in good:
        loaded, lines = load_file(tmp_path, 'KASKAD_METER = "%s"\nKASKAD_METER_ADDRESS = %d\n' % (family, value))
        assert lines == [] and loaded.meter_address == value and loaded.family is package
    for value in bad:
        loaded, lines = load_file(tmp_path, 'KASKAD_METER = "%s"\nKASKAD_METER_ADDRESS = %d\n' % (family, value))
        line, = lines
        assert loaded.meter_address is None
        assert line.startswith("KASKAD_METER_ADDRESS = %d rejected" % value)
        assert "%d..%d" % (package.ADDRESS_MIN, package.ADDRESS_MAX) in line and package.ADDRESS_MEANS in line
    assert meters  # the family packages live there


def test_a_meter_without_address_reports_a_set_one_and_ignores_it(tmp_path):
    loaded, lines = load_file(tmp_path, 'KASKAD_METER = "ce-102m"\nKASKAD_METER_ADDRESS = 20109\n')
    assert loaded.meter_address is None
    line, = lines
    assert line.startswith("KASKAD_METER_ADDRESS = 20109 ignored: a ce-102m has no address")
    loaded, lines = load_file(tmp_path, 'KASKAD_METER = "ce-102m"\n')
    assert lines == [] and loaded.meter_address is None and not settings.address_needed(loaded.family)


@pytest.mark.parametrize("family, baud", [("kaskad-1-mt", 9600), ("kaskad-11-c1", 2400),
                                          ("mercury-206", 9600), ("ce-102m", 9600)])
def test_the_baud_rate_left_out_is_the_familys(tmp_path, family, baud):
    loaded, lines = load_file(tmp_path, 'KASKAD_METER = "%s"\n' % family)
    assert loaded.baud == baud and lines == []


def test_a_baud_rate_other_than_the_familys_is_used_and_said(tmp_path):
    loaded, lines = load_file(tmp_path, 'KASKAD_METER = "kaskad-11-c1"\nKASKAD_METER_ADDRESS = 5\nKASKAD_BAUD = 9600\n')
    assert loaded.baud == 9600
    line, = lines
    assert line.startswith("KASKAD_BAUD = 9600 is not the rate a kaskad-11-c1 talks (2400)")


def test_validate_checks_an_address_against_the_family_given():
    mercury = meters.load("mercury-206")
    assert settings.validate("KASKAD_METER_ADDRESS", 36896545, mercury) == (36896545, None)
    assert settings.validate("KASKAD_METER_ADDRESS", 36896545)[1] == "expected a whole number, 1..65534"
    assert settings.validate("KASKAD_METER_ADDRESS", 5, meters.load("ce-102m"))[1] == "this meter has no address"
