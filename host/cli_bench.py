"""How long each flow of the `kaskad` command-line tool takes against the twin.

The real tool (clients/cli/kaskad_cli.py) through bleak with the twin backend (host/twin_bleak.py)
against the real code.py on the stand-ins, as the tests run it. Virtual time is the board's clock:
what a user would wait with a board that behaves like the twin and a PC whose every GATT operation
takes one 30 ms connection event (twin_bleak.ATT_MS); wall time is what this PC spent simulating.

    make bench-cli          (or .venv/bin/python host/cli_bench.py)
"""

import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("host", "lib", "host/circuitpython", "clients/cli"):
    sys.path.insert(0, str(ROOT / sub)) if sub != "clients/cli" else sys.path.append(str(ROOT / sub))

import _harness  # noqa: E402
from board_rig import SECOND, Board  # noqa: E402
from twin_bleak import Twin, TwinClient, TwinScanner  # noqa: E402
import kaskad_cli  # noqa: E402

ADDRESS = "C8:1D:F5:ED:A8:35"
FLOWS = [  # (what, argv); run in this order on one board
    ("scan (3 s listening, then each board's status read)", ["scan"]),
    ("claim (no --device: 3 s scan)", ["claim"]),
    ("status (listens until both packets are read, 7 s at most)", ["status"]),
    ("set address", ["set", "address", "20109"]),
    ("set poll", ["set", "poll", "30"]),
    ("set name (3 frames)", ["set", "name", "Garage meter with long name"]),
    ("set adv", ["set", "adv", "1000", "3000"]),
    ("bindkey generate (3 frames)", ["bindkey", "generate"]),
    ("bindkey clear", ["bindkey", "clear"]),
    ("owner add (3 frames)", ["owner", "add"]),
    ("owner list", ["owner", "list"]),
    ("owner remove", ["owner", "remove", "1"]),
    ("poll-now", ["poll-now"]),
    ("reboot", ["reboot"]),
]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        keys = os.path.join(tmp, "keys.json")
        board = Board(Path(tmp), "KASKAD_METER_ADDRESS = 20109\n")
        rows = []

        async def flow():
            for what, argv in FLOWS:
                extra = ["--device", ADDRESS] if argv[0] not in ("scan", "claim") else []
                started_v, started_w = _harness.clock().now_ns(), time.perf_counter()
                code = await kaskad_cli.run(["--key-file", keys, "--scan-seconds", "3"] + extra + argv,
                                            io.StringIO(), io.StringIO(), TwinScanner, TwinClient)
                rows.append((what, code, (_harness.clock().now_ns() - started_v) / SECOND,
                             time.perf_counter() - started_w))

        twin = Twin(stop_after_s=None)
        twin.start(flow, at_s=2)
        sys.stdout, real = io.StringIO(), sys.stdout  # the board's console
        try:
            board.run(300)
        finally:
            sys.stdout = real
            twin.close()
        if twin.error is not None:
            raise twin.error
        print("%-58s %4s %10s %9s" % ("flow (kaskad ...)", "exit", "virtual s", "wall s"))
        for what, code, virtual, wall in rows:
            print("%-58s %4d %10.3f %9.3f" % (what, code, virtual, wall))
        print("(every GATT operation costs %d ms of virtual time: one connection event)" % __import__("twin_bleak").ATT_MS)
        return 0 if all(code == 0 for _, code, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
