"""The simulated meter on a pseudo-terminal, in real time.

    python host/kaskad_sim/pty_meter.py [--meter FAMILY] [--address N] [--delay-ms N]
                                        [--seconds N] [--echo] [--generation old|transitional|new]

prints the slave path (e.g. /dev/pts/7) on the first line of stdout, then serves the requests of
the chosen meter family (families.py: kaskad-1-mt, the default, kaskad-11-c1, mercury-206,
ce-102m) written to that path until --seconds have passed (default: until Ctrl-C). One line per
request goes to stderr. Replies start reply_delay after the request's stop byte was read and are
written one byte per character time of the family's line (10 bit times at 9600 8N1 or 7E1, at
2400 for KASKAD-11-C1), so timing resembles the real optical port. --address is the family's
address (the serial number for mercury-206; ce-102m has none); --generation is KASKAD-1-MT's.
A pty has no baud rate: whatever the client sets, bytes pass. No echo unless --echo.

Importable: `PtyMeter(meter).start()` serves from a thread; `.slave_path`; `.stop()`.
"""
from __future__ import annotations

import argparse
import os
import select
import sys
import threading
import time
import tty
from collections.abc import Callable
from typing import Any

if __package__ in (None, ""):  # run as a script: make `kaskad_sim` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kaskad_sim.families import DEFAULT_FAMILY, FAMILIES, build_meter, family  # noqa: E402
from kaskad_sim.meter import SimMeter  # noqa: E402
from kaskad_sim.wire import char_time_ns  # noqa: E402


class PtyMeter:
    """Serves a simulated meter (any family) on the master side of a pty; clients open
    `slave_path`. `bits`/`parity`/`stop` only set the character time."""

    def __init__(self, meter: Any = None, *, echo: bool = False, baudrate: int = 9600,
                 bits: int = 8, parity: object = None, stop: int = 1,
                 log: Callable[[str], None] | None = None) -> None:
        self.meter: Any = meter if meter is not None else SimMeter()
        self.echo = echo
        self.char_ns = char_time_ns(baudrate, bits, parity, stop)
        self.log = log
        self.slave_path = ""
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "PtyMeter":
        """Open the pty pair (slave in raw mode) and start serving in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._master, self._slave = os.openpty()
        # Raw: no echo, no XON/XOFF (0x11 and 0x13 are ordinary bytes here), no CR/LF mapping.
        tty.setraw(self._slave)
        self.slave_path = os.ttyname(self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="pty-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close both ends."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> "PtyMeter":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 256)
            except OSError:
                time.sleep(0.05)
                continue
            heard_ns = time.monotonic_ns()
            if self.echo:
                os.write(self._master, data)
            timed = getattr(self.meter, "takes_time", False)
            for byte in data:
                before = len(self.meter.received)
                plan = self.meter.hear(byte, heard_ns) if timed else self.meter.hear(byte)
                if len(self.meter.received) != before:
                    self._log_request(plan)
                if plan is not None:
                    self._send(plan, heard_ns)
                    heard_ns = time.monotonic_ns()

    def _log_request(self, plan: list[tuple[int, bytes]] | None) -> None:
        if self.log is None:
            return
        reply = "no reply" if plan is None else b"".join(c for _, c in plan).hex(" ")
        if isinstance(self.meter, SimMeter):
            req = self.meter.heard[-1]
            what = f"dst={req.dst} cmd=0x{req.command:02X} data={req.data.hex(' ') or '-'}"
        else:
            what = self.meter.describe(self.meter.received[-1])
        self.log(f"request {what} -> {reply}")

    def _send(self, plan: list[tuple[int, bytes]], t_ns: int) -> None:
        """Write the plan's chunks, each byte when its character time has passed."""
        for pause_ns, chunk in plan:
            t_ns += pause_ns
            for byte in chunk:
                t_ns += self.char_ns
                if not self._sleep_until(t_ns):
                    return
                os.write(self._master, bytes((byte,)))

    def _sleep_until(self, t_ns: int) -> bool:
        """Sleep until monotonic time `t_ns`; False if asked to stop meanwhile."""
        while True:
            left = t_ns - time.monotonic_ns()
            if left <= 0:
                return not self._stop.is_set()
            if self._stop.wait(left / 1e9):
                return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulated meter on a pseudo-terminal")
    parser.add_argument("--meter", choices=tuple(FAMILIES), default=DEFAULT_FAMILY,
                        help=f"meter family (default {DEFAULT_FAMILY})")
    parser.add_argument("--address", type=int, default=None,
                        help="the family's address (default: 20109; mercury-206: 36896545)")
    parser.add_argument("--delay-ms", type=int, default=None,
                        help="reply delay in ms (default: the model's, 30 for kaskad-1-mt)")
    parser.add_argument("--seconds", type=float, default=0, help="serve this long (0 = forever)")
    parser.add_argument("--echo", action="store_true", help="echo every byte back, like an optical head")
    parser.add_argument("--generation", choices=("old", "transitional", "new"), default="old")
    args = parser.parse_args(argv)

    fam = family(args.meter)
    state: dict[str, Any] = {}
    if args.delay_ms is not None:
        state["reply_delay_ms"] = args.delay_ms
    if args.meter == "kaskad-1-mt":
        state["generation"] = args.generation
    elif args.generation != "old":
        parser.error("--generation is for kaskad-1-mt only")
    if fam.address_keyword is None and args.address is not None:
        parser.error(f"--address: {args.meter} has no address")
    try:
        meter = build_meter(args.meter, args.address, **state)
    except ValueError as exc:
        parser.error(str(exc))
    server = PtyMeter(meter, echo=args.echo, **fam.wire_settings(),
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    server.start()
    print(server.slave_path, flush=True)
    try:
        if args.seconds > 0:
            time.sleep(args.seconds)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


__all__ = ["PtyMeter", "main"]

if __name__ == "__main__":
    sys.exit(main())
