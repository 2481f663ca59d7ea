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

Then the whole device (code.py in virtual time, scripted centrals; host/board_rig.py):
* from a meter reply to the packet carrying its value on air (the energy reply comes first in a
  poll, the instant values last; the packets are rebuilt once the poll is over);
* how long a configuration command takes from the central's first write to its notification.

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
from kaskad.meters import kaskad_1_mt  # noqa: E402
from kaskad.meters.link import ByteLink  # noqa: E402
from kaskad.reading import Reading  # noqa: E402
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
    client = kaskad_1_mt.Meter(ByteLink(uart, clock, baud), clock, meter.address, errors.append)
    reading = Reading()
    if not first_poll:
        client.poll(reading)
        vclock.advance_to(vclock.now_ns() + 60_000 * NS_PER_MS)
        meter.tariffs_raw[0] += 2  # a minute of ordinary consumption
    sent_before, replies_before = len(wire.tx_log), len(meter.sent)
    start = vclock.now_ns()
    assert client.poll(reading), errors
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


def device_figures(tmp_dir):
    """(energy reply -> on air, last reply -> on air) in ms per poll; command times by kind."""
    import statistics

    from board_rig import Board, claim, command, MS, SECOND
    from kaskad_client import OwnerClient

    board = Board(tmp_dir, "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n")
    meter = board.meter
    times = {"status": [], "set poll period": [], "poll now": [], "claim": []}

    def script():
        central = _harness.ble_central()
        for step in range(12):  # the meter's values change before every poll
            meter.tariffs_raw[0] += 7
            meter.voltage_raw += 10
            yield 10000
        connection = yield from claim(central, bytes(range(16)))
        for i in range(40):
            yield from command(central, connection, connection.status(), log=times["status"])
            yield from command(central, connection, connection.set_poll_seconds(10 + i % 2),
                               log=times["set poll period"])
            yield from command(central, connection, connection.poll_now(), log=times["poll now"])
            yield 397  # drift against the poll schedule, so some commands meet a poll under way
        central.disconnect()
        yield 2000
        central = _harness.ble_central()  # a claim, timed: the owners forgotten first
        now = _harness.clock().now_ns()
        _harness.button_press(at_ns=now)
        _harness.button_release(at_ns=now + 5100 * MS)
        yield 6000
        status = yield from __import__("board_rig").connect(central)
        conn = OwnerClient(bytes(range(1, 17))).connect(status["challenge"])
        yield from command(central, conn, conn.claim(), log=times["claim"])

    wire_log = []
    real_attach = _harness.attach_far_end

    def attach(tx, rx, wire):
        wire_log.append(wire)
        real_attach(tx, rx, wire)
    class Quiet:  # the board's console lines are not the figures
        def reading(self, *args):
            pass
        error = info = reading

    from kaskad import console
    _harness.attach_far_end = attach
    console.set_sink(Quiet())
    try:
        board.run(200, script())
    finally:
        _harness.attach_far_end = real_attach
        console.set_sink(console.TextSink())
    wire = wire_log[-1]
    air = [(t, adv) for t, adv, _, _, _ in _harness.ble_air_log()]
    energy_lag, last_lag = [], []
    replies = list(zip(meter.heard, wire.reply_log))
    polls = []  # the replies of each poll (a poll starts with a ping, command 0x01)
    for frame, (start, data) in replies:
        if frame.command == 0x01:
            polls.append([])
        if polls:
            polls[-1].append((frame.command, start + len(data) * wire.char_ns))
    for poll in polls[1:12]:
        energy_end = next(end for command_, end in poll if command_ == 0x05)
        last_end = poll[-1][1]
        on_air = next(t for t, adv in air if t >= last_end)
        energy_lag.append((on_air - energy_end) / MS)
        last_lag.append((on_air - last_end) / MS)
    return energy_lag, last_lag, times, statistics


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
    import tempfile
    import pathlib

    with tempfile.TemporaryDirectory() as tmp:
        energy_lag, last_lag, times, statistics = device_figures(pathlib.Path(tmp))
    print()
    print("the whole device, code.py in virtual time (10 s polls, values changing every poll)")
    print("from the meter's energy reply to the new packet on air: median %.1f ms, max %.1f ms (%d polls)"
          % (statistics.median(energy_lag), max(energy_lag), len(energy_lag)))
    print("from the poll's last reply to the new packet on air:    median %.1f ms, max %.1f ms"
          % (statistics.median(last_lag), max(last_lag)))
    print("configuration command, first write to its notification (ms):")
    for kind, values in times.items():
        print("  %-16s n=%-3d median %6.1f  max %6.1f" % (kind, len(values), statistics.median(values), max(values)))
    print("(virtual time: the board's CPU time is not in these figures)")


if __name__ == "__main__":
    main()
