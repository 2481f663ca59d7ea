"""The stand-ins' side of the board's life: sleep memory, failing NVM writes, safe-mode reasons,
the run reason, what survives which reset."""

import alarm
import microcontroller
import pytest
import supervisor

import _harness


def test_sleep_memory_survives_resets_but_not_power_on():
    mem = alarm.sleep_memory
    assert len(mem) == 256 and mem[0] == 0
    mem[0:2] = b"\x6b\x02"
    mem[-1] = 7
    for cause in (_harness.SOFTWARE, _harness.WATCHDOG, _harness.RELOAD):
        _harness.reset(clock=_harness.clock(), cause=cause)
        assert bytes(mem[0:2]) == b"\x6b\x02" and mem[255] == 7
    _harness.reset()
    assert bytes(mem[0:256]) == bytes(256)


def test_sleep_memory_is_strict():
    mem = alarm.sleep_memory
    with pytest.raises(TypeError):
        alarm.SleepMemory()
    with pytest.raises(IndexError):
        mem[256] = 1
    with pytest.raises(ValueError):
        mem[0] = 256
    with pytest.raises(ValueError):
        mem[0:2] = b"\x01"
    with pytest.raises(NotImplementedError):
        mem[0:2] = [1, 2]
    with pytest.raises(TypeError):
        list(mem)


def test_nvm_writes_fail_on_demand_and_change_nothing():
    nvm = microcontroller.nvm
    nvm[0:4] = b"abcd"
    _harness.nvm_fail_next(2)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="Unable to write to nvm."):
            nvm[0:4] = b"wxyz"
    assert bytes(nvm[0:4]) == b"abcd"
    nvm[0:4] = b"wxyz"
    assert bytes(nvm[0:4]) == b"wxyz"


def test_nvm_keeps_its_contents_across_resets_without_a_file():
    microcontroller.nvm[0:2] = b"ok"
    _harness.reset(clock=_harness.clock(), cause=_harness.SOFTWARE)
    assert bytes(microcontroller.nvm[0:2]) == b"ok"
    _harness.reset()
    assert bytes(microcontroller.nvm[0:2]) == b"\xff\xff"


def test_safe_mode_reason_and_run_reason():
    assert supervisor.runtime.safe_mode_reason is supervisor.SafeModeReason.NONE
    assert supervisor.runtime.run_reason is supervisor.RunReason.STARTUP
    _harness.set_safe_mode_reason("WATCHDOG")
    _harness.set_run_reason("AUTO_RELOAD")
    assert supervisor.runtime.safe_mode_reason is supervisor.SafeModeReason.WATCHDOG
    assert supervisor.runtime.run_reason is supervisor.RunReason.AUTO_RELOAD
    _harness.reset(clock=_harness.clock(), cause=_harness.RELOAD)  # a reload keeps both
    assert supervisor.runtime.safe_mode_reason is supervisor.SafeModeReason.WATCHDOG
    _harness.reset(clock=_harness.clock(), cause=_harness.SOFTWARE)
    assert supervisor.runtime.safe_mode_reason is supervisor.SafeModeReason.NONE
    assert supervisor.runtime.run_reason is supervisor.RunReason.STARTUP
    with pytest.raises(TypeError):
        supervisor.SafeModeReason()


def test_autoreload_outlives_a_reload_not_a_reset():
    supervisor.runtime.autoreload = False
    _harness.reset(clock=_harness.clock(), cause=_harness.RELOAD)
    assert supervisor.runtime.autoreload is False
    _harness.reset(clock=_harness.clock(), cause=_harness.SOFTWARE)
    assert supervisor.runtime.autoreload is True


def test_supervisor_reload_raises_the_boards_reload_exception():
    with pytest.raises(_harness.ReloadException):
        supervisor.reload()
    assert not issubclass(_harness.ReloadException, Exception)
    assert supervisor.runtime.run_reason is supervisor.RunReason.SUPERVISOR_RELOAD
