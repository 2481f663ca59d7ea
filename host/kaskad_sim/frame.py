"""MIRTEK frames for the simulated meter: CRC8, byte stuffing, build, parse, stream scanning.

Written from docs/protocols/mirtek.md (sections 1.1-1.7), independently of the firmware's
lib/kaskad/meters/kaskad_1_mt/frame.py, so that the two can check each other. Host only (CPython 3.11).

Wire layout (unstuffed offsets)::

    73 55 | PARAMS | 00 | dst u16 LE | src u16 LE | cmd | 4 bytes | DATA (L) | CRC8 | 55
            `------------------- stuffed, CRC over PARAMS..DATA -------'  stuffed

PARAMS = C(bit 7) V0(bit 6) D(bit 5) L(bits 4-0). The "4 bytes" are the password (u32 LE) in a
request and the status (role, flags A, flags B, error code) in a reply.
"""
from __future__ import annotations

from dataclasses import dataclass

START1 = 0x73
START2 = 0x55
STOP = 0x55
ESCAPE = 0x73
ESC_55 = 0x11
ESC_73 = 0x22

BROADCAST = 0xFFFF
HOST_ADDRESS = 0xFFFF  # the "polling program" source address of a request

PARAM_C = 0x80
PARAM_V0 = 0x40
PARAM_D = 0x20
PARAM_LEN = 0x1F

HEADER_LEN = 11  # PARAMS, reserved, dst(2), src(2), cmd, 4-byte password/status
MAX_DATA = 31
# Longest stuffed body (every byte of header, data and CRC doubled) between the start pair and stop.
MAX_STUFFED_BODY = 2 * (HEADER_LEN + MAX_DATA + 1)


class FrameError(ValueError):
    """A byte sequence that is not a valid MIRTEK frame; the message says why."""


def mirtek_crc8(data: bytes, crc: int = 0) -> int:
    """CRC8, polynomial 0xA9, MSB first, no reflection, no final XOR (mirtek.md 1.5).

    Written as the bit-serial loop of the vendor's Pascal routine (compare the next message bit with
    the register's top bit), which is a different form from the usual byte-wise one.
    """
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 7) & 1
            crc = (crc << 1) & 0xFF
            if top ^ ((byte >> bit) & 1):
                crc ^= 0xA9
    return crc


def stuff(body: bytes) -> bytes:
    """Escape 0x55 as 73 11 and 0x73 as 73 22 (mirtek.md 1.6)."""
    out = bytearray()
    for byte in body:
        if byte == 0x55:
            out += b"\x73\x11"
        elif byte == 0x73:
            out += b"\x73\x22"
        else:
            out.append(byte)
    return bytes(out)


def unstuff(stuffed: bytes) -> bytes:
    """Undo `stuff`. Raises FrameError on an escape followed by anything but 0x11/0x22, a trailing
    escape, or a raw 0x55 (which can never appear inside a body)."""
    out = bytearray()
    escaped = False
    for byte in stuffed:
        if escaped:
            if byte == ESC_55:
                out.append(0x55)
            elif byte == ESC_73:
                out.append(0x73)
            else:
                raise FrameError(f"bad escape 73 {byte:02X}")
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        elif byte == 0x55:
            raise FrameError("raw 55 inside the body")
        else:
            out.append(byte)
    if escaped:
        raise FrameError("body ends inside an escape")
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    """One decoded frame. `field` is the 4-byte password (request) or status (reply)."""

    params: int
    dst: int
    src: int
    command: int
    field: bytes
    data: bytes
    reserved: int = 0

    @property
    def is_request(self) -> bool:
        """D bit: 1 = request to the device."""
        return bool(self.params & PARAM_D)

    @property
    def encoded(self) -> bool:
        """C bit: 1 = DATA is encoded."""
        return bool(self.params & PARAM_C)

    @property
    def password(self) -> int:
        return int.from_bytes(self.field, "little")

    @property
    def role(self) -> int:
        return self.field[0]

    @property
    def flags_a(self) -> int:
        return self.field[1]

    @property
    def flags_b(self) -> int:
        return self.field[2]

    @property
    def error(self) -> int:
        return self.field[3]


def frame_body(params: int, dst: int, src: int, command: int, field: bytes, data: bytes,
               reserved: int = 0) -> bytes:
    """The unstuffed bytes covered by the CRC: PARAMS through the last DATA byte."""
    if len(field) != 4:
        raise ValueError("password/status field must be 4 bytes")
    return (bytes((params & 0xFF, reserved & 0xFF)) + dst.to_bytes(2, "little")
            + src.to_bytes(2, "little") + bytes((command & 0xFF,)) + bytes(field) + bytes(data))


def wire_from_body(body: bytes, crc: int | None = None) -> bytes:
    """Start pair + stuffed (body + CRC) + stop. `crc` overrides the correct CRC (fault injection)."""
    if crc is None:
        crc = mirtek_crc8(body)
    return b"\x73\x55" + stuff(body + bytes((crc & 0xFF,))) + b"\x55"


def build_frame(params: int, dst: int, src: int, command: int, field: bytes, data: bytes = b"",
                ) -> bytes:
    """A complete wire frame with a correct CRC. `params` is used as given (caller sets D/C/L)."""
    return wire_from_body(frame_body(params, dst, src, command, field, data))


def build_request(dst: int, command: int, data: bytes = b"", src: int = HOST_ADDRESS,
                  password: int = 0) -> bytes:
    """A reader's request: PARAMS = 0x20 | L (D = 1, C = 0)."""
    if len(data) > MAX_DATA:
        raise ValueError("at most 31 data bytes")
    return build_frame(PARAM_D | len(data), dst, src, command, password.to_bytes(4, "little"), data)


def decode_frame(wire: bytes) -> Frame:
    """Parse exactly one wire frame `73 55 ... 55`, checking escapes, length and CRC.

    The D and C bits, addresses, command and status are returned, not judged: that is the caller's
    business (a meter and a reader reject different things).
    """
    if len(wire) < 4 or wire[0] != START1 or wire[1] != START2:
        raise FrameError("no start pair 73 55")
    if wire[-1] != STOP:
        raise FrameError("no stop byte 55")
    inner = unstuff(wire[2:-1])
    if len(inner) < HEADER_LEN + 1:
        raise FrameError(f"too short: {len(inner)} bytes between start and stop")
    body, crc = inner[:-1], inner[-1]
    length = body[0] & PARAM_LEN
    if len(body) != HEADER_LEN + length:
        raise FrameError(f"L={length} but {len(body) - HEADER_LEN} data bytes")
    if mirtek_crc8(body) != crc:
        raise FrameError(f"bad CRC {crc:02X}, expected {mirtek_crc8(body):02X}")
    return Frame(params=body[0], reserved=body[1], dst=int.from_bytes(body[2:4], "little"),
                 src=int.from_bytes(body[4:6], "little"), command=body[6], field=bytes(body[7:11]),
                 data=bytes(body[11:]))


def split_frames(stream: bytes) -> list[bytes]:
    """All complete wire frames found in a byte stream, in order (see `FrameScanner`)."""
    scanner = FrameScanner()
    frames = []
    for byte in stream:
        wire = scanner.feed(byte)
        if wire is not None:
            frames.append(wire)
    return frames


class FrameScanner:
    """Finds frame boundaries in a byte stream, one byte at a time.

    Hunts for `73 55`, then collects up to the first raw `55` (the stop byte: a raw 55 never occurs
    in a stuffed body). `73 55` inside a body is taken as a new frame start (resynchronisation), since
    a valid body never has a bare escape before its stop byte. A body longer than the longest possible
    frame is dropped. The returned wire frame is not validated; use `decode_frame`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._prev = -1

    def reset(self) -> None:
        """Forget any partial frame (e.g. after line garbage)."""
        self._buf.clear()
        self._in_frame = False
        self._prev = -1

    def feed(self, byte: int) -> bytes | None:
        """Take one byte; return the complete wire frame it finished, if any."""
        prev, self._prev = self._prev, byte
        if not self._in_frame:
            if prev == START1 and byte == START2:
                self._in_frame = True
                self._buf[:] = b"\x73\x55"
            return None
        if byte == STOP:
            if prev == ESCAPE and len(self._buf) > 2:
                self._buf[:] = b"\x73\x55"  # bare escape + 55: a new start pair
                return None
            self._buf.append(byte)
            wire = bytes(self._buf)
            self.reset()
            return wire
        self._buf.append(byte)
        if len(self._buf) > 2 + MAX_STUFFED_BODY:
            self.reset()
            self._prev = byte
        return None
