"""Exporting a session from the panel: to a chosen file, a failure told, the save dialog."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QWidget

from gptlab_desktop.services.session_library import ExportFormat
from tests.ui.conftest import WAIT_MS


def test_export_to_a_chosen_path_writes_json_that_round_trips(make_panel, qtbot, tmp_path) -> None:
    world = make_panel()
    path = tmp_path / "dinner.json"
    task = world.panel.export_to(world.ids.pasta_session, str(path), ExportFormat.JSON)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert [m["message"] for m in doc["messages"]] == [
        "A pasta recipe please",
        "Boil water",
        "Thanks",
    ]


def test_export_to_a_missing_folder_tells_the_user(make_panel, qtbot, tmp_path) -> None:
    world = make_panel()
    path = tmp_path / "missing" / "dinner.md"
    task = world.panel.export_to(world.ids.pasta_session, path, ExportFormat.MARKDOWN)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    notice = world.panel.findChild(QWidget, "sessionNotice")
    assert notice.isVisible() and "could not be saved" in notice.text()


def test_the_export_dialog_suggests_a_file_name_and_exports_what_is_chosen(
    make_panel, qtbot, tmp_path
) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.pasta_session))
    dialog = world.panel.ask_export_path(ExportFormat.MARKDOWN)
    assert dialog is not None and dialog.isVisible()
    assert Path(dialog.selectedFiles()[0]).name.startswith("Dinner ")
    assert dialog.defaultSuffix() == "md"
    path = tmp_path / "chosen.md"
    dialog.selectFile(str(path))
    dialog.accept()
    qtbot.waitUntil(path.exists, timeout=WAIT_MS)
    assert "A pasta recipe please" in path.read_text(encoding="utf-8")
