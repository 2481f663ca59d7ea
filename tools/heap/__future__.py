"""``__future__`` for the heap probe's VMs: built into CircuitPython (shared-bindings/__future__),
absent from MicroPython; the real adafruit_ble starts with ``from __future__ import annotations``."""
annotations = None
