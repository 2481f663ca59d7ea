"""The application loop: poll the meter on a fixed schedule, keep both BTHome packets on air, and
say what happened.

The first poll runs right after start; later ones keep a fixed rate (a slow poll does not push
the schedule back). Between polls the loop sleeps until the next poll or packet switch, whichever
comes first. It survives every exception: one console line, a short back-off, and on.
"""

from kaskad import console, meter
from kaskad.link import OpticalLink

_ERROR_BACKOFF_MS = 1000
_PUBLISHED = tuple(range(meter.FIELD_COUNT))


class App:
    def __init__(self, settings, uart, clock, broadcaster=None, radio=None):
        self.settings = settings
        self.clock = clock
        self.broadcaster = broadcaster
        self.radio = radio
        self.link = OpticalLink(uart, clock, settings.baud, settings.reply_timeout_ms, retries=settings.retries)
        self.meter = None
        self.reading = meter.Reading()  # stays empty while no address is set
        if settings.meter_address is not None:
            self.meter = meter.MeterClient(self.link, clock, settings.meter_address, self._report)
            self.reading = self.meter.reading
        self.polls = 0

    def _report(self, what):
        console.error(self.clock.now_ms(), what)

    def poll_once(self):
        """One poll, its console line, and the packets brought up to date."""
        self.polls += 1
        now = self.clock.now_ms()
        if self.meter is None:
            console.error(now, "KASKAD_METER_ADDRESS is not set: put the ID shown on the meter's "
                               "display (1..65534) in settings.toml")
        else:
            self.meter.poll()
            console.reading(self.clock.now_ms(), self.reading, self.max_age_ms, _PUBLISHED)
        self.publish()

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

    def run(self):
        period_ms = self.settings.poll_seconds * 1000
        next_poll = self.clock.now_ms()
        while True:
            now = self.clock.now_ms()
            try:
                if now >= next_poll:
                    # the next slot on the fixed grid, moved on first so that a poll that fails
                    # (or overran) never makes the loop poll again at once
                    next_poll += period_ms * (1 + (now - next_poll) // period_ms)
                    self.poll_once()
                    now = self.clock.now_ms()
                if self.radio is not None and now >= self.radio.next_switch_ms:
                    self.publish()
                    self.radio.tick(self.clock.now_ms())
            except Exception as error:  # the loop must outlive every bug; the board has no one to restart it
                console.error(self.clock.now_ms(), "loop: %r" % (error,))
                self.clock.sleep_ms(_ERROR_BACKOFF_MS)
            wake = next_poll
            if self.radio is not None and self.radio.next_switch_ms < wake:
                wake = self.radio.next_switch_ms
            self.clock.sleep_ms(wake - self.clock.now_ms())
