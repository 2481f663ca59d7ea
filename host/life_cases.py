"""How each case of the board's life ends, against CircuitPython 10.2.1 and the behaviour after
PR #11295: the unchanged code.py and safemode.py under the twin's supervisor, in virtual time.
Prints one table row per case and version (`make life`; tests/test_life.py asserts the same
cases).

    python host/life_cases.py
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402

boot.add_paths()

import _harness  # noqa: E402
from board_rig import Board  # noqa: E402
from kaskad import console  # noqa: E402

BASE = "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 10\n"
KEY = "231d39c1d7cc1ab1aee224cd096db932"


class Readings:
    """A console sink that keeps the times of good readings and of error lines."""

    def __init__(self):
        self.good = []
        self.errors = []

    def reading(self, uptime_ms, now_ms, reading, max_age_ms, fields):
        if reading.ok:
            self.good.append(uptime_ms / 1000)

    def error(self, uptime_ms, what):
        self.errors.append((uptime_ms / 1000, what))

    def info(self, uptime_ms, text):
        pass


def hang_led_stage(when):
    """App._led_stage hangs (no exception) once ``when(app)`` says so."""
    from kaskad.app import App
    real = App._led_stage

    def led_stage(self):
        if when(self):
            while True:
                self.clock.sleep_ms(1000)
        return real(self)
    App._led_stage = led_stage
    return lambda: setattr(App, "_led_stage", real)


def case_edits(life):
    for at, n in ((20, 1), (35, 2), (50, 3)):
        life.edit_settings(at, BASE.replace("10\n", "%d\n" % (10 * n)))
    return 50, 65, None


def case_hang(usb):
    def setup(life):
        _harness.set_usb_power(usb)
        hung = {"done": False}

        def when(app):
            if not hung["done"] and app.clock.uptime_ms() > 30000:
                hung["done"] = True
                return True
            return False
        return 30, 150, hang_led_stage(when)
    return setup


def case_boot_fails(life):
    import busio
    real = busio.UART
    left = {"n": 0}

    def uart(*args, **kwargs):
        if left["n"]:
            left["n"] -= 1
            raise RuntimeError("injected boot failure")
        return real(*args, **kwargs)
    busio.UART = uart
    life.at(5, lambda: left.update(n=2))
    life.edit_settings(6, BASE)
    return 6, 120, lambda: setattr(busio, "UART", real)


def case_keys(*typed):
    def setup(life):
        for at, keys in typed:
            life.type_keys(at, keys)
        return typed[-1][0], 120, None
    return setup


def case_nvm_fails(life):
    life.at(0.5, lambda: _harness.nvm_fail_next(1))
    return 0.5, 30, None


def case_storm(life):
    return 0, 900, hang_led_stage(lambda app: True)


CASES = [
    ("three edits of settings.toml (USB)", case_edits, BASE),
    ("a hung loop, USB power", case_hang(True), BASE),
    ("a hung loop, battery", case_hang(False), BASE),
    ("two failed boots, watchdog running", case_boot_fails, BASE),
    ("Ctrl-C, then Ctrl-D", case_keys((15, "\x03"), (30, "\x04")), BASE),
    ("Ctrl-C, a key (REPL), nothing more", case_keys((15, "\x03"), (16, "x")), BASE),
    ("Ctrl-C, a key (REPL), Ctrl-D", case_keys((15, "\x03"), (16, "x"), (20, "\x04")), BASE),
    ("an NVM write fails in a poll (encrypted)", case_nvm_fails, BASE + 'KASKAD_BINDKEY = "%s"\n' % KEY),
    ("a loop that hangs in every run, 15 min", case_storm, BASE),
]


def summary(life):
    """The supervisor's events, shortened: reset causes, safe mode reasons, reloads, the REPL."""
    out = []
    for kind, t_s, fields in life.events:
        if kind == "reset":
            out.append("reset(%s)" % fields["cause"])
        elif kind == "safe_mode":
            out.append("SAFE MODE %s" % fields["reason"])
        elif kind == "reload":
            out.append("reload")
        elif kind in ("repl", "hang"):
            out.append(kind)
    if len(out) > 8:
        out = out[:6] + ["... %d more" % (len(out) - 6)]
    return ", ".join(out) or "nothing"


def run_case(setup, settings, version):
    _harness.set_usb_power(True)
    _harness.set_circuitpython(version)
    with tempfile.TemporaryDirectory() as tmp:
        board = Board(Path(tmp), settings)
        life = board.life()
        since, seconds, undo = setup(life)
        readings = Readings()
        console.set_sink(readings)
        try:
            life.run(seconds)
        finally:
            console.set_sink(console.TextSink())
            if undo is not None:
                undo()
    boots = sum(1 for kind, _, f in life.events if kind == "boot" and f["safe_mode"] is None)
    back = [t for t in readings.good if t > since]
    failed_nvm = [what for _, what in readings.errors if "Unable to write to nvm." in what]
    return summary(life), (back[0] - since) if back else None, boots, len(failed_nvm)


def main():
    print("| case | CircuitPython | what the supervisor did | first good reading after | boots not in safe mode |")
    print("|---|---|---|---|---|")
    for name, setup, settings in CASES:
        for version in (_harness.V10_2_1, _harness.FIXED):
            what, back, boots, nvm_errors = run_case(setup, settings, version)
            if nvm_errors:
                what += "; %d NVM write reported" % nvm_errors
            print("| %s | %s | %s | %s | %d |" % (name, version, what,
                                                  "%.1f s" % back if back is not None else "none", boots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
