"""Random AES-CCM cases made by the `cryptography` package's AESCCM (OpenSSL), as JSON on stdout,
for the page's JavaScript CCM (clients/web/ccm.js) to match in Node and in Chromium.

    python tests/web/ccm_cases.py [SEED]

Every payload length 0..64 for each nonce size (13 bytes: the owner protocol and BTHome; 7, 8, 11
and 12: the rest of RFC 3610's range), 4-byte tags (the protocol's); then 8- and 16-byte tags,
associated data and AES-256 keys over the same lengths with the 13-byte nonce.
"""
import json
import random
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESCCM


def cases(seed):
    rng = random.Random(seed)

    def raw(n):
        return bytes(rng.getrandbits(8) for _ in range(n))

    plan = [(nonce, 4, 16, False) for nonce in (13, 7, 8, 11, 12)]
    plan += [(13, 8, 16, False), (13, 16, 16, False), (13, 4, 16, True), (13, 4, 32, False)]
    out = []
    for nonce_len, tag_len, key_len, with_aad in plan:
        for n in range(65):
            key, nonce, plaintext = raw(key_len), raw(nonce_len), raw(n)
            aad = raw(rng.randrange(1, 41)) if with_aad else b""
            sealed = AESCCM(key, tag_length=tag_len).encrypt(nonce, plaintext, aad or None)
            out.append({"key": key.hex(), "nonce": nonce.hex(), "plaintext": plaintext.hex(),
                        "aad": aad.hex(), "tag_length": tag_len, "sealed": sealed.hex()})
    return out


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    json.dump({"seed": seed, "made_by": "cryptography AESCCM", "cases": cases(seed)}, sys.stdout)
