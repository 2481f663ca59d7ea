"""The simulated Energomera CE-102M (host/kaskad_sim/ce_102m.py) against the team's notes.

Expected bytes come from docs/protocols/ce-102m.md's vectors (docs/protocols/vectors/ce-102m.json:
each request as 7-bit text and as the bytes on the wire with even parity; the synthetic ET0PE
reply; the driver's tests read the same file), never from the code under test, except where a
test says it checks a consistency property.
"""
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol_vectors as vectors
from kaskad_sim.ce_102m import (FAULTS, SimCe102m, bcc, build_command, strip_parity,
                                with_parity)
from kaskad_sim.sim_base import NS_PER_MS

h = bytes.fromhex

# The document's requests: name -> (7-bit, on the wire)
DOC = vectors.load("ce-102m")
_NAMES = {"ident": "sign-on", "option": "ack", "break": "B0", "password": "P1"}
REQUESTS = {v["read"] if v["kind"] == "read" else _NAMES[v["kind"]]: (v["seven_bit"], v["wire"])
            for v in DOC["requests"]}
READS = ("STAT_", "ET0PE", "POWEP", "VOLTA", "CURRE", "SNUMB")
ET0PE_REPLY = h(vectors.reply("ce-102m", "ET0PE")["seven_bit"])


def wire(name: str) -> bytes:
    return h(REQUESTS[name][1])


def in_session(**state) -> SimCe102m:
    held = dict(vectors.reply("ce-102m", "ET0PE")["meter"])
    held.update(state)
    meter = SimCe102m(**held)
    assert meter.respond(wire("sign-on")) is not None
    assert meter.respond(wire("ack")) is not None
    assert meter.session == "programming"
    return meter


def check_data_reply(reply: bytes) -> bytes:
    """Validate a data reply by the notes' rules (3.2) and return it as 7-bit text."""
    assert all(bin(c).count("1") % 2 == 0 for c in reply), "every character carries even parity"
    text = strip_parity(reply)
    assert text[0] == 0x02 and text[-2] == 0x03
    assert sum(text[1:-1]) & 0x7F == text[-1]
    return text


# --------------------------------------------------------------------------------- BCC, parity
def test_bcc_check_value_and_the_notes_example():
    assert bcc(b"123456789") == 477 & 0x7F == 0x5D
    for example in DOC["bcc"]["examples"]:  # B0 ETX: 0x75, where XOR would give 0x71
        covered = example["covered_ascii"].encode()
        assert bcc(covered) == int(example["bcc"], 16)
        xor = 0
        for byte in covered:
            xor ^= byte
        assert xor == int(example["xor_would_be"], 16) != bcc(covered)


@pytest.mark.parametrize("name", REQUESTS)
def test_request_vectors_parity_is_what_the_notes_say(name):
    seven, on_wire = REQUESTS[name]
    assert with_parity(h(seven)) == h(on_wire)
    assert strip_parity(h(on_wire)) == h(seven)


@pytest.mark.parametrize("name", ["STAT_", "ET0PE", "POWEP", "VOLTA", "CURRE", "SNUMB"])
def test_command_builder_matches_the_vectors(name):
    assert build_command("R1", name + "()") == h(REQUESTS[name][0])
    assert build_command("B0") == h(REQUESTS["B0"][0])
    assert build_command("P1", "(777777)") == h(REQUESTS["P1"][0])


# --------------------------------------------------------------------------------- the session
def test_session_replies():
    meter = SimCe102m(serial="0123456")
    ident = meter.respond(wire("sign-on"))
    assert strip_parity(ident) == b"/EKT5CE102M\r\n"
    assert meter.session == "identified"
    p0 = strip_parity(meter.respond(wire("ack")))
    assert p0 == b"\x01P0\x02(0123456)\x03" + bytes((bcc(b"P0\x02(0123456)\x03"),))
    assert meter.received == [("/?", ""), ("ACK", "051")]


@pytest.mark.parametrize("name", READS)
def test_every_read_vector_is_answered(name):
    meter = in_session()
    text = check_data_reply(meter.respond(wire(name)))
    assert text.startswith(b"\x02" + name.encode() + b"(")
    assert meter.received[-1] == ("R1", name + "()")
    assert meter.forbidden == []


def test_et0pe_reply_byte_exact():
    meter = in_session()
    reply = meter.respond(wire("ET0PE"))
    assert strip_parity(reply) == ET0PE_REPLY
    assert reply == with_parity(ET0PE_REPLY)
    assert ET0PE_REPLY[1:-2] == vectors.reply("ce-102m", "ET0PE")["seven_bit_text"].encode()


def test_what_the_synthetic_reply_says_is_what_the_meter_held():
    doc = vectors.reply("ce-102m", "ET0PE")["decoded"]
    held = in_session().tariffs_raw  # T1..T5, 0.01 kWh
    assert held[:4] == [vectors.scaled(doc["t%d_kwh" % (n + 1)], "0.01") for n in range(4)]
    assert sum(held) == vectors.scaled(doc["total_kwh"], "0.01")


def test_values_and_units():
    meter = in_session(serial="011234567890123", power_raw=345_678, voltage_raw=23010,
                       current_ma=1200, status_word=0x00080008)
    values = {name: strip_parity(meter.respond(wire(name)))[1:-2] for name in READS}
    assert values["VOLTA"] == b"VOLTA(230.10)\r\n"
    assert values["CURRE"] == b"CURRE(1.200)\r\n"
    assert values["POWEP"] == b"POWEP(0.345678)\r\n"
    assert values["SNUMB"] == b"SNUMB(011234567890123)\r\n"
    assert values["STAT_"] == b"STAT_(00080008)\r\n"
    assert meter.battery_flag


def test_reads_outside_programming_mode_are_ignored():
    meter = SimCe102m()
    assert meter.respond(wire("VOLTA")) is None          # no sign-on
    meter.respond(wire("sign-on"))
    assert meter.respond(wire("VOLTA")) is None          # no ACK yet
    meter.respond(wire("ack"))
    assert meter.respond(wire("VOLTA")) is not None
    assert meter.respond(wire("B0")) is None             # break: no reply
    assert meter.session == "idle"
    assert meter.respond(wire("VOLTA")) is None
    assert meter.respond(wire("ack")) is None            # ACK without a new sign-on
    assert meter.forbidden == []


def test_unknown_name_gets_the_error_message():
    meter = in_session()
    text = check_data_reply(meter.respond(with_parity(build_command("R1", "FREQU()"))))
    assert text[1:-2] == b"(ERR12)"
    assert meter.forbidden == []


def test_nak_repeats_the_last_reply_and_bad_bcc_gets_nak():
    meter = in_session()
    first = meter.respond(wire("VOLTA"))
    assert meter.respond(with_parity(b"\x15")) == first
    assert meter.respond(wire("VOLTA")[:-1] + with_parity(b"\x60")) == with_parity(b"\x15")
    assert meter.rejected[-1][0] == "bad BCC"


def test_session_times_out():
    meter = SimCe102m(session_timeout_ms=120_000)

    def send(name, at_ms):
        plan = None
        for byte in wire(name):
            plan = meter.hear(byte, now_ns=at_ms * NS_PER_MS)
        return plan

    send("sign-on", 0)
    send("ack", 100)
    assert send("VOLTA", 60_000) is not None
    assert send("VOLTA", 180_001) is None
    assert meter.session == "idle"


# --------------------------------------------------------------------------------- parity on air
def test_a_request_without_parity_is_not_understood():
    meter = SimCe102m()
    assert meter.respond(h(REQUESTS["sign-on"][0])) is None   # '/' sent as 2F: parity wrong
    assert meter.received == []
    assert meter.rejected[0][0] == "parity error"
    meter2 = in_session()
    assert meter2.respond(h(REQUESTS["VOLTA"][0])) is None    # 7-bit R1: SOH 01 has odd parity


def test_one_bad_parity_character_drops_the_request():
    meter = in_session()
    bad = bytearray(wire("VOLTA"))
    bad[6] ^= 0x80
    assert meter.respond(bytes(bad)) is None
    assert meter.respond(wire("VOLTA")) is not None


# --------------------------------------------------------------------------------- read-only
@pytest.mark.parametrize("command,data", [
    ("W1", "VOLTA(240.00)"),
    ("W2", "TIME_(12:00:00)"),
    ("E2", "CLEAR()"),
    ("P1", "(777777)"),
])
def test_forbidden_commands_are_recorded_refused_and_change_nothing(command, data):
    meter = in_session()
    before = (meter.voltage_raw, meter.serial, list(meter.tariffs_raw), meter.status_word)
    text = check_data_reply(meter.respond(with_parity(build_command(command, data))))
    assert text[1:-2] == b"(ERR12)"
    assert meter.forbidden == [(command, data)]
    assert (meter.voltage_raw, meter.serial, list(meter.tariffs_raw), meter.status_word) == before
    assert meter.session == "programming"


def test_the_notes_p1_vector_is_forbidden():
    meter = in_session()
    meter.respond(wire("P1"))
    assert meter.forbidden == [("P1", "(777777)")]


@pytest.mark.parametrize("options", ["050", "061", "151"])
def test_other_option_selections_are_forbidden_and_unanswered(options):
    meter = SimCe102m()
    meter.respond(wire("sign-on"))
    assert meter.respond(with_parity(b"\x06" + options.encode() + b"\r\n")) is None
    assert meter.forbidden == [("ACK", options)]
    assert meter.session == "identified"


# --------------------------------------------------------------------------------- faults
def faulty(fault, request="VOLTA", **params):
    meter = in_session()
    clean = meter.respond(wire(request))
    meter.inject(fault, **params)
    plan = None
    for byte in wire(request):
        plan = meter.hear(byte) or plan
    return meter, clean, plan


def test_line_faults():
    meter, _, plan = faulty("silent")
    assert plan is None and meter.sent[-1] == b""
    _, clean, plan = faulty("noise", count=6)
    junk = plan[0][1][:6]
    assert plan[0][1][6:] == clean and not any(c & 0x7F in (1, 2, 3, 6, 0x15, 0x2F) for c in junk)
    _, clean, plan = faulty("truncated")
    assert plan == [(50 * NS_PER_MS, clean[:-1])]
    _, clean, plan = faulty("torn", at=4, then="garbage")
    assert plan[0] == (50 * NS_PER_MS, clean[:4]) and len(plan[1][1]) == len(clean)
    _, clean, plan = faulty("gap", gap_ms=100)
    assert b"".join(c for _, c in plan) == clean and plan[1][0] == 100 * NS_PER_MS
    _, clean, plan = faulty("split", chunk=3)
    assert b"".join(c for _, c in plan) == clean and len(plan) == -(-len(clean) // 3)
    _, clean, plan = faulty("slow", delay_ms=2000)
    assert plan == [(2000 * NS_PER_MS, clean)]
    _, clean, plan = faulty("echo")
    assert plan[0][1] == wire("VOLTA")


def test_content_faults():
    _, clean, plan = faulty("bad_checksum")
    got = strip_parity(plan[0][1])
    assert got[:-1] == strip_parity(clean)[:-1] and got[-1] == (strip_parity(clean)[-1] + 1) & 0x7F
    _, clean, plan = faulty("bad_parity", at=3)
    assert plan[0][1][3] == clean[3] ^ 0x80 and plan[0][1][:3] == clean[:3]
    _, _, plan = faulty("wrong_name", name="CURRE")
    assert check_data_reply(plan[0][1]).startswith(b"\x02CURRE(230.10)")
    _, _, plan = faulty("error_status")
    assert check_data_reply(plan[0][1])[1:-2] == b"(ERR12)"
    _, _, plan = faulty("bad_value", request="ET0PE")
    assert check_data_reply(plan[0][1]).startswith(b"\x02ET0PE(2?0.1)\r\n(9000.12)")


def test_content_faults_wait_for_a_data_reply():
    meter = SimCe102m()
    meter.inject("bad_checksum")
    assert strip_parity(meter.respond(wire("sign-on"))) == b"/EKT5CE102M\r\n"
    meter.respond(wire("ack"))
    assert meter.pending_faults == [("bad_checksum", 1)]
    text = strip_parity(meter.respond(wire("VOLTA")))
    assert sum(text[1:-1]) & 0x7F != text[-1]


def test_fault_names():
    assert set(FAULTS) == {"silent", "noise", "truncated", "torn", "slow", "split", "gap", "echo",
                           "bad_checksum", "bad_parity", "wrong_name", "error_status", "bad_value"}
    with pytest.raises(ValueError, match="unknown fault"):
        SimCe102m().inject("wrong_address")


# --------------------------------------------------------------------------------- any state


def parse_values(text: bytes, name: str) -> list[Decimal]:
    """The bracketed decimals of a data reply, by the notes' format (3.2)."""
    body = text[1:-2].decode("ascii")
    assert body.startswith(name + "(")
    lines = body[len(name):].split("\r\n")
    assert lines[-1] == ""
    return [Decimal(re.fullmatch(r"\((\d+(?:\.\d+)?)\)", line).group(1)) for line in lines[:-1]]


@given(st.lists(st.integers(0, 10**10), min_size=1, max_size=6), st.integers(0, 10**9),
       st.integers(0, 99_999), st.integers(0, 10**6))
def test_any_state_reads_back_as_decimals(tariffs, power_mw, voltage, current):
    meter = in_session(power_raw=power_mw, voltage_raw=voltage, current_ma=current)
    meter.tariffs_raw = tariffs

    def ask(name):
        return parse_values(check_data_reply(meter.respond(with_parity(
            build_command("R1", name + "()")))), name)

    assert ask("ET0PE") == [Decimal(sum(tariffs)) / 100] + [Decimal(t) / 100 for t in tariffs]
    assert ask("POWEP") == [Decimal(power_mw) / 10**6]   # kW
    assert ask("VOLTA") == [Decimal(voltage) / 100]      # V
    assert ask("CURRE") == [Decimal(current) / 1000]     # A
