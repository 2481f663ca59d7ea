"""Stand-in for CircuitPython's ``aesio`` as CircuitPython 10.x runs it on the Feather nRF52840.

It accepts exactly what the board accepts and fails the same way; the rules come from
shared-bindings/aesio/aes.c (arguments, lengths, messages), shared-module/aesio/__init__.h (the
mode numbers), shared-module/aesio/__init__.c (construct, rekey, set_mode) and
shared-module/aesio/aes.c (tiny-AES-c: how CBC and CTR carry state from one call to the next),
py/argcheck.c and py/obj.c (argument conversion). The cipher itself is the ``cryptography``
package's AES.

What the board does, and so does this:
- Modes are ``MODE_ECB`` = 1, ``MODE_CBC`` = 2, ``MODE_CTR`` = 6 (the pycrypto numbers) and no
  other: anything else, 0 included, is ``NotImplementedError("Requested AES mode is
  unsupported")``. The default mode is ECB. There is no CCM, GCM or CMAC.
- ``AES(key, mode=MODE_ECB, IV=None, counter=None, segment_size=8)``, every argument positional
  or keyword. ``counter`` and ``segment_size`` are accepted "for legacy reasons" and do nothing.
- A key is 16, 24 or 32 bytes (``ValueError("Key must be 16, 24, or 32 bytes long")``).
  An IV that is a buffer must be 16 bytes (``ValueError("IV length must be 16")``); an IV that
  is not a buffer at all (an int, None) is silently ignored, and a missing IV is all zeros.
- ``rekey(key, IV=None)`` recomputes the key schedule and resets the IV (to zeros without one).
- CBC chains: the IV after a call is the last ciphertext block, so the next call continues the
  chain (encrypt and decrypt alike). Only ``rekey`` starts a new chain.
- CTR: the 16-byte counter block (the IV) is incremented as one big-endian 128-bit number per
  keystream block. Each call starts a fresh keystream block: the unused tail of the last block
  of a call is thrown away, so two calls of 10 bytes are NOT one call of 20 bytes.
- ``encrypt_into(src, dest)`` / ``decrypt_into(src, dest)``: src and dest the same length
  ("Source and destination buffers must be the same length"), then ECB exactly 16 bytes
  ("ECB only operates on 16 bytes at a time"), CBC a multiple of 16 ("CBC blocks must be
  multiples of 16 bytes"), CTR any length. dest must be writable.
- ``mode`` is a read-write property; setting it validates like the constructor and keeps the
  key and the IV.

Host-only: every AES block operation (one 16-byte encryption or decryption) is counted; read it
with ``_harness.aes_block_count()`` (``_harness.reset()`` sets it back to 0).
"""
from typing import Any, Optional

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import _harness
from _mpobj import get_int as _get_int, get_write_buffer

__all__ = ["AES", "MODE_ECB", "MODE_CBC", "MODE_CTR"]

# shared-module/aesio/__init__.h: "These values were chosen to correspond with the values
# present in pycrypto."
MODE_ECB = 1
MODE_CBC = 2
MODE_CTR = 6
_MODES = (MODE_ECB, MODE_CBC, MODE_CTR)
_BLOCK = 16  # AES_BLOCKLEN

_blocks = 0  # host-only: AES block operations since _harness.reset()


def _reset() -> None:
    global _blocks
    _blocks = 0


_harness.on_reset(_reset)


def _count(n: int) -> None:
    global _blocks
    _blocks += n


# --- the board's argument conversions ---------------------------------------------------------

def _read_buffer(obj: object) -> Optional[bytes]:
    """py/obj.c mp_get_buffer(..., MP_BUFFER_READ): the bytes, or None for a non-buffer.

    On the board a str offers its UTF-8 bytes for reading, like bytes, bytearray, memoryview
    and array.array.
    """
    if isinstance(obj, str):
        return obj.encode("utf-8")
    try:
        return bytes(memoryview(obj).cast("B"))  # type: ignore[arg-type]
    except TypeError:
        return None


def _read_buffer_raise(obj: object) -> bytes:
    """py/obj.c mp_get_buffer_raise(..., MP_BUFFER_READ)."""
    data = _read_buffer(obj)
    if data is None:
        raise TypeError("object with buffer protocol required")
    return data


_write_buffer_raise = get_write_buffer


def _validate_key(obj: object) -> bytes:
    key = _read_buffer_raise(obj)
    if len(key) not in (16, 24, 32):
        raise ValueError("Key must be 16, 24, or 32 bytes long")
    return key


def _validate_iv(obj: object) -> Optional[bytes]:
    """aes.c: ``if (IV != NULL && mp_get_buffer(IV, ...))`` -- a non-buffer IV is ignored."""
    if obj is None:
        return None
    iv = _read_buffer(obj)
    if iv is None:
        return None
    if len(iv) != _BLOCK:
        raise ValueError("IV length must be %d" % _BLOCK)  # mp_arg_validate_length(.., MP_QSTR_IV)
    return iv


def _validate_mode(mode: int) -> int:
    if mode not in _MODES:
        raise NotImplementedError("Requested AES mode is unsupported")
    return mode


# --- the binding ------------------------------------------------------------------------------

class AES:
    """Encrypt and decrypt AES streams (``aesio.AES``), strict like the Feather nRF52840."""

    __slots__ = ("_mode", "_iv", "_counter", "_encryptor", "_decryptor")
    _mode: int
    _iv: bytearray
    _counter: int
    _encryptor: Any
    _decryptor: Any

    def __init__(self, key: object, mode: object = MODE_ECB, IV: object = None,
                 counter: object = None, segment_size: object = 8) -> None:
        # mp_arg_parse_all converts the MP_ARG_INT arguments first.
        mode_int = _get_int(mode)
        _get_int(segment_size)
        key_bytes = _validate_key(key)
        _validate_mode(mode_int)
        iv = _validate_iv(IV)
        self._counter = 0 if counter is None else _get_int(counter)  # stored, never used
        self._mode = mode_int
        self._set_key(key_bytes, iv)

    def _set_key(self, key: bytes, iv: Optional[bytes]) -> None:
        """shared-module/aesio/__init__.c common_hal_aesio_aes_rekey(): memset the context, then
        the key schedule and the IV (zeros when there is none)."""
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._encryptor = cipher.encryptor()
        self._decryptor = cipher.decryptor()
        self._iv = bytearray(iv if iv is not None else bytes(_BLOCK))

    def rekey(self, key: object, IV: object = None) -> None:
        """Update the AES state with the given key (and IV, else zeros)."""
        key_bytes = _validate_key(key)
        iv = _validate_iv(IV)
        self._set_key(key_bytes, iv)

    @property
    def mode(self) -> int:
        return self._mode

    @mode.setter
    def mode(self, value: object) -> None:
        self._mode = _validate_mode(_get_int(value))

    def _buffers(self, src: object, dest: object) -> "tuple[bytes, memoryview]":
        data = _read_buffer_raise(src)
        out = _write_buffer_raise(dest)
        if len(data) != len(out):
            raise ValueError("Source and destination buffers must be the same length")
        if self._mode == MODE_ECB and len(data) != _BLOCK:
            raise ValueError("ECB only operates on 16 bytes at a time")
        if self._mode == MODE_CBC and len(data) % _BLOCK:
            raise ValueError("CBC blocks must be multiples of 16 bytes")
        return data, out

    def _ecb(self, block: bytes) -> bytes:
        _count(1)
        return self._encryptor.update(block)  # type: ignore[no-any-return]

    def _ecb_inverse(self, block: bytes) -> bytes:
        _count(1)
        return self._decryptor.update(block)  # type: ignore[no-any-return]

    def _ctr(self, data: bytes) -> bytes:
        """tiny-AES-c AES_CTR_xcrypt_buffer(): a fresh keystream block at each call's start."""
        out = bytearray(len(data))
        iv = self._iv
        for start in range(0, len(data), _BLOCK):
            stream = self._ecb(bytes(iv))
            value = (int.from_bytes(iv, "big") + 1) & ((1 << 128) - 1)
            iv[:] = value.to_bytes(_BLOCK, "big")
            for i in range(start, min(start + _BLOCK, len(data))):
                out[i] = data[i] ^ stream[i - start]
        return bytes(out)

    def encrypt_into(self, src: object, dest: object) -> None:
        """Encrypt the buffer from ``src`` into ``dest``."""
        data, out = self._buffers(src, dest)
        if self._mode == MODE_ECB:
            result = self._ecb(data)
        elif self._mode == MODE_CBC:
            chunks = []
            for start in range(0, len(data), _BLOCK):
                block = bytes(a ^ b for a, b in zip(data[start:start + _BLOCK], self._iv))
                cipher_block = self._ecb(block)
                self._iv[:] = cipher_block
                chunks.append(cipher_block)
            result = b"".join(chunks)
        else:
            result = self._ctr(data)
        out[:] = result

    def decrypt_into(self, src: object, dest: object) -> None:
        """Decrypt the buffer from ``src`` into ``dest``."""
        data, out = self._buffers(src, dest)
        if self._mode == MODE_ECB:
            result = self._ecb_inverse(data)
        elif self._mode == MODE_CBC:
            chunks = []
            for start in range(0, len(data), _BLOCK):
                cipher_block = data[start:start + _BLOCK]
                plain = self._ecb_inverse(cipher_block)
                chunks.append(bytes(a ^ b for a, b in zip(plain, self._iv)))
                self._iv[:] = cipher_block
            result = b"".join(chunks)
        else:
            result = self._ctr(data)
        out[:] = result

    def __repr__(self) -> str:
        return "<AES>"
