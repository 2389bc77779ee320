"""Regression guard for the PySide6 build this app may run on (DESIGN.md, measured pitfalls).

PySide6 6.12.0 on Python 3.11 drops one reference to ``None`` per
``QApplication.processEvents()``; after about a thousand calls CPython aborts with
``none_dealloc``. qasync, qtbot's waits and every modal loop call it, so a leaking build would
kill the app within minutes. pyproject pins PySide6 below 6.12 on Python < 3.12; this test
catches a build that leaks anyway.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

CALLS = 3_000
# Other objects may legitimately let go of a few references to None meanwhile; a leaking
# build drops one per call (3,000), and aborts long before the end.
TOLERANCE = 100


def test_process_events_does_not_leak_references_to_none(qapp: QApplication) -> None:
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        qapp.processEvents()
    assert sys.getrefcount(None) >= before - TOLERANCE
