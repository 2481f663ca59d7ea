"""A simulated KASKAD-11-C1 that answers requests byte-exactly from its state (host only).

Written from docs/protocols/kaskad-11-c1.md section 1 (the team's notes on the reference
firmware and the vendor's KASKAD-11 document), never from a driver: it is the independent model
that tells whether the firmware's frames are right. API and audit logs: see `sim_base`.

Line: 2400 baud, 8N1. Frames (all numbers little-endian binary, no BCD)::

    request  LEN | CMD | ADDR_lo ADDR_hi | DATA ...          | SUM
    reply    LEN | CMD | ADDR_lo ADDR_hi | DATA ... | STATUS | SUM

LEN counts the whole frame (LEN .. SUM); SUM is the 8-bit sum of every byte before it. STATUS 01 is
success. ADDR is the number the display shows as ID-xxxxx.

What the meter answers (everything else gets an error reply and is recorded as forbidden):

| cmd  | request data        | reply data (before STATUS)                    | needs channel |
|------|---------------------|-----------------------------------------------|---------------|
| 0x02 | level 02 + 9 ASCII  | LEVEL; opens the channel if the password fits | -             |
| 0x03 | -                   | - (closes the channel)                        | -             |
| 0x16 | -                   | DATETIME, 5 bytes bit-packed (doc 1.3)        | yes           |
| 0x20 | PARAM               | PARAM + value (table below)                   | yes           |
| 0x25 | -                   | serial number, N ASCII bytes (0..13)          | yes           |
| 0x26-0x29 | ACCUMNUM 1..4  | ACCUMNUM + u32 in 10 Wh (10 varh)             | yes           |
| 0x4F | - (to address 0)    | the meter's address, u16                      | -             |
| 0x53 | -                   | release date YEAR-2000, MONTH, DAY            | yes           |
| 0x7C | -                   | reply delay, ms (u8)                          | yes           |
| 0x7F | -                   | baud-rate code (4 = 2400)                     | yes           |
| 0xFF | (no address)        | the request, echoed verbatim                  | -             |

0x20 parameters: 0 voltage u16 0.1 V; 1 current u16 mA; 3 active power u24 0.1 W; 4 reactive
power u24 0.1 var; 5 apparent power u24 0.1 VA; 6 cos phi u8 0..100; 7 frequency u16 0.01 Hz.
A three-phase meter (`phases=3`) answers 0, 1, 3, 4, 5 with three values (voltage 3 x u16, the
others 3 x u24), each phase carrying the same state value. Other parameters get an error reply.

Choices where the notes are silent or marked [unverified] (the most plausible reading):

* Error replies: the notes only say STATUS 01 is success. This model answers every refusal with
  an empty-data frame (LEN 6) whose STATUS is 00 (`STATUS_REFUSED`).
* Reads (0x16, 0x20, 0x25-0x29, 0x53, 0x7C, 0x7F) need a channel opened by 0x02 at level 2 with
  the right password; without one they are refused. 0x02 at any other level is outside the
  read-only set: recorded as forbidden and refused, the channel stays closed. With `now_ns`
  given, an open channel closes after `channel_timeout_ms` without a request (30 s, assumed).
* 0x4F (read network address) is answered when sent to address 0 (or the meter's own); the
  reply's CMD is 0x4F, not the 0xB7 of the vendor's layout (taken as a typo), its address field
  is the request's (0) and its data the meter's address.
* 0xFF (channel test) is "a frame without address": LEN FF SUM (LEN 3); it is echoed as is.
* IDs above 65535 are unknown territory (notes 1.5, pitfall 2): the model's address is 1..65535.
* The receiver takes a frame as LEN bytes and checks the sum; a byte that cannot be a length
  (below 5, or above 40) is skipped; a frame with a bad sum is dropped and the receiver resyncs
  on its next byte. With `now_ns`, a gap of more than `interbyte_timeout_ms` (50 ms, assumed)
  inside a request drops the partial frame.
* `reply_delay_ms` (default 20 ms, assumed; the meter's own setting 0..255 ms, readable by 0x7C)
  is the pause between the request's last stop bit and the reply's first start bit.
"""
from __future__ import annotations

import datetime

from .sim_base import LINE_FAULTS, NS_PER_MS, Plan, SimFamilyMeter, TimedReceiver, check_uint

__all__ = ["SimKaskad11", "FAULTS", "READ_ONLY_COMMANDS", "kaskad11_sum", "build_request"]

STATUS_OK = 0x01
STATUS_REFUSED = 0x00   # [unverified] any refusal; the notes name only 01 = success
READ_LEVEL = 2          # access level 2: read-only user
MIN_LEN, MAX_LEN = 5, 40
CHANNEL_TEST = 0xFF
READ_ADDRESS = 0x4F
BAUD_CODES = {150: 0, 300: 1, 600: 2, 1200: 3, 2400: 4, 4800: 5, 9600: 6}

# Commands inside the family's read-only set (0x02 only at level 2, checked separately).
READ_ONLY_COMMANDS = frozenset(
    (0x02, 0x03, 0x16, 0x20, 0x25, 0x26, 0x27, 0x28, 0x29, 0x4F, 0x53, 0x7C, 0x7F, 0xFF))
NEEDS_CHANNEL = frozenset((0x16, 0x20, 0x25, 0x26, 0x27, 0x28, 0x29, 0x53, 0x7C, 0x7F))

FAULTS: dict[str, dict[str, int | str]] = {
    **LINE_FAULTS,
    "bad_checksum": {},                  # SUM byte inverted
    "wrong_address": {"address": -1},    # reply ADDR = `address` (default: meter address + 1)
    "wrong_command": {"command": -1},    # reply CMD = `command` (default: request CMD + 1)
    "error_status": {"code": STATUS_REFUSED},  # no data, STATUS = `code`
    "wrong_length": {"delta": 1},        # +1: one extra 00 data byte; -1: last data byte dropped
                                         # (LEN and SUM stay consistent with the bytes sent)
}


def kaskad11_sum(data: bytes) -> int:
    """The 8-bit wrap-around sum of `data` (notes 1.2)."""
    total = 0
    for byte in data:
        total = (total + byte) & 0xFF
    return total


def build_frame(command: int, address: int, data: bytes = b"") -> bytes:
    """LEN CMD ADDR DATA SUM with LEN and SUM computed (used for requests and replies alike)."""
    body = bytes((5 + len(data), command & 0xFF)) + (address & 0xFFFF).to_bytes(2, "little") \
        + bytes(data)
    return body + bytes((kaskad11_sum(body),))


def build_request(address: int, command: int, data: bytes = b"") -> bytes:
    """A reader's request frame."""
    return build_frame(command, address, data)


class _Refuse(Exception):
    def __init__(self, code: int = STATUS_REFUSED) -> None:
        super().__init__(code)
        self.code = code


class _Receiver(TimedReceiver):
    """LEN-framed receiver with resynchronisation (see the module docstring)."""

    def take(self, byte: int) -> bytes | None:
        self.buf.append(byte)
        return self._scan()

    def _scan(self) -> bytes | None:
        while self.buf:
            length = self.buf[0]
            if length == 3 and len(self.buf) >= 2 and self.buf[1] != CHANNEL_TEST:
                length = 0  # only a channel test is that short
            if not (MIN_LEN <= length <= MAX_LEN or length == 3):
                self.meter.rejected.append(("not a length byte", bytes(self.buf[:1])))
                del self.buf[0]
                continue
            if len(self.buf) < length:
                return None
            frame = bytes(self.buf[:length])
            if kaskad11_sum(frame[:-1]) != frame[-1]:
                self.meter.rejected.append(("bad sum", frame))
                del self.buf[0]
                continue
            del self.buf[:length]
            return frame
        return None


class SimKaskad11(SimFamilyMeter):
    """A single-phase (or three-phase) KASKAD-11-C1 on the optical port.

    State as raw wire integers: energy registers in 10 Wh (reactive in 10 varh), voltage 0.1 V,
    current mA, powers 0.1 W / 0.1 var / 0.1 VA, cos phi 0..100, frequency 0.01 Hz. `released` is
    (year, month, day); `clock` is (year, month, day, hour, minute, second), its weekday derived.
    """

    FAULTS = FAULTS

    def __init__(
        self,
        *,
        address: int = 20109,
        password: str = "000000000",
        phases: int = 1,
        energy_import: list[int] | tuple[int, ...] = (123456, 7890, 12, 0),
        reactive_import: list[int] | tuple[int, ...] = (0, 0, 0, 0),
        energy_export: list[int] | tuple[int, ...] = (0, 0, 0, 0),
        reactive_export: list[int] | tuple[int, ...] = (0, 0, 0, 0),
        voltage_raw: int = 2301,
        current_ma: int = 4321,
        active_power_raw: int = 9870,
        reactive_power_raw: int = 120,
        apparent_power_raw: int = 9943,
        cos_phi: int = 99,
        frequency_raw: int = 5000,
        serial: str = "3202201520109",
        released: tuple[int, int, int] = (2020, 11, 2),
        clock: tuple[int, int, int, int, int, int] = (2023, 11, 22, 13, 45, 30),
        baudrate: int = 2400,
        reply_delay_ms: int = 20,
        channel_timeout_ms: int = 30_000,
        interbyte_timeout_ms: int = 50,
        seed: int = 0,
    ) -> None:
        self.address = address
        self.password = password
        self.phases = phases
        self.energy_import = list(energy_import)
        self.reactive_import = list(reactive_import)
        self.energy_export = list(energy_export)
        self.reactive_export = list(reactive_export)
        self.voltage_raw = voltage_raw
        self.current_ma = current_ma
        self.active_power_raw = active_power_raw
        self.reactive_power_raw = reactive_power_raw
        self.apparent_power_raw = apparent_power_raw
        self.cos_phi = cos_phi
        self.frequency_raw = frequency_raw
        self.serial = serial
        self.released = released
        self.clock = clock
        self.baudrate = baudrate
        self.channel_timeout_ms = channel_timeout_ms
        self.interbyte_timeout_ms = interbyte_timeout_ms
        self.channel_open = False
        self.heard: list[tuple[int, int, bytes]] = []  # (address, command, data) of every request
        self._last_request_ns: int | None = None
        super().__init__(reply_delay_ms=reply_delay_ms, seed=seed)
        self.check_state()

    def _new_receiver(self) -> _Receiver:
        return _Receiver(self)

    def _forget_session(self) -> None:
        self.channel_open = False  # a restarted meter has no channel open

    # ----------------------------------------------------------------------------- state
    def check_state(self) -> None:
        """Raise ValueError if the state cannot be put on the wire (checked before every reply)."""
        check_uint(self.address, 16, "address")
        if self.address == 0:
            raise ValueError("address 0 is the read-address request's, not a meter's")
        if self.phases not in (1, 3):
            raise ValueError("phases is 1 or 3")
        for name in ("energy_import", "reactive_import", "energy_export", "reactive_export"):
            registers = getattr(self, name)
            if len(registers) != 4:
                raise ValueError(f"{name} needs 4 accumulators")
            for i, value in enumerate(registers):
                check_uint(value, 32, f"{name}[{i}]")
        check_uint(self.voltage_raw, 16, "voltage_raw")
        check_uint(self.current_ma, 16 if self.phases == 1 else 24, "current_ma")
        for name in ("active_power_raw", "reactive_power_raw", "apparent_power_raw"):
            check_uint(getattr(self, name), 24, name)
        if not 0 <= self.cos_phi <= 100:
            raise ValueError("cos_phi is 0..100")
        check_uint(self.frequency_raw, 16, "frequency_raw")
        if len(self.serial.encode("ascii")) > 13:
            raise ValueError("serial is at most 13 ASCII characters")
        year, month, day = self.released
        datetime.date(year, month, day)
        if not 2000 <= year <= 2099:
            raise ValueError("released year is 2000..2099")
        datetime.datetime(*self.clock)
        if not 2000 <= self.clock[0] <= 2127:
            raise ValueError("clock year is 2000..2127")
        check_uint(self.reply_delay_ms, 8, "reply_delay_ms")
        if self.baudrate not in BAUD_CODES:
            raise ValueError(f"baudrate is one of {sorted(BAUD_CODES)}")

    @property
    def datetime_bytes(self) -> bytes:
        """The 5-byte DATETIME bit field (notes 1.3), LSB first."""
        year, month, day, hour, minute, second = self.clock
        weekday = datetime.date(year, month, day).isoweekday()  # 1 = Monday
        value = (second | minute << 6 | hour << 12 | weekday << 17 | day << 20 | month << 25
                 | (year - 2000) << 29)
        return value.to_bytes(5, "little")

    # ----------------------------------------------------------------------------- requests
    def handle_request(self, request: bytes, now_ns: int | None) -> Plan | None:
        if now_ns is not None and self.channel_open and self._last_request_ns is not None \
                and now_ns - self._last_request_ns > self.channel_timeout_ms * NS_PER_MS:
            self.channel_open = False
        self._last_request_ns = now_ns
        command = request[1]
        if command == CHANNEL_TEST:
            address, data = -1, request[2:-1]
        elif len(request) >= MIN_LEN:
            address, data = int.from_bytes(request[2:4], "little"), request[4:-1]
        else:
            self.rejected.append(("too short", request))
            return None
        self.heard.append((address, command, bytes(data)))
        self.received.append((command, bytes(data)))
        if not self.is_read_only(command, data):
            self.forbidden.append((command, bytes(data)))
        if command == CHANNEL_TEST:
            return self._reply_raw(request, request)
        if address != self.address and not (command == READ_ADDRESS and address == 0):
            return None  # another meter's request
        self.check_state()
        try:
            data_out, status = self._answer(command, bytes(data)), STATUS_OK
        except _Refuse as refusal:
            data_out, status = b"", refusal.code
        return self._reply(request, command, address, data_out, status)

    @staticmethod
    def is_read_only(command: int, data: bytes) -> bool:
        """Inside the family's read-only set: the allow-list, and 0x02 only at level 2."""
        if command not in READ_ONLY_COMMANDS:
            return False
        return command != 0x02 or (len(data) >= 1 and data[0] == READ_LEVEL)

    def _answer(self, command: int, data: bytes) -> bytes:
        handler = self._HANDLERS.get(command)
        if handler is None:
            raise _Refuse()  # every write and every unknown command: never executed
        if command in NEEDS_CHANNEL and not self.channel_open:
            raise _Refuse()
        return handler(self, data)

    @staticmethod
    def _need(data: bytes, length: int) -> None:
        if len(data) != length:
            raise _Refuse()

    def _open(self, data: bytes) -> bytes:                                    # 0x02
        self._need(data, 10)
        if data[0] != READ_LEVEL or data[1:] != self.password.encode("ascii"):
            raise _Refuse()
        self.channel_open = True
        return bytes((READ_LEVEL,))

    def _close(self, data: bytes) -> bytes:                                   # 0x03
        self._need(data, 0)
        self.channel_open = False
        return b""

    def _datetime(self, data: bytes) -> bytes:                                # 0x16
        self._need(data, 0)
        return self.datetime_bytes

    def _net(self, data: bytes) -> bytes:                                     # 0x20
        self._need(data, 1)
        param, three = data[0], self.phases == 3
        if param == 0:
            value = self.voltage_raw.to_bytes(2, "little")
            return data + (value * 3 if three else value)
        if param == 1:
            if three:
                return data + self.current_ma.to_bytes(3, "little") * 3
            return data + self.current_ma.to_bytes(2, "little")
        powers = {3: self.active_power_raw, 4: self.reactive_power_raw,
                  5: self.apparent_power_raw}
        if param in powers:
            value = powers[param].to_bytes(3, "little")
            return data + (value * 3 if three else value)
        if param == 6 and not three:
            return data + bytes((self.cos_phi,))
        if param == 7:
            return data + self.frequency_raw.to_bytes(2, "little")
        raise _Refuse()

    def _serial(self, data: bytes) -> bytes:                                  # 0x25
        self._need(data, 0)
        return self.serial.encode("ascii")

    def _energy(self, registers: list[int], data: bytes) -> bytes:            # 0x26..0x29
        self._need(data, 1)
        if not 1 <= data[0] <= 4:
            raise _Refuse()
        return data + registers[data[0] - 1].to_bytes(4, "little")

    def _read_address(self, data: bytes) -> bytes:                           # 0x4F
        self._need(data, 0)
        return self.address.to_bytes(2, "little")

    def _released(self, data: bytes) -> bytes:                                # 0x53
        self._need(data, 0)
        year, month, day = self.released
        return bytes((year - 2000, month, day))

    def _delay(self, data: bytes) -> bytes:                                   # 0x7C
        self._need(data, 0)
        return bytes((self.reply_delay_ms,))

    def _baud(self, data: bytes) -> bytes:                                    # 0x7F
        self._need(data, 0)
        return bytes((BAUD_CODES[self.baudrate],))

    _HANDLERS = {
        0x02: _open, 0x03: _close, 0x16: _datetime, 0x20: _net, 0x25: _serial,
        0x26: lambda self, d: self._energy(self.energy_import, d),
        0x27: lambda self, d: self._energy(self.reactive_import, d),
        0x28: lambda self, d: self._energy(self.energy_export, d),
        0x29: lambda self, d: self._energy(self.reactive_export, d),
        0x4F: _read_address, 0x53: _released, 0x7C: _delay, 0x7F: _baud,
    }

    # ----------------------------------------------------------------------------- replies
    def _reply(self, request: bytes, command: int, address: int, data: bytes,
               status: int) -> Plan | None:
        name, p = self.next_fault()
        if name == "error_status":
            data, status = b"", int(p["code"])
        elif name == "wrong_length":
            data = data[:-1] if int(p["delta"]) < 0 else data + bytes(int(p["delta"]))
        elif name == "wrong_address":
            address = (self.address + 1) & 0xFFFF if p["address"] == -1 else int(p["address"])
        elif name == "wrong_command":
            command = (command + 1) & 0xFF if p["command"] == -1 else int(p["command"])
        frame = build_frame(command, address, data + bytes((status,)))
        if name == "bad_checksum":
            frame = frame[:-1] + bytes((frame[-1] ^ 0xFF,))
        return self.line_plan(name, p, frame, request)

    def _reply_raw(self, request: bytes, frame: bytes) -> Plan | None:
        name, p = self.next_fault()
        if name == "bad_checksum":
            frame = frame[:-1] + bytes((frame[-1] ^ 0xFF,))
        return self.line_plan(name, p, frame, request)

    def describe(self, entry: tuple) -> str:
        """One log line for a `received` entry (the pty server prints it)."""
        command, data = entry
        return f"cmd=0x{command:02X} data={data.hex(' ') or '-'}"
