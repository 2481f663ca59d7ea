"""The NVM record store on the strict nvm stand-in: power cuts at every byte of every kind of
write, corruption of every sort, the frozen record layout, and writing only when something changed."""

import random
import zlib

import _harness
import microcontroller
import pytest

from kaskad.store import CounterStore, Store

OWNER_A = bytes(range(16))
OWNER_B = bytes(range(16, 32))


def boot(lines=None):
    """A reboot: a new Store reading whatever the NVM holds."""
    return Store(microcontroller.nvm, (lines if lines is not None else []).append)


def state(store):
    return store.counter_end, list(store.owners), sorted(store.overrides)


def populated():
    store = boot()
    store.counter_end = 8192
    store.add_owner(OWNER_A)
    store.set_override("KASKAD_POLL_SECONDS", 30, 1234)
    store.set_override("KASKAD_NAME", "Hall", 99)
    store.commit()
    return store


def test_a_fresh_nvm_boots_with_defaults_and_no_complaint():
    lines = []
    store = boot(lines)
    assert state(store) == (None, [], []) and lines == []


def test_what_is_committed_comes_back_after_a_reboot():
    store = populated()
    assert state(boot()) == state(store)
    assert state(boot()) == (8192, [OWNER_A], [("KASKAD_NAME", "Hall", 99), ("KASKAD_POLL_SECONDS", 30, 1234)])


def test_nothing_is_written_when_nothing_changed():
    store = populated()
    writes = _harness.nvm_write_count()
    assert not store.commit()
    store.set_override("KASKAD_POLL_SECONDS", 30, 1234)  # the same value again
    assert not store.commit()
    assert _harness.nvm_write_count() == writes


def test_every_commit_is_one_slice_write_alternating_between_the_two_pages():
    store = populated()
    for end in (16384, 24576, 32768):
        store.counter_end = end
        store.commit()
    log = _harness.nvm_write_log()
    assert len(log) == 4
    offsets = [offset for offset, _, _ in log]
    assert offsets == [4096, 0, 4096, 0]
    assert all(length < 4096 for _, length, _ in log)


CHANGES = {
    "counter": lambda s: setattr(s, "counter_end", s.counter_end + 4096),
    "owner added": lambda s: s.add_owner(OWNER_B),
    "owner removed": lambda s: s.remove_owner(OWNER_A),
    "override set": lambda s: s.set_override("KASKAD_METER_ADDRESS", 7943, 777),
    "override dropped": lambda s: s.drop_override("KASKAD_NAME"),
    "factory reset": lambda s: s.forget_everything(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_power_cut_at_every_byte_leaves_the_old_or_the_new_state(change):
    old = state(populated())
    # two commits back to back so the cut hits each slot in turn
    for extra in (0, 1):
        outcomes = []
        _harness.reset()
        store = populated()
        for _ in range(extra):
            store.counter_end += 8192
            store.commit()
        before = state(store)
        CHANGES[change](store)
        new = state(store)
        length = len(store._encode()) + 13
        for cut in range(length + 1):
            store = boot()
            assert state(store) == before
            CHANGES[change](store)
            _harness.nvm_cut_power_after(cut)
            with pytest.raises(_harness.HostPowerCut):
                store.commit()
            after = state(boot())
            assert after in (before, new), (change, cut, after)
            outcomes.append(after == new)
            assert after[0] is not None and after[0] >= before[0]  # the counter never goes back
            if after == new:  # the new record landed; put the old one back for the next cut
                _harness.reset()
                store = populated()
                for _ in range(extra):
                    store.counter_end += 8192
                    store.commit()
        # a cut before the record's last byte keeps the old state, the complete write the new one
        assert outcomes == [False] * length + [True], (change, extra, outcomes)


@pytest.mark.parametrize("damage", ["bit flips", "garbage", "all 0xff", "all 0x00", "one slot garbage"])
def test_corruption_never_crashes_and_keeps_what_is_valid(damage):
    rng = random.Random(damage)
    store = populated()
    good = state(store)
    store.counter_end = 16384
    store.commit()
    newest = state(store)
    nvm = microcontroller.nvm
    size = len(nvm)
    record = len(store._encode()) + 13  # header, payload, CRC: both records are this long
    for trial in range(50):
        newest_slot = store._slot
        before = nvm[0:size]
        if damage == "bit flips":
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(size)
                nvm[at] = nvm[at] ^ (1 << rng.randrange(8))
        elif damage == "garbage":
            at = rng.randrange(size - 64)
            nvm[at:at + 64] = bytes(rng.randrange(256) for _ in range(64))
        elif damage == "all 0xff":
            nvm[0:size] = b"\xff" * size
        elif damage == "all 0x00":
            nvm[0:size] = bytes(size)
        else:
            half = size // 2 * rng.randrange(2)
            nvm[half:half + 256] = bytes(rng.randrange(256) for _ in range(256))
        lines = []
        result = state(boot(lines))
        # exactly what each slot still holds: the newest intact record, else the other one
        damaged = [before[slot * size // 2:slot * size // 2 + record] != nvm[slot * size // 2:slot * size // 2 + record]
                   for slot in (0, 1)]
        expected = newest if not damaged[newest_slot] else good if not damaged[1 - newest_slot] else (None, [], [])
        assert result == expected, (damage, trial, damaged, result)
        if result == (None, [], []) and damage != "all 0xff":
            assert lines and lines[0].startswith("NVM:")
        if damage in ("all 0xff", "all 0x00"):
            break
        _harness.reset()
        store = populated()
        store.counter_end = 16384
        store.commit()


def record_v1(sequence, entries):
    """A format-1 record assembled from the layout documented in store.py (not by the store)."""
    payload = b"".join(bytes((tag, len(value))) + value for tag, value in entries)
    head = b"KS" + bytes((1,)) + sequence.to_bytes(4, "little") + len(payload).to_bytes(2, "little")
    body = head + payload
    return body + zlib.crc32(body).to_bytes(4, "little")


def override_entry(key, file_print, typed):
    return bytes((len(key),)) + key.encode() + file_print.to_bytes(4, "little") + typed


def write_record(slot, record):
    nvm = microcontroller.nvm
    base = slot * (len(nvm) // 2)
    nvm[base:base + len(record)] = record


def test_a_format_1_record_reads():
    write_record(1, record_v1(7, [
        (1, (40960).to_bytes(4, "little")),
        (2, OWNER_B),
        (3, override_entry("KASKAD_POLL_SECONDS", 5, b"i" + (45).to_bytes(4, "little"))),
        (3, override_entry("KASKAD_NAME", 6, b"sKitchen")),
    ]))
    assert state(boot()) == (40960, [OWNER_B], [("KASKAD_NAME", "Kitchen", 6), ("KASKAD_POLL_SECONDS", 45, 5)])


def test_entries_of_a_later_firmware_are_skipped():
    write_record(0, record_v1(3, [(1, (4096).to_bytes(4, "little")), (99, b"future stuff"), (2, OWNER_A)]))
    assert state(boot()) == (4096, [OWNER_A], [])


def test_the_higher_sequence_wins_whichever_slot_it_is_in():
    write_record(0, record_v1(9, [(1, (900).to_bytes(4, "little"))]))
    write_record(1, record_v1(8, [(1, (800).to_bytes(4, "little"))]))
    store = boot()
    assert store.counter_end == 900
    store.counter_end = 1000
    store.commit()  # goes to slot 1, over the older record
    assert boot().counter_end == 1000
    assert microcontroller.nvm[4096:4098] == b"KS"


def test_owner_limits():
    store = boot()
    for n in range(4):
        store.add_owner(bytes([n]) * 16)
    with pytest.raises(ValueError):
        store.add_owner(b"\x09" * 16)
    with pytest.raises(ValueError):
        store.add_owner(b"short")
    store.commit()
    assert len(boot().owners) == 4


def test_the_counter_store_interface():
    store = boot()
    counters = CounterStore(store)
    assert counters.load() is None
    counters.save(65536)
    assert CounterStore(boot()).load() == 65536
