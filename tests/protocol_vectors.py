"""The protocol documents' test vectors: docs/protocols/vectors/<family>.json is the one place they
are written. The tests of a family's driver (lib/kaskad) and of its independent simulated meter
(host/kaskad_sim) both read them from here, so a vector is checked on both sides or not at all.

Hex is written as on the wire, space separated; 'decoded' values are exact decimal strings.
"""

import json
import os
from decimal import Decimal

VECTORS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "protocols", "vectors")
FAMILIES = ("kaskad-1-mt", "kaskad-11-c1", "mercury-206", "ce-102m")


def load(name):
    """The vectors of one family (or of ``bthome``), as the JSON holds them."""
    with open(os.path.join(VECTORS, name + ".json"), encoding="utf-8") as source:
        return json.load(source)


def wire(text):
    """'73 55 20' -> b'\\x73\\x55\\x20'."""
    return bytes.fromhex(text)


def scaled(text, unit):
    """An exact decimal string in SI units, as an integer count of ``unit`` (e.g. "229.87" V in
    0.01 V -> 22987); a value that is not a whole number of units is an error, never rounded."""
    value = Decimal(text) / Decimal(unit)
    if value != value.to_integral_value():
        raise ValueError("%s is not a whole number of %s" % (text, unit))
    return int(value)


def requests(name):
    return load(name)["requests"]


def reply(name, reply_name):
    """The reply vector whose name starts with ``reply_name``."""
    found = [r for r in load(name)["replies"] if r["name"].startswith(reply_name)]
    if len(found) != 1:
        raise KeyError("%s: %d replies named %r" % (name, len(found), reply_name))
    return found[0]
