"""A simulated board on a test bench: the stand-in UART on TX/RX, the independent meter model at the
other end of the optical path, the firmware's clock on the virtual time module, and the
KASKAD-1-MT family's client (kaskad.meters.kaskad_1_mt) on the meters' link, writing into a
kaskad.reading.Reading as the firmware's owner of the reading does."""

import _cptime
import _harness
import board
import busio

from kaskad.clock import Clock
from kaskad.meters import kaskad_1_mt
from kaskad.meters.link import ByteLink
from kaskad.reading import Reading
from kaskad_sim.frame import decode_frame, split_frames
from kaskad_sim.meter import SimMeter
from kaskad_sim.wire import SimWire

BAUD = kaskad_1_mt.BAUD
CHAR_NS = 10 * 1_000_000_000 // BAUD


class Rig:
    def __init__(self, echo=True, retries=2, reply_timeout_ms=1000, meter_class=SimMeter, **meter_state):
        self.vclock = _harness.reset()
        meter_state.setdefault("address", 20109)
        self.meter = meter_class(**meter_state)
        self.wire = SimWire(self.meter, baudrate=BAUD, echo=echo)
        _harness.attach_far_end("TX", "RX", self.wire)
        self.uart = busio.UART(board.TX, board.RX, baudrate=BAUD, timeout=0, receiver_buffer_size=256)
        self.clock = Clock(_cptime)
        self.link = ByteLink(self.uart, self.clock, BAUD, reply_timeout_ms, retries=retries)
        self.errors = []
        self.client = kaskad_1_mt.Meter(self.link, self.clock, self.meter.address, self.errors.append)
        self.reading = Reading()

    def poll(self):
        return self.client.poll(self.reading)

    def readdress(self, address):
        """The owner's part of an address change: the client is told, the old values forgotten."""
        self.client.address = address
        self.reading.forget()

    def sent_commands(self):
        """Every request that left the board, decoded independently of the firmware: (dst, command, data)."""
        stream = b"".join(data for _, data in self.wire.tx_log)
        out = []
        for frame in split_frames(stream):
            decoded = decode_frame(frame)
            out.append((decoded.dst, decoded.command, bytes(decoded.data)))
        return out


def family_meter(rig, config):
    """(meter, make_meter) as code.py builds them for ``config`` on the rig's UART: the family's
    Meter on a kaskad.meters.link.ByteLink (meter None while a needed address is missing)."""
    from kaskad import settings
    from kaskad.meters.link import ByteLink

    link = ByteLink(rig.uart, rig.clock, config.baud, config.reply_timeout_ms, retries=config.retries)

    def make_meter(address):
        return config.family.Meter(link, rig.clock, address, rig.errors.append)

    if config.meter_address is None and settings.address_needed(config.family):
        return None, make_meter
    return make_meter(config.meter_address), make_meter


def expected_from(sim):
    """What the model's registers mean in the firmware's units, by the document's rules, per field."""
    scale_wh = 10 ** (3 - sim.decimals)  # raw / 10^d kWh
    tariffs = [raw * scale_wh for raw in sim.tariffs_raw]
    total = sum(sim.tariffs_raw[: sim.tariffs_in_use]) * scale_wh
    pct = (sim.battery_remaining_months * 100 * 2 + sim.battery_total_months) // (2 * sim.battery_total_months)
    if sim.generation == "old":
        power = sim.power_raw * 10 ** (5 - sim.decimals)  # raw / 10^d kW in 0.01 W
    elif sim.generation == "new":
        power = sim.power_raw * 100  # W in 0.01 W
    else:
        power = None  # transitional 0x2B power has no stated unit: not published
    return tariffs + [total, sim.voltage_raw, sim.current_raw, power, pct]


def expected_reading(sim):
    """expected_from per field of kaskad.reading: the KASKAD-1-MT never gives apparent power."""
    return expected_from(sim) + [None]
