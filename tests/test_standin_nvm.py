"""microcontroller.nvm / nvm.ByteArray stand-in: each rule here is one a lenient stand-in would break.

The board's behaviour comes from shared-bindings/nvm/ByteArray.c, ports/nordic/common-hal/nvm/
ByteArray.c, ports/nordic/peripherals/nrf/nvm.c and ports/nordic/mpconfigport.h (see nvm.py).
"""
import array
import importlib
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

import _harness
import microcontroller
import nvm

SIZE = 8192
PAGE = 4096
PAGE_NS = 85_000_000 + 1024 * 41_000  # erase + program one 4 KB page: 126.984 ms
ERASED = b"\xff"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "host", "run.py")


@pytest.fixture(autouse=True)
def fresh_board():
    _harness.reset()
    yield
    _harness.reset()


@pytest.fixture
def mem():
    return microcontroller.nvm


def raises(exc, message, fn, *args):
    with pytest.raises(exc) as info:
        fn(*args)
    assert str(info.value) == message
    return info.value


def setitem(mem, index, value):
    mem[index] = value


def getitem(mem, index):
    return mem[index]


def delitem(mem, index):
    del mem[index]


# --- the object ---------------------------------------------------------------------------------

def test_microcontroller_nvm_is_the_one_nvm_bytearray(mem):
    assert type(mem) is nvm.ByteArray
    assert microcontroller.nvm is mem  # the same object on every access
    assert [name for name in dir(nvm) if not name.startswith("_")] == ["ByteArray"]
    assert "nvm" in microcontroller.__all__


def test_the_size_is_the_feathers_8_kib_and_len_reads_it(mem):
    assert len(mem) == SIZE
    assert bool(mem) is True


def test_firmware_cannot_make_another(mem):
    raises(TypeError, "cannot create 'ByteArray' instances", nvm.ByteArray)
    raises(TypeError, "cannot create 'ByteArray' instances", type(mem))


def test_nvm_is_an_attribute_not_a_submodule():
    with pytest.raises(ImportError):
        importlib.import_module("microcontroller.nvm")


def test_a_fresh_nvm_reads_erased_flash(mem):
    everything = mem[0:len(mem)]
    assert type(everything) is bytearray
    assert everything == bytearray(ERASED * SIZE)
    assert mem[0] == 0xFF and mem[SIZE - 1] == 0xFF


def test_no_other_methods_no_resize_no_attributes(mem):
    for name in ("append", "extend", "insert", "pop", "remove", "clear", "copy", "decode", "hex",
                 "find", "count", "index", "reverse", "__iadd__", "__add__", "__buffer__"):
        assert not hasattr(mem, name), name
    with pytest.raises(TypeError):
        mem += b"x"
    raises(AttributeError, "can't set attribute 'size'", setattr, mem, "size", 4)
    assert repr(mem) == "<ByteArray>"
    with pytest.raises(TypeError):
        memoryview(mem)


def test_it_is_not_iterable(mem):
    message = "'ByteArray' object is not iterable"
    raises(TypeError, message, list, mem)
    raises(TypeError, message, lambda: 0xFF in mem)
    raises(TypeError, message, iter, mem)
    with pytest.raises(TypeError):
        bytes(mem)


def test_no_deletion(mem):
    message = "'ByteArray' object doesn't support item deletion"
    raises(TypeError, message, delitem, mem, 0)
    raises(TypeError, message, delitem, mem, slice(0, 2))
    assert len(mem) == SIZE


# --- reading ------------------------------------------------------------------------------------

def test_an_index_reads_an_int_and_negative_indices_count_from_the_end(mem):
    mem[0:2] = b"\x01\x02"
    mem[SIZE - 2:] = b"\x03\x04"
    assert mem[0] == 1 and type(mem[0]) is int
    assert mem[-1] == 4 and mem[-2] == 3
    assert mem[-SIZE] == 1
    assert mem[True] == 2  # a bool is an int to mp_get_index


def test_an_index_out_of_range_is_the_boards_index_error(mem):
    for index in (SIZE, SIZE + 1, -SIZE - 1, 10 ** 6):
        raises(IndexError, "index out of range", getitem, mem, index)
        raises(IndexError, "index out of range", setitem, mem, index, 0)
    raises(OverflowError, "overflow converting long int to machine word", getitem, mem, 2 ** 31)


def test_an_index_must_be_an_int(mem):
    raises(TypeError, "ByteArray indices must be integers, not float", getitem, mem, 1.0)
    raises(TypeError, "ByteArray indices must be integers, not str", getitem, mem, "1")
    raises(TypeError, "ByteArray indices must be integers, not tuple", getitem, mem, (0, 1))
    raises(TypeError, "ByteArray indices must be integers, not float", setitem, mem, 1.0, 0)


def test_a_slice_reads_a_new_bytearray(mem):
    mem[10:13] = b"abc"
    part = mem[10:13]
    assert part == bytearray(b"abc") and type(part) is bytearray
    part[0] = 0
    assert mem[10:13] == bytearray(b"abc")  # a copy, not a view


def test_slice_bounds_clamp_like_the_board(mem):
    assert len(mem[-4:]) == 4
    assert len(mem[8000:9000]) == SIZE - 8000
    assert mem[10:5] == bytearray()
    assert len(mem[:]) == SIZE
    assert len(mem[-10 ** 6:3]) == 3


def test_only_step_1_slices(mem):
    message = "only slices with step=1 (aka None) are supported"
    for s in (slice(0, 4, 2), slice(None, None, -1), slice(4, 0, -1)):
        raises(NotImplementedError, message, getitem, mem, s)
    assert mem[0:4:1] == bytearray(ERASED * 4)
    raises(ValueError, "slice step cannot be zero", getitem, mem, slice(0, 4, 0))


def test_slice_bounds_must_be_ints_that_fit_a_machine_word(mem):
    raises(TypeError, "can't convert float to int", getitem, mem, slice(0.0, 4))
    raises(TypeError, "can't convert str to int", getitem, mem, slice(0, "4"))
    raises(OverflowError, "overflow converting long int to machine word",
           getitem, mem, slice(0, 2 ** 31))


# --- storing ------------------------------------------------------------------------------------

def test_an_index_stores_a_byte(mem):
    mem[7] = 0
    mem[-1] = 255
    mem[8] = True
    assert mem[6:9] == bytearray(b"\xff\x00\x01") and mem[SIZE - 1] == 255


def test_an_index_store_takes_0_to_255_only(mem):
    for value in (256, -1, 1000):
        raises(ValueError, "bytes must be 0-255", setitem, mem, 0, value)
    raises(TypeError, "can't convert float to int", setitem, mem, 0, 1.0)
    raises(TypeError, "can't convert bytes to int", setitem, mem, 0, b"\x01")
    raises(TypeError, "can't convert NoneType to int", setitem, mem, 0, None)
    assert mem[0] == 0xFF
    assert _harness.nvm_write_count() == 0


def test_a_slice_store_needs_exactly_the_slices_length(mem):
    message = "Slice and value different lengths."
    raises(ValueError, message, setitem, mem, slice(0, 4), b"abc")
    raises(ValueError, message, setitem, mem, slice(0, 4), b"abcde")
    raises(ValueError, message, setitem, mem, slice(SIZE - 2, None), b"abcd")  # no growing
    raises(ValueError, message, setitem, mem, slice(5, 2), b"a")  # an empty slice takes b""
    assert len(mem) == SIZE
    assert mem[0:8] == bytearray(ERASED * 8) and mem[SIZE - 2:] == bytearray(ERASED * 2)
    mem[SIZE - 2:] = b"yz"
    assert mem[-2:] == bytearray(b"yz")


def test_a_slice_store_rejects_a_step_even_of_the_right_length(mem):
    message = "only slices with step=1 (aka None) are supported"
    raises(NotImplementedError, message, setitem, mem, slice(0, 4, 2), b"ab")
    raises(NotImplementedError, message, setitem, mem, slice(3, None, -1), b"abcd")
    raises(ValueError, "slice step cannot be zero", setitem, mem, slice(0, 4, 0), b"abcd")
    assert mem[0:4] == bytearray(ERASED * 4)


def test_a_slice_store_takes_only_bytes_bytearray_memoryview_or_array(mem):
    message = "array/bytes required on right side"
    for value in ([1, 2], (1, 2), "ab", 7, None, iter(b"ab")):
        raises(NotImplementedError, message, setitem, mem, slice(0, 2), value)

    class MyBytes(bytes):
        pass

    raises(NotImplementedError, message, setitem, mem, slice(0, 2), MyBytes(b"ab"))  # exact types
    mem[0:2] = b"ab"
    mem[2:4] = bytearray(b"cd")
    mem[4:6] = memoryview(b"ef")
    mem[6:8] = array.array("B", [0x67, 0x68])
    mem[8:10] = array.array("b", [-1, 0x69])
    assert mem[0:10] == bytearray(b"abcdefgh\xffi")


def test_a_slice_store_of_wider_items_is_refused(mem):
    # The byte length is checked first, then the item size (shared-bindings/nvm/ByteArray.c).
    raises(ValueError, "Array values should be single bytes.", setitem, mem, slice(0, 4),
           array.array("H", [1, 2]))
    raises(ValueError, "Slice and value different lengths.", setitem, mem, slice(0, 2),
           array.array("H", [1, 2]))
    raises(ValueError, "Array values should be single bytes.", setitem, mem, slice(0, 4),
           memoryview(b"abcd").cast("I"))
    assert mem[0:4] == bytearray(ERASED * 4)


@settings(max_examples=200, deadline=None)
@given(st.integers(-SIZE - 50, SIZE + 50) | st.none(), st.integers(-SIZE - 50, SIZE + 50) | st.none(),
       st.binary(max_size=40))
def test_slice_stores_land_where_a_step_1_slice_says(start, stop, data):
    _harness.reset()
    mem = microcontroller.nvm
    lo, hi, _ = slice(start, stop).indices(SIZE)
    hi = max(hi, lo)
    if len(data) != hi - lo:
        raises(ValueError, "Slice and value different lengths.", setitem, mem, slice(start, stop), data)
        assert _harness.nvm_write_count() == 0
        return
    mem[start:stop] = data
    model = bytearray(ERASED * SIZE)
    model[lo:hi] = data
    assert mem[:] == model


# --- persistence --------------------------------------------------------------------------------

def test_without_a_file_every_reset_erases(mem):
    mem[0:3] = b"abc"
    _harness.reset()
    assert microcontroller.nvm[0:3] == bytearray(ERASED * 3)
    assert _harness.nvm_file() is None


def test_a_file_keeps_the_nvm_across_resets(tmp_path, mem):
    path = str(tmp_path / "nvm.bin")
    _harness.set_nvm_file(path)
    with open(path, "rb") as f:
        assert f.read() == ERASED * SIZE  # created erased
    mem[100:104] = b"kept"
    mem[-1] = 7
    _harness.reset()
    assert mem[100:104] == bytearray(ERASED * 4)  # reset forgot the file: a fresh NVM
    _harness.set_nvm_file(path)
    assert mem[100:104] == bytearray(b"kept") and mem[-1] == 7
    with open(path, "rb") as f:
        disk = f.read()
    assert len(disk) == SIZE and disk[100:104] == b"kept" and disk[-1] == 7


def test_a_file_of_the_wrong_size_is_a_clear_error(tmp_path, mem):
    path = tmp_path / "short.bin"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError) as info:
        _harness.set_nvm_file(str(path))
    assert "100 bytes" in str(info.value) and "8192" in str(info.value)
    assert _harness.nvm_file() is None
    assert mem[0] == 0xFF
    assert path.read_bytes() == b"\x00" * 100  # left alone


def test_an_existing_file_is_loaded(tmp_path, mem):
    path = tmp_path / "nvm.bin"
    path.write_bytes(bytes(range(256)) * (SIZE // 256))
    _harness.set_nvm_file(str(path))
    assert mem[0:4] == bytearray(b"\x00\x01\x02\x03") and mem[-1] == 255


# --- power cuts ---------------------------------------------------------------------------------

def test_a_power_cut_is_a_host_stop_firmware_cannot_catch():
    assert issubclass(_harness.HostPowerCut, _harness.HostStop)
    assert not issubclass(_harness.HostPowerCut, Exception)


@pytest.mark.parametrize("where", [200, PAGE - 16])
def test_a_power_cut_after_each_byte_of_a_16_byte_store_keeps_exactly_that_prefix(tmp_path, where):
    record = bytes(range(0x40, 0x50))
    path = str(tmp_path / "nvm.bin")
    for n in range(len(record) + 1):
        _harness.reset()
        if os.path.exists(path):
            os.remove(path)
        _harness.set_nvm_file(path)
        mem = microcontroller.nvm
        _harness.nvm_cut_power_after(n)
        with pytest.raises(_harness.HostPowerCut):
            mem[where:where + 16] = record
        expected = bytearray(record[:n] + ERASED * (16 - n))
        assert mem[where:where + 16] == expected, n
        _harness.reset()
        _harness.set_nvm_file(path)
        assert microcontroller.nvm[where:where + 16] == expected, n  # it reached the file


def test_a_torn_store_erases_the_rest_of_its_page_as_flash_does(mem):
    mem[0:16] = b"A" * 16  # same page, before the store
    mem[32:48] = b"B" * 16  # same page, after the store
    mem[PAGE:PAGE + 16] = b"C" * 16  # the other page
    _harness.nvm_cut_power_after(5)
    with pytest.raises(_harness.HostPowerCut):
        mem[16:32] = b"n" * 16
    assert mem[0:16] == bytearray(b"A" * 16)  # reprogrammed from the RAM copy before the cut
    assert mem[16:21] == bytearray(b"n" * 5)
    assert mem[21:PAGE] == bytearray(ERASED * (PAGE - 21))  # record B is gone
    assert mem[PAGE:PAGE + 16] == bytearray(b"C" * 16)


def test_a_torn_store_across_pages_leaves_later_pages_unerased(mem):
    mem[PAGE:PAGE + 8] = b"old page"
    _harness.nvm_cut_power_after(6)  # exactly the bytes that fall in the first page
    with pytest.raises(_harness.HostPowerCut):
        mem[PAGE - 6:PAGE + 6] = b"abcdefghijkl"
    assert mem[PAGE - 6:PAGE] == bytearray(b"abcdef")
    assert mem[PAGE:PAGE + 8] == bytearray(b"old page")  # never erased
    _harness.nvm_cut_power_after(8)
    with pytest.raises(_harness.HostPowerCut):
        mem[PAGE - 6:PAGE + 6] = b"ABCDEFGHIJKL"
    assert mem[PAGE - 6:PAGE + 2] == bytearray(b"ABCDEFGH")
    assert mem[PAGE + 2:] == bytearray(ERASED * (PAGE - 2))


def test_a_power_cut_on_an_index_store(mem):
    mem[0:2] = b"\x01\x02"
    _harness.nvm_cut_power_after(0)
    with pytest.raises(_harness.HostPowerCut):
        mem[0] = 9
    assert mem[0:2] == bytearray(ERASED * 2)  # the page was erased, nothing reprogrammed after 0
    _harness.nvm_cut_power_after(1)
    with pytest.raises(_harness.HostPowerCut):
        mem[1] = 9
    assert mem[1] == 9  # the whole store made it, then the power went


def test_a_power_cut_is_one_shot_and_can_be_disarmed(mem):
    _harness.nvm_cut_power_after(2)
    mem[0:0] = b""  # touches no flash: still armed
    with pytest.raises(_harness.HostPowerCut):
        mem[0:4] = b"abcd"
    mem[0:4] = b"wxyz"  # no cut now
    assert mem[0:4] == bytearray(b"wxyz")
    _harness.nvm_cut_power_after(0)
    _harness.nvm_cut_power_after(None)
    mem[0:4] = b"1234"
    assert mem[0:4] == bytearray(b"1234")
    _harness.nvm_cut_power_after(3)
    _harness.reset()  # a reset disarms
    microcontroller.nvm[0:4] = b"abcd"
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ValueError):
            _harness.nvm_cut_power_after(bad)


# --- wear and time ------------------------------------------------------------------------------

def test_each_store_is_logged_and_costs_a_page_erase_and_write(mem):
    clock = _harness.clock()
    assert _harness.nvm_write_log() == [] and _harness.nvm_write_count() == 0
    mem[10:14] = b"abcd"
    assert clock.now_ns() == PAGE_NS
    mem[20] = 1  # one byte costs a whole page too
    assert clock.now_ns() == 2 * PAGE_NS
    clock.advance_to(clock.now_ns() + 5)
    mem[PAGE - 2:PAGE + 2] = b"wxyz"  # two pages
    assert clock.now_ns() == 4 * PAGE_NS + 5
    assert _harness.nvm_write_log() == [(10, 4, 0), (20, 1, PAGE_NS), (PAGE - 2, 4, 2 * PAGE_NS + 5)]
    assert _harness.nvm_write_count() == 3
    assert _harness.nvm_page_erases() == [3, 1]


def test_reads_refused_stores_and_empty_stores_are_free(mem):
    clock = _harness.clock()
    mem[0:SIZE]
    mem[5]
    mem[3:3] = b""
    with pytest.raises(ValueError):
        mem[0:2] = b"a"
    with pytest.raises(ValueError):
        mem[0] = 256
    assert clock.now_ns() == 0
    assert _harness.nvm_write_count() == 0 and _harness.nvm_page_erases() == [0, 0]


def test_a_torn_store_costs_the_erase_and_the_words_programmed(mem):
    _harness.nvm_cut_power_after(5)
    with pytest.raises(_harness.HostPowerCut):
        mem[16:32] = b"n" * 16
    assert _harness.clock().now_ns() == 85_000_000 + 6 * 41_000  # 21 bytes -> 6 words
    assert _harness.nvm_write_log() == [(16, 16, 0)]


def test_reset_clears_the_log():
    microcontroller.nvm[0] = 1
    _harness.reset()
    assert _harness.nvm_write_log() == [] and _harness.nvm_page_erases() == [0, 0]


# --- host/run.py --nvm --------------------------------------------------------------------------

def test_run_py_creates_the_nvm_file_at_the_boards_size(tmp_path):
    path = tmp_path / "board-nvm.bin"
    done = subprocess.run([sys.executable, RUN, "--nvm", str(path), "--seconds", "1"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert path.stat().st_size == SIZE


def test_run_py_refuses_an_nvm_file_of_the_wrong_size(tmp_path):
    path = tmp_path / "board-nvm.bin"
    path.write_bytes(b"\xff" * 10)
    done = subprocess.run([sys.executable, RUN, "--nvm", str(path), "--seconds", "1"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode != 0
    assert "8192" in done.stderr
    assert path.read_bytes() == b"\xff" * 10
