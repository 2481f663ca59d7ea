"""MIRTEK framing (kaskad.meters.kaskad_1_mt.frame) against the protocol document's own vectors (docs/protocols/mirtek.md §7, §8,
read from docs/protocols/vectors/kaskad-1-mt.json, which tests/test_sim_meter.py checks against the
independent meter model too).

The vectors were computed by an independent implementation and cross-checked against the
reference firmware's C builder and a third-party frame; none of them comes from this code.
"""

import pytest
from hypothesis import given, settings, strategies as st

from kaskad.meters import MeterRefused, RefusedCommand, ReplyError
from kaskad.meters.kaskad_1_mt import frame as mirtek
from kaskad_sim.frame import decode_frame

import protocol_vectors as vectors


def wire(text):
    return bytes.fromhex(text)


def request(address, command, data=b""):
    buf = bytearray(mirtek.MAX_WIRE)
    size = mirtek.encode_request(buf, address, command, data)
    return bytes(buf[:size])


def receive(stream):
    """Feed a byte stream to the Framer's unstuffing; return the list of (result, body) it produced."""
    receiver = mirtek.Framer()
    out = []
    for value in stream:
        result = receiver.unstuff(value)
        if result != mirtek.FEED_MORE:
            out.append((result, bytes(receiver.buf[: receiver.length])))
    return out


def test_crc8_check_value():
    check = vectors.load("kaskad-1-mt")["crc8"]["check"]
    assert mirtek.crc8(check["ascii"].encode()) == int(check["crc"], 16)


@pytest.mark.parametrize("vector", vectors.load("kaskad-1-mt")["crc_frames"], ids=lambda v: v["name"])
def test_crc8_of_the_documents_frames(vector):
    # incl. MarkKoshelev/Mirtek_GW's frame, and a published example that does not verify
    frame = wire(vector["wire"])
    crc = mirtek.crc8(frame, 2, len(frame) - 2)
    assert (crc == frame[-2]) is vector["valid"]
    if not vector["valid"]:
        assert crc == int(vector["crc_would_be"], 16)


DOC = vectors.load("kaskad-1-mt")
DOC_REQUESTS = [(v["command"], vectors.wire(v["data"]), v["address"], v["wire"]) for v in DOC["requests"]]


@pytest.mark.parametrize("command,data,address,expected", DOC_REQUESTS)
def test_requests_match_the_document(command, data, address, expected):
    if len(data) in mirtek.READ_ONLY.get(command, ()):
        assert request(address, command, data) == wire(expected)
    else:  # the document's optional reads this firmware never sends: refused, not built
        with pytest.raises(RefusedCommand):
            request(address, command, data)


def test_the_firmware_sends_most_of_the_documents_requests():
    sent = [v for v in DOC_REQUESTS if len(v[1]) in mirtek.READ_ONLY.get(v[0], ())]
    assert len(sent) >= 17 and {v[2] for v in sent} == {20109, 29525, 22}  # incl. both stuffing cases


@pytest.mark.parametrize("command", [c for c in range(256) if c not in mirtek.READ_ONLY])
def test_every_other_command_is_refused(command):
    buf = bytearray(mirtek.MAX_WIRE)
    with pytest.raises(RefusedCommand):
        mirtek.encode_request(buf, 20109, command, b"")
    with pytest.raises(RefusedCommand):
        mirtek.encode_request(buf, 20109, command, b"\x01")
    assert buf == bytearray(mirtek.MAX_WIRE)  # nothing was built


@pytest.mark.parametrize("address", [0, 65535, 65536, -1])
def test_broadcast_and_out_of_range_addresses_are_refused(address):
    with pytest.raises(RefusedCommand):
        request(address, mirtek.CMD_PING)


def test_read_only_command_with_a_write_sized_payload_is_refused():
    # 0x2D with 5 bytes would be ReadEnergyOnHour; 0x0A with 2 bytes is no documented form
    for command, data in ((mirtek.CMD_POWER, b"\x00" * 5), (mirtek.CMD_FACTORY_STRING, b"\x01\x02"),
                          (mirtek.CMD_PING, b"\x00")):
        with pytest.raises(RefusedCommand):
            request(20109, command, data)


def test_the_allowlist_holds_only_documented_read_commands():
    # §5 lists the commands that write; none of them may ever be on the allowlist
    writes = {0x02, 0x03, 0x04, 0x06, 0x12, 0x13, 0x14, 0x16, 0x19, 0x1D, 0x1F, 0x21, 0x23, 0x2E,
              0x36, 0x38, 0x3A, 0x3B, 0x3C, 0x49, 0x4A, 0x4B, 0x4E, 0x51, 0x53, 0x55, 0x56, 0x60, 0x28}
    assert not writes & set(mirtek.READ_ONLY)
    assert set(mirtek.READ_ONLY) <= {0x01, 0x05, 0x0A, 0x10, 0x1E, 0x29, 0x2C, 0x2D, 0x30, 0x1C, 0x2B,
                                     0x37, 0x4F, 0x15, 0x18, 0x20, 0x22, 0x24, 0x25, 0x26, 0x2A, 0x2F}


# Synthetic replies of §8 (invented values, decoded by the document)
def doc_reply(name):
    return wire(vectors.reply("kaskad-1-mt", name)["wire"])


def decoded(name):
    return vectors.reply("kaskad-1-mt", name)["decoded"]


REPLY_ENERGY = doc_reply("05 Energy")
REPLY_VOLTAGE = doc_reply("29 Voltage")
REPLY_CURRENT = doc_reply("2C Current")
REPLY_POWER = doc_reply("2D Power")
REPLY_ERROR = doc_reply("Error reply")
REPLY_STUFFED_PING = doc_reply("01 Ping reply")


def reply_data(stream, command, lengths):
    (result, body), = receive(stream)
    assert result == mirtek.FEED_FRAME
    n = mirtek.check_reply(body, len(body), 20109, command, lengths)
    return body[mirtek.HEADER_LEN: mirtek.HEADER_LEN + n]


def test_energy_reply_decodes_to_the_documented_values():
    data = reply_data(REPLY_ENERGY, mirtek.CMD_ENERGY, mirtek.reply_lengths(mirtek.CMD_ENERGY, 0, mirtek.GEN_OLD))
    config = data[4]
    doc = decoded("05 Energy")
    assert mirtek.decimals(config) == doc["decimals"]
    for n in range(4):  # T1 1234.56 kWh, T2 654.32 kWh, ...
        assert mirtek.energy_wh(mirtek.u32(data, 10 + 4 * n), config) == vectors.scaled(doc["t%d_kwh" % (n + 1)], "0.001")
    assert mirtek.energy_wh(mirtek.u32(data, 0), config) == vectors.scaled(doc["total_kwh"], "0.001")


def test_voltage_current_power_replies():
    voltage = mirtek.u16(reply_data(REPLY_VOLTAGE, mirtek.CMD_VOLTAGE, (3,)), 1)
    assert voltage == vectors.scaled(decoded("29 Voltage")["voltage_v"], "0.01")  # 229.87 V
    current = mirtek.u16(reply_data(REPLY_CURRENT, mirtek.CMD_CURRENT, (3, 4)), 1)
    assert current == vectors.scaled(decoded("2C Current")["current_a"], "0.001")  # 4.321 A
    power = reply_data(REPLY_POWER, mirtek.CMD_POWER, (5,))
    assert mirtek.power_cw(mirtek.u24(power, 0), power[3]) == vectors.scaled(decoded("2D Power")["power_w"], "0.01")


def test_error_reply_is_a_refusal_with_its_meaning():
    (result, body), = receive(REPLY_ERROR)
    doc = decoded("Error reply")
    with pytest.raises(MeterRefused) as caught:
        mirtek.check_reply(body, len(body), 20109, mirtek.CMD_POWER, (5,))
    assert caught.value.code == doc["error"]
    assert doc["meaning"] in caught.value.what
    assert body[7] == doc["role"]  # role byte


def test_unstuffing_of_data_bytes():
    data = reply_data(REPLY_STUFFED_PING, mirtek.CMD_PING, (4,))
    doc = decoded("01 Ping reply")
    assert (mirtek.u16(data, 0), mirtek.u16(data, 2)) == (doc["firmware_version"], doc["address"]) == (0x7355, 20109)


def test_echo_is_recognised_as_a_request():
    (result, body), = receive(request(20109, mirtek.CMD_PING))
    assert mirtek.frame_is_request(body, len(body))
    with pytest.raises(ReplyError, match="direction"):
        mirtek.check_reply(body, len(body), 20109, mirtek.CMD_PING, (0,))


@pytest.mark.parametrize("mutate,expected", [
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "CRC"),
    (lambda b: b, None),
])
def test_crc_is_checked(mutate, expected):
    (result, body), = receive(REPLY_VOLTAGE)
    body = mutate(body)
    if expected:
        with pytest.raises(ReplyError, match=expected):
            mirtek.check_reply(body, len(body), 20109, mirtek.CMD_VOLTAGE, (3,))
    else:
        assert mirtek.check_reply(body, len(body), 20109, mirtek.CMD_VOLTAGE, (3,)) == 3


def test_foreign_address_command_and_length_are_rejected():
    (result, body), = receive(REPLY_VOLTAGE)
    with pytest.raises(ReplyError, match="address"):
        mirtek.check_reply(body, len(body), 20110, mirtek.CMD_VOLTAGE, (3,))
    with pytest.raises(ReplyError, match="command"):
        mirtek.check_reply(body, len(body), 20109, mirtek.CMD_CURRENT, (3, 4))
    with pytest.raises(ReplyError, match="data length"):
        mirtek.check_reply(body, len(body), 20109, mirtek.CMD_VOLTAGE, (4,))


def test_a_params_length_that_disagrees_with_the_frame_is_rejected():
    """A reply whose PARAMS length field is not the number of data bytes it carries, with a CRC
    that matches (computed by the meter model's own CRC): the frame is not what it claims."""
    from kaskad_sim.frame import mirtek_crc8

    (result, body), = receive(REPLY_VOLTAGE)
    for says in (2, 4):
        forged = bytearray(body[:-1])
        forged[0] = (forged[0] & 0xE0) | says  # carries 3 data bytes
        forged.append(mirtek_crc8(bytes(forged)))
        with pytest.raises(ReplyError, match="length: PARAMS says %d data bytes, frame has 3" % says):
            mirtek.check_reply(forged, len(forged), 20109, mirtek.CMD_VOLTAGE, (2, 3, 4))


def test_bad_escape_and_torn_frames():
    assert receive(wire("73 55 03 00 73 41 55")) == [(mirtek.FEED_BAD_ESCAPE, bytes([0x03, 0x00]))]
    # a frame cut short by a new start: only the complete second frame comes out
    torn = REPLY_VOLTAGE[:9] + REPLY_VOLTAGE
    assert receive(torn) == receive(REPLY_VOLTAGE)
    # noise before and after a frame is ignored
    assert receive(wire("00 FF 73 73 12") + REPLY_VOLTAGE + wire("73 00")) == receive(REPLY_VOLTAGE)


def test_a_frame_without_stop_byte_is_too_long():
    results = receive(wire("73 55") + bytes(range(1, 60)))
    assert results[0][0] == mirtek.FEED_TOO_LONG


@pytest.mark.parametrize("total,remaining,pct", [(120, 60, 50), (3, 2, 67), (3, 1, 33), (8, 1, 13),
                                                 (200, 1, 1), (200, 0, 0), (1, 1, 100), (0, 0, None),
                                                 (10, 11, None)])
def test_battery_percent_rounds_half_up(total, remaining, pct):
    assert mirtek.battery_pct(total, remaining) == pct


@given(st.integers(1, 255), st.integers(0, 255))
def test_battery_percent_matches_exact_rounding(total, remaining):
    from fractions import Fraction
    pct = mirtek.battery_pct(total, remaining)
    if remaining > total:
        assert pct is None
    else:
        exact = Fraction(remaining * 100, total)
        assert pct == int(exact + Fraction(1, 2))  # half up


@given(st.integers(0, 2**32 - 1), st.integers(0, 255))
def test_energy_and_power_units_follow_the_config_byte(raw, config):
    from fractions import Fraction
    places = config & 3
    assert mirtek.energy_wh(raw, config) == Fraction(raw, 10 ** places) * 1000
    assert mirtek.power_cw(raw, config) == Fraction(raw, 10 ** places) * 100000


@given(st.integers(1, 65534), st.sampled_from(sorted(mirtek.READ_ONLY)), st.data())
def test_requests_are_well_formed_and_read_back(address, command, draw):
    length = draw.draw(st.sampled_from(mirtek.READ_ONLY[command]))
    data = draw.draw(st.binary(min_size=length, max_size=length))
    wrong = draw.draw(st.binary(max_size=3).filter(lambda d: len(d) not in mirtek.READ_ONLY[command]))
    with pytest.raises(RefusedCommand):  # a length the allowlist lacks is never sent
        request(address, command, wrong)
    frame = request(address, command, data)
    decoded = decode_frame(frame)  # the meter model's own decoder checks stuffing, length and CRC
    assert (decoded.dst, decoded.src, decoded.command, bytes(decoded.data)) == (address, 0xFFFF, command, data)
    assert decoded.is_request and not decoded.encoded
    body_stream = frame[2:-1]
    assert frame[:2] == b"\x73\x55" and frame[-1] == 0x55
    assert 0x55 not in body_stream  # a raw 0x55 inside would end the frame early
    for i, value in enumerate(body_stream):
        if value == 0x73:
            assert body_stream[i + 1] in (0x11, 0x22)
    (result, body), = receive(frame)
    assert result == mirtek.FEED_FRAME
    assert body[0] == 0x20 | len(data) and body[4:6] == b"\xff\xff" and body[6] == command
    assert body[2] | body[3] << 8 == address
    assert body[11:-1] == data and mirtek.crc8(body, 0, len(body) - 1) == body[-1]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_byte_stream_is_survived(stream):
    for result, body in receive(stream):
        assert len(body) <= mirtek.MAX_BODY
        if result == mirtek.FEED_FRAME:
            try:
                mirtek.check_reply(body, len(body), 20109, mirtek.CMD_PING, (4,))
            except ReplyError:
                pass


def test_reply_lengths_follow_the_document_table():
    lengths = mirtek.reply_lengths
    assert lengths(mirtek.CMD_ENERGY, 0, mirtek.GEN_OLD) == (26,)
    assert lengths(mirtek.CMD_ENERGY, 1, mirtek.GEN_NEW) == (30,)
    assert lengths(mirtek.CMD_CONFIGURE, 0, mirtek.GEN_TRANSITIONAL) == (8, 9)
    assert lengths(mirtek.CMD_CONFIGURE, 0, mirtek.GEN_NEW) == (19,)
    assert lengths(mirtek.CMD_INFO, 0, mirtek.GEN_NEW) == (28, 31)
    assert lengths(mirtek.CMD_INSTANT, 1, mirtek.GEN_OLD) == ()
    assert lengths(mirtek.CMD_INSTANT, 1, mirtek.GEN_TRANSITIONAL) == (25, 28)
    assert set(lengths(mirtek.CMD_INFO, 0, mirtek.GEN_UNKNOWN)) == {27, 28, 31}


def test_factory_string_is_trimmed_and_ascii_only():
    data = bytes([1]) + b"3171112520109".ljust(30, b"\x00")
    assert mirtek.factory_string(data, 31) == "3171112520109"
    padded = bytes([2]) + b" 04.10.2017 ".ljust(30, b"\x00")
    assert mirtek.factory_string(padded, 31) == "04.10.2017"
    assert mirtek.factory_string(bytes([1]) + b"\xff" * 30, 31) is None


ENERGY_REPLY = wire("73 55 1A 00 FF FF 8D 4E 05 00 00 00 00 D8 E1 02 00 92 0A 30 01 00 00 40 E2 01 00 "
                    "98 FF 00 00 00 00 00 00 00 00 00 00 58 55")


def find(stream, address=20109, command=mirtek.CMD_ENERGY, lengths=(26,)):
    """Feed a stream to the Framer as the link does: the body it accepted, or its reason why not."""
    framer = mirtek.Framer()
    framer.expect(address, command, lengths)
    framer.begin()
    for value in stream:
        if framer.feed(value):
            return bytes(framer.buf[: framer.length])
    return framer.why


def test_the_framer_finds_the_reply_after_the_echo_garbage_and_a_rejected_frame():
    body = find(ENERGY_REPLY)
    assert isinstance(body, bytes) and body[6] == mirtek.CMD_ENERGY
    echo = request(20109, mirtek.CMD_ENERGY)
    other = wire("73 55 1A 00 FF FF 8D 4E 05 00 00 00 00 D8 E1 02 00 92 0A 30 01 00 00 40 E2 01 00 "
                 "98 FF 00 00 00 00 00 00 00 00 00 00 59 55")  # the CRC byte spoiled
    assert find(echo + b"\x00\x73\x55\x11" + other + ENERGY_REPLY) == body


@pytest.mark.parametrize("stream,lengths,why", [
    (ENERGY_REPLY, (30,), "data length 26"),
    (ENERGY_REPLY[:-2] + b"\x59\x55", (26,), "CRC mismatch"),
    (request(20109, mirtek.CMD_ENERGY), (26,), None),  # only our own echo: nothing to say
    (wire("73 55 03 00 73 41 55"), (26,), "bad escape"),
])
def test_the_framer_says_why_it_found_no_reply(stream, lengths, why):
    found = find(stream, lengths=lengths)
    assert found is None if why is None else found.startswith(why)


def test_the_framer_accepts_a_refusal_for_the_client_to_raise():
    body = find(wire("73 55 00 00 FF FF 8D 4E 2D 30 00 00 04 97 55"), command=0x2D, lengths=(5,))
    assert body[10] == 4
    with pytest.raises(MeterRefused, match="wrong data length") as caught:
        raise mirtek.refused(0x2D, body[10])
    assert caught.value.code == 4
