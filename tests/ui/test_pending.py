"""What is asked before the data is open is accepted, shown as waiting, and carried out once
it is open (``PendingRequests``), on the app's own composition (``open_run``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from gptlab_desktop.app import AppRun
from gptlab_desktop.services.assistant_format import bundle_document, encode_document
from tests.builders import make_draft
from tests.ui.conftest import WAIT_MS


def test_what_is_asked_before_the_data_is_open_waits_for_it_and_is_carried_out(
    qtbot: Any, open_run: Callable[..., AppRun], tmp_path: Path
) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(encode_document(bundle_document([make_draft(name="Early Bird")])))
    run = open_run(wait=False)
    window = run.window
    assert not window.is_data_open  # the store opens on a worker thread

    window.findChild(QAction, "newAssistantAction").trigger()
    assert window.import_assistants(path) is None  # accepted, not refused

    assert QApplication.overrideCursor() is not None
    assert QApplication.overrideCursor().shape() == Qt.CursorShape.BusyCursor
    assert window.statusBar().currentMessage().startswith("Opening your data…")
    qtbot.waitUntil(lambda: len(window.assistant_editors) == 1, timeout=WAIT_MS)
    assert window.assistant_editors[0].isVisible()
    assert QApplication.overrideCursor() is None
    qtbot.waitUntil(
        lambda: "Early Bird" in [a.name for a in window.lobby_model.assistants()],
        timeout=WAIT_MS,
    )
