"""The board's 30-bit floats (host/circuitpython/_cpfloat.py) against py/obj.h REPR_C, 10.2.1.

mp_obj_new_float stores ``(bits & ~3) | 2``; mp_obj_float_get clears the tag bits and copies bits
2-3 into bits 0-1 (py/obj.h:204-213). The expected values here are worked out by hand from those
two lines, bit by bit, not by calling the model.
"""
import struct

import pytest

from _cpfloat import f30, f32


def bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


@pytest.mark.parametrize("value, stored_bits", [
    # 0.02f = 0x3CA3D70A: cleared 0x...08, bits 2-3 of 0x...08 are 10 -> refilled 0x...0A
    (0.02, 0x3CA3D70A),
    # 10.24f = 0x4123D70A, the same pattern
    (10.24, 0x4123D70A),
    # 0.1f = 0x3DCCCCCD: cleared 0x...CC, bits 2-3 of 0xC are 11 -> 0x...CF (rounds up)
    (0.1, 0x3DCCCCCF),
    # 0.005f = 0x3BA3D70A -> 0x3BA3D70A
    (0.005, 0x3BA3D70A),
    # 1/3 = 0x3EAAAAAB: cleared 0x...A8, bits 2-3 of 0x8 are 10 -> 0x...AA
    (1 / 3, 0x3EAAAAAA),
    # 1.0 = 0x3F800000 stays
    (1.0, 0x3F800000),
])
def test_a_float_read_back_refills_its_two_low_bits(value, stored_bits):
    assert bits(f30(value)) == stored_bits


def test_0_02_is_the_c_constant_and_the_board_accepts_it():
    assert f30(0.02) == f32(0.02)
    assert f30(10.24) == f32(10.24)


def test_every_read_is_within_three_units_in_the_last_place_and_idempotent():
    for b in range(0x3C000000, 0x3C000000 + 4096):
        x = from_bits(b)
        y = f30(x)
        assert abs(bits(y) - b) <= 3
        assert f30(y) == y  # a float read back and stored again is the same float
