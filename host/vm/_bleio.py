"""``_bleio`` for the MicroPython VM (tools/vm_run.py puts host/vm on the VM's path; never on the board).

Empty: ``kaskad.gatt`` imports ``_bleio`` and uses it only when ``ConfigService`` is made, and a
VM check builds ``ConfigPort`` over a fake service object, not over ``ConfigService``. The strict
copy of the board's rules is the CPython stand-in, host/circuitpython/_bleio.py.
"""
