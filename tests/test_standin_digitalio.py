import board
import digitalio
import pytest

import _harness


def test_claims_pin_and_deinit_releases():
    a = digitalio.DigitalInOut(board.LED)
    with pytest.raises(ValueError, match="in use"):
        digitalio.DigitalInOut(board.D3)
    a.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        a.value
    digitalio.DigitalInOut(board.LED)


def test_input_rules():
    io = digitalio.DigitalInOut(board.SWITCH)
    assert io.direction is digitalio.Direction.INPUT and io.pull is None
    with pytest.raises(AttributeError, match="Cannot set value"):
        io.value = True
    with pytest.raises(AttributeError, match="Drive mode"):
        io.drive_mode
    with pytest.raises(TypeError):
        io.pull = 1
    assert io.value is False  # floating reads low: a forgotten pull-up shows at once
    io.pull = digitalio.Pull.UP
    assert io.value is True
    _harness.button_press("SWITCH")
    assert io.value is False


def test_output_rules_and_history():
    io = digitalio.DigitalInOut(board.LED)
    io.direction = digitalio.Direction.OUTPUT
    with pytest.raises(AttributeError, match="Pull not used"):
        io.pull
    _harness.clock().advance_to(5)
    io.value = True
    assert io.value is True
    assert _harness.pin_history("LED") == [(0, False), (5, True)]
    with pytest.raises(ValueError, match="Invalid direction"):
        io.direction = 1
    with pytest.raises(TypeError):
        digitalio.Pull()
