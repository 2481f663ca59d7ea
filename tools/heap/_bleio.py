"""The names the real adafruit_ble (10.1.5) reads from ``_bleio`` while it is imported and while
kaskad.gatt defines its service, for the heap probe (tools/heap_table.py) on the MicroPython VMs.

On the board ``_bleio`` is C (ports/nordic/common-hal/_bleio and shared-bindings/_bleio in
CircuitPython): its objects live outside the Python code's import cost, so this stub is kept tiny
(constants are small ints; the classes hold nothing) and is the only non-firmware module the probe
imports besides the check_loop fakes. Never on the board, never on the checks' path.
"""

adapter = None


class Attribute:  # shared-bindings/_bleio/Attribute.c: security modes
    NO_ACCESS = 0x00
    OPEN = 0x11
    ENCRYPT_NO_MITM = 0x21
    ENCRYPT_WITH_MITM = 0x31
    LESC_ENCRYPT_WITH_MITM = 0x41
    SIGNED_NO_MITM = 0x12
    SIGNED_WITH_MITM = 0x22


class Characteristic:  # shared-bindings/_bleio/Characteristic.c: property bits
    BROADCAST = 0x01
    READ = 0x02
    WRITE_NO_RESPONSE = 0x04
    WRITE = 0x08
    NOTIFY = 0x10
    INDICATE = 0x20


class UUID:
    def __init__(self, value):
        self.value = value


class Adapter:
    pass


class Address:
    pass


class Connection:
    pass


class ScanEntry:
    pass


class Service:
    pass


class CharacteristicBuffer:
    pass
