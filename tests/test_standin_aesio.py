"""aesio stand-in: each rule here is one a lenient stand-in would break.

The board's behaviour comes from shared-bindings/aesio/aes.c, shared-module/aesio/__init__.h,
shared-module/aesio/__init__.c and shared-module/aesio/aes.c (see host/circuitpython/aesio.py).
The reference cipher is the `cryptography` package, driven here independently of the stand-in.
"""
import array
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings, strategies as st

import _harness
import aesio

KEY = bytes(range(16))
IV = bytes(range(100, 116))


def raises(exc, message, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert str(info.value) == message
    return info.value


def ref_ecb(key, block):
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def ref_cbc(key, iv, data):
    return Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(data)


def ref_ctr(key, iv, data):
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)


# --- the module ---------------------------------------------------------------------------------


def test_the_three_modes_have_the_boards_numbers_and_nothing_else():
    assert (aesio.MODE_ECB, aesio.MODE_CBC, aesio.MODE_CTR) == (1, 2, 6)
    for name in ("MODE_CCM", "MODE_GCM", "MODE_CFB", "MODE_OFB", "MODE_CMAC"):
        assert not hasattr(aesio, name)


@pytest.mark.parametrize("mode", [0, 3, 4, 5, 7, -1, 255])
def test_any_other_mode_is_not_implemented(mode):
    # mode=0 too: the stub's "mode: int = 0" is not a mode; the firmware's default is ECB (1).
    raises(NotImplementedError, "Requested AES mode is unsupported", aesio.AES, KEY, mode)


def test_default_mode_is_ecb():
    assert aesio.AES(KEY).mode == aesio.MODE_ECB


@pytest.mark.parametrize("length", [0, 1, 15, 17, 20, 31, 33, 64])
def test_key_lengths_other_than_16_24_32_are_refused(length):
    raises(ValueError, "Key must be 16, 24, or 32 bytes long", aesio.AES, bytes(length))
    cipher = aesio.AES(KEY)
    raises(ValueError, "Key must be 16, 24, or 32 bytes long", cipher.rekey, bytes(length))


@pytest.mark.parametrize("length", [16, 24, 32])
def test_aes_128_192_256_keys_work(length):
    key = os.urandom(length)
    out = bytearray(16)
    aesio.AES(key).encrypt_into(bytes(16), out)
    assert bytes(out) == ref_ecb(key, bytes(16))


def test_key_must_be_a_buffer():
    raises(TypeError, "object with buffer protocol required", aesio.AES, 12345)
    raises(TypeError, "object with buffer protocol required", aesio.AES, None)


def test_key_and_iv_may_be_any_readable_buffer():
    out = bytearray(16)
    aesio.AES(bytearray(KEY)).encrypt_into(bytes(16), out)
    assert bytes(out) == ref_ecb(KEY, bytes(16))
    aesio.AES(memoryview(KEY)).encrypt_into(array.array("B", bytes(16)), out)
    assert bytes(out) == ref_ecb(KEY, bytes(16))
    # On the board a str lends its UTF-8 bytes as a read buffer.
    aesio.AES("Sixteen byte key").encrypt_into(bytes(16), out)
    assert bytes(out) == ref_ecb(b"Sixteen byte key", bytes(16))


@pytest.mark.parametrize("length", [0, 8, 15, 17, 32])
def test_an_iv_buffer_must_be_16_bytes(length):
    raises(ValueError, "IV length must be 16", aesio.AES, KEY, aesio.MODE_CBC, bytes(length))
    cipher = aesio.AES(KEY, aesio.MODE_CBC)
    raises(ValueError, "IV length must be 16", cipher.rekey, KEY, bytes(length))


def test_an_iv_that_is_no_buffer_is_ignored_like_a_missing_one():
    # aes.c: `if (IV != NULL && mp_get_buffer(IV, ...))` -- no error, the IV stays zeros.
    cipher = aesio.AES(KEY, aesio.MODE_CBC, 12345)
    out = bytearray(16)
    cipher.encrypt_into(bytes(16), out)
    assert bytes(out) == ref_cbc(KEY, bytes(16), bytes(16))


def test_mode_must_be_an_int():
    raises(TypeError, "can't convert float to int", aesio.AES, KEY, 1.0)
    raises(TypeError, "can't convert str to int", aesio.AES, KEY, "ECB")


def test_legacy_arguments_are_accepted_and_ignored():
    cipher = aesio.AES(KEY, aesio.MODE_CTR, IV, 5, 8)
    out = bytearray(20)
    cipher.encrypt_into(bytes(20), out)
    assert bytes(out) == ref_ctr(KEY, IV, bytes(20))
    aesio.AES(key=KEY, mode=aesio.MODE_ECB, IV=None, counter=None, segment_size=8)


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError):
        aesio.AES(KEY, iv=IV)  # the board spells it IV


# --- buffer rules --------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 15, 17, 32])
def test_ecb_works_on_exactly_16_bytes(length):
    cipher = aesio.AES(KEY)
    for method in (cipher.encrypt_into, cipher.decrypt_into):
        raises(ValueError, "ECB only operates on 16 bytes at a time", method, bytes(length), bytearray(length))


@pytest.mark.parametrize("length", [1, 15, 17, 31, 33])
def test_cbc_works_on_multiples_of_16(length):
    cipher = aesio.AES(KEY, aesio.MODE_CBC, IV)
    for method in (cipher.encrypt_into, cipher.decrypt_into):
        raises(ValueError, "CBC blocks must be multiples of 16 bytes", method, bytes(length), bytearray(length))


def test_cbc_accepts_zero_bytes():
    aesio.AES(KEY, aesio.MODE_CBC, IV).encrypt_into(b"", bytearray())


@pytest.mark.parametrize("mode", [aesio.MODE_ECB, aesio.MODE_CBC, aesio.MODE_CTR])
def test_source_and_destination_must_have_the_same_length(mode):
    cipher = aesio.AES(KEY, mode, IV)
    for method in (cipher.encrypt_into, cipher.decrypt_into):
        raises(ValueError, "Source and destination buffers must be the same length", method,
               bytes(16), bytearray(32))
        raises(ValueError, "Source and destination buffers must be the same length", method,
               bytes(32), bytearray(16))


def test_destination_must_be_writable():
    cipher = aesio.AES(KEY)
    for dest in (bytes(16), memoryview(bytes(16)), "x" * 16, 16):
        raises(TypeError, "object with buffer protocol required", cipher.encrypt_into, bytes(16), dest)
    raises(TypeError, "object with buffer protocol required", cipher.encrypt_into, 16, bytearray(16))


def test_source_and_destination_may_be_the_same_buffer():
    buf = bytearray(16)
    aesio.AES(KEY).encrypt_into(buf, buf)
    assert bytes(buf) == ref_ecb(KEY, bytes(16))


# --- the cipher and its state ---------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), block=st.binary(min_size=16, max_size=16))
def test_ecb_matches_cryptography_and_decrypts_back(key, block):
    cipher = aesio.AES(key)
    out = bytearray(16)
    cipher.encrypt_into(block, out)
    assert bytes(out) == ref_ecb(key, block)
    back = bytearray(16)
    cipher.decrypt_into(out, back)
    assert bytes(back) == block


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=16, max_size=16),
       blocks=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=st.binary(min_size=64, max_size=64))
def test_cbc_chains_across_calls(key, iv, blocks, seed):
    """Several calls continue one CBC chain: the same as one call over everything."""
    data = (seed * 4)[:16 * sum(blocks)]
    cipher = aesio.AES(key, aesio.MODE_CBC, iv)
    out = bytearray()
    at = 0
    for n in blocks:
        chunk = bytearray(16 * n)
        cipher.encrypt_into(data[at:at + 16 * n], chunk)
        out += chunk
        at += 16 * n
    assert bytes(out) == ref_cbc(key, iv, data)
    decipher = aesio.AES(key, aesio.MODE_CBC, iv)
    back = bytearray(len(out))
    decipher.decrypt_into(out, back)
    assert bytes(back) == data


def test_ctr_starts_a_fresh_keystream_block_at_each_call():
    """tiny-AES-c: the unused tail of a call's last keystream block is thrown away."""
    data = bytes(range(20))
    cipher = aesio.AES(KEY, aesio.MODE_CTR, IV)
    first, second = bytearray(10), bytearray(10)
    cipher.encrypt_into(data[:10], first)
    cipher.encrypt_into(data[10:], second)
    counter1 = (int.from_bytes(IV, "big") + 1).to_bytes(16, "big")
    assert bytes(first) == ref_ctr(KEY, IV, data[:10])
    assert bytes(second) == ref_ctr(KEY, counter1, data[10:])  # block 1's keystream, not block 0's tail
    assert bytes(first + second) != ref_ctr(KEY, IV, data)


def test_ctr_counter_is_one_128_bit_big_endian_number():
    iv = bytes([0] * 8 + [0xFF] * 8)
    cipher = aesio.AES(KEY, aesio.MODE_CTR, iv)
    out = bytearray(48)
    cipher.encrypt_into(bytes(48), out)
    assert bytes(out) == ref_ctr(KEY, iv, bytes(48))
    wrap = aesio.AES(KEY, aesio.MODE_CTR, b"\xff" * 16)
    out = bytearray(32)
    wrap.encrypt_into(bytes(32), out)
    assert bytes(out[16:]) == ref_ecb(KEY, bytes(16))  # all ones + 1 wraps to zero


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=16, max_size=16),
       data=st.binary(max_size=70))
def test_ctr_any_length_matches_cryptography_and_is_its_own_inverse(key, iv, data):
    out = bytearray(len(data))
    aesio.AES(key, aesio.MODE_CTR, iv).encrypt_into(data, out)
    assert bytes(out) == ref_ctr(key, iv, data)
    back = bytearray(len(data))
    aesio.AES(key, aesio.MODE_CTR, iv).decrypt_into(out, back)
    assert bytes(back) == data


def test_rekey_restarts_the_chain_with_the_new_iv_or_zeros():
    cipher = aesio.AES(KEY, aesio.MODE_CBC, IV)
    out = bytearray(16)
    cipher.encrypt_into(bytes(16), out)
    cipher.rekey(KEY, IV)
    again = bytearray(16)
    cipher.encrypt_into(bytes(16), again)
    assert again == out
    other = os.urandom(16)
    cipher.rekey(other)
    cipher.encrypt_into(bytes(16), again)
    assert bytes(again) == ref_cbc(other, bytes(16), bytes(16))


def test_mode_can_be_changed_and_keeps_key_and_iv():
    cipher = aesio.AES(KEY, aesio.MODE_CBC, IV)
    cipher.mode = aesio.MODE_CTR
    assert cipher.mode == aesio.MODE_CTR
    out = bytearray(5)
    cipher.encrypt_into(bytes(5), out)
    assert bytes(out) == ref_ctr(KEY, IV, bytes(5))
    with pytest.raises(NotImplementedError):
        cipher.mode = 0
    with pytest.raises(TypeError):
        cipher.mode = 1.5
    assert cipher.mode == aesio.MODE_CTR


def test_no_new_attributes():
    with pytest.raises(AttributeError):
        aesio.AES(KEY).key = KEY  # type: ignore[attr-defined]


# --- the host-only block counter ------------------------------------------------------------------


def test_block_operations_are_counted_and_reset():
    assert _harness.aes_block_count() == 0
    ecb = aesio.AES(KEY)
    out = bytearray(16)
    ecb.encrypt_into(bytes(16), out)
    ecb.decrypt_into(out, out)
    assert _harness.aes_block_count() == 2
    cbc = aesio.AES(KEY, aesio.MODE_CBC)
    cbc.encrypt_into(bytes(48), bytearray(48))
    assert _harness.aes_block_count() == 5
    ctr = aesio.AES(KEY, aesio.MODE_CTR)
    ctr.encrypt_into(bytes(17), bytearray(17))  # two keystream blocks
    ctr.encrypt_into(b"", bytearray())  # none
    assert _harness.aes_block_count() == 7
    _harness.reset()
    assert _harness.aes_block_count() == 0
