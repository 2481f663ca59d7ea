"""Energomera CE-102M: IEC 61107-style ASCII session at 9600 baud, 7E1 done on 8N1 in software,
Energomera's additive BCC (docs/protocols/ce-102m.md §3). Point to point: the meter has no address."""

from kaskad.meters.ce_102m.meter import Meter

NAME = "ce-102m"
BAUD = 9600
ADDRESS_MIN = None
ADDRESS_MAX = None
ADDRESS_MEANS = "nothing: the CE-102M is read point to point, leave the address unset"

__all__ = ["NAME", "BAUD", "ADDRESS_MIN", "ADDRESS_MAX", "ADDRESS_MEANS", "Meter"]
