# Runs on the MicroPython VM: the BTHome packets and AES-CCM of lib/kaskad, and their heap use.
# The expected bytes come from outside this code: the worked example of docs/protocols/bthome.md
# (plain packet B), the packet layout of bthome.md section 1 built here byte by byte, and AES-CCM
# outputs of the `cryptography` package's AESCCM(key, tag_length=4) (the CPython tests check the
# same code against AESCCM on random inputs; this checks that the VM computes the same).
# aesio comes from host/vm/aesio.py (cryptolib's ECB), which counts block operations.
# vm-heapsize: 128K
import gc

import aesio

from kaskad import bthome, reading as fields
from kaskad.ccm import CCM

MAC = bytes([0xC8, 0x1D, 0xF5, 0xED, 0xA8, 0x35])  # display order
KEY = bytes([0x23, 0x1D, 0x39, 0xC1, 0xD7, 0xCC, 0x1A, 0xB1, 0xAE, 0xE2, 0x24, 0xCD, 0x09, 0x6D, 0xB9, 0x32])
problems = []


def hexbytes(text):
    return bytes(int(part, 16) for part in text.split())


def reading(values, now=0):
    r = fields.Reading()
    for field in range(fields.FIELD_COUNT):
        if values[field] is not None:
            r.set(field, values[field], now)
    return r


NONE = [None] * fields.FIELD_COUNT


def open_sealed(key, nonce, sealed, mic):
    """RFC 3610 CCM (M = 4, L = 2, no associated data) written out plainly here, straight on
    cryptolib's AES block (host/vm/_pyaes.py's, checked against FIPS-197 in check_vm_sanity, on
    the WebAssembly build, which has no cryptolib), independent of kaskad.ccm: the plaintext, or
    None if the MIC is wrong."""
    try:
        import cryptolib
    except ImportError:
        import _pyaes as cryptolib

    aes = cryptolib.aes(key, 1)

    def block(data):
        out = bytearray(16)
        aes.encrypt(bytes(data), out)
        return out

    def counter_block(i):
        return bytes([1]) + nonce + bytes([i >> 8, i & 0xFF])

    plain = bytearray()
    for start in range(0, len(sealed), 16):
        stream = block(counter_block(start // 16 + 1))
        plain += bytes(c ^ s for c, s in zip(sealed[start:start + 16], stream))
    x = block(bytes([0x09]) + nonce + bytes([len(plain) >> 8, len(plain) & 0xFF]))
    for start in range(0, len(plain), 16):
        chunk = plain[start:start + 16]
        chunk = chunk + bytes(16 - len(chunk))
        x = block(bytes(a ^ b for a, b in zip(x, chunk)))
    tag = bytes(a ^ b for a, b in zip(x[:4], block(counter_block(0))))
    return bytes(plain) if tag == bytes(mic) else None


# --- CCM against AESCCM(bytes(range(16)), tag_length=4), nonce bytes(range(100, 113)) ---------
CCM_VECTORS = (
    (0, "100beb29"),
    (1, "9a54314891"),
    (15, "9a70840c638b0c4e897c2b555063adf1184aea"),
    (16, "9a70840c638b0c4e897c2b555063ad3d82f86161"),
    (17, "9a70840c638b0c4e897c2b555063ad3d15f0afd8de"),
    (33, "9a70840c638b0c4e897c2b555063ad3d150cad5aa9eab6ec18ebe01c48529ca7b5eb29ee6c"),
)
ccm = CCM(bytes(range(16)))
nonce = bytes(range(100, 113))
for n, expected in CCM_VECTORS:
    plain = bytes((7 * i + 3) & 0xFF for i in range(n))
    out = bytearray(n + 4)
    assert ccm.encrypt_into(nonce, plain, n, out) == n + 4
    assert out.hex() == expected, (n, out.hex())
    sealed = bytes.fromhex(expected)  # AESCCM's output: the plain CCM above must open it too
    assert open_sealed(bytes(range(16)), nonce, sealed[:n], sealed[n:]) == plain, n
    back = bytearray(n)
    assert ccm.decrypt_into(nonce, out, n, back) and bytes(back) == plain, n
    for bit in (0, 8 * (n + 4) - 1):
        bad = bytearray(out)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert not ccm.decrypt_into(nonce, bad, n, back), (n, bit)
        assert bytes(back) == bytes(n), "plaintext left after a failed MIC"
    inplace = bytearray(plain) + bytearray(4)
    ccm.encrypt_into(nonce, inplace, n, inplace)
    assert inplace.hex() == expected

# --- plain packet B: the worked example of bthome.md (pid 7, 96 %, 1.23 kW, 5.432 A, 229.9 V), with
# the battery-low (0x15) and problem (0x26) flags, off, between power and current (ascending ids)
lines = []
b = bthome.Broadcaster(MAC, "KASKAD 20109", None, None, lines.append, hold_ms=0)
values = list(NONE)
for i in range(7):  # packet A alone changes and goes on air 7 times: ids 0..6
    values[0] = 1000 + i
    values[1] = 0
    values[2] = 0
    # the first time the problem flag (off) is new in both packets
    assert b.update(reading(values), 0, 1000) == (bthome.CHANGED_A | bthome.CHANGED_B if i == 0 else bthome.CHANGED_A)
    assert b.packet(bthome.PACKET_A)[9] == i
values[fields.BATTERY] = 96
values[fields.POWER] = 123000
values[fields.CURRENT] = 5432
values[fields.VOLTAGE] = 22990  # 229.90 V
assert b.update(reading(values), 0, 1000) == bthome.CHANGED_B
assert bytes(b.packet(bthome.PACKET_B)) == hexbytes(
    "02 01 06 16 16 D2 FC 40 00 07 01 60 0B 78 E0 01 15 00 26 00 43 38 15 4A FB 08")
assert b.scan_response == hexbytes("0D 09 4B 41 53 4B 41 44 20 32 30 31 30 39")
assert b.update(reading(values), 0, 1000) == 0  # unchanged values

# --- plain packet A: section 1 layout, three uint32 energies (0x4D) ------------------------------
values[0] = 0x12345678
values[1] = 16777216
values[2] = 0
assert b.update(reading(values), 0, 1000) == bthome.CHANGED_A
expected = bytearray(hexbytes("02 01 06 17 16 D2 FC 40 00 08 26 00"))
for energy in (0x12345678, 16777216, 0):
    expected.append(0x4D)
    expected.extend(energy.to_bytes(4, "little"))
assert bytes(b.packet(bthome.PACKET_A)) == bytes(expected), bytes(b.packet(bthome.PACKET_A)).hex()
assert lines == [], lines

# --- a stale value is left out, never repeated ----------------------------------------------------
r = reading(values, 0)
r.set(fields.VOLTAGE, 23000, 5000)  # voltage confirmed later than the rest
assert b.update(r, 5000, 4000) == bthome.CHANGED_A | bthome.CHANGED_B
# every tariff is stale: A carries the problem flag (on) alone, B the voltage and the flag
assert bytes(b.packet(bthome.PACKET_A)) == hexbytes("02 01 06 08 16 D2 FC 40 00 09 26 01")
assert bytes(b.packet(bthome.PACKET_B)) == hexbytes("02 01 06 0B 16 D2 FC 40 00 0A 26 01 4A FC 08")

# --- encrypted packet B against AESCCM: counter 0, then a counter resumed from the store --------
values = list(NONE)
values[fields.BATTERY] = 96
values[fields.POWER] = 123000
values[fields.CURRENT] = 5432
values[fields.VOLTAGE] = 22990
# plaintext 0B 78 E0 01 26 00 43 38 15 4A FB 08: power, problem, current, voltage (encrypted B
# leaves the battery to the status packet and carries no packet id)
for stored, counter, sealed in ((None, 0, "6a4bf62e842c2aa52c9197c07cba5856"),
                                (0x01020304, 0x01020304, "6f303225d29dc6563ea9adc8d6be4d5b")):
    store = bthome.MemoryCounterStore(stored)
    e = bthome.Broadcaster(MAC, "KASKAD 20109", KEY, store, lines.append, hold_ms=0)
    assert e.update(reading(values), 0, 1000) == bthome.CHANGED_A | bthome.CHANGED_B
    sealed = hexbytes(" ".join(sealed[i:i + 2] for i in range(0, len(sealed), 2)))
    want = hexbytes("02 01 06 18 16 D2 FC 41") + sealed[:12] + counter.to_bytes(4, "little") + sealed[12:]
    assert bytes(e.packet(bthome.PACKET_B)) == want, bytes(e.packet(bthome.PACKET_B)).hex()
    assert store.end == counter + bthome.COUNTER_BLOCK_FIRST and store.saves == 1
assert lines == [], lines

# --- encrypted packet A: 0x0A below 16 777 216 Wh, 0x4D without a packet id from there on ------
values = list(NONE)
values[0] = 16777215
values[1] = 5
values[2] = 0
e = bthome.Broadcaster(MAC, "KASKAD 20109", KEY, bthome.MemoryCounterStore(), lines.append, hold_ms=0)
e.update(reading(values), 0, 1000)
packet = bytes(e.packet(bthome.PACKET_A))
assert len(packet) == 30 and packet[3] == 26 and packet[7] == 0x41
values[0] = 16777216
e.update(reading(values), 0, 1000)
packet = bytes(e.packet(bthome.PACKET_A))
assert len(packet) == 31 and packet[3] == 27
nonce = MAC + hexbytes("D2 FC 41") + packet[23:27]
plain = open_sealed(KEY, nonce, packet[8:23], packet[27:31])
assert plain == hexbytes("4D 00 00 00 01 4D 05 00 00 00 4D 00 00 00 00"), plain


# --- each time a packet goes on air it takes the next id and, encrypted, the next counter --------
e = bthome.Broadcaster(MAC, "KASKAD 20109", KEY, bthome.MemoryCounterStore(500), lines.append, hold_ms=0)
values = list(NONE)
values[fields.VOLTAGE] = 23000
e.update(reading(values), 0, 1000)
plains = []
for expected_counter in (500, 501, 502):
    packet = bytes(e.packet(bthome.PACKET_B))
    assert packet[-8:-4] == expected_counter.to_bytes(4, "little")
    n = len(packet) - 16
    out = open_sealed(KEY, MAC + packet[5:8] + packet[-8:-4], packet[8:8 + n], packet[-4:])
    assert out is not None and open_sealed(bytes(16), MAC + packet[5:8] + packet[-8:-4], packet[8:8 + n], packet[-4:]) is None
    plains.append(out)
# B (problem off, voltage), then B's slot goes to the rare status packet (the problem flag alone:
# a packet id in front, as bthome-ble needs 3 bytes), then B again
assert plains == [hexbytes("26 00 4A FC 08"), hexbytes("00 00 26 00"), hexbytes("26 00 4A FC 08")], plains

# --- figures: bytes per advertisement ---------------------------------------------------------
full = [12345678, 2345, 0, 0, 12350023, 23000, 5432, 123000, 96, None]  # no apparent power
sizes = []
for key, t1 in ((None, 12345678), (KEY, 12345678), (KEY, 16777216)):
    full[0] = t1
    br = bthome.Broadcaster(MAC, "KASKAD 20109", key, bthome.MemoryCounterStore(), lines.append, hold_ms=0)
    rd = reading(full)
    rd.set_flags(0, 0x7FF, 0)  # every flag known: B at its largest
    br.update(rd, 0, 1000)
    sizes.append((len(br.packet(bthome.PACKET_A)), len(br.packet(bthome.PACKET_B))))
print("bytes per advertisement: plain A %d, B %d; encrypted A %d (0x0A energies) or %d (0x4D), B %d"
      % (sizes[0][0], sizes[0][1], sizes[1][0], sizes[2][0], sizes[1][1]))
assert sizes == [(27, 30), (30, 30), (31, 30)], sizes


# --- heap: allocations in steady state -----------------------------------------------------------
def aes_blocks():
    """AES blocks so far: host/vm/aesio.py counts them; a built-in aesio (CircuitPython's own core,
    where the VM shim does not shadow it) has no counter, and the count is left out."""
    return getattr(aesio, "blocks", None)


def measure(key, updates, switches_only):
    store = bthome.MemoryCounterStore()
    br = bthome.Broadcaster(MAC, "KASKAD 20109", key, store, lines.append, hold_ms=0)
    rd = fields.Reading()
    rd.set_flags(fields.FLAG_SEAL_TERMINAL_OPEN, 0x7FF, 0)
    rd.serial, rd.made = "3171112520109", "2017-10-04"  # the rare packets come round too
    for field in range(fields.FIELD_COUNT):
        rd.set(field, 1000 if field != fields.BATTERY else 90, 0)
    for i in range(20):  # warm up: views of every length, the counter block
        rd.set(0, 1000 + i, 0)
        rd.set(fields.POWER, 5000 + i, 0)
        br.update(rd, 0, 1000)
        br.packet(bthome.PACKET_A)
        br.packet(bthome.PACKET_B)
    aes_before = aes_blocks()
    changed = bthome.CHANGED_A | bthome.CHANGED_B
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(updates):
        if not switches_only:
            rd.set(0, 2000 + i, 0)
            rd.set(fields.POWER, 6000 + i, 0)
            changed = br.update(rd, 0, 1000)
        br.packet(bthome.PACKET_A)
        br.packet(bthome.PACKET_B)
    after = gc.mem_alloc()
    gc.enable()
    assert changed == bthome.CHANGED_A | bthome.CHANGED_B
    if aes_before is None:
        return after - before, None
    return after - before, (aes_blocks() - aes_before) // (2 * updates)


for name, key in (("plain", None), ("encrypted", KEY)):
    for what, switches_only in (("update + both packets on air", False), ("both packets on air, no update", True)):
        small, _ = measure(key, 10, switches_only)
        large, blocks = measure(key, 210, switches_only)
        per_round = (large - small) // 200
        print("heap per %s (%s): %d bytes (%d over 10 rounds, %d over 210); AES blocks per packet: %s"
              % (what, name, per_round, small, large, blocks))
        if per_round > 0:
            problems.append("%s, %s: %d bytes allocated per round" % (name, what, per_round))
        # 4 blocks per encrypted packet; the rare name packet, which carries no BTHome data,
        # none: the average over A and B slots is between 3 and 4 (no count on a built-in aesio)
        if blocks is not None and not (3 <= blocks <= 4 if key is not None else blocks == 0):
            problems.append("%d AES blocks per %s packet" % (blocks, name))

assert not problems, problems
assert lines == [], lines
print("ok")
