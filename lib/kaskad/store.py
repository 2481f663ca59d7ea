"""What the firmware keeps in ``microcontroller.nvm``: run-time overrides, owners, the counter's
reserved block end. It survives power cuts and old records, and wears the flash as little as it can.

Layout: the NVM is split in two halves, one flash page each on the nRF52840 (8 KB = 2 x 4 KB).
Each commit writes the whole state as ONE record, with ONE slice assignment, into the half that
does NOT hold the newest valid record. A power cut during the write can only spoil that half (the
board erases the whole page before programming it), so the previous record stays in force.

Record (format version 1), little-endian:
    0   2   magic b"KS"
    2   1   format version
    3   4   sequence number: the higher valid one wins
    7   2   payload length n
    9   n   payload: entries of tag(1) length(1) value(length); unknown tags are skipped, so a
            later firmware can add entries that this one ignores, and a later one reads these
    9+n 4   CRC-32 of bytes 0 .. 9+n
Entries:
    1 counter block end, u32
    2 owner key, 16 bytes (one entry per owner, at most MAX_OWNERS)
    3 override: key length(1), key (ASCII), file fingerprint u32, type b"i" + i32 or b"s" + UTF-8
A commit writes only when the payload differs from the newest record's.
"""

import binascii

MAGIC = b"KS"
FORMAT_VERSION = 1
HEADER = 9
CRC_SIZE = 4
MAX_OWNERS = 4
OWNER_KEY_SIZE = 16

TAG_COUNTER_END = 1
TAG_OWNER = 2
TAG_OVERRIDE = 3


class Store:
    """The record in NVM, decoded. ``report(line)`` hears about anything it had to discard."""

    def __init__(self, nvm, report):
        self._nvm = nvm
        self._report = report
        self._half = len(nvm) // 2
        self.counter_end = None
        self.owners = []
        self.overrides = []  # (key, value, file fingerprint)
        self.writes = 0
        self._sequence = 0
        self._slot = None  # the half holding the newest valid record
        self._payload = b""
        self._load()

    # --- reading ---------------------------------------------------------------------------
    def _load(self):
        newest = None
        spoiled = 0
        for slot in (0, 1):
            record = self._read_slot(slot)
            if record is None:
                if not self._erased(slot):
                    spoiled += 1
                continue
            sequence, payload = record
            if newest is None or sequence > newest[1]:
                newest = (slot, sequence, payload)
        if spoiled:
            self._report("NVM: %d of 2 record slots unreadable (torn write or corruption); %s" % (
                spoiled, "using the other one" if newest else "starting with defaults"))
        if newest is None:
            return
        self._slot, self._sequence, payload = newest
        self._payload = payload
        if not self._decode(payload):
            self._report("NVM: record entries malformed; starting with defaults")
            self.counter_end, self.owners, self.overrides = None, [], []

    def _read_slot(self, slot):
        base = slot * self._half
        header = self._nvm[base:base + HEADER]
        if header[0:2] != MAGIC or header[2] < 1:
            return None
        length = header[7] | header[8] << 8
        if HEADER + length + CRC_SIZE > self._half:
            return None
        record = self._nvm[base:base + HEADER + length + CRC_SIZE]
        stored = _u32(record, HEADER + length)
        if binascii.crc32(record[:HEADER + length]) & 0xFFFFFFFF != stored:
            return None
        return _u32(record, 3), bytes(record[HEADER:HEADER + length])

    def _erased(self, slot):
        base = slot * self._half
        return self._nvm[base:base + HEADER] == b"\xff" * HEADER

    def _decode(self, payload):
        """Entries of any format version: known tags are read, unknown ones skipped."""
        counter_end = None
        owners = []  # type: list[bytes]
        overrides = []  # type: list[tuple[str, int | str, int]]
        at = 0
        while at < len(payload):
            if at + 2 > len(payload) or at + 2 + payload[at + 1] > len(payload):
                return False
            tag, size = payload[at], payload[at + 1]
            value = payload[at + 2:at + 2 + size]
            at += 2 + size
            if tag == TAG_COUNTER_END and size == 4:
                counter_end = _u32(value, 0)
            elif tag == TAG_OWNER and size == OWNER_KEY_SIZE and len(owners) < MAX_OWNERS:
                owners.append(bytes(value))
            elif tag == TAG_OVERRIDE:
                override = _decode_override(value)
                if override is None:
                    return False
                overrides.append(override)
        self.counter_end, self.owners, self.overrides = counter_end, owners, overrides
        return True

    # --- changing ----------------------------------------------------------------------------
    def set_override(self, key, value, file_print):
        """Replaces the key's override in place, so setting the same value again changes nothing."""
        entry = (key, value, file_print)
        for i, (existing, _, _) in enumerate(self.overrides):
            if existing == key:
                self.overrides[i] = entry
                return
        self.overrides.append(entry)

    def drop_override(self, key):
        self.overrides = [o for o in self.overrides if o[0] != key]

    def add_owner(self, key):
        if len(key) != OWNER_KEY_SIZE:
            raise ValueError("an owner key is %d bytes" % OWNER_KEY_SIZE)
        if key in self.owners:
            return
        if len(self.owners) >= MAX_OWNERS:
            raise ValueError("at most %d owners" % MAX_OWNERS)
        self.owners.append(bytes(key))

    def remove_owner(self, key):
        self.owners = [o for o in self.owners if o != key]

    def forget_owners(self):
        """A long press of the button: no owners (the settings stay)."""
        self.owners = []

    def forget_everything(self):
        """Factory reset: no owners, no overrides. The counter end stays: nonces must never repeat."""
        self.owners = []
        self.overrides = []

    def commit(self):
        """Write the state if it changed: one record, one slice assignment. Returns True if written."""
        payload = self._encode()
        if payload == self._payload and self._slot is not None:
            return False
        if HEADER + len(payload) + CRC_SIZE > self._half:
            raise ValueError("NVM record of %d bytes does not fit in %d" % (len(payload), self._half))
        sequence = self._sequence + 1
        record = bytearray(HEADER + len(payload) + CRC_SIZE)
        record[0:2] = MAGIC
        record[2] = FORMAT_VERSION
        _put_u32(record, 3, sequence)
        record[7] = len(payload) & 0xFF
        record[8] = len(payload) >> 8
        record[HEADER:HEADER + len(payload)] = payload
        _put_u32(record, HEADER + len(payload), binascii.crc32(record[:HEADER + len(payload)]) & 0xFFFFFFFF)
        slot = 0 if self._slot == 1 else 1
        base = slot * self._half
        self._nvm[base:base + len(record)] = record
        self._slot, self._sequence, self._payload = slot, sequence, payload
        self.writes += 1
        return True

    def _encode(self):
        out = bytearray()
        if self.counter_end is not None:
            out += bytes((TAG_COUNTER_END, 4))
            out += _u32_bytes(self.counter_end)
        for owner in self.owners:
            out += bytes((TAG_OWNER, OWNER_KEY_SIZE))
            out += owner
        for key, value, file_print in self.overrides:
            entry = _encode_override(key, value, file_print)
            out += bytes((TAG_OVERRIDE, len(entry)))
            out += entry
        return bytes(out)


class CounterStore:
    """The store interface of the encryption counter: the end of the reserved counter block."""

    def __init__(self, store):
        self._store = store

    def load(self):
        return self._store.counter_end

    def save(self, end):
        self._store.counter_end = end
        self._store.commit()


def _encode_override(key, value, file_print):
    name = key.encode()
    if type(value) is int:
        typed = b"i" + _u32_bytes(value & 0xFFFFFFFF)
    else:
        typed = b"s" + (value if type(value) is bytes else str(value).encode())
    return bytes((len(name),)) + name + _u32_bytes(file_print) + typed


def _decode_override(value):
    if len(value) < 1 or len(value) < 1 + value[0] + 5:
        return None
    name_end = 1 + value[0]
    try:
        key = bytes(value[1:name_end]).decode()
        file_print = _u32(value, name_end)
        kind = value[name_end + 4]
        data = bytes(value[name_end + 5:])
        if kind == ord("i") and len(data) == 4:
            number = _u32(data, 0)
            return key, number - (1 << 32) if number >= 1 << 31 else number, file_print
        if kind == ord("s"):
            return key, data.decode(), file_print
    except (UnicodeError, ValueError):
        pass
    return None


def _u32(buf, at):
    return buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16 | buf[at + 3] << 24


def _u32_bytes(value):
    return bytes((value & 0xFF, value >> 8 & 0xFF, value >> 16 & 0xFF, value >> 24 & 0xFF))


def _put_u32(buf, at, value):
    buf[at:at + 4] = _u32_bytes(value)
