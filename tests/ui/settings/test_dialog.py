"""The Settings window: opened from the menu or Ctrl+, without blocking, one per window, its
pages in a list, Esc closing it; the Appearance and Privacy pages in words; the Storage page
hosting the storage controls (once the data is open)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QRadioButton

from gptlab_desktop.preferences import Preferences
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.settings.dialog import STORAGE_WAITS_TEXT, SettingsDialog
from gptlab_desktop.ui.settings.pages import SettingsPage
from gptlab_desktop.ui.settings.storage_page import StoragePage
from tests.ui.conftest import WAIT_MS, OpenWindow, trigger
from tests.ui.settings.conftest import child, open_settings


def page_names(dialog: SettingsDialog) -> list[str]:
    pages = child(dialog, QListWidget, "settingsPageList")
    return [pages.item(row).text() for row in range(pages.count())]


def test_preferences_opens_the_settings_window_with_every_page_and_does_not_block(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    assert window.findChild(QAction, "preferencesAction").isEnabled()

    dialog = open_settings(qtbot, window)

    assert page_names(dialog) == ["Providers", "Chat", "Appearance", "Storage", "Privacy"]
    assert dialog.current_page is SettingsPage.PROVIDERS
    assert not dialog.isModal()
    assert dialog.accessibleName() == "Settings"


def test_ctrl_comma_opens_the_settings_window(qtbot: Any, open_window: OpenWindow) -> None:
    window = open_window()
    shortcuts = window.findChild(QAction, "preferencesAction").shortcuts()
    assert "Ctrl+," in [each.toString() for each in shortcuts]
    # Shortcuts reach only the active window (the API key dialog opened on top of it).
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)

    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)

    dialog = child(window, SettingsDialog, "settingsDialog")
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)


def test_opening_settings_again_brings_up_the_same_window_on_the_page_asked(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    first = open_settings(qtbot, window)

    again = window.show_settings(SettingsPage.PRIVACY)

    assert again is first
    assert window.findChildren(SettingsDialog) == [first]
    assert again.current_page is SettingsPage.PRIVACY


def test_esc_closes_the_settings_window(qtbot: Any, open_window: OpenWindow) -> None:
    dialog = open_settings(qtbot, open_window())

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def test_the_privacy_page_says_in_words_what_leaves_the_computer(
    qtbot: Any, open_window: OpenWindow
) -> None:
    dialog = open_settings(qtbot, open_window())
    dialog.show_page(SettingsPage.PRIVACY)

    text = child(dialog, QLabel, "privacyPageText").text()

    for words in (
        "Your messages go to the provider the chat uses, and to no one else",
        "Chat titles and moderation are extra requests to that same provider",
        "Switch either off on the Chat page",
        "keyring, never in a file",
        "encrypted before it leaves, with a key no server sees",
        "log file holds no message text",
    ):
        assert words in text


def test_the_appearance_page_says_theme_and_zoom_come_later(
    qtbot: Any, open_window: OpenWindow
) -> None:
    dialog = open_settings(qtbot, open_window())

    text = child(dialog, QLabel, "appearancePageText").text()

    assert "theme" in text and "zoom" in text and "later version" in text


def test_storage_opens_settings_on_the_storage_page_with_the_storage_controls(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.storage_actions._sync is not None, timeout=WAIT_MS)

    trigger(window, "storageAction")

    dialog = child(window, SettingsDialog, "settingsDialog")
    assert dialog.current_page is SettingsPage.STORAGE
    page = child(dialog, StoragePage, "storageDialog")
    assert page is window.show_storage_dialog()
    assert child(page, QRadioButton, "storageLocal").isChecked()
    assert child(page, QPushButton, "storageApplyButton").isEnabled()


def test_before_the_data_is_open_the_storage_page_says_it_waits(qtbot: Any, qt_loop: Any) -> None:
    dialog = SettingsDialog(Providers(Preferences()), show_account_key=lambda: None)
    qtbot.addWidget(dialog)

    dialog.show_page(SettingsPage.STORAGE)
    dialog.show()

    assert dialog.storage_page is None
    shown = [label.text() for label in dialog.findChildren(QLabel) if label.isVisible()]
    assert STORAGE_WAITS_TEXT in shown
