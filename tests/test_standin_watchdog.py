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


# --- the watchdog across resets and runs (WatchDogTimer.c 10.2.1, shared-module/watchdog) ------

def _start(timeout_s):
    w = microcontroller.watchdog
    w.timeout = timeout_s
    w.mode = watchdog.WatchDogMode.RESET
    return w


def _soft_reset():
    """microcontroller.reset(): the board's ticks and its running WDT go on."""
    clock = _harness.clock()
    with pytest.raises(_harness.HostReset) as reset:
        microcontroller.reset()
    assert reset.value.cause == _harness.SOFTWARE
    _harness.reset(clock=clock, cause=_harness.SOFTWARE)


def test_reset_mode_timeout_cannot_be_changed():
    w = _start(2)
    with pytest.raises(RuntimeError, match="timeout cannot be changed once mode is set to RESET"):
        w.timeout = 5
    assert w.timeout == 2


def test_a_software_reset_leaves_the_wdt_running_with_its_first_period():
    _start(2)
    time.sleep(1.5)
    _soft_reset()
    w = microcontroller.watchdog
    assert w.mode is None and w.timeout == 0.0  # the object is static RAM: zeroed
    assert _harness.watchdog_deadline_ns() == 2_000_000_000  # still counting from the last feed
    w.feed()  # mode None: does not reach the hardware
    w.timeout = 30  # accepted (mode None), but the running WDT's reload value is locked
    w.mode = watchdog.WatchDogMode.RESET  # a fresh driver: accepted, and it feeds, with 2 s
    assert _harness.watchdog_deadline_ns() == 1_500_000_000 + 2_000_000_000
    with pytest.raises(_harness.HostReset) as bite:
        time.sleep(5)
    assert bite.value.cause == _harness.WATCHDOG
    assert _harness.clock().now_ns() == 3_500_000_000


def test_a_bite_and_power_on_stop_the_wdt():
    _start(1)
    with pytest.raises(_harness.HostReset):
        time.sleep(2)
    assert _harness.watchdog_deadline_ns() is None
    _harness.reset(clock=_harness.clock(), cause=_harness.WATCHDOG)
    assert _harness.watchdog_deadline_ns() is None
    _start(1)
    _harness.reset()
    assert _harness.watchdog_deadline_ns() is None


def test_a_reload_keeps_the_object_and_the_wdt():
    w = _start(2)
    _harness.reset(clock=_harness.clock(), cause=_harness.RELOAD)
    assert w.mode is watchdog.WatchDogMode.RESET and w.timeout == 2
    with pytest.raises(OSError):
        w.mode = watchdog.WatchDogMode.RESET  # the driver is still initialised


@pytest.mark.parametrize("version", [_harness.V10_2_1, _harness.FIXED])
def test_the_end_of_a_run_in_reset_mode(version):
    _harness.set_circuitpython(version)
    _start(2)
    crashes = version == _harness.V10_2_1
    # normal end, Ctrl-C and a reload deinit it: 10.2.1 raises with no handler (WatchDogTimer.c:79)
    assert watchdog._end_of_run(None) is crashes
    assert watchdog._end_of_run(KeyboardInterrupt()) is crashes
    assert watchdog._end_of_run(_harness.ReloadException()) is crashes
    # any other exception leaves it alone, in both
    assert watchdog._end_of_run(RuntimeError("x")) is False
    assert microcontroller.watchdog.mode is watchdog.WatchDogMode.RESET


def test_the_end_of_a_run_frees_raise_mode():
    w = microcontroller.watchdog
    w.timeout = 1
    w.mode = watchdog.WatchDogMode.RAISE
    assert watchdog._end_of_run(None) is False
    assert w.mode is None
    time.sleep(2)  # no WatchDogTimeout any more


def test_mode_none_from_reset_after_the_fix_raises():
    _harness.set_circuitpython(_harness.FIXED)
    w = _start(1)
    with pytest.raises(RuntimeError, match="cannot be deinitialized"):
        w.mode = None
    assert w.mode is watchdog.WatchDogMode.RESET
