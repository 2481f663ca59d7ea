# Runs on the MicroPython VM (and CPython): the MIRTEK framing (kaskad.meters.kaskad_1_mt.frame)
# against the document's vectors.
from kaskad.meters import MeterRefused, RefusedCommand
from kaskad.meters.kaskad_1_mt import frame as mirtek


def hexbytes(text):
    return bytes(int(part, 16) for part in text.split())


def request(address, command, data=b""):
    buf = bytearray(mirtek.MAX_WIRE)
    size = mirtek.encode_request(buf, address, command, data)
    return bytes(buf[:size])


def frames(stream):
    receiver = mirtek.Framer()
    out = []
    for value in stream:
        result = receiver.unstuff(value)
        if result != mirtek.FEED_MORE:
            out.append((result, bytes(receiver.buf[:receiver.length])))
    return out


assert mirtek.crc8(b"123456789") == 0xE1
assert request(20109, 0x01) == hexbytes("73 55 20 00 8D 4E FF FF 01 00 00 00 00 D6 55")
assert request(20109, 0x29, b"\x01") == hexbytes("73 55 21 00 8D 4E FF FF 29 00 00 00 00 01 AA 55")
assert request(29525, 0x01) == hexbytes("73 55 20 00 73 11 73 22 FF FF 01 00 00 00 00 89 55")
assert request(22, 0x01) == hexbytes("73 55 20 00 16 00 FF FF 01 00 00 00 00 73 22 55")

for command in range(256):
    if command in mirtek.READ_ONLY:
        continue
    try:
        request(20109, command)
        raise AssertionError("command 0x%02x was not refused" % command)
    except RefusedCommand:
        pass
for address in (0, 0xFFFF):
    try:
        request(address, 0x01)
        raise AssertionError("address %d was not refused" % address)
    except RefusedCommand:
        pass

energy = hexbytes("73 55 1A 00 FF FF 8D 4E 05 00 00 00 00 D8 E1 02 00 92 0A 30 01 00 00 40 E2 01 00 "
                  "98 FF 00 00 00 00 00 00 00 00 00 00 58 55")
(result, body), = frames(energy)
assert result == mirtek.FEED_FRAME
n = mirtek.check_reply(body, len(body), 20109, 0x05, (26,))
data = memoryview(body)[mirtek.HEADER_LEN:mirtek.HEADER_LEN + n]
assert mirtek.energy_wh(mirtek.u32(data, 10), data[4]) == 1234560
assert mirtek.energy_wh(mirtek.u32(data, 0), data[4]) == 1888880

error = hexbytes("73 55 00 00 FF FF 8D 4E 2D 30 00 00 04 97 55")
(result, body), = frames(error)
try:
    mirtek.check_reply(body, len(body), 20109, 0x2D, (5,))
    raise AssertionError("error status accepted")
except MeterRefused as refusal:
    assert refusal.code == 4

assert mirtek.battery_pct(3, 2) == 67 and mirtek.battery_pct(0, 0) is None
assert mirtek.factory_string(b"\x01" + b"3171112520109" + bytes(17), 31) == "3171112520109"
print("ok")
