"""The main window reaches every feature: the sessions panel, the assistant editor, assistant
files, and the API key.

Each test drives the app's own window, composed as the app composes it (``open_window``), on a
real SQLite file; chats go to the OpenAI-compatible loopback server, and secrets go to keyring's
"no keyring" backend (kept in memory) or, where the test is about the keyring, to a real Secret
Service on a private bus.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QWidget,
)

from gptlab_desktop.models import (
    AssistantDraft,
    Message,
    ModelConfig,
    Role,
    Session,
    SessionType,
    new_id,
    utcnow,
)
from gptlab_desktop.paths import AppPaths
from gptlab_desktop.services.assistant_format import (
    bundle_document,
    drafts_from_bytes,
    encode_document,
)
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from gptlab_desktop.ui.editor.state import EditorMode
from gptlab_desktop.ui.lobby_model import LobbyGroup, LobbyRole
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.sessions.model import PanelRole, RowKind
from gptlab_desktop.ui.sessions.panel import SessionPanel
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.builders import make_draft
from tests.fakes.keyring_daemon import SecretServiceDaemon
from tests.fakes.openai_server import FakeOpenAIServer, unused_loopback_url
from tests.ui.conftest import WAIT_MS, close_window, run_in_fresh_loop
from tests.ui.editor.conftest import fill_valid

OpenWindow = Callable[..., MainWindow]
API_KEY = "sk-test-WindowKey0123456789abcdef0123456789abcdef"
GREETING = "Hello! How can I help?"  # what the fake server says to a system prompt alone
# A word only one message of the long session holds, far above its last screenful.
RARE_WORD = "zanzibar"
LONG_SESSION_MESSAGES = 80
RARE_MESSAGE_NUMBER = 3


@pytest.fixture(autouse=True)
def collect_closed_loops_on_the_main_thread() -> Iterator[None]:
    """Collect each test's closed loop and dialogs here, on the main thread (see
    tests/ui/editor/conftest.py: collected on a worker thread, Qt objects crash)."""
    yield
    gc.collect()


@pytest.fixture
def server(openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    return openai_server


def at_server(server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    """The environment of a run whose chat goes to the loopback server."""
    return {"OPENAI_BASE_URL": server.base_url, **extra}


# -- seeded data -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Seeded:
    """A long session with a rare word far up, and a short one, both with Historian."""

    assistant_id: str
    long_session: str
    rare_message: str
    short_session: str


def seed_sessions(data_dir: Path) -> Seeded:
    async def seed() -> Seeded:
        store = SqliteStore(AppPaths(data_dir).database_file)
        assert (await store.open()).is_usable
        try:
            user = await store.local_user()
            historian = await store.create_assistant(make_draft(name="Historian"), user.id)
            made: list[str] = []
            rare = ""
            for title, count in (("Long talk", LONG_SESSION_MESSAGES), ("Short talk", 2)):
                now = utcnow()
                session = await store.create_session(
                    Session(
                        id=new_id(),
                        user_id=user.id,
                        bot_id=historian.id,
                        bot_initial_prompt_msg="You are a historian.",
                        bot_model_config=ModelConfig("gpt-4o-mini"),
                        bot_session_type=SessionType.BRAINSTORMING,
                        bot_summary_prompt_msg="Summarise.",
                        created_date=now,
                        last_modified_date=now,
                        title=title,
                    )
                )
                made.append(session.id)
                for number in range(count):
                    role = Role.USER if number % 2 == 0 else Role.ASSISTANT
                    text = f"Message {number}: " + "a paragraph of history. " * 6
                    if count == LONG_SESSION_MESSAGES and number == RARE_MESSAGE_NUMBER:
                        text = f"The spice trade of {RARE_WORD} in the nineteenth century."
                    message = Message(new_id(), session.id, role, text, utcnow())
                    await store.add_message(message)
                    if RARE_WORD in text:
                        rare = message.id
            return Seeded(historian.id, made[0], rare, made[1])
        finally:
            await store.close()

    return run_in_fresh_loop(seed)


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


def open_session_id(window: MainWindow) -> str | None:
    session = window.chat_pane.session
    return session.id if session is not None else None


def is_idle(window: MainWindow) -> bool:
    return not window.chat_pane.is_busy and window.chat_pane.reply_task() is None


def lobby_index_of(window: MainWindow, name: str) -> QModelIndex:
    model = window.lobby_list.model()
    for row in range(model.rowCount()):
        if model.index(row, 0).data() == name:
            return model.index(row, 0)
    raise AssertionError(f"{name} is not in the lobby")


def lobby_names(window: MainWindow) -> list[str]:
    model = window.lobby_list.model()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def select_in_lobby(window: MainWindow, name: str) -> None:
    window.lobby_list.setCurrentIndex(lobby_index_of(window, name))


def trigger(window: MainWindow, name: str) -> None:
    action = window.findChild(QAction, name)
    assert action is not None, name
    assert action.isEnabled(), name
    action.trigger()


def only_editor(window: MainWindow) -> AssistantEditorDialog:
    editors = window.assistant_editors
    assert len(editors) == 1
    return editors[0]


def loaded(qtbot: Any, editor: AssistantEditorDialog) -> AssistantEditorDialog:
    qtbot.waitUntil(lambda: editor.isVisible() and not editor.is_busy, timeout=WAIT_MS)
    return editor


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
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
    open_from_panel(qtbot, window, session_row(window, seeded.short_session))
    qtbot.waitUntil(lambda: open_session_id(window) == seeded.short_session, timeout=WAIT_MS)
    assert len(window.chat_view.transcript().messages()) == 2


def test_selecting_an_assistant_lists_its_sessions_in_the_panel(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
    select_in_lobby(window, "Code Reviewer")
    qtbot.waitUntil(lambda: listed_sessions(window) == [], timeout=WAIT_MS)
    select_in_lobby(window, "Historian")
    qtbot.waitUntil(
        lambda: set(listed_sessions(window)) == {seeded.long_session, seeded.short_session},
        timeout=WAIT_MS,
    )


def test_a_search_hit_opens_its_session_scrolled_to_the_message(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
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
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
    open_from_panel(qtbot, window, session_row(window, seeded.short_session))
    qtbot.waitUntil(lambda: open_session_id(window) == seeded.short_session, timeout=WAIT_MS)

    qtbot.keyClick(session_list(window), Qt.Key.Key_Delete)

    assert window.chat_pane.session is None
    assert window.chat_view.transcript().rowCount() == 0
    assert seeded.short_session not in listed_sessions(window)
    assert panel_of(window).findChild(QWidget, "undoBar").isVisible()


def test_undo_through_the_window_brings_a_deleted_session_back_and_keeps_it(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
    focus_list(qtbot, window).setCurrentIndex(session_row(window, seeded.short_session))
    qtbot.keyClick(session_list(window), Qt.Key.Key_Delete)
    undo = panel_of(window).findChild(QPushButton, "undoDeleteButton")

    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: seeded.short_session in listed_sessions(window), timeout=WAIT_MS)
    close_window(qtbot, window)
    assert stored_session_ids(data_dir) == {seeded.long_session, seeded.short_session}


def test_a_deletion_still_undoable_is_carried_out_when_the_window_closes(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
    focus_list(qtbot, window).setCurrentIndex(session_row(window, seeded.short_session))
    qtbot.keyClick(session_list(window), Qt.Key.Key_Delete)

    close_window(qtbot, window)

    assert stored_session_ids(data_dir) == {seeded.long_session}


def stored_session_ids(data_dir: Path) -> set[str]:
    with sqlite3.connect(AppPaths(data_dir).database_file) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM sessions")}


def test_ending_the_open_session_from_the_panel_closes_its_message_box(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    seeded = seed_sessions(data_dir)
    window = browsing_window(open_window)
    open_from_panel(qtbot, window, session_row(window, seeded.short_session))
    qtbot.waitUntil(lambda: open_session_id(window) == seeded.short_session, timeout=WAIT_MS)

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
    qtbot, open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(server))
    select_in_lobby(window, "Code Reviewer")
    window.start_session_with_selected()
    qtbot.waitUntil(
        lambda: open_session_id(window) is not None and is_idle(window), timeout=WAIT_MS
    )
    opened = open_session_id(window)
    qtbot.waitUntil(lambda: panel_of(window).current_session_id() == opened, timeout=WAIT_MS)


# -- the assistant editor --------------------------------------------------------------------
def test_new_assistant_action_opens_an_empty_editor(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    trigger(window, "newAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    assert editor.objectName() == "assistantEditor"
    assert editor.mode is EditorMode.CREATE


def test_ctrl_shift_n_is_the_new_assistant_shortcut(open_window: OpenWindow) -> None:
    window = open_window()
    assert window.findChild(QAction, "newAssistantAction").shortcut().toString() == "Ctrl+Shift+N"


def test_a_saved_new_assistant_appears_selected_under_my_assistants(
    qtbot, open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(server))
    trigger(window, "newAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    fill_valid(editor)

    qtbot.mouseClick(editor.findChild(QPushButton, "saveButton"), Qt.MouseButton.LeftButton)

    qtbot.waitUntil(
        lambda: (
            editor.assistant_id is not None
            and window.selected_assistant_id() == editor.assistant_id
        ),
        timeout=WAIT_MS,
    )
    index = lobby_index_of(window, "Socrates")
    assert index.data(LobbyRole.GROUP) is LobbyGroup.MINE
    assert window.lobby_list.currentIndex() == index


def test_enter_on_a_saved_assistant_starts_a_session_that_greets(
    qtbot, open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(server))
    trigger(window, "newAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    fill_valid(editor)
    qtbot.mouseClick(editor.findChild(QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.selected_assistant_id() is not None, timeout=WAIT_MS)
    editor.close()

    window.lobby_list.setFocus()
    qtbot.keyClick(window.lobby_list, Qt.Key.Key_Return)

    qtbot.waitUntil(
        lambda: is_idle(window) and window.chat_view.transcript().rowCount() == 1,
        timeout=WAIT_MS,
    )
    assert window.chat_pane.session is not None
    assert window.chat_pane.session.bot_id == editor.assistant_id
    assert window.chat_view.transcript().messages()[0].message == GREETING


def test_edit_on_a_showcased_assistant_opens_it_read_only(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    select_in_lobby(window, "Code Reviewer")
    trigger(window, "editAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    assert editor.mode is EditorMode.VIEW
    assert editor.findChild(QLineEdit, "nameEdit").isReadOnly()
    assert editor.findChild(QPushButton, "duplicateButton").isVisible()


def test_duplicate_opens_an_unsaved_own_copy(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    select_in_lobby(window, "Code Reviewer")
    trigger(window, "duplicateAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    assert editor.mode is EditorMode.DUPLICATE
    assert editor.findChild(QLineEdit, "nameEdit").text() == "Copy of Code Reviewer"


# Raising the shown editor is all the offscreen platform cannot do.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_editing_the_same_assistant_twice_shows_one_editor(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    select_in_lobby(window, "Code Reviewer")
    trigger(window, "editAssistantAction")
    loaded(qtbot, only_editor(window))
    window.edit_selected_assistant()
    assert len(window.assistant_editors) == 1


def test_the_lobby_context_menu_offers_the_actions_on_an_assistant(
    open_window: OpenWindow,
) -> None:
    window = open_window()
    names = [action.objectName() for action in window.lobby_menu.actions() if action.objectName()]
    assert names == [
        "newSessionAction",
        "editAssistantAction",
        "duplicateAssistantAction",
        "exportAssistantAction",
    ]


def test_deleting_an_assistant_in_the_editor_takes_it_out_of_the_lobby(
    qtbot, open_window: OpenWindow, tmp_path: Path
) -> None:
    window = open_window()
    path = write_file(tmp_path, "one.json", encode_document(bundle_document([make_draft()])))
    task = window.import_assistants(path)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    select_in_lobby(window, "Socrates")
    trigger(window, "editAssistantAction")
    editor = loaded(qtbot, only_editor(window))

    with qtbot.waitSignal(editor.assistantDeleted, timeout=WAIT_MS):
        editor.findChild(QPushButton, "deleteButton").click()
        box = editor.findChild(QMessageBox, "deleteConfirmBox")
        qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
        box.findChild(QPushButton, "confirmDeleteButton").click()

    qtbot.waitUntil(lambda: "Socrates" not in lobby_names(window), timeout=WAIT_MS)


def test_closing_the_window_closes_an_editor_with_unsaved_changes_without_asking(
    qtbot, open_window: OpenWindow
) -> None:
    window = open_window()
    trigger(window, "newAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    editor.findChild(QLineEdit, "nameEdit").setText("Unsaved")

    close_window(qtbot, window)

    assert not editor.isVisible()
    assert editor.findChild(QMessageBox, "unsavedChangesBox") is None


# -- assistant files -------------------------------------------------------------------------
def write_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def drafts(*names: str) -> list[AssistantDraft]:
    return [make_draft(name=name) for name in names]


def test_importing_a_file_adds_its_assistants_to_my_assistants(
    qtbot, open_window: OpenWindow, tmp_path: Path
) -> None:
    window = open_window()
    path = write_file(tmp_path, "two.json", encode_document(bundle_document(drafts("Ada", "Bea"))))

    task = window.import_assistants(str(path))

    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    assert len(task.result()) == 2
    groups = {name: lobby_index_of(window, name).data(LobbyRole.GROUP) for name in ("Ada", "Bea")}
    assert groups == {"Ada": LobbyGroup.MINE, "Bea": LobbyGroup.MINE}


def test_importing_a_malformed_file_explains_it_and_adds_nothing(
    qtbot, open_window: OpenWindow, tmp_path: Path
) -> None:
    window = open_window()
    before = lobby_names(window)
    path = write_file(tmp_path, "broken.json", b'{"format": "something else"}')

    task = window.import_assistants(path)

    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    box = window.findChild(QMessageBox, "errorMessageBox")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert box.windowTitle() == "Not a valid assistant file"
    assert "broken.json" in box.text()
    assert lobby_names(window) == before
    box.close()


def test_the_import_action_opens_a_file_chooser_for_assistant_files(
    qtbot, open_window: OpenWindow
) -> None:
    window = open_window()
    chooser = window.ask_import_path()
    assert chooser is not None
    assert chooser.objectName() == "importAssistantsDialog"
    assert "Assistant files (*.json)" in chooser.nameFilters()
    chooser.reject()


def test_exporting_the_selected_assistant_writes_a_file_that_imports_back(
    qtbot, open_window: OpenWindow, tmp_path: Path
) -> None:
    window = open_window()
    select_in_lobby(window, "Travel Planner")
    target = tmp_path / "travel.json"

    task = window.export_assistant(window.selected_assistant_id(), target)

    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    assert task.result() is True
    [(_key, draft)] = drafts_from_bytes(target.read_bytes(), source=target.name)
    assert draft.name == "Travel Planner"


def test_the_export_chooser_suggests_the_assistants_name(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    select_in_lobby(window, "Travel Planner")
    chooser = window.ask_export_path()
    assert chooser is not None
    assert chooser.selectedFiles()[0].endswith("Travel Planner.json")
    chooser.reject()


# -- the API key -----------------------------------------------------------------------------
def api_key_dialog(window: MainWindow) -> ApiKeyDialog | None:
    return window.findChild(ApiKeyDialog, "apiKeyDialog")


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
    open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(server))
    assert api_key_dialog(window) is None


def test_a_key_in_the_environment_opens_no_dialog(open_window: OpenWindow) -> None:
    window = open_window(environ={"OPENAI_API_KEY": API_KEY})
    assert api_key_dialog(window) is None


def test_the_api_key_action_opens_the_dialog(
    qtbot, open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(server))
    trigger(window, "apiKeyAction")
    dialog = api_key_dialog(window)
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)


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
    qtbot.waitUntil(
        lambda: is_idle(window) and window.chat_view.transcript().rowCount() == 1,
        timeout=WAIT_MS,
    )


def test_a_saved_key_is_carried_by_the_next_chat_request(
    qtbot, open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    server.api_key = API_KEY
    window = open_window(environ=at_server(server))

    save_key_in_dialog(qtbot, window, API_KEY)
    greet_with(qtbot, window, "Code Reviewer")

    assert server.requests_to("chat")[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert window.chat_view.transcript().messages()[0].message == GREETING


def test_saving_a_key_keeps_the_local_user(
    qtbot, open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    # The user is the store's own, created with it: a key never decides who the user is.
    server.api_key = API_KEY
    window = open_window(environ=at_server(server))
    local_user = window.current_user
    assert local_user is not None

    save_key_in_dialog(qtbot, window, API_KEY)

    assert window.current_user is not None
    assert window.current_user.id == local_user.id


def test_without_a_keyring_the_status_bar_says_where_the_key_is_kept(
    open_window: OpenWindow, server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(server))
    message = window.statusBar().currentMessage()
    assert message.startswith("No system keyring is available")
    assert "kept in memory for this run only" in message


@pytest.mark.keyring_daemon
def test_a_key_saved_in_the_keyring_is_used_at_the_next_start(
    qtbot,
    open_window: OpenWindow,
    server: FakeOpenAIServer,
    secret_service: SecretServiceDaemon,
    data_dir: Path,
) -> None:
    server.api_key = API_KEY
    first = open_window(environ=at_server(server), keyring_backend=SecretService.Keyring())
    save_key_in_dialog(qtbot, first, API_KEY)
    close_window(qtbot, first)
    assert secret_service.stored_secrets() == [API_KEY]

    second = open_window(
        data_dir, environ=at_server(server), keyring_backend=SecretService.Keyring()
    )
    greet_with(qtbot, second, "Travel Planner")

    assert server.requests_to("chat")[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert not second.statusBar().currentMessage().startswith("No system keyring")


# -- warm-up and the lobby -------------------------------------------------------------------
def test_the_lobby_lays_out_in_batches(open_window: OpenWindow) -> None:
    window = open_window()
    assert window.lobby_list.layoutMode() is QListView.LayoutMode.Batched
    assert window.lobby_list.batchSize() == 100
