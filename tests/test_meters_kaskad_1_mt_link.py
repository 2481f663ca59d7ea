"""The meters' link (kaskad.meters.link) with the MIRTEK framing (kaskad.meters.kaskad_1_mt.frame)
against the independent meter model, through the strict UART stand-in, in virtual time: echo,
deadlines in bit-times, retries, and every fault the meter can show."""

import pytest

from kaskad.meters import MeterRefused, RefusedCommand, ReplyError
from kaskad.meters.kaskad_1_mt import frame as mirtek
from kaskad_sim.frame import build_request
from kaskad_sim.meter import SimMeter
from rig import CHAR_NS, Rig

PING = mirtek.CMD_PING


def ask(rig, address, command, lengths):
    """One exchange as the family's client makes it: its DATA, or MeterRefused for an error status."""
    request = bytearray(mirtek.MAX_WIRE)
    size = mirtek.encode_request(request, address, command, b"")
    framer = rig.framer = mirtek.Framer()
    framer.expect(address, command, lengths)
    rig.link.exchange(memoryview(request), size, framer)
    if framer.buf[10]:
        raise mirtek.refused(command, framer.buf[10])
    return bytes(framer.buf[mirtek.HEADER_LEN : framer.length - 1])


def ping(rig):
    return ask(rig, rig.meter.address, PING, (4,))


def test_ping_skips_the_echo_and_returns_the_data():
    rig = Rig(echo=True, firmware_version=0x0105)
    data = ping(rig)
    assert data == bytes([0x05, 0x01, 20109 & 0xFF, 20109 >> 8])
    assert rig.link.attempts == 1 and rig.framer.buf[7] == rig.meter.role


def test_an_exchange_takes_the_physical_time_and_no_more():
    rig = Rig(reply_delay_ms=40)
    start = rig.vclock.now_ns()
    ping(rig)
    elapsed = rig.vclock.now_ns() - start
    request = build_request(20109, PING)  # the meter model's own encoder
    reply = rig.meter.sent[-1]
    floor = (len(request) + len(reply)) * CHAR_NS + 40_000_000
    assert floor <= elapsed <= floor + 2 * CHAR_NS


def test_the_input_is_cleared_before_a_request():
    rig = Rig()
    # Stale bytes in the receive buffer: a complete old reply from the meter, left unread.
    ping(rig)
    stale = rig.meter.sent[-1]
    rig.uart._rx.extend(stale)  # as if it had arrived earlier and was never read
    rig.meter.firmware_version = 0x0202
    assert ping(rig)[:2] == b"\x02\x02"


def test_a_refused_command_writes_nothing():
    rig = Rig()
    for command in (0x02, 0x3A, 0x4E, 0x60):
        with pytest.raises(RefusedCommand):
            ask(rig, 20109, command, (0,))
    with pytest.raises(RefusedCommand):
        ask(rig, 0xFFFF, PING, (4,))
    assert rig.wire.tx_log == []


FAILURES = [
    ("silent", {}, "timeout"),
    ("bad_crc", {}, "CRC"),
    ("bad_escape", {}, "escape"),
    ("wrong_address", {}, "address"),
    ("wrong_command", {}, "command"),
    ("encoded", {}, "encoded"),
    ("wrong_length", {}, "length"),
    ("truncated", {}, "torn"),
    ("slow", {"delay_ms": 1500}, "timeout"),
    ("gap", {"gap_ms": 200}, "torn"),
    ("direction", {}, "only our own echo"),  # a D=1 frame is not a reply: it is skipped like an echo
]


@pytest.mark.parametrize("fault,params,words", FAILURES)
def test_a_fault_fails_the_attempt_with_a_clear_message(fault, params, words):
    rig = Rig(retries=0)
    rig.meter.inject(fault, times=1, **params)
    with pytest.raises(ReplyError) as failure:
        ping(rig)
    assert words in failure.value.what
    assert rig.link.attempts == 1


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_a_silent_meter_gets_the_configured_number_of_attempts(retries):
    rig = Rig(retries=retries)
    rig.meter.persistent_fault = "silent"
    with pytest.raises(ReplyError, match="timeout"):
        ping(rig)
    assert rig.link.attempts == 1 + retries
    assert len(rig.wire.tx_log) == 1 + retries


def test_a_late_reply_to_the_first_attempt_answers_the_retry():
    # the meter answers after 1.5 s, past the 1 s deadline: the retry's window catches that reply,
    # which is a valid answer from the same meter to the same read-only request
    rig = Rig(retries=1)
    rig.meter.inject("slow", times=2, delay_ms=1500)
    assert ping(rig)[2:] == bytes([20109 & 0xFF, 20109 >> 8])
    assert rig.link.attempts == 2


@pytest.mark.parametrize("fault,params,words", FAILURES)
def test_a_single_fault_is_retried(fault, params, words):
    rig = Rig(retries=2)
    rig.meter.inject(fault, times=1, **params)
    assert ping(rig)[2:] == bytes([20109 & 0xFF, 20109 >> 8])
    assert rig.link.attempts == 2


def test_an_error_status_is_an_answer_not_retried():
    rig = Rig(retries=2)
    rig.meter.inject("error_status", times=1, code=0x06)
    with pytest.raises(MeterRefused) as refusal:
        ping(rig)
    assert refusal.value.code == 6 and "does not exist" in refusal.value.what
    assert rig.link.attempts == 1


@pytest.mark.parametrize("fault,params", [
    ("split", {"gap_ms": 5, "chunk": 3}),  # pauses shorter than the gap limit (8 characters)
    ("noise", {"count": 12, "mode": "prefix"}),
    ("torn", {"pause_ms": 2, "then": "copy"}),  # a restart inside the frame resynchronises
])
def test_replies_that_arrive_awkwardly_still_count(fault, params):
    rig = Rig(retries=0)
    rig.meter.inject(fault, times=1, **params)
    assert ping(rig)[2:] == bytes([20109 & 0xFF, 20109 >> 8])


def test_the_gap_limit_is_a_few_character_times():
    rig = Rig(retries=0)
    # a pause of 20 character-times inside the frame: torn
    rig.meter.inject("split", times=1, gap_ms=21, chunk=5)
    with pytest.raises(ReplyError, match="torn"):
        ping(rig)
    assert rig.link.gap_us == 8 * 1042


def test_the_reply_deadline_follows_the_setting():
    rig = Rig(retries=0, reply_timeout_ms=200)
    rig.meter.inject("slow", times=1, delay_ms=250)
    start = rig.vclock.now_ns()
    with pytest.raises(ReplyError, match="timeout: no reply within 200 ms"):
        ping(rig)
    waited_ms = (rig.vclock.now_ns() - start) // 1_000_000
    assert 200 <= waited_ms <= 220


def test_the_link_waits_in_the_uart_not_in_a_loop():
    rig = Rig(reply_delay_ms=500)
    calls = []

    class CountingUart:  # the board's UART attributes are read-only: wrap it instead
        def __getattr__(self, name):
            return getattr(rig.uart, name)

        def __setattr__(self, name, value):
            setattr(rig.uart, name, value)

        def readinto(self, buf):
            calls.append(len(buf))
            return rig.uart.readinto(buf)

    rig.link._uart = CountingUart()
    ping(rig)
    reply = rig.meter.sent[-1]
    echo = build_request(20109, PING)
    # at most a blocking read and a draining read per byte that arrived, however long the delay
    assert len(calls) <= 2 * (len(reply) + len(echo)) + 2


def test_retry_waits_for_a_quiet_line():
    rig = Rig(retries=1)
    # the first reply is garbage for a while: the retry must not talk over it
    rig.meter.inject("wrong_command", times=1)
    ping(rig)
    sent = [start for start, _ in rig.wire.tx_log]
    first_reply_end = sent[0] + len(build_request(20109, PING)) * CHAR_NS + 30_000_000 + \
        len(rig.meter.sent[0]) * CHAR_NS
    assert sent[1] >= first_reply_end


class EndlessMeter(SimMeter):
    """Answers every request with start pairs without end (73 55 73 55 ...): each one starts a
    new frame, so the receiver is always inside one and no frame is ever too long."""

    def handle_frame(self, wire):
        plan = super().handle_frame(wire)
        if plan is None:
            return None
        return [(plan[0][0], b"\x73\x55" * 3000)]  # over 6 s of bytes at 9600 baud


def test_a_reply_that_never_ends_is_given_up_at_the_hard_deadline():
    rig = Rig(meter_class=EndlessMeter, retries=0, reply_timeout_ms=100)
    start = rig.vclock.now_ns()
    with pytest.raises(ReplyError, match="torn reply|timeout"):
        ping(rig)
    # the reply timeout plus the longest frame's time on the wire, and not the whole stream
    request = build_request(20109, PING)
    limit = len(request) * CHAR_NS + 100_000_000 + mirtek.MAX_WIRE * CHAR_NS + 2 * CHAR_NS
    assert rig.vclock.now_ns() - start <= limit
