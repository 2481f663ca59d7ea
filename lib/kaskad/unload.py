"""Forget a module the device needed only for a moment (kaskad.settings_file at boot), so the
collector frees its code and tables; the next import loads the file again.

Two things keep an imported module alive (CircuitPython 10.2.1, py/builtinimport.c,
``process_import_at_level``): ``sys.modules``, which every import looks in first, and, for a
submodule, the attribute of its package that the import stores (``mp_store_attr(outer_module_obj,
level_mod_name, module_obj)``; deleting it: py/objmodule.c, ``module_attr``). ``forget`` drops
both. What the module made and the caller keeps still holds it: an instance of one of its classes
holds the class, whose methods hold the module's globals, so only plain results (lists, dicts,
str, int) may outlive it. The names it interned stay: qstrs are never freed.
"""

import sys


def forget(name):
    """Drop ``name`` ("kaskad.settings_file") from sys.modules and from its package."""
    sys.modules.pop(name, None)
    dot = name.rfind(".")
    package = sys.modules.get(name[:dot]) if dot > 0 else None
    if package is not None and hasattr(package, name[dot + 1:]):
        delattr(package, name[dot + 1:])
