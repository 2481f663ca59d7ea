"""``adafruit_ble.characteristics`` for the VM: ``Characteristic`` keeps its arguments, nothing more."""


class Characteristic:
    BROADCAST = 0x01
    READ = 0x02
    WRITE_NO_RESPONSE = 0x04
    WRITE = 0x08
    NOTIFY = 0x10
    INDICATE = 0x20

    def __init__(self, *, uuid=None, properties=0, read_perm=0x11, write_perm=0x11,
                 max_length=None, fixed_length=False, initial_value=None):
        self.uuid = uuid
        self.properties = properties
        self.read_perm = read_perm
        self.write_perm = write_perm
        self.max_length = max_length
        self.fixed_length = fixed_length
        self.initial_value = initial_value
