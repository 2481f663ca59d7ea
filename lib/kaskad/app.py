"""The application loop: poll the meter on a fixed schedule, keep both BTHome packets on air,
serve the owner's configuration connection, read the button, drive the LED, and say what
happened.

The first poll runs right after start; later ones keep a fixed rate (a slow poll does not push
the schedule back); a short button press or the owner's POLL_NOW asks for one at once. Between
steps the loop sleeps until the next poll or packet switch, and at most ``TICK_MS`` (``BUSY_MS``
while a central is connected), so the button, the LED and the connection are looked at often.

Every stage of a step runs under its own ``try``: an exception costs one console line and a
back-off, never the loop, and never the other stages. The watchdog is fed after a step in which
every stage succeeded, and after each exchange with the meter (a poll of a meter that stops
answering half way can take minutes with long reply timeouts and many retries, and the board's
watchdog period cannot follow the settings: see code.py); after ``MAX_FAILED_STEPS`` failing
steps in a row the loop resets the board itself (a hang, which no exception reveals, is the
watchdog's).
"""

from kaskad import button as button_events
from kaskad import VERSION, config, console, led as led_modes
from kaskad.bthome import CHANGED_A, CHANGED_B
from kaskad.clock import ticks_add, ticks_diff
from kaskad.reading import FIELD_COUNT, Reading

_ERROR_BACKOFF_MS = 1000
REBOOT_DELAY_MS = 500  # a reboot asked over the air waits for its response to leave
MAX_FAILED_STEPS = 10
TICK_MS = 50
BUSY_MS = 20
_PUBLISHED = tuple(range(FIELD_COUNT))

# last poll result, as the public status shows it
POLL_NONE = 0
POLL_OK = 1
POLL_FAILED = 2


class App:
    """The loop, given its parts by code.py (it builds none of them).

    ``meter``: the family's Meter (kaskad.meters; ``settings.family`` is its package), or None
    while the family needs an address and none is set; ``make_meter(address)`` then builds one
    when the owner sets the address. The App owns the one kaskad.reading.Reading that the meter
    writes and every publisher reads. The other parts are whatever the board has, each optional:
    broadcaster, radio, port (gatt.ConfigPort, attached later with ``attach_port``), window
    (config.ClaimWindow), store (store.Store), button (button.Button), led (led.Led), watchdog
    (microcontroller.watchdog), reset (a function that resets the board)."""

    def __init__(self, settings, meter, clock, broadcaster=None, radio=None, window=None, store=None,
                 button=None, led=None, watchdog=None, reset=None, make_meter=None):
        self.settings = settings
        self.clock = clock
        self.broadcaster = broadcaster
        self.radio = radio
        self.port = None
        self.window = window
        self.store = store
        self.button = button
        self.led = led
        self.watchdog = watchdog
        self._reset = reset
        self.on_good_poll = None  # called after each poll the meter answered in full, until it returns True
        self._make_meter = make_meter
        self.reading = Reading()  # stays empty while no meter answers
        self.reading.family = settings.family.NAME
        self.reading.address = settings.meter_address
        self.meter = None
        if meter is not None:
            self._use_meter(meter)
        self.polls = 0
        self.last_poll = POLL_NONE
        self.last_ok_ms = None  # uptime (not ticks, which wrap) when the meter last answered a whole poll
        self.failed_steps = 0
        self.next_poll_ms = clock.now_ms()
        self._poll_asked = False
        self._reboot_at = None
        self._stage_names = ("button", "poll", "radio", "config", "led")
        self._stages = (self._button_stage, self._poll_stage, self._radio_stage, self._config_stage,
                        self._led_stage)

    def attach_port(self, port):
        self.port = port

    def _report(self, what):
        console.error(self.clock.now_ms(), what)

    def _use_meter(self, meter):
        self.meter = meter
        meter.progress = self._feed

    def _feed(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    # --- the loop ------------------------------------------------------------------------------
    def run(self):
        while True:
            self.step()
            self.clock.sleep_ms(self.wait_ms())

    def step(self):
        """Every stage once; feeds the watchdog when all of them succeeded."""
        failed = False
        for i in range(len(self._stages)):
            try:
                self._stages[i]()
            except Exception as error:  # the loop must outlive every bug; the board has no one to restart it
                failed = True
                console.error(self.clock.now_ms(), "loop: %s: %r" % (self._stage_names[i], error))
        if not failed:
            self.failed_steps = 0
            if self.watchdog is not None:
                self.watchdog.feed()
            return
        self.failed_steps += 1
        if self.failed_steps >= MAX_FAILED_STEPS and self._reset is not None:
            console.error(self.clock.now_ms(), "loop: %d failing steps in a row; resetting the board"
                          % self.failed_steps)
            self._reset()
        self.clock.sleep_ms(_ERROR_BACKOFF_MS)

    def wait_ms(self):
        """How long to sleep before the next step is due (ms, <= 0: at once)."""
        now = self.clock.now_ms()
        wait = BUSY_MS if self.port is not None and self.port.busy else TICK_MS
        poll_in = ticks_diff(self.next_poll_ms, now)
        if poll_in < wait:
            wait = poll_in
        if self.radio is not None:
            switch_in = self.radio.ms_to_switch(now)
            if switch_in < wait:
                wait = switch_in
        return wait

    # --- the stages ----------------------------------------------------------------------------
    def _button_stage(self):
        if self.button is None:
            return
        pressed = self.button.poll(self.clock.now_ms())
        if pressed == button_events.SHORT:
            console.info(self.clock.now_ms(), "button: poll now")
            self.poll_soon()
        elif pressed == button_events.LONG:
            self.forget_owners()

    def _poll_stage(self):
        late = ticks_diff(self.clock.now_ms(), self.next_poll_ms)
        if late < 0 and not self._poll_asked:
            return
        self._poll_asked = False
        # the next slot on the fixed grid, moved on first so that a poll that fails (or overran)
        # never makes the loop poll again at once
        period_ms = self.settings.poll_seconds * 1000
        if late >= 0:
            self.next_poll_ms = ticks_add(self.next_poll_ms, period_ms * (1 + late // period_ms))
        self.poll_once()

    def _radio_stage(self):
        radio = self.radio
        if radio is None:
            return
        now = self.clock.now_ms()
        if radio.due(now):
            self.publish()
            radio.tick(self.clock.now_ms())
        else:
            radio.keep_on_air(now)

    def _config_stage(self):
        if self.port is not None:
            self.port.tick(self.clock.now_ms())
        if self.window is not None:
            self.window.is_open()  # an expired window closes for good (ticks wrap after 6.2 days)
        if (self._reboot_at is not None and ticks_diff(self.clock.now_ms(), self._reboot_at) >= 0
                and self._reset is not None):
            console.info(self.clock.now_ms(), "config: rebooting as the owner asked")
            self._reset()

    def _led_stage(self):
        led = self.led
        if led is None:
            return
        now = self.clock.now_ms()
        if self.meter is None:
            mode = led_modes.NO_SETTINGS
        elif self.settings.bindkey_refused:
            mode = led_modes.KEY_REFUSED
        elif self.window is not None and self.window.is_open() and self.store is not None and not self.store.owners:
            mode = led_modes.CLAIM
        elif self.last_poll == POLL_OK:
            mode = led_modes.OK
        else:
            mode = led_modes.NO_METER
        led.set_mode(mode, now)
        led.update(now)

    # --- polling and publishing ----------------------------------------------------------------
    def poll_soon(self):
        """Poll at the next step (the fixed schedule stays as it is)."""
        self._poll_asked = True

    def poll_once(self):
        """One poll, its console line, and the packets brought up to date."""
        self.polls += 1
        now = self.clock.now_ms()
        if self.meter is None:
            family = self.settings.family
            console.error(now, "KASKAD_METER_ADDRESS is not set: put %s (%d..%d) in settings.toml" % (
                family.ADDRESS_MEANS, family.ADDRESS_MIN, family.ADDRESS_MAX))
        else:
            ok = self.meter.poll(self.reading)
            self.last_poll = POLL_OK if ok else POLL_FAILED
            if ok:
                self.last_ok_ms = self.clock.uptime_ms()  # one long int a poll: for the owner's METER only
            console.reading(self.clock.now_ms(), self.reading, self.max_age_ms, _PUBLISHED)
            if ok and self.led is not None:
                self.led.flash(self.clock.now_ms())
            if ok and self.on_good_poll is not None and self.on_good_poll():
                self.on_good_poll = None
        self.publish()
        if self.port is not None:
            self.port.refresh()

    @property
    def max_age_ms(self):
        return self.settings.max_age_seconds * 1000

    def publish(self):
        """Rebuild the packets from the reading (values also go stale with time alone)."""
        if self.broadcaster is None:
            return
        now = self.clock.now_ms()
        changed = self.broadcaster.update(self.reading, now, self.max_age_ms)
        if changed and self.radio is not None:
            self.radio.changed(changed, now)

    # --- what the configuration port asks of the device ------------------------------------------
    def describe(self, challenge):
        """The public status (kaskad.config.status) with this connection's challenge."""
        store = self.store
        owned = store is not None and bool(store.owners)
        claimable = self.window is not None and self.window.is_open() and not owned
        encrypted = self.broadcaster is not None and self.broadcaster.encrypted
        reading = self.reading
        return config.status(challenge, VERSION, owned, encrypted, claimable, self.settings.meter_address,
                             0, self.settings.poll_seconds, self.last_poll,
                             reading.serial, reading.made, self.settings.bindkey_refused)

    def on_connection(self, is_open):
        """A configuration connection opened or closed: connectable only while none is open."""
        if self.radio is not None:
            self.radio.set_connectable(not is_open, self.clock.now_ms())

    # --- what the owner and the button change --------------------------------------------------
    def forget_owners(self):
        """A long press: every owner forgotten, the claim window open (settings stay)."""
        now = self.clock.now_ms()
        if self.store is not None:
            self.store.forget_owners()
            self.store.commit()
        if self.window is not None:
            self.window.open()
        console.info(now, "button: long press: owners forgotten; the claim window is open for %d minutes"
                      % (config.CLAIM_WINDOW_MS // 60000))
        if self.port is not None:
            self.port.end("the owners were forgotten")
            self.port.refresh()

    def act(self, code):
        """An owner's POLL_NOW, REBOOT or FACTORY_RESET (kaskad.config.ACT_*)."""
        if code == config.ACT_POLL_NOW:
            self.poll_soon()
        elif code == config.ACT_REBOOT or code == config.ACT_FACTORY_RESET:
            # after the response has been notified; a factory reset reboots so every setting
            # comes from settings.toml again
            self._reboot_at = ticks_add(self.clock.now_ms(), REBOOT_DELAY_MS)

    def meter_state(self):
        """The owner's METER answer (docs/owner-protocol.md): last poll result, seconds since the
        meter last answered (0xFFFFFFFF: not since boot), its status flag bytes A and B, and
        whether those come from a valid reply (1) or none was read yet (0): the flags by meaning
        in format 1's layout (config.METER_FLAG_BITS)."""
        out = bytearray(8)
        out[0] = self.last_poll
        if self.last_ok_ms is None:
            out[1:5] = b"\xff\xff\xff\xff"
        else:
            age_s = (self.clock.uptime_ms() - self.last_ok_ms) // 1000
            for i in range(4):
                out[1 + i] = age_s >> (8 * i) & 0xFF
        reading = self.reading
        if reading.flags_ms is not None:
            a, b, valid = config.meter_flag_bytes(reading.flag_bits, reading.flags_known)
            if valid:
                out[5] = a
                out[6] = b
                out[7] = 1
        return bytes(out)

    def apply(self, key, value):
        """An owner changed a setting (already validated and kept in NVM): in force now."""
        settings = self.settings
        now = self.clock.now_ms()
        if key == "KASKAD_METER_ADDRESS":
            settings.meter_address = value
            self.reading.forget()  # the values, flags and identity were another meter's
            self.reading.address = value
            if self.meter is not None:
                self.meter.address = value
            elif self._make_meter is not None:
                self._use_meter(self._make_meter(value))
            self.last_poll = POLL_NONE
            if not settings.name and self.broadcaster is not None:
                self.broadcaster.set_name(default_name(settings))
            self.poll_soon()
        elif key == "KASKAD_POLL_SECONDS":
            settings.poll_seconds = value
            if ticks_diff(self.next_poll_ms, now) > value * 1000:
                self.next_poll_ms = ticks_add(now, value * 1000)
        elif key == "KASKAD_BINDKEY":
            settings.bindkey = value
            settings.bindkey_refused = False  # the owner chose: this key, or none
            if self.broadcaster is not None:
                self.broadcaster.set_bindkey(value)
                self.broadcaster.withhold(False)
        elif key == "KASKAD_NAME":
            settings.name = value
            if self.broadcaster is not None:
                self.broadcaster.set_name(default_name(settings))
        elif key == "KASKAD_ADV_INTERVAL_MS":
            settings.adv_interval_ms = value
        elif key == "KASKAD_ADV_SWITCH_MS":
            settings.adv_switch_ms = value
            if self.radio is not None:
                self.radio.set_timing(settings.adv_interval_ms, value, now)
            return
        if self.radio is not None and key in ("KASKAD_BINDKEY", "KASKAD_NAME", "KASKAD_METER_ADDRESS"):
            self.publish()
            self.radio.changed(CHANGED_A | CHANGED_B, now)  # the one on air goes out again now


def default_name(settings):
    """The name in the scan response: KASKAD_NAME, else "KASKAD <meter address>"."""
    if settings.name:
        return settings.name
    return "KASKAD %d" % settings.meter_address if settings.meter_address else "KASKAD"
