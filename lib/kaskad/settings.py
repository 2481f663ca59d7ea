"""The settings a user edits in settings.toml, read through ``os.getenv``: one schema, one place.

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
        problem = _problem(kind, raw, lowest, highest)
        if problem is None:
            setattr(settings, attribute(key), raw)
        else:
            report("%s = %r rejected: %s (%s); using %r" % (key, raw, problem, meaning, default))
    return settings


def _problem(kind, raw, lowest, highest):
    if kind == INT:
        if type(raw) is not int:
            return "expected a whole number without quotes, %d..%d" % (lowest, highest)
        if not lowest <= raw <= highest:
            return "expected %d..%d" % (lowest, highest)
        return None
    if type(raw) is not str:
        return "expected text in double quotes"
    if not lowest <= len(raw) <= highest:
        return "expected %d to %d characters" % (lowest, highest)
    return None
