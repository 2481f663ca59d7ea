"""Runs instead of code.py when the board booted into safe mode (CircuitPython 8.1+; main.c
run_safemode_py(), never for a safe mode the user asked for with the reset button).

A board in a meter cabinet has no one to press reset, and in safe mode code.py never runs. The
reasons it meets unattended: WATCHDOG (the watchdog reset the board while USB power was present:
ports/nordic/supervisor/port.c), NLR_JUMP_FAIL (CircuitPython 10.2.x crashes at the end of a run
while the watchdog runs: see code.py main()), BROWNOUT, HARD_FAULT. For each, reset at once so
code.py runs again; code.py slows a board that keeps restarting (lib/kaskad/restarts.py).
"""

import microcontroller
import supervisor

print("safemode.py: safe mode (%r): resetting to run code.py again" % (supervisor.runtime.safe_mode_reason,))
microcontroller.reset()
