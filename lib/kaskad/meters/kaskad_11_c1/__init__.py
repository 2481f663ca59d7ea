"""KASKAD-11-C1: binary frames with an additive checksum at 2400 baud 8N1 (docs/protocols/kaskad-11-c1.md §1)."""

from kaskad.meters.kaskad_11_c1.frame import ADDRESS_MAX, ADDRESS_MIN
from kaskad.meters.kaskad_11_c1.meter import Meter

NAME = "kaskad-11-c1"
BAUD = 2400
ADDRESS_MEANS = "the number shown as ID-xxxxx on the meter's display"

__all__ = ["NAME", "BAUD", "ADDRESS_MIN", "ADDRESS_MAX", "ADDRESS_MEANS", "Meter"]
