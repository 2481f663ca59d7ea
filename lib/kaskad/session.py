"""One owner's connection to the configuration service: ownership, sealed commands, settings changes.

The protocol (frames, nonce, opcodes, result and error codes, time limits, security) is described
in docs/owner-protocol.md, with test vectors made independently of this code in
docs/owner-vectors.json (tests/test_owner_vectors.py feeds them to this module). In short: every
frame is at most 20 bytes; a CLAIM (0x01 + key) travels in the clear; SEALED COMMANDs
(0x02 seq ccm(opcode args) mic) are AES-128-CCM under an owner key with the nonce
challenge(11) | direction | seq; the answer is a SEALED RESPONSE (0x03 seq ccm(code data) mic) or
a REFUSAL (0x7F code) followed by a disconnect.

Imported only when a central connects (code.py's make_session), not at boot: the device idles
for months without one, and this module with AES-CCM and the settings' validation would hold
heap all that time. kaskad.config keeps what is needed without a central: the claim window, the
public status and the sizes the GATT service is made with.
"""

import binascii

from kaskad.ccm import CCM, MIC_LEN, NONCE_LEN
from kaskad.clock import ticks_diff
from kaskad.config import ACT_FACTORY_RESET, ACT_POLL_NOW, ACT_REBOOT, CHALLENGE_LEN, FRAME_MAX
from kaskad.settings import validate

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


KEY_LEN = const(16)
STAGE_MAX = const(32)
PROVE_WITHIN_MS = const(30000)
CONNECTION_MAX_MS = const(300000)

T_CLAIM = const(0x01)
T_COMMAND = const(0x02)
T_RESPONSE = const(0x03)
T_REFUSAL = const(0x7F)
DIR_TO_DEVICE = const(0x00)
DIR_TO_CLIENT = const(0x01)
_HEADER = const(2)
_PLAIN_MAX = const(14)  # FRAME_MAX - header - MIC

OP_STAGE = const(0x01)
OP_STATUS = const(0x10)
OP_POLL_NOW = const(0x11)
OP_REBOOT = const(0x12)
OP_FACTORY_RESET = const(0x13)
OP_METER = const(0x14)
OP_SET_ADDRESS = const(0x20)
OP_SET_POLL = const(0x21)
OP_SET_BINDKEY = const(0x22)
OP_CLEAR_BINDKEY = const(0x23)
OP_SET_NAME = const(0x24)
OP_SET_ADV = const(0x25)
OP_ADD_OWNER = const(0x30)
OP_REMOVE_OWNER = const(0x31)

OK = const(0)
E_BAD_FRAME = const(1)
E_OWNED = const(2)
E_WINDOW_CLOSED = const(3)
E_NOT_OPENED = const(4)
E_BAD_SEQ = const(5)
E_EXPIRED = const(6)
E_NO_OWNER = const(7)
E_UNKNOWN_COMMAND = const(16)
E_BAD_VALUE = const(17)
E_BAD_LENGTH = const(18)
E_OWNERS_FULL = const(19)
E_LAST_OWNER = const(20)
E_NO_SUCH_OWNER = const(21)

MAX_OWNERS = const(4)


class ConfigSession:
    """One connection. ``challenge``: 11 fresh random bytes (os.urandom in code.py).

    ``file_prints``: key -> fingerprint of the file's value (Settings.file_fingerprints).
    ``apply(key, value)``: a setting changed (value as settings.validate returns it).
    ``act(code)``: ACT_POLL_NOW / ACT_REBOOT / ACT_FACTORY_RESET; called before the response is
    returned, so a reboot must be deferred until the response has been notified.
    ``report(line)``: one console line per refusal and per change; never a key.
    ``meter()``: the METER answer's data (at most 13 bytes; App.meter_state), or None: empty.
    """

    def __init__(self, challenge, store, clock, window, file_prints, apply, act, report, meter=None,
                 family=None):
        if len(challenge) != CHALLENGE_LEN:
            raise ValueError("challenge must be %d bytes" % CHALLENGE_LEN)
        self.challenge = bytes(challenge)
        self._store = store
        self._clock = clock
        self._window = window
        self._prints = file_prints
        self._apply = apply
        self._act = act
        self._report = report
        self._meter = meter
        self._family = family  # the meter family the address is checked against (None: the default)
        self._started = clock.now_ms()
        self._key = None  # the owner key this connection proved, once it has
        self._ccm = None
        self._seq = 0  # the last seq accepted
        self._ended = False
        self._nonce = bytearray(NONCE_LEN)
        self._nonce[0:CHALLENGE_LEN] = self.challenge
        self._plain = bytearray(_PLAIN_MAX)
        self._stage = bytearray(STAGE_MAX)
        self._staged = 0

    @property
    def proven(self):
        return self._key is not None

    def should_disconnect(self):
        """Poll from the loop: True once the connection must end (or has been told to)."""
        if self._ended:
            return True
        age = ticks_diff(self._clock.now_ms(), self._started)
        if age >= CONNECTION_MAX_MS or (self._key is None and age >= PROVE_WITHIN_MS):
            self._report("config: connection ended: %s" % (
                "5-minute limit" if self._key is not None else "nothing proven in 30 s"))
            self._ended = True
        return self._ended

    def handle(self, frame):
        """One write of the command characteristic -> (response bytes or None, disconnect)."""
        if self._ended:
            return None, True
        if self.should_disconnect():
            return self._refuse(E_EXPIRED, "expired")
        n = len(frame)
        kind = frame[0] if n else -1
        if kind == T_CLAIM and n == 1 + KEY_LEN:
            return self._claim(frame)
        if kind == T_COMMAND and _HEADER + 1 + MIC_LEN <= n <= FRAME_MAX:
            return self._command(frame, n - _HEADER - MIC_LEN)
        return self._refuse(E_BAD_FRAME, "malformed frame of %d bytes" % n)

    # --- claim and sealed frames -------------------------------------------------------------
    def _claim(self, frame):
        if self._store.owners:
            return self._refuse(E_OWNED, "claim refused: the device has an owner")
        if not self._window.is_open():
            return self._refuse(E_WINDOW_CLOSED, "claim refused: the claim window is closed")
        key = bytes(frame[1:1 + KEY_LEN])
        self._store.add_owner(key)
        self._store.commit()
        self._window.close()
        self._bind(key)
        self._report("config: claimed; the device has an owner")
        return self._seal(0, OK, b""), False

    def _command(self, frame, n):
        if not self._store.owners:
            return self._refuse(E_NO_OWNER, "sealed command but no owner")
        seq = frame[1]
        if seq != self._seq + 1:
            return self._refuse(E_BAD_SEQ, "seq %d, expected %d (replay?)" % (seq, self._seq + 1))
        body = memoryview(frame)[_HEADER:]
        nonce = self._nonce
        nonce[CHALLENGE_LEN] = DIR_TO_DEVICE
        nonce[CHALLENGE_LEN + 1] = seq
        opened = False
        if self._key is not None:
            if self._key in self._store.owners:
                opened = self._ccm.decrypt_into(nonce, body, n, self._plain)  # type: ignore[union-attr]
        else:
            for key in self._store.owners:
                self._bind(key)
                opened = self._ccm.decrypt_into(nonce, body, n, self._plain)  # type: ignore[union-attr]
                if opened:
                    break
            if not opened:
                self._key = None
        if not opened:
            return self._refuse(E_NOT_OPENED, "command does not open under an owner key")
        self._seq = seq
        code, data, end = self._run(self._plain[0], n - 1)
        if self._plain[0] != OP_STAGE:
            self._staged = 0
        if end:
            self._ended = True
        return self._seal(seq, code, data), end

    def _bind(self, key):
        self._key = bytes(key)
        if self._ccm is None:
            self._ccm = CCM(self._key)
        else:
            self._ccm.rekey(self._key)

    def _seal(self, seq, code, data):
        n = 1 + len(data)
        out = bytearray(_HEADER + n + MIC_LEN)
        out[0] = T_RESPONSE
        out[1] = seq
        plain = self._plain
        plain[0] = code
        plain[1:n] = data
        nonce = self._nonce
        nonce[CHALLENGE_LEN] = DIR_TO_CLIENT
        nonce[CHALLENGE_LEN + 1] = seq
        self._ccm.encrypt_into(nonce, plain, n, memoryview(out)[_HEADER:])  # type: ignore[union-attr]
        return bytes(out)

    def _refuse(self, code, why):
        self._report("config: refused (%d): %s; disconnecting" % (code, why))
        self._ended = True
        return bytes((T_REFUSAL, code)), True

    # --- the commands --------------------------------------------------------------------------
    def _run(self, op, size):
        """(result code, data, end the connection) for the authentic command in self._plain."""
        p = self._plain
        if op == OP_STAGE:
            if size < 1 or self._staged + size > STAGE_MAX:
                self._staged = 0
                return E_BAD_LENGTH, b"", False
            self._stage[self._staged:self._staged + size] = p[1:1 + size]
            self._staged += size
            return OK, b"", False
        if op == OP_STATUS or op == OP_POLL_NOW or op == OP_REBOOT or op == OP_FACTORY_RESET or op == OP_METER \
                or op == OP_CLEAR_BINDKEY or op == OP_SET_BINDKEY or op == OP_SET_NAME or op == OP_ADD_OWNER:
            if size != 0:
                return E_BAD_LENGTH, b"", False
        if op == OP_STATUS:
            owners = self._store.owners
            return OK, bytes((len(owners), owners.index(self._key), len(self._store.overrides))), False
        if op == OP_METER:
            return OK, self._meter() if self._meter is not None else b"", False
        if op == OP_POLL_NOW:
            self._act(ACT_POLL_NOW)
            return OK, b"", False
        if op == OP_REBOOT:
            self._report("config: reboot asked by the owner")
            self._act(ACT_REBOOT)
            return OK, b"", True
        if op == OP_FACTORY_RESET:
            self._store.forget_everything()
            self._store.commit()
            self._report("config: factory reset: owners and overrides forgotten")
            self._act(ACT_FACTORY_RESET)
            return OK, b"", True
        if op == OP_SET_ADDRESS:  # u16, or u32 for a family whose addresses go further (Mercury-206)
            if size != 2 and size != 4:
                return E_BAD_LENGTH, b"", False
            address = p[1] | p[2] << 8
            if size == 4:
                address |= p[3] << 16 | p[4] << 24
            return self._set("KASKAD_METER_ADDRESS", address), b"", False
        if op == OP_SET_POLL:
            if size != 4:
                return E_BAD_LENGTH, b"", False
            return self._set("KASKAD_POLL_SECONDS", p[1] | p[2] << 8 | p[3] << 16 | p[4] << 24), b"", False
        if op == OP_SET_ADV:
            if size != 4:
                return E_BAD_LENGTH, b"", False
            interval = p[1] | p[2] << 8
            switch = p[3] | p[4] << 8
            if switch < interval or validate("KASKAD_ADV_INTERVAL_MS", interval)[1] is not None \
                    or validate("KASKAD_ADV_SWITCH_MS", switch)[1] is not None:
                return E_BAD_VALUE, b"", False
            self._set("KASKAD_ADV_INTERVAL_MS", interval)
            return self._set("KASKAD_ADV_SWITCH_MS", switch), b"", False
        if op == OP_CLEAR_BINDKEY:
            return self._set("KASKAD_BINDKEY", ""), b"", False
        if op == OP_SET_BINDKEY:
            if self._staged != KEY_LEN:
                return E_BAD_LENGTH, b"", False
            return self._set("KASKAD_BINDKEY", binascii.hexlify(self._stage[0:KEY_LEN]).decode()), b"", False
        if op == OP_SET_NAME:
            try:
                name = bytes(self._stage[0:self._staged]).decode()
            except Exception:  # invalid UTF-8 (the board raises UnicodeError, a ValueError)
                return E_BAD_VALUE, b"", False
            return self._set("KASKAD_NAME", name), b"", False
        if op == OP_ADD_OWNER:
            if self._staged != KEY_LEN:
                return E_BAD_LENGTH, b"", False
            key = bytes(self._stage[0:KEY_LEN])
            if key not in self._store.owners:
                if len(self._store.owners) >= MAX_OWNERS:
                    return E_OWNERS_FULL, b"", False
                self._store.add_owner(key)
                self._store.commit()
                self._report("config: owner added (%d owners)" % len(self._store.owners))
            return OK, bytes((self._store.owners.index(key),)), False
        if op == OP_REMOVE_OWNER:
            if size != 1:
                return E_BAD_LENGTH, b"", False
            owners = self._store.owners
            if p[1] >= len(owners):
                return E_NO_SUCH_OWNER, b"", False
            if len(owners) == 1:
                return E_LAST_OWNER, b"", False
            gone = owners[p[1]]
            self._store.remove_owner(gone)
            self._store.commit()
            self._report("config: owner %d removed (%d owners)" % (p[1], len(self._store.owners)))
            return OK, b"", gone == self._key
        return E_UNKNOWN_COMMAND, b"", False

    def _set(self, key, raw):
        value, problem = validate(key, raw, self._family)
        if problem is not None:
            self._report("config: %s = %r refused: %s" % (key, raw, problem))
            return E_BAD_VALUE
        self._store.set_override(key, raw, self._prints.get(key, 0))
        self._store.commit()
        self._report("config: %s changed over Bluetooth" % key)
        self._apply(key, value)
        return OK
