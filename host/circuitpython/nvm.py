"""Stand-in for CircuitPython's ``nvm`` module as CircuitPython 10.x runs it on the Feather nRF52840
Express (Nordic port): ``ByteArray``, whose one instance is ``microcontroller.nvm``.

It accepts exactly what the board accepts and fails the same way; the comments name the firmware
source each rule comes from (shared-bindings/nvm/ByteArray.c, ports/nordic/common-hal/nvm/
ByteArray.c, ports/nordic/peripherals/nrf/nvm.c, ports/nordic/mpconfigport.h, py/obj.c,
py/objslice.c, py/sequence.c, py/runtime.c).

The memory, as on the board:
- 8192 bytes (ports/nordic/mpconfigport.h: CIRCUITPY_INTERNAL_NVM_SIZE defaults to 8 KiB and the
  Feather's mpconfigboard.h does not change it), two 4096-byte flash pages, page-aligned.
- Erased flash reads 0xFF (the nRF52840 NVMC can only program bits to 0; erase sets them to 1).
- A store erases every 4 KB page it touches and reprograms the whole page from a RAM copy
  (common-hal write_page() + nrf_nvm_safe_flash_page_write()): even one byte costs a full
  erase + write, and wears that page (nRF52840: 10 000 erase cycles per page).
- Cost in virtual time, per page touched: 85 ms erase (nrfx NVMC_PAGE_ERASE_DURATION_MS for the
  nRF52840; the product specification's t_ERASEPAGE) + 1024 words x 41 us (t_WRITE, time to
  write one 32-bit word) = 126.984 ms. Both are the datasheet's maxima; the SoftDevice may
  stretch them further when the radio is busy.

Host-only controls live in ``_harness``: ``set_nvm_file``, ``nvm_cut_power_after``,
``nvm_write_log``, ``nvm_write_count``, ``nvm_page_erases``. ``_harness.reset()`` gives a fresh,
erased NVM and forgets the file, the armed power cut and the log.

A power cut during a store (``_harness.nvm_cut_power_after(n)``) tears it the way the flash does:
the pages before the cut page hold the new data, the cut page holds its old bytes before the
store's start, then the first ``n`` new bytes, then 0xFF up to the page end (erased, never
reprogrammed), and later pages are untouched (never erased). ``n = 0`` cuts right after the first
page was erased and its bytes before the store's start reprogrammed. ``n >= length``: the store
completes, then the power goes.
"""
import array as _array
import os as _os
import _harness
from _mpobj import get_int as _get_int, int_maybe as _int_maybe
from _vclock import HostPowerCut as _HostPowerCut

__all__ = ["ByteArray"]

_SIZE = 8 * 1024  # CIRCUITPY_INTERNAL_NVM_SIZE (ports/nordic/mpconfigport.h)
_PAGE = 4096  # FLASH_PAGE_SIZE (ports/nordic/peripherals/nrf/nvm.c)
_ERASED = 0xFF
_ERASE_PAGE_NS = 85_000_000  # t_ERASEPAGE, nRF52840 (nrfx NVMC_PAGE_ERASE_DURATION_MS = 85)
_WRITE_WORD_NS = 41_000  # t_WRITE: one 32-bit word, nRF52840 product specification (max)
_WORDS_PER_PAGE = _PAGE // 4
_PAGE_WRITE_NS = _ERASE_PAGE_NS + _WORDS_PER_PAGE * _WRITE_WORD_NS  # 126 984 000 ns

# The flash itself, and what the host set up around it.
_flash = bytearray([_ERASED]) * _SIZE
_file: "str | None" = None
_cut_after: "int | None" = None
_failures = 0  # how many of the next stores fail (``_harness.nvm_fail_next``)
_log: "list[tuple[int, int, int]]" = []
_erases: "list[int]" = [0] * (_SIZE // _PAGE)


# --- the board's argument conversions -------------------------------------------------------

def _get_index(index: object) -> int:
    """py/obj.c mp_get_index(..., is_slice=false): negative counts from the end; then 0..len-1."""
    i = _int_maybe(index)
    if i is None:
        raise TypeError("ByteArray indices must be integers, not %s" % type(index).__name__)
    if i < 0:
        i += _SIZE
    if not 0 <= i <= _SIZE - 1:
        raise IndexError("index out of range")  # mp_arg_validate_index_range(.., MP_QSTR_index)
    return i


def _fast_slice(s: slice) -> "tuple[int, int]":
    """py/objslice.c mp_obj_slice_indices() + py/sequence.c mp_seq_get_fast_slice_indexes();
    ByteArray.c refuses any step but 1."""
    if s.step is None:
        step = 1
    else:
        step = _get_int(s.step)
        if step == 0:
            raise ValueError("slice step cannot be zero")
    length = _SIZE
    if step > 0:
        if s.start is None:
            start = 0
        else:
            start = _get_int(s.start)
            if start < 0:
                start += length
            start = min(length, max(start, 0))
        if s.stop is None:
            stop = length
        else:
            stop = _get_int(s.stop)
            if stop < 0:
                stop += length
            stop = min(length, max(stop, 0))
    else:
        # Only to convert (and so reject) start and stop in the board's order; step != 1 fails below.
        if s.start is not None:
            _get_int(s.start)
        if s.stop is not None:
            _get_int(s.stop)
        start = stop = 0
    if step != 1:
        raise NotImplementedError("only slices with step=1 (aka None) are supported")
    if start > stop:
        stop = start
    return start, stop


def _rhs_bytes(value: object, want: int) -> bytes:
    """shared-bindings/nvm/ByteArray.c slice assignment: only array, bytearray, memoryview or bytes
    (exact types), as many bytes as the slice, of one-byte items; checked in that order."""
    if type(value) not in (bytes, bytearray, memoryview, _array.array):
        raise NotImplementedError("array/bytes required on right side")
    view = memoryview(value)  # type: ignore
    if view.nbytes != want:
        raise ValueError("Slice and value different lengths.")
    if view.itemsize != 1:
        raise ValueError("Array values should be single bytes.")
    return view.tobytes()


# --- the flash ----------------------------------------------------------------------------------

def _store(start: int, data: bytes) -> None:
    """ports/nordic/common-hal/nvm/ByteArray.c common_hal_nvm_bytearray_set_bytes(): for each page
    touched, copy it to RAM, patch in the new bytes, erase the page, program all of it."""
    if not data:
        return  # the page loop never runs: no erase, no time
    global _cut_after, _failures
    if _failures:
        # ports/nordic/common-hal/nvm/ByteArray.c: write_page() fails when the SoftDevice refuses
        # the flash operation (peripherals/nrf/nvm.c sd_flash_page_erase/write not NRF_SUCCESS);
        # shared-bindings/nvm/ByteArray.c then raises. Modelled as refused before the erase:
        # the flash is unchanged.
        _failures -= 1
        raise RuntimeError("Unable to write to nvm.")
    clock = _harness.clock()
    cut, _cut_after = _cut_after, None
    if cut is not None and cut >= len(data):
        cut_mid_write: "int | None" = None
    else:
        cut_mid_write = cut
    _log.append((start, len(data), clock.now_ns()))
    cost = 0
    done = 0  # bytes of ``data`` programmed
    addr = start
    try:
        while done < len(data):
            page = addr // _PAGE
            offset = addr % _PAGE
            n = min(len(data) - done, _PAGE - offset)
            base = page * _PAGE
            if cut_mid_write is not None and done > 0 and cut_mid_write == done:
                break  # cut after the previous page was finished, before this one is erased
            new_page = bytearray(_flash[base:base + _PAGE])
            new_page[offset:offset + n] = data[done:done + n]
            _erases[page] += 1
            if cut_mid_write is not None and cut_mid_write < done + n:
                programmed = offset + (cut_mid_write - done)
                _flash[base:base + programmed] = new_page[:programmed]
                _flash[base + programmed:base + _PAGE] = bytes([_ERASED]) * (_PAGE - programmed)
                cost += _ERASE_PAGE_NS + -(-programmed // 4) * _WRITE_WORD_NS
                done = cut_mid_write
                break
            _flash[base:base + _PAGE] = new_page
            cost += _PAGE_WRITE_NS
            done += n
            addr += n
    finally:
        _save()
    clock.advance_to(clock.now_ns() + cost)  # the store blocks until the flash is done
    if cut is not None:
        raise _HostPowerCut("power cut after %d of %d bytes stored to nvm[%d:%d]"
                           % (min(cut, len(data)), len(data), start, start + len(data)))


def _save() -> None:
    if _file is not None:
        with open(_file, "r+b") as f:
            f.write(_flash)


def _fresh() -> None:
    """Power-on without a file: erased flash, nothing armed, nothing logged. Any other reset or
    a reload keeps the flash (it is flash) and what the host armed; only the log starts afresh."""
    global _file, _cut_after, _failures
    _log.clear()
    if _harness.reset_cause() != _harness.POWER_ON:
        return
    _flash[:] = bytes([_ERASED]) * _SIZE
    _file = None
    _cut_after = None
    _failures = 0
    _erases[:] = [0] * len(_erases)


_harness.on_reset(_fresh)


def _attach_file(path: "str | None") -> None:
    """``_harness.set_nvm_file``: load the NVM from ``path`` (made, erased, if missing)."""
    global _file
    if path is None:
        _file = None
        return
    path = _os.fspath(path)
    if not _os.path.exists(path):
        with open(path, "wb") as f:
            f.write(bytes([_ERASED]) * _SIZE)
    with open(path, "rb") as f:
        content = f.read()
    if len(content) != _SIZE:
        raise ValueError("NVM file %s holds %d bytes, but the Feather nRF52840 Express's nvm is %d "
                         "bytes: give another file, or delete this one to start erased"
                         % (path, len(content), _SIZE))
    _flash[:] = content
    _file = path


def _arm_failures(n_stores: int) -> None:
    global _failures
    if type(n_stores) is not int or n_stores < 0:
        raise ValueError("n_stores must be an int >= 0")
    _failures = n_stores


def _arm_cut(n_bytes: "int | None") -> None:
    global _cut_after
    if n_bytes is not None and (type(n_bytes) is not int or n_bytes < 0):
        raise ValueError("n_bytes must be an int >= 0, or None to disarm")
    _cut_after = n_bytes


# --- the binding --------------------------------------------------------------------------------

class ByteArray:
    """Presents a stretch of non-volatile memory as a bytearray (``microcontroller.nvm``).

    Each assignment erases and rewrites the flash pages it touches: assign all values that change
    at once, in one slice. Firmware cannot make one; use ``microcontroller.nvm``.
    """

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> "ByteArray":
        raise TypeError("cannot create 'ByteArray' instances")  # no make_new (py/objtype.c)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("can't set attribute '%s'" % name)  # py/runtime.c mp_store_attr()

    def __delattr__(self, name: str) -> None:
        raise AttributeError("can't set attribute '%s'" % name)

    def __repr__(self) -> str:
        return "<ByteArray>"  # no print slot: py/obj.c mp_obj_print_helper()

    def __len__(self) -> int:
        return _SIZE

    def __bool__(self) -> bool:
        return _SIZE != 0

    def __getitem__(self, index: object) -> "int | bytearray":
        """An int for an index, a new bytearray for a slice (step 1 only)."""
        if type(index) is slice:
            start, stop = _fast_slice(index)
            return bytearray(_flash[start:stop])
        return _flash[_get_index(index)]

    def __setitem__(self, index: object, value: object) -> None:
        """Store one byte (an int 0-255) or a slice (a buffer of exactly the slice's length)."""
        if type(index) is slice:
            start, stop = _fast_slice(index)
            _store(start, _rhs_bytes(value, stop - start))
            return
        i = _get_index(index)
        byte = _get_int(value)
        if not 0 <= byte <= 255:
            raise ValueError("bytes must be 0-255")  # mp_arg_validate_int_range(.., MP_QSTR_bytes)
        _store(i, bytes([byte]))

    def __delitem__(self, index: object) -> None:
        raise TypeError("'ByteArray' object doesn't support item deletion")  # py/obj.c

    def __iter__(self) -> "object":
        # No iter slot and no __getitem__ in locals: py/runtime.c mp_getiter() refuses it (so do
        # list(), bytes(), for-loops). CPython would iterate through __getitem__.
        raise TypeError("'ByteArray' object is not iterable")

    def __contains__(self, item: object) -> bool:
        # ``in`` falls back to mp_getiter() on the board (py/runtime.c mp_binary_op).
        raise TypeError("'ByteArray' object is not iterable")


_the_nvm: ByteArray = object.__new__(ByteArray)  # microcontroller.nvm
