"""kaskad.unload.forget: a module forgotten is held by nothing of the import system, so the
collector frees it (CPython's weak references show it here; the heap figures on the MicroPython
VM are tools/heap_table.py's), and the next import loads it again."""

import gc
import io
import sys
import weakref

from kaskad import unload


def test_a_forgotten_module_is_freed_and_imports_again():
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
