"""``adafruit_ble.uuid`` for the VM: ``VendorUUID`` keeps its text, checked for the 128-bit form."""


class VendorUUID:
    def __init__(self, uuid):
        text = uuid.replace("-", "")
        if len(text) != 32:
            raise ValueError("a 128-bit UUID has 32 hex digits")
        self.uuid = uuid

    def __eq__(self, other):
        return isinstance(other, VendorUUID) and other.uuid == self.uuid

    def __str__(self):
        return self.uuid
