"""The KASKAD-1-MT client in the shape the app, console and bthome still use: ``MeterClient``
owns its reading, which adds MIRTEK's generation and raw status bytes to kaskad.reading's.

The client itself is the family's (kaskad.meters.kaskad_1_mt.Meter); this module only names it
as before, for the modules that have not moved to kaskad.reading yet.
"""

from kaskad import reading as fields
from kaskad.meters.kaskad_1_mt import Meter
from kaskad.meters.kaskad_1_mt.frame import GEN_UNKNOWN

ENERGY_T1 = fields.ENERGY_T1  # Wh, T1..T4 at 0..3
TOTAL = fields.TOTAL  # Wh, sum of the tariffs in use
VOLTAGE = fields.VOLTAGE  # 0.01 V
CURRENT = fields.CURRENT  # mA
POWER = fields.POWER  # 0.01 W
BATTERY = fields.BATTERY  # %
FIELD_COUNT = 9  # the KASKAD-1-MT's fields: never apparent power
FIELD_NAMES = fields.FIELD_NAMES


class Reading(fields.Reading):
    """kaskad.reading.Reading with the meter's generation (frame.GEN_*) and status bytes A and B
    as the last valid reply sent them (None until one did)."""

    def _clear(self):
        fields.Reading._clear(self)
        self.generation = GEN_UNKNOWN
        self.flags_a = None
        self.flags_b = None


class MeterClient:
    """Polls one meter through the meters' link; reports each failed step through ``report(what)``."""

    def __init__(self, link, clock, address, report):
        self.link = link
        self.reading = Reading()
        self._meter = Meter(link, clock, address, report)
        self.address = address

    @property
    def progress(self):
        return self._meter.progress

    @progress.setter
    def progress(self, callback):
        self._meter.progress = callback  # called after each exchange, answered or not

    @property
    def address(self):
        return self._meter.address

    @address.setter
    def address(self, value):
        """A new address is a new meter: forget its values, identity and request forms."""
        self._meter.address = value
        self.reading.forget()
        self.reading.address = value

    def poll(self):
        """One cycle; returns True when every step succeeded. Never raises a reply error."""
        meter = self._meter
        reading = self.reading
        ok = meter.poll(reading)
        reading.generation = meter.generation
        reading.flags_a = meter.flags_a
        reading.flags_b = meter.flags_b
        return ok
