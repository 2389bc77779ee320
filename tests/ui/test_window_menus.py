"""The window's menus: the actions' shortcuts, the lobby's context menu and the About box."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from gptlab_desktop import __version__
from tests.ui.conftest import WAIT_MS, OpenWindow


def test_ctrl_shift_n_is_the_new_assistant_shortcut(open_window: OpenWindow) -> None:
    window = open_window()
    assert window.findChild(QAction, "newAssistantAction").shortcut().toString() == "Ctrl+Shift+N"


def test_the_lobby_context_menu_offers_the_actions_on_an_assistant(
    open_window: OpenWindow,
) -> None:
    window = open_window()
    names = [action.objectName() for action in window.lobby_menu.actions() if action.objectName()]
    assert names == [
        "newSessionAction",
        "editAssistantAction",
        "duplicateAssistantAction",
        "publishAssistantAction",
        "unpublishAssistantAction",
        "exportAssistantAction",
    ]


def test_about_box_shows_the_version(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    window.findChild(QAction, "aboutAction").trigger()
    box = window.findChild(QMessageBox, "aboutBox")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert __version__ in box.text()
    box.close()
