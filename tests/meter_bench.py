"""A test bench for the meter families: the strict UART stand-in on TX/RX, the firmware's clock on
virtual time, and at the far end a REPLAY LINE, not a meter model.

The replay line knows nothing of any protocol: it holds a table of request bytes -> reply bytes
written out in the test (the document's vectors, or frames spelled out byte by byte with the
simulated meters' checksums, which never import the firmware, each checked against the
document's vectors first). It echoes what the board sends (the optical head hears itself), and
answers a request it finds in the table after ``delay_ms``; anything else gets silence. The runs
against the independent simulated meters (host/kaskad_sim) are in host/meter_proof.py.
"""

import heapq

import _cptime
import _harness
import board
import busio

from kaskad.clock import Clock
from kaskad.meters.link import ByteLink
from kaskad.reading import Reading
from kaskad_sim.ce_102m import bcc as bcc7
from kaskad_sim.ce_102m import with_parity as even_parity
from kaskad_sim.kaskad_11_c1 import kaskad11_sum as sum8
from kaskad_sim.mercury_206 import crc16_modbus

NS_PER_S = 1_000_000_000


def hexbytes(text):
    return bytes(int(part, 16) for part in text.split())


# --- frames, with the simulated meters' checksums (imported above) ------------------------------

def kaskad11_frame(body):
    """LEN CMD ADDR... SUM around body (CMD onwards)."""
    frame = bytes([len(body) + 2]) + bytes(body)
    return frame + bytes([sum8(frame)])


def mercury_frame(body):
    crc = crc16_modbus(body)
    return bytes(body) + bytes([crc & 0xFF, crc >> 8])


def ce_block(text, start=0x02):
    """STX text ETX BCC, with parity (text as 7-bit bytes)."""
    inner = bytes(text) + b"\x03"
    return even_parity(bytes([start]) + inner + bytes([bcc7(inner)]))


# --- the far end ---------------------------------------------------------------------------------

class ReplayLine:
    """Echo, then a fixed reply per known request (exact bytes), at the meter's character time."""

    def __init__(self, replies, baud, echo=True, delay_ms=20, mutate=None):
        self.replies = dict(replies)
        self.char_ns = 10 * NS_PER_S // baud
        self.echo = echo
        self.delay_ns = delay_ms * 1_000_000
        self.mutate = mutate  # mutate(request, reply) -> bytes to send instead (or b"")
        self.tx_log = []  # every board transmission, as sent
        self.heard = b""
        self._arrivals = []
        self._seq = 0
        self._busy_until = 0

    def _push(self, when_ns, byte):
        heapq.heappush(self._arrivals, (when_ns, self._seq, byte))
        self._seq += 1

    def transmit(self, data, start_ns, char_ns):
        data = bytes(data)
        self.tx_log.append(data)
        if self.echo:
            for i, byte in enumerate(data):
                self._push(start_ns + (i + 1) * char_ns, byte)
        self.heard += data
        end_ns = start_ns + len(data) * char_ns
        for request, reply in self.replies.items():
            if self.heard.endswith(request):
                self.heard = b""
                if self.mutate is not None:
                    reply = self.mutate(request, reply)
                start = max(end_ns + self.delay_ns, self._busy_until)
                for i, byte in enumerate(reply or b""):
                    self._push(start + (i + 1) * self.char_ns, byte)
                self._busy_until = start + len(reply or b"") * self.char_ns
                return

    def next_arrival_ns(self):
        return self._arrivals[0][0] if self._arrivals else None

    def pop_arrivals(self, until_ns):
        out = []
        while self._arrivals and self._arrivals[0][0] <= until_ns:
            when, _, byte = heapq.heappop(self._arrivals)
            out.append((when, byte))
        return out


class Bench:
    """The family's Meter on a ByteLink on the stand-in UART, facing a ReplayLine."""

    def __init__(self, family, replies, address, echo=True, delay_ms=20, retries=1, reply_timeout_ms=200,
                 mutate=None):
        self.vclock = _harness.reset()
        self.line = ReplayLine(replies, family.BAUD, echo=echo, delay_ms=delay_ms, mutate=mutate)
        _harness.attach_far_end("TX", "RX", self.line)
        self.uart = busio.UART(board.TX, board.RX, baudrate=family.BAUD, timeout=0, receiver_buffer_size=256)
        self.clock = Clock(_cptime)
        self.link = ByteLink(self.uart, self.clock, family.BAUD, reply_timeout_ms, retries=retries)
        self.errors = []
        self.meter = family.Meter(self.link, self.clock, address, self.errors.append)
        self.reading = Reading()

    def poll(self):
        return self.meter.poll(self.reading)

    def value(self, field):
        return self.reading.get(field, self.clock.now_ms(), 10**12)

    def advance_s(self, seconds):
        self.vclock.advance_to(self.vclock.now_ns() + seconds * NS_PER_S)

    def requests(self):
        return list(self.line.tx_log)


# --- mutations of a reply, as a noisy optical path mangles bytes (as tests/test_fuzz.py) ---------

INTACT = 0
ONE_BIT = 1
BYTE_BURST = 2
SCATTERED = 3  # 2-4 bits anywhere: beyond what an additive sum (or CRC8) guarantees
LOST = 4
EXTRA = 5
CUT = 6
GARBAGE_AFTER = 7
GARBAGE_BEFORE = 8
ONLY_GARBAGE = 9
SWAPPED = 10  # two neighbours swapped: invisible to an additive sum
PREVIOUS = 11
REPEATED = 12
REPLACED = 13
KINDS = tuple(range(14))
KIND_NAMES = ("intact", "one bit", "byte burst", "scattered bits", "byte lost", "byte extra", "cut short",
              "garbage after", "garbage before", "only garbage", "neighbours swapped", "previous reply",
              "stretch repeated", "byte replaced")


def mutate(rng, kind, reply, previous):
    data = bytearray(reply)
    if kind == INTACT or not data:
        return bytes(data)
    if kind == ONE_BIT:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == BYTE_BURST:
        i = rng.randrange(len(data))
        data[i] ^= rng.randrange(1, 256)
    elif kind == SCATTERED:
        for _ in range(rng.randint(2, 4)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == LOST:
        del data[rng.randrange(len(data))]
    elif kind == EXTRA:
        data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
    elif kind == CUT:
        del data[rng.randrange(1, len(data)):]
    elif kind == GARBAGE_AFTER:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    elif kind == GARBAGE_BEFORE:
        data[:0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    elif kind == ONLY_GARBAGE:
        data = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 60)))
    elif kind == SWAPPED:
        if len(data) > 1:
            i = rng.randrange(len(data) - 1)
            data[i], data[i + 1] = data[i + 1], data[i]
    elif kind == PREVIOUS:
        data = bytearray(previous)
    elif kind == REPEATED:
        i = rng.randrange(len(data))
        j = rng.randrange(i, len(data))
        data[j:j] = data[i:j]
    else:  # REPLACED
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


class Mutator:
    """The replay line's mutate hook: a seeded random kind per reply, counted."""

    def __init__(self, kinds, seed):
        import random

        self.rng = random.Random(seed)
        self.kinds = tuple(kinds)
        self.replies = 0
        self.mutated = 0
        self.previous = b""

    def __call__(self, request, reply):
        if not reply:
            return reply
        self.replies += 1
        out = mutate(self.rng, self.rng.choice(self.kinds), reply, self.previous)
        self.previous = reply
        if out != reply:
            self.mutated += 1
        return out


def fuzz(family, replies, address, truth, kinds, count, checked_fields, seed, identity=(), flags_checked=True):
    """Poll through mutated replies until `count` went by. Every published value must be the
    truth (fields in `checked_fields` fail at once; others are counted, each slip once), the
    identity attributes too, and nothing may escape from poll(). Wrong flags fail at once when
    flags_checked, else are counted in the last slot. Returns (wrong per field + flags, polls,
    mutator)."""
    from kaskad import reading as fields

    mutator = Mutator(kinds, seed)
    bench = Bench(family, replies, address, mutate=mutator)
    wrong = [0] * (fields.FIELD_COUNT + 1)
    polls = 0
    while mutator.replies < count:
        bench.poll()  # must not raise
        polls += 1
        now = bench.clock.now_ms()
        reading = bench.reading
        for field in range(fields.FIELD_COUNT):
            value = reading.get(field, now, 10**12)
            if value is not None and value != truth[field]:
                assert field not in checked_fields, (fields.FIELD_NAMES[field], value, truth[field])
                wrong[field] += 1
                reading.values[field] = None  # count each slip once
                reading.confirmed_ms[field] = None
        for name, expected in identity:
            assert getattr(reading, name) in (None, expected), (name, getattr(reading, name))
        if reading.flags_known and (reading.flag_bits, reading.flags_known) != truth[-1]:
            assert not flags_checked, (reading.flag_bits, reading.flags_known)
            wrong[-1] += 1
            reading.flags_known = 0
        bench.advance_s(1)
    assert mutator.mutated > 0.8 * mutator.replies or kinds == (INTACT,)
    return wrong, polls, mutator


def fuzz_line(name, kinds, wrong, polls, mutator):
    from kaskad import reading as fields

    print("\nfuzz %s [%s]: %d replies, %d mutated, %d polls, wrong values published: %s" % (
        name, ", ".join(KIND_NAMES[k] for k in kinds), mutator.replies, mutator.mutated, polls,
        {(fields.FIELD_NAMES + ("flags",))[f]: n for f, n in enumerate(wrong) if n} or "none"))
