"""The simulated meter (host/kaskad_sim) against the protocol document's own vectors.

Expected bytes come from docs/protocols/mirtek.md (sections 1.5, 1.6, 7, 8), read from its vectors
(docs/protocols/vectors/kaskad-1-mt.json, which tests/test_meters_kaskad_1_mt_frame.py checks against the firmware's
driver too), never from the code under test, except where a test states that it checks a
consistency property.
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol_vectors as vectors
from kaskad_sim import (FAULTS, FrameError, SimMeter, build_request, decode_frame, mirtek_crc8,
                        split_frames, stuff, unstuff)

h = bytes.fromhex
ADDR = 20109

# mirtek.md section 8, "Request frames": (command, data, wire); the stuffing cases (other addresses)
# are checked by test_stuffing_examples.
DOC = vectors.load("kaskad-1-mt")
REQUEST_VECTORS = [(v["command"], h(v["data"]), v["wire"]) for v in DOC["requests"] if v["address"] == ADDR]
STUFFED_REQUESTS = [v for v in DOC["requests"] if v["address"] != ADDR]


def doc_reply(name):
    return vectors.reply("kaskad-1-mt", name)


def meter_for(vector, **more) -> SimMeter:
    """A meter holding what the document's reply says it held (config byte split by mirtek.md 4.2)."""
    state = dict(vector["meter"])
    config = state.pop("config", None)
    if config is not None:
        state.update(decimals=config & 3, active_tariff=(config >> 2 & 3) + 1, digits_code=config >> 4 & 3,
                     tariffs_in_use=(config >> 6) + 1)
    state.update(more)
    return SimMeter(**state)


# Reply DATA lengths per generation (mirtek.md 4.12 "Expected reply DATA lengths"); None = error.
REPLY_LENGTHS = {
    (0x01, b""): (4, 4, 4),
    (0x0A, b"\x01"): (31, 31, 31),
    (0x10, b""): (7, 8, 19),
    (0x1E, b""): (2, 2, 2),
    (0x29, b"\x01"): (3, 3, 3),
    (0x2C, b"\x01"): (3, 3, 3),
    (0x30, b""): (27, 27, 31),
}


def ping(addr: int = ADDR) -> bytes:
    return build_request(addr, 0x01)


def reply_to(meter: SimMeter, command: int, data: bytes = b""):
    wire = meter.respond(build_request(meter.address, command, data))
    assert wire is not None, f"no reply to 0x{command:02X}"
    return decode_frame(wire)


# --------------------------------------------------------------------------------- CRC, stuffing
def test_crc_check_value():
    check = DOC["crc8"]["check"]
    assert mirtek_crc8(check["ascii"].encode()) == int(check["crc"], 16)


@pytest.mark.parametrize("vector", DOC["crc_frames"], ids=lambda v: v["name"])
def test_crc_of_the_documents_frames(vector):
    # the worked example (7), [3P]'s ReadDateTime to 10870 from 0xFF09 (8, item 2), and a
    # published example that does not verify (8, item 4)
    frame = h(vector["wire"])
    if vector["valid"]:
        assert mirtek_crc8(frame[2:-2]) == frame[-2]
        assert decode_frame(frame).command == frame[8]
    else:
        assert mirtek_crc8(frame[2:-2]) == int(vector["crc_would_be"], 16) != frame[-2]
        with pytest.raises(FrameError, match="CRC"):
            decode_frame(frame)


def test_stuffing_examples():
    for example in DOC["stuffing"]:
        body = h(example["body"])
        assert stuff(body) == h(example["stuffed"])
        assert unstuff(stuff(body)) == body
    # 29525 = 0x7355 (both address bytes escaped); 22, whose CRC 0x73 is escaped itself
    assert {v["address"] for v in STUFFED_REQUESTS} == {29525, 22}
    for v in STUFFED_REQUESTS:
        assert build_request(v["address"], v["command"], h(v["data"])) == h(v["wire"])
        assert SimMeter(address=v["address"]).respond(h(v["wire"])) is not None


@pytest.mark.parametrize("bad", [h("73 33"), h("01 73"), h("73 55"), h("00 55 00")])
def test_unstuff_rejects_bad_escapes(bad):
    with pytest.raises(FrameError):
        unstuff(bad)


@given(st.binary(max_size=60))
def test_stuff_round_trip_and_no_raw_stop(body):
    wire = stuff(body)
    assert 0x55 not in wire
    assert unstuff(wire) == body


@given(st.binary(min_size=1, max_size=42))
def test_crc_of_message_plus_crc_is_zero(msg):
    # Property of a non-reflected CRC with no final XOR: appending the CRC leaves remainder 0.
    assert mirtek_crc8(msg + bytes((mirtek_crc8(msg),))) == 0


@given(st.integers(1, 0xFFFE), st.integers(0, 255), st.binary(max_size=31))
def test_build_request_decodes_back(addr, cmd, data):
    frame = decode_frame(build_request(addr, cmd, data))
    assert (frame.dst, frame.src, frame.command, frame.data) == (addr, 0xFFFF, cmd, data)
    assert frame.params == 0x20 | len(data)


# --------------------------------------------------------------------------------- section 8 vectors
@pytest.mark.parametrize("cmd,data,wire", REQUEST_VECTORS)
def test_request_vectors_are_what_the_document_says(cmd, data, wire):
    assert build_request(ADDR, cmd, data) == h(wire)


@pytest.mark.parametrize("vector", [v for v in DOC["requests"] if v["address"] == ADDR], ids=lambda v: v["name"])
def test_every_request_vector_gets_a_well_formed_reply(vector):
    cmd, data, wire = vector["command"], h(vector["data"]), vector["wire"]
    meter = SimMeter(generation=vector.get("generation", "old"))
    reply = meter.respond(h(wire))
    assert reply is not None
    frame = decode_frame(reply)
    assert frame.params & 0xE0 == 0  # C = 0, V0 = 0, D = 0
    assert (frame.src, frame.dst, frame.command) == (ADDR, 0xFFFF, cmd)
    assert frame.role == meter.role
    assert frame.error == 0, f"0x{cmd:02X} answered error {frame.error}"
    assert meter.received[-1] == (cmd, data)
    assert meter.forbidden == []


def test_synthetic_0x05_reply_byte_exact():
    vector = doc_reply("05 Energy")
    meter = meter_for(vector)
    assert meter.config_byte == vector["meter"]["config"] == 0x92
    assert meter.respond(build_request(ADDR, 0x05)) == h(vector["wire"])


@pytest.mark.parametrize("name,command,data", [("29 Voltage", 0x29, b"\x01"), ("2C Current", 0x2C, b"\x01"),
                                               ("2D Power", 0x2D, b""), ("01 Ping reply", 0x01, b"")])
def test_synthetic_replies_byte_exact(name, command, data):
    vector = doc_reply(name)
    assert meter_for(vector).respond(build_request(ADDR, command, data)) == h(vector["wire"])


def test_what_the_synthetic_replies_say_is_what_the_meter_held():
    # the document's decoded values, in its units, against the raw registers the meter was given
    scaled = vectors.scaled
    assert meter_for(doc_reply("29 Voltage")).voltage_raw == scaled(doc_reply("29 Voltage")["decoded"]["voltage_v"], "0.01")
    assert meter_for(doc_reply("2C Current")).current_raw == scaled(doc_reply("2C Current")["decoded"]["current_a"], "0.001")
    power = doc_reply("2D Power")
    assert meter_for(power).power_raw * 10 == scaled(power["decoded"]["power_w"], "1")  # 0.01 kW per count
    energy = doc_reply("05 Energy")
    raw = meter_for(energy).tariffs_raw
    assert [scaled(energy["decoded"]["t%d_kwh" % (n + 1)], "0.01") for n in range(4)] == raw
    assert scaled(energy["decoded"]["total_kwh"], "0.01") == sum(raw)


def test_error_vector_byte_exact():
    # Old 0x2D takes no data: a 1-byte request is a wrong data length (0x04), role 0x30 in status.
    vector = doc_reply("Error reply")
    meter = meter_for(vector)
    assert meter.respond(build_request(ADDR, 0x2D, b"\x01")) == h(vector["wire"])
    assert (meter.role, 0x04) == (vector["decoded"]["role"], vector["decoded"]["error"])


def test_status_carries_role_and_flags_by_default():
    meter = SimMeter(flags_a=0x81, flags_b=0x11)
    frame = reply_to(meter, 0x01)
    assert frame.field == bytes((0x30, 0x81, 0x11, 0x00))


# --------------------------------------------------------------------------------- content
def test_ping_reports_version_and_address():
    meter = SimMeter(address=7943, firmware_version=0x0203)
    assert reply_to(meter, 0x01).data == h("03 02 07 1F")


def test_old_energy_layout_and_state_changes_between_polls():
    meter = SimMeter(tariffs_raw=[1, 2, 3, 4], tariffs_in_use=4, decimals=3)
    data = reply_to(meter, 0x05).data
    assert int.from_bytes(data[0:4], "little") == 10
    assert data[4] & 0x03 == 3 and data[4] >> 6 == 3
    assert [int.from_bytes(data[10 + 4 * i:14 + 4 * i], "little") for i in range(4)] == [1, 2, 3, 4]
    meter.tariffs_raw[0] = 100_000_000
    meter.tariffs_in_use = 1
    data = reply_to(meter, 0x05).data
    assert int.from_bytes(data[0:4], "little") == 100_000_000
    assert data[4] >> 6 == 0


def test_new_energy_layout():
    meter = SimMeter(generation="new", tariffs_raw=[10, 20, 30, 40], tariffs_in_use=2)
    data = reply_to(meter, 0x05, b"\x00").data
    assert len(data) == 30
    assert data[0] == 0 and data[1] == meter.config_byte
    assert int.from_bytes(data[6:10], "little") == 100   # grand total
    assert int.from_bytes(data[10:14], "little") == 30   # sum in use (T1 + T2)
    assert data[14:30] == h("0A000000 14000000 1E000000 28000000")
    assert reply_to(meter, 0x05, b"\x02").data[6:] == bytes(24)  # reactive import: zero
    assert reply_to(meter, 0x05, b"\x0A").error == 0x02
    assert reply_to(meter, 0x05).error == 0x04  # the old 0-byte form


def test_factory_strings_nul_padded():
    meter = SimMeter(serial="3171112520109", made="04.10.2017")
    data = reply_to(meter, 0x0A, b"\x01").data
    assert data == b"\x01" + b"3171112520109".ljust(30, b"\x00")
    assert reply_to(meter, 0x0A, b"\x02").data[1:].rstrip(b"\x00") == b"04.10.2017"
    assert reply_to(meter, 0x0A, b"\x06").error == 0x02
    meter.supports_factory_strings = False
    frame = reply_to(meter, 0x0A, b"\x01")
    assert (frame.error, frame.data) == (0x06, b"")


def test_battery_voltage_current():
    meter = SimMeter(battery_total_months=120, battery_remaining_months=60, current_raw=70_000,
                     current_3byte=True, voltage_raw=23456)
    assert reply_to(meter, 0x1E).data == bytes((120, 60))
    assert reply_to(meter, 0x29, b"\x01").data == b"\x01" + (23456).to_bytes(2, "little")
    assert reply_to(meter, 0x2C, b"\x01").data == b"\x01" + (70_000).to_bytes(3, "little")
    assert reply_to(meter, 0x29, b"\x02").error == 0x02
    meter.supports_current_cmd = False
    assert reply_to(meter, 0x2C, b"\x01").error == 0x08


def test_current_too_big_for_u16_is_a_state_error():
    meter = SimMeter(current_raw=70_000)
    with pytest.raises(ValueError, match="current_raw"):
        meter.respond(build_request(ADDR, 0x2C, b"\x01"))


@pytest.mark.parametrize("gen,index", [("old", 0), ("transitional", 1), ("new", 2)])
def test_reply_lengths_per_generation(gen, index):
    meter = SimMeter(generation=gen)
    for (cmd, data), lengths in REPLY_LENGTHS.items():
        frame = reply_to(meter, cmd, data)
        assert frame.error == 0 and len(frame.data) == lengths[index], hex(cmd)
        assert frame.params == lengths[index]
    power = reply_to(meter, 0x2D, b"" if gen == "old" else bytes((0, 12, 24, 11, 25)))
    assert len(power.data) == (5, 30, 30)[index]
    energy = reply_to(meter, 0x05, b"" if gen == "old" else b"\x00")
    assert len(energy.data) == (26, 30, 30)[index]
    assert reply_to(meter, 0x30).data[0] == (0x01, 0x07, 0x09)[index]


def test_instant_values():
    assert reply_to(SimMeter(), 0x2B, b"\x00").error == 0x08  # old generation
    trans = SimMeter(generation="transitional", power_raw=1234)
    assert len(reply_to(trans, 0x2B, b"\x00").data) == 25
    trans.current_3byte = True
    assert len(reply_to(trans, 0x2B, b"\x00").data) == 28
    new = SimMeter(generation="new", power_raw=2500, voltage_raw=23001, current_raw=10_870)
    data = reply_to(new, 0x2B, b"\x00").data
    assert len(data) == 30
    assert int.from_bytes(data[5:8], "little") == 2500            # P, W
    assert int.from_bytes(data[11:13], "little") == 5000          # 50.00 Hz
    assert int.from_bytes(data[13:15], "little") == 0x03E8        # cos phi +1.000
    assert int.from_bytes(data[15:17], "little") == 23001         # voltage A
    assert int.from_bytes(data[21:24], "little") == 10_870        # current A, 3 bytes


def test_old_2d_takes_no_data_new_2d_takes_five():
    assert reply_to(SimMeter(generation="new"), 0x2D).error == 0x04
    frame = reply_to(SimMeter(generation="new"), 0x2D, bytes((0, 12, 24, 11, 25)))
    assert frame.data[:5] == bytes((0, 12, 24, 11, 25))


def test_generation_must_agree_with_role():
    with pytest.raises(ValueError):
        SimMeter(generation="old", role=0x90)
    with pytest.raises(ValueError):
        SimMeter(generation="new", role=0x30)
    meter = SimMeter()
    meter.generation = "new"  # changed without the role: caught before the next reply
    with pytest.raises(ValueError, match="role"):
        meter.respond(ping())


# --------------------------------------------------------------------------------- no reply / audit
def test_other_address_and_broadcast_get_no_reply():
    meter = SimMeter()
    assert meter.respond(ping(ADDR + 1)) is None
    assert meter.respond(ping(0xFFFF)) is None
    assert meter.received == [(0x01, b""), (0x01, b"")]
    assert meter.forbidden == [(0x01, b"")]  # the broadcast


def test_invalid_requests_get_no_reply():
    meter = SimMeter()
    good = ping()
    bad_crc = good[:-2] + bytes((good[-2] ^ 1,)) + good[-1:]
    bad_escape = good[:3] + h("73 33") + good[4:]
    reply_shaped = meter.respond(good)  # D = 0: e.g. the meter's own reply heard back
    encoded = build_request(ADDR, 0x01)
    body = bytearray(unstuff(encoded[2:-1]))
    body[0] |= 0x80
    body[-1] = mirtek_crc8(bytes(body[:-1]))
    encoded = b"\x73\x55" + stuff(bytes(body)) + b"\x55"
    for wire in (bad_crc, bad_escape, reply_shaped, encoded):
        assert meter.respond(wire) is None
    reasons = [reason for reason, _ in meter.rejected]
    assert any("CRC" in r for r in reasons) and any("escape" in r for r in reasons)
    assert any("D=0" in r for r in reasons) and any("C=1" in r for r in reasons)


def test_writes_are_recorded_never_executed():
    meter = SimMeter()
    before = vars(meter).copy()
    frame = reply_to(meter, 0x02, (4242).to_bytes(2, "little"))  # Write Address
    assert (frame.error, frame.data) == (0x08, b"")
    assert reply_to(meter, 0x3A, b"\x01").error == 0x08             # OperateOverload
    assert reply_to(meter, 0x4E).error == 0x08                      # SyncDateTime, no data
    assert meter.address == 20109
    assert meter.forbidden == [(0x02, h("92 10")), (0x3A, b"\x01"), (0x4E, b"")]
    for key in ("address", "tariffs_raw", "reply_delay_ms", "role"):
        assert vars(meter)[key] == before[key]


def test_unknown_command_is_error_08_and_forbidden():
    meter = SimMeter()
    assert reply_to(meter, 0x60).error == 0x08
    assert meter.forbidden == [(0x60, b"")]


def test_wrong_request_length_is_error_04():
    meter = SimMeter()
    assert reply_to(meter, 0x01, b"\x00").error == 0x04
    assert reply_to(meter, 0x29).error == 0x04
    assert reply_to(meter, 0x05, b"\x00").error == 0x04  # old form has no input


# --------------------------------------------------------------------------------- faults
def faulty(name: str, **params) -> tuple[SimMeter, bytes, bytes | None]:
    """A meter with `name` injected; returns (meter, the clean reply, the faulty reply)."""
    clean = SimMeter().respond(ping())
    meter = SimMeter()
    meter.inject(name, **params)
    return meter, clean, meter.respond(ping())


def test_fault_silent():
    meter, _, reply = faulty("silent")
    assert reply is None
    assert meter.respond(ping()) is not None  # one-shot


def test_fault_noise_prefix_and_replace_reproducible():
    meter, clean, reply = faulty("noise", count=5)
    assert len(reply) == len(clean) + 5 and reply.endswith(clean)
    assert split_frames(reply) == [clean]
    _, _, again = faulty("noise", count=5)
    assert again == reply  # seeded
    _, _, replaced = faulty("noise", mode="replace")
    assert len(replaced) == len(clean) and replaced != clean
    assert split_frames(replaced) == []


def test_fault_truncated():
    _, clean, reply = faulty("truncated")
    assert reply == clean[:-1]
    assert split_frames(reply) == []


def test_fault_torn_copy_and_garbage():
    _, clean, reply = faulty("torn")
    half = len(clean) // 2
    assert reply == clean[:half] + clean
    assert split_frames(reply) == [clean]  # a reader that resyncs on 73 55 gets the copy
    _, _, garbage = faulty("torn", then="garbage", at=4)
    assert garbage[:4] == clean[:4] and len(garbage) == 4 + len(clean)
    assert split_frames(garbage) == []


def test_fault_bad_crc_and_bad_escape():
    _, clean, reply = faulty("bad_crc")
    with pytest.raises(FrameError, match="CRC"):
        decode_frame(reply)
    _, _, reply = faulty("bad_escape")
    assert h("73 33") in reply and len(reply) == len(clean) + 1
    with pytest.raises(FrameError, match="escape"):
        decode_frame(reply)


@pytest.mark.parametrize("name,params,check", [
    ("wrong_address", {}, lambda f: f.src == ADDR + 1),
    ("wrong_address", {"source": 7}, lambda f: f.src == 7),
    ("wrong_command", {}, lambda f: f.command == 0x02),
    ("error_status", {"code": 0x05}, lambda f: (f.error, f.data, f.params) == (0x05, b"", 0)),
    ("direction", {}, lambda f: f.is_request and f.params == 0x24),
    ("encoded", {}, lambda f: f.encoded and f.params == 0x84),
    ("wrong_length", {"byte": 0xAB}, lambda f: f.params == 5 and f.data[-1] == 0xAB),
])
def test_header_faults_keep_a_valid_crc(name, params, check):
    _, clean, reply = faulty(name, **params)
    assert reply != clean
    assert check(decode_frame(reply))  # decode_frame checks CRC and L


def test_wrong_length_on_a_full_reply_drops_a_byte():
    meter = SimMeter()
    meter.inject("wrong_length")
    assert len(reply_to(meter, 0x0A, b"\x01").data) == 30


def test_timing_faults_show_in_the_plan():
    def plan_for(name, **params):
        meter = SimMeter(reply_delay_ms=30)
        meter.inject(name, **params)
        plan = None
        for byte in ping():
            plan = meter.hear(byte) or plan
        return plan

    clean = SimMeter().respond(ping())
    assert plan_for("slow", delay_ms=1500) == [(1_500_000_000, clean)]
    split = plan_for("split", gap_ms=20, chunk=4)
    assert [p for p, _ in split] == [30_000_000] + [20_000_000] * (len(split) - 1)
    assert b"".join(c for _, c in split) == clean and all(len(c) <= 4 for _, c in split)
    assert plan_for("gap", gap_ms=200, at=5) == [(30_000_000, clean[:5]), (200_000_000, clean[5:])]


def test_fault_times_and_persistent():
    meter = SimMeter()
    meter.inject("silent", times=2)
    meter.inject("bad_crc")
    assert meter.pending_faults == [("silent", 2), ("bad_crc", 1)]
    assert meter.respond(ping()) is None
    assert meter.respond(ping()) is None
    with pytest.raises(FrameError):
        decode_frame(meter.respond(ping()))
    assert decode_frame(meter.respond(ping())).error == 0
    meter.persistent_fault = "error_status"
    meter.persistent_params = {"code": 0x09}
    assert [decode_frame(meter.respond(ping())).error for _ in range(3)] == [9, 9, 9]
    meter.persistent_fault = None
    assert decode_frame(meter.respond(ping())).error == 0
    assert meter.faults_applied == ["silent", "silent", "bad_crc", ""] + ["error_status"] * 3 + [""]


def test_faults_apply_only_to_replies():
    meter = SimMeter()
    meter.inject("silent")
    assert meter.respond(ping(ADDR + 1)) is None  # not for us: does not use up the fault
    assert meter.pending_faults == [("silent", 1)]


def test_unknown_fault_or_param_is_refused():
    meter = SimMeter()
    with pytest.raises(ValueError):
        meter.inject("loud")
    with pytest.raises(ValueError):
        meter.inject("slow", gap_ms=3)
    assert set(FAULTS) >= {"silent", "noise", "truncated", "torn", "bad_crc", "bad_escape",
                           "wrong_address", "wrong_command", "error_status", "direction",
                           "encoded", "wrong_length", "slow", "split", "gap"}
