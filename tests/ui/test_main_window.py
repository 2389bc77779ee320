"""The main window: its first paint, the lobby it fills, details and sessions, its actions,
layout memory, store problems, and closing.

Each test runs the app's own composition (``open_window``, ``open_run``: ``app.launch``) on a real
SQLite file; the slow-keyring case uses the real test Secret Service with every answer delayed
(``SlowSecretService``).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QWidget,
)

from gptlab_desktop.app import AppRun
from gptlab_desktop.models import ModelConfig, Role, SessionType
from gptlab_desktop.paths import AppPaths
from gptlab_desktop.services.errors import StoreUnavailable
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from gptlab_desktop.ui.lobby_model import LobbyGroup, LobbyRole
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.builders import make_session
from tests.fakes.keyring_daemon import SlowSecretService
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.ui.conftest import (
    GREETING,
    WAIT_MS,
    OpenWindow,
    close_window,
    lobby_index_of,
    lobby_names,
    run_in_fresh_loop,
    select_in_lobby,
    showcase_names,
)


# -- the first paint -------------------------------------------------------------------------
# Start-up refuses nothing: from the lobby's first paint every action works at once. The user is
# the store's own (created with it), so neither the store nor the user waits for the keyring; a
# keyring that takes 3 s to answer delays only the first request to the AI service.
@dataclass
class FirstPaint(QObject):
    """At the lobby's first paint that shows assistants, does what a quick user does."""

    run: AppRun
    seen: bool = False
    data_open: bool = False
    account_loaded: bool = True
    reply_started: bool = False
    editors: list[AssistantEditorDialog] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        """On that paint: activate the first row (Enter) and trigger New Assistant…."""
        window = self.run.window
        if self.seen or event.type() != QEvent.Type.Paint or window.lobby_filter.rowCount() == 0:
            return False
        self.seen = True
        self.data_open = window.is_data_open
        self.account_loaded = self.run.services.load_account().done()
        first = window.lobby_filter.index(0, 0)
        window.lobby_list.setCurrentIndex(first)
        window.lobby_list.activated.emit(first)  # what Enter or a double-click emits
        self.reply_started = window.chat_pane.reply_task() is not None
        window.findChild(QAction, "newAssistantAction").trigger()
        self.editors = window.assistant_editors
        return False


def start_quickly(
    qtbot: Any, open_run: Callable[..., AppRun], server: FakeOpenAIServer, **kwargs: Any
) -> FirstPaint:
    server.script(Reply(text=GREETING))
    run = open_run(environ={"OPENAI_BASE_URL": server.base_url}, wait=False, **kwargs)
    watch = FirstPaint(run)
    run.window.lobby_list.viewport().installEventFilter(watch)
    qtbot.waitUntil(lambda: watch.seen, timeout=WAIT_MS)
    return watch


def assert_everything_worked_at_once(qtbot: Any, watch: FirstPaint) -> None:
    window = watch.run.window
    assert watch.data_open
    assert watch.reply_started
    assert [editor.objectName() for editor in watch.editors] == ["assistantEditor"]
    assert watch.editors[0].isVisible()
    # The session that started greets once the AI service answers.
    qtbot.waitUntil(
        lambda: [m.message for m in window.chat_view.transcript().messages()] == [GREETING],
        timeout=WAIT_MS,
    )
    assert window.chat_view.transcript().messages()[0].role is Role.ASSISTANT
    assert window.statusBar().currentMessage() != "Still opening your data; try again in a moment."


def test_at_the_first_paint_a_row_starts_a_session_and_new_assistant_opens(
    qtbot: Any, open_run: Callable[..., AppRun], openai_server: FakeOpenAIServer
) -> None:
    assert_everything_worked_at_once(qtbot, start_quickly(qtbot, open_run, openai_server))


@pytest.mark.keyring_daemon
def test_a_keyring_that_takes_3_s_delays_only_the_first_ai_request(
    qtbot: Any, open_run: Callable[..., AppRun], openai_server: FakeOpenAIServer, secret_service
) -> None:
    watch = start_quickly(qtbot, open_run, openai_server, keyring_backend=SlowSecretService())
    # The key was still being read while the session started and the editor opened.
    assert not watch.account_loaded
    assert_everything_worked_at_once(qtbot, watch)
    assert watch.run.services.load_account().done()


# -- the lobby -------------------------------------------------------------------------------
def test_lobby_lists_every_showcased_assistant_by_name(open_window: OpenWindow) -> None:
    window = open_window()
    assert lobby_names(window) == showcase_names()


def test_lobby_puts_showcased_assistants_in_the_showcased_group(open_window: OpenWindow) -> None:
    window = open_window()
    model = window.findChild(QListView, "lobbyList").model()
    groups = {model.index(row, 0).data(LobbyRole.GROUP) for row in range(model.rowCount())}
    assert groups == {LobbyGroup.SHOWCASED}


def test_lobby_shows_how_many_sessions_each_assistant_started(open_window: OpenWindow) -> None:
    window = open_window()
    model = window.findChild(QListView, "lobbyList").model()
    assert model.index(0, 0).data(Qt.ItemDataRole.AccessibleDescriptionRole) == "No sessions yet"


def test_status_bar_shows_where_the_data_lives(open_window: OpenWindow, data_dir: Path) -> None:
    window = open_window()
    label = window.findChild(QLabel, "storeStatusLabel")
    assert label.text() == f"Data: {AppPaths(data_dir).database_file}"


def test_ctrl_f_puts_the_cursor_in_the_filter(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    # Shortcuts reach only the active window (the API key dialog opened on top of it).
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.findChild(QListView, "lobbyList").setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.findChild(QLineEdit, "assistantFilter").hasFocus()


def test_selecting_an_assistant_shows_its_details(open_window: OpenWindow) -> None:
    window = open_window()
    entry = next(e for e in load_showcase_entries() if e.draft.name == "Travel Planner")
    select_in_lobby(window, "Travel Planner")
    assert window.findChild(QLabel, "assistantNameLabel").text() == "Travel Planner"
    assert window.findChild(QLabel, "assistantTagLineLabel").text() == entry.draft.tag_line
    assert window.findChild(QLabel, "assistantDescriptionLabel").text() == entry.draft.description


def test_activating_an_assistant_emits_its_id(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    lobby = window.findChild(QListView, "lobbyList")
    index = lobby_index_of(window, "Code Reviewer")
    lobby.setCurrentIndex(index)
    lobby.setFocus()
    with qtbot.waitSignal(window.assistantActivated, timeout=WAIT_MS) as activated:
        qtbot.keyClick(lobby, Qt.Key.Key_Return)
    assert activated.args == [index.data(LobbyRole.ASSISTANT_ID)]


def _seed_sessions(data_dir: Path) -> dict[str, str]:
    """Two sessions with Career Coach and one with Code Reviewer; returns session id -> bot."""

    async def seed() -> dict[str, str]:
        store = SqliteStore(AppPaths(data_dir).database_file)
        await store.open()
        try:
            await store.sync_showcase(load_showcase_entries())
            user = await store.local_user()
            by_name = {a.name: a for a in await store.list_assistants()}
            made: dict[str, str] = {}
            for name in ("Career Coach", "Career Coach", "Code Reviewer"):
                session = make_session(
                    user.id,
                    by_name[name].id,
                    bot_initial_prompt_msg="prompt",
                    bot_model_config=ModelConfig(model="gpt-4o-mini"),
                    bot_session_type=SessionType.COACHING,
                    bot_summary_prompt_msg="summary",
                )
                await store.create_session(session)
                made[session.id] = name
            return made
        finally:
            await store.close()

    return run_in_fresh_loop(seed)


def session_ids(window: MainWindow) -> set[str]:
    model = window.findChild(QListView, "sessionList").model()
    return {model.index(row, 0).data(SessionRole.SESSION_ID) for row in range(model.rowCount())}


def test_sessions_list_shows_every_session_before_a_selection(
    open_window: OpenWindow, data_dir: Path
) -> None:
    made = _seed_sessions(data_dir)
    window = open_window()
    assert session_ids(window) == set(made)


def test_the_chat_list_narrowed_to_this_assistant_lists_only_its_sessions(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    made = _seed_sessions(data_dir)
    window = open_window()
    select_in_lobby(window, "Career Coach")
    assert session_ids(window) == set(made)  # every assistant's, until narrowed
    scope = window.findChild(QComboBox, "sessionScopeCombo")
    scope.setCurrentIndex(scope.findData("assistant"))
    career = {session_id for session_id, name in made.items() if name == "Career Coach"}
    qtbot.waitUntil(lambda: session_ids(window) == career, timeout=WAIT_MS)


def test_lobby_counts_sessions_an_assistant_started(
    open_window: OpenWindow, data_dir: Path
) -> None:
    _seed_sessions(data_dir)
    window = open_window()
    index = lobby_index_of(window, "Career Coach")
    assert index.data(LobbyRole.SESSIONS_STARTED) == 2
    assert index.data(Qt.ItemDataRole.AccessibleDescriptionRole) == "2 sessions"


# -- names for tests and assistive technology ------------------------------------------------
def test_interactive_widgets_have_object_and_accessible_names(open_window: OpenWindow) -> None:
    window = open_window()
    for name, kind in (
        ("lobbyList", QListView),
        ("assistantFilter", QLineEdit),
        ("sessionList", QListView),
        ("chatView", QListView),
        ("messageInput", QWidget),
        ("sendButton", QPushButton),
        ("stopButton", QPushButton),
    ):
        widget = window.findChild(kind, name)
        assert widget is not None, name
        assert widget.accessibleName(), name


def test_assistant_actions_that_need_no_selection_are_enabled_once_the_data_is_open(
    open_window: OpenWindow,
) -> None:
    window = open_window()
    enabled = {
        name: window.findChild(QAction, name).isEnabled()
        for name in (
            "newAssistantAction",
            "importAssistantsAction",
            "editAssistantAction",
            "duplicateAssistantAction",
            "exportAssistantAction",
            "newSessionAction",
        )
    }
    assert enabled == {
        "newAssistantAction": True,
        "importAssistantsAction": True,
        "editAssistantAction": False,
        "duplicateAssistantAction": False,
        "exportAssistantAction": False,
        "newSessionAction": False,
    }


def test_selecting_an_assistant_enables_the_actions_on_it(open_window: OpenWindow) -> None:
    window = open_window()
    select_in_lobby(window, "Code Reviewer")
    for name in (
        "editAssistantAction",
        "duplicateAssistantAction",
        "exportAssistantAction",
        "newSessionAction",
    ):
        assert window.findChild(QAction, name).isEnabled(), name


def test_a_read_only_window_offers_no_assistant_changes(
    open_window: OpenWindow, data_dir: Path
) -> None:
    _write_garbage_database(data_dir)
    window = open_window()
    select_in_lobby(window, "Code Reviewer")
    for name in ("newAssistantAction", "importAssistantsAction", "editAssistantAction"):
        assert not window.findChild(QAction, name).isEnabled(), name


def test_the_api_key_action_is_enabled(open_window: OpenWindow) -> None:
    window = open_window()
    assert window.findChild(QAction, "apiKeyAction").isEnabled()


def test_stop_is_disabled_until_a_chat_exists(open_window: OpenWindow) -> None:
    window = open_window()
    assert not window.findChild(QPushButton, "stopButton").isEnabled()


# -- remembered layout -----------------------------------------------------------------------
def test_window_size_and_splitter_sizes_survive_a_restart(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    first = open_window()
    first.resize(720, 520)  # within the offscreen screen (800×600)
    splitter = first.findChild(QSplitter, "mainSplitter")
    splitter.setSizes([250, 470])
    remembered = (first.size(), splitter.sizes())
    close_window(qtbot, first)

    second = open_window(data_dir)
    assert (second.size(), second.findChild(QSplitter, "mainSplitter").sizes()) == remembered


def test_layout_is_saved_in_the_data_directory(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    close_window(qtbot, open_window())
    assert "splitterState" in AppPaths(data_dir).settings_file.read_text("latin-1")


# -- an unusable store -----------------------------------------------------------------------
def _write_garbage_database(data_dir: Path) -> bytes:
    content = b"this is not a database\n" * 100
    AppPaths(data_dir).database_file.write_bytes(content)
    return content


def test_corrupt_database_still_opens_the_window_with_the_problem_shown(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    _write_garbage_database(data_dir)
    window = open_window()
    assert window.isVisible()
    box = window.findChild(QMessageBox, "storeProblemBox")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert "damaged" in box.text()
    assert "damaged" in window.findChild(QLabel, "storeStatusLabel").text()


def test_corrupt_database_shows_the_showcase_read_only(
    open_window: OpenWindow, data_dir: Path
) -> None:
    _write_garbage_database(data_dir)
    window = open_window()
    assert window.is_read_only
    assert lobby_names(window) == showcase_names()
    assert "read-only" in window.findChild(QLabel, "lobbyNotice").text()


def test_corrupt_database_file_is_left_unchanged(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    content = _write_garbage_database(data_dir)
    close_window(qtbot, open_window())
    database = AppPaths(data_dir).database_file
    assert database.read_bytes() == content
    assert sorted(p.name for p in data_dir.glob(f"{database.name}*")) == [database.name]


def test_database_from_a_newer_version_is_reported_and_kept(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    database = AppPaths(data_dir).database_file
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA user_version = 999")
    content = database.read_bytes()
    window = open_window()
    assert window.is_read_only
    assert "newer version" in window.findChild(QLabel, "storeStatusLabel").text()
    close_window(qtbot, window)
    assert database.read_bytes() == content


# -- closing ---------------------------------------------------------------------------------
def test_quit_closes_the_window_and_its_store(qtbot, open_run) -> None:
    run = open_run()
    window, store = run.window, run.services.store
    with qtbot.waitSignal(window.closed, timeout=WAIT_MS):
        window.findChild(QAction, "quitAction").trigger()
    assert not window.isVisible()
    after_close = asyncio.ensure_future(store.list_assistants())
    qtbot.waitUntil(after_close.done, timeout=WAIT_MS)
    assert isinstance(after_close.exception(), StoreUnavailable)
    window.deleteLater()


def test_closing_while_the_store_opens_still_closes_cleanly(qtbot, open_run) -> None:
    run = open_run(wait=False)
    window = run.window
    with qtbot.waitSignal(window.closed, timeout=WAIT_MS):
        window.close()
    assert run.start([]).done()


def test_the_window_never_reaches_the_store() -> None:
    # The window sees the run's services through WindowServices, which has no store; no UI
    # module holds a store or asks for one (``services.store.base`` names a module, not that).
    from gptlab_desktop.ui.window_services import WindowServices

    assert "store" not in dir(WindowServices)
    ui = Path(__file__).resolve().parents[2] / "gptlab_desktop" / "ui"
    reaching = re.compile(r"(services|self)\.store\b(?!\.)|\b_store\b")
    assert [p.name for p in ui.rglob("*.py") if reaching.search(p.read_text("utf-8"))] == []
