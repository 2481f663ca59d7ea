"""Mercury-206: binary frames with CRC-16/MODBUS at 9600 baud 8N1 (docs/protocols/mercury-206.md §2)."""

from kaskad.meters.mercury_206.frame import ADDRESS_MAX, ADDRESS_MIN
from kaskad.meters.mercury_206.meter import Meter

NAME = "mercury-206"
BAUD = 9600
ADDRESS_MEANS = "the meter's serial number, as printed on it"

__all__ = ["NAME", "BAUD", "ADDRESS_MIN", "ADDRESS_MAX", "ADDRESS_MEANS", "Meter"]
