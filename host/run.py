"""Run the firmware on this PC: the board's unchanged code.py against a simulated meter (or a real
meter on a serial port), in real time.

    python host/run.py [--meter FAMILY] [--serial PORT] [--seconds N] [--settings FILE] [--nvm FILE] [--json]

--meter picks the simulated meter family (kaskad_sim/families.py: kaskad-1-mt, kaskad-11-c1,
mercury-206, ce-102m); without it, the family the settings file names (KASKAD_METER), else
kaskad-1-mt. The board's settings.toml is the file given, plus ``KASKAD_METER = "<family>"`` when
the file names no family, so the firmware reads the meter on the wire. When the file names
another family, the file wins: the firmware's setting is the truth and the simulated meter is what
is on the wire, so the board reads nothing (as a board set for the wrong meter would); the runner
says so once. The simulated meter answers at the address the settings name when it is one the
family has (else its default: 20109, Mercury-206's serial 36896545; the CE-102M has none) and
talks the family's line (2400 8N1, 9600 8N1, 9600 7E1) in virtual time.
The board lives as it would (host/supervisor_loop.py): edit the settings file while this runs and
the board reloads and reads it again; resets, safe mode (with its reason) and reloads are shown.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402

boot.add_paths()

import _harness  # noqa: E402
import supervisor  # noqa: E402
from kaskad import console  # noqa: E402
from kaskad_sim.families import FAMILIES, build_meter, family  # noqa: E402
from kaskad_sim.wire import SimWire  # noqa: E402
from supervisor_loop import Life  # noqa: E402

DEFAULT_FAMILY = "kaskad-1-mt"  # the firmware's default (kaskad.settings.DEFAULT_FAMILY)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meter", metavar="FAMILY", choices=sorted(FAMILIES),
                        help="the simulated meter family: %s" % ", ".join(sorted(FAMILIES)))
    parser.add_argument("--serial", metavar="PORT", help="the meter is on this serial port (a USB optical probe or a pty)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--settings", metavar="FILE", default=os.path.join(boot.ROOT, "settings.toml"),
                        help="use FILE as the board's settings.toml")
    parser.add_argument("--nvm", metavar="FILE", help="keep the board's NVM in FILE across runs")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    return parser.parse_args(argv)


NVM_BYTES = 8192  # the Feather nRF52840 Express's microcontroller.nvm (host/circuitpython/nvm.py)


def option_problem(args):
    """What is wrong with the options, as one line for the user, or None.

    Checked before the board boots: a bad path would otherwise end in a traceback, or in a
    board that fails its boot and resets every 30 s.
    """
    if args.seconds is not None and not 0 < args.seconds < float("inf"):
        return "--seconds %s: give a number of seconds above 0" % args.seconds
    if not os.path.exists(args.settings):
        return "--settings %s: no such file" % args.settings
    if not os.path.isfile(args.settings):
        return "--settings %s: not a file" % args.settings
    if not os.access(args.settings, os.R_OK):
        return "--settings %s: cannot be read (permissions)" % args.settings
    if args.nvm is not None:
        problem = nvm_problem(args.nvm)
        if problem:
            return "--nvm %s: %s" % (args.nvm, problem)
    if args.serial is not None:
        problem = serial_problem(args.serial)
        if problem:
            return "--serial %s: %s" % (args.serial, problem)
    return None


def nvm_problem(path):
    if os.path.isdir(path):
        return "is a folder; give a file (it is made, erased, if missing)"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return "the folder %s does not exist" % folder
    if not os.path.exists(path):
        return None if os.access(folder, os.W_OK) else "cannot be made in %s (permissions)" % folder
    if not os.path.isfile(path):
        return "is not a regular file"
    size = os.path.getsize(path)
    if size != NVM_BYTES:
        return ("holds %d bytes, but the board's NVM is %d bytes (a truncated or foreign file?): "
                "give another file, or delete this one to start erased" % (size, NVM_BYTES))
    if not os.access(path, os.R_OK | os.W_OK):
        return "cannot be read and written (permissions)"
    return None


def serial_problem(path):
    if not os.path.exists(path):
        return "no such serial port (a USB probe shows up as /dev/ttyUSB0 or /dev/ttyACM0)"
    try:
        import serial  # type: ignore[import-untyped]

        port = serial.Serial(path, baudrate=9600, timeout=0)
    except (OSError, ValueError, ImportError) as error:  # serial.SerialException is an OSError
        return "is not a serial port that can be opened (%s)" % (str(error).splitlines() or [error])[0]
    port.close()
    return None


def setting(name):
    """A value from the settings file as the board would read it, for wiring the simulation."""
    try:
        return supervisor.get_setting(name)
    except ValueError:
        return None


def board_settings(args):
    """The file the board reads as settings.toml: the user's, with the simulated family named
    when the user's names none (a copy, remade at every boot, so edits to the user's file count)."""
    _harness.set_settings_path(args.settings)
    if setting("KASKAD_METER") is not None:
        return args.settings
    with open(args.settings, "rb") as user:
        text = user.read()
    if text and not text.endswith(b"\n"):
        text += b"\n"
    with open(args.drive_settings, "wb") as drive:
        drive.write(text + b'KASKAD_METER = "%s"\n' % args.meter.encode())
    return args.drive_settings


def choose_family(args, report):
    """The simulated family: --meter, else the settings file's KASKAD_METER when the simulation has
    it, else the default; a disagreement with the file is said (the file wins on the board)."""
    named = setting("KASKAD_METER")
    if args.meter is None:
        args.meter = named if named in FAMILIES else DEFAULT_FAMILY
    elif named is not None and named != args.meter:
        report("run.py: settings.toml says KASKAD_METER = %r but --meter %s is on the wire: the firmware "
               "follows its settings, so it will not read this meter" % (named, args.meter))
    return family(args.meter)


def sim_address(fam):
    """The settings' address when the family has one and it is in the simulation's range."""
    if fam.address_keyword is None:
        return None
    from kaskad import meters

    firmware = meters.load(fam.name)  # the range the firmware accepts for this family
    address = setting("KASKAD_METER_ADDRESS")
    ok = isinstance(address, int) and firmware.ADDRESS_MIN <= address <= firmware.ADDRESS_MAX
    return address if ok else None


def show_home_assistant(json_sink):
    """Print what Home Assistant's own BTHome parser makes of each advertisement put on air,
    with the bindkey from the settings typed into it."""
    from ha_view import HomeAssistantView

    key = setting("KASKAD_BINDKEY")
    try:
        bindkey = bytes.fromhex(key) if isinstance(key, str) and len(key) == 32 else None
    except ValueError:
        bindkey = None
    view = HomeAssistantView(bindkey)
    address = _harness.ble_address()

    def on_air(entry):
        t_ns, adv, scan, _extended, connectable = entry
        values = view.receive(adv, scan, address, t_ns / 1e9, connectable)
        if json_sink is not None:
            json_sink.advert(t_ns / 1e9, adv, scan, address, values)
        elif values:
            shown = ", ".join("%s %s" % (k, v) for k, v in sorted(values.items()) if k != "packet_id")
            print("%.1f s Home Assistant (%s): %s" % (t_ns / 1e9, view.title(address), shown or "nothing new"))

    _harness.on_ble_advertise(on_air)


def wire_board(args, fam, meter, sink):
    """After power-on, each reset and each reload: the settings file as the drive's
    settings.toml, the NVM file, the meter (simulated, or the serial port) and Home Assistant."""
    _harness.set_settings_path(board_settings(args))
    _harness.set_nvm_file(args.nvm)
    tx = setting("KASKAD_UART_TX")
    rx = setting("KASKAD_UART_RX")
    tx = tx if isinstance(tx, str) else "TX"
    rx = rx if isinstance(rx, str) else "RX"
    if args.serial:
        _harness.attach_serial(args.serial)
    else:
        _harness.attach_far_end(tx, rx, SimWire(meter, **fam.wire_settings()))
    show_home_assistant(sink)


def show_supervisor(json_sink):
    """What the board's supervisor does between runs of code.py, as the runner shows it: a text
    line, or with --json a ``safe_mode`` line (safe mode and its reason) or a ``supervisor`` line
    (anything else: reset, reload, code.py's end, safemode.py's output, the REPL)."""
    texts = {
        "reload": lambda f: "reload (%s): code.py starts again" % f["run_reason"],
        "reset": lambda f: "board reset (%s%s)" % (f["cause"], ", into safe mode " + f["safe_mode"]
                                                  if f["safe_mode"] else ""),
        "code_done": lambda f: "code.py ended (%s)" % f["how"],
        "traceback": lambda f: f["text"],
        "output": lambda f: "%s: %s" % (f["file"], f["text"]),
        "repl": lambda f: "REPL",
        "hang": lambda f: "the board hangs (a crash in safe mode) until the watchdog or power ends it",
    }

    def on_event(kind, t_s, fields):
        if kind == "boot":
            return
        if json_sink is not None:
            if kind == "safe_mode":
                json_sink.safe_mode(t_s, fields["reason"], fields["text"])
            else:
                json_sink.supervisor(t_s, kind, fields)
        elif kind == "safe_mode":
            print("%s SAFE MODE (%s): %s" % (console.uptime(int(t_s * 1000)), fields["reason"],
                                             fields["text"].replace("\n", " ")), flush=True)
        else:
            print("%s --- %s ---" % (console.uptime(int(t_s * 1000)), texts[kind](fields)), flush=True)
    return on_event


def stop_on_interrupt(life):
    """Ctrl-C on the PC ends the runner (not the simulated board's Ctrl-C): the clock stops."""
    import signal

    def stop(signum, frame):
        if life.clock is not None:
            life.clock.stop_at_ns = life.clock.now_ns()
    signal.signal(signal.SIGINT, stop)


def main(argv=None):
    args = parse_args(argv)
    problem = option_problem(args)
    if problem:
        print("run.py: %s" % problem, file=sys.stderr)
        return 2
    if args.nvm is None:  # a reset keeps the NVM, as on the board: keep it in a file for this run
        import tempfile

        scratch = tempfile.NamedTemporaryFile(prefix="kaskad-nvm-", suffix=".bin", delete=False)
        scratch.close()
        os.unlink(scratch.name)
        args.nvm = scratch.name
    _harness.reset(realtime=True)
    _harness.set_settings_path(args.settings)
    fam = choose_family(args, lambda line: print(line, file=sys.stderr))
    meter = build_meter(fam.name, sim_address(fam))
    import shutil
    import tempfile

    drive = tempfile.mkdtemp(prefix="kaskad-drive-")
    args.drive_settings = os.path.join(drive, "settings.toml")
    sink = None
    if args.json:
        from json_console import JsonSink

        sink = JsonSink()
        console.set_sink(sink)
    life = Life(args.settings, on_boot=lambda: wire_board(args, fam, meter, sink),
                on_event=show_supervisor(sink), realtime=True, watch_settings=True)
    stop_on_interrupt(life)
    try:
        life.run(args.seconds if args.seconds is not None else 10 ** 9)
    finally:
        shutil.rmtree(drive, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
