"""PySide6's per-import source scan, answered without keeping every module's source in memory.

Once ``PySide6.QtCore`` is imported, PySide6 (6.4 and later) looks at every module imported after
it to decide the module's ``__feature__`` default: a module whose source mentions "PySide6" gets
"no feature" (0), any other "ignore this module" (-1). It reads the source with
``inspect.getsource``, which goes through ``linecache``: the source of every module imported for
the rest of the run stays in memory, and each import pays for splitting it into lines.

Measured on the 2-core VM: 4 MB of the window's memory at first paint, 12–19 MB once the chat's
libraries (openai and its types) have loaded, and a tenth of the start-up time after Qt's own
import. ``scan_sources_cheaply`` answers the same question from the module file's bytes, read
and dropped; modules without a ``.py`` file still get PySide6's own answer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

# The module of PySide6's import hook, and the function it calls for each imported module.
_FEATURE_MODULE = "shibokensupport.feature"
_SCAN_FUNCTION = "_mod_uses_pyside"
_MARKER = b"PySide6"


def scan_sources_cheaply() -> bool:
    """Replace PySide6's source scan (after ``PySide6.QtCore`` is imported); whether it is.

    False when this PySide6 has no such scan (nothing to do), so an upgrade that drops it is
    harmless; the test suite checks that the pinned version has it.
    """
    feature = sys.modules.get(_FEATURE_MODULE)
    scan = getattr(feature, _SCAN_FUNCTION, None)
    if feature is None or not callable(scan):
        return False
    if isinstance(scan, _FileScan):
        return True
    setattr(feature, _SCAN_FUNCTION, _FileScan(scan))
    return True


class _FileScan:
    """Whether a module's source mentions PySide6, from its file's bytes (no line cache)."""

    def __init__(self, fallback: Callable[[ModuleType], bool]) -> None:
        self._fallback = fallback

    def __call__(self, module: ModuleType) -> bool:
        """PySide6's answer for ``module``, without caching its source."""
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return self._fallback(module)  # built in, compiled only, or an extension
        try:
            with open(path, "rb") as source:
                return _MARKER in source.read()
        except OSError:
            return self._fallback(module)
