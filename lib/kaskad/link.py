"""The optical link as kaskad.meter.MeterClient uses it: one MIRTEK request and its reply.

A thin shape over the meters' one link (kaskad.meters.link.ByteLink, where the timing, the echo
and the retries live) and the MIRTEK framing (kaskad.meters.kaskad_1_mt.frame, where the
allowlist lives), for the modules that still build the MIRTEK client themselves.
"""

from kaskad.meters.kaskad_1_mt import frame
from kaskad.meters.link import ByteLink


class OpticalLink(ByteLink):
    def __init__(self, uart, clock, baudrate, reply_timeout_ms=1000, retries=2):
        super().__init__(uart, clock, baudrate, reply_timeout_ms, retries)
        self._request = bytearray(frame.MAX_WIRE)
        self._request_view = memoryview(self._request)
        self._framer = frame.Framer()
        self._data = memoryview(self._framer.buf)[frame.HEADER_LEN :]
        # Status bytes of the last valid reply: role, flags A, flags B.
        self.role = 0
        self.flags_a = 0
        self.flags_b = 0

    def exchange(self, address, command, data=b"", lengths=()):
        """Send a read-only request; return the reply's DATA (a view valid until the next exchange).

        Raises RefusedCommand before writing anything for a request that is not read-only,
        MeterRefused for an error status, ReplyError when every attempt failed.
        """
        size = frame.encode_request(self._request, address, command, data)
        framer = self._framer
        framer.expect(address, command, lengths)
        ByteLink.exchange(self, self._request_view, size, framer)
        body = framer.buf
        if body[10] != 0:
            raise frame.refused(command, body[10])
        self.role = body[7]
        self.flags_a = body[8]
        self.flags_b = body[9]
        return self._data[: framer.length - frame.HEADER_LEN - 1]
