"""kaskad.bthome against Home Assistant's own receiver (host/ha_view.py: bluetooth-data-tools ->
habluetooth -> bthome-ble), never against bytes produced by the same code.

The expected values come from the Reading in its fixed units, converted to HA's units here with
Decimal (kWh, %, W, A, V; voltage rounded half up to 0.1 V; current above 65.535 A clamped).
AES runs on the strict aesio stand-in.
"""
import random
from decimal import ROUND_HALF_UP, Decimal

import logging

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hypothesis import given, settings, strategies as st

import _bleio
import _harness
from ha_view import HomeAssistantView, decode
from kaskad import bthome, reading as fields

MAC = "C8:1D:F5:ED:A8:35"
MAC_BYTES = bytes.fromhex("C81DF5EDA835")
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
NAME = "KASKAD 20109"
A, B = bthome.PACKET_A, bthome.PACKET_B
FIELDS = ("t1", "t2", "t3", "battery", "power", "current", "voltage")
FIELD_IDS = {"t1": fields.ENERGY_T1, "t2": fields.ENERGY_T1 + 1, "t3": fields.ENERGY_T1 + 2,
             "battery": fields.BATTERY, "power": fields.POWER, "current": fields.CURRENT,
             "voltage": fields.VOLTAGE}
ALL_FLAGS = 0
for _bit, _name in fields.FLAG_NAMES:
    ALL_FLAGS |= _bit
FULL = {"t1": 12345678, "t2": 2345, "t3": 0, "battery": 96, "power": 123000, "current": 5432,
        "voltage": 22990}


def reading(values, confirmed_ms=0):
    r = fields.Reading()
    for name, value in values.items():
        if value is not None:
            r.set(FIELD_IDS[name], value, confirmed_ms)
    return r


def broadcaster(key=None, store=None, lines=None, name=NAME, **kwargs):
    if store is None and key is not None:
        store = bthome.MemoryCounterStore()
    kwargs.setdefault("hold_ms", 0)  # the hold after boot has its own tests
    return bthome.Broadcaster(MAC_BYTES, name, key, store,
                              (lines if lines is not None else []).append, **kwargs)


def expected_ha(values):
    """What HA must show for these meter values, in HA's units."""
    out = {}
    tariffs = [values.get(name) for name in ("t1", "t2", "t3")]
    offered = tariffs[:tariffs.index(None)] if None in tariffs else tariffs  # from T1, without a gap
    if len(offered) == 1:  # one energy object: HA does not number it
        out["energy"] = float(Decimal(offered[0]) / 1000)
    elif offered:
        for i, wh in enumerate(offered):
            out["energy_%d" % (i + 1)] = float(Decimal(wh) / 1000)
    if values.get("battery") is not None:
        out["battery"] = values["battery"]
    if values.get("power") is not None:
        out["power"] = float(Decimal(values["power"]) / 100)
    if values.get("current") is not None:
        out["current"] = float(Decimal(min(values["current"], 65535)) / 1000)
    if values.get("voltage") is not None:
        volts = (Decimal(values["voltage"]) / 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        out["voltage"] = float(volts)
    return out


def without_packet_id(ha):
    """The meter's values only: no packet id, and none of the flags and identity that
    test_flags_identity_and_silence covers."""
    return {k: v for k, v in ha.items()
            if k not in ("packet_id", "text", "raw") and not k.startswith("binary_")}


def packet_bytes(b, which):
    view = b.packet(which)
    return None if view is None else bytes(view)


def ha_sees(b, key=None):
    """Every packet (A, then B's slot until each rare packet came round) through fresh receivers
    (no history), merged: HA's values for this state."""
    seen = {}
    for which in [A] + [B] * (3 * bthome.RARE_EVERY + 2):
        packet = packet_bytes(b, which)
        if packet is not None:
            assert len(packet) <= 31
            seen.update(without_packet_id(decode(packet, b.scan_response, key, MAC)))
    return seen


# --- values round trip ------------------------------------------------------------------------------

energy = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 16777215, 16777216, 2**32 - 1]))
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
readings = st.fixed_dictionaries({
    "t1": maybe(energy), "t2": maybe(energy), "t3": maybe(energy),
    "battery": maybe(st.integers(0, 100)),
    "power": maybe(st.one_of(st.integers(0, 6_000_000), st.just(0xFFFFFF))),
    "current": maybe(st.one_of(st.integers(0, 200_000), st.sampled_from([65535, 65536]))),
    "voltage": maybe(st.one_of(st.integers(0, 50_000), st.sampled_from([22994, 22995, 655344]))),
})


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
@settings(max_examples=300, deadline=None)
@given(values=readings)
def test_every_value_reaches_home_assistant_in_its_unit(key, values):
    lines = []
    b = broadcaster(key, lines=lines)
    changed = b.update(reading(values), 1000, 300_000)
    want = expected_ha(values)
    assert ha_sees(b, key) == want
    # A and B always carry the problem flag; it changed (from unknown) in both
    assert b.packet(A) is not None and b.packet(B) is not None
    assert changed == bthome.CHANGED_A | bthome.CHANGED_B
    clamped = values["current"] is not None and values["current"] > 65535
    assert len([line for line in lines if "65535 mA" in line]) == (1 if clamped else 0)
    assert len(lines) == (1 if clamped else 0), lines


@pytest.mark.parametrize("key, energy_wh, sizes", [
    (None, 12_345_678, (27, 30)),  # A: pid, problem, 3 x 0x4D; B: every object it has
    (None, 2**32 - 1, (27, 30)),
    (KEY, 16_777_215, (30, 30)),  # 0x0A uint24 and the problem flag; no packet ids encrypted
    (KEY, 16_777_216, (31, 30)),  # 0x4D uint32 without the problem flag: 31 bytes, still legacy
    (KEY, 2**32 - 1, (31, 30)),
], ids=["plain", "plain-max", "encrypted-0x0A", "encrypted-0x4D", "encrypted-max"])
def test_advertisement_sizes_and_extremes(key, energy_wh, sizes):
    values = dict(FULL, t1=0, t2=energy_wh, t3=energy_wh // 2, current=200_000)
    b = broadcaster(key)
    r = reading(values)
    r.set_flags(ALL_FLAGS, ALL_FLAGS, 0)  # every flag known: B at its largest
    b.update(r, 0, 1000)
    assert (len(b.packet(A)), len(b.packet(B))) == sizes
    assert ha_sees(b, key) == expected_ha(values)
    _harness.reset()  # ... and the radio takes them as legacy advertisements with a scan response
    _bleio.adapter.enabled = True  # off at power-on; code.py turns it on by reading the address
    for which in (A, B):
        _bleio.adapter.start_advertising(b.packet(which), scan_response=b.scan_response, interval=1)
        assert _harness.ble_on_air()[3:] == (False, True)  # not extended, connectable
        _bleio.adapter.stop_advertising()


def test_zero_everywhere():
    values = {name: 0 for name in FIELDS}
    for key in (None, KEY):
        b = broadcaster(key)
        b.update(reading(values), 0, 1000)
        assert ha_sees(b, key) == expected_ha(values)


def test_the_worked_example_of_bthome_md_reads_the_same_in_home_assistant():
    values = {"battery": 96, "power": 123000, "current": 5432, "voltage": 22990}
    b = broadcaster()
    b.update(reading(values), 0, 1000)
    ha = HomeAssistantView()
    got = ha.receive(bytes(b.packet(B)), b.scan_response, MAC, 1.0)
    assert without_packet_id(got) == {"battery": 96, "power": 1230.0, "current": 5.432, "voltage": 229.9}
    assert ha.title(MAC) == "KASKAD 20109 A835"


def test_voltage_rounds_half_up_from_centivolts():
    for cv, volts in ((22994, 229.9), (22995, 230.0), (22999, 230.0), (5, 0.1), (4, 0.0)):
        b = broadcaster()
        b.update(reading({"voltage": cv}), 0, 1000)
        assert ha_sees(b)["voltage"] == volts


def test_current_over_65535_ma_is_clamped_and_reported_once_per_episode():
    lines = []
    b = broadcaster(lines=lines)
    for ma, sent in ((70000, 65535), (80000, 65535), (65535, 65535), (90000, 65535), (1000, 1000)):
        b.update(reading({"current": ma}), 0, 1000)
        assert ha_sees(b)["current"] == sent / 1000
    assert len(lines) == 2 and all("65535 mA" in line for line in lines)


def test_values_that_do_not_fit_their_object_are_left_out_and_reported():
    lines = []
    b = broadcaster(lines=lines)
    b.update(reading(dict(FULL, t2=2**32, battery=300, power=2**24, voltage=700_000)), 0, 1000)
    assert ha_sees(b) == {"current": 5.432}
    assert len(lines) == 4
    b.update(reading(dict(FULL, t2=2**32, battery=300, power=2**24, voltage=700_000)), 0, 1000)
    assert len(lines) == 4  # once per episode


# --- never stale, never renumbered ---------------------------------------------------------------


def test_a_stale_value_is_left_out_not_repeated():
    r = reading(FULL, confirmed_ms=0)
    r.set(fields.VOLTAGE, 23010, 250_000)
    b = broadcaster()
    assert b.update(r, 100_000, 300_000) == bthome.CHANGED_A | bthome.CHANGED_B
    assert ha_sees(b) == expected_ha(FULL | {"voltage": 23010})
    assert b.update(r, 300_001, 300_000) == bthome.CHANGED_A | bthome.CHANGED_B
    assert ha_sees(b) == {"voltage": 230.1}
    assert without_packet_id(decode(bytes(b.packet(A)), None, None, MAC)) == {}  # the problem flag alone
    assert b.update(r, 550_001, 300_000) == bthome.CHANGED_B
    assert ha_sees(b) == {}


def test_tariffs_go_together_or_not_at_all():
    """HA numbers energy objects by position: without T1, T2 would become energy_1."""
    b = broadcaster()
    b.update(reading(dict(FULL, t1=None)), 0, 1000)
    assert not any(k.startswith("energy") for k in decode(bytes(b.packet(A)), None, None, MAC))
    assert not any(k.startswith("energy") for k in ha_sees(b))


# --- tampering and keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("energy_wh", [12_345_678, 20_000_000], ids=["0x0A", "0x4D"])
def test_a_flipped_bit_anywhere_is_rejected(energy_wh):
    b = broadcaster(KEY)
    values = dict(FULL, t1=energy_wh)
    b.update(reading(values), 0, 1000)
    for which in (A, B):
        packet = bytes(b.packet(which))
        original = decode(packet, b.scan_response, KEY, MAC)
        assert without_packet_id(original)
        for bit in range(8 * len(packet)):
            flipped = bytearray(packet)
            flipped[bit // 8] ^= 1 << (bit % 8)
            got = decode(bytes(flipped), b.scan_response, KEY, MAC)
            if bit < 24:
                # The Flags AD (02 01 06) is outside the BTHome data and its MIC: a flip there may
                # still reach HA, but only as the very same values.
                assert got in ({}, original), (which, bit)
            else:
                assert got == {}, (which, bit, got)


def test_wrong_or_missing_bindkey_yields_nothing_and_no_crash():
    b = broadcaster(KEY)
    b.update(reading(FULL), 0, 1000)
    for key in (None, bytes(16), KEY[:-1] + bytes([KEY[-1] ^ 1]), KEY[::-1]):
        ha = HomeAssistantView(key)
        for t in range(6):
            assert ha.receive(bytes(b.packet(t % 2)), b.scan_response, MAC, float(t)) == {}
    plain = broadcaster()
    plain.update(reading(FULL), 0, 1000)
    ha = HomeAssistantView(KEY)  # HA has a key: plaintext from that address is a downgrade
    assert ha.receive(bytes(plain.packet(B)), plain.scan_response, MAC, 1.0) == {}


def test_switching_the_key_rebuilds_both_packets_at_once():
    b = broadcaster(None, store=bthome.MemoryCounterStore())
    b.update(reading(FULL), 0, 1000)
    plain = (packet_bytes(b, A), packet_bytes(b, B))
    b.set_bindkey(KEY)
    assert b.encrypted
    assert packet_bytes(b, A)[7] == packet_bytes(b, B)[7] == 0x41
    assert ha_sees(b, KEY) == expected_ha(FULL) and ha_sees(b) == {}
    b.set_bindkey(None)
    assert ha_sees(b) == expected_ha(FULL) and not b.encrypted
    assert packet_bytes(b, A)[7] == 0x40 and packet_bytes(b, A) != plain[0]  # a new packet id


def test_a_key_needs_a_counter_store():
    with pytest.raises(ValueError):
        bthome.Broadcaster(MAC_BYTES, NAME, KEY, None, print)
    with pytest.raises(ValueError):
        bthome.Broadcaster(MAC_BYTES[:5], NAME, None, None, print)


# --- the radio: alternating packets, dedup, ids and counters ---------------------------------------


class Radio:
    """Puts A and B on air alternately, one slot a second, heard by ONE Home Assistant receiver.

    Each slot is a ``start_advertising`` and so one ``packet()`` call; the radio repeats those bytes
    at every advertising interval, and HA hears the first advertisement of the slot, then
    ``repeats`` more copies (the next intervals, or another proxy). HA's Bluetooth manager would
    drop copies identical to the previous advertisement before bthome-ble sees them; here they go
    to bthome-ble (``suppress_identical=False``) so its own packet-id dedup is what is tested.
    """

    def __init__(self, b, key, t=0.0, repeats=2):
        self.b = b
        self.key = key
        self.ha = HomeAssistantView(key, suppress_identical=False)
        self.t = t
        self.next = A
        self.repeats = repeats
        self.log = []  # (which, bytes, values HA took from the first advertisement)

    def send(self, heard=True):
        """One slot; returns (values from its first advertisement, values from the repeats)."""
        which = self.next
        self.next = B if which == A else A
        packet = packet_bytes(self.b, which)
        self.t += 1.0
        if packet is None or not heard:
            return None
        got = self.ha.receive(packet, self.b.scan_response, MAC, self.t)
        again = {}
        for i in range(self.repeats):
            again.update(self.ha.receive(packet, self.b.scan_response, MAC, self.t + 0.1 * (i + 1)))
        self.log.append((which, packet, got))
        return got, again


def apply_change(values, which, step):
    if which in ("A", "AB"):
        values["t1"] += 1 + step % 7
    if which in ("B", "AB"):
        values["power"] += 1 + step % 5


def assert_current(got, values, which, key=None):
    """HA's values from packet ``which`` are exactly the reading's, all of them. B's slot now and
    then carries a rare packet (status: the battery; identity, name: none of these values)."""
    want = expected_ha(values)
    got = without_packet_id(got)
    if which == B and "power" not in got:
        assert set(got) <= {"battery"} and all(got[k] == want[k] for k in got), got
        return
    part = {k: v for k, v in want.items() if k.startswith("energy") == (which == A)
            and not (key is not None and k == "battery")}  # encrypted B leaves the battery to status
    assert got == part


def assert_no_repeat(again, got, key=KEY):
    """Plain: bthome-ble drops the copies of a slot by their packet id. Encrypted packets carry
    none (no room): HA's Bluetooth manager drops identical copies before bthome-ble (and the
    bthome-ble that HA 2025.4 pins drops identical encrypted data too; tests_ha shows both);
    the newer one here takes a copy within 4 s again, with the very same values."""
    if key is None:
        assert again == {}
    else:
        assert all(got.get(k) == v for k, v in again.items()), (again, got)


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["A", "B", "AB", ""]), st.integers(1, 4),
                                st.lists(st.booleans(), min_size=4, max_size=4)),
                      min_size=1, max_size=50))
def test_every_slot_heard_is_taken_once_and_its_repeats_are_dropped(key, steps):
    """Whatever HA missed before (lost slots), the first advertisement of each slot it hears is
    accepted with the current values, and the copies of it are dropped."""
    values = dict(FULL)
    b = broadcaster(key)
    radio = Radio(b, key)
    b.update(reading(values), 0, 1000)
    for step, (which, slots, heard) in enumerate(steps):
        apply_change(values, which, step)
        changed = b.update(reading(values), 0, 1000)
        assert changed == (bthome.CHANGED_A if "A" in which else 0) | (bthome.CHANGED_B if "B" in which else 0)
        for slot in range(slots):
            result = radio.send(heard[slot])
            if result is not None:
                got, again = result
                assert_current(got, values, radio.log[-1][0], radio.key)
                assert_no_repeat(again, got, key)


def test_ids_are_one_sequence_over_both_packets_in_the_order_they_go_on_air():
    b = broadcaster()
    b.update(reading(FULL), 0, 1000)
    order = [A, A, B, A, B, B, B, A] * 40  # 320 slots: ids wrap at 256
    decoded = [decode(packet_bytes(b, which), None) for which in order]
    ids = [got["packet_id"] for got in decoded if "packet_id" in got]  # the name packet has none
    assert len(ids) >= len(order) - len(order) // (3 * bthome.RARE_EVERY)
    assert ids == [i % 256 for i in range(len(ids))]


def test_home_assistant_that_missed_a_slot_still_takes_the_other_packet():
    """The radio put B on air and switched to A at once (or HA missed B's slot): HA's first
    packet is A. With ids kept per content B would now be "older" than A, and with the packets
    alternating every 3 s HA would never take it; with an id per slot it takes B's next slot."""
    values = dict(FULL)
    b = broadcaster()
    radio = Radio(b, None)
    b.update(reading(values), 0, 1000)
    radio.next = B
    radio.send(heard=False)
    for slot in range(6):
        got, _ = radio.send()
        assert_current(got, values, radio.log[-1][0], radio.key)
    assert {which for which, *_ in radio.log} == {A, B}


def test_both_changed_and_b_goes_on_air_first():
    for key in (None, KEY):
        values = dict(FULL)
        b = broadcaster(key)
        radio = Radio(b, key)
        b.update(reading(values), 0, 1000)
        radio.send()
        radio.send()
        radio.send()  # A, B, A; B is next
        apply_change(values, "AB", 0)
        assert b.update(reading(values), 0, 1000) == bthome.CHANGED_A | bthome.CHANGED_B
        got, _ = radio.send()
        assert_current(got, values, B, key)
        got, _ = radio.send()
        assert_current(got, values, A, key)


def test_home_assistant_logs_no_replay_warning(caplog):
    """Sealed at each slot, every packet on air has the highest counter yet. Resending the bytes
    sealed for an earlier slot instead makes bthome-ble log a WARNING each time the packet with
    the lower counter comes round: that is what per-slot sealing avoids."""
    values = dict(FULL)
    b = broadcaster(KEY, store=bthome.MemoryCounterStore(10_000))  # HA lets counters < 100 pass
    radio = Radio(b, KEY)
    b.update(reading(values), 0, 1000)
    with caplog.at_level(logging.WARNING, logger="bthome_ble"):
        for step in range(40):
            if step % 10 == 0:
                apply_change(values, "AB", step)
                b.update(reading(values), 0, 1000)
            got, _ = radio.send()
            assert_current(got, values, radio.log[-1][0], radio.key)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    caplog.clear()
    frozen = {A: packet_bytes(b, A), B: packet_bytes(b, B)}  # sealed once, then resent as is
    ha = HomeAssistantView(KEY)
    with caplog.at_level(logging.WARNING, logger="bthome_ble"):
        for i in range(10):
            ha.receive(frozen[i % 2], b.scan_response, MAC, 100.0 + i)
    assert len([r for r in caplog.records if "encryption counter" in r.getMessage()]) == 4


def test_an_encrypted_packet_costs_4_aes_blocks_and_an_update_none():
    b = broadcaster(KEY)
    start = _harness.aes_block_count()
    assert b.update(reading(FULL), 0, 1000)
    assert _harness.aes_block_count() == start
    for which in (A, B, A, B):
        before = _harness.aes_block_count()
        assert b.packet(which) is not None
        assert _harness.aes_block_count() - before == 4  # CBC-MAC: B0 + 1 block; CTR: A0 + A1


# --- counters across reboots ---------------------------------------------------------------------


def sent_counter(packet):
    return int.from_bytes(packet[-8:-4], "little")


def test_1000_reboots_never_reuse_a_nonce_and_home_assistant_keeps_accepting():
    rng = random.Random(20109)
    store = bthome.MemoryCounterStore()
    values = dict(FULL)
    radio = None
    used = set()  # every counter (nonce) ever sent with this key
    highest = -1
    boots_that_encrypted = 0
    lines = []
    for boot in range(1000):
        b = broadcaster(KEY, store=store, lines=lines)  # a new Broadcaster over the same store
        if radio is None:
            radio = Radio(b, KEY)  # ONE receiver for all 1000 boots
        radio.b = b
        radio.next = A
        radio.t += 5.0  # reset, boot, BLE up, first poll
        counters = []
        for update in range(rng.randint(0, 3)):  # sometimes the power goes before the first poll
            apply_change(values, rng.choice(["A", "B", "AB"]), update)
            b.update(reading(values), 0, 1000)
            for _ in range(rng.randint(1, 4)):
                got, again = radio.send()
                counter = sent_counter(radio.log[-1][1])
                assert counter not in used, "a nonce used twice"
                used.add(counter)
                counters.append(counter)
                assert_current(got, values, radio.log[-1][0], radio.key)
                assert_no_repeat(again, got)
        if counters:
            boots_that_encrypted += 1
            assert min(counters) > highest, "a counter after a reboot is not above every earlier one"
            highest = max(counters)
    assert lines == []
    assert store.saves == boots_that_encrypted  # one block per boot: fewer than 1024 packets each
    assert len(radio.ha.devices) == 1 and radio.ha.device(MAC).bindkey_verified


def test_counters_resume_above_the_saved_end():
    store = bthome.MemoryCounterStore(1_000_000)
    b = broadcaster(KEY, store=store)
    b.update(reading(FULL), 0, 1000)
    assert sent_counter(packet_bytes(b, A)) == 1_000_000
    assert sent_counter(packet_bytes(b, B)) == 1_000_001
    assert sent_counter(packet_bytes(b, B)) == 1_000_002  # the same content, sealed anew
    assert store.end == 1_000_000 + bthome.COUNTER_BLOCK_FIRST and store.saves == 1


def test_with_the_default_radio_the_store_is_written_about_once_a_day():
    """Packets alternate every 3 s, a poll every 60 s changes both (and restarts the one on air)."""
    store = bthome.MemoryCounterStore()
    values = dict(FULL)
    b = broadcaster(KEY, store=store)
    on_air = A
    saves_per_day = []
    for day in range(4):
        before = store.saves
        for second in range(0, 86400, 3):
            if second % 60 == 0:
                apply_change(values, "AB", second)
                if b.update(reading(values), 0, 1000):
                    assert packet_bytes(b, on_air) is not None  # restart with the new content
            on_air = B if on_air == A else A
            assert packet_bytes(b, on_air) is not None
        saves_per_day.append(store.saves - before)
    assert saves_per_day[0] <= 6  # the ramp after the boot: 1 024, 2 048, ... 32 768
    assert all(n <= 1 for n in saves_per_day[2:]), saves_per_day  # then one per 32 768 (~26 h)
    assert store.end <= sent_counter(packet_bytes(b, A)) + bthome.COUNTER_BLOCK_MAX


class FlakyStore(bthome.MemoryCounterStore):
    def __init__(self, end=None):
        super().__init__(end)
        self.fail_load = False
        self.fail_save = False

    def load(self):
        if self.fail_load:
            raise OSError(5, "flash read")
        return super().load()

    def save(self, end):
        if self.fail_save:
            raise OSError(5, "flash write")
        super().save(end)


def test_a_failing_store_stops_encryption_instead_of_risking_a_counter():
    store = FlakyStore()
    store.fail_save = True
    lines = []
    b = broadcaster(KEY, store=store, lines=lines)
    b.update(reading(FULL), 0, 1000)
    for _ in range(3):
        # B's slot may hold the name packet, which has no BTHome data and so no counter
        assert b.packet(A) is None and b.packet(B) in (None, b.idle_packet())
    assert len(lines) == 1 and "cannot be written" in lines[0]
    store.fail_save = False
    assert ha_sees(b, KEY) == expected_ha(FULL)  # tried again at the next packet() call
    assert store.saves == 1

    store = FlakyStore(4096)
    store.fail_load = True
    lines = []
    b = broadcaster(KEY, store=store, lines=lines)
    b.update(reading(FULL), 0, 1000)
    assert b.packet(A) is None and "cannot be read" in lines[0]
    store.fail_load = False
    b.update(reading(FULL), 0, 1000)
    assert sent_counter(bytes(b.packet(A))) == 4096


def test_the_last_counter_is_2_to_the_32_minus_1():
    lines = []
    b = broadcaster(KEY, store=bthome.MemoryCounterStore(2**32 - 1), lines=lines)
    b.update(reading(FULL), 0, 1000)
    assert sent_counter(bytes(b.packet(A))) == 2**32 - 1
    assert b.packet(B) is None and len(lines) == 1 and "2**32" in lines[0]


# --- the scan response ---------------------------------------------------------------------------------


def test_scan_response_carries_the_complete_name():
    b = broadcaster(name=NAME)
    assert b.scan_response == bytes([len(NAME) + 1, 0x09]) + NAME.encode()
    b = broadcaster(name="x" * 29)
    assert len(b.scan_response) == 31 and b.scan_response[1] == 0x09


def test_a_name_over_29_bytes_is_cut_at_a_character_and_sent_as_shortened():
    lines = []
    name = "Счётчик электроэнергии квартиры"  # 31 characters, 58 bytes in UTF-8
    b = broadcaster(name=name, lines=lines)
    assert len(b.scan_response) <= 31 and b.scan_response[1] == 0x08
    assert len(lines) == 1
    b.update(reading(FULL), 0, 1000)
    ha = HomeAssistantView()
    ha.receive(bytes(b.packet(B)), b.scan_response, MAC, 1.0)
    longest = max(i for i in range(len(name) + 1) if len(name[:i].encode()) <= 29)
    assert ha.title(MAC) == name[:longest] + " A835"  # "Счётчик электро": 29 bytes
    assert broadcaster(name="").scan_response == b""


def test_the_packets_on_air_reach_home_assistant():
    """Through the _bleio stand-in: what the radio sends over virtual time, decoded by HA."""
    b = broadcaster(KEY)
    b.update(reading(FULL), 0, 1000)
    adapter = _bleio.adapter
    adapter.enabled = True  # off at power-on; code.py turns it on by reading the address
    clock = _harness.clock()
    for which in [A, B] * (3 * bthome.RARE_EVERY):  # until the rare status packet (battery) came
        adapter.start_advertising(b.packet(which), scan_response=b.scan_response, interval=0.5)
        clock.advance_to(clock.now_ns() + 1_500_000_000)
        adapter.stop_advertising()
    ha = HomeAssistantView(KEY)
    merged = {}
    for t_ns, adv, scan, extended, connectable in _harness.ble_adv_events(0, clock.now_ns()):
        assert not extended and connectable and len(adv) <= 31
        merged.update(without_packet_id(ha.receive(adv, scan, MAC, t_ns / 1e9)))
    assert merged == expected_ha(FULL)


# --- the meter's flags, identity and silence; the name; the hold after boot ------------------------


def every_packet(b, key=None, slots=3 * bthome.RARE_EVERY + 2):
    """A, then B's slot until every rare packet came round: [(bytes, what HA makes of it)]."""
    out = []
    for which in [A] + [B] * slots:
        packet = packet_bytes(b, which)
        if packet is not None:
            assert len(packet) <= 31
            out.append((packet, decode(packet, None, key, MAC)))  # no scan response: passive
    return out


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
@pytest.mark.parametrize("flags, tamper, unsafe", [
    (0, False, False), (fields.FLAG_SEAL_TERMINAL_OPEN, True, False), (fields.FLAG_SEAL_CASE_OPEN, True, False),
    (fields.FLAG_SEAL_MODULE_OPEN, True, False), (fields.FLAG_MAGNET_DC, True, False),
    (fields.FLAG_MAGNET_AC, True, False),
    (fields.FLAG_IMBALANCE | fields.FLAG_METER_ERROR, False, False), (fields.FLAG_EMERGENCY, False, True),
], ids=["clear", "P1", "P2", "P3", "M1", "M2", "other-bits", "ND"])
def test_flags_identity_and_silence(key, flags, tamper, unsafe):
    """Each seal and magnet flag is tamper, emergency is unsafe, no other flag counts; the serial
    and the date of manufacture come in the rare packets; all of it as bthome-ble decodes it."""
    r = reading(dict(FULL, battery=10))
    known = ALL_FLAGS & ~fields.FLAG_METER_ERROR  # a meter error would be a problem (tested apart)
    r.set_flags(flags & known, known, 0)
    r.serial, r.made = "3171112520109", "2017-10-04"
    b = broadcaster(key)
    b.update(r, 1000, 300_000)
    seen = {}
    for packet, got in every_packet(b, key):
        seen.update(got)
    assert seen["binary_tamper"] is tamper and seen["binary_safety"] is unsafe
    assert seen["binary_problem"] is False and seen["binary_battery"] is True  # 10 %: low
    assert seen["text"] == "3171112520109" and seen["raw"] == "04102017"
    # the meter falls silent: after the maximum age every packet says so, and no flag is stale
    b.update(r, 300_001, 300_000)
    seen = {}
    for packet, got in every_packet(b, key):
        assert got.get("binary_problem") in (True, None), got
        seen.update(got)
    assert seen["binary_problem"] is True
    assert not {"binary_tamper", "binary_safety", "binary_battery", "battery", "power"} & set(seen)
    # the next good poll clears it
    r = reading(dict(FULL, battery=10), confirmed_ms=300_100)
    b.update(r, 300_200, 300_000)
    assert all(got.get("binary_problem") in (False, None) for _, got in every_packet(b, key))


def test_a_meter_never_heard_is_a_problem_and_a_serial_too_long_is_reported_not_cut():
    lines = []
    b = broadcaster(lines=lines)
    r = fields.Reading()
    r.serial, r.made = "12345678901234567890", "2017/10/04"
    b.update(r, 0, 1000)
    seen = {}
    for _, got in every_packet(b):
        seen.update(got)
    assert seen["binary_problem"] is True and "text" not in seen and "raw" not in seen
    assert len(lines) == 2 and "serial" in lines[1] and "YYYY-MM-DD" in lines[0], lines


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
@pytest.mark.parametrize("name, sent", [
    ("KASKAD 20109", "KASKAD 20109"),
    ("Счётчик кв 7", "Счётчик кв 7"),  # 21 bytes: fits plain
    ("Электросчётчик подвал", None),  # 40 bytes: cut at a character
])
def test_the_name_packet_carries_the_name_under_passive_scanning(key, name, sent):
    """For the hold after boot, and once in every round of rare packets, the advertisement itself
    carries the name: a passive scanner (no scan response) learns it."""
    b = broadcaster(key, name=name)
    b.update(reading(FULL), 0, 1000)
    names = []
    for packet, _ in every_packet(b, key):
        view = HomeAssistantView(key)
        info = view.service_info(packet, None, MAC, 1.0)
        if info.name != MAC:
            names.append(info.name)
    assert names, "no advertisement carried the name"
    limit = 26 if key else 21
    if sent is None:
        assert all(name.startswith(n) and len(n.encode()) <= limit and len(n.encode()) > limit - 2 for n in names)
    else:
        assert set(names) == {sent}


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
def test_after_a_reboot_no_packet_is_dropped(key):
    """HA's receiver lives on; the board reboots within a second of its last packet and starts
    again at packet id 0. For HOLD_MS it sends only its name (no data HA would take), so more than
    4 s pass since HA's last accepted packet and the first data packet is taken."""
    ha = HomeAssistantView(key, suppress_identical=False)
    store = bthome.MemoryCounterStore() if key else None
    b = broadcaster(key, store=store)
    b.update(reading(FULL), 0, 1000)
    t = 0.0
    for which in [A, B] * 10:
        t += 1.0
        ha.receive(bytes(b.packet(which)), b.scan_response, MAC, t)
    rebooted = broadcaster(key, store=store, hold_ms=bthome.HOLD_MS)  # a fresh Broadcaster: a reboot
    changed_voltage = reading(dict(FULL, voltage=23450))
    boot_s = t + 0.5
    taken = []
    for now_ms in range(0, 12_000, 500):
        changed = rebooted.update(changed_voltage, now_ms, 300_000)
        packet = rebooted.packet(A if now_ms // 500 % 2 else B)
        data = bytes(packet) if packet is not None else rebooted.idle_packet()
        got = ha.receive(data, rebooted.scan_response, MAC, boot_s + now_ms / 1000)
        if packet is None:
            assert now_ms < bthome.HOLD_MS and changed == 0 and not without_packet_id(got)
        elif data != rebooted.idle_packet():  # (the rare name packet carries no values)
            taken.append(now_ms)
            assert without_packet_id(got), (now_ms, "a packet after the reboot was dropped")
    assert taken[0] == bthome.HOLD_MS
