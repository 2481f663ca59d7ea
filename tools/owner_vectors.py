"""Write docs/owner-vectors.json: the owner protocol's test vectors (docs/owner-protocol.md).

Independent of the firmware: the frames are laid out here from the protocol document with
``struct``, and sealed with the ``cryptography`` package's AESCCM (OpenSSL), not with kaskad.ccm;
nothing from lib/kaskad is imported. The firmware's tests (tests/test_owner_vectors.py) feed these
frames to the real kaskad.config and compare its answers byte for byte; the CLI's and the web
page's tests check their own CCM and framing against the same file.

    .venv/bin/python tools/owner_vectors.py            # rewrite docs/owner-vectors.json
    .venv/bin/python tools/owner_vectors.py --check    # exit 1 if the file differs

Keys, challenges and values are fixed, so the file is reproducible. Its format is stable: fields
are added, never renamed (the web page's tests read it too).
"""

import json
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

OUT = Path(__file__).resolve().parent.parent / "docs" / "owner-vectors.json"

SERVICE = "fd6a6a7f-dc80-4975-8990-114ecbf30c45"
T_CLAIM, T_COMMAND, T_RESPONSE, T_REFUSAL = 0x01, 0x02, 0x03, 0x7F
TO_DEVICE, TO_CLIENT = 0x00, 0x01
STAGE_PART = 13

OPCODES = [  # name, value, arguments, answer data
    ("STAGE", 0x01, "data(1..13)", ""),
    ("STATUS", 0x10, "", "owners(1) your_slot(1) overrides(1)"),
    ("POLL_NOW", 0x11, "", ""),
    ("REBOOT", 0x12, "", ""),
    ("FACTORY_RESET", 0x13, "", ""),
    ("METER", 0x14, "", "last_poll(1) age_s(u32) flags_a(1) flags_b(1) flags_valid(1)"),
    ("SET_ADDRESS", 0x20, "u16", ""),
    ("SET_POLL", 0x21, "u32", ""),
    ("SET_BINDKEY", 0x22, "(staged 16 bytes)", ""),
    ("CLEAR_BINDKEY", 0x23, "", ""),
    ("SET_NAME", 0x24, "(staged UTF-8)", ""),
    ("SET_ADV", 0x25, "u16 interval_ms, u16 switch_ms", ""),
    ("ADD_OWNER", 0x30, "(staged 16 bytes)", "slot(1)"),
    ("REMOVE_OWNER", 0x31, "slot(1)", ""),
]
OP = {name: value for name, value, _, _ in OPCODES}

CODES = [  # code, name, refusal (in the clear, then disconnect), meaning
    (0, "OK", False, "done"),
    (1, "BAD_FRAME", True, "unknown frame type or wrong length"),
    (2, "OWNED", True, "a claim, but the device already has an owner"),
    (3, "WINDOW_CLOSED", True, "a claim outside the claim window (10 min after boot or a long button press)"),
    (4, "NOT_OPENED", True, "no owner key opens the command: not an owner, forged, altered, or a removed key"),
    (5, "BAD_SEQ", True, "the sequence number is not the next one (a replay or reordering)"),
    (6, "EXPIRED", True, "nothing proven within 30 s, or the 5-minute connection limit"),
    (7, "NO_OWNER", True, "a sealed command, but the device has no owner: claim it first"),
    (16, "UNKNOWN_COMMAND", False, "the device does not know this opcode"),
    (17, "BAD_VALUE", False, "the value is outside the setting's limits"),
    (18, "BAD_LENGTH", False, "wrong argument or staged length"),
    (19, "OWNERS_FULL", False, "already 4 owners"),
    (20, "LAST_OWNER", False, "the last owner cannot be removed"),
    (21, "NO_SUCH_OWNER", False, "no owner in that slot"),
]


def h(data):
    return bytes(data).hex()


def writes(frame, mtu=23):
    data = bytes((len(frame),)) + frame
    return [h(data[at:at + mtu - 3]) for at in range(0, len(data), mtu - 3)]


class Session:
    """One connection, as the protocol document describes it, with every frame recorded."""

    def __init__(self, name, key, challenge, description):
        self.key, self.challenge = key, challenge
        self.aead = AESCCM(key, tag_length=4)
        self.seq = 0
        self.out = {"name": name, "description": description, "owner_key": h(key),
                    "challenge": h(challenge), "steps": []}

    def nonce(self, direction, seq):
        return self.challenge + bytes((direction, seq))

    def _response(self, seq, code, data=b""):
        nonce = self.nonce(TO_CLIENT, seq)
        plain = bytes((code,)) + data
        frame = bytes((T_RESPONSE, seq)) + self.aead.encrypt(nonce, plain, None)
        return {"seq": seq, "nonce": h(nonce), "plaintext": h(plain), "code": code, "data": h(data),
                "frame": h(frame)}

    def claim(self, code=0):
        frame = bytes((T_CLAIM,)) + self.key
        step = {"what": "CLAIM", "command": {"frame": h(frame), "writes": writes(frame)}}
        if code:
            step["response"] = {"frame": h(bytes((T_REFUSAL, code))), "code": code, "refusal": True}
        else:
            step["response"] = self._response(0, 0)
        self.out["steps"].append(step)

    def command(self, what, plain, code=0, data=b"", refusal=None, seq=None, key=None):
        self.seq += 1
        seq = self.seq if seq is None else seq
        nonce = self.nonce(TO_DEVICE, seq)
        aead = self.aead if key is None else AESCCM(key, tag_length=4)
        frame = bytes((T_COMMAND, seq)) + aead.encrypt(nonce, plain, None)
        step = {"what": what, "command": {"seq": seq, "nonce": h(nonce), "plaintext": h(plain),
                                          "frame": h(frame), "writes": writes(frame)}}
        if key is not None:
            step["command"]["sealed_with"] = h(key)
        if refusal is not None:
            step["response"] = {"frame": h(bytes((T_REFUSAL, refusal))), "code": refusal, "refusal": True}
        else:
            step["response"] = self._response(seq, code, data)
        self.out["steps"].append(step)

    def staged(self, what, opcode, blob, code=0, data=b""):
        for at in range(0, len(blob), STAGE_PART):
            self.command("STAGE (for %s)" % what, bytes((OP["STAGE"],)) + blob[at:at + STAGE_PART])
        self.command(what, bytes((opcode,)), code, data)


KEY_A = bytes(range(0x00, 0x10))
KEY_B = bytes(range(0x10, 0x20))
KEY_X = bytes(range(0xE0, 0xF0))  # never an owner
BINDKEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
NAME = "Kitchen meter \u00e9\u00e9\u00e9\u00e9 name!!"  # 29 UTF-8 bytes: three STAGE parts


def sessions():
    """A device that starts with no owner, an open claim window and no overrides, and sees these
    connections in this order; every response is what it must answer."""
    first = Session("claim-and-configure", KEY_A, bytes(range(0xA0, 0xAB)),
                    "a new device: claim, then every setting, owners, and the errors an owner can meet")
    first.claim()
    first.command("STATUS", bytes((OP["STATUS"],)), data=bytes((1, 0, 0)))
    first.command("SET_ADDRESS 12345", bytes((OP["SET_ADDRESS"],)) + struct.pack("<H", 12345))
    first.command("SET_POLL 30", bytes((OP["SET_POLL"],)) + struct.pack("<I", 30))
    first.staged("SET_BINDKEY", OP["SET_BINDKEY"], BINDKEY)
    first.staged("SET_NAME", OP["SET_NAME"], NAME.encode())
    first.command("SET_ADV 500 2000", bytes((OP["SET_ADV"],)) + struct.pack("<HH", 500, 2000))
    first.command("STATUS", bytes((OP["STATUS"],)), data=bytes((1, 0, 6)))
    first.command("SET_POLL 4 (below 5)", bytes((OP["SET_POLL"],)) + struct.pack("<I", 4), code=17)
    first.command("SET_ADDRESS 0", bytes((OP["SET_ADDRESS"],)) + struct.pack("<H", 0), code=17)
    first.command("SET_ADV 2000 1000 (switch < interval)", bytes((OP["SET_ADV"],)) + struct.pack("<HH", 2000, 1000), code=17)
    first.command("SET_POLL with 1 byte", bytes((OP["SET_POLL"],)) + b"\x01", code=18)
    first.command("opcode 0x7E", b"\x7e", code=16)
    first.command("REMOVE_OWNER 0 (the last)", bytes((OP["REMOVE_OWNER"], 0)), code=20)
    first.staged("ADD_OWNER", OP["ADD_OWNER"], KEY_B, data=b"\x01")
    first.command("REMOVE_OWNER 3 (empty slot)", bytes((OP["REMOVE_OWNER"], 3)), code=21)
    first.command("CLEAR_BINDKEY", bytes((OP["CLEAR_BINDKEY"],)))
    first.command("POLL_NOW", bytes((OP["POLL_NOW"],)))
    first.command("STATUS", bytes((OP["STATUS"],)), data=bytes((2, 0, 6)))

    second = Session("second-owner", KEY_B, bytes(range(0xB0, 0xBB)),
                     "the added owner connects: its first command binds the connection to its key")
    second.command("STATUS", bytes((OP["STATUS"],)), data=bytes((2, 1, 6)))
    second.command("REMOVE_OWNER 1 (itself): answered, then the device disconnects",
                   bytes((OP["REMOVE_OWNER"], 1)))

    stranger = Session("not-an-owner", KEY_X, bytes(range(0xC0, 0xCB)),
                       "a key that is no owner's: its claim is refused (owned), its command too")
    stranger.claim(code=2)
    stranger2 = Session("not-an-owner-command", KEY_X, bytes(range(0xC1, 0xCC)),
                        "a sealed command under a key that is no owner's")
    stranger2.command("STATUS", bytes((OP["STATUS"],)), refusal=4)

    replay = Session("replay", KEY_A, bytes(range(0xD0, 0xDB)),
                     "seq must be exactly the last + 1: a repeated seq is refused")
    replay.command("STATUS", bytes((OP["STATUS"],)), data=bytes((1, 0, 6)))
    replay.command("STATUS again with seq 1", bytes((OP["STATUS"],)), refusal=5, seq=1)

    reset = Session("factory-reset", KEY_A, bytes(range(0xE0, 0xEB)),
                    "factory reset: answered, then the device disconnects; owners and overrides forgotten")
    reset.command("FACTORY_RESET", bytes((OP["FACTORY_RESET"],)))

    after = Session("after-reset", KEY_A, bytes(range(0xF0, 0xFB)),
                    "after the factory reset the device has no owner (claim window closed in this run)")
    after.command("STATUS", bytes((OP["STATUS"],)), refusal=7)
    meter = Session("meter-state", KEY_B, bytes(range(0x60, 0x6B)),
                    "after a long button press (claim window open again): claim, then METER; the "
                    "device's meter state is given in device_meter_state (a poll ok 75 s ago, the "
                    "terminal seal open: flags A bit 1)")
    meter.claim()
    meter.out["device_meter_state"] = h(METER_STATE)
    meter.command("METER", bytes((OP["METER"],)), data=METER_STATE)
    meter.command("METER with an argument", bytes((OP["METER"], 0)), code=18)
    return [s.out for s in (first, second, stranger, stranger2, replay, reset, after, meter)]


# last poll ok, 75 s ago, flags A = 0x02 (P1: terminal cover seal open), flags B = 0, valid
METER_STATE = bytes((1,)) + struct.pack("<I", 75) + bytes((0x02, 0x00, 1))


def status_bytes(flags, challenge, version, address, generation, poll, last_poll, serial, made):
    serial, made = serial.encode(), made.encode()
    return (struct.pack("<BB11s3BHBIB", 1, flags, challenge, *version, address, generation, poll, last_poll)
            + bytes((len(serial),)) + serial + bytes((len(made),)) + made)


def statuses():
    out = []
    for args, parsed in (
        ((4, bytes(11), (0, 3, 0), 20109, 2, 60, 0, "", ""),
         {"encrypted": False, "owned": False, "claimable": True}),
        ((2, bytes(range(0xA0, 0xAB)), (1, 2, 3), 12345, 2, 30, 1, "0123456789", "2019-05"),
         {"encrypted": False, "owned": True, "claimable": False}),
        ((1, bytes(range(0x30, 0x3B)), (0, 3, 0), 0, 0, 86400, 2, "", ""),
         {"encrypted": True, "owned": False, "claimable": False}),
    ):
        flags, challenge, version, address, generation, poll, last_poll, serial, made = args
        value = status_bytes(*args)
        parsed = dict(parsed, flags=flags, challenge=h(challenge), version=list(version),
                      meter_address=address, generation=generation, poll_seconds=poll,
                      last_poll=last_poll, serial=serial, made=made)
        out.append({"status": h(value), "length": len(value), "parsed": parsed})
    return out


def ccm():
    """Bare AES-128-CCM (13-byte nonce, 4-byte MIC, no associated data), every plaintext length a
    frame can carry, for a CCM built elsewhere (the web page's, from WebCrypto)."""
    out = []
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    for n in range(1, 15):
        nonce = bytes(range(0x40, 0x4B)) + bytes((n % 2, n))
        plain = bytes((0x20 + i) & 0xFF for i in range(n))
        sealed = AESCCM(key, tag_length=4).encrypt(nonce, plain, None)
        out.append({"key": h(key), "nonce": h(nonce), "plaintext": h(plain),
                    "ciphertext": h(sealed[:-4]), "mic": h(sealed[-4:]), "sealed": h(sealed)})
    # the published example: RFC 3610 packet vector #1 uses an 8-byte MIC and 8 bytes of
    # associated data, so it is not a frame of this protocol; the cross-check is OpenSSL's CCM
    return out


def malformed():
    """Frames the device refuses with BAD_FRAME (1) whatever its state."""
    return [{"frame": h(f), "code": 1, "why": why} for f, why in (
        (b"", "empty"),
        (b"\x01" + bytes(15), "a claim of 15 key bytes"),
        (b"\x01" + bytes(17), "a claim of 17 key bytes"),
        (b"\x02\x01" + bytes(4), "a sealed command with no ciphertext"),
        (b"\x03\x01" + bytes(5), "a response type sent to the device"),
        (b"\x05" + bytes(10), "unknown type"),
    )]


def document():
    return {
        "format": 1,
        "about": "Test vectors of the kaskad-ble owner protocol (docs/owner-protocol.md). Made by "
                 "tools/owner_vectors.py with the cryptography package's AESCCM, not by the firmware. "
                 "All byte strings are lowercase hex; integers little-endian on the air.",
        "gatt": {"service": SERVICE, "status": SERVICE[:-2] + "46", "command": SERVICE[:-2] + "47",
                 "response": SERVICE[:-2] + "48", "frame_max": 20, "status_max": 88, "att_mtu": 23,
                 "write_max": 20},
        "frame_types": {"CLAIM": T_CLAIM, "COMMAND": T_COMMAND, "RESPONSE": T_RESPONSE, "REFUSAL": T_REFUSAL},
        "nonce": {"challenge_len": 11, "to_device": TO_DEVICE, "to_client": TO_CLIENT, "length": 13,
                  "layout": "challenge(11) direction(1) seq(1)"},
        "mic_len": 4, "key_len": 16, "stage_max": 32, "stage_part": STAGE_PART, "max_owners": 4,
        "limits_ms": {"claim_window": 600000, "prove_within": 30000, "connection_max": 300000,
                      "grace": 250},
        "opcodes": [{"name": n, "opcode": v, "args": a, "answer": d} for n, v, a, d in OPCODES],
        "codes": [{"code": c, "name": n, "refusal": r, "meaning": m} for c, n, r, m in CODES],
        "ccm": ccm(),
        "sessions": sessions(),
        "malformed": malformed(),
        "status": statuses(),
        "status_flags": {"encrypted": 1, "owned": 2, "claimable": 4},
        "last_poll": {"0": "none yet", "1": "ok", "2": "failed"},
        "meter_answer": {"layout": "last_poll(1) age_s(u32 LE; 0xffffffff: the meter has not answered "
                                   "since boot) flags_a(1) flags_b(1) flags_valid(1: from a valid reply, 0: none yet)",
                         "flags": "flag_bits: the flags by meaning (kaskad.reading names) in the KASKAD-1-MT's status layout",
                         "flag_bits": [{"name": n, "byte": b, "bit": i} for n, b, i in METER_FLAG_BITS]},
    }


# The METER answer's flag bytes (docs/owner-protocol.md): (name, 1 = flags_a / 2 = flags_b, bit),
# the KASKAD-1-MT's status bytes (shared/protocols/mirtek.md section 3) for every meter family.
METER_FLAG_BITS = (
    ("seal_terminal_open", 1, 1), ("seal_case_open", 1, 2), ("seal_module_open", 1, 3), ("magnet_dc", 1, 4),
    ("magnet_ac", 1, 5), ("emergency", 2, 5), ("imbalance", 2, 7), ("relay_off", 2, 3),
)


def main(argv):
    text = json.dumps(document(), indent=1, ensure_ascii=False) + "\n"
    if "--check" in argv:
        same = OUT.read_text() == text
        print("docs/owner-vectors.json is %s" % ("up to date" if same else "OUT OF DATE: run tools/owner_vectors.py"))
        return 0 if same else 1
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    print("wrote %s" % OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
