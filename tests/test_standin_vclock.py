"""The virtual clock: integer ns, never backwards, HostStop that firmware cannot swallow."""
import time as wall

import pytest
from hypothesis import given, strategies as st

import _harness
from _vclock import HostSpin, HostStop, VirtualClock


def test_starts_at_zero_and_advances_in_integer_ns():
    c = VirtualClock()
    assert c.now_ns() == 0
    c.advance_to(1_500)
    c.sleep_ns(500)
    assert c.now_ns() == 2_000
    assert isinstance(c.now_ns(), int)


def test_advance_to_the_past_leaves_the_clock_alone():
    c = VirtualClock()
    c.advance_to(10_000)
    c.advance_to(5_000)
    assert c.now_ns() == 10_000


def test_negative_sleep_is_refused():
    c = VirtualClock()
    with pytest.raises(ValueError):
        c.sleep_ns(-1)


@given(st.lists(st.tuples(st.sampled_from(["to", "sleep", "poll"]),
                          st.integers(min_value=0, max_value=10**12)), max_size=50))
def test_never_moves_backwards(ops):
    c = VirtualClock()
    last = c.now_ns()
    for op, value in ops:
        if op == "to":
            c.advance_to(value)
        elif op == "sleep":
            c.sleep_ns(value)
        else:
            c.poll()
        assert c.now_ns() >= last
        last = c.now_ns()


def test_host_stop_is_not_an_exception_firmware_can_swallow():
    assert issubclass(HostStop, BaseException)
    assert not issubclass(HostStop, Exception)
    c = VirtualClock(stop_at_ns=1_000)
    swallowed = False
    with pytest.raises(HostStop):
        try:
            c.advance_to(5_000)
        except Exception:  # what a firmware main loop does
            swallowed = True
    assert not swallowed
    assert c.now_ns() == 1_000  # stopped exactly at the limit


def test_reaching_stop_exactly_raises():
    c = VirtualClock(stop_at_ns=1_000)
    c.advance_to(999)
    with pytest.raises(HostStop):
        c.sleep_ns(1)


def test_harness_reset_gives_a_fresh_clock_or_the_one_passed():
    _harness.clock().advance_to(123)
    fresh = _harness.reset()
    assert fresh is _harness.clock() and fresh.now_ns() == 0
    mine = VirtualClock()
    assert _harness.reset(clock=mine) is mine and _harness.clock() is mine


def test_realtime_follows_the_wall_clock_and_really_sleeps():
    c = VirtualClock(realtime=True)
    start = wall.monotonic()
    c.advance_to(30_000_000)  # 30 ms
    assert wall.monotonic() - start >= 0.029
    assert c.now_ns() >= 30_000_000
    before = c.now_ns()
    wall.sleep(0.01)
    assert c.now_ns() >= before + 9_000_000  # moves by itself


def test_realtime_reading_past_stop_raises():
    c = VirtualClock(realtime=True, stop_at_ns=5_000_000)
    wall.sleep(0.01)
    with pytest.raises(HostStop):
        c.now_ns()


def test_busy_wait_on_a_frozen_clock_raises_host_spin():
    import _cptime
    with pytest.raises(HostSpin):
        while _cptime.monotonic() < 1.0:  # would hang forever in virtual time
            pass


def test_poll_cost_lets_a_busy_wait_finish():
    import _cptime
    _harness.clock().poll_cost_ns = 1_000_000
    while _cptime.monotonic() < 0.5:
        pass
    assert 500_000_000 <= _harness.clock().now_ns() <= 502_000_000
