"""The board's floats: IEEE single precision kept in 30 bits of the object word.

CircuitPython on the nRF52840 stores a float inside the 32-bit object word (MicroPython's
``MICROPY_OBJ_REPR_C``, py/obj.h): ``mp_obj_new_float`` keeps ``(bits & ~3) | 2``, dropping the two
lowest mantissa bits, and ``mp_obj_float_get`` -- every read, by C or by Python arithmetic --
clears the tag and refills those two bits from the two above them (``num.u |= (num.u >> 2) & 3``,
10.2.1 py/obj.h:204-213), "rather than always truncating toward zero". So 0.02 reads back as
exactly 0.02f, and other values move up or down by at most 3 units in the last place.
Stand-ins that take or hand floats (``time.sleep``, ``UART.timeout``, ``start_advertising``) pass
them through ``f30`` so the board's precision shows on the host.
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
    """``x`` stored as a float object on the board and read back (py/obj.h, REPR_C):
    single precision, two low mantissa bits cleared, then refilled from the two above."""
    x = f32(x)
    if math.isnan(x) or math.isinf(x):
        return x
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    bits &= ~3  # mp_obj_new_float
    bits |= (bits >> 2) & 3  # mp_obj_float_get
    return struct.unpack("<f", struct.pack("<I", bits))[0]
