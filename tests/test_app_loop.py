"""The loop's guards, step by step: the watchdog is fed only after a step in which every stage
succeeded, the count of failing steps starts again after a good one, and ten failing steps in a
row reset the board; a long press forgets the owners in NVM, not only in RAM."""

import microcontroller
import pytest

from kaskad import app as app_module
from kaskad import settings
from kaskad.app import App
from kaskad.store import Store
from rig import Rig, family_meter

OWNER = bytes(range(16))


class Dog:
    """microcontroller.watchdog as the loop uses it: only ``feed``."""

    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def make_app(store=None, rig=None, address=20109):
    rig = rig or Rig()
    config = settings.load({"KASKAD_METER_ADDRESS": address}.get, lambda line: None)
    resets = []
    meter, make_meter = family_meter(rig, config)
    app = App(config, meter, rig.clock, store=store, watchdog=Dog(), reset=lambda: resets.append(1),
              make_meter=make_meter)
    return app, resets


def breaking(app, broken):
    """The app's stages, with the poll stage raising while ``broken[0]``."""
    stages = list(app._stages)
    real = stages[1]

    def poll_stage():
        if broken[0]:
            raise RuntimeError("planted")
        real()

    stages[1] = poll_stage
    app._stages = tuple(stages)


def test_the_watchdog_is_fed_only_after_a_step_in_which_every_stage_succeeded(capsys):
    app, _ = make_app(address=None)  # no meter: no exchange feeds it on the way (App._feed)
    broken = [True]
    breaking(app, broken)
    app.step()
    assert app.watchdog.feeds == 0 and app.failed_steps == 1
    broken[0] = False
    app.step()
    assert app.watchdog.feeds == 1 and app.failed_steps == 0
    broken[0] = True
    app.step()
    assert app.watchdog.feeds == 1
    assert "loop: poll: RuntimeError('planted')" in capsys.readouterr().out
    assert app.failed_steps == 1


def test_ten_failing_steps_in_a_row_reset_the_board_and_a_good_step_starts_the_count_again():
    app, resets = make_app()
    broken = [True]
    breaking(app, broken)
    for _ in range(app_module.MAX_FAILED_STEPS - 1):
        app.step()
    broken[0] = False
    app.step()
    broken[0] = True
    for _ in range(app_module.MAX_FAILED_STEPS - 1):
        app.step()
    assert resets == []  # 9, a good one, 9: never ten in a row
    app.step()
    assert resets == [1]


def test_a_long_press_forgets_the_owners_in_nvm_too():
    rig = Rig()  # a fresh board (a new Rig would erase the NVM again)
    store = Store(microcontroller.nvm, lambda line: None)
    store.add_owner(OWNER)
    store.commit()
    assert Store(microcontroller.nvm, lambda line: None).owners == [OWNER]
    app, _ = make_app(store, rig)
    app.forget_owners()
    assert store.owners == []
    assert Store(microcontroller.nvm, lambda line: None).owners == []  # after a reboot as well



def test_the_owners_first_address_gets_the_app_a_meter_that_reads(capsys):
    rig = Rig()
    app, _ = make_app(rig=rig, address=None)
    assert app.meter is None
    app.poll_once()
    assert "KASKAD_METER_ADDRESS is not set: put the ID" in capsys.readouterr().out
    app.apply("KASKAD_METER_ADDRESS", rig.meter.address)
    app.poll_once()
    assert app.meter is not None and app.last_poll == app_module.POLL_OK
    assert app.reading.address == rig.meter.address and app.reading.family == "kaskad-1-mt"
    assert app.meter_state()[7] == 1  # the MIRTEK status bytes were read


def test_a_new_address_forgets_the_old_meters_values():
    rig = Rig()
    app, _ = make_app(rig=rig)
    app.poll_once()
    assert app.reading.serial is not None and app.reading.get(0, app.clock.now_ms(), app.max_age_ms) is not None
    app.apply("KASKAD_METER_ADDRESS", 7943)
    assert app.reading.serial is None and app.reading.get(0, app.clock.now_ms(), app.max_age_ms) is None
    assert app.reading.address == 7943


def test_the_meter_answer_gives_flags_by_meaning_in_format_1s_bytes():
    from kaskad import reading as fields

    app, _ = make_app(address=None)
    assert app.meter_state()[5:] == b"\x00\x00\x00"  # nothing read yet
    app.reading.set_flags(fields.FLAG_SEAL_TERMINAL_OPEN | fields.FLAG_RELAY_OFF | fields.FLAG_BATTERY_LOW,
                          fields.FLAG_SEAL_TERMINAL_OPEN | fields.FLAG_RELAY_OFF | fields.FLAG_BATTERY_LOW, 0)
    assert app.meter_state()[5:] == bytes((0x02, 0x08, 1))  # A1 terminal cover, B3 relay (docs/owner-protocol.md)
    app.reading.set_flags(fields.FLAG_BATTERY_LOW, fields.FLAG_BATTERY_LOW | fields.FLAG_METER_ERROR, 0)
    assert app.meter_state()[5:] == b"\x00\x00\x00"  # a CE-102M's flags have no place there
