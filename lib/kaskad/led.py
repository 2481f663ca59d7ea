"""Status LED (``board.LED``, red, on pin D3) driven by ``update(now_ms)`` on a ``DigitalInOut``.

| State                               | Pattern                                  | Period  |
|-------------------------------------|------------------------------------------|---------|
| settings missing (no meter address) | long on/off: 1 s on, 1 s off             | 2 s     |
| KASKAD_BINDKEY cannot be used       | triple blink: 100 on, 150 off, x3, then off | 2 s  |
| claim window open                   | fast blink: 100 ms on, 100 ms off        | 0.2 s   |
| meter not answering                 | double blink: 100 on, 150 off, 100 on, then off | 2 s |
| meter answers                       | heartbeat: 50 ms on every 2 s, plus a 50 ms blink per successful poll | 2 s |

Priority when several hold: settings missing, then the unusable key (nothing is broadcast),
then claim window, then the meter state.
``update`` writes the pin only when the level changes and allocates nothing.
"""

from kaskad.clock import ticks_add, ticks_diff

OK = 0
NO_METER = 1
CLAIM = 2
NO_SETTINGS = 3
KEY_REFUSED = 4

# (on, off, on, off, ...) in ms; constants, so nothing is built per call.
_PATTERNS = (
    (50, 1950),
    (100, 150, 100, 1650),
    (100, 100),
    (1000, 1000),
    (100, 150, 100, 150, 100, 1400),
)
_PERIODS = (2000, 2000, 200, 2000, 2000)
FLASH_MS = 50


class Led:
    def __init__(self, pin_io, now_ms):
        self._io = pin_io
        self._mode = OK
        self._start = now_ms
        self._flash_until = None
        self._level = False
        pin_io.switch_to_output(False)

    def set_mode(self, mode, now_ms):
        """Show ``mode``; the pattern restarts only when the mode changes."""
        if mode != self._mode:
            self._mode = mode
            self._start = now_ms

    def flash(self, now_ms):
        """A successful meter poll: a short blink (seen in the OK pattern's long off time)."""
        self._flash_until = ticks_add(now_ms, FLASH_MS)

    def update(self, now_ms):
        mode = self._mode
        pattern = _PATTERNS[mode]
        period = _PERIODS[mode]
        elapsed = ticks_diff(now_ms, self._start)
        phase = elapsed % period
        if elapsed >= period:  # keep the start within a period, so ticks never drift 2**28 apart
            self._start = ticks_add(self._start, elapsed - phase)
        on = False
        i = 0
        while i < len(pattern):
            if phase < pattern[i]:
                on = i % 2 == 0
                break
            phase -= pattern[i]
            i += 1
        if self._flash_until is not None:
            if ticks_diff(self._flash_until, now_ms) > 0:
                on = on or mode == OK
            else:
                self._flash_until = None  # over: forgotten before the ticks can wrap back to it
        if on != self._level:
            self._level = on
            self._io.value = on
        return on
