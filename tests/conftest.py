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
