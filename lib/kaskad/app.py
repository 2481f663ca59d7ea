"""The application loop: poll the meter on a fixed schedule and say what happened.

The first poll runs right after start; later ones keep a fixed rate (a slow poll does not push
the schedule back). The loop survives every exception: one console line, a short back-off, and on.
"""

from kaskad import console, meter
from kaskad.link import OpticalLink

_ERROR_BACKOFF_MS = 1000
_PUBLISHED = tuple(range(meter.FIELD_COUNT))


class App:
    def __init__(self, settings, uart, clock):
        self.settings = settings
        self.clock = clock
        link = OpticalLink(uart, clock, settings.baud, settings.reply_timeout_ms, retries=settings.retries)
        self.meter = None
        if settings.meter_address is not None:
            self.meter = meter.MeterClient(link, clock, settings.meter_address, self._report)
        self.link = link
        self.polls = 0

    def _report(self, what):
        console.error(self.clock.now_ms(), what)

    def poll_once(self):
        """One poll and its console line."""
        self.polls += 1
        now = self.clock.now_ms()
        if self.meter is None:
            console.error(now, "KASKAD_METER_ADDRESS is not set: put the ID shown on the meter's "
                               "display (1..65534) in settings.toml")
            return
        self.meter.poll()
        console.reading(self.clock.now_ms(), self.meter.reading, self.settings.max_age_seconds * 1000, _PUBLISHED)

    def run(self):
        period_ms = self.settings.poll_seconds * 1000
        next_poll = self.clock.now_ms()
        while True:
            try:
                self.poll_once()
            except Exception as error:  # the loop must outlive every bug; the board has no one to restart it
                console.error(self.clock.now_ms(), "poll failed: %r" % (error,))
                self.clock.sleep_ms(_ERROR_BACKOFF_MS)
            next_poll += period_ms
            now = self.clock.now_ms()
            if next_poll <= now:  # overran: skip the missed slots rather than bursting
                next_poll = now + period_ms - (now - next_poll) % period_ms
            self.clock.sleep_ms(next_poll - now)
