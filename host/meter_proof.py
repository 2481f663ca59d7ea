"""Each meter family's firmware driver against its independent simulated meter, in virtual time.

Shared by `make bench` (host/bench.py) and the tests of the poll cycle and of the long faulty
runs (tests/test_meter_cycle.py, tests/test_meter_faulty_runs.py). The driver runs on the strict
UART stand-in with the settings' defaults (reply timeout 1000 ms, 2 retries); at the far end is
the family's model from host/kaskad_sim, which never imports the firmware.

The physical floor of a poll is computed from the protocol notes (shared/protocols), never from
the driver: per exchange, the request and reply bytes at the meter's character time, plus the
meter's reply delay unless the request is one that no meter answers (CE-102M's break). The notes give no reply delay for any of the four meters
(mirtek.md 10.8: "every delay comes from [SEED] and [ZRD]"; other-meters.md has none), so the
floor takes each model's stated assumption (its module docstring), the delay the model applies.
A character is 10 bits on every line here: 8N1 is start + 8 data + stop, 7E1 is start + 7 data
+ parity + stop (kaskad_sim.wire.char_time_ns).

The old firmware's schedule (other-meters.md 0, "Receive path"): after sending, it sleeps 200 ms,
then reads; up to three more reads follow 250 ms apart. A reply that has ended t ms after the
request began is read at the first of 200, 450, 700, 950 ms at or after t; later, it is lost and
the exchange took 950 ms. A request that expects no answer (CE-102M's break) is not waited for.
"""

import os
import sys
from dataclasses import dataclass, field

HOST = os.path.dirname(os.path.abspath(__file__))
for _sub in ("", os.path.join("..", "lib"), "circuitpython"):
    _path = os.path.normpath(os.path.join(HOST, _sub))
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _cptime  # noqa: E402
import _harness  # noqa: E402
import board  # noqa: E402
import busio  # noqa: E402
from kaskad.clock import Clock  # noqa: E402
from kaskad.meters import load  # noqa: E402
from kaskad.meters.link import ByteLink  # noqa: E402
from kaskad.reading import Reading  # noqa: E402
from kaskad_sim.families import build_meter  # noqa: E402
from kaskad_sim.families import family as sim_family  # noqa: E402
from kaskad_sim.wire import SimWire  # noqa: E402

NS_PER_MS = 1_000_000
NAMES = ("kaskad-1-mt", "kaskad-11-c1", "mercury-206", "ce-102m")
REPLY_TIMEOUT_MS = 1000  # KASKAD_REPLY_TIMEOUT_MS's default (lib/kaskad/settings.py)
RETRIES = 2  # KASKAD_RETRIES's default
POLL_PERIOD_S = 60  # the old firmware's measurement period, and KASKAD_POLL_SECONDS's default
TARGET_RATIO = 1.25  # issue 14: a poll cycle within 1.25 x its physical floor
OLD_FIRST_READ_MS = 200
OLD_READ_EVERY_MS = 250
OLD_READS = 4  # the read after the 200 ms sleep, then up to three more


class _Stamped:
    """A model as SimWire sees it, each byte heard stamped with its arrival (SimWire hands the
    bytes of a transmission over in order, byte i arriving at start + (i + 1) x char time)."""

    def __init__(self, model):
        self.model = model
        self.start_ns = self.char_ns = self.count = 0

    def hear(self, byte):
        self.count += 1
        return self.model.hear(byte, self.start_ns + self.count * self.char_ns)

    def hear_garbage(self):
        self.model.hear_garbage()


class TimedWire(SimWire):
    """SimWire that tells a model which keeps time (`takes_time`) when each byte arrived, so its
    inter-byte timeouts, sessions and sleep work; the MIRTEK model is timing-free."""

    def __init__(self, model, **settings):
        super().__init__(_Stamped(model) if getattr(model, "takes_time", False) else model, **settings)

    def transmit(self, data, start_ns, char_ns):
        if isinstance(self.meter, _Stamped):
            self.meter.start_ns, self.meter.char_ns, self.meter.count = start_ns, char_ns, 0
        return super().transmit(data, start_ns, char_ns)


def grow(name, sim):
    """A minute of ordinary consumption on T1 (and a small change of the instant values)."""
    if name == "kaskad-11-c1":
        sim.energy_import[0] += 2
        sim.voltage_raw += 1
    elif name == "ce-102m":
        sim.tariffs_raw[0] += 2
        sim.voltage_raw += 10
    else:
        sim.tariffs_raw[0] += 2
        sim.voltage_raw += 1


class Rig:
    """The firmware's driver of family `name` facing the family's model over the optical path.

    The driver is ``kaskad.meters.load(name).Meter`` on a ByteLink, writing into a
    kaskad.reading.Reading, as code.py builds it."""

    def __init__(self, name, echo=True, reply_timeout_ms=REPLY_TIMEOUT_MS, retries=RETRIES, **state):
        self.name = name
        self.vclock = _harness.reset()
        self.family = sim_family(name)
        self.sim = build_meter(name, **state)
        self.wire = TimedWire(self.sim, echo=echo, **self.family.wire_settings())
        _harness.attach_far_end("TX", "RX", self.wire)
        baud = self.family.baudrate
        self.uart = busio.UART(board.TX, board.RX, baudrate=baud, timeout=0, receiver_buffer_size=256)
        self.clock = Clock(_cptime)
        self.errors = []
        address = getattr(self.sim, "address", None) if self.family.address_keyword else None
        self.link = ByteLink(self.uart, self.clock, baud, reply_timeout_ms, retries=retries)
        self.driver = load(name).Meter(self.link, self.clock, address, self.errors.append)
        self.reading = Reading()

    def poll(self):
        return self.driver.poll(self.reading)

    def now_ns(self):
        return self.vclock.now_ns()

    def advance_s(self, seconds):
        self.vclock.advance_to(self.vclock.now_ns() + seconds * 1_000_000_000)


@dataclass
class Exchange:
    request: bytes
    reply: bytes  # b"" when the meter did not answer
    answered: bool


@dataclass
class Cycle:
    name: str
    label: str
    ok: bool
    elapsed_ms: float
    char_ms: float
    delay_ms: int
    exchanges: list = field(default_factory=list)

    @property
    def wire_bytes(self):
        return sum(len(e.request) + len(e.reply) for e in self.exchanges)

    @property
    def floor_ms(self):
        return sum(floor_ms(e, self.char_ms, self.delay_ms, self.name) for e in self.exchanges)

    @property
    def old_ms(self):
        return sum(old_schedule(e, self.char_ms, self.delay_ms, self.name)[0] for e in self.exchanges)

    @property
    def old_lost(self):
        return sum(not old_schedule(e, self.char_ms, self.delay_ms, self.name)[1] for e in self.exchanges)

    @property
    def ratio(self):
        return self.elapsed_ms / self.floor_ms


def expects_no_reply(name, request):
    """CE-102M's break B0 (SOH B 0 ETX BCC, with parity) is answered by nothing (notes 3.1)."""
    return name == "ce-102m" and bytes(b & 0x7F for b in request[:3]) == b"\x01B0"


def floor_ms(exchange, char_ms, delay_ms, name):
    """The bytes at the meter's character time, and its reply delay for a request that may be
    answered (one the meter leaves unanswered, as Mercury's wake-up, still costs the delay: only
    then can a reader know that nothing is coming)."""
    on_wire = (len(exchange.request) + len(exchange.reply)) * char_ms
    return on_wire + (0 if expects_no_reply(name, exchange.request) else delay_ms)


def old_schedule(exchange, char_ms, delay_ms, name, first_read_ms=OLD_FIRST_READ_MS):
    """(ms the old firmware spends on this exchange, whether it gets the reply, if there is one)."""
    request_ms = len(exchange.request) * char_ms
    if expects_no_reply(name, exchange.request):
        return request_ms, True
    if not exchange.answered:  # it reads until it gives up; there was nothing to miss
        return first_read_ms + (OLD_READS - 1) * OLD_READ_EVERY_MS, True
    ended = request_ms + delay_ms + len(exchange.reply) * char_ms
    for n in range(OLD_READS):
        at = first_read_ms + n * OLD_READ_EVERY_MS
        if ended <= at:
            return at, True
    return first_read_ms + (OLD_READS - 1) * OLD_READ_EVERY_MS, False


def measure(rig, label):
    """One poll of `rig`, timed in virtual time, with every exchange on the wire."""
    wire = rig.wire
    sent_before, replies_before = len(wire.tx_log), len(wire.reply_log)
    start = rig.now_ns()
    ok = rig.poll()
    elapsed_ms = (rig.now_ns() - start) / NS_PER_MS
    sent = wire.tx_log[sent_before:]
    replies = wire.reply_log[replies_before:]
    exchanges = []
    for i, (at, request) in enumerate(sent):
        ends = at + len(request) * wire.char_ns
        until = sent[i + 1][0] if i + 1 < len(sent) else rig.now_ns()
        answer = [data for began, data in replies if ends <= began < until]
        exchanges.append(Exchange(request, b"".join(answer), bool(answer)))
    return Cycle(rig.name, label, ok, elapsed_ms, wire.char_ns / NS_PER_MS, rig.sim.reply_delay_ms, exchanges)


def cycles(name, **state):
    """The first poll of a fresh meter, and a steady poll a poll period later (values grown)."""
    rig = Rig(name, **state)
    first = measure(rig, "first poll")
    rig.advance_s(POLL_PERIOD_S)
    grow(name, rig.sim)
    steady = measure(rig, "steady poll")
    return rig, first, steady
