"""``adafruit_ble.services`` for the VM: a ``Service`` base class that registers nothing."""


class Service:
    def __init__(self, *, service=None, secondary=False, **initial_values):
        self.bleio_service = service
        self.secondary = secondary
