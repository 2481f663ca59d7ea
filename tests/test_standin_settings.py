"""os.getenv (``_cpos``) and supervisor.get_setting: the board's settings.toml scanner.

CircuitPython 10.3 (circuitpython-stubs 10.3.1; supervisor/shared/settings.c): os.getenv
always returns a str (or the default) and never raises for a bad file; typed values come from
supervisor.get_setting.
"""
import pytest

import _cpos
import _harness
import supervisor


@pytest.fixture
def toml(tmp_path):
    def write(content: "str | bytes") -> None:
        path = tmp_path / "settings.toml"
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        _harness.set_settings_path(str(path))
    return write


def test_missing_file_gives_the_default():
    assert _cpos.getenv("KEY") is None
    assert _cpos.getenv("KEY", "d") == "d"
    _harness.set_settings_path("/nonexistent/settings.toml")
    assert _cpos.getenv("KEY", "d") == "d"
    assert supervisor.get_setting("KEY", 5) == 5


@pytest.mark.parametrize("line,expected", [
    ('KEY = "abc"', "abc"),
    ('KEY="abc"', "abc"),
    ('   KEY   =   "abc"   ', "abc"),
    ('KEY = "abc" # comment', "abc"),
    ('KEY = ""', ""),
    ("KEY = 123", "123"),            # a str, not an int, on 10.3
    ("KEY = 0x1F", "0x1F"),
    ("KEY = -5", "-5"),
    ("KEY = true", "true"),
    ("KEY = 1.5", "1.5"),
    ("KEY = hello world  # note", "hello world"),
    ("KEY = 'single'", "'single'"),
    ("KEY = # only a comment", ""),
    ('KEY = "tab\\there"', "tab\there"),
    ('KEY = "a\\"b\\\\c"', 'a"b\\c'),
    ('KEY = "\\q"', "q"),
    ('KEY = "\\u00e9\\U0001F600"', "\u00e9\U0001F600"),
    ('KEY = "\\b\\r\\n\\v\\f"', "\b\r\n\v\f"),
    ('KEY = "caf\u00e9"', "caf\u00e9"),
])
def test_getenv_values(toml, line, expected):
    toml(line + "\n")
    value = _cpos.getenv("KEY")
    assert value == expected and type(value) is str


@pytest.mark.parametrize("line", [
    'KEY = "unterminated',
    'KEY = "abc" trailing',
    'KEY = "line\nbreak"',
    "KEY =",
    "KEY =   ",
    'KEY = "\\uZZZZ"',
    'KEY = "\\u12"',
    'KEY = "\\U00110000"',
])
def test_getenv_malformed_value_gives_the_default_without_raising(toml, line):
    toml(line + "\n")
    assert _cpos.getenv("KEY", "dflt") == "dflt"


def test_sections_end_the_search(toml):
    toml('TOP = "yes"\n[wifi]\nINNER = "no"\n')
    assert _cpos.getenv("TOP") == "yes"
    assert _cpos.getenv("INNER") is None
    toml('  [section]\nTOP = "no"\n')
    assert _cpos.getenv("TOP") is None


def test_first_duplicate_wins_and_prefixes_do_not_match(toml):
    toml('KEY2 = "two"\nKEY = "first"\nKEY = "second"\n')
    assert _cpos.getenv("KEY") == "first"
    assert _cpos.getenv("KEY2") == "two"
    assert _cpos.getenv("KE") is None


def test_comments_blank_lines_and_crlf(toml):
    toml('# KEY = "commented"\r\n\r\n   \r\nKEY = "real"\r\nNUM = 42\r\n')
    assert _cpos.getenv("KEY") == "real"
    assert _cpos.getenv("NUM") == "42"
    assert _cpos.getenv("# KEY") == "commented"  # the scanner has no comment lines, only keys


def test_non_utf8_value_is_a_unicode_error_but_elsewhere_harmless(toml):
    toml(b'# caf\xe9 in latin-1\nGOOD = "ok"\nBAD = "caf\xe9"\n')
    assert _cpos.getenv("GOOD") == "ok"
    with pytest.raises(UnicodeError):
        _cpos.getenv("BAD")


def test_getenv_key_must_be_a_string():
    with pytest.raises(TypeError):
        _cpos.getenv(123)


@pytest.mark.parametrize("line,expected", [
    ('KEY = "text"', "text"),
    ("KEY = 42", 42),
    ("KEY = -7", -7),
    ("KEY = +7", 7),
    ("KEY = 0x1F", 31),
    ("KEY = 011", 9),                      # C strtol base 0: octal
    ("KEY = 99999999999", 2147483647),     # clamped to a 32-bit C long
    ("KEY = true", True),
    ("KEY = false", False),
    ("KEY = 5  # five", 5),
])
def test_get_setting_values(toml, line, expected):
    toml(line + "\n")
    value = supervisor.get_setting("KEY")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("line", [
    "KEY = 1.5", "KEY = True", "KEY = 08", "KEY = 1_000", "KEY = 0b101", "KEY = hello",
    "KEY = 1234567890123456", 'KEY = "open',
])
def test_get_setting_rejects_what_the_board_cannot_parse(toml, line):
    toml(line + "\n")
    with pytest.raises(ValueError):
        supervisor.get_setting("KEY")


def test_get_setting_missing_key_gives_default(toml):
    toml("OTHER = 1\n")
    assert supervisor.get_setting("KEY", 7) == 7


def test_listdir_and_urandom_and_uname(tmp_path):
    with pytest.raises(OSError):
        _cpos.listdir("/")
    (tmp_path / "lib").mkdir()
    (tmp_path / "code.py").write_text("")
    _harness.set_drive_path(str(tmp_path))
    assert _cpos.listdir("/") == ["code.py", "lib"]
    assert _cpos.listdir("/lib") == []
    assert len(_cpos.urandom(16)) == 16
    assert _cpos.uname().sysname == "nrf52840"
