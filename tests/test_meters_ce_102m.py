"""Energomera CE-102M: the vectors of docs/protocols/ce-102m.md (docs/protocols/vectors/ce-102m.json,
which tests/test_sim_ce_102m.py checks against the independent meter model; 7-bit and on the
wire with parity), the
BCC, the allowlist, the session against a replay line (fixed frames, not a meter model), decimal
parsing, plausibility, and a fuzz of mutated replies."""

import os

import pytest

from kaskad import reading as fields
from kaskad.meters import RefusedCommand
from kaskad.meters import ce_102m as family
from kaskad.meters.ce_102m import frame
import protocol_vectors as vectors
from meter_bench import KINDS, SWAPPED, Bench, bcc7, ce_block, even_parity, fuzz, fuzz_line, hexbytes

# The document's requests: (request, 7-bit, on the wire); a read is named by its bytes
DOC = vectors.load("ce-102m")
VECTORS = [(v["read"].encode() if v["kind"] == "read" else v["kind"], v["seven_bit"], v["wire"]) for v in DOC["requests"]]
WIRE = {name: hexbytes(wire) for name, _, wire in VECTORS}

ET0PE_TEXT = vectors.reply("ce-102m", "ET0PE")["seven_bit_text"].encode()
REPLY_ET0PE_7BIT = hexbytes(vectors.reply("ce-102m", "ET0PE")["seven_bit"])  # BCC 0x66

REPLIES = {
    WIRE["ident"]: even_parity(b"/EKT5CE102Mv10\r\n"),
    WIRE["option"]: ce_block(b"P0\x02(0123456789)", start=0x01),
    WIRE[b"STAT_"]: ce_block(b"STAT_(0011000A)\r\n"),
    WIRE[b"SNUMB"]: ce_block(b"SNUMB(009217054000123)\r\n"),
    WIRE[b"ET0PE"]: even_parity(REPLY_ET0PE_7BIT),
    WIRE[b"POWEP"]: ce_block(b"POWEP(2.831)\r\n"),
    WIRE[b"VOLTA"]: ce_block(b"VOLTA(229.5)\r\n"),
    WIRE[b"CURRE"]: ce_block(b"CURRE(12.3)\r\n"),
    WIRE["break"]: None,  # no answer
}
# Status 0x0011000A: bit 16 (energy parameter error), bit 20 (CRC error), bits 1 and 3 (tariff, battery)
FLAGS = (fields.FLAG_METER_ERROR | fields.FLAG_BATTERY_LOW,
         fields.FLAG_BATTERY_LOW | fields.FLAG_BATTERY_EXPIRED | fields.FLAG_METER_ERROR)
TRUTH = [9000120, 3345550, 0, 0, 12345670, 22950, 12300, 283100, None, None, FLAGS]


def test_the_test_helpers_match_the_document():
    for _, seven, wire in VECTORS:
        seven, wire = hexbytes(seven), hexbytes(wire)
        assert even_parity(seven) == wire
        if seven[0] == 0x01:
            assert bcc7(seven[1:-1]) == seven[-1]
    assert REPLY_ET0PE_7BIT == b"\x02" + ET0PE_TEXT + b"\x03" + REPLY_ET0PE_7BIT[-1:]
    assert bcc7(REPLY_ET0PE_7BIT[1:-1]) == REPLY_ET0PE_7BIT[-1] == 0x66
    for example in DOC["bcc"]["examples"]:
        assert bcc7(example["covered_ascii"].encode()) == int(example["bcc"], 16)


@pytest.mark.parametrize("name, seven, wire", [v for v in VECTORS if v[0] != "password"])
def test_requests_match_the_document(name, seven, wire):
    buf = bytearray(frame.MAX_REQUEST)
    session = {"ident": frame.IDENT, "option": frame.OPTION, "break": frame.BREAK}
    if name in session:
        size = frame.encode_session(buf, session[name])
    else:
        size = frame.encode_read(buf, name)
    assert bytes(buf[:size]) == hexbytes(wire)
    assert bytes(b & 0x7F for b in buf[:size]) == hexbytes(seven)


def test_the_allowlist_refuses_everything_else_before_writing():
    buf = bytearray(b"\xAA" * frame.MAX_REQUEST)
    for name in (b"P1", b"(777777)", b"W1", b"ET0PE(1)", b"DATE_", b"TIME_", b"ET0P", b"et0pe", b"STAT_ ",
                 b"", b"SNUMB()", b"B0"):
        with pytest.raises(RefusedCommand):
            frame.encode_read(buf, name)
    for request in (b"\x01P1\x02(777777)\x03", b"/?!\r", b"\x06051\r\n\x00", b"\x01B1\x03"):
        with pytest.raises(RefusedCommand):
            frame.encode_session(buf, request)
    assert buf == b"\xAA" * frame.MAX_REQUEST


def test_the_document_reply_and_the_session_decode_to_their_values():
    bench = Bench(family, REPLIES, None)
    assert bench.poll(), bench.errors
    doc = vectors.reply("ce-102m", "ET0PE")["decoded"]
    assert bench.value(fields.TOTAL) == vectors.scaled(doc["total_kwh"], "0.001") == 12345670  # the first value
    assert [bench.value(fields.ENERGY_T1 + n) for n in range(4)] == [
        vectors.scaled(doc["t%d_kwh" % (n + 1)], "0.001") for n in range(4)] == [9000120, 3345550, 0, 0]
    assert bench.value(fields.POWER) == 283100  # 2.831 kW
    assert bench.value(fields.VOLTAGE) == 22950  # 229.5 V: one decimal, not 229.05
    assert bench.value(fields.CURRENT) == 12300  # 12.3 A: the old parser made 12 030 mA of it
    assert bench.value(fields.BATTERY) is None  # the meter gives no percentage
    reading = bench.reading
    assert (reading.flag_bits, reading.flags_known) == FLAGS
    assert reading.flag(fields.FLAG_BATTERY_LOW, bench.clock.now_ms(), 10**9) is True
    assert reading.flag(fields.FLAG_RELAY_OFF, bench.clock.now_ms(), 10**9) is None  # not reported
    assert (reading.serial, reading.made) == ("009217054000123", None)
    assert reading.model is None  # the identification has no checksum: the model needs two alike
    assert bench.poll() and reading.model == "EKT5CE102Mv10"
    assert bench.errors == []


def test_a_session_in_order_then_a_break_and_the_serial_number_once():
    bench = Bench(family, REPLIES, None)
    bench.poll()
    first = bench.requests()
    order = ["ident", "option", b"STAT_", b"SNUMB", b"ET0PE", b"POWEP", b"VOLTA", b"CURRE", "break"]
    assert first[:2] == [WIRE["ident"], WIRE["option"]] and first[-1] == WIRE["break"]
    assert [r for i, r in enumerate(first) if i == 0 or r != first[i - 1]] == [WIRE[n] for n in order]
    bench.poll()
    assert WIRE[b"SNUMB"] not in bench.requests()[len(first):]
    assert set(bench.requests()) <= set(REPLIES)


def test_it_works_without_an_echo_too():
    bench = Bench(family, REPLIES, None, echo=False)
    assert bench.poll(), bench.errors


def test_an_address_is_a_settings_mistake():
    with pytest.raises(ValueError):
        Bench(family, REPLIES, 20109)


def with_reply(name, reply):
    table = dict(REPLIES)
    table[WIRE[name]] = reply
    return table


@pytest.mark.parametrize("text, field, value", [
    (b"CURRE(1.2)\r\n", fields.CURRENT, 1200),
    (b"CURRE(1.23)\r\n", fields.CURRENT, 1230),
    (b"CURRE(70.5)\r\n", fields.CURRENT, 70500),  # above the old uint16 of mA
    (b"CURRE(5)\r\n", fields.CURRENT, 5000),
    (b"POWEP(0.345)\r\n", fields.POWER, 34500),
    (b"POWEP(0.0001234)\r\n", fields.POWER, 12),  # digits beyond 0.01 W are dropped
    (b"VOLTA(230.10)\r\n", fields.VOLTAGE, 23010),
])
def test_decimals_are_scaled_exactly(text, field, value):
    name = text[:5]
    bench = Bench(family, with_reply(name, ce_block(text)), None)
    assert bench.poll(), bench.errors
    assert bench.value(field) == value


@pytest.mark.parametrize("text", [b"CURRE(-1.2)\r\n", b"CURRE(1.2.3)\r\n", b"CURRE()\r\n", b"CURRE(.5)\r\n",
                                  b"CURRE(1e3)\r\n", b"CURRE(201)\r\n", b"CURRE(1)(2)\r\n", b"VOLTA(5.0)\r\n",
                                  b"CURRE(1.2\r\n"])
def test_values_that_do_not_parse_or_make_no_sense_are_not_published(text):
    bench = Bench(family, with_reply(b"CURRE", ce_block(text)), None)
    assert not bench.poll()
    assert bench.value(fields.CURRENT) is None
    assert bench.errors


def test_a_parity_error_rejects_the_frame():
    good = bytearray(REPLIES[WIRE[b"VOLTA"]])
    good[8] ^= 0x80  # one parity bit wrong; the 7-bit content and the BCC are intact
    bench = Bench(family, with_reply(b"VOLTA", bytes(good)), None)
    assert not bench.poll()
    assert bench.value(fields.VOLTAGE) is None
    assert any("parity" in e for e in bench.errors)


def test_a_reply_naming_other_data_is_not_taken():
    bench = Bench(family, with_reply(b"CURRE", ce_block(b"VOLTA(12.3)\r\n")), None)
    assert not bench.poll()
    assert bench.value(fields.CURRENT) is None
    assert any("names other data" in e for e in bench.errors)


def test_tariffs_off_the_total_by_rounding_are_published():
    rounded = ce_block(b"ET0PE(12345.67)\r\n(9000.12)\r\n(3345.56)\r\n(0.00)\r\n")  # off by 0.01 kWh
    bench = Bench(family, with_reply(b"ET0PE", rounded), None)
    assert bench.poll(), bench.errors
    assert bench.value(fields.ENERGY_T1 + 1) == 3345560 and bench.value(fields.TOTAL) == 12345670


@pytest.mark.parametrize("text", [
    b"ET0PE(12345.67)\r\n(9000.12)\r\n(3345.65)\r\n(0.00)\r\n",  # two digits swapped: 9 units off
    b"ET0PE(12345.67)\r\n(9000.12)\r\n(3345.59)\r\n(0.00)\r\n",  # off by 4 units: more than 1 per tariff
    b"ET0PE(12345.67)\r\n(9000.12)\r\n(334.555)\r\n(0.00)\r\n",
])
def test_tariffs_that_do_not_add_up_are_not_published(text):
    bench = Bench(family, with_reply(b"ET0PE", ce_block(text)), None)
    assert not bench.poll()
    assert all(bench.value(fields.ENERGY_T1 + n) is None for n in range(4)) and bench.value(fields.TOTAL) is None
    assert any("add up" in e for e in bench.errors)


def test_a_first_read_is_published_only_when_a_second_read_is_identical():
    other = ce_block(b"ET0PE(12345.68)\r\n(9000.13)\r\n(3345.55)\r\n(0.00)\r\n")
    replies = iter([REPLIES[WIRE[b"ET0PE"]], other])
    bench = Bench(family, REPLIES, None, mutate=lambda q, r: next(replies) if q == WIRE[b"ET0PE"] else r)
    assert not bench.poll()
    assert bench.value(fields.TOTAL) is None
    assert any("not confirmed" in e for e in bench.errors)


def test_a_silent_meter_gets_a_break_and_nothing_else():
    bench = Bench(family, {}, None)
    assert not bench.poll()
    sent = bench.requests()
    assert set(sent[:-1]) == {WIRE["ident"]} and sent[-1] == WIRE["break"]
    assert any("timeout" in e for e in bench.errors)


# Parity on every byte and the BCC find line errors and scattered bit errors. Two swapped bytes
# pass both (a 7-bit sum does not see order): for those, the energy registers (tariffs against
# the total) and the identity (read twice) are still guaranteed; how many instantaneous values and
# status words slipped through is printed. The identification (the model's text) has no checksum
# at all: a swap in it repeats by chance in two sessions often enough to get through.
LINE_ERRORS = tuple(k for k in KINDS if k != SWAPPED)
FUZZ_REPLIES = int(os.environ.get("FUZZ_REPLIES", 100_000))
IDENTITY = (("serial", "009217054000123"), ("model", "EKT5CE102Mv10"))


def test_fuzz_line_errors_never_escape_and_never_publish_a_wrong_value():
    wrong, polls, mutator = fuzz(family, REPLIES, None, TRUTH, LINE_ERRORS, FUZZ_REPLIES,
                                 range(fields.FIELD_COUNT), seed=102, identity=IDENTITY)
    fuzz_line("ce-102m", LINE_ERRORS, wrong, polls, mutator)
    assert mutator.replies >= FUZZ_REPLIES and wrong == [0] * (fields.FIELD_COUNT + 1)


def test_fuzz_swapped_bytes_never_publish_a_wrong_energy_register_or_serial_number():
    kinds = (SWAPPED,)
    wrong, polls, mutator = fuzz(family, REPLIES, None, TRUTH, kinds, FUZZ_REPLIES // 5,
                                 range(fields.TOTAL + 1), seed=61107, identity=IDENTITY[:1], flags_checked=False)
    fuzz_line("ce-102m", kinds, wrong, polls, mutator)
    assert mutator.replies >= FUZZ_REPLIES // 5
