"""Flash wear and NVM size: a simulated year of default operation, counted on the NVM stand-in.

Default operation: encrypted broadcasts, a poll every 60 s that changes both packets, packets
switching every 3 s (each time a packet goes on air it takes a new encryption counter, so counter
use, not the poll, is what wears the flash). The real Broadcaster reserves counters through the
real Store into the strict nvm stand-in, which counts every write and page erase.
"""

import _harness
import microcontroller

from kaskad import bthome, meters, reading as fields, settings
from kaskad.store import CounterStore, Store

KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
MAC = bytes.fromhex("c81df5eda835")
DAY_S = 86400
SWITCH_S = 3
POLL_S = 60


def reading_at(second):
    reading = fields.Reading()
    for field in range(fields.FIELD_COUNT):
        reading.set(field, 1_000_000 + second // POLL_S + field, 0)
    reading.set(fields.BATTERY, 90, 0)
    reading.set(fields.VOLTAGE, 23000 + second // POLL_S % 100, 0)
    return reading


def test_a_year_of_default_operation_writes_the_flash_at_most_once_a_day():
    store = Store(microcontroller.nvm, lambda line: None)
    broadcaster = bthome.Broadcaster(MAC, "KASKAD 20109", KEY, CounterStore(store), lambda line: None,
                                     hold_ms=0)  # the hold after boot is not about wear
    on_air = bthome.PACKET_A
    writes_per_day = []
    for day in range(365):
        before = _harness.nvm_write_count()
        for second in range(0, DAY_S, SWITCH_S):
            if second % POLL_S == 0:
                changed = broadcaster.update(reading_at(day * DAY_S + second), 0, 10**9)
                assert changed == bthome.CHANGED_A | bthome.CHANGED_B
                assert broadcaster.packet(on_air) is not None  # the one on air goes out anew
            on_air = bthome.PACKET_B if on_air == bthome.PACKET_A else bthome.PACKET_A
            assert broadcaster.packet(on_air) is not None
        writes_per_day.append(_harness.nvm_write_count() - before)
    total = sum(writes_per_day)
    erases = _harness.nvm_page_erases()
    print("\nwear: %d NVM writes in a simulated year (%.2f a day), at most %d in one day; "
          "page erases %s" % (total, total / 365, max(writes_per_day), erases))
    assert total <= 365
    assert max(erases) <= total // 2 + 1  # the two pages share the wear


def test_nvm_figures_bytes_used_and_the_longest_write():
    store = Store(microcontroller.nvm, lambda line: None)
    store.counter_end = 2**32 - 1
    store.commit()
    small = _harness.nvm_write_log()[-1][1]
    for n in range(4):
        store.add_owner(bytes([n]) * 16)
    for key, kind, _, lowest, highest, _ in settings.SCHEMA:  # every key overridden, longest values
        value = {settings.INT: highest, settings.BAUD: highest, settings.KEY: "ab" * 16,
                 settings.CHOICE: "debug", settings.ADDRESS: 999999999,  # Mercury-206's serial
                 settings.FAMILY: max(meters.names(), key=len)}.get(kind, "x" * highest)
        store.set_override(key, value, 0xFFFFFFFF)
    clock = _harness.clock()
    start = clock.now_ns()
    store.commit()
    longest_ns = clock.now_ns() - start
    largest = _harness.nvm_write_log()[-1][1]
    print("\nNVM: %d bytes of %d; a record is %d bytes with the counter only, %d with 4 owners and "
          "every key overridden (x2 slots); the longest write takes %.1f ms" % (
              2 * largest, len(microcontroller.nvm), small, largest, longest_ns / 1e6))
    assert largest <= len(microcontroller.nvm) // 2  # one record always fits its page
    assert Store(microcontroller.nvm, lambda line: None).owners == store.owners
