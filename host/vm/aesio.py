"""``aesio`` for the MicroPython VM (tools/vm_run.py puts host/vm on the VM's path; never on the board).

The MicroPython unix build has no ``aesio`` but has ``cryptolib``, whose ECB mode is the same
AES-128/192/256 block cipher. ECB maps straight onto it (``encrypt(src, dest)`` writes into
``dest`` without allocating, so heap figures measured on the VM are the firmware's own); CBC and
CTR are built on ECB here with the board's semantics (shared-module/aesio/aes.c: CBC chains its
IV across calls; CTR increments a 128-bit big-endian counter block per keystream block and starts
a fresh block at each call). Argument checks are the board's main ones; the strict copy of every
rule is the CPython stand-in, host/circuitpython/aesio.py.
"""

try:
    import cryptolib
except ImportError:  # the WebAssembly VM: AES-128 in plain Python, allocation-free per block
    import _pyaes as cryptolib

MODE_ECB = 1
MODE_CBC = 2
MODE_CTR = 6
_ECB = 1  # cryptolib's ECB

blocks = 0  # VM-only: AES block operations, for figures


def _key(key):
    if len(key) not in (16, 24, 32):
        raise ValueError("Key must be 16, 24, or 32 bytes long")
    return key


def _mode(mode):
    if mode not in (MODE_ECB, MODE_CBC, MODE_CTR):
        raise NotImplementedError("Requested AES mode is unsupported")
    return mode


class AES:
    def __init__(self, key, mode=MODE_ECB, IV=None, counter=None, segment_size=8):
        self._mode = _mode(mode)
        self._block = bytearray(16)
        self._stream = bytearray(16)
        self.rekey(key, IV)

    def rekey(self, key, IV=None):
        self._key = bytes(_key(key))
        self._enc = cryptolib.aes(self._key, _ECB)
        self._dec = None  # a cryptolib object encrypts or decrypts, not both: made when needed
        self._iv = bytearray(16)
        if IV is not None:
            if len(IV) != 16:
                raise ValueError("IV length must be 16")
            for i in range(16):
                self._iv[i] = IV[i]

    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, value):
        self._mode = _mode(value)

    def _check(self, src, dest):
        n = len(src)
        if n != len(dest):
            raise ValueError("Source and destination buffers must be the same length")
        if self._mode == MODE_ECB and n != 16:
            raise ValueError("ECB only operates on 16 bytes at a time")
        if self._mode == MODE_CBC and n % 16:
            raise ValueError("CBC blocks must be multiples of 16 bytes")
        return n

    def encrypt_into(self, src, dest):
        global blocks
        n = self._check(src, dest)
        if self._mode == MODE_ECB:
            blocks += 1
            self._enc.encrypt(src, dest)
        elif self._mode == MODE_CBC:
            iv = self._iv
            block = self._block
            for at in range(0, n, 16):
                for i in range(16):
                    block[i] = src[at + i] ^ iv[i]
                blocks += 1
                self._enc.encrypt(block, iv)
                for i in range(16):
                    dest[at + i] = iv[i]
        else:
            self._ctr(src, dest, n)

    def decrypt_into(self, src, dest):
        global blocks
        n = self._check(src, dest)
        if self._mode == MODE_CTR:
            self._ctr(src, dest, n)
            return
        if self._dec is None:
            self._dec = cryptolib.aes(self._key, _ECB)
        if self._mode == MODE_ECB:
            blocks += 1
            self._dec.decrypt(src, dest)
            return
        iv = self._iv
        block = self._block
        plain = self._stream
        for at in range(0, n, 16):
            for i in range(16):
                block[i] = src[at + i]
            blocks += 1
            self._dec.decrypt(block, plain)
            for i in range(16):
                dest[at + i] = plain[i] ^ iv[i]
                iv[i] = block[i]

    def _ctr(self, src, dest, n):
        global blocks
        iv = self._iv
        stream = self._stream
        for at in range(0, n, 16):
            blocks += 1
            self._enc.encrypt(iv, stream)
            i = 15
            while i >= 0:
                iv[i] = (iv[i] + 1) & 0xFF
                if iv[i]:
                    break
                i -= 1
            end = n - at
            if end > 16:
                end = 16
            for i in range(end):
                dest[at + i] = src[at + i] ^ stream[i]
