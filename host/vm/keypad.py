"""``keypad`` for the MicroPython VM (tools/vm_run.py puts host/vm on the VM's path; never on the board).

Only what ``kaskad.button`` needs: an ``Event`` to fill (``key_number``, ``pressed``,
``released``, ``timestamp``), as ``EventQueue.get_into`` does on the board. No ``Keys`` and no
``EventQueue``: a VM check gives ``Button`` a fake queue. The strict copy of the board's rules
is the CPython stand-in, host/circuitpython/keypad.py.
"""


class Event:
    def __init__(self, key_number=0, pressed=True, timestamp=None):
        if key_number < 0:
            raise ValueError("key_number must be >= 0")
        self.key_number = key_number
        self.pressed = bool(pressed)
        self.timestamp = 0 if timestamp is None else timestamp % (1 << 29)

    @property
    def released(self):
        return not self.pressed
