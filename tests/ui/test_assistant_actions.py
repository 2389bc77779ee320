"""Assistants → New, Edit, Duplicate, Import and Export, from the window: the editors it opens
and keeps, and the assistant files it reads and writes.

Each test drives the app's own window (``open_window``) on a real SQLite file; a chat, where one
starts, goes to the OpenAI-compatible loopback server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLineEdit, QMessageBox, QPushButton

from gptlab_desktop.app import AppRun
from gptlab_desktop.models import AssistantDraft
from gptlab_desktop.services.assistant_format import (
    bundle_document,
    drafts_from_bytes,
    encode_document,
)
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from gptlab_desktop.ui.editor.state import EditorMode
from gptlab_desktop.ui.lobby_model import LobbyGroup, LobbyRole
from gptlab_desktop.ui.main_window import MainWindow
from tests.builders import DB_NAME, cache_published_assistant, make_draft
from tests.fakes.openai_server import FakeOpenAIServer
from tests.ui.conftest import (
    GREETING,
    WAIT_MS,
    OpenWindow,
    at_server,
    close_window,
    lobby_index_of,
    lobby_names,
    run_in_fresh_loop,
    select_in_lobby,
    trigger,
    wait_for_greeting,
)
from tests.ui.editor.conftest import fill_valid


# -- helpers ---------------------------------------------------------------------------------
def only_editor(window: MainWindow) -> AssistantEditorDialog:
    editors = window.assistant_editors
    assert len(editors) == 1
    return editors[0]


def loaded(qtbot: Any, editor: AssistantEditorDialog) -> AssistantEditorDialog:
    qtbot.waitUntil(lambda: editor.isVisible() and not editor.is_busy, timeout=WAIT_MS)
    return editor


def editor_on(qtbot: Any, window: MainWindow, name: str, action: str) -> AssistantEditorDialog:
    """Select the assistant called ``name`` in the lobby and trigger ``action``; its editor."""
    select_in_lobby(window, name)
    trigger(window, action)
    return loaded(qtbot, only_editor(window))


def save_new_assistant(qtbot: Any, window: MainWindow) -> AssistantEditorDialog:
    """New Assistant…, filled in validly, and Save clicked; the editor."""
    trigger(window, "newAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    fill_valid(editor)
    qtbot.mouseClick(editor.findChild(QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    return editor


def write_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def drafts(*names: str) -> list[AssistantDraft]:
    return [make_draft(name=name) for name in names]


# -- the assistant editor --------------------------------------------------------------------
def test_new_assistant_action_opens_an_empty_editor(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    trigger(window, "newAssistantAction")
    editor = loaded(qtbot, only_editor(window))
    assert editor.objectName() == "assistantEditor"
    assert editor.mode is EditorMode.CREATE


def test_a_saved_new_assistant_appears_selected_under_my_assistants(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))

    editor = save_new_assistant(qtbot, window)

    qtbot.waitUntil(
        lambda: (
            editor.assistant_id is not None
            and window.selected_assistant_id() == editor.assistant_id
        ),
        timeout=WAIT_MS,
    )
    index = lobby_index_of(window, "Socrates")
    assert index.data(LobbyRole.GROUP) is LobbyGroup.YOURS
    assert window.lobby_list.currentIndex() == index


def test_enter_on_a_saved_assistant_starts_a_session_that_greets(
    qtbot, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))
    editor = save_new_assistant(qtbot, window)
    qtbot.waitUntil(lambda: window.selected_assistant_id() is not None, timeout=WAIT_MS)
    editor.close()

    window.lobby_list.setFocus()
    qtbot.keyClick(window.lobby_list, Qt.Key.Key_Return)

    wait_for_greeting(qtbot, window)
    assert window.chat_pane.session is not None
    assert window.chat_pane.session.bot_id == editor.assistant_id
    assert window.chat_view.transcript().messages()[0].message == GREETING


def test_edit_on_a_showcased_assistant_opens_it_read_only(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    editor = editor_on(qtbot, window, "Code Reviewer", "editAssistantAction")
    assert editor.mode is EditorMode.VIEW
    assert editor.findChild(QLineEdit, "nameEdit").isReadOnly()
    assert editor.findChild(QPushButton, "duplicateButton").isVisible()


def test_duplicate_opens_an_unsaved_own_copy(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    editor = editor_on(qtbot, window, "Code Reviewer", "duplicateAssistantAction")
    assert editor.mode is EditorMode.DUPLICATE
    assert editor.findChild(QLineEdit, "nameEdit").text() == "Copy of Code Reviewer"


# Raising the shown editor is all the offscreen platform cannot do.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_editing_the_same_assistant_twice_shows_one_editor(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    editor_on(qtbot, window, "Code Reviewer", "editAssistantAction")
    window.edit_selected_assistant()
    assert len(window.assistant_editors) == 1


def test_deleting_an_assistant_in_the_editor_takes_it_out_of_the_lobby(
    qtbot, open_window: OpenWindow, tmp_path: Path
) -> None:
    window = open_window()
    path = write_file(tmp_path, "one.json", encode_document(bundle_document([make_draft()])))
    task = window.import_assistants(path)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    editor = editor_on(qtbot, window, "Socrates", "editAssistantAction")

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
def test_importing_a_file_adds_its_assistants_to_my_assistants(
    qtbot, open_window: OpenWindow, tmp_path: Path
) -> None:
    window = open_window()
    path = write_file(tmp_path, "two.json", encode_document(bundle_document(drafts("Ada", "Bea"))))

    task = window.import_assistants(str(path))

    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    assert len(task.result()) == 2
    groups = {name: lobby_index_of(window, name).data(LobbyRole.GROUP) for name in ("Ada", "Bea")}
    assert groups == {"Ada": LobbyGroup.YOURS, "Bea": LobbyGroup.YOURS}


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


# -- the shared lobby ------------------------------------------------------------------------
def with_own_and_others_published(data_dir: Path, author: str = "Ada") -> None:
    """The data directory holds an own assistant ("Mine") and the published "Ada's tutor" of
    another user called ``author``."""

    async def prepare() -> None:
        store = SyncedStore(data_dir / DB_NAME)
        await store.open()
        try:
            user = await store.local_user()
            await store.create_assistant(make_draft(name="Mine"), user.id)
            await cache_published_assistant(store, "Ada's tutor", creator_display_name=author)
        finally:
            await store.close()

    run_in_fresh_loop(prepare)


def action_enabled(window: MainWindow, name: str) -> bool:
    action = window.findChild(QAction, name)
    assert action is not None, name
    return action.isEnabled()


def test_publishing_asks_first_and_is_offered_only_for_own_assistants_on_a_shared_project(
    qtbot, open_run: Callable[..., AppRun], data_dir: Path
) -> None:
    with_own_and_others_published(data_dir)
    run = open_run()
    window = run.window
    theirs = lobby_index_of(window, "Ada's tutor")
    assert theirs.data(LobbyRole.GROUP) is LobbyGroup.PUBLISHED_BY_OTHERS
    assert theirs.data(LobbyRole.USAGE) == "By Ada · No sessions yet with this version"
    select_in_lobby(window, "Mine")
    assert not action_enabled(window, "publishAssistantAction")  # not a shared project

    run.services.lobby.publishing_enabled, run.services.lobby.author_name = True, "Bea"
    select_in_lobby(window, "Ada's tutor")
    assert not action_enabled(window, "publishAssistantAction")  # not hers to publish
    assert not action_enabled(window, "unpublishAssistantAction")
    select_in_lobby(window, "Mine")
    assert not action_enabled(window, "unpublishAssistantAction")

    trigger(window, "publishAssistantAction")
    box = window.findChild(QMessageBox, "publishAssistantBox")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert box.text() == (
        "Publish “Mine” to the shared lobby? Everyone signed in to this project will be able to "
        "read its instructions and settings and chat with it. Your sessions and messages stay "
        "private."
    )
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not window.findChildren(QMessageBox, "publishAssistantBox"))
    assert not window.selected_assistant().published  # type: ignore[union-attr]

    trigger(window, "publishAssistantAction")
    box = window.findChild(QMessageBox, "publishAssistantBox")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    box.findChild(QPushButton, "publishAssistantButton").click()

    qtbot.waitUntil(lambda: action_enabled(window, "unpublishAssistantAction"), timeout=WAIT_MS)
    mine = lobby_index_of(window, "Mine")
    assert mine.data(LobbyRole.GROUP) is LobbyGroup.YOURS
    assert mine.data(LobbyRole.USAGE) == "Published · No sessions yet"
    assert mine.data(LobbyRole.ASSISTANT).creator_display_name == "Bea"
    assert not action_enabled(window, "publishAssistantAction")

    trigger(window, "unpublishAssistantAction")
    qtbot.waitUntil(lambda: action_enabled(window, "publishAssistantAction"), timeout=WAIT_MS)
    assert lobby_index_of(window, "Mine").data(LobbyRole.USAGE) == "No sessions yet"


def test_the_filter_finds_assistants_across_sections_and_by_their_author(
    qtbot, open_window: OpenWindow, data_dir: Path
) -> None:
    with_own_and_others_published(data_dir, author="Zephyrine")
    window = open_window()
    window.findChild(QLineEdit, "assistantFilter").setText("zephyr")
    assert lobby_names(window) == ["Ada's tutor"]
    window.findChild(QLineEdit, "assistantFilter").setText("i")
    groups = {lobby_index_of(window, name).data(LobbyRole.GROUP) for name in lobby_names(window)}
    assert groups == {LobbyGroup.SHOWCASED, LobbyGroup.PUBLISHED_BY_OTHERS, LobbyGroup.YOURS}
