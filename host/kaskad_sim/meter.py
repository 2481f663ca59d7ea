"""A simulated KASKAD-1-MT that answers MIRTEK requests byte-exactly from its state.

An independent model written from docs/protocols/mirtek.md, never from the firmware: it is
the "independent meter model" that tells whether the firmware's frames are right. Host only.

Everything a test may want to change between polls is a public attribute. The meter:

* answers only valid requests (escapes, length, CRC, D = 1, C = 0) addressed to its own address;
  broadcasts and requests to other addresses get no reply;
* never executes anything: it only reads its state. Every valid request frame it hears goes into
  `received`; any command outside the read-only allow-list (or any broadcast) also goes into
  `forbidden`, so a test can assert that the firmware never sent one;
* answers unsupported commands with error 0x08, missing data with 0x06, a wrong request length
  with 0x04 and a bad parameter with 0x02, with no data;
* injects faults on demand (`inject`, `persistent_fault`), see FAULTS.

`respond(wire)` is the timing-free API; `hear(byte)` is the byte-stream API used by the wire models,
which returns a reply plan: a list of (pause_ns, bytes) chunks, the first pause counted from the
arrival of the request's stop byte and each later pause from the end of the previous chunk.
Fault queues, line faults, audit logs and `reboot` are the ones every family shares (`sim_base`);
this module holds what is MIRTEK's: its frames, its state, its content faults.
"""
from __future__ import annotations

from .frame import (BROADCAST, PARAM_C, PARAM_D, Frame, FrameError, FrameScanner, decode_frame,
                    frame_body, mirtek_crc8, stuff, unstuff, wire_from_body)
from .sim_base import LINE_FAULTS, Plan, SimFamilyMeter

__all__ = ["SimMeter", "FAULTS", "READ_ONLY_COMMANDS", "Plan", "mirtek_crc8", "stuff", "unstuff"]

# mirtek.md section 5: "A safe allow-list": the required reads plus the optional ones this model
# implements (15 ReadTimeCorrection, 18 ReadKD/ReadDayForSaveMonth, 1C ReadDateTime, 37 ReadTimings,
# 4F GetVersion). Anything else heard is recorded in `forbidden`.
READ_ONLY_COMMANDS = frozenset(
    (0x01, 0x05, 0x0A, 0x10, 0x1E, 0x29, 0x2B, 0x2C, 0x2D, 0x30, 0x15, 0x18, 0x1C, 0x37, 0x4F))

GENERATIONS = ("old", "transitional", "new")
DEFAULT_ROLE = {"old": 0x30, "transitional": 0x90, "new": 0x90}
DEFAULT_BOARD_ID = {"old": 0x01, "transitional": 0x07, "new": 0x09}

# Error codes (mirtek.md section 3).
ERR_OK = 0x00
ERR_PARAM = 0x02
ERR_LENGTH = 0x04
ERR_NO_DATA = 0x06
ERR_CANNOT = 0x08

# Fault name -> default parameters. Every fault applies to one whole reply.
# Fault name -> default parameters. Every fault applies to one whole reply: the line faults every
# family shares (sim_base.LINE_FAULTS: silent, noise, truncated, torn, slow, split, gap, echo),
# then MIRTEK's own. Noise never contains a start pair 73 55.
FAULTS: dict[str, dict[str, int | str]] = {
    **LINE_FAULTS,
    "bad_crc": {},                                  # CRC byte inverted (still correctly stuffed)
    "bad_escape": {"byte": 0x33},                   # reserved byte 00 sent as 73 <byte>
    "wrong_address": {"source": -1},                # source = `source` (default: address + 1)
    "wrong_command": {"command": -1},               # command = `command` (default: command + 1)
    "error_status": {"code": ERR_CANNOT},           # status error code, no data
    "direction": {},                                # D bit set in PARAMS
    "encoded": {},                                  # C bit set in PARAMS
    "wrong_length": {"byte": 0x00},                 # one extra data byte (one fewer if L was 31)
}


class _Refuse(Exception):
    """Raised by a command handler: answer with this error code and no data."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _u(value: int, size: int, name: str) -> bytes:
    """`value` as an unsigned little-endian integer of `size` bytes; ValueError if it doesn't fit."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{name}={value!r} does not fit in u{8 * size}")
    return value.to_bytes(size, "little")


def _ascii30(text: str, name: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 30:
        raise ValueError(f"{name} is longer than 30 characters")
    return raw.ljust(30, b"\x00")


class _Scanner(FrameScanner):
    """The MIRTEK frame scanner as a `sim_base` receiver (the model keeps no time)."""

    def feed(self, byte: int, now_ns: int | None = None) -> bytes | None:
        return super().feed(byte)


class SimMeter(SimFamilyMeter):
    """A KASKAD-1-MT (or a transitional/new-generation MIRTEK meter) on the optical port.

    Quantities are raw register integers as they appear on the wire: tariffs in 10^-decimals kWh,
    voltage in 0.01 V, current in mA, power (old 0x2D) in 10^-decimals kW, power (0x2B) in W.
    `active_tariff` and `tariffs_in_use` count from 1 (T1 = 1); the configuration byte carries them
    minus one.
    """

    FAULTS = FAULTS
    takes_time = False  # hear(byte) needs no arrival time

    def __init__(
        self,
        *,
        address: int = 20109,
        generation: str = "old",
        role: int | None = None,
        board_id: int | None = None,
        firmware_version: int = 0x0105,
        tariffs_raw: list[int] | tuple[int, ...] = (123456, 65432, 0, 0),
        decimals: int = 2,
        tariffs_in_use: int = 3,
        active_tariff: int = 1,
        digits_code: int = 1,
        kd: int = 0x0A,
        voltage_raw: int = 22987,
        current_raw: int = 4321,
        current_3byte: bool = False,
        power_raw: int = 90,
        reactive_raw: int = 0,
        frequency_raw: int = 5000,
        cos_phi_raw: int = 0x03E8,
        battery_total_months: int = 192,
        battery_remaining_months: int = 150,
        serial: str = "3171112520109",
        made: str = "04.10.2017",
        manufacturer: str = "MIRTEK",
        device_name: str = "KASKAD-1-MT",
        device_name2: str = "",
        flags_a: int = 0x00,
        flags_b: int = 0x00,
        status_role: int | None = None,
        config_flags: int = 0x00,
        display_time_s: int = 10,
        snapshot_day: int = 1,
        operating_seconds: int = 12_345_678,
        battery_mv: int = 3600,
        clock: tuple[int, int, int, int, int, int, int] = (0, 30, 12, 1, 24, 11, 25),
        reply_delay_ms: int = 30,
        supports_factory_strings: bool = True,
        supports_current_cmd: bool = True,
        supports_instant: bool | None = None,
        seed: int = 0,
    ) -> None:
        if generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {GENERATIONS}, not {generation!r}")
        self.address = address
        self.generation = generation
        self.role = DEFAULT_ROLE[generation] if role is None else role
        self.board_id = DEFAULT_BOARD_ID[generation] if board_id is None else board_id
        self.firmware_version = firmware_version
        self.tariffs_raw = list(tariffs_raw)
        self.decimals = decimals
        self.tariffs_in_use = tariffs_in_use
        self.active_tariff = active_tariff
        self.digits_code = digits_code
        self.kd = kd
        self.voltage_raw = voltage_raw
        self.current_raw = current_raw
        self.current_3byte = current_3byte
        self.power_raw = power_raw
        self.reactive_raw = reactive_raw
        self.frequency_raw = frequency_raw
        self.cos_phi_raw = cos_phi_raw
        self.battery_total_months = battery_total_months
        self.battery_remaining_months = battery_remaining_months
        self.serial = serial
        self.made = made
        self.manufacturer = manufacturer
        self.device_name = device_name
        self.device_name2 = device_name2
        self.flags_a = flags_a
        self.flags_b = flags_b
        # The role sent in status byte 1. None = `role`. mirtek.md section 8's synthetic replies
        # carry 00 there, while its error vector and section 4.0 carry the role: set 0 to reproduce
        # those vectors byte for byte.
        self.status_role = status_role
        self.config_flags = config_flags
        self.display_time_s = display_time_s
        self.snapshot_day = snapshot_day
        self.operating_seconds = operating_seconds
        self.battery_mv = battery_mv
        self.clock = clock
        self.reply_delay_ms = reply_delay_ms
        self.supports_factory_strings = supports_factory_strings
        self.supports_current_cmd = supports_current_cmd
        self.supports_instant = (generation != "old") if supports_instant is None else supports_instant
        self.allowlist: frozenset[int] = READ_ONLY_COMMANDS
        # Audit logs beside sim_base's: `received` and `forbidden` hold (command, data) (any
        # broadcast is forbidden too); `rejected` (reason, wire) of frames ignored as invalid.
        self.heard: list[Frame] = []                  # every valid request, fully decoded
        super().__init__(reply_delay_ms=reply_delay_ms, seed=seed)
        self.check_state()

    def _new_receiver(self) -> _Scanner:
        return _Scanner()

    def handle_request(self, request: bytes, now_ns: int | None) -> Plan | None:
        return self.handle_frame(request)

    # ----------------------------------------------------------------------------- state helpers
    def check_state(self) -> None:
        """Raise ValueError if the state is inconsistent (checked again before every reply)."""
        if self.generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {GENERATIONS}")
        if (self.role < 0x32) != (self.generation == "old"):
            raise ValueError(f"role 0x{self.role:02X} disagrees with generation {self.generation!r}: "
                             "old needs role < 0x32, transitional/new role >= 0x32")
        if not 1 <= self.address <= 0xFFFE:
            raise ValueError("address must be 1..65534")
        if len(self.tariffs_raw) != 4:
            raise ValueError("tariffs_raw needs 4 registers")
        if not 1 <= self.tariffs_in_use <= 4 or not 1 <= self.active_tariff <= 4:
            raise ValueError("tariffs_in_use and active_tariff count 1..4")
        if not 0 <= self.decimals <= 3 or not 0 <= self.digits_code <= 3:
            raise ValueError("decimals and digits_code are 0..3")

    @property
    def config_byte(self) -> int:
        """Configuration byte, mirtek.md 4.2."""
        return (self.decimals | (self.active_tariff - 1) << 2 | self.digits_code << 4
                | (self.tariffs_in_use - 1) << 6)

    def _status(self, code: int) -> bytes:
        role = self.role if self.status_role is None else self.status_role
        return bytes((role, self.flags_a, self.flags_b, code))

    def _tariffs(self) -> bytes:
        return b"".join(_u(t, 4, f"T{i + 1}") for i, t in enumerate(self.tariffs_raw))

    def _sum_in_use(self) -> bytes:
        return _u(sum(self.tariffs_raw[:self.tariffs_in_use]), 4, "sum of tariffs")

    # ----------------------------------------------------------------------------- receiving
    def handle_frame(self, wire: bytes) -> Plan | None:
        """Judge one complete wire frame and build the reply plan (None = no reply)."""
        try:
            frame = decode_frame(wire)
        except FrameError as exc:
            self.rejected.append((str(exc), wire))
            return None
        if not frame.is_request:
            self.rejected.append(("D=0: not a request", wire))
            return None
        self.heard.append(frame)
        self.received.append((frame.command, frame.data))
        if frame.command not in self.allowlist or frame.dst == BROADCAST:
            self.forbidden.append((frame.command, frame.data))
        if frame.encoded:
            self.rejected.append(("C=1: encoded data", wire))
            return None
        if frame.dst != self.address:
            return None  # broadcast (executed silently, here: ignored) or another meter
        self.check_state()
        try:
            data, code = self._answer(frame), ERR_OK
        except _Refuse as refusal:
            data, code = b"", refusal.code
        return self._plan(frame, code, data, wire)

    # ----------------------------------------------------------------------------- replies
    def _answer(self, req: Frame) -> bytes:
        handler = self._HANDLERS.get(req.command)
        if handler is None:
            raise _Refuse(ERR_CANNOT)  # includes every write: never executed
        return handler(self, req.data)

    @staticmethod
    def _need(data: bytes, length: int) -> None:
        if len(data) != length:
            raise _Refuse(ERR_LENGTH)

    def _ping(self, data: bytes) -> bytes:                                   # 0x01
        self._need(data, 0)
        return _u(self.firmware_version, 2, "firmware_version") + _u(self.address, 2, "address")

    def _energy(self, data: bytes) -> bytes:                                 # 0x05
        cfg = bytes((self.config_byte,))
        if self.generation == "old":
            self._need(data, 0)
            return (self._sum_in_use() + cfg + _u(self.kd, 1, "kd") + _u(self.role, 1, "role")
                    + _u(1, 3, "factor") + self._tariffs())
        self._need(data, 1)
        kind = data[0]
        if kind > (9 if self.generation == "new" else 5):
            raise _Refuse(ERR_PARAM)
        # A one-direction active meter: active import (0) and active absolute (4) are the tariff
        # registers; every other energy type reads zero.
        if kind in (0, 4):
            registers, in_use = self._tariffs(), self._sum_in_use()
            total = _u(sum(self.tariffs_raw), 4, "grand total")
        else:
            registers, in_use, total = bytes(16), bytes(4), bytes(4)
        return bytes((kind,)) + cfg + _u(1, 2, "VT") + _u(1, 2, "CT") + total + in_use + registers

    def _factory_string(self, data: bytes) -> bytes:                         # 0x0A
        if not self.supports_factory_strings:
            raise _Refuse(ERR_NO_DATA)
        self._need(data, 1)
        texts = {1: self.serial, 2: self.made, 3: self.manufacturer, 4: self.device_name,
                 5: self.device_name2}
        if data[0] not in texts:
            raise _Refuse(ERR_PARAM)
        return bytes((data[0],)) + _ascii30(texts[data[0]], f"factory string {data[0]}")

    def _configure(self, data: bytes) -> bytes:                              # 0x10
        self._need(data, 0)
        head = bytes((self.config_byte, self.config_flags, self.display_time_s, 0)) + \
            _u(self.battery_total_months, 1, "battery_total_months") + \
            _u(self.battery_remaining_months, 1, "battery_remaining_months")
        if self.generation == "old":
            return head + bytes((self.role,))
        if self.generation == "transitional":
            return head + bytes((self.snapshot_day, self.role))
        # new: snapshot days (electricity, water, gas), averaging interval, role, relay bitmaps
        # (present, drive, state), seal bitmaps (present, state), three comm-module codes.
        return head + bytes((self.snapshot_day, 1, 1, 0, self.role, 0, 0, 0, 0, 0, 4, 0, 0))

    def _battery(self, data: bytes) -> bytes:                                # 0x1E
        self._need(data, 0)
        return (_u(self.battery_total_months, 1, "battery_total_months")
                + _u(self.battery_remaining_months, 1, "battery_remaining_months"))

    def _phase(self, data: bytes) -> int:
        self._need(data, 1)
        if data[0] != 1:  # a single-phase meter
            raise _Refuse(ERR_PARAM)
        return data[0]

    def _voltage(self, data: bytes) -> bytes:                                # 0x29
        return bytes((self._phase(data),)) + _u(self.voltage_raw, 2, "voltage_raw")

    def _current(self, data: bytes) -> bytes:                                # 0x2C
        if not self.supports_current_cmd:
            raise _Refuse(ERR_CANNOT)
        phase = self._phase(data)
        return bytes((phase,)) + _u(self.current_raw, 3 if self.current_3byte else 2, "current_raw")

    def _power_or_hour(self, data: bytes) -> bytes:                          # 0x2D
        if self.generation == "old":  # ReadPower
            self._need(data, 0)
            return _u(self.power_raw, 3, "power_raw") + bytes((self.config_byte, self.kd))
        # ReadEnergyOnHour: this model has no history and answers with the present registers.
        self._need(data, 5)
        kind, hour, day, month, _year = data
        if kind > (9 if self.generation == "new" else 5) or hour > 23 or not 1 <= day & 0x7F <= 31 \
                or not 1 <= month <= 12:
            raise _Refuse(ERR_PARAM)
        return (bytes(data) + bytes((self.config_byte,)) + _u(1, 2, "VT") + _u(1, 2, "CT")
                + _u(sum(self.tariffs_raw), 4, "total") + self._tariffs())

    def _info(self, data: bytes) -> bytes:                                   # 0x30
        self._need(data, 0)
        flags = 0x80 if self.current_3byte else 0x00
        common = (bytes((self.board_id,)) + _u(self.firmware_version, 2, "firmware_version")
                  + b"\x5a\xa5" + _u(self.operating_seconds, 4, "operating_seconds") + bytes(4)
                  + bytes((0, flags)) + bytes(4) + bytes(4) + bytes(2))
        if self.generation == "new":
            return common + bytes((4, 0, 0, 0)) + _u(self.battery_mv, 2, "battery_mv")
        return common + bytes((0, 0))

    def _instant(self, data: bytes) -> bytes:                                # 0x2B
        if not self.supports_instant or self.generation == "old":
            raise _Refuse(ERR_CANNOT)
        self._need(data, 1)
        if data[0] != 0:
            raise _Refuse(ERR_PARAM if self.generation == "transitional" else ERR_NO_DATA)
        if self.generation == "transitional":
            isize = 3 if self.current_3byte else 2
            return (b"\x00" + _u(1, 2, "VT") + _u(1, 2, "CT") + _u(self.power_raw, 2, "power_raw")
                    + _u(self.reactive_raw, 2, "reactive_raw") + _u(self.frequency_raw, 2, "frequency")
                    + _u(self.cos_phi_raw, 2, "cos_phi") + _u(self.voltage_raw, 2, "voltage_raw")
                    + bytes(4) + _u(self.current_raw, isize, "current_raw") + bytes(2 * isize))
        return (b"\x00" + _u(1, 2, "VT") + _u(1, 2, "CT") + _u(self.power_raw, 3, "power_raw")
                + _u(self.reactive_raw, 3, "reactive_raw") + _u(self.frequency_raw, 2, "frequency")
                + _u(self.cos_phi_raw, 2, "cos_phi") + _u(self.voltage_raw, 2, "voltage_raw")
                + bytes(4) + _u(self.current_raw, 3, "current_raw") + bytes(6))

    def _time_correction(self, data: bytes) -> bytes:                        # 0x15
        self._need(data, 0)
        return _u(32768, 2, "time correction")

    def _kd_or_day(self, data: bytes) -> bytes:                              # 0x18
        if self.generation == "old":
            self._need(data, 0)
            return _u(self.kd, 1, "kd")
        if self.generation == "transitional":
            self._need(data, 0)
            return _u(self.snapshot_day, 1, "snapshot_day")
        self._need(data, 1)
        if data[0] > 2:
            raise _Refuse(ERR_PARAM)
        return bytes((data[0], self.snapshot_day))

    def _datetime(self, data: bytes) -> bytes:                               # 0x1C
        self._need(data, 0)
        return bytes(self.clock)

    def _timings(self, data: bytes) -> bytes:                                # 0x37
        self._need(data, 1)
        if data[0] == 0:
            return b"\x00" + _u(self.reply_delay_ms, 2, "reply_delay_ms")
        if data[0] == 1:
            return b"\x01" + bytes(2)
        raise _Refuse(ERR_PARAM)

    def _versions(self, data: bytes) -> bytes:                               # 0x4F
        self._need(data, 0)
        return b"\x01\x34\x12" + _u(self.firmware_version, 2, "firmware_version") + b"\x5a\xa5"

    _HANDLERS = {
        0x01: _ping, 0x05: _energy, 0x0A: _factory_string, 0x10: _configure, 0x1E: _battery,
        0x29: _voltage, 0x2C: _current, 0x2D: _power_or_hour, 0x30: _info, 0x2B: _instant,
        0x15: _time_correction, 0x18: _kd_or_day, 0x1C: _datetime, 0x37: _timings, 0x4F: _versions,
    }

    # ----------------------------------------------------------------------------- faults on air
    def _plan(self, req: Frame, code: int, data: bytes, request_wire: bytes) -> Plan | None:
        """Build the reply frame for `req` and apply the next fault, if any."""
        name, p = self.next_fault()
        params, src, command, crc_flip = len(data), self.address, req.command, 0
        status = self._status(code)
        if name == "error_status":
            data, status = b"", self._status(int(p["code"]))
            params = 0
        elif name == "wrong_length":
            data = data[:-1] if len(data) == 31 else data + bytes((int(p["byte"]),))
            params = len(data)
        elif name == "direction":
            params |= PARAM_D
        elif name == "encoded":
            params |= PARAM_C
        elif name == "wrong_address":
            src = (self.address + 1) & 0xFFFF if p["source"] == -1 else int(p["source"])
        elif name == "wrong_command":
            command = (req.command + 1) & 0xFF if p["command"] == -1 else int(p["command"])
        elif name == "bad_crc":
            crc_flip = 0xFF
        body = frame_body(params, req.src, src, command, status, data)
        wire = wire_from_body(body, mirtek_crc8(body) ^ crc_flip)
        if name == "bad_escape":
            # wire[3] is the reserved byte 00 (PARAMS at wire[2] never needs escaping).
            wire = wire[:3] + bytes((0x73, int(p["byte"]))) + wire[4:]
        return self.line_plan(name, p, wire, request_wire)

    def garbage_byte_ok(self, byte: int, previous: int | None) -> bool:
        """Noise never holds a start pair 73 55."""
        return not (previous == 0x73 and byte == 0x55)
