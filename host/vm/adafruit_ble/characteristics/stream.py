"""``adafruit_ble.characteristics.stream`` for the VM: ``StreamIn`` keeps its arguments, nothing more."""

from adafruit_ble.characteristics import Characteristic


class StreamIn(Characteristic):
    def __init__(self, *, uuid=None, timeout=1.0, buffer_size=64, properties=0x0C, write_perm=0x11):
        super().__init__(uuid=uuid, properties=properties, read_perm=0x00, write_perm=write_perm)
        self.timeout = timeout
        self.buffer_size = buffer_size
