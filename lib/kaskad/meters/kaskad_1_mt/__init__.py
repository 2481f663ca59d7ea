"""KASKAD-1-MT: MIRTEK frames with CRC8 and byte stuffing at 9600 baud 8N1 (mirtek.md)."""

from kaskad.meters.kaskad_1_mt.frame import LAST_METER_ADDRESS as ADDRESS_MAX
from kaskad.meters.kaskad_1_mt.meter import Meter

NAME = "kaskad-1-mt"
BAUD = 9600
ADDRESS_MIN = 1
ADDRESS_MEANS = "the ID-xxxxx on the meter's display"

__all__ = ["NAME", "BAUD", "ADDRESS_MIN", "ADDRESS_MAX", "ADDRESS_MEANS", "Meter"]
