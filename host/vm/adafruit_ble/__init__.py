"""Just enough of ``adafruit_ble`` for ``kaskad.gatt`` to import on the MicroPython VM.

tools/vm_run.py puts host/vm on the VM's path; never on the board (the board has the real library,
and the CPython tests use the real one over the ``_bleio`` stand-in). Only the names gatt.py
imports exist: ``attributes.Attribute``, ``characteristics.Characteristic``,
``characteristics.stream.StreamIn``, ``services.Service``, ``uuid.VendorUUID``. They hold what
they are given and do nothing else: no GATT table, no radio. A VM check builds ``ConfigPort``
over a fake service object, not over ``ConfigService``.
"""
