"""The optical link: one MIRTEK request and its reply over ``busio.UART``, timed in bit-times.

Every deadline comes from the baud rate: at 8N1 a character is 10 bit-times. The link
* clears the input, then writes the request (on the nRF52840 ``write`` returns once the bytes
  are on the wire);
* skips the optical echo of its own request (any frame with the D bit set is a request, §1.7);
* ends a reply at its stop byte, gives up on a gap of ``gap_chars`` character-times inside a
  frame, and gives up when no reply has started ``reply_timeout_ms`` after the request left;
* retries a failed exchange ``retries`` times, first letting the line fall quiet, so a late
  reply cannot collide with the next request. A refusal (error status) is an answer: no retry.
Waiting is done by the UART itself (``readinto`` with a timeout), never by spinning or by
fixed sleeps.
"""

from kaskad import mirtek
from kaskad.clock import seconds

try:  # for the type checker only: the board has no typing module, so this stops at once there
    import typing  # noqa: F401

    import busio

    from kaskad.clock import Clock
except ImportError:
    pass

BITS_PER_CHAR = 10  # start bit + 8 data bits + stop bit


class OpticalLink:
    def __init__(self, uart: "busio.UART", clock: "Clock", baudrate: int, reply_timeout_ms: int = 1000,
                 gap_chars: int = 8, retries: int = 2) -> None:
        self._uart = uart
        self._clock = clock
        self.char_us = (BITS_PER_CHAR * 1000000 + baudrate - 1) // baudrate
        self.reply_timeout_us = reply_timeout_ms * 1000
        self.gap_us = gap_chars * self.char_us
        self.retries = retries
        self._wire = bytearray(mirtek.MAX_WIRE)
        self._wire_view = memoryview(self._wire)
        self._one = bytearray(1)
        self._chunk = bytearray(32)
        self._receiver = mirtek.FrameReceiver()
        self._data = memoryview(self._receiver.body)[mirtek.HEADER_LEN :]
        # Counters for the console and the benchmark.
        self.bytes_sent = 0
        self.exchanges = 0
        self.attempts = 0
        # Status bytes of the last valid reply: role, flags A, flags B.
        self.role = 0
        self.flags_a = 0
        self.flags_b = 0

    def exchange(self, address, command, data=b"", lengths=()):
        """Send a read-only request; return the reply's DATA (a view valid until the next exchange).

        Raises mirtek.RefusedCommand before writing anything for a request that is not read-only,
        mirtek.MeterRefused for an error status, mirtek.ReplyError when every attempt failed.
        """
        mirtek.check_request(address, command, len(data))
        self.exchanges += 1
        attempt = 0
        while True:
            try:
                return self._attempt(address, command, data, lengths)
            except mirtek.MeterRefused:
                raise
            except mirtek.ReplyError:
                if attempt == self.retries:
                    raise
            attempt += 1
            self._wait_quiet()

    def _attempt(self, address, command, data, lengths):
        self.attempts += 1
        size = mirtek.encode_request(self._wire, address, command, data)
        uart = self._uart
        uart.reset_input_buffer()
        uart.write(self._wire_view[:size])
        self.bytes_sent += size
        clock = self._clock
        start_deadline = clock.now_us() + self.reply_timeout_us
        hard_deadline = start_deadline + mirtek.MAX_WIRE * self.char_us
        receiver = self._receiver
        receiver.reset()
        last_byte_us = 0
        while True:
            now = clock.now_us()
            deadline = last_byte_us + self.gap_us if receiver.in_frame else start_deadline
            if deadline > hard_deadline:
                deadline = hard_deadline
            if now >= deadline:
                raise self._timeout_error(receiver, now, start_deadline)
            count = self._read_some(deadline - now)
            if count:
                last_byte_us = clock.now_us()
            for i in range(count):
                value = self._one[0] if i == 0 else self._chunk[i - 1]
                result = receiver.feed(value)
                if result == mirtek.FEED_MORE:
                    continue
                if result == mirtek.FEED_BAD_ESCAPE:
                    raise mirtek.ReplyError("bad escape: 0x73 followed by 0x%02x" % receiver.escape_byte)
                if result == mirtek.FEED_TOO_LONG:
                    raise mirtek.ReplyError("frame too long: no stop byte within %d bytes" % mirtek.MAX_BODY)
                if mirtek.frame_is_request(receiver.body, receiver.length):
                    continue  # our own request, heard by the optical head
                data_len = mirtek.check_reply(receiver.body, receiver.length, address, command, lengths)
                body = receiver.body
                self.role = body[7]
                self.flags_a = body[8]
                self.flags_b = body[9]
                return self._data[:data_len]

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

    def _timeout_error(self, receiver, now, start_deadline):
        if receiver.in_frame:
            return mirtek.ReplyError("torn reply: %d bytes, then silence" % receiver.length)
        if now >= start_deadline:
            return mirtek.ReplyError("timeout: no reply within %d ms" % (self.reply_timeout_us // 1000))
        return mirtek.ReplyError("timeout: reply did not finish in time")

    def _wait_quiet(self):
        """Discard what is still arriving until the line has been silent for a gap."""
        limit = self._clock.now_us() + self.reply_timeout_us + mirtek.MAX_WIRE * self.char_us
        while self._clock.now_us() < limit:
            if not self._read_some(self.gap_us):
                return
