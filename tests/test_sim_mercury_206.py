"""The simulated Mercury-206 (host/kaskad_sim/mercury_206.py) against the team's notes.

Expected bytes come from docs/protocols/mercury-206.md's vectors (docs/protocols/vectors/
mercury-206.json: requests computed by an independent script, synthetic replies; the driver's
tests read the same file), never from the code under test, except where a test says it checks a
consistency property.
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol_vectors as vectors
from kaskad_sim.mercury_206 import (FAULTS, READ_ONLY_COMMANDS, SimMercury206, bcd, build_request,
                                    crc16_modbus)
from kaskad_sim.sim_base import NS_PER_MS

h = bytes.fromhex
SERIAL = 36896545  # 0x0232FF21

# The document's requests: (serial, command, wire), and the reply length of each command.
DOC = vectors.load("mercury-206")
REQUESTS = [(v["address"], v["command"], v["wire"]) for v in DOC["requests"]]
REPLY_LEN = {v["command"]: v["reply_len"] for v in DOC["requests"]}
REQUEST = {v["name"]: h(v["wire"]) for v in DOC["requests"] if v["address"] == SERIAL}
NET = REQUEST["U/I/P"]
NET_REPLY = h(vectors.reply("mercury-206", "U/I/P")["wire"])


def awake(**state) -> SimMercury206:
    """A woken meter holding the values of the document's synthetic replies."""
    held = {}
    for reply in DOC["replies"]:
        held.update({key: tuple(value) if key == "released" else value for key, value in reply["meter"].items()})
    held.update(state)
    return SimMercury206(serial=SERIAL, asleep=False, **held)


def check_reply(frame: bytes, command: int, serial: int = SERIAL) -> bytes:
    """Validate a reply by the notes' rules (2.2, 2.3) and return its data."""
    assert crc16_modbus(frame[:-2]) == int.from_bytes(frame[-2:], "little")
    assert int.from_bytes(frame[:4], "big") == serial
    assert frame[4] == command
    return frame[5:-2]


# --------------------------------------------------------------------------------- CRC, BCD
def test_crc16_modbus_check_value():
    check = DOC["crc16"]["check"]
    assert crc16_modbus(check["ascii"].encode()) == int(check["crc"], 16) == 0x4B37


def test_bcd():
    assert bcd(2295, 2) == h("22 95") and bcd(2831, 3) == h("00 28 31")
    with pytest.raises(ValueError, match="BCD"):
        bcd(10000, 2)


@pytest.mark.parametrize("serial,command,wire", REQUESTS)
def test_request_vectors_are_what_the_notes_say(serial, command, wire):
    assert build_request(serial, command) == h(wire)


@pytest.mark.parametrize("serial,command,wire", REQUESTS)
def test_every_request_vector_is_answered(serial, command, wire):
    meter = awake() if serial == SERIAL else SimMercury206(serial=serial, asleep=False)
    reply = meter.respond(h(wire))
    assert reply is not None
    assert len(reply) == REPLY_LEN[command]
    check_reply(reply, command, serial)
    assert meter.received == [(command, b"")] and meter.forbidden == []


@pytest.mark.parametrize("vector", DOC["replies"], ids=lambda v: v["name"])
def test_synthetic_replies_byte_exact(vector):
    request = [v for v in DOC["requests"] if (v["address"], v["command"]) == (SERIAL, vector["command"])][0]
    assert awake().respond(h(request["wire"])) == h(vector["wire"])


def test_what_the_synthetic_replies_say_is_what_the_meter_held():
    meter = awake()
    instant = vectors.reply("mercury-206", "U/I/P")["decoded"]
    assert (meter.voltage_raw, meter.current_raw, meter.power_w) == (
        vectors.scaled(instant["voltage_v"], "0.1"), vectors.scaled(instant["current_a"], "0.01"),
        vectors.scaled(instant["power_w"], "1"))
    tariffs = vectors.reply("mercury-206", "tariffs")["decoded"]
    assert meter.tariffs_raw == [vectors.scaled(tariffs["t%d_kwh" % (n + 1)], "0.01") for n in range(4)]
    assert "%04d-%02d-%02d" % tuple(meter.released) == vectors.reply("mercury-206", "release date")["decoded"]["date"]


def test_state_reaches_every_reply():
    meter = awake(hours_mains=12345, hours_battery=678, ping_value=0x5A)
    meter.tariffs_raw = [1, 22, 333, 99999999]
    meter.voltage_raw, meter.current_raw, meter.power_w = 2401, 9999, 123456

    def ask(command):
        return check_reply(meter.respond(build_request(SERIAL, command)), command)

    assert ask(0x82) == b"\x5a"
    assert ask(0x2F) == SERIAL.to_bytes(4, "big")
    assert ask(0x63) == h("24 01 99 99 12 34 56")
    assert ask(0x27) == h("00 00 00 01 00 00 00 22 00 00 03 33 99 99 99 99")
    assert ask(0x69) == h("01 23 45 00 06 78")


# --------------------------------------------------------------------------------- wake-up
def test_first_request_after_idle_wakes_the_meter_unanswered():
    meter = SimMercury206(serial=SERIAL)
    assert meter.asleep
    assert meter.respond(REQUEST["ping"]) is None
    assert meter.respond(REQUEST["ping"]) is not None
    assert meter.received == [(0x82, b"")] * 2


def test_wake_reply_garbage():
    meter = SimMercury206(serial=SERIAL, wake_reply="garbage", wake_garbage_len=4)
    junk = meter.respond(REQUEST["ping"])
    assert len(junk) == 4
    assert len(meter.respond(REQUEST["ping"])) == 8


def test_falls_asleep_after_an_idle_gap():
    meter = SimMercury206(serial=SERIAL, sleep_after_ms=2000)

    def send(at_ms):
        plan = None
        for byte in REQUEST["ping"]:
            plan = meter.hear(byte, now_ns=at_ms * NS_PER_MS)
        return plan

    assert send(0) is None            # wakes it
    assert send(500) is not None      # the old firmware's second ping, 500 ms later
    assert send(2400) is not None     # 1.9 s later: still awake
    assert send(4401) is None         # 2.001 s idle: asleep again, this one wakes it
    assert send(4500) is not None


# --------------------------------------------------------------------------------- addressing
def test_other_address_gets_no_reply_but_is_recorded():
    meter = awake()
    assert meter.respond(build_request(35900555, 0x63)) is None
    assert meter.heard == [(35900555, 0x63, b"")]


@pytest.mark.parametrize("command,data", [
    (0x02, b""),                  # not a documented read
    (0x63, b"\x00"),              # a read with data is not a read request
    (0x10, h("12 34")),
])
def test_forbidden_commands_are_recorded_unanswered_and_change_nothing(command, data):
    meter = awake()
    before = {k: v for k, v in vars(meter).items() if not isinstance(v, list)}
    assert meter.respond(build_request(SERIAL, command, data)) is None
    assert meter.forbidden == [(command, data)]
    after = {k: v for k, v in vars(meter).items() if not isinstance(v, list)}
    assert {k: v for k, v in after.items() if k != "rng"} == \
        {k: v for k, v in before.items() if k != "rng"}
    assert meter.respond(NET) == NET_REPLY


def test_read_only_set_is_the_documented_reads():
    assert READ_ONLY_COMMANDS == {0x82, 0x2F, 0x66, 0x63, 0x27, 0x69}


# --------------------------------------------------------------------------------- receiver
def test_bad_crc_is_never_answered():
    meter = awake()
    assert meter.respond(NET[:-1] + b"\x00") is None
    assert meter.received == []


def test_gap_splits_requests_and_garbage_before_a_request_hides_it_without_one():
    meter = awake()
    assert meter.respond(b"\x55" + NET) is None  # no timing: the CRC never closes
    plan = None
    meter2 = awake()
    meter2.hear(0x55, now_ns=0)
    for byte in NET:
        plan = meter2.hear(byte, now_ns=50 * NS_PER_MS)
    assert plan[0][1] == NET_REPLY
    assert meter2.rejected[0][0] == "no CRC before the gap"


def test_state_errors_are_refused():
    with pytest.raises(ValueError, match="power_w"):
        SimMercury206(power_w=1_000_000)
    with pytest.raises(ValueError, match="serial"):
        SimMercury206(serial=1 << 32)


# --------------------------------------------------------------------------------- faults
def faulty(name, **params):
    meter = awake()
    clean = meter.respond(NET)
    meter.inject(name, **params)
    return meter, clean, meter.handle_request(NET, None)


def test_line_faults():
    meter, _, plan = faulty("silent")
    assert plan is None and meter.sent[-1] == b""
    _, clean, plan = faulty("noise", count=3)
    assert plan[0][1][3:] == clean
    _, clean, plan = faulty("noise", mode="replace")
    assert len(plan[0][1]) == len(clean) and plan[0][1] != clean
    _, clean, plan = faulty("truncated", keep=6)
    assert plan == [(20 * NS_PER_MS, clean[:6])]
    _, clean, plan = faulty("torn")
    assert plan == [(20 * NS_PER_MS, clean[:7]), (150 * NS_PER_MS, clean)]
    _, clean, plan = faulty("gap", at=2, gap_ms=250)
    assert plan == [(20 * NS_PER_MS, clean[:2]), (250 * NS_PER_MS, clean[2:])]
    _, clean, plan = faulty("split", chunk=5)
    assert [c for _, c in plan] == [clean[:5], clean[5:10], clean[10:]]
    _, clean, plan = faulty("slow")
    assert plan == [(1500 * NS_PER_MS, clean)]
    _, clean, plan = faulty("echo", mode="prefix")
    assert plan[0][1] == NET + clean


def test_content_faults():
    _, clean, plan = faulty("bad_checksum")
    assert plan[0][1] != clean and plan[0][1][:-2] == clean[:-2]
    _, _, plan = faulty("wrong_address")
    check_reply(plan[0][1], 0x63, serial=SERIAL + 1)
    _, _, plan = faulty("wrong_command")
    check_reply(plan[0][1], 0x64)
    _, clean, plan = faulty("wrong_length")
    assert check_reply(plan[0][1], 0x63) == clean[5:-2] + b"\x00"
    _, clean, plan = faulty("wrong_length", delta=-1)
    assert check_reply(plan[0][1], 0x63) == clean[5:-3]
    _, clean, plan = faulty("bad_bcd", at=1)
    assert check_reply(plan[0][1], 0x63) == h("22 A5 12 34 00 28 31")


def test_fault_queue_and_names():
    meter = awake()
    meter.inject("silent", times=2)
    assert meter.respond(NET) is None and meter.respond(NET) is None
    assert meter.respond(NET) == NET_REPLY
    assert set(FAULTS) == {"silent", "noise", "truncated", "torn", "slow", "split", "gap", "echo",
                           "bad_checksum", "wrong_address", "wrong_command", "wrong_length",
                           "bad_bcd"}
    with pytest.raises(ValueError, match="unknown fault"):
        meter.inject("error_status")


# --------------------------------------------------------------------------------- any state


def from_bcd(data: bytes) -> int:
    """Packed BCD, most significant byte first, decoded through its hex digits."""
    digits = data.hex()
    assert digits.isdigit(), digits
    return int(digits)


@given(st.lists(st.integers(0, 99_999_999), min_size=4, max_size=4), st.integers(0, 9999),
       st.integers(0, 9999), st.integers(0, 999_999))
def test_any_state_reads_back_as_bcd(tariffs, voltage, current, power):
    meter = awake()
    meter.tariffs_raw, meter.voltage_raw, meter.current_raw, meter.power_w = \
        tariffs, voltage, current, power
    data = check_reply(meter.respond(build_request(SERIAL, 0x27)), 0x27)
    assert [from_bcd(data[i:i + 4]) for i in range(0, 16, 4)] == tariffs
    data = check_reply(meter.respond(build_request(SERIAL, 0x63)), 0x63)
    assert (from_bcd(data[0:2]), from_bcd(data[2:4]), from_bcd(data[4:7])) == \
        (voltage, current, power)
