"""busio.UART stand-in: each rule here is one a lenient stand-in would break.

The far end is a small scripted wire (below), not the project's SimWire: these tests pin down
the UART, whatever device sits at the other end.
"""
import bisect

import pytest
from hypothesis import given, settings, strategies as st

import _harness
import board
import busio

MS = 1_000_000
S = 1_000_000_000
CHAR_9600_8N1 = 10 * S // 9600  # 1 041 666 ns


class FakeWire:
    """Records what the board sends; delivers bytes at scheduled times; optional echo."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.sent: "list[tuple[int, int]]" = []  # (time the byte has left, byte)
        self.char_ns: "list[int]" = []
        self._incoming: "list[tuple[int, int, int]]" = []  # (time, order, byte)
        self._order = 0

    def _arrive(self, t_ns: int, byte: int) -> None:
        bisect.insort(self._incoming, (t_ns, self._order, byte))
        self._order += 1

    def send_at(self, t_ns: int, data: bytes, gap_ns: int = CHAR_9600_8N1) -> None:
        """The device sends ``data``; byte i reaches the board at t_ns + i * gap_ns."""
        for i, b in enumerate(data):
            self._arrive(t_ns + i * gap_ns, b)

    def transmit(self, data: bytes, start_ns: int, char_ns: int) -> None:
        self.char_ns.append(char_ns)
        for i, b in enumerate(data):
            t = start_ns + (i + 1) * char_ns
            self.sent.append((t, b))
            if self.echo:
                self._arrive(t, b)

    def next_arrival_ns(self):
        return self._incoming[0][0] if self._incoming else None

    def pop_arrivals(self, until_ns: int):
        n = bisect.bisect_right(self._incoming, (until_ns, self._order, 256))
        got, self._incoming = self._incoming[:n], self._incoming[n:]
        return [(t, b) for t, _, b in got]


@pytest.fixture
def wire():
    w = FakeWire()
    _harness.attach_far_end("TX", "RX", w)
    return w


def now():
    return _harness.clock().now_ns()


# --- the API is the board's, no more -------------------------------------------------------

BOARD_API = {"deinit", "read", "readinto", "readline", "write", "reset_input_buffer",
             "baudrate", "in_waiting", "timeout", "Parity"}


def test_public_api_is_exactly_the_boards():
    u = busio.UART(board.TX, board.RX)
    assert {n for n in dir(u) if not n.startswith("_")} == BOARD_API
    for missing in ("flush", "close", "readable", "writable", "any", "read_until", "isatty"):
        assert not hasattr(u, missing)
    with pytest.raises(AttributeError):
        u.some_flag = True
    with pytest.raises(AttributeError):
        u.in_waiting = 3


def test_only_tx_and_rx_are_positional():
    with pytest.raises(TypeError):
        busio.UART(board.TX, board.RX, 9600)
    with pytest.raises(TypeError):
        busio.UART(board.TX, board.RX, baud=9600)


# --- construction: validated like the board ------------------------------------------------

def test_tx_and_rx_cannot_both_be_none():
    with pytest.raises(ValueError, match="tx and rx cannot both be None"):
        busio.UART()


@pytest.mark.parametrize("bad", ["TX", 25, 0.0, object()])
def test_a_pin_that_is_not_a_pin_is_a_type_error(bad):
    with pytest.raises(TypeError, match="tx must be of type Pin"):
        busio.UART(tx=bad, rx=board.RX)


def test_a_pin_in_use_is_refused_until_released():
    first = busio.UART(tx=board.TX)
    with pytest.raises(ValueError, match="^TX in use$"):
        busio.UART(tx=board.TX)
    first.deinit()
    busio.UART(tx=board.TX)


def test_in_use_names_the_pin_by_its_first_board_name():
    busio.UART(tx=board.LED)
    with pytest.raises(ValueError, match="^L in use$"):
        busio.UART(tx=board.D3)


def test_a_pin_used_twice_in_one_uart_is_invalid():
    with pytest.raises(ValueError, match="Invalid pins"):
        busio.UART(board.TX, board.TX)


def test_only_two_uart_peripherals():
    busio.UART(board.TX, board.RX)
    busio.UART(board.D5, board.D6)
    with pytest.raises(ValueError, match="All UART peripherals are in use"):
        busio.UART(board.D9, board.D10)


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"bits": 4}, ValueError, "bits must be 5-9"),
    ({"bits": 7}, ValueError, "bits must be 8"),       # Nordic: 8 data bits only
    ({"bits": 9}, ValueError, "bits must be 8"),
    ({"stop": 3}, ValueError, "stop must be 1-2"),
    ({"receiver_buffer_size": 0}, ValueError, "receiver_buffer_size must be 1-65535"),
    ({"parity": busio.UART.Parity.ODD}, ValueError, "Odd parity is not supported"),
    ({"rs485_dir": board.D5}, NotImplementedError, "RS485"),
    ({"rs485_invert": True}, NotImplementedError, "RS485"),
    ({"timeout": 101}, ValueError, "timeout must be 0-100"),
    ({"timeout": 1000}, ValueError, "timeout must be 0-100"),   # milliseconds by mistake
    ({"timeout": -1}, ValueError, "timeout must be 0-100"),
    ({"timeout": "1"}, TypeError, "to float"),
    ({"baudrate": 9600.0}, TypeError, "to int"),
    ({"baudrate": "9600"}, TypeError, "to int"),
])
def test_settings_the_board_rejects(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        busio.UART(board.TX, board.RX, **kwargs)
    busio.UART(board.TX, board.RX)  # a failed constructor claimed nothing


def test_settings_the_board_accepts():
    u = busio.UART(board.TX, board.RX, baudrate=300, parity=busio.UART.Parity.EVEN, stop=2,
                   timeout=100.5, receiver_buffer_size=1)
    assert u.baudrate == 300 and u.timeout == pytest.approx(100.5)


def test_parity_values_cannot_be_made():
    with pytest.raises(TypeError):
        busio.UART.Parity()
    assert repr(busio.UART.Parity.EVEN) == "busio.UART.Parity.EVEN"


# --- timeout: seconds, float, validated ------------------------------------------------------

def test_read_returns_none_not_empty_bytes_after_the_timeout_in_seconds(wire):
    u = busio.UART(board.TX, board.RX, timeout=0.25)
    assert u.read(5) is None
    assert now() == 250 * MS
    assert u.readinto(bytearray(4)) is None
    assert u.readline() is None
    assert u.read() is None


def test_timeout_setter_validates_like_the_board(wire):
    u = busio.UART(board.TX, board.RX)
    u.timeout = 0.5
    assert u.timeout == 0.5
    with pytest.raises(ValueError, match="timeout must be 0-100"):
        u.timeout = 500
    with pytest.raises(TypeError):
        u.timeout = None
    assert u.timeout == 0.5


def test_timeout_is_held_in_whole_ms_of_a_30_bit_float(wire):
    # 0.7 as the board's float is 0.6999998...: 699 ms. A stand-in using 700 ms is too kind.
    u = busio.UART(board.TX, board.RX, timeout=0.7)
    assert u.read(1) is None
    assert now() == 699 * MS


def test_zero_timeout_does_not_wait(wire):
    wire.send_at(5 * MS, b"x")
    u = busio.UART(board.TX, board.RX, timeout=0)
    assert u.read(1) is None and now() == 0


# --- receiving --------------------------------------------------------------------------

def test_read_waits_for_the_first_byte_and_returns_early_when_complete(wire):
    wire.send_at(300 * MS, b"abc")
    u = busio.UART(board.TX, board.RX)
    assert u.read(3) == b"abc"
    assert now() == 300 * MS + 2 * CHAR_9600_8N1  # the moment the third byte arrived


def test_read_windows_restart_after_each_partial_take(wire):
    # bytes 0.6 s apart, timeout 1 s: window 1 (0-1 s) takes 1 byte, window 2 (1-2 s) the rest
    for i, t in enumerate((600, 1200, 1800)):
        wire.send_at(t * MS, bytes([0x41 + i]))
    u = busio.UART(board.TX, board.RX, timeout=1)
    assert u.read(3) == b"ABC"
    assert now() == 1800 * MS


def test_read_stops_at_a_window_without_bytes(wire):
    wire.send_at(500 * MS, b"A")
    wire.send_at(2500 * MS, b"B")
    u = busio.UART(board.TX, board.RX, timeout=1)
    assert u.read(2) == b"A"
    assert now() == 2000 * MS
    assert u.read(2) == b"B"


def test_read_none_reads_until_a_timeout_gap(wire):
    wire.send_at(100 * MS, b"hello")
    wire.send_at(900 * MS, b" world")
    wire.send_at(2500 * MS, b"late")
    u = busio.UART(board.TX, board.RX, timeout=1)
    assert u.read() == b"hello world"  # window 0-1 s brought it, window 1-2 s nothing
    assert now() == 2000 * MS
    assert u.read(None) == b"late"
    assert u.read(None) is None


def test_read_zero_and_readinto_empty_never_wait(wire):
    u = busio.UART(board.TX, board.RX)
    assert u.read(0) == b""
    assert u.readinto(bytearray()) == 0
    assert now() == 0


def test_in_waiting_counts_arrived_bytes_without_moving_time(wire):
    wire.send_at(10 * MS, b"12345")
    u = busio.UART(board.TX, board.RX)
    assert u.in_waiting == 0
    assert now() == 0
    _harness.clock().advance_to(10 * MS + 2 * CHAR_9600_8N1)
    assert u.in_waiting == 3
    assert now() == 10 * MS + 2 * CHAR_9600_8N1


def test_readinto_fills_the_buffer_and_needs_a_writable_one(wire):
    wire.send_at(0, b"wxyz")
    u = busio.UART(board.TX, board.RX)
    buf = bytearray(3)
    assert u.readinto(buf) == 3 and buf == bytearray(b"wxy")
    with pytest.raises(TypeError):
        u.readinto(b"immutable")
    with pytest.raises(ValueError, match="length argument not allowed"):
        u.readinto(bytearray(4), 2)


def test_readline_and_iteration(wire):
    wire.send_at(0, b"one\ntwo\nrest")
    u = busio.UART(board.TX, board.RX, timeout=0.1)
    assert u.readline() == b"one\n"
    assert list(u) == [b"two\n", b"rest"]


def test_reset_input_buffer_discards_what_arrived(wire):
    wire.send_at(0, b"stale")
    u = busio.UART(board.TX, board.RX, timeout=0.1)
    _harness.clock().advance_to(100 * MS)
    u.reset_input_buffer()
    assert u.in_waiting == 0 and u.read(5) is None


def test_bytes_arriving_to_a_full_buffer_are_lost(wire):
    data = bytes(range(20))
    wire.send_at(0, data)
    u = busio.UART(board.TX, board.RX, receiver_buffer_size=8, timeout=0.05)
    _harness.clock().advance_to(S)  # the firmware was busy while all 20 bytes came in
    assert u.in_waiting == 8
    got = u.read(20)
    # 8 in the ring + the one byte the paused receiver held back; the other 11 are gone
    assert got == data[:9]
    assert u.read(20) is None
    wire.send_at(now(), b"again")
    assert u.read(5) == b"again"  # the receiver runs again after a read


def test_default_buffer_is_64_bytes(wire):
    wire.send_at(0, bytes(100))
    u = busio.UART(board.TX, board.RX, timeout=0.01)
    _harness.clock().advance_to(S)
    assert u.in_waiting == 64
    assert len(u.read(100)) == 65


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.tuples(st.integers(0, 300), st.binary(min_size=1, max_size=20)),
                       min_size=1, max_size=8),
       sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_received_bytes_arrive_in_order_without_loss_when_read_promptly(chunks, sizes):
    _harness.reset()
    w = FakeWire()
    _harness.attach_far_end("TX", "RX", w)
    t, sent = CHAR_9600_8N1, b""
    for gap_ms, data in chunks:  # one byte after another on the line, with pauses
        t += gap_ms * MS
        w.send_at(t, data)
        t += len(data) * CHAR_9600_8N1
        sent += data
    u = busio.UART(board.TX, board.RX, timeout=0.5, receiver_buffer_size=256)
    got = b""
    last = now()
    for i in range(10_000):
        n = sizes[i % len(sizes)]
        part = u.read(n)
        assert now() >= last
        last = now()
        if part is None:
            if w.next_arrival_ns() is None:
                break
            continue
        assert 0 < len(part) <= n
        got += part
    assert got == sent


# --- sending ----------------------------------------------------------------------------

def test_write_rejects_str_and_returns_the_count(wire):
    u = busio.UART(board.TX, board.RX)
    with pytest.raises(TypeError):
        u.write("text")
    with pytest.raises(TypeError):
        u.write([1, 2, 3])
    assert u.write(b"abc") == 3
    assert u.write(bytearray(b"de")) == 2
    assert u.write(memoryview(b"fgh")) == 3
    assert [b for _, b in wire.sent] == list(b"abcdefgh")


@pytest.mark.parametrize("baud,kwargs,bits,wire_baud", [
    (9600, {}, 10, 9600),
    (115200, {}, 10, 115200),
    (9600, {"parity": busio.UART.Parity.EVEN}, 11, 9600),
    (9600, {"stop": 2}, 10, 9600),     # Nordic never programs 2 stop bits
    (9000, {}, 10, 9600),              # the nRF runs the next supported rate up
    (2_000_000, {}, 10, 1_000_000),
])
def test_character_time_follows_the_wire_settings(wire, baud, kwargs, bits, wire_baud):
    u = busio.UART(board.TX, board.RX, baudrate=baud, **kwargs)
    char = bits * S // wire_baud
    u.write(b"0123456789")
    assert wire.char_ns == [char]
    assert [t for t, _ in wire.sent] == [(i + 1) * char for i in range(10)]


def test_write_blocks_until_the_last_byte_has_left(wire):
    u = busio.UART(board.TX, board.RX)
    u.write(b"x" * 10)
    assert now() == 10 * CHAR_9600_8N1
    u.write(b"y")
    assert wire.sent[-1][0] == 11 * CHAR_9600_8N1 == now()


def test_baudrate_change_changes_the_timing(wire):
    u = busio.UART(board.TX, board.RX)
    u.baudrate = 19200
    assert u.baudrate == 19200
    u.write(b"z")
    assert wire.char_ns == [10 * S // 19200]
    with pytest.raises(TypeError):
        u.baudrate = 19200.0


def test_the_echo_of_a_write_is_waiting_when_write_returns():
    w = FakeWire(echo=True)
    _harness.attach_far_end("TX", "RX", w)
    u = busio.UART(board.TX, board.RX)
    u.write(b"/?!\r\n")
    assert u.in_waiting == 5
    assert u.read(5) == b"/?!\r\n"


def test_one_direction_uarts_refuse_the_other_direction():
    tx_only = busio.UART(tx=board.TX)
    with pytest.raises(ValueError, match="No rx pin"):
        tx_only.read(1)
    rx_only = busio.UART(rx=board.RX)
    with pytest.raises(ValueError, match="No tx pin"):
        rx_only.write(b"x")


def test_an_unwired_uart_is_an_idle_line():
    u = busio.UART(board.TX, board.RX, timeout=0.01)
    assert u.write(b"hello") == 5
    assert u.read(1) is None


# --- deinit -----------------------------------------------------------------------------

DEINITED = "Object has been deinitialized and can no longer be used. Create a new object."


@pytest.mark.parametrize("use", [
    lambda u: u.read(1), lambda u: u.read(), lambda u: u.readline(),
    lambda u: u.readinto(bytearray(2)), lambda u: u.write(b"x"), lambda u: u.in_waiting,
    lambda u: u.baudrate, lambda u: setattr(u, "baudrate", 1200), lambda u: u.timeout,
    lambda u: setattr(u, "timeout", 1), lambda u: u.reset_input_buffer(),
])
def test_every_use_after_deinit_raises(use):
    u = busio.UART(board.TX, board.RX)
    u.deinit()
    u.deinit()  # a second deinit is fine
    with pytest.raises(ValueError) as err:
        use(u)
    assert str(err.value) == DEINITED


def test_zero_length_calls_after_deinit_do_not_raise():
    # py/stream.c never reaches the driver for 0 bytes, so the board does not check either
    u = busio.UART(board.TX, board.RX)
    u.deinit()
    assert u.read(0) == b"" and u.write(b"") == 0


def test_context_manager_deinits_and_frees_the_pins():
    with busio.UART(board.TX, board.RX) as u:
        u.write(b"x")
    with pytest.raises(ValueError, match="deinitialized"):
        u.write(b"x")
    busio.UART(board.TX, board.RX)


def test_harness_reset_deinits_live_uarts():
    u = busio.UART(board.TX, board.RX)
    _harness.reset()
    with pytest.raises(ValueError, match="deinitialized"):
        u.read(1)
    busio.UART(board.TX, board.RX)


def test_attach_serial_needs_a_realtime_clock():
    _harness.attach_serial("/dev/null-not-a-port")
    with pytest.raises(RuntimeError, match="realtime"):
        busio.UART(board.TX, board.RX)


def test_attach_serial_runs_the_same_api_over_a_real_port():
    import os
    import select

    master, slave = os.openpty()
    try:
        _harness.reset(realtime=True)
        _harness.attach_serial(os.ttyname(slave))
        u = busio.UART(board.TX, board.RX, baudrate=9600, timeout=0.2)
        os.write(master, b"hi\n")
        assert u.read(3) == b"hi\n"
        assert u.read(1) is None  # None, not pyserial's b""
        assert u.write(b"yo") == 2
        assert select.select([master], [], [], 1.0)[0]
        assert os.read(master, 16) == b"yo"
        with pytest.raises(TypeError):
            u.write("str")
        u.deinit()
    finally:
        _harness.reset()
        os.close(master)
        os.close(slave)
