"""Stand-in for ``busio.UART`` as CircuitPython 10.x runs it on the nRF52840 (Nordic port).

It accepts exactly what the board accepts and fails the same way; the comments name the
firmware source each rule comes from (shared-bindings/busio/UART.c, ports/nordic/common-hal/
busio/UART.c, py/stream.c, py/argcheck.c, shared-bindings/microcontroller/Pin.c).

The other end of the wire is what ``_harness.attach_far_end`` (a simulated device, in virtual
time) or ``_harness.attach_serial`` (a real port through pyserial, in real time) put on the
UART's pins when it was built; with nothing attached the line is idle.

Timing, as on the board:
- A character takes 1 start + 8 data (+ 1 parity for EVEN) + 1 stop bit at the wire baud rate,
  which is the first nRF rate at or above the requested one (9000 runs at 9600). ``stop=2`` is
  accepted but the Nordic port never programs it: one stop bit goes on the wire.
- ``write`` blocks until the last byte has left (the Nordic port waits for the DMA to finish).
- A read call waits, in one window of ``timeout`` measured in whole milliseconds from the call,
  until the receive buffer holds everything still wanted; then it takes what is there. The
  stream layer repeats that for what is missing until a window brings nothing. Nothing at all
  returns ``None``, never ``b""``.
- The receive ring holds ``receiver_buffer_size`` bytes. The byte arriving when it is full is
  held back and the receiver pauses: later bytes are LOST until the next read call, which
  restarts the receiver and appends the held byte. ``reset_input_buffer`` clears the ring but
  does not restart a paused receiver.
"""
import math
from typing import Any, Optional

import _harness
from _mpobj import get_float as _get_float, get_int as _get_int
import microcontroller as _mc
from _cpfloat import f30, f32

__all__ = ["UART"]

_DEINITED = "Object has been deinitialized and can no longer be used. Create a new object."
# ports/nordic/common-hal/busio/UART.c get_nrf_baud(): the first rate >= the request, else 1 M.
_NRF_BAUDS = (1200, 2400, 4800, 9600, 14400, 19200, 28800, 31250, 38400, 56000, 57600,
              76800, 115200, 230400, 250000, 460800, 921600)
_UARTE_COUNT = 2  # nrfx_config.h: UARTE0 and UARTE1
_READALL_CHUNK = 256  # py/stream.c DEFAULT_BUFFER_SIZE

_live: "list[UART]" = []


def _wire_baud(baudrate: int) -> int:
    for rate in _NRF_BAUDS:
        if baudrate <= rate:
            return rate
    return 1_000_000


def _validate_timeout(timeout: float) -> None:
    """shared-bindings/busio/UART.c validate_timeout(): ``(int)timeout`` must be 0-100."""
    if math.isnan(timeout):
        whole = 0  # (int)NaN is 0 on the Cortex-M4
    elif math.isinf(timeout):
        whole = -1 if timeout < 0 else 101
    else:
        whole = int(timeout)
    if not 0 <= whole <= 100:
        raise ValueError("timeout must be 0-100")


def _timeout_ms(timeout: float) -> int:
    """ports/nordic: ``timeout_ms = timeout * 1000`` in single precision, truncated to uint32."""
    if math.isnan(timeout):
        return 0
    return max(0, int(f32(timeout * 1000.0)))


def _range(value: int, lo: int, hi: int, name: str) -> int:
    """py/argcheck.c mp_arg_validate_int_range()."""
    if not lo <= value <= hi:
        raise ValueError("%s must be %d-%d" % (name, lo, hi))
    return value


class _Parity:
    """Enum-like class of the parity values (``busio.UART.Parity``)."""

    __slots__ = ("_name",)
    _name: str
    ODD: "_Parity"
    EVEN: "_Parity"

    def __new__(cls, *args: object, **kwargs: object) -> "_Parity":
        raise TypeError("cannot create 'Parity' instances")

    def __repr__(self) -> str:
        return "busio.UART.Parity." + self._name


_Parity.__name__ = _Parity.__qualname__ = "Parity"
for _pname in ("ODD", "EVEN"):
    _pobj = object.__new__(_Parity)
    _pobj._name = _pname
    setattr(_Parity, _pname, _pobj)
del _pname, _pobj


class _IdleLine:
    """The far end when nothing is attached: swallows what is sent, never sends anything."""

    def transmit(self, data: bytes, start_ns: int, char_ns: int) -> None:
        pass

    def next_arrival_ns(self) -> Optional[int]:
        return None

    def pop_arrivals(self, until_ns: int) -> "list[tuple[int, int]]":
        return []


class _SimLink:
    """A simulated far end in virtual (or real) time."""

    def __init__(self, far_end: Any) -> None:
        self.far_end = far_end

    def send(self, data: bytes, start_ns: int, char_ns: int) -> None:
        self.far_end.transmit(data, start_ns, char_ns)

    def pop(self, now_ns: int) -> "list[tuple[int, int]]":
        return list(self.far_end.pop_arrivals(now_ns))

    def wait(self, deadline_ns: int) -> None:
        """Advance the clock to the next arrival or to ``deadline_ns``, whichever comes first."""
        clock = _harness.clock()
        nxt = self.far_end.next_arrival_ns()
        target = deadline_ns if nxt is None else min(nxt, deadline_ns)
        if target <= clock.now_ns() and not clock.realtime:
            raise RuntimeError("far end says a byte arrives at %d ns but pop_arrivals(%d) gave "
                               "nothing" % (target, clock.now_ns()))
        clock.advance_to(target)

    def set_baud(self, wire_baud: int) -> None:
        pass

    def close(self) -> None:
        pass


class _SerialLink:
    """A real serial port through pyserial; needs the clock in realtime mode."""

    def __init__(self, port_path: str, wire_baud: int, even_parity: bool) -> None:
        import serial  # type: ignore[import-untyped]  # pyserial, only for a real port

        self.port = serial.Serial(
            port_path, baudrate=wire_baud, bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_EVEN if even_parity else serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE, timeout=0)
        self._pending: "list[tuple[int, int]]" = []

    def send(self, data: bytes, start_ns: int, char_ns: int) -> None:
        self.port.write(data)

    def pop(self, now_ns: int) -> "list[tuple[int, int]]":
        got, self._pending = self._pending, []
        waiting = self.port.in_waiting
        if waiting:
            got.extend((now_ns, b) for b in self.port.read(waiting))
        return got

    def wait(self, deadline_ns: int) -> None:
        clock = _harness.clock()
        remaining = deadline_ns - clock.now_ns()
        if remaining <= 0:
            return
        self.port.timeout = remaining / 1e9
        data = self.port.read(1)
        self.port.timeout = 0
        if data:
            self._pending.append((clock.now_ns(), data[0]))
        else:
            clock.advance_to(deadline_ns)

    def set_baud(self, wire_baud: int) -> None:
        self.port.baudrate = wire_baud

    def close(self) -> None:
        self.port.close()


class UART:
    """A bidirectional serial protocol (``busio.UART``), strict like the Feather nRF52840."""

    Parity = _Parity

    __slots__ = ("_tx_pin", "_rx_pin", "_rts_pin", "_cts_pin", "_baudrate", "_even", "_timeout_ms",
                 "_cap", "_rx", "_held", "_link", "_tx_end", "_char_ns", "_dead")

    def __init__(self, tx: Optional[_mc.Pin] = None, rx: Optional[_mc.Pin] = None, *,
                 rts: Optional[_mc.Pin] = None, cts: Optional[_mc.Pin] = None,
                 rs485_dir: Optional[_mc.Pin] = None, rs485_invert: bool = False,
                 baudrate: int = 9600, bits: int = 8, parity: Optional[_Parity] = None,
                 stop: int = 1, timeout: float = 1, receiver_buffer_size: int = 64) -> None:
        self._dead = True  # until fully built: a failed constructor leaves nothing claimed
        # py/argcheck.c mp_arg_parse_all(): MP_ARG_INT and MP_ARG_BOOL convert while parsing.
        baudrate = _get_int(baudrate)
        bits = _get_int(bits)
        stop = _get_int(stop)
        receiver_buffer_size = _get_int(receiver_buffer_size)
        rs485_invert = bool(rs485_invert)
        # shared-bindings/busio/UART.c busio_uart_make_new(), in its order.
        rx_pin = _mc._validate_free_pin_or_none(rx, "rx")
        tx_pin = _mc._validate_free_pin_or_none(tx, "tx")
        rts_pin = _mc._validate_free_pin_or_none(rts, "rts")
        cts_pin = _mc._validate_free_pin_or_none(cts, "cts")
        dir_pin = _mc._validate_free_pin_or_none(rs485_dir, "rs485_dir")
        if tx_pin is None and rx_pin is None:
            raise ValueError("tx and rx cannot both be None")
        given = [p for p in (tx_pin, rx_pin, rts_pin, cts_pin, dir_pin) if p is not None]
        if len(set(given)) != len(given):
            raise ValueError("Invalid pins")
        _range(bits, 5, 9, "bits")
        _range(receiver_buffer_size, 1, 0xFFFF, "receiver_buffer_size")
        # Any object other than the two Parity values silently means "no parity".
        even = parity is _Parity.EVEN
        odd = parity is _Parity.ODD
        _range(stop, 1, 2, "stop")
        timeout_f = _get_float(timeout)
        _validate_timeout(timeout_f)
        # ports/nordic/common-hal/busio/UART.c common_hal_busio_uart_construct().
        if bits != 8:
            raise ValueError("bits must be 8")
        if dir_pin is not None or rs485_invert:
            raise NotImplementedError("RS485")
        if len(_live) >= _UARTE_COUNT:
            raise ValueError("All UART peripherals are in use")
        if odd:
            raise ValueError("Odd parity is not supported")

        self._tx_pin = tx_pin
        self._rx_pin = rx_pin
        self._rts_pin = rts_pin
        self._cts_pin = cts_pin
        self._baudrate = baudrate & 0xFFFFFFFF  # uint32_t on the board
        self._even = even
        self._timeout_ms = _timeout_ms(timeout_f)
        self._cap = receiver_buffer_size
        self._rx = bytearray()  # the receive ring, at most receiver_buffer_size bytes
        self._held: Optional[int] = None  # a byte held back while the receiver is paused
        self._tx_end = 0
        self._char_ns = 0
        self._update_char_ns()
        self._link = self._open_link()
        for p in (rx_pin, tx_pin, rts_pin, cts_pin):
            _mc._claim(p)
        _live.append(self)
        self._dead = False

    def _open_link(self) -> Any:
        tx_name = self._tx_pin._name if self._tx_pin else None
        rx_name = self._rx_pin._name if self._rx_pin else None
        link = _harness.uart_link(tx_name, rx_name)
        if link is None:
            return _SimLink(_IdleLine())
        kind, target = link
        if kind == "serial":
            if not _harness.clock().realtime:
                raise RuntimeError("attach_serial needs a realtime clock: _harness.reset(realtime=True)")
            return _SerialLink(target, _wire_baud(self._baudrate), self._even)
        return _SimLink(target)

    def _update_char_ns(self) -> None:
        bits_on_wire = 1 + 8 + (1 if self._even else 0) + 1
        self._char_ns = bits_on_wire * 1_000_000_000 // _wire_baud(self._baudrate)

    # --- lifetime -------------------------------------------------------------------------

    def deinit(self) -> None:
        """Deinitialises the UART and releases its pins and peripheral (a second call does nothing)."""
        if self._dead:
            return
        self._dead = True
        for p in (self._rx_pin, self._tx_pin, self._rts_pin, self._cts_pin):
            _mc._release(p)
        if self in _live:
            _live.remove(self)
        self._rx = bytearray()
        self._held = None
        self._link.close()

    def _deinited(self) -> bool:
        return self._dead

    def _check(self) -> None:
        if self._dead:
            raise ValueError(_DEINITED)

    def __enter__(self) -> "UART":
        return self

    def __exit__(self, *exc: object) -> None:
        self.deinit()

    # --- receiving ------------------------------------------------------------------------

    def _pull(self) -> None:
        """Move every byte that reached the board by now into the ring, as the RX interrupt does."""
        for _t, byte in self._link.pop(_harness.clock().now_ns()):
            if self._rx_pin is None or self._held is not None:
                continue  # no receiver, or receiver paused: the byte is lost
            if len(self._rx) < self._cap:
                self._rx.append(byte)
            else:
                self._held = byte  # ring full: hold this one, pause the receiver

    def _hal_read(self, n: int) -> Optional[bytes]:
        """common_hal_busio_uart_read(): wait one timeout window for ``n`` bytes; None = EAGAIN."""
        if self._rx_pin is None:
            raise ValueError("No rx pin")
        clock = _harness.clock()
        self._pull()
        start_ms = clock.now_ns() // 1_000_000
        deadline = (start_ms + self._timeout_ms) * 1_000_000
        while len(self._rx) < n and clock.now_ns() < deadline:
            self._link.wait(deadline)
            self._pull()
        got = bytes(self._rx[:n])
        del self._rx[:n]
        if self._held is not None:  # restart the paused receiver with the held byte
            self._rx.append(self._held)
            self._held = None
        return got or None

    def _stream_read(self, n: int) -> Optional[bytes]:
        """busio_uart_read(): the stream protocol's read."""
        self._check()
        if n == 0:
            return b""
        return self._hal_read(n)

    def _read_exactly(self, n: int) -> Optional[bytes]:
        """py/stream.c mp_stream_rw(READ): repeat until ``n`` bytes or a window brings nothing."""
        done = bytearray()
        while len(done) < n:
            chunk = self._stream_read(n - len(done))
            if not chunk:
                if not done:
                    return None
                break
            done += chunk
        return bytes(done)

    def _readall(self) -> Optional[bytes]:
        """py/stream.c stream_readall(): read until a window brings nothing."""
        total = bytearray()
        want = _READALL_CHUNK
        while True:
            chunk = self._stream_read(want)
            if not chunk:
                return bytes(total) if total else None
            total += chunk
            want = want - len(chunk) if len(chunk) < want else _READALL_CHUNK

    def read(self, nbytes: Optional[int] = None) -> Optional[bytes]:
        """Read at most ``nbytes`` bytes (all that arrives until a timeout if None); None if nothing."""
        if nbytes is None:
            return self._readall()
        n = _get_int(nbytes)
        if n == -1:
            return self._readall()
        if n < 0:
            raise MemoryError("memory allocation failed, allocating %d bytes" % (n & 0xFFFFFFFF))
        if n == 0:
            return b""  # py/stream.c never calls the driver for 0 bytes
        return self._read_exactly(n)

    def readinto(self, buf: Any, *length: object) -> Optional[int]:
        """Read at most ``len(buf)`` bytes into ``buf``; the number read, or None if nothing."""
        try:
            view = memoryview(buf)
        except TypeError:
            raise TypeError("object with buffer protocol required") from None
        if view.readonly:
            raise TypeError("object with buffer protocol required")
        if length:
            raise ValueError("length argument not allowed for this type")
        view = view.cast("B")
        if len(view) == 0:
            return 0
        data = self._read_exactly(len(view))
        if data is None:
            return None
        view[:len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> Optional[bytes]:
        """Read up to and including a newline; None if nothing came before the timeout."""
        limit = _get_int(size)
        line = bytearray()
        while limit < 0 or len(line) < limit:
            byte = self._stream_read(1)
            if not byte:
                if not line:
                    return None
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def __iter__(self) -> "UART":
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    @property
    def in_waiting(self) -> int:
        """The number of bytes in the input buffer, available to be read (does not wait)."""
        self._check()
        _harness.clock().poll()
        self._pull()
        return len(self._rx)

    def reset_input_buffer(self) -> None:
        """Discard any unread characters in the input buffer."""
        self._check()
        self._pull()
        self._rx.clear()

    # --- sending --------------------------------------------------------------------------

    def write(self, buf: Any, *span: object) -> Optional[int]:
        """Write the bytes of ``buf`` (not a str) to the bus; returns the count once all have left."""
        if isinstance(buf, str):
            raise TypeError("string not supported; use bytes or bytearray")
        try:
            data = bytes(memoryview(buf).cast("B"))
        except TypeError:
            raise TypeError("object with buffer protocol required") from None
        # py/stream.c stream_write_method(): write(buf, max_len) or write(buf, off, max_len).
        if len(span) > 2:
            raise TypeError("function expected at most 4 arguments, got %d" % (len(span) + 2))
        if len(span) == 1:
            data = data[:max(0, _get_int(span[0]))]
        elif len(span) == 2:
            off = min(max(0, _get_int(span[0])), len(data))
            data = data[off:off + max(0, _get_int(span[1]))]
        if not data:
            return 0  # py/stream.c never calls the driver for 0 bytes
        self._check()
        if self._tx_pin is None:
            raise ValueError("No tx pin")
        clock = _harness.clock()
        start = max(clock.now_ns(), self._tx_end)
        self._link.send(data, start, self._char_ns)
        self._tx_end = start + len(data) * self._char_ns
        clock.advance_to(self._tx_end)  # ports/nordic: write waits until the DMA has finished
        return len(data)

    # --- settings -------------------------------------------------------------------------

    @property
    def baudrate(self) -> int:
        """The requested baud rate (the wire runs at the next nRF rate at or above it)."""
        self._check()
        return self._baudrate

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        self._check()
        self._baudrate = _get_int(value) & 0xFFFFFFFF
        self._update_char_ns()
        self._link.set_baud(_wire_baud(self._baudrate))

    @property
    def timeout(self) -> float:
        """The read timeout in seconds (float); ValueError when set above 100 s."""
        self._check()
        return f30(self._timeout_ms / 1000.0)

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._check()
        t = _get_float(value)
        _validate_timeout(t)
        self._timeout_ms = _timeout_ms(t)


def _deinit_all() -> None:
    for uart in list(_live):
        uart.deinit()


_harness.on_reset(_deinit_all)
