"""kaskad.ccm (AES-128-CCM, 4-byte MIC, 13-byte nonce, no associated data) against the
`cryptography` package's AESCCM(key, tag_length=4), which is what bthome-ble decrypts with.

The firmware's CCM runs here on the strict aesio stand-in, so a call the board would refuse
fails here too.
"""
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hypothesis import given, settings, strategies as st

import _harness
from kaskad.ccm import CCM, MIC_LEN

keys = st.binary(min_size=16, max_size=16)
nonces = st.binary(min_size=13, max_size=13)


@settings(max_examples=300, deadline=None)
@given(key=keys, nonce=nonces, payload=st.binary(min_size=0, max_size=64))
def test_encrypt_matches_aesccm(key, nonce, payload):
    n = len(payload)
    out = bytearray(n + MIC_LEN)
    assert CCM(key).encrypt_into(nonce, payload, n, out) == n + MIC_LEN
    assert bytes(out) == AESCCM(key, tag_length=4).encrypt(nonce, payload, None)


@settings(max_examples=300, deadline=None)
@given(key=keys, nonce=nonces, payload=st.binary(min_size=0, max_size=64))
def test_decrypts_what_aesccm_encrypts(key, nonce, payload):
    n = len(payload)
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, payload, None)
    out = bytearray(n)
    assert CCM(key).decrypt_into(nonce, sealed, n, out) is True
    assert bytes(out) == payload


@settings(max_examples=200, deadline=None)
@given(key=keys, nonce=nonces, payload=st.binary(min_size=0, max_size=64), data=st.data())
def test_any_flipped_bit_fails_verification_and_leaves_no_plaintext(key, nonce, payload, data):
    n = len(payload)
    sealed = bytearray(AESCCM(key, tag_length=4).encrypt(nonce, payload, None))
    bit = data.draw(st.integers(0, 8 * len(sealed) - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidTag):  # the reference agrees the message is forged
        AESCCM(key, tag_length=4).decrypt(nonce, bytes(sealed), None)
    out = bytearray(b"\xaa" * n)
    assert CCM(key).decrypt_into(nonce, sealed, n, out) is False
    assert bytes(out) == bytes(n)


@settings(max_examples=100, deadline=None)
@given(key=keys, other=keys, nonce=nonces, other_nonce=nonces, payload=st.binary(min_size=0, max_size=32))
def test_wrong_key_or_nonce_fails(key, other, nonce, other_nonce, payload):
    n = len(payload)
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, payload, None)
    out = bytearray(n)
    if other != key:
        assert CCM(other).decrypt_into(nonce, sealed, n, out) is False
    if other_nonce != nonce:
        assert CCM(key).decrypt_into(other_nonce, sealed, n, out) is False


@settings(max_examples=100, deadline=None)
@given(key=keys, nonce=nonces, payload=st.binary(min_size=0, max_size=40))
def test_in_place_and_at_an_offset_through_memoryviews(key, nonce, payload):
    n = len(payload)
    buf = bytearray(b"\x55" * 8) + bytearray(payload) + bytearray(MIC_LEN + 3)
    view = memoryview(buf)[8:]
    CCM(key).encrypt_into(nonce, view, n, view)
    assert bytes(buf[8:8 + n + MIC_LEN]) == AESCCM(key, tag_length=4).encrypt(nonce, payload, None)
    assert bytes(buf[:8]) == b"\x55" * 8 and bytes(buf[8 + n + MIC_LEN:]) == bytes(3)
    assert CCM(key).decrypt_into(nonce, view, n, view) is True
    assert bytes(buf[8:8 + n]) == payload


def test_rekey_switches_keys():
    a, b = bytes(range(16)), bytes(range(16, 32))
    nonce = bytes(13)
    ccm = CCM(a)
    out = bytearray(9)
    ccm.rekey(b)
    ccm.encrypt_into(nonce, b"hello", 5, out)
    assert bytes(out) == AESCCM(b, tag_length=4).encrypt(nonce, b"hello", None)


@pytest.mark.parametrize("n, blocks", [(0, 2), (1, 4), (14, 4), (15, 4), (16, 4), (17, 6), (32, 6), (64, 10)])
def test_block_operations_are_the_rfc_minimum(n, blocks):
    """CBC-MAC over B0 + ceil(n/16) blocks, CTR over A0 + ceil(n/16) blocks: 2 + 2*ceil(n/16)."""
    ccm = CCM(bytes(16))
    start = _harness.aes_block_count()
    ccm.encrypt_into(bytes(13), bytes(n), n, bytearray(n + MIC_LEN))
    assert _harness.aes_block_count() - start == blocks
    start = _harness.aes_block_count()
    sealed = AESCCM(bytes(16), tag_length=4).encrypt(bytes(13), bytes(n), None)
    ccm.decrypt_into(bytes(13), sealed, n, bytearray(n))
    assert _harness.aes_block_count() - start == blocks


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="key must be 16 bytes"):
        CCM(bytes(32))  # aesio would take AES-256; BTHome is AES-128
    ccm = CCM(bytes(16))
    with pytest.raises(ValueError, match="key must be 16 bytes"):
        ccm.rekey(bytes(15))
    with pytest.raises(ValueError, match="nonce must be 13 bytes"):
        ccm.encrypt_into(bytes(12), b"abc", 3, bytearray(7))
    with pytest.raises(ValueError, match="too short"):
        ccm.encrypt_into(bytes(13), b"abc", 3, bytearray(6))
    with pytest.raises(ValueError, match="too short"):
        ccm.encrypt_into(bytes(13), b"ab", 3, bytearray(7))
    with pytest.raises(ValueError, match="too short"):
        ccm.decrypt_into(bytes(13), bytes(6), 3, bytearray(3))
    with pytest.raises(ValueError, match="outside"):
        ccm.encrypt_into(bytes(13), b"", -1, bytearray(7))
