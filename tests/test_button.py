import board
import keypad

import _cptime as time
import _harness
from kaskad import button
from kaskad.clock import Clock


def _setup():
    k = keypad.Keys((board.SWITCH,), value_when_pressed=False)
    return button.Button(k.events), Clock(time)


def test_short_press():
    b, clock = _setup()
    _harness.button_press("SWITCH", at_ns=1_000_000_000)
    _harness.button_release("SWITCH", at_ns=1_300_000_000)
    time.sleep(2)
    assert b.poll(clock.now_ms()) == button.SHORT
    assert b.poll(clock.now_ms()) == button.NONE


def test_long_press_fires_while_held_once():
    b, clock = _setup()
    _harness.button_press("SWITCH", at_ns=1_000_000_000)
    _harness.button_release("SWITCH", at_ns=8_000_000_000)
    seen = []
    for _ in range(100):
        time.sleep(0.1)
        r = b.poll(clock.now_ms())
        if r:
            seen.append((r, clock.uptime_ms()))
    assert [r for r, _ in seen] == [button.LONG]
    assert 6000 <= seen[0][1] <= 6200


def test_late_poll_uses_event_timestamps():
    b, clock = _setup()
    _harness.button_press("SWITCH", at_ns=1_000_000_000)
    _harness.button_release("SWITCH", at_ns=2_000_000_000)
    time.sleep(30)
    assert b.poll(clock.now_ms()) == button.SHORT


def test_a_long_press_seen_only_after_its_release_is_still_long():
    """The loop was busy (a slow poll) for the whole press: both events arrive in one poll, and
    their timestamps say 6 s: that is a long press, not a short one."""
    b, clock = _setup()
    _harness.button_press("SWITCH", at_ns=1_000_000_000)
    _harness.button_release("SWITCH", at_ns=7_000_000_000)
    time.sleep(8)
    assert b.poll(clock.now_ms()) == button.LONG
    assert b.poll(clock.now_ms()) == button.NONE
