"""The simulated KASKAD-11-C1 (host/kaskad_sim/kaskad_11_c1.py) against the team's notes.

Expected bytes come from docs/protocols/kaskad-11-c1.md's vectors (docs/protocols/vectors/
kaskad-11-c1.json: requests computed by an independent script, synthetic replies; the driver's
tests read the same file), never from the code under test, except where a test says it checks a
consistency property.
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol_vectors as vectors
from kaskad_sim.kaskad_11_c1 import (FAULTS, READ_ONLY_COMMANDS, SimKaskad11, build_request,
                                     kaskad11_sum)
from kaskad_sim.sim_base import NS_PER_MS

h = bytes.fromhex
ADDR = 32580  # ID-32580 = 0x7F44, bytes 44 7F

# The document's requests: (name, command, data, wire), address 32580, then 20109 (0x4E8D).
DOC = vectors.load("kaskad-11-c1")
REQUESTS_32580 = [(v["name"], v["command"], h(v["data"]), v["wire"]) for v in DOC["requests"] if v["address"] == ADDR]
REQUEST = {v["name"]: h(v["wire"]) for v in DOC["requests"] if v["address"] == ADDR}
REQUESTS_20109 = [(v["name"], v["command"], h(v["data"]), v["wire"]) for v in DOC["requests"] if v["address"] == 20109]
# Reply LEN per request (single phase; the serial number's is 6 + N).
REPLY_LEN = {v["name"]: v["reply_len"] for v in DOC["requests"]}
OPEN = h(REQUESTS_32580[0][3])
TARIFF1 = REQUEST["tariff 1"]


def vector_meter(**state) -> SimKaskad11:
    """A meter holding the values of the document's synthetic replies."""
    held = {}
    for reply in DOC["replies"]:
        held.update({key: tuple(value) if key == "clock" else value for key, value in reply["meter"].items()})
    held.update(state)
    return SimKaskad11(address=ADDR, **held)


def opened(**state) -> SimKaskad11:
    meter = vector_meter(**state)
    assert meter.respond(OPEN) == h(vectors.reply("kaskad-11-c1", "open OK")["wire"])
    return meter


def check_reply(frame: bytes, command: int, address: int = ADDR, status: int = 0x01) -> bytes:
    """Validate a reply by the notes' rules (1.2) and return its data (between ADDR and STATUS)."""
    assert frame[0] == len(frame)
    assert kaskad11_sum(frame[:-1]) == frame[-1]
    assert frame[1] == command
    assert int.from_bytes(frame[2:4], "little") == address
    assert frame[-2] == status
    return frame[4:-2]


# --------------------------------------------------------------------------------- checksum
def test_sum_check_value_and_vector():
    # 0x31 + ... + 0x39 = 9 * 0x35 = 477 = 0x1DD -> 0xDD
    check = DOC["sum"]["check"]
    assert kaskad11_sum(check["ascii"].encode()) == int(check["sum"], 16) == 0xDD
    for v in DOC["requests"]:
        assert kaskad11_sum(h(v["wire"])[:-1]) == h(v["wire"])[-1]


@pytest.mark.parametrize("name,command,data,wire", REQUESTS_32580)
def test_request_vectors_are_what_the_notes_say(name, command, data, wire):
    assert build_request(ADDR, command, data) == h(wire)


@pytest.mark.parametrize("name,command,data,wire", REQUESTS_32580)
def test_every_request_vector_is_answered(name, command, data, wire):
    meter = opened(serial="1234567832580")
    reply = meter.respond(h(wire))
    assert reply is not None, name
    check_reply(reply, command)
    assert meter.received[-1] == (command, data)
    assert meter.forbidden == []
    assert reply[0] == (6 + 13 if REPLY_LEN[name] == "6+N" else REPLY_LEN[name]), name


@pytest.mark.parametrize("name,command,data,wire", REQUESTS_20109)
def test_second_address_vectors_are_answered(name, command, data, wire):
    meter = SimKaskad11(address=20109)
    meter.respond(h(REQUESTS_20109[0][3]))
    reply = meter.respond(h(wire))
    assert reply is not None and reply[0] == REPLY_LEN[name]
    check_reply(reply, command, address=20109)


# --------------------------------------------------------------------------------- replies
@pytest.mark.parametrize("vector", DOC["replies"], ids=lambda v: v["name"])
def test_synthetic_replies_byte_exact(vector):
    meter = opened()
    if vector["name"] != "open OK":  # opened() checked that one
        assert meter.respond(h(vector["request"])) == h(vector["wire"])


def test_what_the_synthetic_replies_say_is_what_the_meter_held():
    meter = vector_meter()
    decoded = {r["name"]: r["decoded"] for r in DOC["replies"]}
    assert meter.energy_import[0] == vectors.scaled(decoded["tariff 1"]["t1_kwh"], "0.01")  # 10 Wh
    assert meter.voltage_raw == vectors.scaled(decoded["voltage"]["voltage_v"], "0.1")
    assert "%04d-%02d-%02dT%02d:%02d:%02d" % tuple(meter.clock) == decoded["date/time"]["datetime"]


def test_datetime_fields_decode_as_the_notes_say():
    # 2023-11-22 13:45:30, weekday 3 (Wednesday), bit layout of notes 1.3, decoded here by hand.
    value = int.from_bytes(check_reply(opened().respond(REQUEST["date/time"]), 0x16), "little")
    fields = [(value >> shift) & mask for shift, mask in
              ((0, 63), (6, 63), (12, 31), (17, 7), (20, 31), (25, 15), (29, 127))]
    assert fields == [30, 45, 13, 3, 22, 11, 23]
    assert value >> 36 == 0


def test_state_reaches_every_reply():
    meter = opened(serial="0123456789012", released=(2021, 3, 9), current_ma=15234,
                   active_power_raw=35001, apparent_power_raw=36000, reactive_power_raw=777,
                   cos_phi=97, frequency_raw=4998)
    meter.energy_import = [1, 2, 3, 0xFFFFFFFF]

    def ask(command, data=b""):
        return check_reply(meter.respond(build_request(ADDR, command, data)), command)

    assert ask(0x25) == b"0123456789012"
    assert ask(0x53) == bytes((21, 3, 9))
    assert ask(0x20, b"\x01") == b"\x01" + (15234).to_bytes(2, "little")
    assert ask(0x20, b"\x03") == b"\x03" + (35001).to_bytes(3, "little")
    assert ask(0x20, b"\x04") == b"\x04" + (777).to_bytes(3, "little")
    assert ask(0x20, b"\x05") == b"\x05" + (36000).to_bytes(3, "little")
    assert ask(0x20, b"\x06") == b"\x06\x61"
    assert ask(0x20, b"\x07") == b"\x07" + (4998).to_bytes(2, "little")
    assert ask(0x26, b"\x04") == b"\x04\xff\xff\xff\xff"
    assert ask(0x26, b"\x02") == b"\x02\x02\x00\x00\x00"
    assert ask(0x28, b"\x01") == b"\x01" + bytes(4)
    assert ask(0x7F) == b"\x04"          # 2400 baud = rate code 4
    assert ask(0x7C) == bytes((meter.reply_delay_ms,))


def test_three_phase_reply_lengths():
    meter = opened(phases=3)
    assert meter.respond(REQUEST["current"])[0] == 16   # 3 x uint24 current
    assert meter.respond(REQUEST["voltage"])[0] == 13   # 3 x uint16 voltage


def test_unsupported_parameter_and_accumulator_are_refused():
    meter = opened()
    for command, data in ((0x20, b"\x08"), (0x26, b"\x00"), (0x26, b"\x05"), (0x25, b"\x01")):
        reply = meter.respond(build_request(ADDR, command, data))
        assert reply[0] == 6 and check_reply(reply, command, status=0x00) == b""


# --------------------------------------------------------------------------------- session
def test_reads_need_an_open_channel_and_close_ends_it():
    meter = vector_meter()
    assert check_reply(meter.respond(TARIFF1), 0x26, status=0x00) == b""
    meter.respond(OPEN)
    assert meter.channel_open
    assert meter.respond(TARIFF1)[-2] == 0x01
    assert meter.respond(REQUEST["close"]) == h("06 03 44 7F 01 CD")
    assert not meter.channel_open
    assert meter.respond(TARIFF1)[-2] == 0x00


def test_wrong_password_is_refused():
    meter = vector_meter(password="123456789")
    assert check_reply(meter.respond(OPEN), 0x02, status=0x00) == b""
    assert not meter.channel_open
    assert meter.forbidden == []  # level 2 is the read-only level, whatever the password


def test_channel_times_out_without_requests():
    meter = vector_meter(channel_timeout_ms=1000)
    for byte in OPEN:
        meter.hear(byte, now_ns=0)
    assert meter.channel_open
    plan = None
    for byte in TARIFF1:
        plan = meter.hear(byte, now_ns=1001 * NS_PER_MS)
    assert plan[0][1][-2] == 0x00 and not meter.channel_open


def test_other_address_gets_no_reply_but_is_recorded():
    meter = opened()
    assert meter.respond(build_request(ADDR + 1, 0x26, b"\x01")) is None
    assert meter.heard[-1] == (ADDR + 1, 0x26, b"\x01")


def test_read_address_to_address_zero_and_channel_test_echo():
    meter = vector_meter()
    reply = meter.respond(build_request(0, 0x4F))
    assert check_reply(reply, 0x4F, address=0) == ADDR.to_bytes(2, "little")
    assert meter.respond(h("03 FF 02")) == h("03 FF 02")
    assert meter.forbidden == []


# --------------------------------------------------------------------------------- read-only
@pytest.mark.parametrize("command,data", [
    (0x7E, b"\x06"),                       # write baud rate 9600
    (0x7D, b"\x00"),                       # write reply delay 0
    (0x02, b"\x01" + b"0" * 9),            # open at level 1
    (0x05, b"\x02" + b"0" * 9),            # open by serial: not in the model's read-only set
    (0x10, b"\x00\x00"),                   # an unknown command
])
def test_forbidden_commands_are_recorded_refused_and_change_nothing(command, data):
    meter = vector_meter()
    before = dict(vars(meter))
    reply = meter.respond(build_request(ADDR, command, data))
    check_reply(reply, command, status=0x00)
    assert meter.forbidden == [(command, data)]
    assert not meter.channel_open
    assert (meter.baudrate, meter.reply_delay_ms) == (before["baudrate"], before["reply_delay_ms"])
    # inside an open channel too
    meter.respond(OPEN)
    meter.respond(build_request(ADDR, command, data))
    assert meter.forbidden == [(command, data)] * 2
    assert (meter.baudrate, meter.reply_delay_ms) == (2400, 20)


def test_read_only_set_is_the_documented_reads():
    assert READ_ONLY_COMMANDS == {0x02, 0x03, 0x16, 0x20, 0x25, 0x26, 0x27, 0x28, 0x29, 0x4F,
                                  0x53, 0x7C, 0x7F, 0xFF}
    assert 0x7E not in READ_ONLY_COMMANDS and 0x7D not in READ_ONLY_COMMANDS


# --------------------------------------------------------------------------------- receiver
def test_bad_sum_is_dropped_and_the_receiver_resyncs():
    meter = opened()
    assert meter.respond(TARIFF1[:-1] + b"\x00") is None
    assert meter.rejected[-1][0] in ("bad sum", "not a length byte")
    # noise before a request: the receiver finds the frame behind it
    assert meter.respond(b"\x00\x99\x02" + TARIFF1) == h(vectors.reply("kaskad-11-c1", "tariff 1")["wire"])


def test_interbyte_gap_drops_a_partial_request():
    meter = opened()
    plan = None
    for i, byte in enumerate(TARIFF1):
        plan = meter.hear(byte, now_ns=(0 if i < 3 else 60) * NS_PER_MS)
    assert plan is None
    assert meter.rejected[0][0] == "inter-byte timeout"


def test_state_errors_are_refused():
    with pytest.raises(ValueError, match="current_ma"):
        SimKaskad11(current_ma=70000)
    with pytest.raises(ValueError, match="address"):
        SimKaskad11(address=99999)
    with pytest.raises(ValueError, match="13"):
        SimKaskad11(serial="12345678901234")


# --------------------------------------------------------------------------------- faults
def faulty(name, request=TARIFF1, **params):
    meter = opened()
    clean = meter.respond(request)
    meter.inject(name, **params)
    plan = meter.handle_request(request, None)
    return meter, clean, plan


def test_fault_silent():
    meter, _, plan = faulty("silent")
    assert plan is None and meter.sent[-1] == b"" and meter.faults_applied[-1] == "silent"


def test_fault_noise_prefix_and_replace():
    _, clean, plan = faulty("noise", count=5)
    assert len(plan) == 1 and plan[0][1][5:] == clean and len(plan[0][1]) == len(clean) + 5
    _, clean, plan = faulty("noise", mode="replace")
    assert len(plan[0][1]) == len(clean) and plan[0][1] != clean


def test_fault_truncated_torn_gap_split_slow():
    _, clean, plan = faulty("truncated")
    assert plan == [(20 * NS_PER_MS, clean[:-1])]
    _, clean, plan = faulty("torn", at=3)
    assert plan == [(20 * NS_PER_MS, clean[:3]), (150 * NS_PER_MS, clean)]
    _, clean, plan = faulty("torn", then="garbage")
    assert plan[0][1] == clean[:5] and len(plan[1][1]) == len(clean)
    _, clean, plan = faulty("gap", gap_ms=300, at=4)
    assert plan == [(20 * NS_PER_MS, clean[:4]), (300 * NS_PER_MS, clean[4:])]
    _, clean, plan = faulty("split", chunk=4, gap_ms=7)
    assert b"".join(c for _, c in plan) == clean and [p for p, _ in plan] == \
        [20 * NS_PER_MS, 7 * NS_PER_MS, 7 * NS_PER_MS]
    _, clean, plan = faulty("slow", delay_ms=900)
    assert plan == [(900 * NS_PER_MS, clean)]


def test_fault_echo_returns_a_request_that_passes_the_old_reply_checks():
    # Notes 1.5 pitfall 7: the tariff-1 request itself has byte[4] = 01, the address and command.
    _, clean, plan = faulty("echo")
    assert plan[0][1] == TARIFF1
    check_reply(TARIFF1, 0x26)  # the hazard: passes every check of the old receiver
    _, clean, plan = faulty("echo", mode="prefix")
    assert plan[0][1] == TARIFF1 + clean


def test_content_faults():
    _, clean, plan = faulty("bad_checksum")
    assert plan[0][1][:-1] == clean[:-1] and plan[0][1][-1] == clean[-1] ^ 0xFF
    _, _, plan = faulty("wrong_address")
    check_reply(plan[0][1], 0x26, address=ADDR + 1)
    _, _, plan = faulty("wrong_command", command=0x27)
    check_reply(plan[0][1], 0x27)
    _, _, plan = faulty("error_status", code=0x05)
    assert check_reply(plan[0][1], 0x26, status=0x05) == b"" and plan[0][1][0] == 6
    _, clean, plan = faulty("wrong_length")
    assert plan[0][1][0] == 12 and check_reply(plan[0][1], 0x26) == clean[4:-2] + b"\x00"
    _, clean, plan = faulty("wrong_length", delta=-1)
    assert plan[0][1][0] == 10 and check_reply(plan[0][1], 0x26) == clean[4:-3]


def test_faults_queue_times_and_persistent():
    meter = opened()
    meter.inject("silent", times=2)
    meter.inject("bad_checksum")
    assert meter.pending_faults == [("silent", 2), ("bad_checksum", 1)]
    assert meter.respond(TARIFF1) is None and meter.respond(TARIFF1) is None
    assert kaskad11_sum(meter.respond(TARIFF1)[:-1]) != meter.sent[-1][-1]
    assert meter.respond(TARIFF1) == h(vectors.reply("kaskad-11-c1", "tariff 1")["wire"])
    meter.persistent_fault = "error_status"
    assert meter.respond(TARIFF1)[-2] == 0x00
    meter.clear_faults()
    assert meter.respond(TARIFF1)[-2] == 0x01


def test_every_fault_is_tested_and_unknown_ones_refused():
    assert set(FAULTS) == {"silent", "noise", "truncated", "torn", "slow", "split", "gap", "echo",
                           "bad_checksum", "wrong_address", "wrong_command", "error_status",
                           "wrong_length"}
    meter = SimKaskad11()
    with pytest.raises(ValueError, match="unknown fault"):
        meter.inject("bad_crc")
    with pytest.raises(ValueError, match="takes"):
        meter.inject("slow", gap_ms=3)


# --------------------------------------------------------------------------------- any state


@given(st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4), st.integers(0, 2**16 - 1),
       st.integers(0, 2**16 - 1), st.integers(0, 2**24 - 1))
def test_any_state_reads_back_by_the_notes_layout(energy, voltage, current, power):
    meter = opened(current_ma=current, active_power_raw=power)
    meter.energy_import, meter.voltage_raw = energy, voltage
    for n in range(1, 5):
        data = check_reply(meter.respond(build_request(ADDR, 0x26, bytes((n,)))), 0x26)
        assert data[0] == n and int.from_bytes(data[1:5], "little") == energy[n - 1]
    for param, size, value in ((0, 2, voltage), (1, 2, current), (3, 3, power)):
        data = check_reply(meter.respond(build_request(ADDR, 0x20, bytes((param,)))), 0x20)
        assert len(data) == 1 + size and int.from_bytes(data[1:], "little") == value
