# Runs on the MicroPython VM (and CPython): the three meter families against the vectors of
# docs/protocols/*.md (a few, copied here: the VM reads no JSON), their allowlists, and one poll
# each through a replay link (fixed frames from the documents), so every line of a poll runs on
# MicroPython. Prints each family's import heap.
import gc

gc.collect()
base = gc.mem_alloc()
from kaskad import reading as fields  # noqa: E402
from kaskad import meters  # noqa: E402

gc.collect()
print("heap after kaskad.reading + kaskad.meters: %d bytes" % (gc.mem_alloc() - base))


def hexbytes(text):
    return bytes(int(part, 16) for part in text.split())


class Clock:
    def __init__(self):
        self.ms = 1000

    def now_ms(self):
        return self.ms

    def now_us(self):
        return self.ms * 1000


class ReplayLink:
    """Hands the framer the echo, then the reply the table holds for the request (or nothing)."""

    def __init__(self, replies):
        self.replies = replies
        self.sent = []

    def exchange(self, request, size, framer, wake_chars=0):
        wire = bytes(request[:size])
        self.sent.append(wire)
        framer.begin()
        for value in self.replies.get(wire, b""):
            if framer.feed(value):
                return
        raise meters.ReplyError("timeout")

    def send(self, request, size):
        self.sent.append(bytes(request[:size]))


def refused(action):
    try:
        action()
    except meters.RefusedCommand:
        return True
    return False


def load(name):
    gc.collect()
    before = gc.mem_alloc()
    family = meters.load(name)
    gc.collect()
    print("heap for family %s: %d bytes" % (name, gc.mem_alloc() - before))
    assert family.NAME == name
    return family


# --- KASKAD-11-C1 ---------------------------------------------------------------------------------
k11 = load("kaskad-11-c1")
from kaskad.meters.kaskad_11_c1 import frame as kf  # noqa: E402

buf = bytearray(kf.MAX_REQUEST)
n = kf.encode_request(buf, 32580, kf.CMD_OPEN, b"\x02000000000")
assert bytes(buf[:n]) == hexbytes("0F 02 44 7F 02 30 30 30 30 30 30 30 30 30 86")
n = kf.encode_request(buf, 20109, kf.CMD_NET, b"\x03")
assert bytes(buf[:n]) == hexbytes("06 20 8D 4E 03 04")
for command in range(256):
    assert command in (2, 3, 0x16, 0x20, 0x25, 0x26, 0x53) or refused(lambda: kf.encode_request(buf, 32580, command))
assert refused(lambda: kf.encode_request(buf, 32580, kf.CMD_NET, b"\x04"))
assert refused(lambda: kf.encode_request(buf, 65536, kf.CMD_CLOSE))


def k11_frame(body):
    frame = bytes([len(body) + 2]) + body
    return frame + bytes([sum(frame) & 0xFF])


A = b"\x44\x7f"
K11_REPLIES = {
    hexbytes("0F 02 44 7F 02 30 30 30 30 30 30 30 30 30 86"): hexbytes("07 02 44 7F 02 01 CF"),
    hexbytes("05 25 44 7F ED"): k11_frame(b"\x25" + A + b"0112532580\x01"),
    hexbytes("05 53 44 7F 1B"): k11_frame(b"\x53" + A + b"\x15\x03\x0f\x01"),
    hexbytes("06 20 44 7F 01 EA"): k11_frame(b"\x20" + A + b"\x01\x03\x14\x01"),
    hexbytes("06 20 44 7F 00 E9"): hexbytes("09 20 44 7F 00 FD 08 01 F2"),
    hexbytes("06 20 44 7F 03 EC"): k11_frame(b"\x20" + A + b"\x03\x0d\x2e\x00\x01"),
    hexbytes("06 26 44 7F 01 F0"): hexbytes("0B 26 44 7F 01 40 E2 01 00 01 19"),
    hexbytes("06 26 44 7F 02 F1"): k11_frame(b"\x26" + A + b"\x02\xa0\x5b\x00\x00\x01"),
    hexbytes("06 26 44 7F 03 F2"): k11_frame(b"\x26" + A + b"\x03\x59\x01\x00\x00\x01"),
    k11_frame(b"\x26" + A + b"\x04"): k11_frame(b"\x26" + A + b"\x04\x07\x00\x00\x00\x01"),
    hexbytes("05 16 44 7F DE"): hexbytes("0B 16 44 7F 5E DB 66 F7 02 01 7D"),
    hexbytes("05 03 44 7F CB"): k11_frame(b"\x03" + A + b"\x01"),
}
errors = []
reading = fields.Reading()
meter = k11.Meter(ReplayLink(K11_REPLIES), Clock(), 32580, errors.append)
assert meter.poll(reading), errors
assert reading.values[:9] == [1234560, 234560, 3450, 70, 1472640, 23010, 5123, 117890, 73], reading.values
assert (reading.serial, reading.made) == ("0112532580", "2021-03-15")

# --- Mercury-206 ----------------------------------------------------------------------------------
m206 = load("mercury-206")
from kaskad.meters.mercury_206 import frame as mf  # noqa: E402

assert mf.crc16(b"123456789", 9) == 0x4B37
buf = bytearray(7)
mf.encode_request(buf, 36896545, mf.CMD_INSTANT)
assert bytes(buf) == hexbytes("02 32 FF 21 63 3B 31")
mf.encode_request(buf, 35900555, mf.CMD_ENERGY)
assert bytes(buf) == hexbytes("02 23 CC 8B 27 B0 91")
for command in range(256):
    assert command in (0x27, 0x2F, 0x63, 0x66, 0x69) or refused(lambda: mf.encode_request(buf, 36896545, command))


def mercury_frame(body):
    return body + bytes([mf.crc16(body, len(body)) & 0xFF, mf.crc16(body, len(body)) >> 8])


ADDR = hexbytes("02 32 FF 21")
M_REPLIES = {
    hexbytes("02 32 FF 21 2F 3A C4"): mercury_frame(ADDR + b"\x2f" + ADDR),
    hexbytes("02 32 FF 21 66 FB 32"): hexbytes("02 32 FF 21 66 10 12 18 69 FE"),
    hexbytes("02 32 FF 21 63 3B 31"): hexbytes("02 32 FF 21 63 22 95 12 34 00 28 31 F8 02"),
    hexbytes("02 32 FF 21 27 3B 02"): hexbytes("02 32 FF 21 27 00 12 34 56 00 00 78 90 00 00 00 00 00 00 00 00 90 8A"),
    hexbytes("02 32 FF 21 69 BB 36"): mercury_frame(ADDR + hexbytes("69 01 23 45 00 06 78")),
}
reading = fields.Reading()
meter = m206.Meter(ReplayLink(M_REPLIES), Clock(), 36896545, errors.append)
assert meter.poll(reading), errors
assert reading.values[:9] == [1234560, 78900, 0, 0, 1313460, 22950, 12340, 283100, 85], reading.values
assert (reading.serial, reading.made) == ("36896545", "2018-12-10")

# --- CE-102M --------------------------------------------------------------------------------------
ce = load("ce-102m")
from kaskad.meters.ce_102m import frame as cf  # noqa: E402

buf = bytearray(cf.MAX_REQUEST)
n = cf.encode_read(buf, cf.ENERGY)
assert bytes(buf[:n]) == hexbytes("81 D2 B1 82 C5 D4 30 50 C5 28 A9 03 B7")
n = cf.encode_session(buf, cf.BREAK)
assert bytes(buf[:n]) == hexbytes("81 42 30 03 F5")
n = cf.encode_session(buf, cf.OPTION)
assert bytes(buf[:n]) == hexbytes("06 30 35 B1 8D 0A")
assert refused(lambda: cf.encode_read(buf, b"P1")) and refused(lambda: cf.encode_read(buf, b"DATE_"))


def parity(data):
    return bytes(cf.with_parity(b) for b in data)


def block(text, start=2):
    inner = text + b"\x03"
    return parity(bytes([start]) + inner + bytes([sum(inner) & 0x7F]))


def wire(name):
    n = cf.encode_read(buf, name)
    return bytes(buf[:n])


ET0PE = b"\x02ET0PE(12345.67)\r\n(9000.12)\r\n(3345.55)\r\n(0.00)\r\n(0.00)\r\n(0.00)\r\n\x03\x66"
CE_REPLIES = {
    hexbytes("AF 3F 21 8D 0A"): parity(b"/EKT5CE102Mv10\r\n"),
    hexbytes("06 30 35 B1 8D 0A"): block(b"P0\x02(0123456789)", 1),
    wire(cf.STATUS): block(b"STAT_(0011000A)\r\n"),
    wire(cf.SERIAL): block(b"SNUMB(009217054000123)\r\n"),
    wire(cf.ENERGY): parity(ET0PE),
    wire(cf.POWER): block(b"POWEP(2.831)\r\n"),
    wire(cf.VOLTAGE): block(b"VOLTA(229.5)\r\n"),
    wire(cf.CURRENT): block(b"CURRE(12.3)\r\n"),
}
reading = fields.Reading()
link = ReplayLink(CE_REPLIES)
meter = ce.Meter(link, Clock(), None, errors.append)
assert meter.poll(reading), errors
assert reading.values[:9] == [9000120, 3345550, 0, 0, 12345670, 22950, 12300, 283100, None], reading.values
assert reading.flag_bits == fields.FLAG_METER_ERROR | fields.FLAG_BATTERY_LOW
assert reading.serial == "009217054000123" and link.sent[-1] == hexbytes("81 42 30 03 F5")
assert meter.poll(reading) and reading.model == "EKT5CE102Mv10"

try:
    meters.load("mercury-230")
    raise AssertionError("an unknown family loaded")
except ValueError:
    pass
print("ok")
