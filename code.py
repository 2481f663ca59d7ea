"""kaskad-ble on the Feather nRF52840 Express: read a KASKAD-1-MT over its optical port.

Builds the real hardware from settings.toml and runs the application; everything else lives in
lib/kaskad. The PC runner (host/run.py) boots this same file against a simulated meter.
"""

import time

import board
import busio
import microcontroller

try:  # CircuitPython 10.3+: typed values (os.getenv returns every value as text there)
    from supervisor import get_setting as read_setting
except ImportError:  # earlier versions: os.getenv returns bare integers as int
    from os import getenv as read_setting  # type: ignore[assignment]

from kaskad import console, settings
from kaskad.app import App
from kaskad.clock import Clock
from kaskad.store import Store

clock = Clock(time)


def report(line):
    console.error(clock.now_ms(), line)


def pin(name, default):
    """The board pin called ``name``; a name the board lacks is reported and the default used."""
    found = getattr(board, name, None)
    if found is None:
        report("pin %r does not exist on this board; using %s" % (name, default))
        found = getattr(board, default)
    return found


def file_keys():
    """The keys settings.toml defines, to catch misspelt ones (os.getenv cannot list them)."""
    try:
        with open("/settings.toml") as lines:
            return settings.keys_in_file(lines)
    except OSError:
        return ()


store = Store(microcontroller.nvm, report) if microcontroller.nvm is not None else None
config = settings.load(read_setting, report, file_keys(), store)
# 256 bytes of receive buffer hold the echo of a request and the longest reply (89 bytes) twice
# over, so no byte is lost while the loop is busy elsewhere.
uart = busio.UART(pin(config.uart_tx, "TX"), pin(config.uart_rx, "RX"), baudrate=config.baud,
                  timeout=0, receiver_buffer_size=256)
console.info(clock.now_ms(), "kaskad-ble: meter %s, poll every %d s" % (config.meter_address, config.poll_seconds))
App(config, uart, clock).run()
