"""Choosing a chat's model and temperature in the header, against two real loopback servers.

The run has two providers: the environment's (``OPENAI_BASE_URL``, the first server) and a
second profile in ``preferences.json`` named "Ollama" (the second server). Tests drive the
window by objectName, wait with ``qtbot.waitUntil``, and check the store and what each server
was asked.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QLabel,
    QListView,
    QPushButton,
)

from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID
from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.paths import AppPaths
from gptlab_desktop.preferences import ProviderProfile, read_preferences
from gptlab_desktop.ui.chat.model_picker import ModelIdRole
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.openai_server import ErrorReply, FakeOpenAIServer, Reply, unused_loopback_url
from tests.ui.chat.chatting import API_KEY, ASSISTANT, message_input, start_chat, transcript
from tests.ui.chat.conftest import save_profiles
from tests.ui.conftest import WAIT_MS, OpenWindow, is_idle, lobby_index_of, wait_for_greeting

# The model of ASSISTANT (chatting.py) is gpt-4o.
SECOND_ID = "ollama-test"
SECOND = "Ollama"
SECOND_MODELS = ("llama3.2", "qwen2.5")


@pytest.fixture
def second_server() -> Iterator[FakeOpenAIServer]:
    """The second provider's loopback server, serving two local models."""
    with FakeOpenAIServer() as server:
        server.models = SECOND_MODELS
        yield server


@pytest.fixture
def window(
    open_window: OpenWindow,
    openai_server: FakeOpenAIServer,
    second_server: FakeOpenAIServer,
    data_dir: Path,
) -> MainWindow:
    """The app's window with two providers: the environment's, and "Ollama"."""
    save_profiles(data_dir, ProviderProfile(SECOND_ID, SECOND, "ollama", second_server.base_url))
    return open_window(
        data_dir, {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": API_KEY}
    )


# -- helpers ---------------------------------------------------------------------------------
def picker(window: MainWindow) -> QComboBox:
    found = window.findChild(QComboBox, "modelPicker")
    assert found is not None
    return found


def temperature_spin(window: MainWindow) -> QDoubleSpinBox:
    found = window.findChild(QDoubleSpinBox, "temperatureSpin")
    assert found is not None
    return found


def labels_of(combo: QComboBox) -> list[str]:
    return [combo.itemText(row) for row in range(combo.count()) if combo.itemText(row)]


def wait_for_models(qtbot, window: MainWindow, label: str) -> None:
    qtbot.waitUntil(lambda: label in labels_of(picker(window)), timeout=WAIT_MS)


def choose(window: MainWindow, label: str) -> None:
    """Pick a row of the picker, as a click in its list does."""
    combo = picker(window)
    row = combo.findText(label)
    assert row >= 0, label
    combo.setCurrentIndex(row)
    combo.activated.emit(row)


def type_choice(qtbot, window: MainWindow, text: str) -> None:
    """Write a choice in the picker and press Enter (set whole: typed key by key, the
    completer's popup would open, a window offscreen Qt cannot raise)."""
    combo = picker(window)
    combo.setFocus()
    combo.lineEdit().setText(text)
    qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)


def type_and_enter(qtbot, window: MainWindow, text: str) -> None:
    box = message_input(window)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def send(qtbot, window: MainWindow, text: str) -> None:
    before = len(transcript(window))
    type_and_enter(qtbot, window, text)
    qtbot.waitUntil(
        lambda: is_idle(window) and len(transcript(window)) >= before + 2, timeout=WAIT_MS
    )


def open_session_id(window: MainWindow) -> str:
    session = window.chat_pane.session
    assert session is not None
    return session.id


def stored_choice(data_dir: Path, session_id: str) -> tuple[str, float, str | None]:
    """The session's model, temperature and provider, read from the SQLite file."""
    with sqlite3.connect(AppPaths(data_dir).database_file) as conn:
        config, provider_id = conn.execute(
            "SELECT bot_model_config, provider_id FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
    values = json.loads(config)
    return values["model"], values["temperature"], provider_id


def info_text(window: MainWindow) -> str:
    return window.findChild(QLabel, "sessionInfoLabel").text()


# -- the list --------------------------------------------------------------------------------
def test_the_picker_lists_every_providers_models_under_its_name(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · qwen2.5")

    labels = labels_of(picker(window))

    assert "Environment · gpt-4o" in labels
    assert labels.index("Environment · gpt-4o") < labels.index("Ollama · llama3.2")
    # The chat's own model, on its own provider, is the one shown.
    assert picker(window).currentText() == "Environment · gpt-4o"


def test_a_provider_whose_models_cannot_be_listed_says_why(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    save_profiles(data_dir, ProviderProfile("gone", "Gone", "custom", unused_loopback_url()))
    window = open_window(
        data_dir, {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": API_KEY}
    )
    start_chat(qtbot, window)
    combo = picker(window)

    qtbot.waitUntil(
        lambda: any(
            text.startswith("Gone — models could not be listed") for text in labels_of(combo)
        ),
        timeout=WAIT_MS,
    )
    row = next(r for r in range(combo.count()) if combo.itemText(r).startswith("Gone"))
    assert not combo.model().item(row).isEnabled()
    assert not combo.itemData(row, ModelIdRole)


def test_the_picker_and_temperature_are_named_and_reached_by_keyboard(
    qtbot, window: MainWindow
) -> None:
    start_chat(qtbot, window)
    combo, spin = picker(window), temperature_spin(window)

    assert combo.accessibleName() == "Model of this chat"
    assert spin.accessibleName() == "Temperature of this chat"
    for widget in (combo, spin):
        assert widget.isVisible()
        assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert (spin.minimum(), spin.maximum(), spin.singleStep()) == (0.0, 2.0, 0.1)


# -- choosing --------------------------------------------------------------------------------
def test_choosing_another_providers_model_changes_the_session_and_the_next_request(
    qtbot,
    window: MainWindow,
    openai_server: FakeOpenAIServer,
    second_server: FakeOpenAIServer,
    data_dir: Path,
) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · llama3.2")
    session_id = open_session_id(window)

    choose(window, "Ollama · llama3.2")

    qtbot.waitUntil(
        lambda: stored_choice(data_dir, session_id)[::2] == ("llama3.2", SECOND_ID),
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(lambda: picker(window).currentText() == "Ollama · llama3.2", timeout=WAIT_MS)
    asked_first = len(openai_server.requests_to("chat"))
    send(qtbot, window, "Hello, local model")
    (request,) = second_server.requests_to("chat")
    assert request.body["model"] == "llama3.2"
    assert len(openai_server.requests_to("chat")) == asked_first
    assert transcript(window)[-1].message == "Echo: Hello, local model"
    assert info_text(window).startswith("llama3.2 · ")


def test_a_model_typed_into_the_picker_is_used_on_the_chats_provider(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · llama3.2")
    type_choice(qtbot, window, "gpt-4o-mini")

    session_id = open_session_id(window)
    qtbot.waitUntil(
        lambda: stored_choice(data_dir, session_id)[::2] == ("gpt-4o-mini", ENVIRONMENT_PROFILE_ID),
        timeout=WAIT_MS,
    )
    send(qtbot, window, "Hi")
    assert openai_server.requests_to("chat")[-1].body["model"] == "gpt-4o-mini"


def test_the_chats_temperature_reaches_the_request(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    spin = temperature_spin(window)
    assert spin.value() == pytest.approx(window.chat_pane.session.bot_model_config.temperature)
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "1.3")
    qtbot.keyClick(spin, Qt.Key.Key_Return)

    session_id = open_session_id(window)
    qtbot.waitUntil(
        lambda: stored_choice(data_dir, session_id)[1] == pytest.approx(1.3), timeout=WAIT_MS
    )
    send(qtbot, window, "Be creative")
    assert openai_server.requests_to("chat")[-1].body["temperature"] == pytest.approx(1.3)


def test_a_message_sent_right_after_a_choice_goes_with_that_choice(
    qtbot, window: MainWindow, second_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · qwen2.5")

    choose(window, "Ollama · qwen2.5")
    temperature_spin(window).setValue(0.2)
    send(qtbot, window, "Straight away")

    (request,) = second_server.requests_to("chat")
    assert (request.body["model"], request.body["temperature"]) == ("qwen2.5", 0.2)


def test_the_picker_and_temperature_are_disabled_while_a_reply_streams(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    combo, spin = picker(window), temperature_spin(window)
    assert combo.isEnabled() and spin.isEnabled()
    openai_server.script(Reply(text="a b c d e f g h", chunk_size=2, delay_s=0.2))

    type_and_enter(qtbot, window, "Go slowly")
    stop = window.findChild(QPushButton, "stopButton")
    qtbot.waitUntil(stop.isEnabled, timeout=WAIT_MS)

    assert not combo.isEnabled() and not spin.isEnabled()
    qtbot.waitUntil(lambda: is_idle(window), timeout=WAIT_MS)
    assert combo.isEnabled() and spin.isEnabled()


def test_the_picker_and_temperature_are_disabled_for_an_ended_session(
    qtbot, window: MainWindow
) -> None:
    start_chat(qtbot, window)
    session_id = open_session_id(window)
    panel = window.workspace.panel
    qtbot.waitUntil(lambda: panel.model.session_ids()[:1] == [session_id], timeout=WAIT_MS)
    panel.select_session(session_id)

    panel.findChild(QAction, "endSessionAction").trigger()

    qtbot.waitUntil(
        lambda: (
            window.chat_pane.session is not None and not window.chat_pane.session.status.is_open
        ),
        timeout=WAIT_MS,
    )
    assert not picker(window).isEnabled()
    assert not temperature_spin(window).isEnabled()


# -- a model the provider does not serve -----------------------------------------------------
def substitute_dialog(window: MainWindow) -> QDialog | None:
    dialog = window.findChild(QDialog, "substituteModelDialog")
    return dialog if dialog is not None and dialog.isVisible() else None


def pick_substitute(qtbot, window: MainWindow, model: str) -> QDialog:
    """Wait for the question, pick ``model`` in it and press Use this model."""
    qtbot.waitUntil(lambda: substitute_dialog(window) is not None, timeout=WAIT_MS)
    dialog = substitute_dialog(window)
    assert dialog is not None
    choice = dialog.findChild(QComboBox, "substituteModelChoice")
    choice.setCurrentIndex(choice.findText(model))
    qtbot.mouseClick(
        dialog.findChild(QPushButton, "useSubstituteButton"), Qt.MouseButton.LeftButton
    )
    return dialog


def test_a_model_the_provider_does_not_serve_is_replaced_by_one_the_user_picks(
    qtbot, window: MainWindow, second_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · qwen2.5")
    # The chat moves to the second provider, keeping a model that one does not list.
    type_choice(qtbot, window, "Ollama · gpt-4o")
    session_id = open_session_id(window)
    qtbot.waitUntil(
        lambda: stored_choice(data_dir, session_id)[::2] == ("gpt-4o", SECOND_ID),
        timeout=WAIT_MS,
    )

    type_and_enter(qtbot, window, "Which model are you?")

    qtbot.waitUntil(lambda: substitute_dialog(window) is not None, timeout=WAIT_MS)
    dialog = substitute_dialog(window)
    assert dialog is not None
    sentence = dialog.findChild(QLabel, "substituteModelText").text()
    assert "Ollama does not serve “gpt-4o”" in sentence
    choice = dialog.findChild(QComboBox, "substituteModelChoice")
    assert [choice.itemText(row) for row in range(choice.count())] == list(SECOND_MODELS)
    # Nothing went out, and the words typed are kept in the box meanwhile.
    assert second_server.requests_to("chat") == []
    assert message_input(window).toPlainText() == "Which model are you?"
    assert len(transcript(window)) == 1

    pick_substitute(qtbot, window, "qwen2.5")

    qtbot.waitUntil(lambda: is_idle(window) and len(transcript(window)) == 3, timeout=WAIT_MS)
    (request,) = second_server.requests_to("chat")
    assert request.body["model"] == "qwen2.5"
    assert [(m.role, m.message) for m in transcript(window)[1:]] == [
        (Role.USER, "Which model are you?"),
        (Role.ASSISTANT, "Echo: Which model are you?"),
    ]
    assert message_input(window).toPlainText() == ""
    # Remembered for that provider, and the chat now talks to the substitute.
    substitutes = read_preferences(AppPaths(data_dir).preferences_file).substitutes
    assert substitutes[SECOND_ID]["gpt-4o"] == "qwen2.5"
    assert stored_choice(data_dir, session_id)[0] == "qwen2.5"
    assert picker(window).currentText() == "Ollama · qwen2.5"


def test_a_greeting_waits_for_a_substitute_when_the_provider_does_not_serve_the_model(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    # The environment's server lists no gpt-4o (the assistant's model), and the app knows.
    openai_server.models = ("mistral-small", "phi4")
    listing = window.chat_pane.model_switch.list_models()
    qtbot.waitUntil(listing.done, timeout=WAIT_MS)
    lobby = window.findChild(QListView, "lobbyList")
    lobby.setCurrentIndex(lobby_index_of(window, ASSISTANT))
    lobby.setFocus()
    qtbot.keyClick(lobby, Qt.Key.Key_Return)

    pick_substitute(qtbot, window, "phi4")

    wait_for_greeting(qtbot, window)
    assert openai_server.requests_to("chat")[-1].body["model"] == "phi4"


def test_declining_to_pick_a_substitute_keeps_the_message_unsent(
    qtbot, window: MainWindow, second_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · qwen2.5")
    type_choice(qtbot, window, "Ollama · gpt-4o")
    qtbot.waitUntil(lambda: picker(window).currentText() == "Ollama · gpt-4o", timeout=WAIT_MS)

    type_and_enter(qtbot, window, "Still here?")
    qtbot.waitUntil(lambda: substitute_dialog(window) is not None, timeout=WAIT_MS)
    substitute_dialog(window).reject()

    qtbot.waitUntil(lambda: is_idle(window) and substitute_dialog(window) is None)
    assert message_input(window).toPlainText() == "Still here?"
    assert len(transcript(window)) == 1
    assert second_server.requests_to("chat") == []


# -- how replies ended -----------------------------------------------------------------------
def test_a_reply_cut_at_the_length_limit_is_marked_and_continue_extends_it(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(text="The first half", finish_reason="length"))
    send(qtbot, window, "Tell me a long story")
    cut = transcript(window)[-1]
    assert cut.state is MessageState.COMPLETE and cut.meta.is_cut_at_length
    assert "Cut at the length limit" in window.chat_view.message_document(2).toPlainText()

    openai_server.script(Reply(text=" and the second."))
    menu = window.chat_view.context_menu_for(2)
    (action,) = [each for each in menu.actions() if each.text() == "Continue"]
    action.trigger()

    qtbot.waitUntil(
        lambda: is_idle(window) and transcript(window)[-1].message.endswith("second."),
        timeout=WAIT_MS,
    )
    extended = transcript(window)[-1]
    assert extended.id == cut.id
    assert extended.message == "The first half and the second."
    assert len(transcript(window)) == 3
    assert "Cut at the length limit" not in window.chat_view.message_document(2).toPlainText()


def test_a_reply_the_provider_filtered_is_marked(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(text="I can tell you tha", finish_reason="content_filter"))
    send(qtbot, window, "Something edgy")

    text = window.chat_view.message_document(2).toPlainText()

    assert "Stopped by the provider's content filter" in text


def test_tokens_a_server_did_not_report_are_an_estimate_at_an_unknown_cost(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(usage=False))
    send(qtbot, window, "Count this yourself")

    qtbot.waitUntil(lambda: "(estimated)" in info_text(window), timeout=WAIT_MS)
    text = info_text(window)
    assert text.startswith("gpt-4o · ≈ ")
    assert text.endswith("tokens (estimated) · cost unknown")
    assert "$" not in text


# -- keys ------------------------------------------------------------------------------------
def test_a_refused_key_asks_for_the_chats_providers_key(
    qtbot, window: MainWindow, second_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    wait_for_models(qtbot, window, "Ollama · llama3.2")
    choose(window, "Ollama · llama3.2")
    qtbot.waitUntil(lambda: picker(window).currentText() == "Ollama · llama3.2", timeout=WAIT_MS)
    second_server.script(ErrorReply.invalid_api_key("ollama"))

    with qtbot.waitSignal(window.chat_pane.providerKeyNeeded, timeout=WAIT_MS) as needed:
        type_and_enter(qtbot, window, "Are you there?")

    assert needed.args == [SECOND_ID]
    qtbot.waitUntil(lambda: is_idle(window), timeout=WAIT_MS)
    notice = window.findChild(QLabel, "noticeLabel")
    assert notice.isVisible() and "did not accept your API key" in notice.text()


# -- typing ----------------------------------------------------------------------------------
def test_typing_tells_the_engine_the_user_is_typing(
    qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_chat(qtbot, window)
    calls: list[None] = []
    monkeypatch.setattr(window.chat_pane._engine, "note_typing", lambda: calls.append(None))

    qtbot.keyClicks(message_input(window), "abc")

    assert len(calls) == 3


def test_a_provider_that_failed_is_asked_again_when_the_list_is_about_to_show(
    qtbot, window: MainWindow, second_server: FakeOpenAIServer
) -> None:
    second_server.script(ErrorReply(403), endpoint="models")
    start_chat(qtbot, window)
    combo = picker(window)
    qtbot.waitUntil(
        lambda: any(text.startswith("Ollama — ") for text in labels_of(combo)), timeout=WAIT_MS
    )

    combo.popupAboutToShow.emit()

    wait_for_models(qtbot, window, "Ollama · llama3.2")
    assert not any(text.startswith("Ollama — ") for text in labels_of(combo))
    assert combo.currentText() == "Environment · gpt-4o"
