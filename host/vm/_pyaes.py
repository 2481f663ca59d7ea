"""AES-128 encryption in plain Python, for a VM without ``cryptolib`` (the WebAssembly
MicroPython): ``aes(key, 1).encrypt(src, dest)`` as cryptolib's ECB object does, writing into
``dest`` through preallocated buffers, so it allocates nothing per block (heap figures stay the
firmware's). Never on the board, which has aesio in C. Checked against FIPS-197 appendix C.1 by
tests/vm/check_vm_sanity.py."""


def _tables():
    sbox = bytearray(256)
    p = q = 1
    while True:  # p runs over the multiplicative group, q over its inverses
        p = (p ^ (p << 1) ^ (0x1B if p & 0x80 else 0)) & 0xFF
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        x = q ^ ((q << 1 | q >> 7) & 0xFF) ^ ((q << 2 | q >> 6) & 0xFF) ^ ((q << 3 | q >> 5) & 0xFF) \
            ^ ((q << 4 | q >> 4) & 0xFF)
        sbox[p] = x ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    xtime = bytearray(256)
    for i in range(256):
        xtime[i] = ((i << 1) ^ (0x1B if i & 0x80 else 0)) & 0xFF
    return bytes(sbox), bytes(xtime)


_SBOX, _XT = _tables()
_SHIFT = bytes([0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11])


class aes:
    def __init__(self, key, mode):
        if len(key) != 16 or mode != 1:
            raise NotImplementedError("only AES-128 ECB in this VM shim")
        w = bytearray(176)
        w[0:16] = key
        rcon = 1
        for i in range(16, 176, 4):
            t0, t1, t2, t3 = w[i - 4], w[i - 3], w[i - 2], w[i - 1]
            if i % 16 == 0:
                t0, t1, t2, t3 = _SBOX[t1] ^ rcon, _SBOX[t2], _SBOX[t3], _SBOX[t0]
                rcon = _XT[rcon]
            w[i] = w[i - 16] ^ t0
            w[i + 1] = w[i - 15] ^ t1
            w[i + 2] = w[i - 14] ^ t2
            w[i + 3] = w[i - 13] ^ t3
        self._w = w
        self._s = bytearray(16)
        self._t = bytearray(16)

    def encrypt(self, src, dest):
        w, s, t = self._w, self._s, self._t
        for i in range(16):
            s[i] = src[i] ^ w[i]
        for r in range(1, 11):
            for i in range(16):
                t[i] = _SBOX[s[_SHIFT[i]]]
            if r < 10:
                for c in range(0, 16, 4):
                    a0 = t[c]  # one by one: unpacking four values would build a tuple
                    a1 = t[c + 1]
                    a2 = t[c + 2]
                    a3 = t[c + 3]
                    x = a0 ^ a1 ^ a2 ^ a3
                    s[c] = a0 ^ x ^ _XT[a0 ^ a1]
                    s[c + 1] = a1 ^ x ^ _XT[a1 ^ a2]
                    s[c + 2] = a2 ^ x ^ _XT[a2 ^ a3]
                    s[c + 3] = a3 ^ x ^ _XT[a3 ^ a0]
            else:
                for i in range(16):
                    s[i] = t[i]
            k = 16 * r
            for i in range(16):
                s[i] ^= w[k + i]
        for i in range(16):
            dest[i] = s[i]
