"""BTHome v2 advertisements of a meter Reading: two alternating packets, plain or AES-CCM encrypted.

What Home Assistant's receiver (``bthome-ble``) does decides the shape; ``docs/protocols/
bthome.md`` says why. An advertisement is ``02 01 06 | LL 16 D2 FC DI | objects [| counter MIC]``
and never more than 31 bytes (more would become extended advertising, which most Home Assistant
scanners never see):

- Packet A, energy: ``00 pid`` + T1, T2, T3 as object 0x4D (uint32 Wh). Encrypted, where only 15
  bytes of objects fit: 0x0A (uint24 Wh) while every tariff is below 16 777 216 Wh, else 0x4D
  without the packet id. The three tariffs go together or not at all: the receiver numbers
  energy objects by their place in the packet (energy_1..3), so leaving one out would publish T2
  as energy_1.
- Packet B, instant values: ``00 pid``, battery 0x01 (%), power 0x0B (uint24, 0.01 W), current
  0x43 (uint16 mA; more than 65 535 mA is sent as 65 535 and reported once per episode, never
  rescaled), voltage 0x4A (uint16, 0.1 V, from 0.01 V rounded half up). Each one that is unknown
  or stale is left out; the keys stay distinct.
- Packet ids come from ONE counter shared by both packets, and each packet put on air takes the
  next one (each ``packet()`` call, i.e. each ``start_advertising``). The radio repeats those
  bytes at every advertising interval until the next switch, and the receiver drops the repeats
  (same id); each switch brings a new id, higher than everything before. Keeping an unchanged
  packet's id across switches, as HA's receiver would allow, cannot work with two alternating
  packets: one of them always has the lower id, and bthome-ble takes a packet "older" than the
  last one it accepted only once more than 4 s have passed. With the packets alternating every
  2-4 s (3 s by default) the older one then never gets through: if the receiver missed its
  first slot (a busy proxy, a start-up while the other was on air) its values would not reach
  Home Assistant until they change.
- Encrypted (DI 0x41): nonce = MAC (display order) | D2 FC | 41 | counter (4, LE); the objects are
  encrypted, then counter (4, LE) and the 4-byte MIC follow. The packet is sealed anew, with the
  next counter, at every ``packet()`` call too. Sealed once per content, one of two alternating
  packets would always carry a lower counter than the other: bthome-ble rejects it as a replay
  each time it comes round and logs a WARNING ("The new encryption counter ... is smaller than
  the previous value ... might be compromised"), every few seconds, forever. Sealed per
  transmission, each packet on air carries the highest counter yet.
- Counters only grow, across reboots too (a reused counter would reuse the CCM keystream):
  they are reserved in blocks, and the END of a block is saved (``counter_store.save(end)``)
  before its first counter is used; after a reboot counting resumes at the saved end, above every
  counter ever sent. The first block after a boot holds 1 024 counters and each next one twice
  as many, up to 32 768: a board stuck in a reboot loop wastes at most 1 024 a boot (2**32 last
  4 million boots), and in steady state the store is written once per 32 768 packets put on air.
  With the default radio (the packets alternate every 3 s: 28 800 starts a day, plus a restart
  for each of the 2 changes a minute with both packets changing at every 60 s poll: 2 880 more)
  that is one write every 26 hours, after 5 in the first day after a boot.

The counter store is any object with ``load() -> int | None`` (None: never saved) and
``save(end: int) -> None``; ``load`` must never return less than the last completed ``save``.
``MemoryCounterStore`` is the in-RAM one (tests, and a board without NVM: it does not survive
a reboot). A store that fails (raises) stops encrypted packets rather than risk a reused counter.

Steady state allocates nothing, in ``update`` or ``packet``: preallocated packet buffers and
value lists, bytes written one by one (slices allocate), a cached memoryview per packet length,
CCM in place (tests/vm/check_bthome.py measures it on the MicroPython VM).
"""

from kaskad import reading as fields
from kaskad.clock import ticks_add, ticks_less

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value

# The hold after boot (only the name on air): not started, on, over
_HOLD_NOT_STARTED = const(0)
_HOLD_ON = const(1)
_HOLD_OVER = const(2)


try:  # for the type checker only: the board has no typing module, so this stops at once there
    import typing  # noqa: F401

    from kaskad.ccm import CCM
except ImportError:
    pass

PACKET_A = const(0)  # energy T1, T2, T3, and the problem flag
PACKET_B = const(1)  # instant values and the meter's flags; now and then a rare packet instead
CHANGED_A = const(1)
CHANGED_B = const(2)
# The rare packets, put on air in B's slot (see ``packet``) in this order, each when it has content
RARE_STATUS = const(2)  # battery, battery low, problem, emergency, date of manufacture
RARE_IDENTITY = const(3)  # the serial number
RARE_NAME = const(4)  # the local name in the advertisement itself (passive scanners)
_PACKETS = const(4)  # A, B, status, identity have buffers; the name packet is built once
RARE_EVERY = const(4)  # every 4th B slot whose values were already on air goes to a rare packet
HOLD_MS = const(4500)  # after boot only the name goes out: HA forgets packet ids after 4 s
BATTERY_LOW_PCT = const(10)  # the meter's battery at or below this: "battery low"
MAX_SERIAL = const(13)  # text bytes of the serial that fit an encrypted packet (15 - 2)
MAX_SERIAL_PLAIN = const(19)  # ... and a plain one (23 - packet id 2 - 2): a CE-102M's has 15

COUNTER_BLOCK_FIRST = const(1024)  # counters reserved by the first store write after a boot
COUNTER_BLOCK_MAX = const(32768)  # the reservation doubles up to this
MAX_ADV = const(31)  # legacy advertising
MAX_NAME = const(29)  # bytes of the local name in a 31-byte scan response

# Object ids (bthome_ble/const.py of bthome-ble 3.12.4, the one Home Assistant 2025.4 pins)
OBJ_PACKET_ID = const(0x00)
OBJ_BATTERY = const(0x01)  # uint8 %
OBJ_ENERGY_24 = const(0x0A)  # uint24, 0.001 kWh
OBJ_POWER_24 = const(0x0B)  # uint24, 0.01 W
OBJ_BATTERY_LOW = const(0x15)  # binary, device class battery: on = low
OBJ_PROBLEM = const(0x26)  # binary, device class problem: on = the meter is not answering
OBJ_SAFETY = const(0x28)  # binary, device class safety: on = unsafe (the meter's emergency flag)
OBJ_TAMPER = const(0x2B)  # binary, device class tamper: on = a seal open or a magnetic field
OBJ_CURRENT = const(0x43)  # uint16, 0.001 A
OBJ_VOLTAGE = const(0x4A)  # uint16, 0.1 V
OBJ_ENERGY_32 = const(0x4D)  # uint32, 0.001 kWh
OBJ_TEXT = const(0x53)  # length-prefixed UTF-8: HA's "Text" sensor
OBJ_RAW = const(0x54)  # length-prefixed bytes: HA's "Raw" sensor shows them as hex digits

DI_PLAIN = const(0x40)  # BTHome v2, not encrypted, regular interval
DI_ENCRYPTED = const(0x41)

# Flags by meaning (kaskad.reading) behind each binary object: tamper = a seal open or a magnetic
# field; battery low = the meter's battery flags (with the % at or below BATTERY_LOW_PCT);
# problem = not answering, or the meter reports an internal error. The relay (FLAG_RELAY_OFF) has
# no object: an encrypted status packet has no room left for it (15 bytes of objects).
_TAMPER_FLAGS = (fields.FLAG_SEAL_TERMINAL_OPEN | fields.FLAG_SEAL_CASE_OPEN | fields.FLAG_SEAL_MODULE_OPEN
                 | fields.FLAG_MAGNET_DC | fields.FLAG_MAGNET_AC)
_BATTERY_FLAGS = fields.FLAG_BATTERY_LOW | fields.FLAG_BATTERY_EXPIRED

_AD_FLAGS = const(0x01)
_AD_SERVICE_DATA = const(0x16)
_AD_SHORT_NAME = const(0x08)
_AD_COMPLETE_NAME = const(0x09)
_GENERAL_DISCOVERABLE_NO_BREDR = const(0x06)
_UUID_LO = const(0xD2)  # 0xFCD2, little-endian on air
_UUID_HI = const(0xFC)
_PAYLOAD_AT = const(8)  # 02 01 06 | LL 16 D2 FC DI
_MAX_PLAIN_OBJECTS = const(23)  # 31 - 8; 15 when encrypted (counter and MIC take 8)
_COUNTER_END = 0x100000000  # counters are 4 bytes

MAX_U8 = const(0xFF)
MAX_U16 = const(0xFFFF)
MAX_U24 = const(0xFFFFFF)
MAX_U32 = 0xFFFFFFFF

# Bits of Broadcaster._flagged: what has been reported and not yet come right again.
_FLAG_CURRENT_CLAMPED = const(1)
_FLAG_ENERGY_RANGE = const(2)
_FLAG_BATTERY_RANGE = const(4)
_FLAG_POWER_RANGE = const(8)
_FLAG_VOLTAGE_RANGE = const(16)
_FLAG_COUNTER = const(32)
_FLAG_IDENTITY = const(64)

# What each packet carries (Broadcaster._values): A = T1, T2, T3, problem;
# B = battery, power, current, voltage, battery low, problem, emergency, tamper;
# status = battery, battery low, problem, emergency, date of manufacture (4 BCD bytes, as int);
# identity = the serial number (UTF-8 bytes).
_A_FIELDS = const(4)
_B_FIELDS = const(8)
_STATUS_FIELDS = const(5)


class MemoryCounterStore:
    """Counter reservations kept in RAM: survive a new Broadcaster, not a reboot."""

    def __init__(self, end=None):
        self.end = end
        self.saves = 0

    def load(self):
        return self.end

    def save(self, end):
        self.end = end
        self.saves += 1


class Broadcaster:
    """The BTHome packets of a meter and its scan response.

    ``mac_display``: the board's BLE address in display order (``_bleio`` gives it reversed);
    ``name``: the local name for the scan response (UTF-8, cut to 29 bytes if longer);
    ``bindkey``: 16 bytes, or None to broadcast in the clear; ``counter_store``: see the module
    docstring (needed with a bindkey); ``report(line)``: one console line for each problem;
    ``hold_ms``: after the first ``update`` only the name packet goes out for this long.

    Use: ``update(reading, now_ms, max_age_ms)`` after each poll (and now and then between polls,
    so values that grow stale drop out), which says which packets changed; ``packet(which)``
    for each ``start_advertising`` (a switch, or a change of the packet on air), with
    ``scan_response`` as its scan response; ``idle_packet()`` when ``packet`` has nothing.
    """

    def __init__(self, mac_display, name, bindkey, counter_store, report,
                 counter_block=COUNTER_BLOCK_FIRST, counter_block_max=COUNTER_BLOCK_MAX, hold_ms=HOLD_MS):
        if len(mac_display) != 6:
            raise ValueError("the BLE address has 6 bytes, got %d" % len(mac_display))
        if not 1 <= counter_block <= counter_block_max:
            raise ValueError("need 1 <= counter_block <= counter_block_max")
        self._report = report
        self._store = counter_store
        self._block = counter_block
        self._block_max = counter_block_max
        self._hold_ms = hold_ms
        self._hold_state = _HOLD_NOT_STARTED
        self._hold_until = 0  # ticks ms, set by the first update()
        self._bufs = tuple(bytearray(MAX_ADV) for _ in range(_PACKETS))
        self._objects = tuple(bytearray(_MAX_PLAIN_OBJECTS) for _ in range(_PACKETS))  # plaintext
        self._payloads = tuple(memoryview(buf)[_PAYLOAD_AT:] for buf in self._bufs)
        # A cached view of each packet, for the length it was made for.
        self._views = [None] * _PACKETS  # type: typing.List[typing.Optional[memoryview]]
        self._view_lens = [0] * _PACKETS
        self._values = ([None] * _A_FIELDS, [None] * _B_FIELDS, [None] * _STATUS_FIELDS,
                        [None])  # type: typing.Tuple[typing.List[typing.Any], ...]
        self._new = ([None] * _A_FIELDS, [None] * _B_FIELDS, [None] * _STATUS_FIELDS,
                     [None])  # type: typing.Tuple[typing.List[typing.Any], ...]
        self._serial_of = None  # the reading's serial text the cached bytes were made from
        self._serial = None
        self._made_of = None
        self._made = None
        self._b_on_air = False  # B's current values went on air at least once
        self._b_slots = RARE_EVERY - 1  # B slots since the last rare one: the first comes early
        self._rare = RARE_STATUS  # the next rare packet to try
        self._next_pid = 0  # the packet id the next plain packet takes
        self._pid_always = False
        self._flagged = 0
        self._nonce = bytearray(13)
        for i in range(6):
            self._nonce[i] = mac_display[i]
        self._nonce[6] = _UUID_LO
        self._nonce[7] = _UUID_HI
        self._nonce[8] = DI_ENCRYPTED
        self._ccm = None  # type: typing.Optional[CCM]
        self._counter = 0  # next counter to use ...
        self._counter_end = 0  # ... while below this reserved end (both valid once loaded)
        self._counter_loaded = False
        for buf in self._bufs:
            buf[0] = 2
            buf[1] = _AD_FLAGS
            buf[2] = _GENERAL_DISCOVERABLE_NO_BREDR
            buf[4] = _AD_SERVICE_DATA
            buf[5] = _UUID_LO
            buf[6] = _UUID_HI
        self.scan_response = b""
        self._name_packets = (b"", b"")
        self.withheld = False  # no readings on air at all (see withhold)
        self.set_name(name)
        self.set_bindkey(bindkey)

    # --- settings ------------------------------------------------------------------------------

    def set_name(self, name):
        """The scan response: ``LL 09 name``, or ``LL 08 name-cut`` if the UTF-8 name is over 29
        bytes; and the name packets, which carry it in the advertisement itself."""
        raw = name.encode("utf-8")
        if len(raw) > MAX_NAME:
            self._report("bthome: the name is %d bytes in UTF-8, only %d fit: sending %r as a "
                         "shortened name" % (len(raw), MAX_NAME, _cut(raw, MAX_NAME).decode("utf-8")))
        self.scan_response = _name_ad(raw, MAX_NAME)
        # flags (3) + name: 26 bytes of name; plain also has an empty BTHome header (5): 21
        flags = b"\x02\x01\x06"
        self._name_packets = (flags + _name_ad(raw, MAX_ADV - 5 - 5) + b"\x04\x16\xd2\xfc\x40",
                              flags + _name_ad(raw, MAX_ADV - 5))

    def set_bindkey(self, bindkey):
        """Encrypt with ``bindkey`` (16 bytes) from the next ``packet`` call on, or not at all (None)."""
        self._b_slots = RARE_EVERY - 1  # a new key: the status packet (the battery) soon
        self._rare = RARE_STATUS
        if bindkey is None:
            self._ccm = None
        else:
            if self._store is None:
                raise ValueError("an encryption key needs a counter store")
            from kaskad import ccm

            if self._ccm is None:
                self._ccm = ccm.CCM(bindkey)
            else:
                self._ccm.rekey(bindkey)

    def withhold(self, withheld):
        """Put no readings on air while ``withheld``: the user asked for encryption with a key
        that cannot be used, and their readings must not go out in the clear (fail closed)."""
        self.withheld = withheld

    @property
    def encrypted(self):
        return self._ccm is not None

    # --- the packets ---------------------------------------------------------------------------

    def idle_packet(self):
        """The advertisement when ``packet`` has nothing: the flags and the local name, plain
        with an empty BTHome header (so HA can discover the device, with its name, under passive
        scanning too); encrypted, or while the readings are withheld (a key that cannot be used),
        without one (no plaintext BTHome from a device that should encrypt)."""
        return self._name_packets[1 if self._ccm is not None or self.withheld else 0]

    def packet(self, which):
        """Packet ``which`` (PACKET_A or PACKET_B) to put on air now, as a memoryview (or bytes);
        None when it has nothing to publish (the hold after boot, or no safe encryption counter).

        Call it each time the packet goes on air (each ``start_advertising``), and only then: it
        takes the next packet id and, encrypted, the next counter. Every ``RARE_EVERY``-th call
        for B whose values were already on air returns the next rare packet instead (status,
        identity, name in turn, each when it has content), so B's new values are never delayed.
        The view shows a buffer that the next call rewrites: ``_bleio`` copies it when
        advertising starts; keep ``bytes(view)`` to hold on to it.
        """
        if self.withheld:
            return None
        if self._hold_state != _HOLD_OVER:
            return None
        if which == PACKET_B:
            if self._b_on_air:
                self._b_slots += 1
                if self._b_slots >= RARE_EVERY:
                    self._b_slots = 0
                    for _ in range(3):
                        rare = self._rare
                        self._rare = RARE_STATUS if rare == RARE_NAME else rare + 1
                        if rare == RARE_NAME:
                            return self.idle_packet()
                        data = self._seal(rare)
                        if data is not None:
                            return data
            self._b_on_air = True
        return self._seal(which)

    def _seal(self, which):
        """Compose packet ``which``, encrypt it if there is a key; its view, or None."""
        plain = self._ccm is None
        n = self._compose(which, plain)
        if not plain and 0 < n < 3:
            # bthome-ble refuses encrypted data shorter than 11 bytes (3 of objects): a lone flag
            # (the meter silent) goes out with a packet id in front
            self._pid_always = True
            n = self._compose(which, plain)
            self._pid_always = False
        if n == 0 or (plain and n == 2):  # nothing, or a packet id alone
            return None
        buf = self._bufs[which]
        objects = self._objects[which]
        ccm = self._ccm
        if ccm is None:
            for i in range(n):
                buf[_PAYLOAD_AT + i] = objects[i]
            buf[7] = DI_PLAIN
        else:
            counter = self._take_counter()
            if counter is None:
                return None
            nonce = self._nonce
            payload = self._payloads[which]
            for i in range(4):
                nonce[9 + i] = (counter >> (8 * i)) & 0xFF
            ccm.encrypt_into(nonce, objects, n, payload)  # ciphertext | MIC
            for i in range(3, -1, -1):
                payload[n + 4 + i] = payload[n + i]  # the MIC goes after the counter
            for i in range(4):
                payload[n + i] = nonce[9 + i]
            n += 8
            buf[7] = DI_ENCRYPTED
        buf[3] = n + 4  # LL: type, UUID (2), DI, objects [, counter, MIC]
        n += _PAYLOAD_AT
        if self._view_lens[which] != n:
            self._views[which] = memoryview(buf)[:n]
            self._view_lens[which] = n
        return self._views[which]

    def _compose(self, which, plain):
        if which == PACKET_A:
            return self._compose_a(plain)
        if which == PACKET_B:
            return self._compose_b(plain)
        if which == RARE_STATUS:
            return self._compose_status(plain)
        return self._compose_identity(plain)

    def update(self, reading, now_ms, max_age_ms, first=None):
        """Take the values of ``reading`` at ``now_ms`` (older than ``max_age_ms``: left out).

        Returns CHANGED_A | CHANGED_B for the packets whose values changed (0: both stay as they
        are): put ``packet(which)`` on air again at once for the one on air. The end of the hold
        after boot changes both. ``first`` is ignored (kept for callers of the first version).
        """
        held = False
        ended = False
        if self._hold_state == _HOLD_NOT_STARTED:
            self._hold_until = ticks_add(now_ms, self._hold_ms)
            self._hold_state = _HOLD_ON
        if self._hold_state == _HOLD_ON:
            if ticks_less(now_ms, self._hold_until):
                held = True
            else:
                self._hold_state = _HOLD_OVER  # for good: a later ticks wrap cannot revive it
                ended = True
        silent = reading.silent(now_ms, max_age_ms)
        self._read_energy(reading, now_ms, max_age_ms, silent)
        self._read_instant(reading, now_ms, max_age_ms, silent)
        self._read_status(reading, now_ms, max_age_ms)
        self._read_identity(reading)
        changed = self._take(PACKET_A) | self._take(PACKET_B)
        self._take(RARE_STATUS)
        self._take(RARE_IDENTITY)
        if changed & CHANGED_B:
            self._b_on_air = False
        if held:
            return 0
        if ended:
            return CHANGED_A | CHANGED_B
        return changed

    def _take(self, which):
        """Adopt the values just read for packet ``which``; its CHANGED_ bit if they differ."""
        new = self._new[which]
        old = self._values[which]
        same = True
        for i in range(len(new)):
            if new[i] != old[i]:
                same = False
            old[i] = new[i]
        if same:
            return 0
        return CHANGED_A if which == PACKET_A else CHANGED_B

    # --- reading the meter's values --------------------------------------------------------------

    def _raise_flag(self, bit):
        """True when the problem ``bit`` starts (report it then, once); False while it lasts."""
        if self._flagged & bit:
            return False
        self._flagged |= bit
        return True

    def _read_energy(self, reading, now_ms, max_age_ms, silent):
        """The tariffs the meter offers, from T1 on (at most three): the receiver numbers energy
        objects by their place, so a gap would publish T3 as energy_2, and their count must not
        change while the meter is the same (one object is HA's "energy", several "energy_1"...).
        A tariff the meter gave once and that went stale leaves them all out. A meter that gives
        its total only (one tariff) sends that as the one energy object."""
        new = self._new[PACKET_A]
        offered = 0
        while offered < 3 and (reading.get(fields.ENERGY_T1 + offered, now_ms, max_age_ms) is not None
                               or reading.is_stale(fields.ENERGY_T1 + offered, now_ms, max_age_ms)):
            offered += 1
        complete = True
        too_big = False
        for i in range(3):
            value = reading.get(fields.ENERGY_T1 + i, now_ms, max_age_ms) if i < offered else None
            if i < offered and value is None:
                complete = False
            elif value is not None and (value < 0 or value > MAX_U32):
                too_big = True
            new[i] = value
        if offered == 0:
            total = reading.get(fields.TOTAL, now_ms, max_age_ms)
            too_big = total is not None and not 0 <= total <= MAX_U32
            new[0] = total
        if not too_big:
            self._flagged &= ~_FLAG_ENERGY_RANGE
        elif self._raise_flag(_FLAG_ENERGY_RANGE):
            self._report("bthome: energy registers %r, %r, %r Wh do not all fit 32 bits: energy "
                         "left out" % (new[0], new[1], new[2]))
        if too_big or not complete:
            new[0] = None
            new[1] = None
            new[2] = None
        new[3] = silent

    def _read_instant(self, reading, now_ms, max_age_ms, silent):
        new = self._new[PACKET_B]
        battery = self._fits(reading.get(fields.BATTERY, now_ms, max_age_ms), MAX_U8, _FLAG_BATTERY_RANGE, "battery %")
        new[0] = battery
        new[1] = self._fits(reading.get(fields.POWER, now_ms, max_age_ms), MAX_U24, _FLAG_POWER_RANGE, "power 0.01 W")
        current = reading.get(fields.CURRENT, now_ms, max_age_ms)
        if current is not None and current > MAX_U16:
            if self._raise_flag(_FLAG_CURRENT_CLAMPED):
                self._report("bthome: current %d mA is more than BTHome carries (65535 mA): "
                             "sending 65535 mA while it lasts" % current)
            current = MAX_U16
        else:
            self._flagged &= ~_FLAG_CURRENT_CLAMPED
        new[2] = self._fits(current, MAX_U16, 0, "current mA")
        voltage = reading.get(fields.VOLTAGE, now_ms, max_age_ms)
        if voltage is not None:
            voltage = (voltage + 5) // 10  # 0.01 V -> 0.1 V, half up
        new[3] = self._fits(voltage, MAX_U16, _FLAG_VOLTAGE_RANGE, "voltage 0.1 V")
        low = _any_flag(reading, _BATTERY_FLAGS, now_ms, max_age_ms)
        if battery is not None and (low is None or not low):
            low = battery <= BATTERY_LOW_PCT
        new[4] = low
        error = _any_flag(reading, fields.FLAG_METER_ERROR, now_ms, max_age_ms)
        new[5] = silent or error is True
        new[6] = _any_flag(reading, fields.FLAG_EMERGENCY, now_ms, max_age_ms)
        new[7] = _any_flag(reading, _TAMPER_FLAGS, now_ms, max_age_ms)

    def _read_status(self, reading, now_ms, max_age_ms):
        b = self._new[PACKET_B]
        new = self._new[RARE_STATUS]
        new[0] = b[0]  # battery
        new[1] = b[4]  # battery low
        new[2] = b[5]  # problem
        new[3] = b[6]  # emergency
        made = reading.made
        if made is not self._made_of:
            self._made_of = made
            self._made = _date_bcd(made)
            if made is not None and self._made is None:
                self._report("bthome: date of manufacture %r is not YYYY-MM-DD (or DD.MM.YYYY): not sent" % (made,))
        new[4] = self._made

    def _read_identity(self, reading):
        serial = reading.serial
        if serial is not self._serial_of:
            self._serial_of = serial
            raw = None if serial is None else serial.encode("utf-8")
            if raw is not None and not 0 < len(raw) <= MAX_SERIAL_PLAIN:
                self._report("bthome: serial number %r is not 1-%d bytes: not sent" % (serial, MAX_SERIAL_PLAIN))
                raw = None
            elif raw is not None and len(raw) > MAX_SERIAL and self._ccm is not None:
                self._report("bthome: serial number %r is over %d bytes: not sent while encrypted" % (
                    serial, MAX_SERIAL))
            self._serial = raw
        self._new[RARE_IDENTITY][0] = self._serial

    def _fits(self, value, limit, bit, what):
        """``value`` if its object can carry it, else None (reported once per episode)."""
        if value is None:
            return None
        if 0 <= value <= limit:
            self._flagged &= ~bit
            return value
        if bit and self._raise_flag(bit):
            self._report("bthome: %s %d does not fit its BTHome object (0-%d): left out" % (what, value, limit))
        return None

    # --- building ------------------------------------------------------------------------------

    def _take_pid(self, out):
        """Plain packets start with ``00 pid`` (one counter for every packet put on air);
        encrypted ones need none: HA drops repeats and older packets by their counter."""
        if self._ccm is not None and not self._pid_always:
            return 0
        pid = self._next_pid
        self._next_pid = (pid + 1) & 0xFF
        out[0] = OBJ_PACKET_ID
        out[1] = pid
        return 2

    def _compose_a(self, plain):
        """[pid] T1, T2, T3 [problem]: 19 bytes plain (0x4D); encrypted 14 with 0x0A while every
        tariff fits 24 bits, else 15 with 0x4D and no problem flag."""
        out = self._objects[PACKET_A]
        values = self._values[PACKET_A]
        at = self._take_pid(out)
        wide = plain
        for i in range(3):
            if values[i] is not None and values[i] > MAX_U24:
                wide = True
        if plain:
            at = _binary(out, at, OBJ_PROBLEM, values[3])
        for i in range(3):
            value = values[i]
            if value is not None:
                out[at] = OBJ_ENERGY_32 if wide else OBJ_ENERGY_24
                out[at + 1] = value & 0xFF
                out[at + 2] = (value >> 8) & 0xFF
                out[at + 3] = (value >> 16) & 0xFF
                at += 4
                if wide:
                    out[at] = (value >> 24) & 0xFF
                    at += 1
        if not plain and not wide:
            at = _binary(out, at, OBJ_PROBLEM, values[3])
        return at

    def _compose_b(self, plain):
        """Plain: pid, battery, power, battery low, problem, emergency, tamper, current, voltage
        (22 bytes); encrypted: power, problem, tamper, current, voltage (14). Unknown ones left out."""
        out = self._objects[PACKET_B]
        values = self._values[PACKET_B]
        at = self._take_pid(out)
        if plain:
            at = _uint(out, at, OBJ_BATTERY, values[0], 1)
        at = _uint(out, at, OBJ_POWER_24, values[1], 3)
        if plain:
            at = _binary(out, at, OBJ_BATTERY_LOW, values[4])
        at = _binary(out, at, OBJ_PROBLEM, values[5])
        if plain:
            at = _binary(out, at, OBJ_SAFETY, values[6])
        at = _binary(out, at, OBJ_TAMPER, values[7])
        at = _uint(out, at, OBJ_CURRENT, values[2], 2)
        at = _uint(out, at, OBJ_VOLTAGE, values[3], 2)
        return at

    def _compose_status(self, plain):
        """[pid] battery, battery low, problem, emergency, date of manufacture: 16 / 14 bytes."""
        out = self._objects[RARE_STATUS]
        values = self._values[RARE_STATUS]
        at = self._take_pid(out)
        at = _uint(out, at, OBJ_BATTERY, values[0], 1)
        at = _binary(out, at, OBJ_BATTERY_LOW, values[1])
        at = _binary(out, at, OBJ_PROBLEM, values[2])
        at = _binary(out, at, OBJ_SAFETY, values[3])
        made = values[4]
        if made is not None:
            out[at] = OBJ_RAW
            out[at + 1] = 4
            for i in range(4):
                out[at + 2 + i] = (made >> (24 - 8 * i)) & 0xFF
            at += 6
        return at

    def _compose_identity(self, plain):
        """[pid] the serial number as text: at most 23 / 15 bytes; 0 when unknown (or too long to go
        encrypted)."""
        serial = self._values[RARE_IDENTITY][0]
        if serial is None or (not plain and len(serial) > MAX_SERIAL):
            return 0
        out = self._objects[RARE_IDENTITY]
        at = self._take_pid(out)
        out[at] = OBJ_TEXT
        out[at + 1] = len(serial)
        for i in range(len(serial)):
            out[at + 2 + i] = serial[i]
        return at + 2 + len(serial)

    def _take_counter(self):
        """The next encryption counter, reserving a new block first when needed; None if no
        counter can be used safely (the store failed, or all 2**32 are spent)."""
        if not self._counter_loaded:
            try:
                stored = self._store.load()
            except Exception as error:  # a flash read error must not end the firmware
                if self._raise_flag(_FLAG_COUNTER):
                    self._report("bthome: the counter store cannot be read (%r): no encrypted "
                                 "packets" % (error,))
                return None
            if stored is None:
                stored = 0
            if not isinstance(stored, int) or stored < 0:
                if self._raise_flag(_FLAG_COUNTER):
                    self._report("bthome: the counter store holds %r: no encrypted packets" % (stored,))
                return None
            self._counter = stored
            self._counter_end = stored
            self._counter_loaded = True
        counter = self._counter
        if counter >= self._counter_end:
            if counter >= _COUNTER_END:
                if self._raise_flag(_FLAG_COUNTER):
                    self._report("bthome: all 2**32 encryption counters are used: no encrypted packets")
                return None
            end = counter + self._block
            if end > _COUNTER_END:
                end = _COUNTER_END
            try:
                self._store.save(end)
            except Exception as error:  # never use a counter that a reboot could hand out again
                if self._raise_flag(_FLAG_COUNTER):
                    self._report("bthome: the counter store cannot be written (%r): no encrypted "
                                 "packets" % (error,))
                return None
            self._counter_end = end
            if self._block < self._block_max:
                self._block = min(2 * self._block, self._block_max)
        self._flagged &= ~_FLAG_COUNTER
        self._counter = counter + 1
        return counter


def _uint(out, at, object_id, value, size):
    """``object_id`` and ``value`` (``size`` bytes, little-endian) at ``at`` unless value is None."""
    if value is None:
        return at
    out[at] = object_id
    for i in range(size):
        out[at + 1 + i] = (value >> (8 * i)) & 0xFF
    return at + 1 + size


def _binary(out, at, object_id, value):
    if value is None:
        return at
    out[at] = object_id
    out[at + 1] = 1 if value else 0
    return at + 2


def _cut(raw, limit):
    """``raw`` (UTF-8) cut to at most ``limit`` bytes, never inside a character."""
    if len(raw) <= limit:
        return raw
    cut = limit
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:
        cut -= 1
    return raw[:cut]


def _name_ad(raw, limit):
    """The local name AD structure: ``LL 09 name``, or ``LL 08 name-cut`` if over ``limit``."""
    if not raw:
        return b""
    kind = _AD_COMPLETE_NAME
    if len(raw) > limit:
        raw = _cut(raw, limit)
        kind = _AD_SHORT_NAME
    return bytes((len(raw) + 1, kind)) + raw


def _any_flag(reading, bits, now_ms, max_age_ms):
    """True when one of the FLAG_* ``bits`` that the meter reports is set, False when none is,
    None when it reports none of them (or its flags are stale): the object is left out."""
    if not reading.flags_known & bits:
        return None
    if not reading.flags(now_ms, max_age_ms):
        return None
    return bool(reading.flag_bits & bits)


def _date_bcd(text):
    """"YYYY-MM-DD" (kaskad.reading), or "DD.MM.YYYY" (the KASKAD-1-MT's factory string, as its
    driver passes it on) -> 0xDDMMYYYY as BCD digits (HA's Raw sensor then shows "DDMMYYYY", as
    the first firmware sent it); None for anything else."""
    if text is None or len(text) != 10:
        return None
    if text[4] == "-" and text[7] == "-":
        order = (8, 9, 5, 6, 0, 1, 2, 3)
    elif text[2] == "." and text[5] == ".":
        order = (0, 1, 3, 4, 6, 7, 8, 9)
    else:
        return None
    value = 0
    for i in order:
        digit = ord(text[i]) - 48
        if not 0 <= digit <= 9:
            return None
        value = (value << 4) | digit
    return value
