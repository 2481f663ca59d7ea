"""The longest public status fits its characteristic (issue 9, done-when f).

The longest status is built from the format's own maxima -- every argument of config.status at
its largest, every text far longer than any meter sends -- so a field added to the status later
is counted too; it is then written into the strict _bleio characteristic of gatt.ConfigService
(which refuses a value over max_length, shared-bindings/_bleio/Characteristic.c) and read back
whole by a central at the default ATT MTU.
"""
import _bleio
import _harness

from kaskad import config
from kaskad_client import STATUS_UUID


def longest_status():
    return config.status(b"\xff" * config.CHALLENGE_LEN, (255, 255, 255), True, True, True, 65534,
                         255, 86400, 255, "9" * 200, "9" * 200)


def test_the_longest_status_fits_the_characteristic_and_reads_back_whole():
    _bleio.adapter.enabled = True  # as code.py leaves it; gatt's UUIDs need the radio on
    from kaskad import gatt

    status = longest_status()
    assert len(status) <= gatt.STATUS_MAX
    service = gatt.ConfigService()
    service.status = status  # the strict characteristic raises past max_length
    _bleio.adapter.start_advertising(b"\x02\x01\x06")
    central = _harness.ble_central()
    central.connect()
    assert central.read(STATUS_UUID) == status
