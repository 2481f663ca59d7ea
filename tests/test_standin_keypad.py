import board
import keypad
import pytest

import _cptime as time
import _harness


def test_args_and_claims():
    with pytest.raises(TypeError):
        keypad.Keys((board.SWITCH,))  # value_when_pressed is required
    with pytest.raises(ValueError, match="max_events"):
        keypad.Keys((board.SWITCH,), value_when_pressed=False, max_events=0)
    with pytest.raises(ValueError, match="debounce_threshold"):
        keypad.Keys((board.SWITCH,), value_when_pressed=False, debounce_threshold=128)
    with pytest.raises(TypeError, match="duplicate"):
        keypad.Keys((board.SWITCH, board.SWITCH), value_when_pressed=False)
    k = keypad.Keys((board.SWITCH,), value_when_pressed=False)
    with pytest.raises(ValueError, match="in use"):
        keypad.Keys((board.SWITCH,), value_when_pressed=False)
    k.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        k.events


def test_events_timestamps_get_into():
    k = keypad.Keys((board.SWITCH,), value_when_pressed=False)
    _harness.button_press("SWITCH", at_ns=1_000_000_000)
    _harness.button_release("SWITCH", at_ns=6_000_000_000)
    assert len(k.events) == 0
    time.sleep(7)
    assert len(k.events) == 2
    ev = keypad.Event()
    with pytest.raises(TypeError):
        k.events.get_into(object())
    assert k.events.get_into(ev) and ev.pressed
    t0 = ev.timestamp
    assert k.events.get_into(ev) and ev.released
    assert 4990 <= ev.timestamp - t0 <= 5010
    assert not k.events.get_into(ev) and ev.released  # untouched when empty
    with pytest.raises(AttributeError):
        ev.pressed = True


def test_overflow_drops_new_events():
    k = keypad.Keys((board.SWITCH,), value_when_pressed=False, max_events=1)
    _harness.button_press("SWITCH", at_ns=100_000_000)
    _harness.button_release("SWITCH", at_ns=200_000_000)
    time.sleep(1)
    assert k.events.overflowed and len(k.events) == 1
    assert k.events.get().pressed
    k.events.clear()
    assert not k.events.overflowed


def test_no_pull_means_floating_low_reads_pressed():
    k = keypad.Keys((board.SWITCH,), value_when_pressed=False, pull=False)
    time.sleep(0.1)
    assert k.events.get().pressed
