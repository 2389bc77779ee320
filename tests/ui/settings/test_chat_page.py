"""The Chat page: how new chats start, saved with Apply for the next run, and the session type
a new assistant then starts with; the model box offers the models of the provider new chats
use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton

from gptlab_desktop.models import SessionType
from gptlab_desktop.preferences import ChatDefaults, read_preferences
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.settings.chat_page import ChatPage
from gptlab_desktop.ui.settings.pages import SettingsPage
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAIServer
from tests.ui.conftest import WAIT_MS, OpenWindow, at_server
from tests.ui.settings.conftest import child, open_settings, visible_text


def chat_page(qtbot: Any, window: MainWindow) -> ChatPage:
    dialog = open_settings(qtbot, window)
    dialog.show_page(SettingsPage.CHAT)
    return dialog.chat_page


def save_chat_defaults(qtbot: Any, page: ChatPage) -> None:
    """Set every default away from its first value, Apply, and wait until saved."""
    child(page, QComboBox, "defaultModelCombo").setEditText("llama3.2")
    sessions = child(page, QComboBox, "defaultSessionTypeCombo")
    sessions.setCurrentIndex(sessions.findData(SessionType.COACHING))
    child(page, QCheckBox, "titlesCheck").setChecked(False)
    child(page, QCheckBox, "moderationCheck").setChecked(False)
    qtbot.mouseClick(child(page, QPushButton, "chatApplyButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.task("apply") is None, timeout=WAIT_MS)


def test_the_chat_defaults_start_as_saved_and_apply_saves_them_for_the_next_run(
    qtbot: Any, open_window: OpenWindow, data_dir: Path
) -> None:
    window = open_window()
    page = chat_page(qtbot, window)
    assert child(page, QCheckBox, "titlesCheck").isChecked()
    assert child(page, QCheckBox, "moderationCheck").isChecked()
    assert child(page, QComboBox, "defaultModelCombo").currentText() == ""

    save_chat_defaults(qtbot, page)

    wanted = ChatDefaults("llama3.2", SessionType.COACHING, titles=False, moderation=False)
    assert window._services.providers.preferences.chat == wanted
    assert read_preferences(data_dir / "preferences.json").chat == wanted
    assert "Saved" in visible_text(child(page, QLabel, "chatFeedback"))


def test_a_new_assistant_starts_with_the_session_type_chosen(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    save_chat_defaults(qtbot, chat_page(qtbot, window))

    editor = window.new_assistant()

    assert editor is not None
    assert editor.form.session_type_combo.currentData() == SessionType.COACHING
    # The chosen type is where the new assistant starts, not a change to ask about.
    assert not editor.is_dirty
    editor.reject()


def test_the_model_box_offers_the_models_of_the_provider_for_new_chats(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    page = chat_page(qtbot, open_window(environ=at_server(openai_server)))
    models = child(page, QComboBox, "defaultModelCombo")

    qtbot.waitUntil(lambda: models.count() > 0, timeout=WAIT_MS)

    offered = {models.itemText(row) for row in range(models.count())}
    assert set(DEFAULT_MODELS) <= offered
    assert models.currentText() == ""
