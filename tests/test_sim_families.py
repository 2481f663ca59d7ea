"""Selecting a simulated meter family: the registry (host/kaskad_sim/families.py), the wire model
with each family's line, and `pty_meter.py --meter F` on a real pseudo-terminal."""
import os
import subprocess
import sys
import time

import protocol_vectors as vectors
import pytest
import serial

from kaskad_sim.ce_102m import SimCe102m, strip_parity, with_parity
from kaskad_sim.families import DEFAULT_FAMILY, FAMILIES, build_meter, family
from kaskad_sim.kaskad_11_c1 import SimKaskad11
from kaskad_sim.kaskad_11_c1 import build_request as k11_request
from kaskad_sim.mercury_206 import SimMercury206
from kaskad_sim.mercury_206 import build_request as m206_request
from kaskad_sim.meter import SimMeter
from kaskad_sim.pty_meter import PtyMeter
from kaskad_sim.sim_base import NS_PER_MS
from kaskad_sim.wire import SimWire, char_time_ns

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "host", "kaskad_sim", "pty_meter.py")
h = bytes.fromhex


def test_registry_lines_are_the_documented_ones():
    # docs/protocols kaskad-11-c1.md 1.1, mercury-206.md 2.1, ce-102m.md 3.1 and the issue: line settings.
    lines = {name: (f.model, f.line) for name, f in FAMILIES.items()}
    assert lines == {"kaskad-1-mt": (SimMeter, "9600 8N1"),
                     "kaskad-11-c1": (SimKaskad11, "2400 8N1"),
                     "mercury-206": (SimMercury206, "9600 8N1"),
                     "ce-102m": (SimCe102m, "9600 7E1")}
    assert DEFAULT_FAMILY == "kaskad-1-mt"


def test_7e1_and_8n1_have_the_same_character_time():
    assert char_time_ns(**family("ce-102m").wire_settings()) == char_time_ns(9600) == 1_041_667
    assert char_time_ns(**family("kaskad-11-c1").wire_settings()) == 4_166_667


def test_build_meter_uses_the_family_address():
    assert build_meter("mercury-206", 35900555).serial == 35900555
    assert build_meter("kaskad-11-c1").address == 20109
    assert build_meter("kaskad-1-mt", 1234).address == 1234
    with pytest.raises(ValueError, match="no address"):
        build_meter("ce-102m", 5)
    with pytest.raises(ValueError, match="known: kaskad-1-mt"):
        family("mercury-230")


@pytest.mark.parametrize("name,request_bytes,reply_len", [
    ("kaskad-11-c1", k11_request(20109, 0x4F), 8),
    ("mercury-206", m206_request(36896545, 0x82), 8),
    ("ce-102m", with_parity(b"/?!\r\n"), 13),
])
def test_each_family_answers_through_the_wire_model(name, request_bytes, reply_len):
    fam = family(name)
    meter = build_meter(name)
    if name == "mercury-206":
        meter.asleep = False
    wire = SimWire(meter, **fam.wire_settings())
    board_char = char_time_ns(fam.baudrate)  # the board runs 8N1 at the family's rate
    wire.transmit(request_bytes, 0, board_char)
    arrivals = wire.pop_arrivals(10**10)
    echo, reply = arrivals[:len(request_bytes)], arrivals[len(request_bytes):]
    assert bytes(b for _, b in echo) == request_bytes
    assert len(reply) == reply_len
    last_stop = len(request_bytes) * board_char
    assert reply[0][0] == last_stop + meter.reply_delay_ms * NS_PER_MS + board_char
    assert reply[-1][0] - reply[0][0] == (reply_len - 1) * board_char


def test_a_board_at_the_wrong_rate_is_not_understood():
    meter = build_meter("kaskad-11-c1")
    wire = SimWire(meter, **family("kaskad-11-c1").wire_settings())
    wire.transmit(k11_request(20109, 0x4F), 0, char_time_ns(9600))
    assert wire.garbled and meter.received == []


# --------------------------------------------------------------------------------- the pty
pty_only = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a POSIX pty")


def read_until(port, done, deadline_s=2.0) -> bytes:
    got = bytearray()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and not done(bytes(got)):
        got += port.read(64)
    return bytes(got)


@pty_only
def test_pty_serves_a_ce102m_session_with_parity():
    meter = SimCe102m()
    with PtyMeter(meter, **family("ce-102m").wire_settings()) as server, \
            serial.Serial(server.slave_path, 9600, timeout=0.05) as port:
        port.write(with_parity(b"/?!\r\n"))
        assert strip_parity(read_until(port, lambda g: g.endswith(b"\x8d\x0a"))) == \
            b"/EKT5CE102M\r\n"
        port.write(with_parity(b"\x06051\r\n"))
        p0 = read_until(port, lambda g: len(g) >= 2 and g[-2] == 0x03)
        assert strip_parity(p0).startswith(b"\x01P0\x02(")
        assert meter.session == "programming"


@pty_only
@pytest.mark.parametrize("name,args,requests,expect", [
    ("kaskad-11-c1", ["--address", "32580"],
     [h(vectors.reply("kaskad-11-c1", "open OK")["request"])], h(vectors.reply("kaskad-11-c1", "open OK")["wire"])),
    ("mercury-206", ["--address", "36896545"],  # the reply: address, command, the model's ping byte 00
     [h(vectors.requests("mercury-206")[0]["wire"])] * 2, h(vectors.requests("mercury-206")[0]["wire"])[:5] + b"\x00"),
])
def test_pty_command_line_selects_the_family(name, args, requests, expect):
    proc = subprocess.Popen([sys.executable, SCRIPT, "--meter", name, "--seconds", "20", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        with serial.Serial(path, 9600, timeout=0.05) as port:
            got = b""
            for request in requests:  # Mercury: the first ping only wakes the meter
                port.write(request)
                got = read_until(port, lambda g: len(g) >= len(expect), 0.6)
            assert got.startswith(expect)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    log = proc.stderr.read()
    assert "request cmd=0x" in log


def test_pty_command_line_refuses_an_address_for_ce102m():
    proc = subprocess.run([sys.executable, SCRIPT, "--meter", "ce-102m", "--address", "5"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2 and "has no address" in proc.stderr
