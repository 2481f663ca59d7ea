"""make bench: each meter family's poll cycle, beside its physical floor and the old firmware.

Every family's firmware driver runs in virtual time against its independent simulated meter
(host/kaskad_sim) through the strict UART stand-in, with the settings' defaults (reply timeout
1000 ms, 2 retries), so the figure is the protocol schedule (waits, deadlines, retries), not the
PC's speed (host/meter_proof.py). A full poll: every request the driver sends, on a fresh meter
(first poll: identity too) and a poll period later with the registers grown (steady poll).
* physical floor: per exchange, (request + reply bytes) x 10 bit-times / baud (7E1 has 10 bits
  too: start, 7 data, parity, stop), plus the meter's reply delay for a request that may be
  answered. The notes give no reply delay for any meter: the models' stated assumptions are used;
* old firmware: 200 ms after sending, then reads 250 ms apart, up to three more: a reply that has
  ended t ms after the request began is read at 200, 450, 700 or 950 ms (other-meters.md 0);
  a reply that is not there by 950 ms is lost.
Board CPU time is not in these figures: on the nRF52840 each received byte costs the loop well
under one character time (1.04 ms at 9600 baud).

Then the whole device (code.py in virtual time, scripted centrals; host/board_rig.py):
* from a meter reply to the packet carrying its value on air (the energy reply comes first in a
  poll, the instant values last; the packets are rebuilt once the poll is over);
* how long a configuration command takes from the central's first write to its notification.

    python host/bench.py [--delay-ms N] [--family F]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402

boot.add_paths()

import _harness  # noqa: E402
import meter_proof  # noqa: E402

MIRTEK_FIRST_READ_MS = 100  # mirtek.md 6: the old MIRTEK driver slept 100 ms, not 200
KASKAD11_SLEEP_AFTER_READ_MS = 250  # kaskad_11.c response_meter(): sleep_ms(250) ends every read pass


def family_table(names, delay_ms):
    state = {} if delay_ms is None else {"reply_delay_ms": delay_ms}
    print("one poll cycle per meter family, virtual time, against the family's simulated meter")
    print("%-13s %-9s %-11s %5s %6s %6s %9s %9s %7s %9s %7s %s" % (
        "family", "line", "poll", "exch", "bytes", "delay", "this(ms)", "floor", "ratio", "old(ms)",
        "ratio", "old lost"))
    over = []
    notes = []
    for name in names:
        rig, first, steady = meter_proof.cycles(name, **state)
        for cycle in (first, steady):
            print("%-13s %-9s %-11s %5d %6d %6d %9.1f %9.1f %6.3fx %9.1f %6.2fx %d of %d%s" % (
                name, rig.family.line, cycle.label, len(cycle.exchanges), cycle.wire_bytes, cycle.delay_ms,
                cycle.elapsed_ms, cycle.floor_ms, cycle.ratio, cycle.old_ms, cycle.old_ms / cycle.floor_ms,
                cycle.old_lost, len(cycle.exchanges), "" if cycle.ok else "  (poll failed: %s)" % rig.errors))
            if cycle.ratio > meter_proof.TARGET_RATIO:
                over.append("%s %s" % (name, cycle.label))
        if name == "kaskad-1-mt":
            old = sum(meter_proof.old_schedule(e, steady.char_ms, steady.delay_ms, name, MIRTEK_FIRST_READ_MS)[0]
                      for e in steady.exchanges)
            notes.append("kaskad-1-mt steady poll with the old MIRTEK driver's own 100 ms first read (mirtek.md 6): "
                         "%.1f ms (%.2fx)" % (old, old / steady.floor_ms))
        if name == "kaskad-11-c1":
            old = steady.old_ms + KASKAD11_SLEEP_AFTER_READ_MS * sum(e.answered for e in steady.exchanges)
            notes.append("kaskad-11-c1 steady poll with the old driver's 250 ms sleep after every read, the "
                         "last one too (other-meters.md 1.5.10): %.1f ms (%.2fx)" % (old, old / steady.floor_ms))
    print("ratio = time / physical floor; target: at most %.2fx" % meter_proof.TARGET_RATIO)
    for note in notes:
        print(note)
    print("over the target: %s" % (", ".join(over) or "none"))


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
    parser.add_argument("--delay-ms", type=int, default=None,
                        help="every meter's reply delay (default: each model's own assumption)")
    parser.add_argument("--family", action="append", choices=meter_proof.NAMES,
                        help="only this family (repeatable); the device figures are then left out")
    args = parser.parse_args(argv)
    family_table(args.family or meter_proof.NAMES, args.delay_ms)
    if args.family:
        return
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
