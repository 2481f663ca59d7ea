"""Stand-in for CircuitPython's ``microcontroller`` module on the Feather nRF52840 Express.

For now: ``Pin`` (board pins are instances; firmware cannot make one), ``pin`` (every MCU pin by
its ``P0_xx`` / ``P1_xx`` name), ``cpu`` (``uid``, ``frequency``) and ``nvm`` (the one
``nvm.ByteArray``: 8192 bytes of flash, see nvm.py). ``watchdog`` and ``reset`` are added by a
later issue, as submodules or attributes of this package.

Host-only helpers (leading underscore) keep the board's pin ownership: a pin claimed by one live
object (a UART, later a DigitalInOut) is "in use" for every other until released.
"""
from typing import Optional

import _harness
import nvm as _nvm

__all__ = ["Pin", "Processor", "cpu", "nvm", "pin"]


class Pin:
    """Identifies an IO pin on the microcontroller. Obtain one from ``board`` or ``microcontroller.pin``."""

    __slots__ = ("_name", "_number")
    _name: str
    _number: int

    def __new__(cls, *args: object, **kwargs: object) -> "Pin":
        raise TypeError("cannot create 'Pin' instances")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("'Pin' object has no attribute '%s'" % name)

    def __repr__(self) -> str:
        board_name = _board_names.get(self)
        if board_name is not None:
            return "board." + board_name
        return "microcontroller.pin." + self._name

    # Hashing and equality are by identity, as on the board.


def _make_pin(name: str, number: int) -> Pin:
    """Host-only: create one MCU pin (the board's pins are fixed; firmware never calls this)."""
    p = object.__new__(Pin)
    object.__setattr__(p, "_name", name)
    object.__setattr__(p, "_number", number)
    return p


# First board name of each pin, in the board's pins.c order (set by board.py): the name the
# board prints for a pin and names in "... in use" errors.
_board_names: "dict[Pin, str]" = {}

_claimed: "set[Pin]" = set()


def _validate_pin_or_none(obj: object, arg_name: str) -> Optional[Pin]:
    """shared-bindings/microcontroller/Pin.c validate_obj_is_pin_or_none()."""
    if obj is None:
        return None
    if type(obj) is not Pin:
        raise TypeError("%s must be of type Pin, not %s" % (arg_name, type(obj).__name__))
    return obj


def _assert_free(p: Pin) -> None:
    """shared-bindings/microcontroller/Pin.c assert_pin_free(): ValueError("<name> in use")."""
    if p in _claimed:
        raise ValueError("%s in use" % _board_names.get(p, p._name))


def _validate_free_pin_or_none(obj: object, arg_name: str) -> Optional[Pin]:
    p = _validate_pin_or_none(obj, arg_name)
    if p is not None:
        _assert_free(p)
    return p


def _claim(p: Optional[Pin]) -> None:
    if p is not None:
        _claimed.add(p)


def _release(p: Optional[Pin]) -> None:
    if p is not None:
        _claimed.discard(p)


def _release_all() -> None:
    _claimed.clear()


_harness.on_reset(_release_all)


class Processor:
    """The microcontroller's CPU. Use ``microcontroller.cpu``; firmware cannot make another."""

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> "Processor":
        raise TypeError("cannot create 'Processor' instances")

    @property
    def uid(self) -> bytearray:
        """The chip's unique id (8 bytes on the nRF52840), as a new bytearray on each read."""
        return bytearray(_harness.cpu_uid())

    @property
    def frequency(self) -> int:
        """The CPU clock in Hz (64 MHz on the nRF52840)."""
        return 64_000_000


cpu: Processor = object.__new__(Processor)
# No ``cpus``: it exists only on chips with more than one core.

# The board's non-volatile memory: the same object as ever, an instance of nvm.ByteArray.
# Read its size with len(microcontroller.nvm); it is never None on this board.
nvm: _nvm.ByteArray = _nvm._the_nvm

from microcontroller import pin  # noqa: E402  (the pins need Pin defined first)

# --- watchdog and reset (added) ------------------------------------------------------------------
import watchdog as _watchdog  # noqa: E402

# The sole instance of watchdog.WatchDogTimer (never None on the nRF52840).
watchdog: _watchdog.WatchDogTimer = object.__new__(_watchdog.WatchDogTimer)


def reset() -> None:
    """Reset the microcontroller at once (code.py does not go on). On the host: ``HostReset``."""
    from _vclock import HostReset
    raise HostReset("microcontroller.reset()")


__all__ += ["watchdog", "reset"]
