import microcontroller
import pytest
import watchdog

import _cptime as time
import _harness


def test_sole_instance_and_no_deinit():
    with pytest.raises(TypeError):
        watchdog.WatchDogTimer()
    assert microcontroller.watchdog.mode is None
    assert not hasattr(microcontroller.watchdog, "deinit")


def test_timeout_validation():
    w = microcontroller.watchdog
    with pytest.raises(ValueError, match=">= 0"):
        w.timeout = -2
    with pytest.raises(TypeError):
        w.mode = 1
    w.timeout = 5e6
    with pytest.raises(ValueError, match="maximum"):
        w.mode = watchdog.WatchDogMode.RESET


def test_reset_mode_fed_survives_unfed_resets():
    w = microcontroller.watchdog
    w.timeout = 2
    w.mode = watchdog.WatchDogMode.RESET
    for _ in range(5):
        time.sleep(1.5)
        w.feed()
    with pytest.raises(_harness.HostReset):
        time.sleep(3)
    assert _harness.clock().now_ns() == 7_500_000_000 + 2_000_000_000


def test_reset_mode_cannot_be_stopped():
    w = microcontroller.watchdog
    w.timeout = 1
    w.mode = watchdog.WatchDogMode.RESET
    with pytest.raises(OSError):
        w.mode = watchdog.WatchDogMode.RESET
    w.mode = None  # accepted, but the hardware keeps running and feed() stops feeding it
    w.feed()
    with pytest.raises(_harness.HostReset):
        time.sleep(2)


def test_raise_mode():
    w = microcontroller.watchdog
    w.timeout = 1
    w.mode = watchdog.WatchDogMode.RAISE
    with pytest.raises(watchdog.WatchDogTimeout):
        time.sleep(2)
    assert w.mode is None


def test_microcontroller_reset():
    with pytest.raises(_harness.HostReset):
        microcontroller.reset()
    assert not issubclass(_harness.HostReset, Exception)
