"""What the board puts on air, for the Home Assistant tests: the unchanged code.py on the twin
(host/board_rig.py) against the simulated meter, in virtual time. Run as a script in its own
process (the twin puts the CircuitPython stand-ins first on sys.path, which must not shadow
anything in Home Assistant's process); prints one JSON document.

    python tests_ha/air.py SCENARIO TMPDIR      (writes TMPDIR/air.json; the console goes to stdout)

Scenarios: "plain" and "encrypted" (bindkey KEY): one boot of 130 s, the meter answers, falls
silent at SILENT_FROM_S, answers again at SILENT_UNTIL_S; then a reboot (a new boot with the same
NVM and meter, 1 s later) of 30 s, the meter's voltage changed to REBOOT_VOLTAGE_CV.
"mercury-206": a Mercury-206 (KASKAD_METER = "mercury-206", its serial as the address), plain,
one boot of MERCURY_S, answering all along.
"""
import json
import os
import pathlib
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "host"), os.path.join(ROOT, "lib"), os.path.join(ROOT, "host", "circuitpython"),
                os.path.join(ROOT, ".venv-ha", "board-lib")]  # adafruit_ble, as make venv-ha installs it

from board_rig import Board  # noqa: E402
from kaskad_sim.meter import SimMeter  # noqa: E402

KEY = "231d39c1d7cc1ab1aee224cd096db932"
POLL_S = 10
MAX_AGE_S = 20
SILENT_FROM_S = 32  # just after the poll at 30 s: the worst case for noticing
SILENT_UNTIL_S = 95
FIRST_BOOT_S = 130
REBOOT_GAP_S = 1  # reset to the new code.py's first instruction
SECOND_BOOT_S = 30
# the meter: seal of the terminal cover broken (P1), battery 150 of 192 months
FLAGS_A = 0x02
REBOOT_VOLTAGE_CV = 23456  # the meter's voltage after the reboot
MERCURY_SERIAL = 36896545
MERCURY_S = 70


def settings(scenario):
    text = ("KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = %d\nKASKAD_MAX_AGE_SECONDS = %d\n"
            % (POLL_S, MAX_AGE_S))
    if scenario == "encrypted":
        text += 'KASKAD_BINDKEY = "%s"\n' % KEY
    return text


def mercury(tmp):
    from kaskad_sim.mercury_206 import SimMercury206

    meter = SimMercury206(serial=MERCURY_SERIAL, tariffs_raw=(123456, 7890, 3, 0))
    board = Board(pathlib.Path(tmp), 'KASKAD_METER = "mercury-206"\nKASKAD_METER_ADDRESS = %d\n'
                  'KASKAD_POLL_SECONDS = %d\n' % (MERCURY_SERIAL, POLL_S), meter)
    board.run(MERCURY_S)
    truth = {  # the document's units (host/kaskad_sim/mercury_206.py): 10 Wh, 0.1 V, 10 mA, W
        "energy_wh": [raw * 10 for raw in meter.tariffs_raw[:3]], "voltage_cv": meter.voltage_raw * 10,
        "current_ma": meter.current_raw * 10, "power_cw": meter.power_w * 100, "serial": str(meter.serial),
        "made": "%02d%02d%04d" % tuple(reversed(meter.released)), "forbidden": len(meter.forbidden),
    }
    with open(os.path.join(tmp, "air.json"), "w") as out:
        json.dump({"runs": [{"start_s": 0, "events": _events(board)}], "truth": truth, "address": _address()}, out)


def main(scenario, tmp):
    if scenario == "mercury-206":
        return mercury(tmp)
    meter = SimMeter(address=20109, flags_a=FLAGS_A)
    board = Board(pathlib.Path(tmp), settings(scenario), meter)

    def silence():
        yield SILENT_FROM_S * 1000
        meter.persistent_fault = "silent"
        yield (SILENT_UNTIL_S - SILENT_FROM_S) * 1000
        meter.persistent_fault = None
        yield 10**9

    board.run(FIRST_BOOT_S, silence())
    runs = [{"start_s": 0, "events": _events(board)}]
    voltage_cv = meter.voltage_raw
    meter.voltage_raw = REBOOT_VOLTAGE_CV  # so HA shows whether the first packets after it are taken
    board.run(SECOND_BOOT_S)
    runs.append({"start_s": FIRST_BOOT_S + REBOOT_GAP_S, "events": _events(board)})
    wh = 10 ** (3 - meter.decimals)
    truth = {
        "energy_wh": [raw * wh for raw in meter.tariffs_raw[:3]],
        "voltage_cv": voltage_cv, "reboot_voltage_cv": meter.voltage_raw,
        "current_ma": meter.current_raw,
        "power_cw": meter.power_raw * 10 ** (5 - meter.decimals),
        "battery_months": [meter.battery_remaining_months, meter.battery_total_months],
        "serial": meter.serial, "made": meter.made, "flags_a": meter.flags_a, "flags_b": meter.flags_b,
    }
    with open(os.path.join(tmp, "air.json"), "w") as out:
        json.dump({"runs": runs, "truth": truth, "address": _address()}, out)


def _events(board):
    return [[t_ns / 1e9, adv.hex(), scan.hex(), connectable] for t_ns, adv, scan, extended, connectable
            in board.events if not extended]


def _address():
    import _harness
    return _harness.ble_address()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
