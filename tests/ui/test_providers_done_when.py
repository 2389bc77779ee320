"""Issue 23's done-when, as a user does it, in the app's own window against real loopback
servers: an Ollama-style local server (a 2,048-token window it enforces, no usage in its
streams) and an Anthropic profile are added in Settings; a chat switches between their
models, goes on past the local model's context without breaking, shows "Cut at the length
limit" with Continue where a reply was cut, and never shows a wrong cost or an empty error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit, QListView, QPlainTextEdit

from gptlab_desktop.models import Role
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.anthropic_server import FakeAnthropicServer, MessageReply
from tests.fakes.openai_server import FakeOpenAIServer, Ollama, Reply
from tests.ui.chat.chatting import transcript
from tests.ui.chat.conftest import save_profiles
from tests.ui.chat.test_model_picker import choose, info_text, pick_substitute, wait_for_models
from tests.ui.conftest import WAIT_MS, OpenWindow, is_idle, lobby_index_of
from tests.ui.settings.test_providers_page import add, apply, fill, providers_page

ANTHROPIC_KEY = "sk-ant-test-DoneWhen0123456789"
LOCAL_MODEL = "llama3.2:1b"
SENTENCE = "The gardener waters the young tomatoes early, before the sun is high. "


@pytest.fixture
def local() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(personality=Ollama({LOCAL_MODEL: 2048}), context_limit=2048) as server:
        server.streams_usage = False
        yield server


@pytest.fixture
def claude() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(api_key=ANTHROPIC_KEY) as server:
        yield server


def ask(qtbot: Any, window: MainWindow, text: str) -> None:
    box = window.findChild(QPlainTextEdit, "messageInput")
    before = len(transcript(window))
    box.setPlainText(text)
    box.setFocus()
    from PySide6.QtCore import Qt

    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: is_idle(window) and len(transcript(window)) >= before + 2, timeout=WAIT_MS
    )


def test_two_providers_added_in_settings_serve_one_chat_past_the_local_context(
    qtbot: Any,
    open_window: OpenWindow,
    data_dir: Path,
    local: FakeOpenAIServer,
    claude: FakeAnthropicServer,
) -> None:
    save_profiles(data_dir)  # no provider yet (and nothing reaches a real endpoint)
    window = open_window(data_dir, {})

    # Settings → Providers: the local server, used for new chats, and Anthropic with its key.
    page = providers_page(qtbot, window)
    add(page, "ollama")
    fill(page, "Home Ollama", local.base_url)
    apply(qtbot, page)
    add(page, "anthropic")
    fill(page, "Anthropic", claude.base_url, key=ANTHROPIC_KEY)
    apply(qtbot, page)
    page.window().close()

    # A chat with a showcased assistant (its model is OpenAI's): the local server does not
    # serve it, so the user picks the local model, remembered for that provider.
    lobby = window.findChild(QListView, "lobbyList")
    lobby.setCurrentIndex(lobby_index_of(window, "Code Reviewer"))
    window.start_session_with_selected()
    pick_substitute(qtbot, window, LOCAL_MODEL)
    qtbot.waitUntil(lambda: is_idle(window) and len(transcript(window)) == 1, timeout=WAIT_MS)

    # Past the model's 2,048 tokens: eight long turns, each answered.
    for turn in range(8):
        local.script(Reply(f"Reply {turn}. " + SENTENCE * 8))
        ask(qtbot, window, f"Question {turn}. " + SENTENCE * 8)
    replies = [m for m in transcript(window) if m.role is Role.ASSISTANT]
    assert all(m.message and not m.meta.failure for m in replies)
    assert "cost unknown" in info_text(window) and "$" not in info_text(window)
    assert "estimated" in info_text(window)

    # A reply cut at the length limit says so, and Continue finishes it.
    local.script(Reply("The list begins", finish_reason="length"))
    ask(qtbot, window, "List the vegetables.")
    cut = transcript(window)[-1]
    assert cut.meta.is_cut_at_length
    row = len(transcript(window)) - 1
    assert "Cut at the length limit" in window.chat_view.message_document(row).toPlainText()
    menu = window.chat_view.context_menu_for(row)
    assert "Continue" in [action.text() for action in menu.actions()]
    local.script(Reply(" and ends here."))
    window.chat_pane.continue_reply()
    qtbot.waitUntil(
        lambda: is_idle(window) and transcript(window)[-1].message.endswith("ends here."),
        timeout=WAIT_MS,
    )

    # The same chat moves to Anthropic's model and goes on, the conversation going along.
    haiku = "Anthropic · claude-haiku-4-5 · 200k"
    window.chat_pane.model_picker.listWanted.emit()  # as opening its list does
    wait_for_models(qtbot, window, haiku)
    choose(window, haiku)
    qtbot.waitUntil(
        lambda: (
            window.chat_pane.session is not None
            and window.chat_pane.session.bot_model_config.model == "claude-haiku-4-5"
        ),
        timeout=WAIT_MS,
    )
    claude.script(MessageReply(text="From Claude."))
    ask(qtbot, window, "And you?")
    assert transcript(window)[-1].message == "From Claude."
    [request] = claude.requests_to("messages")
    assert request.body["model"] == "claude-haiku-4-5"
    # No price was given for either provider: the cost stays unknown, never a figure.
    assert "$" not in info_text(window)
    # Nothing went wrong, so no notice is up; none ever ends without its reason.
    notice = window.findChild(QLabel, "noticeLabel")
    assert not notice.isVisible() or not notice.text().rstrip().endswith(":")


def test_a_reply_without_the_providers_key_opens_that_providers_key_field(
    qtbot: Any, open_window: OpenWindow, data_dir: Path, claude: FakeAnthropicServer
) -> None:
    from gptlab_desktop.preferences import ProviderProfile
    from gptlab_desktop.ui.settings.dialog import SettingsDialog

    save_profiles(data_dir, ProviderProfile("claude", "Anthropic", "anthropic", claude.base_url))
    window = open_window(data_dir, {})
    lobby = window.findChild(QListView, "lobbyList")
    lobby.setCurrentIndex(lobby_index_of(window, "Code Reviewer"))
    window.start_session_with_selected()  # the greeting needs Anthropic's key: none is saved

    def settings() -> SettingsDialog | None:
        found = window.findChild(SettingsDialog, "settingsDialog")
        return found if found is not None and found.isVisible() else None

    qtbot.waitUntil(lambda: settings() is not None, timeout=WAIT_MS)
    dialog = settings()
    assert dialog is not None
    page = dialog.providers_page
    assert page.selected_profile_id() == "claude"
    qtbot.waitUntil(lambda: page.findChild(QLineEdit, "apiKeyEdit").hasFocus(), timeout=WAIT_MS)
    notice = page.findChild(QLabel, "providerKeyNotice").text()
    assert "Anthropic" in notice and "Console" in notice
    assert claude.requests_to("messages") == []
