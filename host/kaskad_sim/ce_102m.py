"""A simulated Energomera CE-102M that answers its IEC 61107-style session from its state (host only).

Written from docs/protocols/ce-102m.md section 3, never from a driver: it is the
independent model that tells whether the firmware's frames are right. API and audit logs: see
`sim_base`.

Line: 9600 baud, 7E1. `hear` takes each character as the 8 bits between start and stop bit: 7 data
bits plus the even-parity bit in bit 7 (7E1 and 8N1 both have 10 bits per character, so a board
that runs 8N1 and computes the parity bit itself is heard the same). A character whose parity is
wrong is not understood: the request it belongs to is dropped. Every character the meter sends
carries its parity bit. Inside the model, texts are 7-bit ASCII.

The session, and what the meter answers (no address; point-to-point)::

    /?!  CR LF                      ->  / <identification> CR LF            (any state)
    ACK 0 5 1 CR LF                 ->  SOH P0 STX (<serial>) ETX BCC       (after the sign-on)
    SOH R1 STX <NAME>() ETX BCC     ->  STX <NAME>(<value>) CR LF ... ETX BCC   (after ACK)
    SOH B0 ETX BCC                  ->  nothing; the session ends
    NAK                             ->  the last reply again

BCC = (sum of every byte after the leading SOH/STX, through ETX) & 0x7F; a command with a wrong
BCC is answered with NAK. R1 names and values (ASCII decimal, fixed decimals):

| name  | value                                                 | state (raw integer)       |
|-------|-------------------------------------------------------|---------------------------|
| STAT_ | status word, 8 hex digits                             | status_word               |
| SNUMB | serial number, text                                   | serial                    |
| ET0PE | total, then T1, T2, ... one (value) per line, kWh     | tariffs_raw, 0.01 kWh     |
| POWEP | active power, kW                                      | power_raw, 10^-6 kW (mW)  |
| VOLTA | voltage, V                                            | voltage_raw, 0.01 V       |
| CURRE | current, A                                            | current_ma, mA            |

Read-only set: the sign-on, ACK 0 5 1, R1 (any name), B0 and NAK. Everything else (W1, W2, E2,
P1, other option selections...) is recorded as forbidden and never executed.

Choices where the notes are silent or marked [unverified] (the most plausible reading):

* The meter talks 9600 from the first character (notes 3.1, as the old firmware assumes); an
  option select asking for another rate or mode (anything but 0 5 1) is forbidden, unanswered.
* Identification "/EKT5CE102M" (Energomera's manufacturer code with baud character 5 = 9600):
  not parsed by the old firmware; the model's text is an assumption. The P0 operand is the serial.
* Every value line ends with CR LF, also the last one (the notes' ET0PE vector does so).
  Decimals: energy 2, power 6, voltage 2, current 3 (the digits the old parser expects).
  ET0PE carries the total and five tariff registers, as in the notes' vector.
* An unknown R1 name, or a forbidden command inside the session, is answered with the IEC error
  message STX (ERR12) ETX BCC; R1 outside programming mode, and any R1 before ACK, is ignored.
* A sign-on restarts the session from any state. With `now_ns`, the session falls back to idle
  after `session_timeout_ms` (120 s, IEC 62056-21's upper bound) without a request, and a gap of
  more than `interchar_timeout_ms` (1500 ms, IEC) inside a request drops it.
* `reply_delay_ms`: 50 ms (assumed; IEC allows 20..1500 ms, and the old release firmware, which
  read 250 ms after sending, must have received a 70-byte ET0PE reply by then).
"""
from __future__ import annotations

from .sim_base import LINE_FAULTS, NS_PER_MS, Plan, SimFamilyMeter, TimedReceiver, check_uint

__all__ = ["SimCe102m", "FAULTS", "READ_NAMES", "bcc", "with_parity", "strip_parity",
           "build_command", "SIGN_ON", "ACK_OPTIONS", "BREAK"]

SOH, STX, ETX, ACK, NAK, CR, LF = 0x01, 0x02, 0x03, 0x06, 0x15, 0x0D, 0x0A
MAX_MESSAGE = 128
ERROR_TEXT = "(ERR12)"
READ_NAMES = ("STAT_", "SNUMB", "ET0PE", "POWEP", "VOLTA", "CURRE")

FAULTS: dict[str, dict[str, int | str]] = {
    **LINE_FAULTS,
    "bad_checksum": {},                      # BCC off by one (still 7-bit, parity right)
    "bad_parity": {"at": -1},                # character `at` (default: the middle) has the
                                             # wrong parity bit
    "wrong_name": {"name": "XXXXX"},         # the reply names another quantity (BCC valid)
    "error_status": {"text": ERROR_TEXT},    # STX <text> ETX BCC instead of the value
    "bad_value": {"text": "2?0.1"},          # the first value's text replaced (BCC valid)
}


def parity_bit(char: int) -> int:
    """1 if the 7-bit `char` has an odd number of ones (even parity sets bit 7 then)."""
    return bin(char & 0x7F).count("1") & 1


def with_parity(text: bytes) -> bytes:
    """7-bit characters as they go on the wire: even parity in bit 7."""
    return bytes(c & 0x7F | parity_bit(c) << 7 for c in text)


def strip_parity(wire: bytes) -> bytes:
    return bytes(c & 0x7F for c in wire)


def bcc(block: bytes) -> int:
    """Energomera's block check: the sum of `block` (after SOH/STX, through ETX) & 0x7F."""
    return sum(block) & 0x7F


def build_command(command: str, data: str | None = None) -> bytes:
    """SOH <command> [STX <data>] ETX BCC, 7-bit (apply `with_parity` for the wire)."""
    block = command.encode("ascii") + (b"" if data is None else b"\x02" + data.encode("ascii"))
    block += b"\x03"
    return b"\x01" + block + bytes((bcc(block),))


SIGN_ON = b"/?!\r\n"
ACK_OPTIONS = b"\x06051\r\n"
BREAK = build_command("B0")


class _Receiver(TimedReceiver):
    """Splits the 7-bit character stream into messages: '/'..CR LF, ACK..CR LF, SOH..ETX BCC,
    or a lone NAK. Characters outside a message are ignored."""

    GAP_REASON = "inter-character timeout"

    def gap_ms(self) -> int:
        return self.meter.interchar_timeout_ms  # type: ignore[attr-defined]

    def _drop(self, reason: str, extra: bytes = b"") -> None:
        if self.buf or extra:
            self.meter.rejected.append((reason, bytes(self.buf) + extra))
        self.buf.clear()

    def take(self, byte: int) -> bytes | None:
        if parity_bit(byte) != byte >> 7:
            self._drop("parity error", bytes((byte,)))
            return None
        char = byte & 0x7F
        if char in (SOH, ord("/"), ACK, NAK) and self.buf and self.buf[0] != SOH:
            self._drop("message restarted")  # a new start inside a sign-on or option message
        elif char == SOH and self.buf:
            self._drop("message restarted")
        if not self.buf:
            if char == NAK:
                return b"\x15"
            if char not in (SOH, ord("/"), ACK):
                return None  # a stray character between messages
        self.buf.append(char)
        if self.buf[0] == SOH:
            done = len(self.buf) >= 3 and self.buf[-2] == ETX
        else:
            done = self.buf.endswith(b"\r\n")
        if done:
            message = bytes(self.buf)
            self.buf.clear()
            return message
        if len(self.buf) > MAX_MESSAGE:
            self._drop("message too long")
        return None


def _decimal(raw: int, decimals: int) -> str:
    if decimals == 0:
        return str(raw)
    scale = 10 ** decimals
    return f"{raw // scale}.{raw % scale:0{decimals}d}"


class SimCe102m(SimFamilyMeter):
    """An Energomera CE-102M on the optical port (see the module docstring for the units)."""

    FAULTS = FAULTS

    def __init__(
        self,
        *,
        serial: str = "009218054000123",
        identification: str = "EKT5CE102M",
        tariffs_raw: list[int] | tuple[int, ...] = (900012, 334555, 0, 0, 0),
        power_raw: int = 1_234_567,
        voltage_raw: int = 23010,
        current_ma: int = 5432,
        status_word: int = 0x00000001,
        energy_decimals: int = 2,
        power_decimals: int = 6,
        voltage_decimals: int = 2,
        current_decimals: int = 3,
        reply_delay_ms: int = 50,
        session_timeout_ms: int = 120_000,
        interchar_timeout_ms: int = 1500,
        seed: int = 0,
    ) -> None:
        self.serial = serial
        self.identification = identification
        self.tariffs_raw = list(tariffs_raw)
        self.power_raw = power_raw
        self.voltage_raw = voltage_raw
        self.current_ma = current_ma
        self.status_word = status_word
        self.energy_decimals = energy_decimals
        self.power_decimals = power_decimals
        self.voltage_decimals = voltage_decimals
        self.current_decimals = current_decimals
        self.session_timeout_ms = session_timeout_ms
        self.interchar_timeout_ms = interchar_timeout_ms
        self.session = "idle"  # idle -> identified (after /?!) -> programming (after ACK 0 5 1)
        self.last_reply = b""
        self._last_request_ns: int | None = None
        super().__init__(reply_delay_ms=reply_delay_ms, seed=seed)
        self.check_state()

    def _new_receiver(self) -> _Receiver:
        return _Receiver(self)

    def _forget_session(self) -> None:
        self.session = "idle"  # a restarted meter waits for a sign-on
        self.last_reply = b""

    # ----------------------------------------------------------------------------- state
    @property
    def battery_flag(self) -> bool:
        """Status bit 3: the battery needs replacing."""
        return bool(self.status_word >> 3 & 1)

    @property
    def total_raw(self) -> int:
        return sum(self.tariffs_raw)

    def check_state(self) -> None:
        """Raise ValueError if the state cannot be put on the wire."""
        check_uint(self.status_word, 32, "status_word")
        for name in ("power_raw", "voltage_raw", "current_ma"):
            check_uint(getattr(self, name), 48, name)
        if not self.tariffs_raw:
            raise ValueError("tariffs_raw needs at least one register")
        for i, value in enumerate(self.tariffs_raw):
            check_uint(value, 48, f"tariffs_raw[{i}]")
        for text, name in ((self.serial, "serial"), (self.identification, "identification")):
            if not text.isascii() or not text.isprintable() or any(c in "()!/" for c in text):
                raise ValueError(f"{name} must be printable ASCII without ( ) ! /")

    def values(self, name: str) -> list[str]:
        """The bracketed value texts of R1 `name` (without brackets)."""
        if name == "STAT_":
            return [f"{self.status_word:08X}"]
        if name == "SNUMB":
            return [self.serial]
        if name == "ET0PE":
            return [_decimal(r, self.energy_decimals) for r in [self.total_raw, *self.tariffs_raw]]
        if name == "POWEP":
            return [_decimal(self.power_raw, self.power_decimals)]
        if name == "VOLTA":
            return [_decimal(self.voltage_raw, self.voltage_decimals)]
        if name == "CURRE":
            return [_decimal(self.current_ma, self.current_decimals)]
        raise KeyError(name)

    # ----------------------------------------------------------------------------- requests
    def handle_request(self, message: bytes, now_ns: int | None) -> Plan | None:
        if now_ns is not None and self._last_request_ns is not None \
                and now_ns - self._last_request_ns > self.session_timeout_ms * NS_PER_MS:
            self.session = "idle"
        self._last_request_ns = now_ns
        first = message[0]
        if first == NAK:
            self.received.append(("NAK", ""))
            return self._send(message, self.last_reply, repeat=True) if self.last_reply else None
        if first == ord("/"):
            return self._sign_on(message)
        if first == ACK:
            return self._options(message)
        return self._command(message)

    def _sign_on(self, message: bytes) -> Plan | None:
        text = message[:-2].decode("ascii")
        if not (text.startswith("/?") and text.endswith("!")):
            self.rejected.append(("not a sign-on", message))
            return None
        address = text[2:-1]
        self.received.append(("/?", address))
        if address:  # the CE-102M has no device address in this model: only "/?!" is for it
            return None
        self.session = "identified"
        return self._send(message, b"/" + self.identification.encode("ascii") + b"\r\n")

    def _options(self, message: bytes) -> Plan | None:
        options = message[1:-2].decode("ascii")
        self.received.append(("ACK", options))
        if options != "051":
            self.forbidden.append(("ACK", options))
            return None
        if self.session != "identified":
            return None
        self.session = "programming"
        block = b"P0\x02(" + self.serial.encode("ascii") + b")\x03"
        return self._send(message, b"\x01" + block + bytes((bcc(block),)))

    def _command(self, message: bytes) -> Plan | None:
        block, check = message[1:-1], message[-1]
        if bcc(block) != check:
            self.rejected.append(("bad BCC", message))
            return self._send(message, bytes((NAK,))) if self.session == "programming" else None
        command, _, data = block[:-1].partition(b"\x02")
        cmd, text = command.decode("ascii"), data.decode("ascii")
        self.received.append((cmd, text))
        name = text.partition("(")[0]
        read_only = cmd == "B0" and not text or cmd == "R1"
        if not read_only:
            self.forbidden.append((cmd, text))
        if self.session != "programming":
            return None
        if cmd == "B0":
            self.session = "idle"
            return None
        self.check_state()
        if not read_only or name not in READ_NAMES or not text.endswith("()"):
            return self._reply(message, name, None)
        return self._reply(message, name, self.values(name))

    # ----------------------------------------------------------------------------- replies
    def _reply(self, request: bytes, name: str, values: list[str] | None) -> Plan | None:
        fault, p = self.next_fault()
        if fault == "error_status" or values is None:
            body = str(p.get("text", ERROR_TEXT)) if fault == "error_status" else ERROR_TEXT
        else:
            if fault == "wrong_name":
                name = str(p["name"])
            if fault == "bad_value":
                values = [str(p["text"]), *values[1:]]
            body = name + "".join(f"({v})\r\n" for v in values)
        block = body.encode("ascii") + b"\x03"
        check = bcc(block)
        if fault == "bad_checksum":
            check = (check + 1) & 0x7F
        reply = with_parity(b"\x02" + block + bytes((check,)))
        if fault == "bad_parity":
            at = len(reply) // 2 if p["at"] == -1 else int(p["at"])
            reply = reply[:at] + bytes((reply[at] ^ 0x80,)) + reply[at + 1:]
        self.last_reply = reply
        return self.line_plan(fault, p, reply, with_parity(request))

    def _send(self, request: bytes, text: bytes, *, repeat: bool = False) -> Plan | None:
        """A session reply (identification, P0, NAK) or a repeat of the last reply (`text` then
        already carries parity): only line faults act on it; content faults wait."""
        fault, p = self.next_fault(only=LINE_FAULTS)
        reply = text if repeat else with_parity(text)
        if not repeat:
            self.last_reply = reply
        return self.line_plan(fault, p, reply, with_parity(request))

    def garbage_byte_ok(self, byte: int, previous: int | None) -> bool:
        """Noise never holds a message delimiter (SOH, STX, ETX, ACK, NAK, '/'), either parity."""
        return byte & 0x7F not in (SOH, STX, ETX, ACK, NAK, ord("/"))

    def describe(self, entry: tuple) -> str:
        """One log line for a `received` entry (the pty server prints it)."""
        command, text = entry
        return f"{command} {text}".rstrip()
