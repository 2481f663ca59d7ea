"""Mercury-206: the vectors of docs/protocols/mercury-206.md (docs/protocols/vectors/mercury-206.json,
which tests/test_sim_mercury_206.py checks against the independent meter model), the allowlist, the poll against a replay line
(fixed frames, not a meter model), plausibility, and a fuzz of mutated replies."""

import os

import pytest

from kaskad import reading as fields
from kaskad.meters import RefusedCommand
from kaskad.meters import mercury_206 as family
from kaskad.meters.mercury_206 import frame
import protocol_vectors as vectors
from family_rig import FamilyRig, poll_ms
from meter_bench import KINDS, SCATTERED, Bench, crc16_modbus, fuzz, fuzz_line, hexbytes, mercury_frame

SERIAL = 36896545
ADDR = hexbytes("02 32 FF 21")

DOC = vectors.load("mercury-206")
REQUEST_VECTORS = [(v["address"], v["command"], v["wire"]) for v in DOC["requests"]]
PING = 0x82  # the old driver's wake-up: its meaning is unknown, so it is not on the allowlist
REQUEST = {v["name"]: hexbytes(v["wire"]) for v in DOC["requests"] if v["address"] == SERIAL}

REPLY_INSTANT = hexbytes(vectors.reply("mercury-206", "U/I/P")["wire"])  # 229.5 V, 12.34 A, 2831 W
REPLY_ENERGY = hexbytes(vectors.reply("mercury-206", "tariffs")["wire"])
REPLY_MADE = hexbytes(vectors.reply("mercury-206", "release date")["wire"])  # 10.12.2018

REPLIES = {
    REQUEST["serial number"]: mercury_frame(ADDR + b"\x2f" + ADDR),
    REQUEST["release date"]: REPLY_MADE,
    REQUEST["U/I/P"]: REPLY_INSTANT,
    REQUEST["tariffs"]: REPLY_ENERGY,
    REQUEST["running time"]: mercury_frame(ADDR + b"\x69" + hexbytes("01 23 45 00 06 78")),
}
REQUESTS = {"serial": REQUEST["serial number"], "made": REQUEST["release date"], "instant": REQUEST["U/I/P"],
            "energy": REQUEST["tariffs"], "hours": REQUEST["running time"]}

TARIFFS_WH = [1234560, 78900, 0, 0]  # 0.01 kWh -> Wh
BATTERY_PCT = round(100 * (120 - (12345 + 678) // 24 // 30) / 120)
TRUTH = TARIFFS_WH + [sum(TARIFFS_WH), 22950, 12340, 283100, BATTERY_PCT, None, (0, 0)]


def test_the_test_crc_is_crc16_modbus_and_matches_the_document():
    assert crc16_modbus(DOC["crc16"]["check"]["ascii"].encode()) == int(DOC["crc16"]["check"]["crc"], 16)
    for _, _, text in REQUEST_VECTORS:
        wire = hexbytes(text)
        assert crc16_modbus(wire[:-2]) == wire[-2] | wire[-1] << 8
    for reply in (REPLY_INSTANT, REPLY_ENERGY, REPLY_MADE):
        assert crc16_modbus(reply[:-2]) == reply[-2] | reply[-1] << 8


def test_the_firmware_crc_matches_the_check_value_and_the_vectors():
    assert frame.crc16(DOC["crc16"]["check"]["ascii"].encode(), 9) == int(DOC["crc16"]["check"]["crc"], 16)
    for _, _, text in REQUEST_VECTORS:
        wire = hexbytes(text)
        assert frame.crc16(wire, 5) == wire[5] | wire[6] << 8


@pytest.mark.parametrize("address, command, text", [v for v in REQUEST_VECTORS if v[1] != PING])
def test_requests_match_the_document(address, command, text):
    buf = bytearray(frame.REQUEST_LEN)
    assert frame.encode_request(buf, address, command) == 7
    assert bytes(buf) == hexbytes(text)


def test_the_documents_replies_decode_to_their_values():
    bench = Bench(family, REPLIES, SERIAL)
    assert bench.poll(), bench.errors
    tariffs, instant = vectors.reply("mercury-206", "tariffs")["decoded"], vectors.reply("mercury-206", "U/I/P")["decoded"]
    assert TARIFFS_WH == [vectors.scaled(tariffs["t%d_kwh" % (n + 1)], "0.001") for n in range(4)]
    assert [bench.value(fields.ENERGY_T1 + n) for n in range(4)] == TARIFFS_WH  # T1 1234.56, T2 78.90 kWh
    assert bench.value(fields.TOTAL) == 1234560 + 78900
    assert bench.value(fields.VOLTAGE) == vectors.scaled(instant["voltage_v"], "0.01") == 22950  # 229.5 V
    assert bench.value(fields.CURRENT) == vectors.scaled(instant["current_a"], "0.001") == 12340  # 12.34 A
    assert bench.value(fields.POWER) == vectors.scaled(instant["power_w"], "0.01") == 283100  # 2831 W
    assert bench.value(fields.BATTERY) == BATTERY_PCT == 85
    reading = bench.reading
    assert (reading.serial, reading.made, reading.model) == ("36896545", "2018-12-10", "Mercury-206")
    assert reading.made == vectors.reply("mercury-206", "release date")["decoded"]["date"]
    assert bench.errors == []


def test_a_poll_asks_only_allowlisted_requests_and_the_date_only_once():
    bench = Bench(family, REPLIES, SERIAL)
    bench.poll()
    bench.poll()
    sent = bench.requests()
    assert set(sent) <= set(REPLIES)
    assert sent.count(REQUESTS["made"]) == 1
    assert REQUEST["ping"] not in sent


def test_it_works_without_an_echo_too():
    bench = Bench(family, REPLIES, SERIAL, echo=False)
    assert bench.poll(), bench.errors


def test_the_allowlist_refuses_everything_else_before_writing():
    allowed = {frame.CMD_SERIAL, frame.CMD_MADE, frame.CMD_INSTANT, frame.CMD_ENERGY, frame.CMD_HOURS}
    buf = bytearray(b"\xAA" * 7)
    for command in range(256):
        if command in allowed:
            continue
        with pytest.raises(RefusedCommand):
            frame.encode_request(buf, SERIAL, command)
    for address in (0, -1, 1_000_000_000, 0xFFFFFFFF):
        with pytest.raises(RefusedCommand):
            frame.encode_request(buf, address, frame.CMD_SERIAL)
    assert buf == b"\xAA" * 7


def test_the_first_request_after_an_idle_gap_may_be_ignored():
    ignored = [True]

    def sleepy(request, reply):
        if ignored[0]:
            ignored[0] = False
            return b"\x00\x7f"  # garbage, as the old driver's author saw
        return reply

    bench = Bench(family, REPLIES, SERIAL, mutate=sleepy)
    assert bench.poll(), bench.errors
    assert bench.requests()[:2] == [REQUESTS["serial"]] * 2


# Against the independent model (host/kaskad_sim/mercury_206.py), which ignores the first request
# after an idle gap (docs/protocols/mercury-206.md 2.1): its `asleep` is set before a poll to make
# the gap (it also falls asleep by itself 2 s after its last request).

def wake_floor_ms(rig):
    """What the wake-up costs at least: its 7-byte request at 10 bits a character, and the model's
    reply delay (an awake meter would have answered after it)."""
    return 7 * rig.wire.char_ns / 1e6 + rig.sim.reply_delay_ms


def test_waking_the_meter_costs_about_one_exchange_not_a_reply_timeout():
    rig = FamilyRig("mercury-206")
    assert rig.poll(), rig.errors  # the first poll also reads the date of manufacture
    for _ in range(3):
        rig.advance_s(60)
        rig.sim.asleep = True
        ok, asleep_ms = poll_ms(rig)
        assert ok, rig.errors
        rig.sim.asleep = False
        ok, awake_ms = poll_ms(rig)
        assert ok, rig.errors
        # the poll of an awake meter plus the wake-up's own floor, within the 1.25x
        assert asleep_ms <= 1.25 * (awake_ms + wake_floor_ms(rig)), (asleep_ms, awake_ms)


def test_the_wake_up_spends_none_of_the_retries():
    rig = FamilyRig("mercury-206", retries=1)
    rig.sim.inject("silent")  # the first reply after the wake-up is lost too
    assert rig.poll(), rig.errors
    assert rig.sim.received[:3] == [(frame.CMD_SERIAL, b"")] * 3  # wake-up, lost, answered


@pytest.mark.parametrize("state", [{"wake_reply": "garbage"}, {"reply_delay_ms": 150}], ids=["garbage", "late"])
def test_a_garbled_wake_up_or_a_meter_slower_than_the_wake_deadline_is_still_read(state):
    rig = FamilyRig("mercury-206", **state)
    for asleep in (True, False, True):
        if asleep:
            rig.advance_s(60)  # the model falls asleep after 2 s without a request
        rig.sim.asleep = asleep
        rig.sim.tariffs_raw[0] += 2
        rig.sim.voltage_raw += 1
        assert rig.poll(), rig.errors
        now = rig.clock.now_ms()
        assert rig.reading.get(fields.VOLTAGE, now, 1000) == rig.sim.voltage_raw * 10  # 0.1 V -> cV
        assert rig.reading.get(fields.ENERGY_T1, now, 1000) == rig.sim.tariffs_raw[0] * 10  # 0.01 kWh -> Wh


def test_another_meter_answering_is_not_read():
    table = dict(REPLIES)
    table[REQUESTS["serial"]] = mercury_frame(ADDR + b"\x2f" + hexbytes("02 32 FF 22"))
    bench = Bench(family, table, SERIAL)
    assert not bench.poll()
    assert any("36896546" in e for e in bench.errors)
    assert bench.value(fields.VOLTAGE) is None


def test_values_that_are_not_bcd_are_not_published():
    table = dict(REPLIES)
    table[REQUESTS["instant"]] = mercury_frame(ADDR + b"\x63" + hexbytes("22 95 12 3A 00 28 31"))
    bench = Bench(family, table, SERIAL)
    assert not bench.poll()
    assert bench.value(fields.VOLTAGE) is None and bench.value(fields.CURRENT) is None
    assert any("BCD" in e for e in bench.errors)


def test_an_implausible_power_withholds_the_whole_reply():
    table = dict(REPLIES)
    table[REQUESTS["instant"]] = mercury_frame(ADDR + b"\x63" + hexbytes("22 95 12 34 06 00 01"))  # 60 001 W
    bench = Bench(family, table, SERIAL)
    assert not bench.poll()
    assert bench.value(fields.POWER) is None and bench.value(fields.VOLTAGE) is None
    assert any("plausible" in e for e in bench.errors)


def test_a_register_jump_is_published_only_when_a_second_read_agrees():
    bench = Bench(family, REPLIES, SERIAL)
    assert bench.poll()
    jump = mercury_frame(ADDR + b"\x27" + hexbytes("00 99 34 56 00 00 78 90") + bytes(8))
    replies = iter([jump, REPLY_ENERGY])
    bench.line.mutate = lambda request, reply: next(replies) if request == REQUESTS["energy"] else reply
    bench.advance_s(60)
    assert not bench.poll()
    assert bench.value(fields.ENERGY_T1) == 1234560
    assert any("not confirmed" in e for e in bench.errors)


FUZZ_REPLIES = int(os.environ.get("FUZZ_REPLIES", 100_000))
IDENTITY = (("serial", "36896545"), ("made", "2018-12-10"))


def test_fuzz_line_errors_never_escape_and_never_publish_a_wrong_value():
    kinds = tuple(k for k in KINDS if k != SCATTERED)
    wrong, polls, mutator = fuzz(family, REPLIES, SERIAL, TRUTH, kinds, FUZZ_REPLIES,
                                 range(fields.FIELD_COUNT), seed=36896545, identity=IDENTITY)
    fuzz_line("mercury-206", kinds, wrong, polls, mutator)
    assert mutator.replies >= FUZZ_REPLIES and wrong == [0] * (fields.FIELD_COUNT + 1)


def test_fuzz_scattered_bit_errors_never_publish_a_wrong_value():
    """CRC-16 finds every error of up to 3 bits in frames this short; 4 bits slip 1 in 65 536."""
    kinds = (SCATTERED,)
    wrong, polls, mutator = fuzz(family, REPLIES, SERIAL, TRUTH, kinds, FUZZ_REPLIES // 5,
                                 range(fields.FIELD_COUNT), seed=35900555, identity=IDENTITY)
    fuzz_line("mercury-206", kinds, wrong, polls, mutator)
    assert wrong == [0] * (fields.FIELD_COUNT + 1)
