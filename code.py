"""kaskad-ble on the Feather nRF52840 Express: read a KASKAD-1-MT over its optical port.

Builds the real hardware from settings.toml and runs the application; everything else lives in
lib/kaskad. The PC runner (host/run.py) boots this same file against a simulated meter.
"""

import os
import time

import _bleio
import board
import busio
import digitalio
import keypad
import microcontroller
import watchdog

try:  # CircuitPython 10.3+: typed values (os.getenv returns every value as text there)
    from supervisor import get_setting as read_setting
except ImportError:  # earlier versions: os.getenv returns bare integers as int
    from os import getenv as read_setting  # type: ignore[assignment]

from kaskad import VERSION, console, settings
from kaskad.app import App, default_name
from kaskad.bthome import Broadcaster, MemoryCounterStore
from kaskad.button import Button
from kaskad.clock import Clock, seconds
from kaskad.config import ClaimWindow, ConfigSession
from kaskad.led import Led
from kaskad.radio import Radio
from kaskad.store import CounterStore, Store

clock = Clock(time)
BOOT_RETRY_MS = 30000


def report(line):
    console.error(clock.now_ms(), line)


def note(line):
    console.info(clock.now_ms(), line)


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


def optional(what, make):
    """A part the device can live without (button, LED): a failure is reported, not fatal."""
    try:
        return make()
    except Exception as error:
        report("%s: not available (%r)" % (what, error))
        return None


def watchdog_ms(config):
    """Longer than the slowest healthy step: a poll whose every exchange times out on every try."""
    return 10000 + 10 * (config.retries + 1) * (config.reply_timeout_ms + 300)


def start_watchdog(config):
    dog = microcontroller.watchdog
    if dog is None:
        raise RuntimeError("this board has no watchdog")
    dog.timeout = seconds(watchdog_ms(config))
    dog.mode = watchdog.WatchDogMode.RESET
    return dog


def boot():
    store = Store(microcontroller.nvm, report) if microcontroller.nvm is not None else None
    config = settings.load(read_setting, report, file_keys(), store)
    # 256 bytes of receive buffer hold the echo of a request and the longest reply (89 bytes)
    # twice over, so no byte is lost while the loop is busy elsewhere.
    uart = busio.UART(pin(config.uart_tx, "TX"), pin(config.uart_rx, "RX"), baudrate=config.baud,
                      timeout=0, receiver_buffer_size=256)

    adapter = _bleio.adapter
    mac_display = bytes(reversed(adapter.address.address_bytes))  # the board gives it little-endian
    counters = CounterStore(store) if store is not None else MemoryCounterStore()
    broadcaster = Broadcaster(mac_display, default_name(config), config.bindkey, counters, report)
    radio = Radio(adapter, broadcaster, config.adv_interval_ms, config.adv_switch_ms, report)
    window = ClaimWindow(clock)
    window.open()  # the first 10 minutes after boot (a claim also needs a device without owner)
    keys = optional("button", lambda: keypad.Keys((pin(config.button, "SWITCH"),), value_when_pressed=False))
    led = optional("LED", lambda: Led(digitalio.DigitalInOut(pin(config.led, "LED")), clock.now_ms()))
    app = App(config, uart, clock, broadcaster, radio, window, store,
              Button(keys.events) if keys is not None else None, led,
              optional("watchdog", lambda: start_watchdog(config)), microcontroller.reset)
    if store is not None:
        attach_config_service(app, adapter, store, window, config)
    console.info(clock.now_ms(), "kaskad-ble %d.%d.%d: meter %s, poll every %d s, %s BTHome as %r" % (
        VERSION[0], VERSION[1], VERSION[2], config.meter_address, config.poll_seconds,
        "encrypted" if config.bindkey else "plain", default_name(config)))
    return app


def attach_config_service(app, adapter, store, window, config):
    from kaskad.gatt import ConfigPort, ConfigService

    def make_session(challenge):
        return ConfigSession(challenge, store, clock, window, config.file_fingerprints,
                             app.apply, app.act, note)

    app.attach_port(ConfigPort(adapter, ConfigService(), clock, make_session, app.describe, os.urandom,
                               app.on_connection, note))


try:
    application = boot()
except Exception as error:  # idle at the REPL would leave the meter unread until someone comes
    report("boot failed: %r; resetting in %d s" % (error, BOOT_RETRY_MS // 1000))
    clock.sleep_ms(BOOT_RETRY_MS)
    microcontroller.reset()
application.run()
