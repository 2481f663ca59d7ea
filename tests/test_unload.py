"""kaskad.unload.forget: a module forgotten is held by nothing of the import system, so the
collector frees it (CPython's weak references show it here; the heap figures on the MicroPython
VM are tools/heap_table.py's), and the next import loads it again."""

import gc
import io
import sys
import weakref

from kaskad import unload


def test_a_forgotten_module_is_freed_and_imports_again():
    unload.forget("kaskad.settings_file")  # a copy of its own: other tests' modules may hold theirs
    from kaskad import settings_file

    result = settings_file.scan(io.BytesIO(b"KASKAD_METER_ADDRESS = 1\n"), lambda line: None)
    gone = weakref.ref(settings_file)
    del settings_file
    unload.forget("kaskad.settings_file")
    assert "kaskad.settings_file" not in sys.modules
    assert not hasattr(sys.modules["kaskad"], "settings_file")
    assert list(result) == ["KASKAD_METER_ADDRESS"]
    del result  # an instance of its FileScan holds the module's globals (as on the board)
    gc.collect()
    assert gone() is None, "something still holds kaskad.settings_file"
    from kaskad import settings_file as again

    assert list(again.scan(io.BytesIO(b"KASKAD_POLL_SECONDS = 5\n"), print)) == ["KASKAD_POLL_SECONDS"]


def test_forgetting_what_is_not_loaded_changes_nothing():
    unload.forget("kaskad.not_a_module")
    unload.forget("not_a_package.module")
    assert "kaskad" in sys.modules


def test_the_session_and_the_settings_are_freed_when_the_central_leaves(tmp_path):
    """code.py on the twin: the owner's tool claims and changes a setting in two connections (the
    second imports kaskad.session and kaskad.settings again after the first forgot them); once the
    central has left, neither is held and the change took."""
    from test_cli import SETTINGS, User, on_twin

    from board_rig import Board

    board = Board(tmp_path, SETTINGS)
    alice = User(tmp_path / "alice" / "keys.json")

    async def flow():
        return await alice.run("claim"), await alice.run("set", "poll", "30"), await alice.run("status")

    claim, changed, status = on_twin(board, flow, stop_after_s=2)
    assert (claim.code, changed.code, status.code) == (0, 0, 0), claim.err + changed.err + status.err
    assert "poll period    30 s" in status.out, status.out
    for name in ("kaskad.session", "kaskad.settings"):
        assert name not in sys.modules, "%s is held after the central left" % name
    assert "kaskad.gatt" in sys.modules  # the service's port stays: the device is still running
