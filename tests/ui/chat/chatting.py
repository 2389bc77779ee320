"""Driving a chat through the main window: what tests of the window's chat share.

The window comes from the ``window`` fixture (``conftest.py``): the app on a real SQLite file,
its chat pointed at the loopback OpenAI-compatible server.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListView, QPlainTextEdit, QPushButton

from gptlab_desktop.models import Message, Role
from gptlab_desktop.paths import AppPaths
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.ui.conftest import WAIT_MS, is_idle, lobby_index_of, wait_for_greeting

API_KEY = "sk-test-key-0123456789"
ASSISTANT = "Code Reviewer"


def transcript(window: MainWindow) -> list[Message]:
    return list(window.chat_view.transcript().messages())


def texts(window: MainWindow) -> list[tuple[Role, str]]:
    return [(m.role, m.message) for m in transcript(window)]


def button(window: MainWindow, name: str) -> QPushButton:
    found = window.findChild(QPushButton, name)
    assert found is not None, name
    return found


def label(window: MainWindow, name: str) -> QLabel:
    found = window.findChild(QLabel, name)
    assert found is not None, name
    return found


def message_input(window: MainWindow) -> QPlainTextEdit:
    return window.findChild(QPlainTextEdit, "messageInput")


def start_chat(qtbot, window: MainWindow, name: str = ASSISTANT) -> None:
    """Select an assistant in the lobby and press Enter; wait for its greeting."""
    lobby = window.findChild(QListView, "lobbyList")
    lobby.setCurrentIndex(lobby_index_of(window, name))
    lobby.setFocus()
    qtbot.keyClick(lobby, Qt.Key.Key_Return)
    wait_for_greeting(qtbot, window)


def type_and_enter(qtbot, window: MainWindow, text: str) -> QPlainTextEdit:
    """Type a message and press Enter (the reply then starts); the message box."""
    box = message_input(window)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    return box


def send(qtbot, window: MainWindow, text: str) -> None:
    """Type a message, press Enter, and wait until the reply has settled."""
    before = len(transcript(window))
    type_and_enter(qtbot, window, text)
    qtbot.waitUntil(
        lambda: is_idle(window) and len(transcript(window)) >= before + 2, timeout=WAIT_MS
    )


def stored_messages(data_dir: Path, session_id: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(AppPaths(data_dir).database_file) as conn:
        return list(
            conn.execute(
                "SELECT role, message, state FROM messages WHERE session_id = ? ORDER BY seq",
                (session_id,),
            )
        )


def stored_session(data_dir: Path, session_id: str) -> tuple[int, int | None]:
    with sqlite3.connect(AppPaths(data_dir).database_file) as conn:
        return conn.execute(
            "SELECT status, user_liked FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()


def listed_session_ids(window: MainWindow) -> list[str]:
    model = window.findChild(QListView, "sessionList").model()
    return [model.index(row, 0).data(SessionRole.SESSION_ID) for row in range(model.rowCount())]


def open_session_id(window: MainWindow) -> str:
    session = window.chat_pane.session
    assert session is not None
    return session.id
