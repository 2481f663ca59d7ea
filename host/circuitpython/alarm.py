"""Stand-in for CircuitPython's ``alarm`` module on the Feather nRF52840 Express: only
``sleep_memory`` (and its type ``SleepMemory``), the part the firmware uses. The sleep and wake-up
functions are not modelled; ``import alarm`` gives nothing else, so firmware that needs more fails
here first.

``alarm`` is built for this board: ports/nordic/mpconfigport.mk sets ``CIRCUITPY_ALARM ?= 1``.
``sleep_memory`` is 256 bytes (ports/nordic/common-hal/alarm/SleepMemory.h SLEEP_MEMORY_LENGTH)
of RAM in the ``.uninitialized`` section behind a guard word (SleepMemory.c): the startup code
does not clear it, so it keeps its bytes across every reset that keeps the chip powered
(``microcontroller.reset()``, a reset into safe mode, the watchdog's, which port.c's handler
turns into reset_cpu()) and reads 0 after power-on (alarm_sleep_memory_reset() fills it with 0
when the guard word is gone). Reads and writes cost no flash wear.

Subscripts follow shared-bindings/alarm/SleepMemory.c: an int index (negative counts from the
end) gives or takes one byte 0-255; a slice of step 1 reads a new bytearray or takes a buffer of
exactly its length.
"""
import _harness
from _mpobj import get_int as _get_int

__all__ = ["SleepMemory", "sleep_memory"]

_LENGTH = 256
_memory = bytearray(_LENGTH)


def _index(index: object) -> int:
    i = _get_int(index)
    if i < 0:
        i += _LENGTH
    if not 0 <= i < _LENGTH:
        raise IndexError("index out of range")
    return i


def _slice(s: slice) -> "tuple[int, int]":
    start, stop, step = s.indices(_LENGTH)
    if step != 1:
        raise NotImplementedError("only slices with step=1 (aka None) are supported")
    return start, max(start, stop)


class SleepMemory:
    """RAM kept while the chip has power. Use ``alarm.sleep_memory``; firmware cannot make one."""

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> "SleepMemory":
        raise TypeError("cannot create 'SleepMemory' instances")

    def __len__(self) -> int:
        return _LENGTH

    def __getitem__(self, index: object) -> "int | bytearray":
        if type(index) is slice:
            start, stop = _slice(index)
            return bytearray(_memory[start:stop])
        return _memory[_index(index)]

    def __setitem__(self, index: object, value: object) -> None:
        if type(index) is slice:
            start, stop = _slice(index)
            if type(value) not in (bytes, bytearray, memoryview):
                raise NotImplementedError("array/bytes required on right side")
            data = bytes(value)  # type: ignore[arg-type]
            if len(data) != stop - start:
                raise ValueError("Slice and value different lengths.")
            _memory[start:stop] = data
            return
        i = _index(index)
        byte = _get_int(value)
        if not 0 <= byte <= 255:
            raise ValueError("bytes must be 0-255")
        _memory[i] = byte

    def __iter__(self) -> object:
        raise TypeError("'SleepMemory' object is not iterable")


sleep_memory: SleepMemory = object.__new__(SleepMemory)


def _on_reset() -> None:
    if _harness.reset_cause() == _harness.POWER_ON:
        _memory[:] = bytes(_LENGTH)


_harness.on_reset(_on_reset)
