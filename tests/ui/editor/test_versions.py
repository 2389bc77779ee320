"""The History tab: versions with their statistics, diffs, and making an older one active."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton

from gptlab_desktop.models import ModelConfig, PromptType, SessionStatus, User
from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from gptlab_desktop.ui.editor.versions import VersionHistoryWidget
from tests.builders import make_draft, start_session
from tests.ui.conftest import WAIT_MS
from tests.ui.editor.conftest import child, create_assistant, edit_dialog, run, save_button

# An assistant's id, an editor open on it, and the editor's History tab.
Opened = tuple[str, AssistantEditorDialog, VersionHistoryWidget]


def saved_twice(
    qtbot: Any, make_dialog: Any, lab: AssistantLab, user: User, **second: object
) -> Opened:
    """An assistant saved a second time with ``second`` changed, then open in an editor."""
    assistant_id = create_assistant(qtbot, lab, user)
    run(qtbot, lab.save(make_draft(**second), assistant_id=assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    return assistant_id, dialog, child(dialog, VersionHistoryWidget, "historyTab")


def test_editing_the_prompt_adds_a_version_listed_in_history(qtbot, make_dialog, lab, user) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    child(dialog, QPlainTextEdit, "initialPromptEdit").setPlainText("You are Plato.")
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        save_button(dialog).click()
    history = child(dialog, VersionHistoryWidget, "historyTab")
    assert history.prompt_model.rowCount() == 2
    assert history.prompt_model.index(0, 1).data() == "Active"
    assert history.prompt_model.index(0, 4).data() == "You are Plato."
    assert len(run(qtbot, lab.history(assistant_id)).initial_prompts) == 2


def test_history_shows_per_version_session_statistics(qtbot, make_dialog, lab, store, user) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    first = run(qtbot, start_session(store, user, assistant_id))
    run(qtbot, start_session(store, user, assistant_id))
    run(qtbot, store.end_session(first.id, SessionStatus.COMPLETED))
    run(qtbot, lab.save(make_draft(initial_prompt="You are Plato."), assistant_id=assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    model = child(dialog, VersionHistoryWidget, "historyTab").prompt_model
    rows = [[model.index(row, col).data() for col in (2, 3)] for row in range(model.rowCount())]
    assert rows == [["0", "0"], ["2", "1"]]


def test_selecting_two_prompt_versions_shows_their_diff(qtbot, make_dialog, lab, user) -> None:
    second = "You are Socrates.\nAsk two questions.\nNever lecture."
    _, dialog, history = saved_twice(qtbot, make_dialog, lab, user, initial_prompt=second)
    history.select_prompt_rows(0, 1)
    diff = child(dialog, QPlainTextEdit, "promptDiffView").toPlainText()
    assert "-Ask one question at a time." in diff
    assert "+Ask two questions." in diff


def test_summary_prompt_versions_are_listed_on_request(qtbot, make_dialog, lab, user) -> None:
    _, dialog, history = saved_twice(qtbot, make_dialog, lab, user, summary_prompt="Recap.")
    assert history.prompt_model.rowCount() == 1
    combo = child(dialog, QComboBox, "promptKindCombo")
    combo.setCurrentIndex(combo.findData(PromptType.SUMMARY))
    assert history.prompt_model.rowCount() == 2


def test_making_an_older_prompt_active_rolls_back_the_form_and_the_store(
    qtbot, make_dialog, lab, user
) -> None:
    assistant_id, dialog, history = saved_twice(
        qtbot, make_dialog, lab, user, initial_prompt="You are Plato."
    )
    history.select_prompt_rows(1)
    button = child(dialog, QPushButton, "makePromptActiveButton")
    assert button.isEnabled()
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        button.click()
    assert child(dialog, QPlainTextEdit, "initialPromptEdit").toPlainText() == (
        make_draft().initial_prompt
    )
    assert run(qtbot, lab.details(assistant_id)).initial_prompt.message == (
        make_draft().initial_prompt
    )
    assert history.prompt_model.index(1, 1).data() == "Active"
    assert not dialog.is_dirty


def test_making_an_older_config_active_rolls_back_the_model(qtbot, make_dialog, lab, user) -> None:
    config = ModelConfig("gpt-4o")
    _, dialog, history = saved_twice(qtbot, make_dialog, lab, user, model_config=config)
    history.select_config_row(1)
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        child(dialog, QPushButton, "makeConfigActiveButton").click()
    assert child(dialog, QComboBox, "modelCombo").currentText() == "gpt-4o-mini"


def test_rollback_waits_until_unsaved_changes_are_saved_or_undone(
    qtbot, make_dialog, lab, user
) -> None:
    _, dialog, history = saved_twice(qtbot, make_dialog, lab, user, initial_prompt="You are Plato.")
    child(dialog, QLineEdit, "nameEdit").setText("Changed")
    history.select_prompt_rows(1)
    assert not child(dialog, QPushButton, "makePromptActiveButton").isEnabled()
    assert "Save or undo" in child(dialog, QLabel, "historyNoteLabel").text()
