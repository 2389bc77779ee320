"""The editor dialog: saving, showcased assistants, duplicating, archiving, deleting and closing."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QMessageBox, QPlainTextEdit, QPushButton

from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.editor.state import EditorMode
from tests.builders import count_rows, make_draft, start_session
from tests.ui.conftest import WAIT_MS
from tests.ui.editor.conftest import (
    child,
    create_assistant,
    edit_dialog,
    fill_valid,
    filled_new_dialog,
    new_dialog,
    run,
    save_blocked_because,
    save_button,
)


def test_creating_needs_a_signed_in_user(qtbot, make_dialog) -> None:
    dialog = make_dialog(creator=None)
    qtbot.waitUntil(dialog.start_new().done, timeout=WAIT_MS)
    fill_valid(dialog)
    assert "Sign in" in save_blocked_because(dialog)


def test_saving_a_new_assistant_stores_it_and_switches_to_editing(qtbot, make_dialog, lab) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS) as saved:
        save_button(dialog).click()
    assistant_id = saved.args[0]
    stored = run(qtbot, lab.details(assistant_id)).to_draft()
    assert (stored.name, stored.initial_prompt) == ("Socrates", make_draft().initial_prompt)
    assert stored == dialog.current_draft()
    assert dialog.mode is EditorMode.EDIT
    assert dialog.assistant_id == assistant_id
    assert not dialog.is_dirty


def showcased_id(qtbot: Any, store: SqliteStore) -> str:
    run(qtbot, store.sync_showcase(load_showcase_entries()))
    return run(qtbot, store.list_assistants())[0].id


def test_a_showcased_assistant_opens_read_only_with_duplicate(qtbot, make_dialog, store) -> None:
    dialog = edit_dialog(qtbot, make_dialog, showcased_id(qtbot, store))
    assert dialog.mode is EditorMode.VIEW
    assert child(dialog, QLineEdit, "nameEdit").isReadOnly()
    assert child(dialog, QPlainTextEdit, "initialPromptEdit").isReadOnly()
    assert not child(dialog, QComboBox, "modelCombo").isEnabled()
    assert not save_button(dialog).isVisibleTo(dialog)
    assert not child(dialog, QPushButton, "deleteButton").isVisibleTo(dialog)
    assert child(dialog, QPushButton, "duplicateButton").isVisibleTo(dialog)
    assert not dialog.is_dirty


def test_duplicating_a_showcased_assistant_saves_an_own_copy(
    qtbot, make_dialog, store, lab, user
) -> None:
    source_id = showcased_id(qtbot, store)
    source = run(qtbot, lab.details(source_id))
    dialog = edit_dialog(qtbot, make_dialog, source_id)
    child(dialog, QPushButton, "duplicateButton").click()
    assert dialog.mode is EditorMode.DUPLICATE
    name = child(dialog, QLineEdit, "nameEdit")
    assert name.text() == ("Copy of " + source.assistant.name)[:30].rstrip()
    assert not name.isReadOnly()
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS) as saved:
        save_button(dialog).click()
    copy = run(qtbot, lab.details(saved.args[0]))
    assert not copy.assistant.showcased
    assert copy.assistant.creator_user_id == user.id
    assert copy.initial_prompt.message == source.initial_prompt.message
    assert dialog.mode is EditorMode.EDIT


def test_start_duplicate_opens_an_unsaved_copy(qtbot, make_dialog, lab, user) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    dialog = make_dialog()
    qtbot.waitUntil(dialog.start_duplicate(assistant_id).done, timeout=WAIT_MS)
    assert dialog.mode is EditorMode.DUPLICATE
    assert dialog.assistant_id is None
    assert child(dialog, QLineEdit, "nameEdit").text() == "Copy of Socrates"
    assert dialog.is_dirty


def test_archive_and_restore_buttons(qtbot, make_dialog, lab, store, user) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    button = child(dialog, QPushButton, "archiveButton")
    assert button.text() == "Archive"
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        button.click()
    assert not run(qtbot, store.get_assistant(assistant_id)).is_active  # type: ignore[union-attr]
    assert button.text() == "Restore"
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        button.click()
    assert run(qtbot, store.get_assistant(assistant_id)).is_active  # type: ignore[union-attr]


def test_delete_asks_first_and_keeps_session_snapshots(
    qtbot, make_dialog, lab, store, user
) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    session = run(qtbot, start_session(store, user, assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    child(dialog, QPushButton, "deleteButton").click()
    box = child(dialog, QMessageBox, "deleteConfirmBox")
    assert run(qtbot, store.get_assistant(assistant_id)) is not None
    with qtbot.waitSignal(dialog.assistantDeleted, timeout=WAIT_MS) as deleted:
        child(box, QPushButton, "confirmDeleteButton").click()
    assert deleted.args == [assistant_id]
    assert run(qtbot, store.get_assistant(assistant_id)) is None
    kept = run(qtbot, store.get_session(session.id))
    assert kept is not None and kept.bot_initial_prompt_msg == make_draft().initial_prompt
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def test_cancelling_delete_keeps_the_assistant(qtbot, make_dialog, lab, store, user) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    child(dialog, QPushButton, "deleteButton").click()
    box = child(dialog, QMessageBox, "deleteConfirmBox")
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert run(qtbot, store.get_assistant(assistant_id)) is not None
    assert dialog.isVisible()


def test_closing_unchanged_does_not_ask(qtbot, make_dialog, lab, user) -> None:
    dialog = edit_dialog(qtbot, make_dialog, create_assistant(qtbot, lab, user))
    dialog.close()
    assert not dialog.isVisible()
    assert dialog.findChild(QMessageBox, "unsavedChangesBox") is None


def test_closing_with_unsaved_changes_asks_and_cancel_keeps_editing(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    child(dialog, QLineEdit, "nameEdit").setText("Half-made")
    dialog.close()
    box = child(dialog, QMessageBox, "unsavedChangesBox")
    assert dialog.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert dialog.isVisible()
    assert child(dialog, QLineEdit, "nameEdit").text() == "Half-made"


def test_discarding_unsaved_changes_closes_without_saving(qtbot, make_dialog, data_dir) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    box = child(dialog, QMessageBox, "unsavedChangesBox")
    box.button(QMessageBox.StandardButton.Discard).click()
    assert not dialog.isVisible()
    assert count_rows(data_dir, "bots") == 0


def test_saving_from_the_unsaved_changes_prompt_saves_then_closes(
    qtbot, make_dialog, data_dir
) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
    dialog.close()
    box = child(dialog, QMessageBox, "unsavedChangesBox")
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        box.button(QMessageBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert count_rows(data_dir, "bots") == 1
