"""Settings → API Key… from the window: when the key dialog opens, what a saved key changes, and
the notice of where the key is kept.

Each test drives the app's own window (``open_window``) on a real SQLite file, its chat going to
the OpenAI-compatible loopback server; secrets go to keyring's "no keyring" backend (kept in
memory) or, where the test is about the keyring, to a real Secret Service on a private bus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton

from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.keyring_daemon import SecretServiceDaemon
from tests.fakes.openai_server import FakeOpenAIServer
from tests.ui.conftest import (
    GREETING,
    WAIT_MS,
    OpenWindow,
    at_server,
    close_window,
    select_in_lobby,
    trigger,
    wait_for_greeting,
)

API_KEY = "sk-test-WindowKey0123456789abcdef0123456789abcdef"


# -- helpers ---------------------------------------------------------------------------------
def api_key_dialog(window: MainWindow) -> ApiKeyDialog | None:
    return window.findChild(ApiKeyDialog, "apiKeyDialog")


def save_key_in_dialog(qtbot: Any, window: MainWindow, key: str) -> None:
    """Open Settings → API Key…, type the key, save it, and wait until the window uses it."""
    trigger(window, "apiKeyAction")
    dialog = api_key_dialog(window)
    assert dialog is not None
    qtbot.keyClicks(dialog.findChild(QLineEdit, "apiKeyEdit"), key)
    with qtbot.waitSignal(window.accountChanged, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.findChild(QPushButton, "saveKeyButton"), Qt.MouseButton.LeftButton)


def greet_with(qtbot: Any, window: MainWindow, name: str) -> None:
    select_in_lobby(window, name)
    window.start_session_with_selected()
    wait_for_greeting(qtbot, window)


# -- the key dialog --------------------------------------------------------------------------
def test_a_first_run_against_openai_without_a_key_opens_the_api_key_dialog(
    qtbot, open_window: OpenWindow
) -> None:
    window = open_window()
    dialog = api_key_dialog(window)
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    # Not modal: the lobby and past sessions can be browsed meanwhile.
    assert not dialog.isModal()
    assert dialog.windowModality() is Qt.WindowModality.NonModal


def test_a_compatible_server_needs_no_key_so_no_dialog_opens(
    open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))
    assert api_key_dialog(window) is None


def test_a_key_in_the_environment_opens_no_dialog(open_window: OpenWindow) -> None:
    window = open_window(environ={"OPENAI_API_KEY": API_KEY})
    assert api_key_dialog(window) is None


def test_the_api_key_action_opens_the_dialog(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))
    trigger(window, "apiKeyAction")
    dialog = api_key_dialog(window)
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)


def test_a_saved_key_is_carried_by_the_next_chat_request(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    openai_server.api_key = API_KEY
    window = open_window(environ=at_server(openai_server))

    save_key_in_dialog(qtbot, window, API_KEY)
    greet_with(qtbot, window, "Code Reviewer")

    assert openai_server.requests_to("chat")[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert window.chat_view.transcript().messages()[0].message == GREETING


def test_saving_a_key_keeps_the_local_user(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    # The user is the store's own, created with it: a key never decides who the user is.
    openai_server.api_key = API_KEY
    window = open_window(environ=at_server(openai_server))
    local_user = window.current_user
    assert local_user is not None

    save_key_in_dialog(qtbot, window, API_KEY)

    assert window.current_user is not None
    assert window.current_user.id == local_user.id


def test_without_a_keyring_the_status_bar_says_where_the_key_is_kept(
    open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))
    message = window.statusBar().currentMessage()
    assert message.startswith("No system keyring is available")
    assert "kept in memory for this run only" in message


@pytest.mark.keyring_daemon
def test_a_key_saved_in_the_keyring_is_used_at_the_next_start(
    qtbot,
    open_window: OpenWindow,
    openai_server: FakeOpenAIServer,
    secret_service: SecretServiceDaemon,
    data_dir: Path,
) -> None:
    openai_server.api_key = API_KEY
    first = open_window(environ=at_server(openai_server), keyring_backend=SecretService.Keyring())
    save_key_in_dialog(qtbot, first, API_KEY)
    close_window(qtbot, first)
    assert secret_service.stored_secrets() == [API_KEY]

    second = open_window(
        data_dir, environ=at_server(openai_server), keyring_backend=SecretService.Keyring()
    )
    greet_with(qtbot, second, "Travel Planner")

    assert openai_server.requests_to("chat")[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert not second.statusBar().currentMessage().startswith("No system keyring")
