"""Test set-up: the firmware library, the CircuitPython stand-ins and the host tools on sys.path.

The stand-ins come first so that `import busio` or `import board` in a test finds the strict
host stand-in, never a CPython package of the same name.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("host", "lib", os.path.join("host", "circuitpython")):
    path = os.path.join(ROOT, sub)
    if path not in sys.path:
        sys.path.insert(0, path)

import _harness  # noqa: E402  (found through the paths above)
import pytest  # noqa: E402
from kaskad import console  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_board():
    """Every test starts on a freshly powered board: new clock, no wiring, no claimed pins, USB
    power present, CircuitPython 10.2.1."""
    _harness.set_usb_power(True)
    _harness.set_circuitpython(_harness.V10_2_1)
    _harness.reset()
    console.set_clock(None)  # code.py gives the console its clock; the next board has none yet
    yield
    _harness.set_usb_power(True)
    _harness.set_circuitpython(_harness.V10_2_1)
    _harness.reset()
    console.set_clock(None)
