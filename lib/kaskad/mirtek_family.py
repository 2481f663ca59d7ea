"""KASKAD-1-MT (MIRTEK) behind the family interface of kaskad.meters, until the driver itself
moves into kaskad.meters.kaskad_1_mt (branch mirtek-family); then this file goes.

It adapts kaskad.meter.MeterClient: each poll copies the client's MIRTEK-shaped reading into the
neutral kaskad.reading.Reading (flags by meaning, the date of manufacture as YYYY-MM-DD).
"""

from kaskad import meter as mirtek_meter
from kaskad import reading as fields
from kaskad.config import METER_FLAG_BITS
from kaskad.link import OpticalLink
from kaskad.mirtek import GENERATION_NAMES, LAST_METER_ADDRESS

NAME = "kaskad-1-mt"
BAUD = 9600
ADDRESS_MIN = 1
ADDRESS_MAX = LAST_METER_ADDRESS
ADDRESS_MEANS = "the ID on the meter's display (ID-xxxxx)"

_KNOWN = 0
for _flag, _byte, _bit in METER_FLAG_BITS:  # the owner protocol's layout is MIRTEK's
    _KNOWN |= _flag


class Meter:
    def __init__(self, link, clock, address, report):
        # the old client has its own link: built on the same UART with the family link's timing
        old = OpticalLink(link._uart, clock, BAUD, retries=link.retries)
        old.char_us = link.char_us
        old.reply_timeout_us = link.reply_timeout_us
        self._client = mirtek_meter.MeterClient(old, clock, address, report)
        self._clock = clock

    @property
    def address(self):
        return self._client.address

    @address.setter
    def address(self, value):
        self._client.address = value

    @property
    def progress(self):
        return self._client.progress

    @progress.setter
    def progress(self, value):
        self._client.progress = value

    def identify(self, reading):
        return self.poll(reading)

    def poll(self, reading):
        ok = self._client.poll()
        old = self._client.reading
        for field in range(mirtek_meter.FIELD_COUNT):
            if old.confirmed_ms[field] is not None:
                reading.set(field, old.values[field], old.confirmed_ms[field])
        if old.flags_ms is not None and old.flags_a is not None and old.flags_b is not None:
            flags = 0
            for flag, byte, bit in METER_FLAG_BITS:
                if (old.flags_a if byte == 1 else old.flags_b) >> bit & 1:
                    flags |= flag
            reading.set_flags(flags, _KNOWN, old.flags_ms)
        reading.model = "KASKAD-1-MT (%s)" % (GENERATION_NAMES[old.generation] or "?")
        reading.serial = old.serial
        made = old.made  # "DD.MM.YYYY"
        reading.made = None if made is None or len(made) != 10 else made[6:] + "-" + made[3:5] + "-" + made[:2]
        reading.firmware_version = old.firmware_version
        reading.ok = ok
        return ok
