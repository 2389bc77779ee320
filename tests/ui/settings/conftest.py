"""The Settings window's tests: it is opened in the app's own window, as the user opens it."""

from __future__ import annotations

from typing import Any, TypeVar

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.settings.dialog import SettingsDialog
from tests.ui.conftest import WAIT_MS, trigger

W = TypeVar("W", bound=QObject)


def child(parent: QObject, kind: type[W], name: str) -> W:
    """The child of ``parent`` called ``name``, which must exist."""
    found = parent.findChild(kind, name)
    assert found is not None, name
    return found


def open_settings(qtbot: Any, window: MainWindow) -> SettingsDialog:
    """Settings → Preferences…, and the window it shows."""
    trigger(window, "preferencesAction")
    dialog = child(window, SettingsDialog, "settingsDialog")
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    return dialog


def visible_text(widget: QWidget) -> str:
    """What a label says, or "" while it is hidden."""
    text = widget.property("text")
    return str(text) if widget.isVisible() and text else ""
