"""The twin's supervisor (host/supervisor_loop.py) against the rules of CircuitPython 10.2.1's
main.c, reload.c, safe_mode.c, shared-module/watchdog and ports/nordic/supervisor/port.c, with
small programs of its own in place of the firmware."""

import pytest

import _harness
from supervisor_loop import Life

SETTINGS = "KASKAD_METER_ADDRESS = 20109\n"


def life_of(tmp_path, code, safemode=None):
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS)
    code_py = tmp_path / "code.py"
    code_py.write_text(code)
    safemode_py = None
    if safemode is not None:
        safemode_py = tmp_path / "safemode.py"
        safemode_py.write_text(safemode)
    return Life(str(settings), on_boot=lambda: _harness.set_settings_path(str(settings)),
                code_py=str(code_py), safemode_py=str(safemode_py) if safemode_py else None)


def kinds(life):
    return [(kind, fields) for kind, _, fields in life.events]


def times(life, kind):
    return [round(t, 3) for k, t, _ in life.events if k == kind]


START_WDT_AND_END = """
import microcontroller, watchdog
microcontroller.watchdog.timeout = 5
microcontroller.watchdog.mode = watchdog.WatchDogMode.RESET
"""


@pytest.mark.parametrize("usb_power", [True, False])
def test_a_run_that_ends_normally_with_a_reset_watchdog_crashes_10_2_1(tmp_path, usb_power):
    _harness.set_usb_power(usb_power)
    life = life_of(tmp_path, START_WDT_AND_END)
    life.run(4)
    assert ("reset", {"cause": "software", "safe_mode": "NLR_JUMP_FAIL"}) in kinds(life)
    assert ("safe_mode", {"reason": "NLR_JUMP_FAIL", "text": "CircuitPython core code crashed hard. Whoops!\n"
                          "NLR jump failed. Likely memory corruption."}) in kinds(life)


@pytest.mark.parametrize("usb_power", [True, False])
def test_after_the_fix_it_does_not_crash_but_the_watchdog_bites(tmp_path, usb_power):
    _harness.set_circuitpython(_harness.FIXED)
    _harness.set_usb_power(usb_power)
    life = life_of(tmp_path, START_WDT_AND_END)
    life.run(8)
    assert ("code_done", {"how": "done"}) in kinds(life)
    # set at 1 s (after the 1 s wait at power-on), the 5 s watchdog bites at 6 s
    assert times(life, "reset") == [6.0]
    safe = [f["reason"] for k, f in kinds(life) if k == "safe_mode"]
    assert safe == (["WATCHDOG"] if usb_power else [])  # port.c: safe mode only with VBUS


def test_an_ordinary_exception_leaves_the_watchdog_alone_in_both(tmp_path):
    life = life_of(tmp_path, START_WDT_AND_END + "raise RuntimeError('stop')\n")
    life.run(4)
    assert [k for k, _ in kinds(life)] == ["boot", "traceback", "code_done"]


def test_a_crash_in_safe_mode_hangs_the_board_until_the_watchdog(tmp_path):
    life = life_of(tmp_path, START_WDT_AND_END, safemode=START_WDT_AND_END)
    life.run(20)
    seen = [k for k, _ in kinds(life)]
    # code.py's end crashes (NLR) -> safe mode -> safemode.py's end crashes again: hang; the
    # watchdog it started bites 5 s later -> safe mode WATCHDOG (USB) -> and so on
    assert seen[:6] == ["boot", "reset", "boot", "safe_mode", "hang", "reset"]
    assert ("reset", {"cause": "watchdog", "safe_mode": None}) in kinds(life)


WAIT = "import time\nwhile True:\n    time.sleep(0.05)\n"


def test_writes_to_the_drive_reload_750_ms_after_the_last(tmp_path):
    life = life_of(tmp_path, WAIT)
    life.edit_settings(3, SETTINGS)
    life.edit_settings(3.5, SETTINGS)  # within the delay: the wait starts again
    life.run(6)
    assert [f["how"] for k, f in kinds(life) if k == "code_done"] == ["reload"]
    assert times(life, "code_done") == [3.0] and times(life, "reload") == [4.25]


def test_autoreload_off_ignores_writes(tmp_path):
    life = life_of(tmp_path, "import supervisor\nsupervisor.runtime.autoreload = False\n" + WAIT)
    life.edit_settings(3, SETTINGS)
    life.run(6)
    assert times(life, "reload") == []


def test_no_usb_no_console_no_drive(tmp_path):
    _harness.set_usb_power(False)
    life = life_of(tmp_path, WAIT)
    life.edit_settings(3, SETTINGS)
    life.type_keys(4, "\x03")
    life.run(6)
    assert [k for k, _ in kinds(life)] == ["boot"]


def test_an_error_in_safemode_py_keeps_the_board_in_safe_mode(tmp_path):
    _harness.set_circuitpython(_harness.FIXED)
    life = life_of(tmp_path, START_WDT_AND_END, safemode="raise ValueError('oops')\n")
    life.edit_settings(9, SETTINGS)  # autoreload is off in safe mode
    life.run(12)
    assert [f["reason"] for k, f in kinds(life) if k == "safe_mode"] == ["WATCHDOG"]
    assert [k for k, _ in kinds(life)][-2:] == ["safe_mode", "traceback"]
    assert _harness.safe_mode_reason() == "SAFEMODE_PY_ERROR"
