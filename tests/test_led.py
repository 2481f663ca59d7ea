import board
import digitalio

import _cptime as time
import _harness
from kaskad import led
from kaskad.clock import Clock


def _run(mode, seconds=4, flash_at=None):
    _harness.reset()  # a fresh board: the LED pin is claimed once per run
    clock = Clock(time)
    l = led.Led(digitalio.DigitalInOut(board.LED), clock.now_ms())
    l.set_mode(mode, clock.now_ms())
    for _ in range(seconds * 100):
        if flash_at is not None and clock.uptime_ms() == flash_at:
            l.flash(clock.now_ms())
        l.update(clock.now_ms())
        time.sleep(0.01)
    return [(t // 1_000_000, v) for t, v in _harness.pin_history("LED")]


def _on_times(hist):
    return [t for t, v in hist if v]


def test_heartbeat_and_poll_flash():
    assert _on_times(_run(led.OK)) == [0, 2000]
    assert _on_times(_run(led.OK, flash_at=1000)) == [0, 1000, 2000]


def test_double_blink():
    assert _on_times(_run(led.NO_METER)) == [0, 250, 2000, 2250]


def test_fast_and_long():
    assert len(_on_times(_run(led.CLAIM, seconds=1))) == 5
    assert _on_times(_run(led.NO_SETTINGS)) == [0, 2000]


def test_writes_only_on_change():
    hist = _run(led.NO_SETTINGS)
    assert all(a[1] != b[1] for a, b in zip(hist, hist[1:]))
