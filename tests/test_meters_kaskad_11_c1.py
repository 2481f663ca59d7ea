"""KASKAD-11-C1: the vectors of docs/protocols/kaskad-11-c1.md (docs/protocols/vectors/kaskad-11-c1.json,
which tests/test_sim_kaskad_11_c1.py checks against the independent meter model), the allowlist, the poll against a replay line
(fixed frames, not a meter model), plausibility, and a fuzz of mutated replies."""

import pytest

from kaskad import reading as fields
from kaskad.meters import RefusedCommand
from kaskad.meters import kaskad_11_c1 as family
from kaskad.meters.kaskad_11_c1 import frame, meter
import protocol_vectors as vectors
from family_rig import FamilyRig, refuse
from meter_bench import (
    KINDS, SCATTERED, SWAPPED, Bench, fuzz, fuzz_line, hexbytes, kaskad11_frame, sum8,
)

ADDRESS = 32580
A = b"\x44\x7f"

# The document's requests (addresses 32580 and 20109) and synthetic replies
DOC = vectors.load("kaskad-11-c1")
REQUEST_VECTORS = [(v["address"], v["command"], hexbytes(v["data"]), v["wire"]) for v in DOC["requests"]]
REPLY_TARIFF_1 = hexbytes(vectors.reply("kaskad-11-c1", "tariff 1")["wire"])  # 123456 x 10 Wh
REPLY_VOLTAGE = hexbytes(vectors.reply("kaskad-11-c1", "voltage")["wire"])  # 230.1 V
REPLY_CLOCK = hexbytes(vectors.reply("kaskad-11-c1", "date/time")["wire"])  # 2023-11-22 13:45:30, weekday 3
REPLY_OPEN = hexbytes(vectors.reply("kaskad-11-c1", "open OK")["wire"])
REQUEST = {v["name"]: hexbytes(v["wire"]) for v in DOC["requests"] if v["address"] == ADDRESS}

SERIAL_TEXT = b"0112532580"
REPLIES = {
    REQUEST["open"]: REPLY_OPEN,
    REQUEST["serial number"]: kaskad11_frame(b"\x25" + A + SERIAL_TEXT + b"\x01"),
    REQUEST["release date"]: kaskad11_frame(b"\x53" + A + bytes([21, 3, 15]) + b"\x01"),  # 2021-03-15
    REQUEST["current"]: kaskad11_frame(b"\x20" + A + b"\x01" + (5123).to_bytes(2, "little") + b"\x01"),
    REQUEST["voltage"]: REPLY_VOLTAGE,
    REQUEST["active power"]: kaskad11_frame(b"\x20" + A + b"\x03" + (11789).to_bytes(3, "little") + b"\x01"),
    REQUEST["tariff 1"]: REPLY_TARIFF_1,
    REQUEST["tariff 2"]: kaskad11_frame(b"\x26" + A + b"\x02" + (23456).to_bytes(4, "little") + b"\x01"),
    REQUEST["tariff 3"]: kaskad11_frame(b"\x26" + A + b"\x03" + (345).to_bytes(4, "little") + b"\x01"),
    kaskad11_frame(b"\x26" + A + b"\x04"): kaskad11_frame(b"\x26" + A + b"\x04" + (7).to_bytes(4, "little") + b"\x01"),
    REQUEST["date/time"]: REPLY_CLOCK,
    REQUEST["close"]: kaskad11_frame(b"\x03" + A + b"\x01"),
}

# What those frames mean, by the document's units (10 Wh, 0.1 V, mA, 0.1 W)
TARIFFS_WH = [1234560, 234560, 3450, 70]
BATTERY_PCT = round(100 * (120 - ((2023 * 12 + 11) - (2021 * 12 + 3))) / 120)  # 120-month life
TRUTH = TARIFFS_WH + [sum(TARIFFS_WH), 23010, 5123, 117890, BATTERY_PCT, None, (0, 0)]


def test_the_test_sum_matches_the_document():
    for _, _, _, text in REQUEST_VECTORS:
        wire = hexbytes(text)
        assert sum8(wire[:-1]) == wire[-1]
    for reply in (REPLY_TARIFF_1, REPLY_VOLTAGE, REPLY_CLOCK, REPLY_OPEN):
        assert sum8(reply[:-1]) == reply[-1] and reply[0] == len(reply)


def test_the_firmware_sum_matches_the_check_value_and_the_replies():
    check = DOC["sum"]["check"]
    assert frame.checksum(check["ascii"].encode(), 9) == int(check["sum"], 16)
    for reply in (REPLY_TARIFF_1, REPLY_VOLTAGE, REPLY_CLOCK, REPLY_OPEN):
        assert frame.checksum(reply, len(reply) - 1) == reply[-1]


@pytest.mark.parametrize("address, command, data, text", REQUEST_VECTORS)
def test_requests_match_the_document(address, command, data, text):
    buf = bytearray(frame.MAX_REQUEST)
    size = frame.encode_request(buf, address, command, data)
    assert bytes(buf[:size]) == hexbytes(text)


def test_the_documents_replies_decode_to_their_values():
    bench = Bench(family, REPLIES, ADDRESS)
    assert bench.poll(), bench.errors
    assert [bench.value(fields.ENERGY_T1 + n) for n in range(4)] == TARIFFS_WH
    decoded = {r["name"]: r["decoded"] for r in DOC["replies"]}
    assert bench.value(fields.ENERGY_T1) == vectors.scaled(decoded["tariff 1"]["t1_kwh"], "0.001") == 1234560
    assert bench.value(fields.VOLTAGE) == vectors.scaled(decoded["voltage"]["voltage_v"], "0.01") == 23010
    assert bench.value(fields.CURRENT) == 5123
    assert bench.value(fields.POWER) == 117890  # parameter 3: active power
    assert bench.value(fields.APPARENT_POWER) is None
    assert bench.value(fields.TOTAL) == sum(TARIFFS_WH)
    assert bench.value(fields.BATTERY) == BATTERY_PCT == 73
    reading = bench.reading
    assert (reading.serial, reading.made, reading.model) == ("0112532580", "2021-03-15", "KASKAD-11-C1")
    assert reading.flags_known == 0
    assert bench.errors == []


def test_a_poll_sends_the_session_in_order_and_only_allowlisted_requests():
    bench = Bench(family, REPLIES, ADDRESS)
    bench.poll()
    sent = bench.requests()
    assert sent[0] == REQUEST["open"]
    assert sent[-1] == REQUEST["close"]
    assert set(sent) <= set(REPLIES)  # every request is one the document (or the table) lists
    bench.poll()
    second = bench.requests()[len(sent):]
    assert REQUEST["serial number"] not in second and REQUEST["release date"] not in second
    assert REQUEST["apparent power"] not in sent + second  # apparent power is not asked for


def test_it_works_without_an_echo_too():
    bench = Bench(family, REPLIES, ADDRESS, echo=False)
    assert bench.poll(), bench.errors


def test_the_allowlist_refuses_everything_else_before_writing():
    allowed = {(c, bytes(d)) for _, c, d, _ in REQUEST_VECTORS} | {(frame.CMD_ENERGY, b"\x04")}
    buf = bytearray(b"\xAA" * frame.MAX_REQUEST)
    for command in range(256):
        for data in [b""] + [bytes([p]) for p in range(256)] + [b"\x01\x00", b"\x01" + b"0" * 9]:
            if (command, data) in allowed:
                continue
            with pytest.raises(RefusedCommand):
                frame.encode_request(buf, ADDRESS, command, data)
            assert buf == b"\xAA" * frame.MAX_REQUEST
    for password in (b"\x02" + b"0" * 8 + b"A", b"\x01" + b"0" * 9, b"\x02" + b"0" * 8):
        with pytest.raises(RefusedCommand):
            frame.encode_request(buf, ADDRESS, frame.CMD_OPEN, password)
    for address in (0, 65536, -1):
        with pytest.raises(RefusedCommand):
            frame.encode_request(buf, address, frame.CMD_CLOSE)
    assert buf == b"\xAA" * frame.MAX_REQUEST


def test_a_bad_address_is_refused_when_the_meter_is_built():
    with pytest.raises(RefusedCommand):
        Bench(family, REPLIES, 70000)


def replaced(**changes):
    table = dict(REPLIES)
    for key, reply in changes.items():
        table[REQUESTS[key]] = reply
    return table


REQUESTS = {
    "voltage": REQUEST["voltage"],
    "current": REQUEST["current"],
    "active": REQUEST["active power"],
    "t1": REQUEST["tariff 1"],
    "clock": REQUEST["date/time"],
    "made": REQUEST["release date"],
}


def test_an_implausible_voltage_is_not_published():
    table = replaced(voltage=kaskad11_frame(b"\x20" + A + b"\x00" + (5001).to_bytes(2, "little") + b"\x01"))
    bench = Bench(family, table, ADDRESS)
    assert not bench.poll()
    assert bench.value(fields.VOLTAGE) is None and bench.value(fields.CURRENT) == 5123
    assert any("voltage" in e and "plausible" in e for e in bench.errors)


def test_a_reply_for_another_parameter_is_not_taken():
    table = replaced(voltage=kaskad11_frame(b"\x20" + A + b"\x01" + (2301).to_bytes(2, "little") + b"\x01"))
    bench = Bench(family, table, ADDRESS)
    assert not bench.poll()
    assert bench.value(fields.VOLTAGE) is None
    assert any("parameter 1" in e for e in bench.errors)


def test_a_changed_register_is_published_only_when_a_second_read_agrees():
    bench = Bench(family, REPLIES, ADDRESS)
    assert bench.poll()
    flaky = [kaskad11_frame(b"\x26" + A + b"\x01" + (123457 + i).to_bytes(4, "little") + b"\x01") for i in range(2)]
    replies = iter(flaky * 3)
    bench.line.mutate = lambda request, reply: next(replies) if request == REQUESTS["t1"] else reply
    bench.advance_s(60)
    assert not bench.poll()
    assert bench.value(fields.ENERGY_T1) == 1234560  # the old, confirmed value stays
    assert any("second read disagrees" in e for e in bench.errors)
    steady = flaky[1]
    bench.line.mutate = lambda request, reply: steady if request == REQUESTS["t1"] else reply
    bench.advance_s(60)
    assert bench.poll(), bench.errors
    assert bench.value(fields.ENERGY_T1) == 1234580


def test_active_power_refused_falls_back_to_apparent_power_in_its_own_field():
    table = replaced(active=kaskad11_frame(b"\x20" + A + b"\x03\x05"))  # status 5: refused
    table[REQUEST["apparent power"]] = kaskad11_frame(b"\x20" + A + b"\x05" + (12001).to_bytes(3, "little") + b"\x01")
    bench = Bench(family, table, ADDRESS)
    bench.poll()
    assert bench.value(fields.POWER) is None
    assert bench.value(fields.APPARENT_POWER) == 120010
    assert any("apparent" in e for e in bench.errors)
    for _ in range(meter.ACTIVE_REFUSALS - 1):  # refused in this many polls in a row: taken to be lacking
        bench.poll()
    bench.errors.clear()
    sent = len(bench.requests())
    assert bench.poll(), bench.errors
    assert REQUEST["active power"] not in bench.requests()[sent:]
    assert bench.value(fields.APPARENT_POWER) == 120010


# Against the independent model (host/kaskad_sim/kaskad_11_c1.py), refusing with its own
# error-status fault.

def is_active_power(request):
    return request[1] == 0x20 and request[4:5] == b"\x03"


def test_one_refused_active_power_reply_does_not_end_active_power():
    rig = FamilyRig("kaskad-11-c1")
    assert rig.poll(), rig.errors
    once = [True]
    refused = refuse(rig.sim, lambda request: is_active_power(request) and once and once.pop())  # a transient refusal
    rig.advance_s(60)
    assert rig.poll(), rig.errors  # this poll reads apparent power instead
    assert len(refused) == 1
    assert rig.reading.values[fields.APPARENT_POWER] == rig.sim.apparent_power_raw * 10
    for _ in range(3):
        rig.advance_s(60)
        rig.sim.active_power_raw += 10
        assert rig.poll(), rig.errors
        assert rig.reading.values[fields.POWER] == rig.sim.active_power_raw * 10  # 0.1 W -> cW


def test_a_meter_without_active_power_is_asked_for_it_now_and_then_and_it_comes_back():
    rig = FamilyRig("kaskad-11-c1")
    lacking = [True]
    refused = refuse(rig.sim, lambda request: is_active_power(request) and lacking[0])
    polls = 64
    for _ in range(polls):
        rig.advance_s(60)
        rig.sim.apparent_power_raw += 1
        rig.poll()
        assert rig.reading.values[fields.APPARENT_POWER] == rig.sim.apparent_power_raw * 10  # every poll
    assert len(refused) <= polls // 8, "active power asked in %d of %d polls" % (len(refused), polls)
    lacking[0] = False  # the meter answers it again (a restart, a line that healed)
    for waited in range(1, 101):
        rig.advance_s(60)
        rig.sim.active_power_raw += 10
        rig.poll()
        if rig.reading.values[fields.POWER] == rig.sim.active_power_raw * 10:
            break
    assert waited <= 20, "active power came back after %d polls" % waited


def test_a_three_phase_meter_is_reported_and_the_channel_closed():
    three = kaskad11_frame(b"\x20" + A + b"\x01" + bytes(9) + b"\x01")
    assert len(three) == 16
    bench = Bench(family, replaced(current=three), ADDRESS)
    assert not bench.poll()
    assert any("three-phase" in e for e in bench.errors)
    assert bench.requests()[-1] == REQUEST["close"]
    assert bench.value(fields.VOLTAGE) is None


def test_a_clock_before_the_date_of_manufacture_gives_no_battery():
    made_later = kaskad11_frame(b"\x53" + A + bytes([24, 1, 1]) + b"\x01")
    bench = Bench(family, replaced(made=made_later), ADDRESS)
    assert not bench.poll()
    assert bench.value(fields.BATTERY) is None
    assert any("before the date of manufacture" in e for e in bench.errors)


def test_a_silent_meter_times_out_and_sends_nothing_else():
    bench = Bench(family, {}, ADDRESS)
    assert not bench.poll()
    assert all(r == REQUEST["open"] for r in bench.requests())
    assert any("timeout" in e for e in bench.errors)


# The additive sum cannot see two swapped bytes or bit errors that cancel: for those, the energy
# registers (a changed register needs a second, agreeing read) and the identity (read twice) are
# still guaranteed; how many instantaneous values slipped through is printed.
LINE_ERRORS = tuple(k for k in KINDS if k not in (SCATTERED, SWAPPED))
FUZZ_REPLIES = int(__import__("os").environ.get("FUZZ_REPLIES", 100_000))
IDENTITY = (("serial", "0112532580"), ("made", "2021-03-15"))


def test_fuzz_line_errors_never_escape_and_never_publish_a_wrong_value():
    wrong, polls, mutator = fuzz(family, REPLIES, ADDRESS, TRUTH, LINE_ERRORS, FUZZ_REPLIES,
                                 range(fields.FIELD_COUNT), seed=32580, identity=IDENTITY)
    fuzz_line("kaskad-11-c1", LINE_ERRORS, wrong, polls, mutator)
    assert mutator.replies >= FUZZ_REPLIES and wrong == [0] * (fields.FIELD_COUNT + 1)


def test_fuzz_errors_beyond_the_sum_never_publish_a_wrong_energy_register_or_identity():
    kinds = (SCATTERED, SWAPPED)
    wrong, polls, mutator = fuzz(family, REPLIES, ADDRESS, TRUTH, kinds, FUZZ_REPLIES // 5,
                                 range(fields.TOTAL + 1), seed=20109, identity=IDENTITY)
    fuzz_line("kaskad-11-c1", kinds, wrong, polls, mutator)
    assert mutator.replies >= FUZZ_REPLIES // 5
