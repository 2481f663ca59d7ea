"""The settings: one schema, one place. Every key, its type, default, accepted range and meaning.

A user edits settings.toml; the owner may override keys at run time over Bluetooth (kept in NVM by
kaskad.store). code.py reads the file with ``supervisor.get_setting`` where the board has it
(CircuitPython 10.2.0+, typed values) and ``os.getenv`` elsewhere; since 10.3 ``os.getenv`` returns
every value as text, and before that bare integers came back as int, so a number is accepted as
an int or as the decimal text of one.

A wrong value produces one console line naming the key, the value and what is accepted, and the
default is used instead, so a typo never stops the board. A missing meter address is no crash:
the board runs and says what to set.

Precedence: each override remembers a fingerprint of the file's value of its key when it was set.
A value edited in settings.toml after an override wins (the override is dropped); an override
wins over a file value that has not changed since.
"""

import binascii

from kaskad import meters

INT = 0
PIN = 1  # a board pin name, as text: "TX"
TEXT = 2  # free text; lowest/highest bound its length in UTF-8 bytes
KEY = 3  # an AES-128 key as 32 hex digits, or "" for none
CHOICE = 4  # one of the words in LOG_LEVELS
BAUD = 5  # a whole number, one of BAUD_RATES
FAMILY = 6  # a meter family's name (kaskad.meters)
ADDRESS = 7  # a whole number in the range of the meter family's address (ADDRESS_MIN..ADDRESS_MAX)

DEFAULT_FAMILY = "kaskad-1-mt"

LOG_LEVELS = ("error", "info", "debug")
# The rates the nRF52840's UARTE makes (ports/nordic/common-hal/busio/UART.c get_nrf_baud(): any
# other request silently runs at the next one up, so the link would time its replies for a rate
# the wire does not have), up to 115200.
BAUD_RATES = (1200, 2400, 4800, 9600, 14400, 19200, 28800, 31250, 38400, 56000, 57600, 76800, 115200)

# (key, kind, default, lowest, highest, meaning)
# KASKAD_METER comes first: the range and meaning of the address, and the baud rate's default,
# are the family's (ADDRESS rows take lowest, highest and meaning from it; the row's are
# KASKAD-1-MT's, for the documentation), and KASKAD_BAUD left out of the file takes its BAUD.
SCHEMA = (
    ("KASKAD_METER", FAMILY, DEFAULT_FAMILY, 0, 0, "the meter family"),
    ("KASKAD_METER_ADDRESS", ADDRESS, None, 1, 65534, "the ID on the meter's display (ID-xxxxx)"),
    ("KASKAD_POLL_SECONDS", INT, 60, 5, 86400, "seconds between two polls of the meter"),
    ("KASKAD_MAX_AGE_SECONDS", INT, 300, 10, 259200, "a value older than this is no longer published"),
    ("KASKAD_BINDKEY", KEY, None, 32, 32, "the BTHome encryption key: 32 hex digits, or empty for none"),
    ("KASKAD_NAME", TEXT, None, 1, 29, "the name Home Assistant shows (default: KASKAD <address>)"),
    ("KASKAD_ADV_INTERVAL_MS", INT, 1000, 20, 10240, "milliseconds between two advertisements"),
    ("KASKAD_ADV_SWITCH_MS", INT, 3000, 100, 60000, "milliseconds each of the two packets stays on air"),
    ("KASKAD_UART_TX", PIN, "TX", 1, 16, "board pin wired to the optical head's transmitter"),
    ("KASKAD_UART_RX", PIN, "RX", 1, 16, "board pin wired to the optical head's receiver"),
    ("KASKAD_BAUD", BAUD, 9600, 1200, 115200, "the meter's optical port speed (default: the family's)"),
    ("KASKAD_RETRIES", INT, 2, 0, 5, "extra attempts of a failed exchange with the meter"),
    ("KASKAD_REPLY_TIMEOUT_MS", INT, 1000, 50, 5000, "how long to wait for the meter's reply to start"),
    ("KASKAD_BUTTON", PIN, "SWITCH", 1, 16, "board pin of the button (to ground)"),
    ("KASKAD_LED", PIN, "LED", 1, 16, "board pin of the status LED"),
    ("KASKAD_LOG", CHOICE, "info", 0, 0, "console detail: error, info or debug"),
)

_PREFIX = "KASKAD_"


class Settings:
    """The validated settings as attributes, named after the key without ``KASKAD_``."""

    meter: str
    meter_address: "int | None"
    poll_seconds: int
    max_age_seconds: int
    bindkey: "bytes | None"
    name: "str | None"
    adv_interval_ms: int
    adv_switch_ms: int
    uart_tx: str
    uart_rx: str
    baud: int
    retries: int
    reply_timeout_ms: int
    button: str
    led: str
    log: str

    bindkey_refused: bool
    file_fingerprints: "dict[str, int]"
    # No methods, so an instance holds nothing of this module (a method would hold its globals):
    # code.py forgets the module once the settings are loaded (kaskad.unload) and its 7 KB are
    # freed. The defaults are class attributes, set below from SCHEMA; ``load`` gives each
    # instance its own file_fingerprints.
    # the file holds a KASKAD_BINDKEY that cannot be used: withhold the readings (fail closed)
    bindkey_refused = False
    family = None  # the kaskad.meters family package KASKAD_METER names (set by load)


def address_needed(family):
    return family.ADDRESS_MIN is not None


def attribute(key):
    return key[len(_PREFIX):].lower()


for _row in SCHEMA:
    setattr(Settings, attribute(_row[0]), _row[2])
del _row


def spec(key):
    """The schema row of ``key``, or None."""
    for row in SCHEMA:
        if row[0] == key:
            return row
    return None


def fingerprint(raw):
    """A short fingerprint of a value as the file holds it (None: the key is absent)."""
    if raw is None:
        return 0
    text = ("i:%d" % raw) if type(raw) is int else ("s:" + str(raw))
    return binascii.crc32(text.encode()) & 0xFFFFFFFF


def load(read_setting, report, file_keys=(), store=None):
    """Read every key through ``read_setting``; apply the run-time overrides kept in ``store``.

    ``file_keys`` are the KASKAD_* names the file contains (to catch typos): a list, or the
    ``kaskad.settings_file.FileScan`` of the file, which also gives each value as the file wrote
    it (a rejected number is echoed as written, not as the board clamped it) and the keys the
    board cannot see. ``report(line)`` receives one line per rejected value, unknown key or
    dropped override.

    A ``KASKAD_BINDKEY`` the file holds but that cannot be used (malformed, unreadable, or unseen
    by the board) sets ``bindkey_refused``: the user asked for encryption, so the readings are
    withheld rather than sent in the clear, until the file or the owner gives a usable key.
    """
    settings = Settings()
    settings.file_fingerprints = {}  # key -> fingerprint of the file's value, for override precedence
    written = getattr(file_keys, "written", {})
    for row in SCHEMA:
        key = row[0]
        try:
            raw = read_setting(key)
        except Exception as error:  # the board raises on a value it cannot parse
            report("%s%s: settings.toml value cannot be read (%s); %s" % (
                key, _as_written(written, key), _reason(error), _instead(row)))
            raw = None
            if row[1] == KEY:
                settings.bindkey_refused = True
        settings.file_fingerprints[key] = fingerprint(raw)
        if type(raw) is int and _octal(written.get(key), raw):
            report("%s = %s: a number with a leading 0 is octal to the board (%d); drop the 0 if you "
                   "meant %s" % (key, written[key], raw, written[key].lstrip("+-0") or "0"))
        if raw is not None and not _apply(settings, row, raw, report, "", written.get(key)) and row[1] == KEY:
            settings.bindkey_refused = True
        if row[1] == FAMILY:
            settings.family = meters.load(settings.meter)
        elif row[1] == BAUD:
            _family_baud(settings, raw is not None, report)
    if "KASKAD_BINDKEY" in getattr(file_keys, "unseen", ()):
        settings.bindkey_refused = True
        report("KASKAD_BINDKEY is in settings.toml where the board cannot read it (see above); "
               + _instead(spec("KASKAD_BINDKEY")))
    for key in file_keys:
        if key.startswith(_PREFIX) and spec(key) is None:
            report("%s: unknown key in settings.toml (a typo?); known keys: %s" % (key, _closest(key)))
    if store is not None:
        _apply_overrides(settings, store, report)
    _check_together(settings, report)
    return settings


def _instead(row):
    """What the board does instead of a value it cannot use."""
    if row[1] == KEY:  # fail closed: the user asked for encryption
        return ("no readings are broadcast until it is fixed (in settings.toml, or by the owner "
                "over Bluetooth; \"\" for plain broadcasts)")
    return "using " + _shown(row[2])


def _as_written(written, key):
    text = written.get(key)
    return "" if text is None else " = " + text


def _octal(text, value):
    """Whether a number written with a leading 0 (C strtol: octal) means other than it looks."""
    if not text:
        return False
    digits = text[1:] if text[0] in "+-" else text
    if not (len(digits) > 1 and digits[0] == "0" and "0" <= digits[1] <= "9"):
        return False
    return _whole_number(text) != value


def _reason(error):
    """Why the board could not read a value, with what to do (its exceptions say little)."""
    if isinstance(error, UnicodeError):  # mp_obj_new_str_from_vstr: a quoted value not in UTF-8
        return "the text is not UTF-8: save the file as UTF-8"
    text = str(error) or type(error).__name__
    return text[:40] + ": text goes in double quotes, numbers bare"


def validate(key, raw, family=None):
    """(value, None) when ``raw`` is acceptable for ``key`` (the address: for ``family``, the
    default family if None), else (None, what is accepted)."""
    row = spec(key)
    if row is None:
        return None, "unknown key"
    if row[1] == ADDRESS and family is None:
        family = meters.load(DEFAULT_FAMILY)
    return _check(_for_family(row, family), raw)


def _for_family(row, family):
    """The row with an address's range and meaning taken from ``family``."""
    if row[1] != ADDRESS:
        return row
    return (row[0], ADDRESS, None, family.ADDRESS_MIN, family.ADDRESS_MAX,
            "%s: %s" % (family.NAME, family.ADDRESS_MEANS))


def _apply(settings, row, raw, report, origin, as_written=None):
    """Set one value; a rejected one is reported (as the file wrote it, when known) and False."""
    row = _for_family(row, settings.family)
    key, kind, default, lowest, highest, meaning = row
    shown = as_written if as_written and (type(raw) is int or type(raw) is bool) else repr(raw)
    value, problem = _check(row, raw)
    if problem is None:
        setattr(settings, attribute(key), value)
        return True
    if kind == ADDRESS and lowest is None:
        report("%s = %s%s ignored: a %s has no address (%s)" % (key, shown, origin, settings.family.NAME,
                                                              settings.family.ADDRESS_MEANS))
        return False
    report("%s = %s%s rejected: %s (%s); %s" % (key, shown, origin, problem, meaning, _instead(row)))
    return False


def _family_baud(settings, in_file, report):
    """KASKAD_BAUD left out: the family's rate. Set to another: used as set, and said."""
    family = settings.family
    if not in_file:
        settings.baud = family.BAUD
    elif settings.baud != family.BAUD:
        report("KASKAD_BAUD = %d is not the rate a %s talks (%d): using %d as set; leave KASKAD_BAUD "
               "out to use the family's" % (settings.baud, family.NAME, family.BAUD, settings.baud))


def _apply_overrides(settings, store, report):
    changed = False
    for key, value, file_print in list(store.overrides):
        row = spec(key)
        if row is None:
            report("%s: override from an older firmware is not a setting any more; dropped" % key)
        elif file_print != settings.file_fingerprints[key]:
            report("%s: settings.toml was edited after the Bluetooth override; the file wins" % key)
        elif _apply(settings, row, value, report, " (Bluetooth override)"):
            if row[1] == KEY and settings.bindkey_refused:
                settings.bindkey_refused = False  # the owner's key (or "no key") replaces the file's
                report("KASKAD_BINDKEY: the owner's choice over Bluetooth is used instead; readings "
                       "are broadcast")
            continue
        store.drop_override(key)
        changed = True
    if changed:
        store.commit()


def _check_together(settings, report):
    if settings.adv_switch_ms < settings.adv_interval_ms:
        report("KASKAD_ADV_SWITCH_MS = %d is shorter than KASKAD_ADV_INTERVAL_MS = %d: each packet must "
               "stay on air for at least one interval; using %d" % (
                   settings.adv_switch_ms, settings.adv_interval_ms, settings.adv_interval_ms))
        settings.adv_switch_ms = settings.adv_interval_ms


def _check(row, raw):
    kind, lowest, highest = row[1], row[3], row[4]
    if kind == FAMILY:
        if raw in meters.names():
            return raw, None
        return None, "expected one of: " + ", ".join(meters.names())
    if kind == ADDRESS:
        if lowest is None:
            return None, "this meter has no address"
        value = _whole_number(raw)
        if value is None or not lowest <= value <= highest:
            return None, "expected a whole number, %d..%d" % (lowest, highest)
        return value, None
    if kind == BAUD:
        value = _whole_number(raw)
        if value not in BAUD_RATES:
            return None, "expected one of the rates the board's UART makes: " + ", ".join(
                str(rate) for rate in BAUD_RATES)
        return value, None
    if kind == INT:
        value = _whole_number(raw)
        if value is None:
            return None, "expected a whole number, %d..%d" % (lowest, highest)
        if not lowest <= value <= highest:
            return None, "expected %d..%d" % (lowest, highest)
        return value, None
    if type(raw) is not str:
        return None, "expected text in double quotes"
    if kind == KEY:
        if raw == "":
            return None, None
        key = _hex_key(raw)
        if key is None:
            return None, "expected exactly 32 hex digits (0-9, a-f), or \"\" for no encryption"
        return key, None
    if kind == CHOICE:
        if raw in LOG_LEVELS:
            return raw, None
        return None, "expected one of: " + ", ".join(LOG_LEVELS)
    size = len(raw.encode())  # the radio carries bytes: a Cyrillic letter takes two
    if not lowest <= size <= highest:
        return None, "expected %d to %d bytes in UTF-8 (a Cyrillic letter takes 2), got %d" % (lowest, highest, size)
    return raw, None


def _whole_number(raw):
    if type(raw) is int:  # not bool: true/false are no numbers
        return raw
    if type(raw) is str:
        text = raw.strip()
        digits = text[1:] if text[:1] == "-" else text
        if digits and all("0" <= c <= "9" for c in digits):
            return int(text)
    return None


def _hex_key(text):
    if len(text) != 32:
        return None
    for c in text:
        if c not in "0123456789abcdefABCDEF":
            return None
    return binascii.unhexlify(text)


def _shown(value):
    if value is None:
        return "none"
    if type(value) is str:
        return '"%s"' % value
    return str(value)


def _closest(key):
    """The known keys sharing the most leading characters with ``key``, for a typo hint."""
    best = []
    best_len = -1
    for row in SCHEMA:
        known = row[0]
        n = 0
        while n < min(len(key), len(known)) and key[n] == known[n]:
            n += 1
        if n > best_len:
            best, best_len = [known], n
        elif n == best_len:
            best.append(known)
    return ", ".join(best)
