"""time (``_cptime``) and supervisor stand-ins: the board's clock functions on the virtual clock."""
import pytest

import _cptime
import _harness
import supervisor

MS = 1_000_000
S = 1_000_000_000


def test_sleep_advances_the_virtual_clock_in_whole_ms():
    _cptime.sleep(1.5)
    assert _harness.clock().now_ns() == 1500 * MS
    _cptime.sleep(0.0004)  # rounds to 0 ms on the board
    assert _harness.clock().now_ns() == 1500 * MS
    _cptime.sleep(0.0006)
    assert _harness.clock().now_ns() == 1501 * MS
    _cptime.sleep(2)
    assert _harness.clock().now_ns() == 3501 * MS


def test_sleep_rejects_negative_and_non_numbers():
    with pytest.raises(ValueError, match="sleep length must be non-negative"):
        _cptime.sleep(-0.1)
    with pytest.raises(TypeError):
        _cptime.sleep("1")


def test_monotonic_ns_is_exact_and_monotonic_is_a_float():
    _harness.clock().advance_to(1234567891)
    assert _cptime.monotonic_ns() == 1234567891
    assert isinstance(_cptime.monotonic(), float)
    assert _cptime.monotonic() == pytest.approx(1.234, abs=1e-6)


def test_monotonic_loses_precision_after_hours_like_the_board():
    # After 5 hours a 30-bit float cannot tell 1 ms apart: CPython's 64-bit float could.
    c = _harness.clock()
    c.advance_to(5 * 3600 * S)
    a = _cptime.monotonic()
    c.sleep_ns(1 * MS)
    b = _cptime.monotonic()
    assert a == b
    assert _cptime.monotonic_ns() - 5 * 3600 * S == 1 * MS


def test_time_starts_in_2000_and_localtime_refuses_earlier():
    assert _cptime.time() == 946684800
    _cptime.sleep(61)
    t = _cptime.localtime()
    assert (t.tm_year, t.tm_mon, t.tm_mday, t.tm_min, t.tm_sec) == (2000, 1, 1, 1, 1)
    assert t[0] == 2000 and len(t) == 9
    with pytest.raises(OverflowError):
        _cptime.localtime(0)
    assert _cptime.mktime(t) == 946684861
    with pytest.raises(TypeError):
        _cptime.struct_time((2000, 1, 1))


def test_ticks_ms_wraps_at_2_29_about_65_s_after_boot():
    assert supervisor.ticks_ms() == 2**29 - 65536
    _harness.clock().advance_to(65535 * MS)
    assert supervisor.ticks_ms() == 2**29 - 1
    _harness.clock().advance_to(65536 * MS)
    assert supervisor.ticks_ms() == 0


def test_runtime_is_read_only_and_unique():
    assert supervisor.runtime.serial_connected is True
    _harness.set_serial_connected(False)
    assert supervisor.runtime.serial_connected is False
    with pytest.raises(AttributeError):
        supervisor.runtime.serial_connected = True
    with pytest.raises(TypeError):
        supervisor.Runtime()
    assert supervisor.runtime.run_reason is supervisor.RunReason.STARTUP
