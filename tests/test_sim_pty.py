"""The simulated meter on a real pseudo-terminal (host/kaskad_sim/pty_meter.py)."""
import os
import subprocess
import sys
import time

import pytest
import serial

from kaskad_sim import SimMeter, build_request, decode_frame, split_frames
from kaskad_sim.pty_meter import PtyMeter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "host", "kaskad_sim", "pty_meter.py")
DEADLINE_S = 1.0

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a POSIX pty")


def read_frames(port: serial.Serial, count: int, deadline_s: float = DEADLINE_S) -> bytes:
    """Read until `count` complete frames arrived or the deadline passed."""
    got = bytearray()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and len(split_frames(bytes(got))) < count:
        got += port.read(64)
    return bytes(got)


def test_pty_meter_answers_a_ping_in_time():
    meter = SimMeter(address=20109, reply_delay_ms=30, firmware_version=0x0105)
    with PtyMeter(meter) as server, serial.Serial(server.slave_path, 9600, timeout=0.05) as port:
        assert server.slave_path.startswith("/dev/")
        started = time.monotonic()
        port.write(build_request(20109, 0x01))
        got = read_frames(port, 1)
        elapsed = time.monotonic() - started
        frames = split_frames(got)
        assert len(frames) == 1 and frames[0] == got, "no echo, nothing but the reply"
        reply = decode_frame(frames[0])
        assert not reply.is_request
        assert reply.data == bytes((0x05, 0x01, 0x8D, 0x4E))
        assert 0.030 <= elapsed < DEADLINE_S
        assert meter.received == [(0x01, b"")]


def test_pty_meter_echo_and_escaped_bytes():
    # Address 29525 = 0x7355 needs stuffing; 73 11 includes 0x11 (XON), which a non-raw tty eats.
    meter = SimMeter(address=29525, reply_delay_ms=5)
    request = build_request(29525, 0x01)
    assert b"\x73\x11" in request
    with PtyMeter(meter, echo=True) as server, \
            serial.Serial(server.slave_path, 9600, timeout=0.05) as port:
        port.write(request)
        got = read_frames(port, 2)
        assert got.startswith(request)
        reply = decode_frame(split_frames(got)[1])
        assert reply.src == 29525 and reply.data[2:] == (29525).to_bytes(2, "little")


def test_pty_meter_paces_bytes_at_char_time():
    meter = SimMeter(reply_delay_ms=0)
    with PtyMeter(meter) as server, serial.Serial(server.slave_path, 9600, timeout=0.05) as port:
        port.write(build_request(20109, 0x05))  # 26-byte reply: about 44 ms on the wire at 9600
        first = None
        got = bytearray()
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end and not split_frames(bytes(got)):
            chunk = port.read(1)
            if chunk and first is None:
                first = time.monotonic()
            got += chunk
        last = time.monotonic()
        assert split_frames(bytes(got))
        assert last - first >= (len(got) - 1) * 10 / 9600 * 0.8


def test_pty_meter_command_line():
    proc = subprocess.Popen([sys.executable, SCRIPT, "--address", "1234", "--delay-ms", "10",
                             "--seconds", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        with serial.Serial(path, 9600, timeout=0.05) as port:
            port.write(build_request(4321, 0x01))  # another meter: no answer
            assert read_frames(port, 1, 0.3) == b""
            port.write(build_request(1234, 0x1E))
            reply = decode_frame(split_frames(read_frames(port, 1))[0])
            assert (reply.src, reply.command, len(reply.data)) == (1234, 0x1E, 2)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    log = proc.stderr.read()
    assert "cmd=0x1E" in log and "no reply" in log


def test_pty_slave_is_raw_without_client_setup():
    """A client that opens the path without touching termios still gets byte-exact frames:
    no line buffering, no XON/XOFF eating 0x11, no CR/LF mapping."""
    import select

    meter = SimMeter(address=29525, reply_delay_ms=0)
    with PtyMeter(meter) as server:
        fd = os.open(server.slave_path, os.O_RDWR | os.O_NOCTTY)
        try:
            request = build_request(29525, 0x01)
            os.write(fd, request)
            got = b""
            end = time.monotonic() + DEADLINE_S
            while time.monotonic() < end and not split_frames(got):
                if select.select([fd], [], [], 0.05)[0]:
                    got += os.read(fd, 64)
            assert meter.received == [(0x01, b"")]
            assert decode_frame(split_frames(got)[0]).src == 29525
        finally:
            os.close(fd)
