# Runs on the MicroPython VM: a whole poll of the KASKAD-1-MT family's client through the meters'
# link, with a scripted UART that answers each request with a reply built here, and a counting clock.
from kaskad.clock import Clock
from kaskad.meters import kaskad_1_mt
from kaskad.meters.kaskad_1_mt import frame as mirtek
from kaskad.meters.link import ByteLink
from kaskad.reading import Reading, ENERGY_T1, TOTAL, VOLTAGE, CURRENT, POWER, BATTERY, FLAG_SEAL_CASE_OPEN

ADDRESS = 20109


class FakeTime:
    def __init__(self):
        self.ns = 0

    def monotonic_ns(self):
        return self.ns

    def sleep(self, seconds):
        self.ns += int(seconds * 1000000000)

    def ticks_ms(self):  # supervisor.ticks_ms: ms wrapping at 2**29, 65 536 ms before the first wrap
        return (self.ns // 1000000 + (1 << 29) - 0x10000) % (1 << 29)


def reply(command, data, role=0x30, error=0):
    body = bytearray([len(data), 0, 0xFF, 0xFF, ADDRESS & 0xFF, ADDRESS >> 8, command, role, 0x04, 0, error])
    body.extend(data)
    body.append(mirtek.crc8(body))
    out = bytearray(b"\x73\x55")
    for value in body:
        if value == 0x55:
            out.extend(b"\x73\x11")
        elif value == 0x73:
            out.extend(b"\x73\x22")
        else:
            out.append(value)
    out.append(0x55)
    return bytes(out)


def ascii30(text):
    return text.encode() + bytes(30 - len(text))


ANSWERS = {
    (0x01, b""): reply(0x01, b"\x34\x12" + bytes([ADDRESS & 0xFF, ADDRESS >> 8])),
    (0x0A, b"\x01"): reply(0x0A, b"\x01" + ascii30("3171112520109")),
    (0x0A, b"\x02"): reply(0x0A, b"\x02" + ascii30("04.10.2017")),
    (0x05, b""): reply(0x05, bytes([0xD8, 0xE1, 0x02, 0x00, 0x92, 0x0A, 0x30, 0x01, 0x00, 0x00,
                                   0x40, 0xE2, 0x01, 0x00, 0x98, 0xFF, 0x00, 0x00]) + bytes(8)),
    (0x1E, b""): reply(0x1E, b"\x78\x3c"),
    (0x29, b"\x01"): reply(0x29, b"\x01\xcb\x59"),
    (0x2D, b""): reply(0x2D, b"\x5a\x00\x00\x92\x0a"),
    (0x2C, b"\x01"): reply(0x2C, b"\x01\xe1\x10"),
}


class ScriptedUart:
    """Hears a request (its echo comes back first, as on the optical head) and answers it."""

    def __init__(self, time):
        self.time = time
        self.timeout = 1
        self.pending = b""
        self.sent = []

    def reset_input_buffer(self):
        self.pending = b""

    def write(self, buf):
        frame = bytes(buf)
        self.sent.append(frame)
        self.time.ns += len(frame) * 1041667  # the nRF52840 returns once the bytes are out
        receiver = mirtek.Framer()
        for value in frame:
            receiver.unstuff(value)
        body = receiver.buf
        key = (body[6], bytes(body[11:receiver.length - 1]))
        self.pending = frame + ANSWERS[key]
        return len(frame)

    def readinto(self, buf):
        if not self.pending:
            self.time.ns += int(self.timeout * 1000000000)
            return None
        count = min(len(buf), len(self.pending))
        buf[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


time = FakeTime()
uart = ScriptedUart(time)
clock = Clock(time, time.ticks_ms)
errors = []
client = kaskad_1_mt.Meter(ByteLink(uart, clock, kaskad_1_mt.BAUD), clock, ADDRESS, errors.append)
reading = Reading()
assert client.poll(reading), errors
now = clock.now_ms()
assert [reading.get(ENERGY_T1 + i, now, 1000) for i in range(4)] == [1234560, 654320, 0, 0]
assert reading.get(TOTAL, now, 1000) == 1888880
assert reading.get(VOLTAGE, now, 1000) == 22987
assert reading.get(CURRENT, now, 1000) == 4321
assert reading.get(POWER, now, 1000) == 90000
assert reading.get(BATTERY, now, 1000) == 50
assert reading.serial == "3171112520109" and reading.made == "04.10.2017"
assert reading.model == "KASKAD-1-MT (old)"
assert reading.flags(clock.now_ms(), 1000) and reading.flag_bits == FLAG_SEAL_CASE_OPEN  # P2 (0x04, §3)
assert reading.get(POWER, now + 2000, 1000) is None  # stale after its maximum age
commands = [frame[8] for frame in uart.sent]
# the first energy read of a meter is confirmed by a second one
assert commands == [0x01, 0x0A, 0x0A, 0x05, 0x05, 0x1E, 0x29, 0x2D, 0x2C], commands

print("ok")
