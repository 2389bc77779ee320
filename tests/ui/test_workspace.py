"""The chat pane and the sessions panel in the window: opening, search hits, deleting, ending.

Each test drives the app's own window, composed as the app composes it (``open_window``), on a
real SQLite file seeded with two sessions; its chat has no server that needs a key.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QTabWidget,
    QWidget,
)

from gptlab_desktop.paths import AppPaths
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.sessions.model import PanelRole, RowKind
from gptlab_desktop.ui.sessions.panel import SessionPanel
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.fakes.openai_server import FakeOpenAIServer, unused_loopback_url
from tests.ui.conftest import (
    WAIT_MS,
    OpenWindow,
    at_server,
    close_window,
    is_idle,
    seed_chats,
    select_in_lobby,
)

# A word only one message of the long session holds, far above its last screenful.
RARE_WORD = "zanzibar"
LONG_SESSION_MESSAGES = 80
RARE_MESSAGE_NUMBER = 3


# -- seeded data -----------------------------------------------------------------------------
class Seeded(NamedTuple):
    """A long session with a rare word far up, and a short one, both with Historian."""

    long_session: str
    rare_message: str
    short_session: str


def seed_sessions(data_dir: Path) -> Seeded:
    def history(count: int) -> list[str]:
        return [f"Message {number}: " + "a paragraph of history. " * 6 for number in range(count)]

    texts = history(LONG_SESSION_MESSAGES)
    texts[RARE_MESSAGE_NUMBER] = f"The spice trade of {RARE_WORD} in the nineteenth century."
    short = history(2)
    seeded = seed_chats(data_dir, "Historian", [("Long talk", texts), ("Short talk", short)])
    long_session, short_session = seeded.session_ids
    return Seeded(long_session, seeded.message_ids[0][RARE_MESSAGE_NUMBER], short_session)


def stored_session_ids(data_dir: Path) -> set[str]:
    with sqlite3.connect(AppPaths(data_dir).database_file) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM sessions")}


@pytest.fixture
def seeded(data_dir: Path) -> Seeded:
    """Historian's two sessions, stored before the window opens."""
    return seed_sessions(data_dir)


@pytest.fixture
def window(seeded: Seeded, open_window: OpenWindow) -> MainWindow:
    """A browsing window (``browsing_window``) on the seeded sessions."""
    return browsing_window(open_window)


# -- helpers ---------------------------------------------------------------------------------
def panel_of(window: MainWindow) -> SessionPanel:
    panel = window.findChild(SessionPanel, "sessionPanel")
    assert panel is not None
    return panel


def session_list(window: MainWindow) -> QListView:
    return panel_of(window).findChild(QListView, "sessionList")


def session_row(
    window: MainWindow, session_id: str, kind: RowKind = RowKind.SESSION
) -> QModelIndex:
    model = session_list(window).model()
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if (
            index.data(SessionRole.SESSION_ID) == session_id
            and index.data(PanelRole.ROW_KIND) is kind
        ):
            return index
    raise AssertionError(f"{session_id} is not listed as a {kind}")


def listed_sessions(window: MainWindow) -> list[str]:
    return panel_of(window).model.session_ids()


def browsing_window(open_window: OpenWindow) -> MainWindow:
    """A window whose chat has no server (none that needs a key: no key dialog), made active
    with the sessions panel shown, so that shortcuts reach it."""
    window = open_window(environ={"OPENAI_BASE_URL": unused_loopback_url()})
    window.sidebar_tabs.setCurrentWidget(panel_of(window))
    window.activateWindow()
    return window


def focus_list(qtbot: Any, window: MainWindow) -> QListView:
    """The sessions list, focused in the active window (its shortcuts act only then)."""
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    view = session_list(window)
    view.setFocus()
    return view


def open_from_panel(qtbot: Any, window: MainWindow, index: QModelIndex) -> None:
    """Make a row current and press Enter on it, as the user does."""
    view = focus_list(qtbot, window)
    view.setCurrentIndex(index)
    qtbot.keyClick(view, Qt.Key.Key_Return)


def open_in_pane(qtbot: Any, window: MainWindow, session_id: str) -> None:
    """Open a listed session from the panel, and wait until the chat pane shows it."""
    open_from_panel(qtbot, window, session_row(window, session_id))
    qtbot.waitUntil(lambda: open_session_id(window) == session_id, timeout=WAIT_MS)


def delete_in_panel(qtbot: Any, window: MainWindow, session_id: str) -> None:
    """Make a listed session current and press Delete on it."""
    focus_list(qtbot, window).setCurrentIndex(session_row(window, session_id))
    qtbot.keyClick(session_list(window), Qt.Key.Key_Delete)


def open_session_id(window: MainWindow) -> str | None:
    session = window.chat_pane.session
    return session.id if session is not None else None


def is_visible_in(view: QListView, index: QModelIndex) -> bool:
    return view.viewport().rect().intersects(view.visualRect(index))


# -- the sessions panel ----------------------------------------------------------------------
def test_the_sessions_panel_is_the_windows_sessions_tab(open_window: OpenWindow) -> None:
    window = browsing_window(open_window)
    tabs = window.findChild(QTabWidget, "sidebarTabs")
    assert tabs.widget(1) is panel_of(window)
    for kind, name in ((QLineEdit, "sessionSearch"), (QWidget, "sessionScopeCombo")):
        assert panel_of(window).findChild(kind, name) is not None, name


def test_enter_on_a_listed_session_opens_it_in_the_chat_pane(
    qtbot, seeded: Seeded, window: MainWindow
) -> None:
    open_in_pane(qtbot, window, seeded.short_session)
    assert len(window.chat_view.transcript().messages()) == 2


def test_selecting_an_assistant_lists_its_sessions_when_the_list_shows_this_assistant(
    qtbot, seeded: Seeded, window: MainWindow
) -> None:
    scope = panel_of(window).findChild(QComboBox, "sessionScopeCombo")
    select_in_lobby(window, "Code Reviewer")
    scope.setCurrentIndex(scope.findData("assistant"))
    qtbot.waitUntil(lambda: listed_sessions(window) == [], timeout=WAIT_MS)
    select_in_lobby(window, "Historian")
    qtbot.waitUntil(
        lambda: set(listed_sessions(window)) == {seeded.long_session, seeded.short_session},
        timeout=WAIT_MS,
    )


def test_a_search_hit_opens_its_session_scrolled_to_the_message(
    qtbot, seeded: Seeded, window: MainWindow
) -> None:
    qtbot.keyClicks(panel_of(window).findChild(QLineEdit, "sessionSearch"), RARE_WORD)
    qtbot.waitUntil(lambda: panel_of(window).model.is_results, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel_of(window).model.rowCount() == 2, timeout=WAIT_MS)
    hit = session_row(window, seeded.long_session, RowKind.HIT)

    open_from_panel(qtbot, window, hit)

    qtbot.waitUntil(lambda: open_session_id(window) == seeded.long_session, timeout=WAIT_MS)
    transcript = window.chat_view.transcript()
    target = transcript.index(transcript.row_of(seeded.rare_message), 0)
    qtbot.waitUntil(lambda: window.chat_view.currentIndex() == target, timeout=WAIT_MS)
    assert is_visible_in(window.chat_view, target)
    last = transcript.index(transcript.rowCount() - 1, 0)
    assert not is_visible_in(window.chat_view, last)


def test_deleting_the_open_session_clears_the_chat_pane(
    qtbot, seeded: Seeded, window: MainWindow
) -> None:
    open_in_pane(qtbot, window, seeded.short_session)

    # Opening put the cursor in the message box: back to the list to delete.
    delete_in_panel(qtbot, window, seeded.short_session)

    assert window.chat_pane.session is None
    assert window.chat_view.transcript().rowCount() == 0
    assert seeded.short_session not in listed_sessions(window)
    assert panel_of(window).findChild(QWidget, "undoBar").isVisible()


def test_undo_through_the_window_brings_a_deleted_session_back_and_keeps_it(
    qtbot, seeded: Seeded, window: MainWindow, data_dir: Path
) -> None:
    delete_in_panel(qtbot, window, seeded.short_session)
    undo = panel_of(window).findChild(QPushButton, "undoDeleteButton")

    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: seeded.short_session in listed_sessions(window), timeout=WAIT_MS)
    close_window(qtbot, window)
    assert stored_session_ids(data_dir) == {seeded.long_session, seeded.short_session}


def test_a_deletion_still_undoable_is_carried_out_when_the_window_closes(
    qtbot, seeded: Seeded, window: MainWindow, data_dir: Path
) -> None:
    delete_in_panel(qtbot, window, seeded.short_session)

    close_window(qtbot, window)

    assert stored_session_ids(data_dir) == {seeded.long_session}


def test_ending_the_open_session_from_the_panel_closes_its_message_box(
    qtbot, seeded: Seeded, window: MainWindow
) -> None:
    open_in_pane(qtbot, window, seeded.short_session)

    panel_of(window).findChild(QAction, "endSessionAction").trigger()

    qtbot.waitUntil(
        lambda: (
            window.chat_pane.session is not None and not window.chat_pane.session.status.is_open
        ),
        timeout=WAIT_MS,
    )
    assert not window.message_input.isEnabled()
    assert window.findChild(QLabel, "endedLabel").isVisible()


def test_ctrl_shift_f_from_the_lobby_shows_the_session_search(
    qtbot, open_window: OpenWindow
) -> None:
    window = open_window(environ={"OPENAI_BASE_URL": unused_loopback_url()})
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.lobby_list.setFocus()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.lobby_list, Qt.Key.Key_F, modifiers)
    assert window.sidebar_tabs.currentWidget() is panel_of(window)
    assert panel_of(window).findChild(QLineEdit, "sessionSearch").hasFocus()


def test_a_new_session_is_listed_and_selected_in_the_panel(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))
    select_in_lobby(window, "Code Reviewer")
    window.start_session_with_selected()
    qtbot.waitUntil(
        lambda: open_session_id(window) is not None and is_idle(window), timeout=WAIT_MS
    )
    opened = open_session_id(window)
    qtbot.waitUntil(lambda: panel_of(window).current_session_id() == opened, timeout=WAIT_MS)
