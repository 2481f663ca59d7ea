"""A simulated Mercury-206 that answers requests byte-exactly from its state (host only).

Written from docs/protocols/mercury-206.md section 2, never from a driver: it is the
independent model that tells whether the firmware's frames are right. API and audit logs: see
`sim_base`.

Line: 9600 baud, 8N1. Frames, with no length field::

    ADDR (u32 big-endian = the meter's serial number) | CMD | DATA ... | CRC_lo CRC_hi

CRC-16/MODBUS (reflected 0xA001, init 0xFFFF, no final XOR) over ADDR..DATA, low byte first.
Reply numbers are packed BCD, most significant byte first, except the serial number (binary).

What the meter answers (every read request is ADDR + CMD + CRC, 7 bytes, no data):

| cmd  | reply data                                          | units                        |
|------|-----------------------------------------------------|------------------------------|
| 0x82 | 1 byte (`ping_value`)                               | meaning unknown; a ping      |
| 0x2F | serial number, u32 big-endian binary                | -                            |
| 0x66 | release date DD MM YY, BCD                          | -                            |
| 0x63 | U 2 BCD bytes, I 2 BCD bytes, P 3 BCD bytes          | 0.1 V, 0.01 A, W             |
| 0x27 | T1..T4, 4 BCD bytes each                            | 0.01 kWh                     |
| 0x69 | TL 3 BCD bytes, TLB 3 BCD bytes                     | hours on mains, on battery   |

Choices where the notes are silent or marked [unverified] (the most plausible reading):

* Wake-up (notes 2.1: "the first command after an idle gap gets either no reply or garbage"): the
  meter starts `asleep`; the first request addressed to it while asleep wakes it and gets no reply
  (`wake_reply="silent"`) or `wake_garbage_len` random bytes (`"garbage"`). With `now_ns` given,
  it falls asleep again after `sleep_after_ms` (2 s, assumed) without a request. The old
  firmware's 0x82, 500 ms, 0x82 wakes it; a single request after a long pause gets nothing.
* 0x82's reply byte is unknown ("timeout" in the C header): `ping_value`, default 0x00.
* Requests with data, and commands outside the table (the meter's writes and other reads alike),
  get no reply and are recorded as forbidden: the notes document no error reply. The model keeps
  the read-only set to the six commands the notes describe.
* End of a request: as soon as the bytes so far (at least 7) carry a valid CRC. With `now_ns`, a
  gap of more than `interbyte_timeout_ms` (10 ms, assumed: the frame has no length, so the real
  meter must time out) starts a new request; a request longer than 64 bytes is dropped.
* `reply_delay_ms`: 20 ms (assumed; the notes give no figure, only that the old firmware read
  200 ms after sending).
"""
from __future__ import annotations

from .sim_base import LINE_FAULTS, NS_PER_MS, Plan, SimFamilyMeter, TimedReceiver, check_uint

__all__ = ["SimMercury206", "FAULTS", "READ_ONLY_COMMANDS", "crc16_modbus", "build_request",
           "bcd"]

READ_ONLY_COMMANDS = frozenset((0x82, 0x2F, 0x66, 0x63, 0x27, 0x69))
MIN_FRAME = 7
MAX_FRAME = 64

FAULTS: dict[str, dict[str, int | str]] = {
    **LINE_FAULTS,
    "bad_checksum": {},                  # CRC low byte inverted
    "wrong_address": {"address": -1},    # reply ADDR = `address` (default: serial + 1)
    "wrong_command": {"command": -1},    # reply CMD = `command` (default: request CMD + 1)
    "wrong_length": {"delta": 1},        # +1: one extra 00 data byte; -1: last data byte dropped
                                         # (CRC valid over what is sent)
    "bad_bcd": {"at": 0},                # data byte `at` gets the high nibble A (CRC valid)
}


def crc16_modbus(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS: reflected polynomial 0xA001, init 0xFFFF, no final XOR (notes 2.2)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    return body + crc16_modbus(body).to_bytes(2, "little")


def build_request(serial: int, command: int, data: bytes = b"") -> bytes:
    """A reader's request frame: ADDR + CMD (+ DATA) + CRC."""
    return with_crc(serial.to_bytes(4, "big") + bytes((command,)) + bytes(data))


def bcd(value: int, size: int, name: str = "value") -> bytes:
    """`value` as `size` bytes of packed BCD, most significant first; ValueError if too big."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10 ** (2 * size):
        raise ValueError(f"{name}={value!r} does not fit in {2 * size} BCD digits")
    digits = f"{value:0{2 * size}d}"
    return bytes(int(digits[i], 16) << 4 | int(digits[i + 1], 16) for i in range(0, len(digits), 2))


class _Receiver(TimedReceiver):
    """A request ends where the bytes so far carry a valid CRC (the frame has no length)."""

    GAP_REASON = "no CRC before the gap"

    def take(self, byte: int) -> bytes | None:
        self.buf.append(byte)
        if len(self.buf) >= MIN_FRAME and \
                crc16_modbus(self.buf[:-2]) == int.from_bytes(self.buf[-2:], "little"):
            frame = bytes(self.buf)
            self.buf.clear()
            return frame
        if len(self.buf) > MAX_FRAME:
            self.meter.rejected.append(("too long without a CRC", bytes(self.buf)))
            self.buf.clear()
        return None


class SimMercury206(SimFamilyMeter):
    """A Mercury-206 on the optical port.

    State as raw integers: tariffs in 0.01 kWh (4 registers), voltage 0.1 V, current 0.01 A,
    power W, running hours; `released` is (year, month, day).
    """

    FAULTS = FAULTS

    def __init__(
        self,
        *,
        serial: int = 36896545,
        tariffs_raw: list[int] | tuple[int, ...] = (123456, 7890, 0, 0),
        voltage_raw: int = 2295,
        current_raw: int = 1234,
        power_w: int = 2831,
        released: tuple[int, int, int] = (2018, 12, 10),
        hours_mains: int = 43210,
        hours_battery: int = 120,
        ping_value: int = 0x00,
        asleep: bool = True,
        wake_reply: str = "silent",
        wake_garbage_len: int = 3,
        sleep_after_ms: int = 2000,
        reply_delay_ms: int = 20,
        interbyte_timeout_ms: int = 10,
        seed: int = 0,
    ) -> None:
        self.serial = serial
        self.tariffs_raw = list(tariffs_raw)
        self.voltage_raw = voltage_raw
        self.current_raw = current_raw
        self.power_w = power_w
        self.released = released
        self.hours_mains = hours_mains
        self.hours_battery = hours_battery
        self.ping_value = ping_value
        self.asleep = asleep
        self.wake_reply = wake_reply
        self.wake_garbage_len = wake_garbage_len
        self.sleep_after_ms = sleep_after_ms
        self.interbyte_timeout_ms = interbyte_timeout_ms
        self.heard: list[tuple[int, int, bytes]] = []  # (address, command, data)
        self._last_request_ns: int | None = None
        super().__init__(reply_delay_ms=reply_delay_ms, seed=seed)
        self.check_state()

    @property
    def address(self) -> int:
        """The address is the serial number."""
        return self.serial

    def _new_receiver(self) -> _Receiver:
        return _Receiver(self)

    def _forget_session(self) -> None:
        self.asleep = True  # a restarted meter ignores its first request, as after an idle gap

    def check_state(self) -> None:
        """Raise ValueError if the state cannot be put on the wire."""
        check_uint(self.serial, 32, "serial")
        if len(self.tariffs_raw) != 4:
            raise ValueError("tariffs_raw needs 4 registers")
        for i, value in enumerate(self.tariffs_raw):
            bcd(value, 4, f"tariffs_raw[{i}]")
        bcd(self.voltage_raw, 2, "voltage_raw")
        bcd(self.current_raw, 2, "current_raw")
        bcd(self.power_w, 3, "power_w")
        bcd(self.hours_mains, 3, "hours_mains")
        bcd(self.hours_battery, 3, "hours_battery")
        year, month, day = self.released
        if not (2000 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError("released is (2000..2099, 1..12, 1..31)")
        check_uint(self.ping_value, 8, "ping_value")
        if self.wake_reply not in ("silent", "garbage"):
            raise ValueError("wake_reply is 'silent' or 'garbage'")

    # ----------------------------------------------------------------------------- requests
    def handle_request(self, request: bytes, now_ns: int | None) -> Plan | None:
        if now_ns is not None and self._last_request_ns is not None \
                and now_ns - self._last_request_ns > self.sleep_after_ms * NS_PER_MS:
            self.asleep = True
        self._last_request_ns = now_ns
        address, command = int.from_bytes(request[:4], "big"), request[4]
        data = bytes(request[5:-2])
        self.heard.append((address, command, data))
        self.received.append((command, data))
        read_only = command in READ_ONLY_COMMANDS and not data
        if not read_only:
            self.forbidden.append((command, data))
        if address != self.serial:
            return None
        if self.asleep:
            self.asleep = False
            if self.wake_reply == "garbage":
                self.sent.append(self.garbage(self.wake_garbage_len))
                return [(self.reply_delay_ms * NS_PER_MS, self.sent[-1])]
            return None
        if not read_only:
            return None  # never executed, never answered
        self.check_state()
        return self._reply(request, command, self._HANDLERS[command](self))

    def _answer_ping(self) -> bytes:
        return bytes((self.ping_value,))

    def _answer_serial(self) -> bytes:
        return self.serial.to_bytes(4, "big")

    def _answer_released(self) -> bytes:
        year, month, day = self.released
        return bcd(day, 1) + bcd(month, 1) + bcd(year - 2000, 1)

    def _answer_net(self) -> bytes:
        return (bcd(self.voltage_raw, 2) + bcd(self.current_raw, 2) + bcd(self.power_w, 3))

    def _answer_tariffs(self) -> bytes:
        return b"".join(bcd(t, 4) for t in self.tariffs_raw)

    def _answer_hours(self) -> bytes:
        return bcd(self.hours_mains, 3) + bcd(self.hours_battery, 3)

    _HANDLERS = {0x82: _answer_ping, 0x2F: _answer_serial, 0x66: _answer_released,
                 0x63: _answer_net, 0x27: _answer_tariffs, 0x69: _answer_hours}

    # ----------------------------------------------------------------------------- replies
    def _reply(self, request: bytes, command: int, data: bytes) -> Plan | None:
        name, p = self.next_fault()
        address = self.serial
        if name == "wrong_length":
            data = data[:-1] if int(p["delta"]) < 0 else data + bytes(int(p["delta"]))
        elif name == "wrong_address":
            address = (self.serial + 1) & 0xFFFFFFFF if p["address"] == -1 else int(p["address"])
        elif name == "wrong_command":
            command = (command + 1) & 0xFF if p["command"] == -1 else int(p["command"])
        elif name == "bad_bcd":
            at = int(p["at"])
            data = data[:at] + bytes((0xA0 | data[at] & 0x0F,)) + data[at + 1:]
        frame = with_crc(address.to_bytes(4, "big") + bytes((command,)) + data)
        if name == "bad_checksum":
            frame = frame[:-2] + bytes((frame[-2] ^ 0xFF, frame[-1]))
        return self.line_plan(name, p, frame, request)

    def describe(self, entry: tuple) -> str:
        """One log line for a `received` entry (the pty server prints it)."""
        command, data = entry
        return f"cmd=0x{command:02X} data={data.hex(' ') or '-'}"
