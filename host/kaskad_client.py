"""The host side of the configuration service (kaskad.session, kaskad.config): claim, seal
commands, open responses.

Transport-free like the firmware's core: each method returns the frames to write (each at most
20 bytes, one write each) and ``open`` takes one notification. The crypto is the ``cryptography``
package's AESCCM (tag_length=4), an implementation independent of the firmware's kaskad.ccm, and
the frame layout is written out here again from the format in kaskad.session's and kaskad.config's
docstrings, so a test of one against the other checks both.

    client = OwnerClient(key)              # key: 16 bytes, os.urandom(16) for a new owner
    conn = client.connect(status_bytes)    # the challenge comes from the public status read
    frames = conn.claim()                  # or any command: conn.set_poll_seconds(30)
    ... write each frame, read each notification ...
    code, data = conn.open(notification)
"""

import struct

# the GATT side (kaskad.gatt): one service, three characteristics
SERVICE_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c45"
STATUS_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c46"  # read: the public status
COMMAND_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c47"  # write: length-prefixed frames, a stream
RESPONSE_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c48"  # notify: one frame per notification

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

T_CLAIM = 0x01
T_COMMAND = 0x02
T_RESPONSE = 0x03
T_REFUSAL = 0x7F
CHALLENGE_LEN = 11
STAGE_PART = 13

OP_STAGE = 0x01
OP_STATUS = 0x10
OP_POLL_NOW = 0x11
OP_REBOOT = 0x12
OP_FACTORY_RESET = 0x13
OP_METER = 0x14
OP_SET_ADDRESS = 0x20
OP_SET_POLL = 0x21
OP_SET_BINDKEY = 0x22
OP_CLEAR_BINDKEY = 0x23
OP_SET_NAME = 0x24
OP_SET_ADV = 0x25
OP_ADD_OWNER = 0x30
OP_REMOVE_OWNER = 0x31

ERRORS = {0: "ok", 1: "bad frame", 2: "already owned", 3: "claim window closed", 4: "not opened",
          5: "bad sequence", 6: "expired", 7: "no owner", 16: "unknown command", 17: "bad value",
          18: "bad length", 19: "owners full", 20: "last owner", 21: "no such owner"}


def writes(frame, mtu=23):
    """The writes that carry one frame on the command stream: ``length | frame``, cut into pieces
    of at most ATT MTU - 3 bytes (the stream joins them again)."""
    data = bytes((len(frame),)) + bytes(frame)
    size = mtu - 3
    return [data[at:at + size] for at in range(0, len(data), size)]


def no_session_yet(status):
    """True while the device has not yet given this connection its challenge (all zeros)."""
    return not any(parse_status(status)["challenge"])


class Refused(Exception):
    """The device refused in the clear (and disconnects)."""

    def __init__(self, code):
        super().__init__("refused: %s (%d)" % (ERRORS.get(code, "?"), code))
        self.code = code


class BadResponse(Exception):
    """A notification that does not open under our key, with our challenge and seq."""


def parse_meter(data):
    """The METER answer's data as a dict (age_s None: the meter has not answered since boot;
    flags_a/flags_b None: no valid reply read yet)."""
    data = bytes(data)
    if len(data) < 8:
        raise ValueError("a METER answer is 8 bytes, not %d" % len(data))
    age = struct.unpack_from("<I", data, 1)[0]
    valid = bool(data[7] & 1)
    return {"last_poll": data[0], "age_s": None if age == 0xFFFFFFFF else age,
            "flags_a": data[5] if valid else None, "flags_b": data[6] if valid else None}


def parse_status(data):
    """The public status read value as a dict."""
    data = bytes(data)
    if len(data) < 26 or data[0] != 1:
        raise ValueError("not a status of format 1")
    s = data[24]
    serial = data[25:25 + s]
    d = data[25 + s]
    made = data[26 + s:26 + s + d]
    return {
        "encrypted": bool(data[1] & 1), "owned": bool(data[1] & 2), "claimable": bool(data[1] & 4),
        "key_refused": bool(data[1] & 8),
        "challenge": data[2:13], "version": tuple(data[13:16]),
        "meter_address": struct.unpack_from("<H", data, 16)[0] or None, "generation": data[18],
        "poll_seconds": struct.unpack_from("<I", data, 19)[0], "last_poll": data[23],
        "serial": serial.decode() or None, "made": made.decode() or None,
    }


class OwnerClient:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("an owner key is 16 bytes")
        self.key = bytes(key)

    def connect(self, status_or_challenge):
        challenge = bytes(status_or_challenge)
        if len(challenge) != CHALLENGE_LEN:
            challenge = parse_status(challenge)["challenge"]
        return Connection(self.key, challenge)


class Connection:
    """One connection: the challenge it was given and the sequence numbers used so far."""

    def __init__(self, key, challenge):
        self._aead = AESCCM(key, tag_length=4)
        self.key = key
        self.challenge = challenge
        self.seq = 0  # the last seq sent
        self.expected = []  # seqs whose responses have not been opened yet

    def nonce(self, direction, seq):
        return self.challenge + bytes((direction, seq))

    # --- frames --------------------------------------------------------------------------------
    def claim(self):
        self.expected.append(0)
        return [bytes((T_CLAIM,)) + self.key]

    def seal(self, plaintext):
        """One sealed command frame of ``plaintext`` (opcode and arguments, 1..14 bytes)."""
        if not 1 <= len(plaintext) <= 14:
            raise ValueError("a sealed command carries 1..14 bytes")
        self.seq += 1
        if self.seq > 255:
            raise ValueError("sequence exhausted: reconnect")
        self.expected.append(self.seq)
        sealed = self._aead.encrypt(self.nonce(0, self.seq), bytes(plaintext), None)
        return bytes((T_COMMAND, self.seq)) + sealed

    def command(self, opcode, args=b"", staged=None):
        """The frames of one command: STAGE parts for ``staged`` (if any), then the command."""
        frames = []
        if staged is not None:
            for at in range(0, len(staged), STAGE_PART):
                frames.append(self.seal(bytes((OP_STAGE,)) + staged[at:at + STAGE_PART]))
        frames.append(self.seal(bytes((opcode,)) + args))
        return frames

    def open(self, frame):
        """(result code, data) of a sealed response; raises Refused on a refusal."""
        frame = bytes(frame)
        if len(frame) == 2 and frame[0] == T_REFUSAL:
            raise Refused(frame[1])
        if len(frame) < 7 or frame[0] != T_RESPONSE:
            raise BadResponse("not a response frame")
        seq = frame[1]
        if not self.expected or seq != self.expected[0]:
            raise BadResponse("response seq %d, expected %s" % (seq, self.expected[:1]))
        try:
            plain = self._aead.decrypt(self.nonce(1, seq), frame[2:], None)
        except InvalidTag:
            raise BadResponse("response does not open under our key") from None
        self.expected.pop(0)
        return plain[0], plain[1:]

    # --- every command -------------------------------------------------------------------------
    def status(self):
        return self.command(OP_STATUS)

    def meter(self):
        return self.command(OP_METER)

    def poll_now(self):
        return self.command(OP_POLL_NOW)

    def reboot(self):
        return self.command(OP_REBOOT)

    def factory_reset(self):
        return self.command(OP_FACTORY_RESET)

    def set_meter_address(self, address):
        return self.command(OP_SET_ADDRESS, struct.pack("<H", address))

    def set_poll_seconds(self, seconds):
        return self.command(OP_SET_POLL, struct.pack("<I", seconds))

    def set_bindkey(self, bindkey):
        if len(bindkey) != 16:
            raise ValueError("a bindkey is 16 bytes")
        return self.command(OP_SET_BINDKEY, staged=bytes(bindkey))

    def clear_bindkey(self):
        return self.command(OP_CLEAR_BINDKEY)

    def set_name(self, name):
        return self.command(OP_SET_NAME, staged=name.encode())

    def set_advertising(self, interval_ms, switch_ms):
        return self.command(OP_SET_ADV, struct.pack("<HH", interval_ms, switch_ms))

    def add_owner(self, new_key):
        if len(new_key) != 16:
            raise ValueError("an owner key is 16 bytes")
        return self.command(OP_ADD_OWNER, staged=bytes(new_key))

    def remove_owner(self, slot):
        return self.command(OP_REMOVE_OWNER, bytes((slot,)))
