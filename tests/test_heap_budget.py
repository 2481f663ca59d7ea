"""Issue 13: the firmware's heap in use on the 32-bit VM stays within its budget and does not grow.

Measured as `make heap` measures it (tools/heap_table.py): on the WebAssembly MicroPython (wasm32:
the board's 4-byte pointers and 31-bit small ints), from .mpy as `make install` copies the
firmware, what code.py imports at boot, and check_loop's board built and turned (an encrypted
device, so kaskad.ccm too). The figure held to the budget is the firmware's own: the heap in use
less the VM's stand-ins for C modules (_bleio, aesio, keypad) and the harness's code
(heap_table.firmware). The budget is tools/heap_table.BUDGET_LOOP_WASM_MPY, the one place it is
set. A budget in bytes, not a timing.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import heap_table  # noqa: E402

POLLS = 100  # after the warm-up (heap_table.WARM_UP_POLLS): one object kept per poll shows as >= 1600 bytes


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    trees = heap_table.build_trees(str(tmp_path_factory.mktemp("heap")))
    return heap_table.run_wasm(trees["mpy"], heap_table.phases(POLLS))


def test_heap_with_the_loop_running_is_within_budget(figures):
    assert figures["boot"] < figures["loop"], figures  # both measured, the loop built on the boot
    used = heap_table.firmware(figures, "loop")
    assert used <= heap_table.BUDGET_LOOP_WASM_MPY, (
        "the firmware's heap in use with the loop running: %d bytes, budget %d (tools/heap_table.py)"
        % (used, heap_table.BUDGET_LOOP_WASM_MPY))


def test_heap_does_not_grow_over_the_polls(figures):
    # after a full collection only what is reachable remains; the loop's state is all made in the
    # warm-up, so any growth is something kept per poll
    assert figures["polls"] == figures["loop"], (
        "the heap grew by %d bytes over %d polls" % (figures["polls"] - figures["loop"], POLLS))


def test_nothing_the_idle_device_does_not_use_is_held(figures):
    # boot-only (forgotten by code.py once the settings are loaded), only while a central is
    # connected, and a library the firmware does not import
    held = figures["modules"]["harness"]
    assert "kaskad" in held and "kaskad.app" in held, sorted(held)  # the listing is there
    for name in ("kaskad.settings_file", "kaskad.settings", "kaskad.session", "adafruit_ble"):
        assert name not in held, "%s is held with the loop running" % name
