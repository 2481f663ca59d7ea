"""Issue 13: the firmware's heap in use on the 32-bit VM stays within its budget and does not grow.

Measured as `make heap` measures it (tools/heap_table.py): on the WebAssembly MicroPython (wasm32:
the board's 4-byte pointers and 31-bit small ints), from .mpy as `make install` copies the
firmware, with the real adafruit_ble imported (over tools/heap/_bleio.py) and check_loop's board
built and turned. The budget is tools/heap_table.BUDGET_LOOP_WASM_MPY, the one place it is set.
A budget in bytes, not a timing.
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
    assert figures["loop"] <= heap_table.BUDGET_LOOP_WASM_MPY, (
        "heap in use with adafruit_ble and the loop running: %d bytes, budget %d (tools/heap_table.py)"
        % (figures["loop"], heap_table.BUDGET_LOOP_WASM_MPY))


def test_heap_does_not_grow_over_the_polls(figures):
    # after a full collection only what is reachable remains; the loop's state is all made in the
    # warm-up, so any growth is something kept per poll
    assert figures["polls"] == figures["loop"], (
        "the heap grew by %d bytes over %d polls" % (figures["polls"] - figures["loop"], POLLS))
