"""The simulated meter families by name: model class, the meter's line settings, its address.

The runner (`host/run.py --meter F`), the wire model and the pty server pick a family here, so a
family is added in one place. Line settings are the meter's own: the wire model builds its char
time from them (`wire.char_time_ns(baudrate, bits, parity, stop)`). CE-102M's 7E1 has 10 bits per
character like 8N1: a board that sends 8N1 with the parity bit computed in bit 7 is heard right,
and the models see each character as the 8 bits between start and stop bit.

| family        | model          | line      | address means                         |
|---------------|----------------|-----------|---------------------------------------|
| kaskad-1-mt   | SimMeter       | 9600 8N1  | display ID (MIRTEK address, 1..65534) |
| kaskad-11-c1  | SimKaskad11    | 2400 8N1  | display ID-xxxxx (1..65535)           |
| mercury-206   | SimMercury206  | 9600 8N1  | serial number (u32)                   |
| ce-102m       | SimCe102m      | 9600 7E1  | none                                  |
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ce_102m import SimCe102m
from .kaskad_11_c1 import SimKaskad11
from .mercury_206 import SimMercury206
from .meter import SimMeter

__all__ = ["MeterFamily", "FAMILIES", "DEFAULT_FAMILY", "family", "build_meter"]


@dataclass(frozen=True)
class MeterFamily:
    name: str
    model: type
    baudrate: int
    bits: int
    parity: str | None          # None or "even"
    stop: int
    address_keyword: str | None  # the model's constructor keyword for the address, None: no address
    default_address: int | None

    @property
    def line(self) -> str:
        """E.g. "9600 7E1"."""
        return f"{self.baudrate} {self.bits}{(self.parity or 'none')[0].upper()}{self.stop}"

    def wire_settings(self) -> dict[str, Any]:
        """Keyword arguments for `wire.SimWire` / `wire.char_time_ns`."""
        return {"baudrate": self.baudrate, "bits": self.bits, "parity": self.parity,
                "stop": self.stop}


FAMILIES: dict[str, MeterFamily] = {f.name: f for f in (
    MeterFamily("kaskad-1-mt", SimMeter, 9600, 8, None, 1, "address", 20109),
    MeterFamily("kaskad-11-c1", SimKaskad11, 2400, 8, None, 1, "address", 20109),
    MeterFamily("mercury-206", SimMercury206, 9600, 8, None, 1, "serial", 36896545),
    MeterFamily("ce-102m", SimCe102m, 9600, 7, "even", 1, None, None),
)}
DEFAULT_FAMILY = "kaskad-1-mt"


def family(name: str) -> MeterFamily:
    """The family called `name`; ValueError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown meter family {name!r}; known: {', '.join(FAMILIES)}") from None


def build_meter(name: str, address: int | None = None, **state: Any) -> Any:
    """A fresh model of family `name`, at `address` (the family's default if None), with `state`
    passed to its constructor. A family without an address refuses one."""
    fam = family(name)
    if fam.address_keyword is None:
        if address is not None:
            raise ValueError(f"{name} has no address")
        return fam.model(**state)
    return fam.model(**{fam.address_keyword: fam.default_address if address is None else address},
                     **state)
