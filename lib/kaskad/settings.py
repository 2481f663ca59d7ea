"""The settings a user edits in settings.toml: one schema, one place.

code.py reads them with ``supervisor.get_setting`` where the board has it (CircuitPython 10.3+,
typed values) and ``os.getenv`` elsewhere; since 10.3 ``os.getenv`` returns every value as text,
and before that bare integers came back as int, so a number is accepted as an int or as the
decimal text of one.

Each key has a type, a default, an accepted range and a meaning. A missing key takes its default;
a wrong one produces one console line naming the key, the value and what is accepted, and the
default is used instead, so a typo never stops the board.
"""

INT = 0
PIN = 1  # a board pin name, as text: "TX"
TEXT = 2

# (key, kind, default, lowest, highest, meaning). For TEXT/PIN lowest/highest bound the length.
SCHEMA = (
    ("KASKAD_METER_ADDRESS", INT, None, 1, 65534, "the ID on the meter's display"),
    ("KASKAD_POLL_SECONDS", INT, 60, 5, 86400, "seconds between two polls of the meter"),
    ("KASKAD_MAX_AGE_SECONDS", INT, 300, 10, 604800, "a value older than this is no longer published"),
    ("KASKAD_UART_TX", PIN, "TX", 1, 16, "board pin wired to the optical head's transmitter input"),
    ("KASKAD_UART_RX", PIN, "RX", 1, 16, "board pin wired to the optical head's receiver output"),
    ("KASKAD_BAUD", INT, 9600, 300, 115200, "the meter's optical port speed (8N1)"),
    ("KASKAD_RETRIES", INT, 2, 0, 5, "extra attempts of a failed exchange"),
    ("KASKAD_REPLY_TIMEOUT_MS", INT, 1000, 50, 5000, "how long to wait for a reply to start"),
)


class Settings:
    """The validated settings as attributes, named after the key without ``KASKAD_``."""

    meter_address: "int | None"
    poll_seconds: int
    max_age_seconds: int
    uart_tx: str
    uart_rx: str
    baud: int
    retries: int
    reply_timeout_ms: int

    def __init__(self):
        for key, _, default, _, _, _ in SCHEMA:
            setattr(self, attribute(key), default)


def attribute(key):
    return key[len("KASKAD_"):].lower()


def load(getenv, report):
    """Read every key through ``getenv``; ``report(line)`` receives one line per rejected value."""
    settings = Settings()
    for key, kind, default, lowest, highest, meaning in SCHEMA:
        try:
            raw = getenv(key)
        except Exception as error:  # the board raises on a value it cannot parse
            report("%s: cannot be read (%s); using %r" % (key, error, default))
            continue
        if raw is None:
            continue
        value, problem = _check(kind, raw, lowest, highest)
        if problem is None:
            setattr(settings, attribute(key), value)
        else:
            report("%s = %r rejected: %s (%s); using %r" % (key, raw, problem, meaning, default))
    return settings


def _check(kind, raw, lowest, highest):
    """(value, None) when raw is acceptable for this kind and range, else (None, what is wrong)."""
    if kind == INT:
        value = _whole_number(raw)
        if value is None:
            return None, "expected a whole number, %d..%d" % (lowest, highest)
        if not lowest <= value <= highest:
            return None, "expected %d..%d" % (lowest, highest)
        return value, None
    if type(raw) is not str:
        return None, "expected text in double quotes"
    if not lowest <= len(raw) <= highest:
        return None, "expected %d to %d characters" % (lowest, highest)
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
