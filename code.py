"""kaskad-ble on the Feather nRF52840 Express: read a KASKAD-1-MT over its optical port.

Builds the real hardware from settings.toml and runs the application; everything else lives in
lib/kaskad. The PC runner (host/run.py) boots this same file against a simulated meter.
"""

import time

import _bleio
import board
import busio
import microcontroller

try:  # CircuitPython 10.3+: typed values (os.getenv returns every value as text there)
    from supervisor import get_setting as read_setting
except ImportError:  # earlier versions: os.getenv returns bare integers as int
    from os import getenv as read_setting  # type: ignore[assignment]

from kaskad import console, settings
from kaskad.app import App
from kaskad.bthome import Broadcaster, MemoryCounterStore
from kaskad.clock import Clock
from kaskad.radio import Radio
from kaskad.store import CounterStore, Store

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

adapter = _bleio.adapter
mac_display = bytes(reversed(adapter.address.address_bytes))  # the board gives it little-endian
name = config.name or ("KASKAD %d" % config.meter_address if config.meter_address else "KASKAD")
counters = CounterStore(store) if store is not None else MemoryCounterStore()
broadcaster = Broadcaster(mac_display, name, config.bindkey, counters, report)
radio = Radio(adapter, broadcaster, config.adv_interval_ms, config.adv_switch_ms, report)
console.info(clock.now_ms(), "kaskad-ble: meter %s, poll every %d s, %s BTHome as %r" % (
    config.meter_address, config.poll_seconds, "encrypted" if config.bindkey else "plain", name))
App(config, uart, clock, broadcaster, radio).run()
