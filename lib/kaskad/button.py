"""The user button (``board.SWITCH``) through a ``keypad.Keys`` event queue.

``Button(events)`` takes the ``EventQueue`` of ``keypad.Keys((board.SWITCH,),
value_when_pressed=False)``. ``poll(now_ms)`` drains the queue with ``get_into`` into one
preallocated ``keypad.Event`` (no allocation per call) and returns
    NONE  nothing happened
    SHORT a press shorter than LONG_MS ended: poll the meter now
    LONG  a press of LONG_MS (5 s) or more: forget the owners and open the claim window.
LONG fires as soon as the button has been held LONG_MS (by ``now_ms``), without waiting for the
release; the release of that press then gives nothing. The length of a released press comes
from the events' own timestamps (``supervisor.ticks_ms``, 2**29 wrap), so a late poll does not
stretch it.
"""
import keypad

from kaskad.clock import ticks_diff

NONE = 0
SHORT = 1
LONG = 2
LONG_MS = 5000
_TICKS_MASK = (1 << 29) - 1


class Button:
    def __init__(self, events, long_ms=LONG_MS):
        self._events = events
        self._event = keypad.Event()
        self._long_ms = long_ms
        self._down = False
        self._down_ts = 0
        self._down_ms = 0
        self._long_sent = False

    def poll(self, now_ms):
        result = NONE
        ev = self._event
        while self._events.get_into(ev):
            if ev.pressed:
                self._down = True
                self._down_ts = ev.timestamp
                self._down_ms = now_ms
                self._long_sent = False
            elif self._down:
                self._down = False
                if not self._long_sent:
                    held = (ev.timestamp - self._down_ts) & _TICKS_MASK
                    found = LONG if held >= self._long_ms else SHORT
                    if found > result:
                        result = found
        if self._down and not self._long_sent and ticks_diff(now_ms, self._down_ms) >= self._long_ms:
            self._long_sent = True
            result = LONG
        return result
