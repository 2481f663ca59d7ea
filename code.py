"""kaskad-ble on the Feather nRF52840 Express: read an electricity meter over its optical port.

Builds the device from settings.toml: the UART and the link at the meter family's speed, the one
family's Meter that KASKAD_METER names (kaskad.meters: only that family is imported), the
publishers, and the application that is given them; everything else lives in lib/kaskad. The PC runner (host/run.py) boots this same file against a simulated meter.
"""

import os
import time

import _bleio
import alarm
import board
import busio
import digitalio
import keypad
import microcontroller
import supervisor
import watchdog

try:  # CircuitPython 10.2.0+: typed values (since 10.3 os.getenv returns every value as text)
    from supervisor import get_setting as read_setting
except ImportError:  # earlier versions: os.getenv returns bare integers as int
    from os import getenv as read_setting  # type: ignore[assignment]

from kaskad import VERSION, console, restarts, unload
from kaskad.app import App, default_name
from kaskad.bthome import Broadcaster, MemoryCounterStore
from kaskad.button import Button
from kaskad.clock import Clock, seconds
from kaskad.config import ClaimWindow
from kaskad.led import Led
from kaskad.meters.link import ByteLink
from kaskad.radio import Radio
from kaskad.store import CounterStore, Store

clock = Clock(time, supervisor.ticks_ms)
console.set_clock(clock)
BOOT_RETRY_MS = 30000
# The hardware watchdog's period, the same whatever the settings: once started, the nRF52840's
# WDT cannot be stopped or re-timed until it bites or the power goes (a reload or
# microcontroller.reset() leaves it running with its first period), so a period derived from
# settings would be wrong after an edit. The loop feeds it after every meter exchange; the longest
# exchange the settings allow is 6 tries x (5 s reply timeout + 0.3 s) = 31.8 s.
WATCHDOG_MS = 40000
FEED_EVERY_MS = 1000  # while code.py waits outside the loop


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
    """What the board's reader sees in settings.toml (os.getenv cannot list keys): read as bytes,
    as the board reads it, so a file in another encoding still boots (kaskad.settings_file)."""
    from kaskad import settings_file

    try:
        with open("/settings.toml", "rb") as raw:
            return settings_file.scan(raw, report)
    except OSError:
        note("no settings.toml on the drive: every setting takes its default")
        return ()
    finally:
        unload.forget("kaskad.settings_file")  # boot only: its 4.5 KB are freed once settings are loaded


def optional(what, make):
    """A part the device can live without (button, LED): a failure is reported, not fatal."""
    try:
        return make()
    except Exception as error:
        report("%s: not available (%r)" % (what, error))
        return None


def start_watchdog():
    """The watchdog in RESET mode, fed; the one already running if it survived a reload or reset.

    RESET, not RAISE (ports/nordic/common-hal/watchdog/WatchDogTimer.c): RAISE is a TIMER
    interrupt that only sets a pending WatchDogTimeout, an ``Exception`` that the VM raises when
    it next runs bytecode; it cannot end a hang inside C (a driver call that never returns), and
    it is one-shot (the mode falls back to None). RESET is the hardware WDT: it resets the chip
    whatever hangs. Its costs are handled here and in main(): it cannot be stopped, its timeout
    cannot be changed once running (WatchDogTimer.c:105 raises), and 10.2.x crashes into safe
    mode if a run ends while it runs, unless the run ends with an ordinary exception.
    """
    dog = microcontroller.watchdog
    if dog is None:
        raise RuntimeError("this board has no watchdog")
    if dog.mode is not watchdog.WatchDogMode.RESET:  # None after power-on or any reset
        dog.timeout = seconds(WATCHDOG_MS)  # a WDT still running from before keeps its period
        dog.mode = watchdog.WatchDogMode.RESET
    dog.feed()
    return dog


def wait_fed(ms, dog):
    """Sleep ``ms`` without letting the watchdog bite (it may run from an earlier run)."""
    while ms > 0:
        step = FEED_EVERY_MS if ms > FEED_EVERY_MS else ms
        clock.sleep_ms(step)
        ms -= step
        if dog is not None:
            dog.feed()


def boot():
    store = Store(microcontroller.nvm, report) if microcontroller.nvm is not None else None
    from kaskad import settings

    config = settings.load(read_setting, report, file_keys(), store)
    unload.forget("kaskad.settings")  # its tables and checks: again when a central connects (kaskad.session)
    # 256 bytes of receive buffer hold the echo of a request and the longest reply (89 bytes)
    # twice over, so no byte is lost while the loop is busy elsewhere. Always 8N1: a 7E1 family
    # computes its parity bit in software (kaskad.meters).
    uart = busio.UART(pin(config.uart_tx, "TX"), pin(config.uart_rx, "RX"), baudrate=config.baud,
                      timeout=0, receiver_buffer_size=256)
    family = config.family
    link = ByteLink(uart, clock, config.baud, config.reply_timeout_ms, retries=config.retries)

    def make_meter(address):
        return family.Meter(link, clock, address, report)

    adapter = _bleio.adapter
    mac_display = bytes(reversed(adapter.address.address_bytes))  # the board gives it little-endian
    counters = CounterStore(store) if store is not None else MemoryCounterStore()
    broadcaster = Broadcaster(mac_display, default_name(config), config.bindkey, counters, report)
    broadcaster.withhold(config.bindkey_refused)  # never in the clear when a key was asked for
    radio = Radio(adapter, broadcaster, config.adv_interval_ms, config.adv_switch_ms, report)
    window = ClaimWindow(clock)
    window.open()  # the first 10 minutes after boot (a claim also needs a device without owner)
    keys = optional("button", lambda: keypad.Keys((pin(config.button, "SWITCH"),), value_when_pressed=False))
    led = optional("LED", lambda: Led(digitalio.DigitalInOut(pin(config.led, "LED")), clock.now_ms()))
    needs_address = family.ADDRESS_MIN is not None  # a CE-102M has none
    meter = make_meter(config.meter_address) if config.meter_address is not None or not needs_address else None
    app = App(config, meter, clock, broadcaster, radio, window, store,
              Button(keys.events) if keys is not None else None, led,
              optional("watchdog", start_watchdog), microcontroller.reset, make_meter)
    app.on_good_poll = restart_counter_clearer(clock.uptime_ms())
    if store is not None:
        attach_config_service(app, adapter, store, window, config)
    console.info(clock.now_ms(), "kaskad-ble %d.%d.%d: %s meter %s at %d Bd, poll every %d s, %s BTHome as %r" % (
        VERSION[0], VERSION[1], VERSION[2], family.NAME, config.meter_address if needs_address else "(no address)",
        config.baud, config.poll_seconds,
        "withholding (KASKAD_BINDKEY cannot be used)" if config.bindkey_refused else "encrypted" if config.bindkey else "plain",
        default_name(config)))
    return app


def restart_counter_clearer(started_ms):
    """What the app calls after each good reading: ends a run of restarts once it came long
    enough after the start (kaskad.restarts)."""
    def good_poll():
        if clock.uptime_ms() - started_ms < restarts.HEALTHY_MS:  # uptime: ticks wrap at 65 s
            return False
        restarts.clear(alarm.sleep_memory)
        return True
    return good_poll


def attach_config_service(app, adapter, store, window, config):
    from kaskad.gatt import ConfigPort, ConfigService

    def make_session(challenge):
        from kaskad.session import ConfigSession  # only while a central is connected (it imports settings)

        return ConfigSession(challenge, store, clock, window, config.file_fingerprints,
                             app.apply, app.act, note, app.meter_state, config.family)

    def on_connection(opened):
        app.on_connection(opened)
        if not opened:  # the session is gone: free what make_session imported until the next one
            unload.forget("kaskad.session")
            unload.forget("kaskad.settings")

    app.attach_port(ConfigPort(adapter, ConfigService(), clock, make_session, app.describe, os.urandom,
                               on_connection, note))


class Stopped(Exception):
    """How code.py ends when the supervisor stops it (a reload, Ctrl-C): see main()."""


def start():
    """Wait first if the board keeps restarting (kaskad.restarts), then build the device; a boot
    that fails is retried by a reset after BOOT_RETRY_MS, the watchdog fed all along."""
    if supervisor.runtime.run_reason is supervisor.RunReason.STARTUP:  # a reset; a reload is someone's doing
        n = restarts.note(alarm.sleep_memory)
        wait_ms = restarts.backoff_ms(n)
        if wait_ms:
            report("restart %d in a row without a good reading: waiting %d s first" % (n, wait_ms // 1000))
            wait_fed(wait_ms, optional("watchdog", start_watchdog))
    try:
        return boot()
    except Exception as error:  # idle at the REPL would leave the meter unread until someone comes
        report("boot failed: %r; resetting in %d s" % (error, BOOT_RETRY_MS // 1000))
        wait_fed(BOOT_RETRY_MS, optional("watchdog", start_watchdog))
        microcontroller.reset()


def main():
    """Run the device; a stop by the supervisor ends code.py with ``Stopped``.

    CircuitPython 10.2.x ends every run with watchdog_reset() (shared-module/watchdog/__init__.c):
    when the run ended normally, by Ctrl-C (KeyboardInterrupt) or by a reload (ReloadException),
    it deinits a RESET watchdog, which raises with no handler (WatchDogTimer.c:79) and crashes
    the board into safe mode; any other exception leaves the watchdog running. So code.py turns
    those two into ``Stopped``: a reload then starts code.py again, and Ctrl-C leaves the person
    at the console with "Press any key to enter the REPL", without a crash. The watchdog keeps
    counting (it cannot be stopped): it resets the board WATCHDOG_MS after the last feed.
    """
    try:
        start().run()
    except KeyboardInterrupt:
        raise Stopped("Ctrl-C: the loop stopped. The watchdog cannot be stopped: it resets the board"
                      " within %d s (microcontroller.watchdog.feed() gives %d s more); Ctrl-D"
                      " restarts code.py now" % (WATCHDOG_MS // 1000, WATCHDOG_MS // 1000))
    except BaseException as stop:
        if type(stop).__name__ == "ReloadException":  # no built-in name on the board
            raise Stopped("reloading: a file on the drive changed")
        raise


main()
