"""A family's driver (kaskad.meters.load(name).Meter on the one ByteLink) facing the family's
independent simulated meter (host/kaskad_sim, which never imports the firmware) over the stand-in
UART, in virtual time, with the settings' defaults (reply timeout 1000 ms, 2 retries)."""

import _harness
import board
import busio

from kaskad.clock import Clock
from kaskad.meters import load
from kaskad.meters.link import ByteLink
from kaskad.reading import Reading
from kaskad_sim.families import build_meter, family
from kaskad_sim.wire import SimWire

import _cptime


class FamilyRig:
    def __init__(self, name, echo=True, retries=2, reply_timeout_ms=1000, **state):
        self.vclock = _harness.reset()
        line = family(name)
        self.sim = build_meter(name, **state)
        self.wire = SimWire(self.sim, echo=echo, **line.wire_settings())
        _harness.attach_far_end("TX", "RX", self.wire)
        self.uart = busio.UART(board.TX, board.RX, baudrate=line.baudrate, timeout=0, receiver_buffer_size=256)
        self.clock = Clock(_cptime)
        self.link = ByteLink(self.uart, self.clock, line.baudrate, reply_timeout_ms, retries=retries)
        self.errors = []
        address = getattr(self.sim, line.address_keyword) if line.address_keyword else None
        self.meter = load(name).Meter(self.link, self.clock, address, self.errors.append)
        self.reading = Reading()

    def poll(self):
        return self.meter.poll(self.reading)

    def poll_ms(self):
        """(poll's result, how long it took in virtual time, ms)."""
        start = self.vclock.now_ns()
        ok = self.poll()
        return ok, (self.vclock.now_ns() - start) / 1_000_000

    def advance_s(self, seconds):
        self.vclock.advance_to(self.vclock.now_ns() + seconds * 1_000_000_000)


def refuse(sim, wanted):
    """Make a model (of any family) refuse every request that `wanted(request bytes)` accepts,
    with the model's own error-status fault; returns the list of the requests it refused (clear
    `wanted`'s condition to stop)."""
    refused = []
    name = "handle_request" if hasattr(sim, "handle_request") else "handle_frame"  # MIRTEK's model
    handle = getattr(sim, name)

    def refusing(request, *when):
        if wanted(bytes(request)):
            refused.append(bytes(request))
            sim.inject("error_status")
        return handle(request, *when)

    setattr(sim, name, refusing)
    return refused
