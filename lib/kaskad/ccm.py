"""AES-128-CCM (RFC 3610) with a 4-byte MIC, a 13-byte nonce and no associated data: BTHome v2.

The board's ``aesio`` has ECB, CBC and CTR but no CCM, so CCM is built here from single AES
block encryptions in ECB mode:

- CBC-MAC: X1 = E(B0), X(i+1) = E(X(i) xor block i of the payload, zero-padded); T = X[0:4].
  B0 = flags 0x09 (no associated data, M = 4: (4-2)/2 << 3, L = 2: L-1) | nonce | length (2, big-endian).
- CTR: A(i) = flags 0x01 (L-1) | nonce | i (2, big-endian); S(i) = E(A(i)). The ciphertext is the
  payload xor S(1), S(2), ...; the MIC is T xor S(0)[0:4].

Why ECB and not aesio's CBC (for the MAC) + CTR (for the keystream): both take the same number of
block operations, the RFC minimum of 2 + 2 x ceil(n / 16) (4 for every BTHome packet, n <= 15),
and neither allocates. But aesio's CBC and CTR keep state from one call to the next (the chained
IV, the counter block, and CTR throws away the unused tail of its last keystream block at each
call), so each message would need two ``rekey`` calls (two key expansions) to restart them, and
a forgotten one silently breaks the MAC. ECB has no state: one AES object, keyed once, whose
``encrypt_into`` of a preallocated 16-byte block is the only primitive used. The xor of the
(at most 32) bytes per packet costs a few hundred bytecodes, every few seconds at most.

No allocation after construction: the three 16-byte blocks are preallocated, loops index
buffers in place (slices would allocate), and the source may be the destination (in-place).
Decryption verifies the MIC over every byte before saying no (no early exit on the first
differing byte), and wipes the plaintext it wrote when the MIC is wrong.
"""

import aesio

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


KEY_LEN = const(16)
NONCE_LEN = const(13)
MIC_LEN = const(4)
_BLOCK = const(16)
_FLAGS_B0 = const(0x09)  # Adata 0, M' = (4 - 2) / 2 = 1 in bits 3-5, L' = L - 1 = 1
_FLAGS_A = const(0x01)  # L' = 1
_MAX_LEN = const(0xFFFF)  # L = 2 bytes of length


def _checked_key(key):
    if len(key) != KEY_LEN:
        raise ValueError("CCM key must be %d bytes, got %d" % (KEY_LEN, len(key)))
    return key


class CCM:
    """AES-128-CCM with a 4-byte MIC; the key is given at construction and may change (rekey)."""

    def __init__(self, key):
        self._x = bytearray(_BLOCK)  # CBC-MAC chaining value, then the MIC T
        self._b = bytearray(_BLOCK)  # the block to encrypt: B(i) xor X(i), or A(i)
        self._s = bytearray(_BLOCK)  # a keystream block S(i)
        self._aes = aesio.AES(_checked_key(key), aesio.MODE_ECB)

    def rekey(self, key):
        """Use ``key`` (16 bytes) from now on."""
        self._aes.rekey(_checked_key(key))

    def encrypt_into(self, nonce, src, n, dest):
        """Encrypt ``src[0:n]`` into ``dest[0:n]`` and put the MIC at ``dest[n:n+4]``; returns n + 4.

        ``src`` and ``dest`` may be the same buffer. ``nonce`` is 13 bytes and must never be used
        twice with the same key for different payloads.
        """
        self._check(nonce, n, len(src), n, len(dest), n + MIC_LEN)
        self._cbc_mac(nonce, src, n)  # over the plaintext, before dest (maybe src) is overwritten
        x = self._x
        s = self._s
        self._keystream(nonce, 0)
        for i in range(MIC_LEN):
            dest[n + i] = x[i] ^ s[i]
        self._ctr(nonce, src, n, dest)
        return n + MIC_LEN

    def decrypt_into(self, nonce, src, n, dest):
        """Decrypt ``src[0:n]`` (MIC at ``src[n:n+4]``) into ``dest[0:n]``; True if the MIC matches.

        On a wrong MIC ``dest[0:n]`` is zeroed, so no unauthenticated plaintext is left behind.
        ``src`` and ``dest`` may be the same buffer.
        """
        self._check(nonce, n, len(src), n + MIC_LEN, len(dest), n)
        s = self._s
        self._keystream(nonce, 0)
        # The MIC the sender computed, T = U xor S(0), read before dest (maybe src) changes.
        t0 = src[n] ^ s[0]
        t1 = src[n + 1] ^ s[1]
        t2 = src[n + 2] ^ s[2]
        t3 = src[n + 3] ^ s[3]
        self._ctr(nonce, src, n, dest)
        self._cbc_mac(nonce, dest, n)
        x = self._x
        if (x[0] ^ t0) | (x[1] ^ t1) | (x[2] ^ t2) | (x[3] ^ t3):
            for i in range(n):
                dest[i] = 0
            return False
        return True

    # --- the pieces --------------------------------------------------------------------------

    @staticmethod
    def _check(nonce, n, src_len, src_needed, dest_len, dest_needed):
        if len(nonce) != NONCE_LEN:
            raise ValueError("CCM nonce must be %d bytes, got %d" % (NONCE_LEN, len(nonce)))
        if not 0 <= n <= _MAX_LEN:
            raise ValueError("CCM payload length %d outside 0..%d" % (n, _MAX_LEN))
        if src_len < src_needed or dest_len < dest_needed:
            raise ValueError("CCM buffers too short for a %d-byte payload" % n)

    def _cbc_mac(self, nonce, src, n):
        """T = CBC-MAC of B0 | src[0:n] (zero-padded) into self._x."""
        b = self._b
        x = self._x
        b[0] = _FLAGS_B0
        for i in range(NONCE_LEN):
            b[1 + i] = nonce[i]
        b[14] = n >> 8
        b[15] = n & 0xFF
        self._aes.encrypt_into(b, x)
        at = 0
        while at < n:
            left = n - at
            if left >= _BLOCK:
                for i in range(_BLOCK):
                    b[i] = x[i] ^ src[at + i]
            else:
                for i in range(left):
                    b[i] = x[i] ^ src[at + i]
                for i in range(left, _BLOCK):
                    b[i] = x[i]
            self._aes.encrypt_into(b, x)
            at += _BLOCK

    def _keystream(self, nonce, counter):
        """S(counter) = E(A(counter)) into self._s."""
        b = self._b
        b[0] = _FLAGS_A
        for i in range(NONCE_LEN):
            b[1 + i] = nonce[i]
        b[14] = counter >> 8
        b[15] = counter & 0xFF
        self._aes.encrypt_into(b, self._s)

    def _ctr(self, nonce, src, n, dest):
        """dest[0:n] = src[0:n] xor S(1), S(2), ..."""
        s = self._s
        at = 0
        counter = 1
        while at < n:
            self._keystream(nonce, counter)
            end = n - at
            if end > _BLOCK:
                end = _BLOCK
            for i in range(end):
                dest[at + i] = src[at + i] ^ s[i]
            at += _BLOCK
            counter += 1
