"""make bench: how long one full poll cycle takes, beside its physical floor and the reference firmware.

The firmware's own link and client run in virtual time against the meter model through the strict
UART stand-in, so the figure is the protocol schedule (waits, deadlines, retries), not the PC's
speed. Per exchange:
* physical floor: (request bytes + reply bytes) x 10 bit-times / baud + the meter's reply delay;
* reference firmware (the Telink C driver this replaces): it sleeps 100 ms after handing the
  request to the UART, then reads in up to three passes 250 ms apart and stops at the pass that
  finds the stop byte; a reply still arriving during a pass is lost (its byte counter restarts).
Board CPU time is not in these figures: on the nRF52840 each received byte costs the loop well
under one character time (1.04 ms at 9600 baud).

    python host/bench.py [--delay-ms N] [--baud N]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402

boot.add_paths()

import _cptime  # noqa: E402
import _harness  # noqa: E402
import board  # noqa: E402
import busio  # noqa: E402
from kaskad.clock import Clock  # noqa: E402
from kaskad.link import OpticalLink  # noqa: E402
from kaskad.meter import MeterClient  # noqa: E402
from kaskad_sim.meter import SimMeter  # noqa: E402
from kaskad_sim.wire import SimWire  # noqa: E402

NS_PER_MS = 1_000_000
REFERENCE_FIRST_PASS_MS = 100
REFERENCE_PASS_MS = 250
REFERENCE_PASSES = 3


def reference_ms(request_ms, reply_start_ms, reply_end_ms):
    """Time the reference driver spends on one exchange, and whether it gets the reply."""
    for n in range(REFERENCE_PASSES):
        at = REFERENCE_FIRST_PASS_MS + n * REFERENCE_PASS_MS
        if reply_end_ms <= at:
            return at, True
        if reply_start_ms < at:  # caught mid-reply: the bytes of this pass are thrown away
            return at, False
    return REFERENCE_FIRST_PASS_MS + (REFERENCE_PASSES - 1) * REFERENCE_PASS_MS, False


def measure(generation, delay_ms, baud, first_poll):
    vclock = _harness.reset()
    role = 0x30 if generation == "old" else 0x90
    meter = SimMeter(generation=generation, role=role, reply_delay_ms=delay_ms)
    wire = SimWire(meter, baudrate=baud)
    _harness.attach_far_end("TX", "RX", wire)
    uart = busio.UART(board.TX, board.RX, baudrate=baud, timeout=0, receiver_buffer_size=256)
    clock = Clock(_cptime)
    errors = []
    client = MeterClient(OpticalLink(uart, clock, baud), clock, meter.address, errors.append)
    if not first_poll:
        client.poll()
        vclock.advance_to(vclock.now_ns() + 60_000 * NS_PER_MS)
        meter.tariffs_raw[0] += 2  # a minute of ordinary consumption
    sent_before, replies_before = len(wire.tx_log), len(meter.sent)
    start = vclock.now_ns()
    assert client.poll(), errors
    elapsed_ms = (vclock.now_ns() - start) / NS_PER_MS
    char_ms = 10_000 / baud
    floor_ms = reference = 0.0
    lost = 0
    requests = [data for _, data in wire.tx_log[sent_before:]]
    replies = meter.sent[replies_before:]
    for request, reply in zip(requests, replies):
        request_ms = len(request) * char_ms
        reply_ms = len(reply) * char_ms
        floor_ms += request_ms + delay_ms + reply_ms
        spent, got = reference_ms(request_ms, request_ms + delay_ms, request_ms + delay_ms + reply_ms)
        reference += spent
        lost += not got
    wire_bytes = sum(map(len, requests)) + sum(map(len, replies))
    return len(requests), wire_bytes, elapsed_ms, floor_ms, reference, lost


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay-ms", type=int, default=20, help="the meter's reply delay (default 20 ms)")
    parser.add_argument("--baud", type=int, default=9600)
    args = parser.parse_args(argv)
    print("one poll cycle, %d baud 8N1, meter reply delay %d ms (virtual time)" % (args.baud, args.delay_ms))
    print("%-28s %9s %6s %10s %9s %7s %10s %7s %s" % (
        "cycle", "exchanges", "bytes", "this (ms)", "floor", "ratio", "reference", "ratio", "reference lost"))
    for generation in ("old", "new"):
        for first in (True, False):
            n, wire_bytes, ours, floor, reference, lost = measure(generation, args.delay_ms, args.baud, first)
            label = "%s meter, %s" % (generation, "first poll" if first else "steady poll")
            print("%-28s %9d %6d %10.1f %9.1f %6.3fx %10.1f %6.2fx %d of %d replies" % (
                label, n, wire_bytes, ours, floor, ours / floor, reference, reference / floor, lost, n))
    print("ratio = time / physical floor; target for this firmware: at most 1.25x")


if __name__ == "__main__":
    main()
