"""A byte exchange with a meter over ``busio.UART``, timed in character times, for any framing.

The one link of every meter family; the framing comes from the family (a "framer", below):
* it clears the input, then writes the request (on the nRF52840 ``write`` returns once the bytes
  are on the wire);
* it discards the optical echo of its own request: incoming bytes that repeat the request from
  its first byte are dropped; at the first byte that differs, the bytes held back are handed to
  the framer after all (they were the reply's), and the echo is over;
* it gives up when no byte came ``reply_timeout_ms`` after the request left, on a gap of
  ``framer.gap_chars`` character times once a reply has begun, and when the reply has not finished
  within ``framer.max_chars`` character times after the reply timeout;
* it retries a failed exchange ``retries`` times, first letting the line fall quiet, so a late
  reply cannot collide with the next request;
* a request that may only wake the meter (``wake_chars``, Mercury-206) gets one extra attempt
  first, which waits only ``wake_chars`` character times for the reply to begin; when nothing
  but the echo came back, the request is sent again at once (a late reply to it would be the
  same frame, so there is nothing to let fall quiet). A frame the framer accepted is returned even when
  its status is a refusal: the client decides, and a refusal is not retried.
Waiting is done by the UART itself (``readinto`` with a timeout), never by spinning or sleeping.

A framer (one per family, see its ``frame`` module) has:
  ``begin()``         forget everything: a new reply is expected
  ``feed(byte)``      take one byte; True when a complete frame passed the framing checks (it is
                      then at the start of ``framer.buf``). A candidate that fails is dropped and
                      the search goes on with the bytes after its first one.
  ``in_frame``        True while a candidate has started
  ``why``             why the last candidate was rejected (text), or None
  ``max_chars``       the longest run of bytes a reply can take, echo and stray bytes included
  ``gap_chars``       the longest silence inside a reply, in character times
"""

from kaskad.clock import seconds
from kaskad.meters import ReplyError

try:  # for the type checker only: the board has no typing module, so this stops at once there
    import typing  # noqa: F401

    import busio

    from kaskad.clock import Clock
except ImportError:
    pass

BITS_PER_CHAR = 10  # start bit + 8 data bits (7E1: 7 data + parity) + stop bit


class ByteLink:
    def __init__(self, uart: "busio.UART", clock: "Clock", baudrate: int, reply_timeout_ms: int = 1000,
                 retries: int = 2) -> None:
        self._uart = uart
        self._clock = clock
        self.char_us = (BITS_PER_CHAR * 1000000 + baudrate - 1) // baudrate
        self.reply_timeout_us = reply_timeout_ms * 1000
        self.gap_us = 20 * self.char_us  # the last framer's gap (below): also the quiet wait's
        self.retries = retries
        self._one = bytearray(1)
        self._chunk = bytearray(32)
        # Counters for the console and the benchmark.
        self.bytes_sent = 0
        self.exchanges = 0
        self.attempts = 0

    def exchange(self, request, size, framer, wake_chars=0):
        """Send request[:size] and wait for the frame that answers it (in ``framer.buf``).

        ``request`` is a memoryview of the family's request buffer (slicing it copies nothing);
        the request must come from the family's encoder, which enforces its allowlist.
        ``wake_chars``: see the module's docstring. Raises ReplyError when every attempt failed.
        """
        self.exchanges += 1
        if wake_chars:
            try:
                self._attempt(request, size, framer, wake_chars * self.char_us)
                return
            except ReplyError as error:
                if not error.what.startswith("timeout"):  # more than our echo came back
                    self._wait_quiet()
        attempt = 0
        while True:
            try:
                self._attempt(request, size, framer, self.reply_timeout_us)
                return
            except ReplyError:
                if attempt == self.retries:
                    raise
            attempt += 1
            self._wait_quiet()

    def send(self, request, size):
        """Send request[:size] and expect no answer (a session's closing break)."""
        self.exchanges += 1
        self._write(request, size)

    def _write(self, request, size):
        uart = self._uart
        uart.reset_input_buffer()
        uart.write(request[:size])
        self.bytes_sent += size

    def _attempt(self, request, size, framer, start_us):
        """One request; waits start_us for the reply to begin."""
        self.attempts += 1
        self._write(request, size)
        clock = self._clock
        start_deadline = clock.now_us() + start_us
        hard_deadline = start_deadline + framer.max_chars * self.char_us
        self.gap_us = framer.gap_chars * self.char_us
        framer.begin()
        echo = 0  # request bytes heard back so far; -1 once the echo is over
        last_byte_us = 0
        while True:
            now = clock.now_us()
            deadline = last_byte_us + self.gap_us if last_byte_us else start_deadline
            if deadline > hard_deadline:
                deadline = hard_deadline
            if now >= deadline:
                raise self._timeout_error(framer, last_byte_us)
            count = self._read_some(deadline - now)
            echo_before = echo
            for i in range(count):
                value = self._one[0] if i == 0 else self._chunk[i - 1]
                if echo >= 0:
                    if value == request[echo]:
                        echo += 1
                        if echo == size:
                            echo = -1  # the whole echo went by
                        continue
                    held = echo
                    echo = -1
                    for j in range(held):  # not an echo after all: those bytes were the reply's
                        if framer.feed(request[j]):
                            return
                if framer.feed(value):
                    return
            if count and (echo < 0 and echo_before < 0 or framer.in_frame):
                last_byte_us = clock.now_us()  # the reply has begun: from now on, gaps count

    def _read_some(self, wait_us):
        """Wait up to wait_us for one byte, then take whatever else is already buffered.

        Returns how many bytes arrived: the first in self._one, the rest in self._chunk.
        """
        uart = self._uart
        uart.timeout = seconds((wait_us + 999) // 1000)
        if not uart.readinto(self._one):
            return 0
        uart.timeout = 0
        more = uart.readinto(self._chunk)
        return 1 + (more or 0)

    def _timeout_error(self, framer, last_byte_us):
        why = framer.why
        if not last_byte_us:
            return ReplyError("timeout: no reply within %d ms" % (self.reply_timeout_us // 1000))
        if why is not None:
            return ReplyError("no valid reply: " + why)
        if framer.in_frame:
            return ReplyError("torn reply: a frame began, then silence")
        return ReplyError("no reply: only our own echo or stray bytes came back")

    def _wait_quiet(self):
        """Discard what is still arriving until the line has been silent for a gap."""
        limit = self._clock.now_us() + self.reply_timeout_us + 256 * self.char_us
        while self._clock.now_us() < limit:
            if not self._read_some(self.gap_us):
                return
