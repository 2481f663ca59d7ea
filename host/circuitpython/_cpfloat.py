"""The board's floats: IEEE single precision with the two lowest mantissa bits dropped.

CircuitPython on the nRF52840 stores a float inside the 32-bit object word (MicroPython's
``MICROPY_OBJ_REPR_C``): ``mp_obj_new_float`` keeps ``(bits & ~3) | 2``, so every float the
firmware sees has about 22 bits of precision. Stand-ins that hand floats to the firmware
(``time.monotonic()``, ``UART.timeout``) pass them through ``f30`` so precision loss shows on the host.
"""
import math
import struct


def f32(x: float) -> float:
    """Round ``x`` to the nearest IEEE single-precision value (what C's ``float`` holds)."""
    if math.isnan(x) or math.isinf(x):
        return x
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def f30(x: float) -> float:
    """``x`` as a float object on the board: single precision, two low mantissa bits cleared."""
    x = f32(x)
    if math.isnan(x) or math.isinf(x):
        return x
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    return struct.unpack("<f", struct.pack("<I", bits & ~3))[0]
