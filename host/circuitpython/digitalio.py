"""Stand-in for CircuitPython's ``digitalio`` on the nRF52840 (shared-bindings/digitalio/DigitalInOut.c,
ports/nordic/common-hal/digitalio/DigitalInOut.c).

As on the board:
- ``DigitalInOut(pin)`` claims the pin (``ValueError("<name> in use")`` for a claimed one) and starts
  as an input without pull; ``deinit()`` releases it; every use after ``deinit`` is a ValueError.
- ``value`` cannot be set on an input (AttributeError), ``pull`` is not used on an output and
  ``drive_mode`` not on an input (AttributeError on get and set).
- Setting ``direction`` to OUTPUT drives the pin low, push-pull; to INPUT removes the pull.
- ``Direction``, ``Pull``, ``DriveMode`` are enums: firmware cannot make members.

The host's wiring (see ``_harness.button_press``): an input reads what is outside the pin. A button
to ground reads low while pressed; otherwise the pin reads its pull (UP high, DOWN low). A
floating pin (no pull, nothing driving it) reads low here: undefined on the board, so code that
forgets the pull-up sees a "pressed" button at once. Every level an output drives is logged with
its virtual time (``_harness.pin_history``).
"""
from typing import Any, Optional

import _harness
import microcontroller as _mc

__all__ = ["DigitalInOut", "Direction", "Pull", "DriveMode"]

_DEINITED = "Object has been deinitialized and can no longer be used. Create a new object."


class _Enum:
    __slots__ = ("_name",)
    _name: str
    _module_name = ""

    def __new__(cls, *args: object, **kwargs: object) -> Any:
        raise TypeError("cannot create '%s' instances" % cls.__name__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __repr__(self) -> str:
        return "digitalio.%s.%s" % (type(self).__name__, self._name)


def _members(cls: Any, names: "tuple[str, ...]") -> None:
    for n in names:
        m = object.__new__(cls)
        object.__setattr__(m, "_name", n)
        setattr(cls, n, m)


class Direction(_Enum):
    """INPUT or OUTPUT."""
    __slots__ = ()
    INPUT: "Direction"
    OUTPUT: "Direction"


class Pull(_Enum):
    """UP or DOWN (no pull is ``None``)."""
    __slots__ = ()
    UP: "Pull"
    DOWN: "Pull"


class DriveMode(_Enum):
    """PUSH_PULL or OPEN_DRAIN."""
    __slots__ = ()
    PUSH_PULL: "DriveMode"
    OPEN_DRAIN: "DriveMode"


_members(Direction, ("INPUT", "OUTPUT"))
_members(Pull, ("UP", "DOWN"))
_members(DriveMode, ("PUSH_PULL", "OPEN_DRAIN"))

# Host wiring, by canonical pin name: external level timeline [(t_ns, level or None)], None = open.
_external: "dict[str, list[tuple[int, Optional[bool]]]]" = {}
# Levels driven by outputs: [(t_ns, level)] per canonical pin name.
_history: "dict[str, list[tuple[int, bool]]]" = {}


def _forget() -> None:
    _external.clear()
    _history.clear()


_harness.on_reset(_forget)


def _external_level(name: str, t_ns: int) -> Optional[bool]:
    level: Optional[bool] = None
    for at, lv in _external.get(name, ()):
        if at <= t_ns:
            level = lv
        else:
            break
    return level


def _input_level(pin: "_mc.Pin", pull: Optional[Pull], t_ns: int) -> bool:
    """What an input with ``pull`` reads at ``t_ns`` (shared by keypad)."""
    ext = _external_level(pin._name, t_ns)
    if ext is not None:
        return ext
    return pull is Pull.UP


def _validate_pull(obj: object) -> Optional[Pull]:
    """shared-bindings/digitalio/Pull.c validate_pull()."""
    if obj is None or type(obj) is Pull:
        return obj  # type: ignore[return-value]
    raise TypeError("pull must be of type Pull or None, not %s" % type(obj).__name__)


def _validate_drive_mode(obj: object) -> DriveMode:
    if type(obj) is not DriveMode:
        raise TypeError("drive_mode must be of type DriveMode, not %s" % type(obj).__name__)
    return obj  # type: ignore[return-value]


class DigitalInOut:
    """Digital input and output on one pin."""

    __slots__ = ("_pin", "_output", "_pull", "_drive", "_level")

    def __init__(self, pin: "_mc.Pin") -> None:
        p = _mc._validate_pin_or_none(pin, "pin")
        if p is None:
            raise TypeError("pin must be of type Pin, not NoneType")
        _mc._assert_free(p)
        _mc._claim(p)
        self._pin: Optional[_mc.Pin] = p
        self._output = False
        self._pull: Optional[Pull] = None
        self._drive = DriveMode.PUSH_PULL
        self._level = False

    def _check(self) -> "_mc.Pin":
        if self._pin is None:
            raise ValueError(_DEINITED)
        if self._pin not in _mc._claimed:  # the board was reset under it
            raise ValueError(_DEINITED)
        return self._pin

    def deinit(self) -> None:
        """Release the pin (idempotent)."""
        if self._pin is not None:
            _mc._release(self._pin)
            self._pin = None

    def __enter__(self) -> "DigitalInOut":
        return self

    def __exit__(self, *args: object) -> None:
        self.deinit()

    def _drive_level(self, level: bool) -> None:
        p = self._check()
        self._level = bool(level)
        _history.setdefault(p._name, []).append((_harness.clock().now_ns(), self._level))

    def switch_to_output(self, value: bool = False, drive_mode: DriveMode = DriveMode.PUSH_PULL) -> None:
        self._check()
        dm = _validate_drive_mode(drive_mode)
        self._output = True
        self._drive = dm
        self._drive_level(bool(value))

    def switch_to_input(self, pull: Optional[Pull] = None) -> None:
        self._check()
        pl = _validate_pull(pull)
        self._output = False
        self._pull = pl

    @property
    def direction(self) -> Direction:
        self._check()
        return Direction.OUTPUT if self._output else Direction.INPUT

    @direction.setter
    def direction(self, value: Direction) -> None:
        self._check()
        if value is Direction.INPUT:
            self.switch_to_input(None)
        elif value is Direction.OUTPUT:
            self.switch_to_output(False, DriveMode.PUSH_PULL)
        else:
            raise ValueError("Invalid direction.")

    @property
    def value(self) -> bool:
        p = self._check()
        if self._output:
            return self._level  # nrf_gpio_pin_out_read: the level being driven
        return _input_level(p, self._pull, _harness.clock().poll())

    @value.setter
    def value(self, value: bool) -> None:
        self._check()
        if not self._output:
            raise AttributeError("Cannot set value when direction is input.")
        self._drive_level(bool(value))

    @property
    def drive_mode(self) -> DriveMode:
        self._check()
        if not self._output:
            raise AttributeError("Drive mode not used when direction is input.")
        return self._drive

    @drive_mode.setter
    def drive_mode(self, value: DriveMode) -> None:
        self._check()
        if not self._output:
            raise AttributeError("Drive mode not used when direction is input.")
        self._drive = _validate_drive_mode(value)

    @property
    def pull(self) -> Optional[Pull]:
        self._check()
        if self._output:
            raise AttributeError("Pull not used when direction is output.")
        return self._pull

    @pull.setter
    def pull(self, value: Optional[Pull]) -> None:
        self._check()
        if self._output:
            raise AttributeError("Pull not used when direction is output.")
        self._pull = _validate_pull(value)
