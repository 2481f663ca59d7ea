"""Stand-in for CircuitPython's ``keypad`` (``Keys``, ``Event``, ``EventQueue``) on the nRF52840.

Sources: shared-bindings/keypad/{Keys,EventQueue,Event}.c and shared-module/keypad/*.c.
As on the board:
- ``Keys(pins, *, value_when_pressed, pull=True, interval=0.020, max_events=64,
  debounce_threshold=1)``: ``pins`` must be free, distinct ``Pin`` objects (claimed until
  ``deinit``); ``interval`` >= 0, ``max_events`` >= 1, ``debounce_threshold`` 1-127. The pull is
  up when ``value_when_pressed`` is False, down when True.
- The scanner runs in the background every ``interval`` (kept in 1/1024 s ticks, as the
  supervisor's tick counts) from construction on; a key changes state once it has read the new
  state in ``debounce_threshold`` scans in a row; each change queues an ``Event`` stamped with
  ``supervisor.ticks_ms()`` of that scan. The host replays the scans lazily, whenever the queue
  is looked at, so the result is the same as a background scan.
- A full queue drops the NEW event and sets ``overflowed`` (EventQueue.c keypad_eventqueue_record);
  ``clear()`` empties it and resets ``overflowed``.
- ``get_into(event)`` takes only an ``Event`` (TypeError otherwise) and leaves it untouched when
  the queue is empty. ``Event`` attributes are read-only; events compare by key and pressed only.
"""
from typing import Any, Optional, Sequence

import _harness
import digitalio as _dio
import microcontroller as _mc
import supervisor as _sup
from _mpobj import get_float as _get_float, get_int as _get_int

__all__ = ["Event", "EventQueue", "Keys"]

_DEINITED = "Object has been deinitialized and can no longer be used. Create a new object."
_TICKS_PERIOD = 1 << 29


def _ticks_at(t_ns: int) -> int:
    return (t_ns // 1_000_000 + _sup._TICKS_OFFSET) % _TICKS_PERIOD


class Event:
    """A key transition: ``key_number``, ``pressed`` / ``released``, ``timestamp`` (ticks_ms)."""

    __slots__ = ("_key", "_pressed", "_ts")

    def __init__(self, key_number: int = 0, pressed: bool = True, timestamp: Optional[int] = None) -> None:
        key = _get_int(key_number)
        if key < 0:
            raise ValueError("key_number must be >= 0")
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_pressed", bool(pressed))
        ts = _sup.ticks_ms() if timestamp is None else _get_int(timestamp) % _TICKS_PERIOD
        object.__setattr__(self, "_ts", ts)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("can't set attribute '%s'" % name)

    @property
    def key_number(self) -> int:
        return self._key

    @property
    def pressed(self) -> bool:
        return self._pressed

    @property
    def released(self) -> bool:
        return not self._pressed

    @property
    def timestamp(self) -> int:
        return self._ts

    def __eq__(self, other: object) -> bool:
        if type(other) is not Event:
            return False
        return self._key == other._key and self._pressed == other._pressed

    def __hash__(self) -> int:
        return hash((self._key, self._pressed))

    def __repr__(self) -> str:
        return "<Event: key_number %d %s>" % (self._key, "pressed" if self._pressed else "released")


class EventQueue:
    """The queue a scanner fills; firmware cannot make one."""

    __slots__ = ("_owner", "_max", "_items", "_overflowed")

    def __new__(cls, *args: object, **kwargs: object) -> "EventQueue":
        raise TypeError("cannot create 'EventQueue' instances")

    def _sync(self) -> None:
        self._owner._scan_until(_harness.clock().poll())

    def get(self) -> Optional[Event]:
        self._sync()
        if not self._items:
            return None
        key, pressed, ts = self._items.pop(0)
        return Event(key, pressed, ts)

    def get_into(self, event: Event) -> bool:
        if type(event) is not Event:
            raise TypeError("event must be of type Event, not %s" % type(event).__name__)
        self._sync()
        if not self._items:
            return False
        key, pressed, ts = self._items.pop(0)
        object.__setattr__(event, "_key", key)
        object.__setattr__(event, "_pressed", pressed)
        object.__setattr__(event, "_ts", ts)
        return True

    def clear(self) -> None:
        self._sync()
        self._items.clear()
        object.__setattr__(self, "_overflowed", False)

    def __len__(self) -> int:
        self._sync()
        return len(self._items)

    def __bool__(self) -> bool:
        return len(self) != 0

    @property
    def overflowed(self) -> bool:
        self._sync()
        return self._overflowed

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("can't set attribute '%s'" % name)

    def _record(self, key: int, pressed: bool, ts: int) -> None:
        if len(self._items) >= self._max:
            object.__setattr__(self, "_overflowed", True)
            return
        self._items.append((key, pressed, ts))


class Keys:
    """Independent keys, each on its own pin."""

    __slots__ = ("_pins", "_vwp", "_pullv", "_step_ns", "_next_scan", "_state", "_count",
                 "_thresh", "_events", "_gen")

    def __init__(self, pins: Sequence["_mc.Pin"], *, value_when_pressed: bool, pull: bool = True,
                 interval: float = 0.020, max_events: int = 64, debounce_threshold: int = 1) -> None:
        pin_list = [pins[i] for i in range(len(pins))]
        seen: "list[Any]" = []
        for p in pin_list:
            if any(p is q for q in seen):
                raise TypeError("row_pins contains duplicate pins")
            seen.append(p)
        vwp = bool(value_when_pressed)
        iv = _get_float(interval)
        if not iv >= 0:
            raise ValueError("interval must be >= 0")
        me = _get_int(max_events)
        if me < 1:
            raise ValueError("max_events must be >= 1")
        dt = _get_int(debounce_threshold)
        if not 1 <= dt <= 127:
            raise ValueError("debounce_threshold must be 1-127")
        checked = []
        for p in pin_list:
            vp = _mc._validate_pin_or_none(p, "pin")
            if vp is None:
                raise TypeError("pin must be of type Pin, not NoneType")
            _mc._assert_free(vp)
            checked.append(vp)
        for vp in checked:
            _mc._claim(vp)
        ticks = int(iv * 1024)  # shared-module/keypad: interval in 1/1024 s supervisor ticks
        q = object.__new__(EventQueue)
        for k, v in (("_owner", self), ("_max", me), ("_items", []), ("_overflowed", False)):
            object.__setattr__(q, k, v)
        self._pins: Optional[list] = checked
        self._vwp = vwp
        self._pullv: Optional[_dio.Pull] = None if not pull else (_dio.Pull.DOWN if vwp else _dio.Pull.UP)
        self._step_ns = max(1, ticks * 1_000_000_000 // 1024)
        self._next_scan = _harness.clock().now_ns()
        self._state = [False] * len(checked)
        self._count = [0] * len(checked)
        self._thresh = dt
        self._events = q
        self._gen = _reset_generation

    def _check(self) -> list:
        if self._pins is None or self._gen != _reset_generation:
            raise ValueError(_DEINITED)
        return self._pins

    def _scan_until(self, now_ns: int) -> None:
        if self._pins is None or self._gen != _reset_generation:
            return  # a deinit scanner queues nothing more
        pins = self._pins
        while self._next_scan <= now_ns:
            t = self._next_scan
            for i, p in enumerate(pins):
                current = _dio._input_level(p, self._pullv, t) == self._vwp
                if current == self._state[i]:
                    self._count[i] = 0
                    continue
                self._count[i] += 1
                if self._count[i] >= self._thresh:
                    self._state[i] = current
                    self._count[i] = 0
                    self._events._record(i, current, _ticks_at(t))
            self._next_scan = t + self._step_ns
            self._skip_quiet(t, now_ns)

    def _skip_quiet(self, t: int, now_ns: int) -> None:
        """Host speed-up: while no key is mid-debounce and no wire changes, scans find nothing."""
        pins = self._pins or []
        if any(self._count):
            return
        nxt: Optional[int] = None
        for i, p in enumerate(pins):
            if (_dio._input_level(p, self._pullv, t) == self._vwp) != self._state[i]:
                return
            for at, _lv in _dio._external.get(p._name, ()):
                if at > t:
                    nxt = at if nxt is None or at < nxt else nxt
                    break
        # pulls never change by themselves; jump to the last scan before the next wire change
        limit = now_ns if nxt is None else min(now_ns, nxt - 1)
        if limit >= self._next_scan:
            n = (limit - self._next_scan) // self._step_ns
            self._next_scan += n * self._step_ns

    def deinit(self) -> None:
        if self._pins is not None:
            if self._gen == _reset_generation:
                for p in self._pins:
                    _mc._release(p)
            self._pins = None

    def __enter__(self) -> "Keys":
        return self

    def __exit__(self, *args: object) -> None:
        self.deinit()

    def reset(self) -> None:
        """Assume every key released now: a key held down gives a new press event."""
        self._check()
        self._scan_until(_harness.clock().poll())
        self._state = [False] * len(self._state)
        self._count = [0] * len(self._count)

    @property
    def key_count(self) -> int:
        return len(self._check())

    @property
    def events(self) -> EventQueue:
        self._check()
        return self._events


_reset_generation = 0


def _on_reset() -> None:
    global _reset_generation
    _reset_generation += 1


_harness.on_reset(_on_reset)
