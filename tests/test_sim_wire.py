"""The virtual-time optical link (host/kaskad_sim/wire.py): echo, reply timing, line settings,
faults on the time axis, and the audit log of everything the board sent."""
import pytest

from kaskad_sim import SimMeter, SimWire, build_request, decode_frame, split_frames
from kaskad_sim.wire import char_time_ns

ADDR = 20109
MS = 1_000_000
CHAR_9600 = 1_041_667  # 10 bits / 9600 Bd, rounded to the nearest ns


def ping(addr: int = ADDR) -> bytes:
    return build_request(addr, 0x01)


def drain(wire: SimWire) -> list[tuple[int, int]]:
    return wire.pop_arrivals(10**15)


def test_char_time_from_line_settings():
    assert char_time_ns(9600) == CHAR_9600
    assert char_time_ns(9600, parity="even") == 1_145_833  # 11 bits
    assert char_time_ns(2400) == 4_166_667
    assert char_time_ns(9600, stop=2) == 1_145_833
    assert SimWire(SimMeter()).char_ns == CHAR_9600


def test_echo_arrives_as_each_byte_leaves():
    wire = SimWire(SimMeter(address=1), echo=True)
    data = ping(ADDR)  # not for this meter: only the echo comes back
    wire.transmit(data, 5_000, CHAR_9600)
    assert wire.next_arrival_ns() == 5_000 + CHAR_9600
    arrivals = drain(wire)
    assert arrivals == [(5_000 + (i + 1) * CHAR_9600, b) for i, b in enumerate(data)]
    assert wire.next_arrival_ns() is None


def test_reply_starts_delay_after_the_stop_byte():
    meter = SimMeter(reply_delay_ms=30)
    wire = SimWire(meter, echo=False)
    request = ping()
    wire.transmit(request, 0, CHAR_9600)
    stop_arrival = len(request) * CHAR_9600
    expected = meter.respond(request)
    arrivals = drain(wire)
    assert bytes(b for _, b in arrivals) == expected
    first = stop_arrival + 30 * MS
    assert [t for t, _ in arrivals] == [first + (i + 1) * CHAR_9600 for i in range(len(expected))]
    assert wire.reply_log == [(first, expected)]


def test_echo_then_reply_in_order_and_partial_pop():
    meter = SimMeter(reply_delay_ms=50)
    wire = SimWire(meter)
    request = ping()
    wire.transmit(request, 1_000_000, CHAR_9600)
    stop = 1_000_000 + len(request) * CHAR_9600
    echo = wire.pop_arrivals(stop)
    assert bytes(b for _, b in echo) == request
    assert wire.pop_arrivals(stop + 50 * MS) == []  # nothing during the reply delay
    assert wire.next_arrival_ns() == stop + 50 * MS + CHAR_9600
    first_two = wire.pop_arrivals(stop + 50 * MS + 2 * CHAR_9600)
    assert [b for _, b in first_two] == [0x73, 0x55]
    rest = drain(wire)
    reply = bytes([0x73, 0x55] + [b for _, b in rest])
    assert decode_frame(reply).data == (0x0105).to_bytes(2, "little") + ADDR.to_bytes(2, "little")


def test_char_time_scales_with_baud():
    meter = SimMeter(reply_delay_ms=0)
    wire = SimWire(meter, baudrate=2400, echo=False)
    slow_char = char_time_ns(2400)
    wire.transmit(ping(), 0, slow_char)
    arrivals = drain(wire)
    assert arrivals, "the meter at 2400 Bd answers a 2400 Bd request"
    gaps = {b[0] - a[0] for a, b in zip(arrivals, arrivals[1:])}
    assert gaps == {slow_char}


def test_request_in_several_transmit_calls():
    meter = SimMeter(reply_delay_ms=10)
    wire = SimWire(meter, echo=False)
    request = build_request(ADDR, 0x29, b"\x01")
    wire.transmit(request[:5], 0, CHAR_9600)
    assert wire.next_arrival_ns() is None
    later = 40 * MS
    wire.transmit(request[5:], later, CHAR_9600)
    stop = later + (len(request) - 5) * CHAR_9600
    assert wire.next_arrival_ns() == stop + 10 * MS + CHAR_9600
    assert meter.received == [(0x29, b"\x01")]


@pytest.mark.parametrize("char_ns", [char_time_ns(19200), char_time_ns(9600, parity="even"),
                                     char_time_ns(4800)])
def test_wrong_line_settings_give_garbage_and_no_reply(char_ns):
    meter = SimMeter()
    wire = SimWire(meter, echo=True)
    request = ping()
    wire.transmit(request, 0, char_ns)
    arrivals = drain(wire)
    assert bytes(b for _, b in arrivals) == request  # only the echo, unchanged
    assert [t for t, _ in arrivals] == [(i + 1) * char_ns for i in range(len(request))]
    assert meter.received == [] and wire.reply_log == []
    assert wire.garbled == [(0, request)]


def test_small_clock_error_is_tolerated():
    wire = SimWire(SimMeter(), echo=False)
    wire.transmit(ping(), 0, CHAR_9600 * 101 // 100)  # 1 % slow
    assert wire.reply_log


def test_garbage_drops_a_partial_request():
    meter = SimMeter()
    wire = SimWire(meter, echo=False)
    request = ping()
    wire.transmit(request[:6], 0, CHAR_9600)
    wire.transmit(b"\x00", 10 * MS, char_time_ns(1200))  # unreadable at 9600
    wire.transmit(request[6:], 20 * MS, CHAR_9600)
    assert wire.reply_log == [] and meter.received == []
    wire.transmit(request, 100 * MS, CHAR_9600)
    assert len(wire.reply_log) == 1


def test_tx_log_audits_every_byte_sent():
    meter = SimMeter()
    wire = SimWire(meter)
    requests = [ping(), build_request(ADDR, 0x05), build_request(ADDR, 0x3A, b"\x00")]
    for i, request in enumerate(requests):
        wire.transmit(request, i * 500 * MS, CHAR_9600)
    sent = b"".join(data for _, data in wire.tx_log)
    frames = [decode_frame(f) for f in split_frames(sent)]
    assert [f.command for f in frames] == [0x01, 0x05, 0x3A]
    assert [t for t, _ in wire.tx_log] == [0, 500 * MS, 1000 * MS]
    assert meter.forbidden == [(0x3A, b"\x00")]


def test_slow_fault_moves_the_reply():
    meter = SimMeter(reply_delay_ms=30)
    meter.inject("slow", delay_ms=1500)
    wire = SimWire(meter, echo=False)
    request = ping()
    wire.transmit(request, 0, CHAR_9600)
    assert wire.next_arrival_ns() == len(request) * CHAR_9600 + 1500 * MS + CHAR_9600


def test_split_fault_pauses_between_chunks():
    meter = SimMeter(reply_delay_ms=0)
    meter.inject("split", gap_ms=20, chunk=4)
    wire = SimWire(meter, echo=False)
    wire.transmit(ping(), 0, CHAR_9600)
    times = [t for t, _ in drain(wire)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps == [20 * MS + CHAR_9600 if (i + 1) % 4 == 0 else CHAR_9600
                    for i in range(len(gaps))]


def test_gap_and_torn_faults_on_the_time_axis():
    meter = SimMeter(reply_delay_ms=0)
    clean = meter.respond(ping())
    meter.inject("gap", gap_ms=200, at=6)
    wire = SimWire(meter, echo=False)
    wire.transmit(ping(), 0, CHAR_9600)
    times = [t for t, _ in drain(wire)]
    assert times[6] - times[5] == 200 * MS + CHAR_9600
    assert sum(1 for a, b in zip(times, times[1:]) if b - a != CHAR_9600) == 1

    meter.inject("torn", at=7, pause_ms=150)
    wire.transmit(ping(), 10**10, CHAR_9600)
    arrivals = drain(wire)
    assert bytes(b for _, b in arrivals) == clean[:7] + clean
    assert arrivals[7][0] - arrivals[6][0] == 150 * MS + CHAR_9600


def test_truncated_reply_then_silence():
    meter = SimMeter()
    meter.inject("truncated")
    wire = SimWire(meter, echo=False)
    wire.transmit(ping(), 0, CHAR_9600)
    arrivals = drain(wire)
    assert arrivals[-1][1] != 0x55 and wire.next_arrival_ns() is None
    assert len(arrivals) == len(meter.respond(ping())) - 1


def test_silent_fault_gives_only_echo():
    meter = SimMeter()
    meter.inject("silent")
    wire = SimWire(meter)
    request = ping()
    wire.transmit(request, 0, CHAR_9600)
    assert bytes(b for _, b in drain(wire)) == request


def test_replies_do_not_overlap_on_the_meters_line():
    meter = SimMeter(reply_delay_ms=0)
    wire = SimWire(meter, echo=False)
    request = build_request(ADDR, 0x05)  # 15-byte request, 41-byte reply
    wire.transmit(request, 0, CHAR_9600)
    wire.transmit(request, len(request) * CHAR_9600, CHAR_9600)  # back to back
    (start1, reply1), (start2, _) = wire.reply_log
    assert start2 >= start1 + len(reply1) * CHAR_9600
    times = [t for t, _ in drain(wire)]
    assert all(b - a >= CHAR_9600 for a, b in zip(times, times[1:]))


def test_a_model_that_keeps_time_hears_each_byte_at_its_arrival():
    """Timed models (inter-byte timeouts, sessions) get the byte's stop-bit time on the board's clock."""
    heard = []

    class Timed:
        takes_time = True

        def hear(self, byte, now_ns):
            heard.append((now_ns, byte))

        def hear_garbage(self):
            raise AssertionError("the line matches")

    wire = SimWire(Timed(), echo=False)
    wire.transmit(b"\x01\x02\x03", 7_000, CHAR_9600)
    assert heard == [(7_000 + (i + 1) * CHAR_9600, b) for i, b in enumerate(b"\x01\x02\x03")]


@pytest.mark.parametrize("family", ["kaskad-1-mt", "kaskad-11-c1", "mercury-206", "ce-102m"])
def test_each_family_is_heard_only_at_its_own_speed(family):
    """The wire takes the family's line from families.py: the board's 8N1 at the family's rate
    is heard (CE-102M's 7E1 has 10 bits a character too), any other rate is garbage."""
    from kaskad_sim.families import build_meter, family as sim_family

    fam = sim_family(family)
    for baud, heard in ((fam.baudrate, True), (4800, False)):
        meter = build_meter(family)
        wire = SimWire(meter, **fam.wire_settings())
        wire.transmit(b"\x00", 0, char_time_ns(baud))
        assert (wire.garbled == []) is heard
