"""The optical path between the board's UART and the simulated meter, in virtual time.

Times are integer nanoseconds. The host's busio.UART stand-in calls `transmit` when the board
writes, and `next_arrival_ns` / `pop_arrivals` to learn what the board's receiver gets and when.

Model:

* A byte "arrives" when its stop bit has ended: byte i of a transmission that starts at t arrives
  at t + (i + 1) * char_ns.
* Echo (on by default): the head hears its own light, so every transmitted byte comes back to the
  board unchanged at the moment it has left, whatever the line settings.
* The meter listens at its own line settings (`char_ns`, from baudrate/bits/parity/stop; a
  family's are `families.MeterFamily.wire_settings()`). If the board's char time differs by more
  than `tolerance_pct`, the meter hears garbage: it drops any partial request and never answers.
  A 7E1 meter (CE-102M) has 10 bits per character like the board's 8N1: it hears the 8 bits
  between start and stop bit, parity in bit 7, and checks the parity itself.
* Virtual time: a model that keeps time (`takes_time`: inter-byte timeouts, sessions, sleep) is
  given each byte's arrival (its stop bit's end, in ns on the board's clock) with the byte.
* When a request's stop byte has arrived at T, the meter's reply starts at T + reply_delay_ms
  (or per the injected fault); its bytes follow back to back at the meter's char time, with any
  fault pauses in between. The meter's UART sends one byte at a time, so a reply that would start
  while an earlier one is still on air waits for it to end.
* The reply is computed from the meter's state when the request is transmitted.
* No collision model: echo and reply bytes that overlap in time are both delivered, in time order.
"""
from __future__ import annotations

import heapq

from typing import Any

NS_PER_S = 1_000_000_000


def char_time_ns(baudrate: int, bits: int = 8, parity: object = None, stop: int = 1) -> int:
    """Nanoseconds per character: start bit + data bits + parity bit (if any) + stop bits."""
    if baudrate <= 0:
        raise ValueError("baudrate must be positive")
    nbits = 1 + bits + (0 if parity is None else 1) + stop
    return (nbits * NS_PER_S + baudrate // 2) // baudrate


class SimWire:
    """Virtual-time optical link: board UART <-> optical head <-> `meter`."""

    def __init__(self, meter: Any, baudrate: int = 9600, bits: int = 8, parity: object = None,
                 stop: int = 1, echo: bool = True, tolerance_pct: int = 2) -> None:
        self.meter = meter
        self.char_ns = char_time_ns(baudrate, bits, parity, stop)  # the meter's line
        self.echo = echo
        self.tolerance_pct = tolerance_pct
        self.tx_log: list[tuple[int, bytes]] = []     # (start_ns, data) of every board transmission
        self.reply_log: list[tuple[int, bytes]] = []  # (start_ns of first byte, bytes) per reply
        self.garbled: list[tuple[int, bytes]] = []    # transmissions the meter could not decode
        self._arrivals: list[tuple[int, int, int]] = []  # heap of (arrival_ns, seq, byte)
        self._seq = 0
        self._meter_busy_until = 0

    def _push(self, when_ns: int, byte: int) -> None:
        heapq.heappush(self._arrivals, (when_ns, self._seq, byte))
        self._seq += 1

    def line_matches(self, char_ns: int) -> bool:
        """True if a transmitter with this char time is decodable by the meter."""
        return abs(char_ns - self.char_ns) * 100 <= self.char_ns * self.tolerance_pct

    def transmit(self, data: bytes, start_ns: int, char_ns: int) -> None:
        """The board's UART began sending `data` at `start_ns`, one byte every `char_ns`."""
        if char_ns <= 0:
            raise ValueError("char_ns must be positive")
        data = bytes(data)
        self.tx_log.append((start_ns, data))
        if self.echo:
            for i, byte in enumerate(data):
                self._push(start_ns + (i + 1) * char_ns, byte)
        if not self.line_matches(char_ns):
            self.garbled.append((start_ns, data))
            self.meter.hear_garbage()
            return
        timed = getattr(self.meter, "takes_time", False)
        for i, byte in enumerate(data):
            arrival_ns = start_ns + (i + 1) * char_ns
            plan = self.meter.hear(byte, arrival_ns) if timed else self.meter.hear(byte)
            if plan is not None:
                self._schedule(plan, arrival_ns)

    def _schedule(self, plan: list[tuple[int, bytes]], stop_arrival_ns: int) -> None:
        t = stop_arrival_ns
        first_start: int | None = None
        for index, (pause_ns, chunk) in enumerate(plan):
            start = t + pause_ns
            if index == 0:
                start = max(start, self._meter_busy_until)
                first_start = start
            for j, byte in enumerate(chunk):
                self._push(start + (j + 1) * self.char_ns, byte)
            t = start + len(chunk) * self.char_ns
        self._meter_busy_until = t
        if first_start is not None:
            self.reply_log.append((first_start, b"".join(chunk for _, chunk in plan)))

    def next_arrival_ns(self) -> int | None:
        """When the next byte reaches the board, or None if nothing is scheduled."""
        return self._arrivals[0][0] if self._arrivals else None

    def pop_arrivals(self, until_ns: int) -> list[tuple[int, int]]:
        """Remove and return the (arrival_ns, byte) pairs that reached the board by `until_ns`."""
        out = []
        while self._arrivals and self._arrivals[0][0] <= until_ns:
            when, _, byte = heapq.heappop(self._arrivals)
            out.append((when, byte))
        return out
