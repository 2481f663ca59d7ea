"""Meter families behind one interface. This module imports no family: ``load`` imports the one
that settings.toml names, so the board holds one family's code.

A family is the package ``kaskad.meters.<module>`` (see FAMILIES). It exports:

  NAME           its name in settings.toml (``KASKAD_METER``), e.g. "mercury-206"
  BAUD           the line speed. The UART is always 8N1 (``bits=8, parity=None``): the nRF52840's
                 UARTE has 8 data bits only, so a 7E1 meter computes its parity bit in software
  ADDRESS_MIN, ADDRESS_MAX
                 the range of ``KASKAD_METER_ADDRESS``, both None for a meter that has no address
  ADDRESS_MEANS  what the address is, for the settings error ("the ID-xxxxx on the display")
  Meter          the read-only client, built as ``Meter(link, clock, address, report)``:
                   link     a ``kaskad.meters.link.ByteLink`` on the UART at BAUD
                   clock    the firmware clock (``now_ms``/``now_us``)
                   address  an int in ADDRESS_MIN..ADDRESS_MAX (None for a meter without one)
                   report   ``report(text)`` is called with one line per failed step
                 ``meter.poll(reading) -> bool``: one cycle; writes every value that passed all
                   checks into the kaskad.reading.Reading given (each stamped with the clock when
                   its reply arrived), its flags and, on the first poll, its identity; True when
                   every step succeeded. It never raises for anything the meter sends.
                 ``meter.identify(reading) -> bool``: serial number, date of manufacture, model,
                   as far as the family offers them (poll calls it once per meter).
                 ``meter.address``: assigning a new one starts over with a new meter (identity is
                   read again); forgetting the old meter's values is the owner's job
                   (``reading.forget()``), since the reading is the owner's.
                 ``meter.progress``: None, or a callable called after every exchange, answered or
                   not (a poll of a silent meter takes seconds: the owner feeds its watchdog),
                   as the MIRTEK client's always was.

Read-only by construction: each family has ONE allowlist in its ``frame`` module, and its request
encoder checks it before a byte exists to be written; a request outside it raises RefusedCommand.

Every deadline is in character times of the family's line (kaskad.meters.link), the optical echo
of a request is discarded, and a reply is searched for in the byte stream (garbage before it, a
torn frame, another command's reply are skipped), so a late or noisy byte never shifts a value.
"""

# (settings name, package under kaskad.meters); the first is the default.
FAMILIES = (
    ("kaskad-1-mt", "kaskad_1_mt"),
    ("kaskad-11-c1", "kaskad_11_c1"),
    ("mercury-206", "mercury_206"),
    ("ce-102m", "ce_102m"),
)


class RefusedCommand(ValueError):
    """A request this firmware must never send: not on the family's read-only allowlist."""


class ReplyError(Exception):
    """A reply that is not usable; ``what`` is one line saying why."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


class MeterRefused(ReplyError):
    """A well-formed reply in which the meter refuses the request (an error status)."""

    def __init__(self, what, code):
        super().__init__(what)
        self.code = code



def step(action, reading, name, report):
    """One step of a poll: True when ``action(reading)`` succeeded. A reply that is not usable is
    reported in one line ("name: why") and not raised, so one bad step never ends the poll."""
    try:
        action(reading)
        return True
    except ReplyError as error:
        report("%s: %s" % (name, error.what))
        return False


def names():
    return tuple(name for name, _ in FAMILIES)


def load(name):
    """The family package for a settings name; ValueError naming the accepted values otherwise."""
    for family, module in FAMILIES:
        if family == name:
            return __import__("kaskad.meters." + module, None, None, ("Meter",))
    raise ValueError("meter family %r is not one of %s" % (name, ", ".join(names())))
