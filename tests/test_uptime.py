"""The loop across the ticks wrap and over 50 days of uptime, in virtual time (issue 9, item 6).

The loop keeps its times in ``supervisor.ticks_ms()`` (kaskad/clock.py): ms that wrap at 2**29,
the first time 65.536 s after power-on (shared-bindings/supervisor/__init__.c), then every 6.2
days. The board is built as code.py builds it (strict stand-ins: UART, _bleio, the LED pin; the
independent meter model on the wire), and its schedule is checked against the uptime the harness
clock counts, never against the firmware's own ticks.
"""
import board
import digitalio

import _bleio
import _cptime
import _harness
import supervisor
from kaskad import reading as fields, settings
from kaskad.app import App, default_name
from kaskad.bthome import Broadcaster, MemoryCounterStore
from kaskad.clock import Clock, TICKS_PERIOD, ticks_diff
from kaskad.config import CLAIM_WINDOW_MS, ClaimWindow
from kaskad.led import Led
from kaskad.radio import Radio
from rig import Rig, family_meter

MS = 1_000_000
DAY_MS = 86_400_000


def build(**values):
    rig = Rig()
    values.setdefault("KASKAD_METER_ADDRESS", 20109)
    config = settings.load(values.get, rig.errors.append)
    clock = Clock(_cptime, supervisor.ticks_ms)
    adapter = _bleio.adapter
    mac = bytes(reversed(adapter.address.address_bytes))  # turns the radio on, as code.py does
    broadcaster = Broadcaster(mac, default_name(config), None, MemoryCounterStore(), rig.errors.append)
    radio = Radio(adapter, broadcaster, config.adv_interval_ms, config.adv_switch_ms, rig.errors.append)
    window = ClaimWindow(clock)
    window.open()
    led = Led(digitalio.DigitalInOut(board.LED), clock.now_ms())
    meter, _ = family_meter(rig, config)
    app = App(config, meter, clock, broadcaster, radio, window, None, None, led)
    polls = []  # uptime (ms) at the start of each poll
    poll_once = app.poll_once

    def recorded_poll():
        polls.append(uptime_ms())
        poll_once()

    app.poll_once = recorded_poll
    switches = []  # uptime (ms) of each packet switch
    tick = radio.tick

    def recorded_tick(now_ms):
        switched = tick(now_ms)
        if switched:
            switches.append(uptime_ms())
        return switched

    radio.tick = recorded_tick
    app.switches = switches
    return app, clock, window, polls, rig


def uptime_ms():
    return _harness.clock().now_ns() // MS


def test_the_first_ticks_wrap_changes_nothing():
    app, clock, window, polls, rig = build()
    wrap_ms = 0x10000  # the first wrap, 65.536 s after power-on
    assert ticks_diff(supervisor.ticks_ms(), TICKS_PERIOD - wrap_ms) == 0
    while uptime_ms() < 200_000:
        app.step()
        clock.sleep_ms(app.wait_ms())
    # polls on the 60 s grid from boot, each within a step of its slot, through the wrap
    assert len(polls) == 4
    for k, at in enumerate(polls):
        assert k * 60_000 <= at <= k * 60_000 + 60, polls
    # the packets switch every 3 s, also across the wrap (each switch waits for its step)
    starts = app.switches
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert any(a < wrap_ms < b for a, b in zip(starts, starts[1:]))
    assert len(gaps) > 60 and all(3000 <= gap <= 3060 for gap in gaps), gaps
    # the LED's heartbeat goes on through the wrap: a blink every 2 s (a poll blocks the loop for
    # about 370 ms, which can delay the next one that much)
    ons = [t // MS for t, level in _harness.pin_history("LED") if level]
    assert ons[-1] > 190_000 and [b - a for a, b in zip(ons, ons[1:]) if b - a > 2400] == []
    assert rig.errors == []


def jump_to_next_event(app, clock):
    """Sleep to the next poll or packet switch, skipping the idle steps in between (they only
    look at the button, the LED and a connection: none of which this test watches)."""
    now = clock.now_ms()
    wait = min(ticks_diff(app.next_poll_ms, now), app.radio.ms_to_switch(now))
    if wait > 0:
        clock.sleep_ms(wait)


def test_fifty_days_of_uptime_keep_every_schedule():
    # a poll a day, a switch a minute: 50 polls, 72 000 switches, 8 wraps of the ticks
    app, clock, window, polls, rig = build(KASKAD_POLL_SECONDS=86400, KASKAD_ADV_SWITCH_MS=60000,
                                           KASKAD_MAX_AGE_SECONDS=300)
    reading = app.reading
    fresh_wrong = []
    window_reopened = []
    while uptime_ms() < 50 * DAY_MS:
        app.step()
        now_up = uptime_ms()
        if now_up > CLAIM_WINDOW_MS and window.is_open():
            window_reopened.append(now_up)
        since_poll = now_up - polls[-1]
        if (reading.get(fields.VOLTAGE, clock.now_ms(), app.max_age_ms) is not None) != (since_poll <= 300_000):
            fresh_wrong.append((now_up, since_poll))
        jump_to_next_event(app, clock)
    assert [at // DAY_MS for at in polls] == list(range(50))
    assert all(at % DAY_MS <= 1000 for at in polls), polls  # on the daily grid from boot
    starts = app.switches
    assert len(starts) >= 50 * 1440
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(60_000 <= gap <= 60_001 for gap in gaps), sorted(set(gaps))
    assert window_reopened == []  # the claim window never reopens when the ticks come round
    assert fresh_wrong == []  # a value is published for 300 s after each poll, never after
    assert rig.errors == []


def test_a_healthy_run_past_the_ticks_wrap_clears_the_restart_count(tmp_path):
    # code.py counts restarts in a row in alarm.sleep_memory (kaskad.restarts) and clears the count
    # at the first good reading HEALTHY_MS (10 min) after its start: measured in uptime, which the
    # ticks wrap 65.5 s after power-on must not disturb
    import alarm
    from board_rig import Board
    from kaskad import restarts

    settings_text = "KASKAD_METER_ADDRESS = 20109\nKASKAD_POLL_SECONDS = 60\n"
    assert Board(tmp_path, settings_text).run(590) == "stop"  # a power-on, 590 s
    assert restarts.count(alarm.sleep_memory) == 1  # this boot was counted...
    assert Board(tmp_path, settings_text).run(700) == "stop"  # a power-on, 700 s
    assert restarts.count(alarm.sleep_memory) == 0  # ...and cleared by the good poll at 600 s


def meter_age_s(app):
    """The owner's METER answer's "seconds since the meter last answered" (docs/owner-protocol.md)."""
    return int.from_bytes(app.meter_state()[1:5], "little")


def test_the_owner_is_told_the_meter_age_in_true_seconds_across_many_ticks_wraps():
    # one poll at boot, then the meter falls silent for 10 days: the owner's METER command must
    # count the real 10 days, not the difference of two ticks values (which wrap every 6.2 days)
    app, clock, window, polls, rig = build(KASKAD_POLL_SECONDS=86400)
    app.step()
    assert len(polls) == 1 and meter_age_s(app) == 0
    answered_at = uptime_ms()
    rig.meter.persistent_fault = "silent"
    while uptime_ms() < 10 * DAY_MS:
        app.step()
        jump_to_next_event(app, clock)
    assert len(polls) == 10
    assert meter_age_s(app) == (uptime_ms() - answered_at) // 1000
