"""The board's argument conversions (py/obj.c), shared by every stand-in so all convert alike.

On the Cortex-M4 an mp_int_t is 32 bits: a long int beyond it overflows where the firmware needs
a machine word; floats are the board's 30-bit ones.
"""
from _cpfloat import f30

MP_INT_MIN, MP_INT_MAX = -(1 << 31), (1 << 31) - 1


def int_maybe(obj: object) -> "int | None":
    """mp_obj_get_int_maybe(): bool, int, or an object with ``__int__`` (not float); a value
    outside mp_int_t raises OverflowError (mp_obj_int_get_checked)."""
    if isinstance(obj, int):
        value = int(obj)
    elif type(obj).__module__ != "builtins" and hasattr(type(obj), "__int__"):
        value = int(obj)  # type: ignore  # MP_UNARY_OP_INT_MAYBE calls a class's __int__
    else:
        return None
    if not MP_INT_MIN <= value <= MP_INT_MAX:
        raise OverflowError("overflow converting long int to machine word")
    return value


def get_int(obj: object) -> int:
    """mp_obj_get_int(): TypeError for what is no integer (a float included)."""
    value = int_maybe(obj)
    if value is None:
        raise TypeError("can't convert %s to int" % type(obj).__name__)
    return value


def get_float(obj: object) -> float:
    """mp_obj_get_float(): int, bool or float, as the board's 30-bit float."""
    if isinstance(obj, (int, float)):
        return f30(float(obj))
    raise TypeError("can't convert %s to float" % type(obj).__name__)


def get_write_buffer(obj: object) -> memoryview:
    """py/obj.c mp_get_buffer_raise(..., MP_BUFFER_WRITE): a writable byte view, else the board's
    TypeError (bytes and str are read-only)."""
    if isinstance(obj, str):
        raise TypeError("object with buffer protocol required")
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError("object with buffer protocol required") from None
    if view.readonly:
        raise TypeError("object with buffer protocol required")
    return view.cast("B")
