"""The assistant editor dialog, driven by objectName on a real SQLite store.

Try-it and the model list talk to the OpenAI-compatible loopback server. Async work runs on
the qasync loop of ``qt_loop``; tests wait for it with ``qtbot.waitUntil``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
)

from gptlab_desktop.models import (
    MessageState,
    ModelConfig,
    PromptType,
    Role,
    SessionStatus,
    User,
)
from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.services.llm import LlmClient, LlmSettings
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.chat_view import ChatStreamView
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from gptlab_desktop.ui.editor.state import EditorMode
from gptlab_desktop.ui.editor.versions import VersionHistoryWidget
from tests.builders import DB_NAME, count_rows, make_draft, start_session
from tests.fakes.openai_server import FakeOpenAIServer, Reply, unused_loopback_url
from tests.ui.conftest import WAIT_MS

T = TypeVar("T")
W = TypeVar("W")


def run(qtbot: Any, coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the qasync loop and wait (processing events) for its result."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    return task.result()


def child(dialog: AssistantEditorDialog, kind: type[W], name: str) -> W:
    found = dialog.findChild(kind, name)
    assert found is not None, name
    return found


@pytest.fixture(autouse=True)
def collect_closed_loops_on_the_main_thread() -> Iterator[None]:
    """Destroy each test's closed qasync loop and dialogs here, on the main thread.

    Otherwise a garbage collection that happens to run on a worker thread (the store's, or the
    token counter's) can destroy Qt objects of an earlier test there, and Qt crashes (the
    same cause as in test_api_key_dialog.py). Autouse, so it is torn down after ``qt_loop``.
    """
    yield
    gc.collect()


@pytest.fixture
def store(qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(data_dir / DB_NAME)
    assert run(qtbot, opened.open()).is_usable
    yield opened
    run(qtbot, opened.close())


@pytest.fixture
def user(qtbot: Any, store: SqliteStore) -> User:
    return run(qtbot, store.get_or_create_user("e" * 64))


@pytest.fixture
def llm(
    qtbot: Any, qt_loop: qasync.QEventLoop, openai_server: FakeOpenAIServer
) -> Iterator[LlmClient]:
    client = LlmClient(
        LlmSettings(base_url=openai_server.base_url, api_key="sk-test", timeout_s=5.0)
    )
    yield client
    run(qtbot, client.aclose())


@pytest.fixture
def lab(store: SqliteStore, llm: LlmClient) -> AssistantLab:
    return AssistantLab(store, llm)


@pytest.fixture(scope="module")
def token_counter(tmp_path_factory: Any) -> TokenCounter:
    # Shared: loading an encoding takes a moment, and counting keeps no state.
    return TokenCounter(tmp_path_factory.mktemp("tiktoken"))


def close_dialog(qtbot: Any, dialog: AssistantEditorDialog) -> None:
    """Close without asking, wait until its tasks have stopped, then delete it."""
    cleanup = dialog.close_discarding()
    if cleanup is not None:
        qtbot.waitUntil(cleanup.done, timeout=WAIT_MS)
    dialog.deleteLater()


@pytest.fixture
def make_dialog(
    qtbot: Any, lab: AssistantLab, user: User, token_counter: TokenCounter
) -> Iterator[Callable[..., AssistantEditorDialog]]:
    """Builds editor dialogs; every one is closed (without asking) at teardown.

    Not given to ``qtbot.addWidget``: its teardown closes widgets before fixtures end, and a
    dialog with unsaved changes answers a plain close with a question instead.
    """
    dialogs: list[AssistantEditorDialog] = []

    def build(*, creator: str | None = user.id) -> AssistantEditorDialog:
        dialog = AssistantEditorDialog(lab, creator_user_id=creator, token_counter=token_counter)
        dialogs.append(dialog)
        return dialog

    yield build
    for dialog in dialogs:
        close_dialog(qtbot, dialog)


def new_dialog(
    qtbot: Any, make_dialog: Callable[..., AssistantEditorDialog]
) -> AssistantEditorDialog:
    dialog = make_dialog()
    task = dialog.start_new()
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    return dialog


def fill_valid(dialog: AssistantEditorDialog) -> None:
    draft = make_draft()
    child(dialog, QLineEdit, "nameEdit").setText(draft.name)
    child(dialog, QLineEdit, "tagLineEdit").setText(draft.tag_line)
    child(dialog, QPlainTextEdit, "descriptionEdit").setPlainText(draft.description)
    child(dialog, QPlainTextEdit, "initialPromptEdit").setPlainText(draft.initial_prompt)
    child(dialog, QPlainTextEdit, "summaryPromptEdit").setPlainText(draft.summary_prompt)
    child(dialog, QComboBox, "modelCombo").setCurrentText("gpt-4o-mini")


def save_button(dialog: AssistantEditorDialog) -> QPushButton:
    return child(dialog, QPushButton, "saveButton")


def problems_text(dialog: AssistantEditorDialog) -> str:
    return child(dialog, QLabel, "problemsLabel").text()


def create_assistant(qtbot: Any, lab: AssistantLab, user: User, **changes: object) -> str:
    return run(qtbot, lab.save(make_draft(**changes), creator_user_id=user.id)).id


def edit_dialog(
    qtbot: Any, make_dialog: Callable[..., AssistantEditorDialog], assistant_id: str
) -> AssistantEditorDialog:
    dialog = make_dialog()
    task = dialog.start_edit(assistant_id)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    assert task.exception() is None
    return dialog


# -- fields and validation -----------------------------------------------------------------------


def test_every_field_has_its_object_and_accessible_name(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    assert dialog.objectName() == "assistantEditor"
    for kind, name in [
        (QLineEdit, "nameEdit"),
        (QLineEdit, "tagLineEdit"),
        (QPlainTextEdit, "descriptionEdit"),
        (QPlainTextEdit, "initialPromptEdit"),
        (QPlainTextEdit, "summaryPromptEdit"),
        (QComboBox, "sessionTypeCombo"),
        (QComboBox, "modelCombo"),
        (QSpinBox, "maxTokensSpin"),
        (QDoubleSpinBox, "temperatureSpin"),
        (QDoubleSpinBox, "topPSpin"),
        (QDoubleSpinBox, "frequencyPenaltySpin"),
        (QDoubleSpinBox, "presencePenaltySpin"),
        (QComboBox, "personalityCombo"),
        (QCheckBox, "guardPromptCheck"),
        (QPushButton, "saveButton"),
        (QPushButton, "tryItButton"),
    ]:
        assert child(dialog, kind, name).accessibleName(), name


def test_an_empty_form_cannot_be_saved_and_says_why(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    assert not save_button(dialog).isEnabled()
    assert "Give the assistant a name." in problems_text(dialog)
    assert "Write the initial prompt" in problems_text(dialog)


def test_a_filled_form_can_be_saved(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    assert save_button(dialog).isEnabled()
    assert not child(dialog, QLabel, "problemsLabel").isVisibleTo(dialog)


@pytest.mark.parametrize(
    ("widget", "kind", "bad", "hint", "words"),
    [
        ("nameEdit", QLineEdit, "n" * 31, "nameHint", "the limit is 30"),
        ("nameEdit", QLineEdit, "  ", "nameHint", "Give the assistant a name"),
        ("tagLineEdit", QLineEdit, "t" * 26, "tagLineHint", "the limit is 25"),
        ("descriptionEdit", QPlainTextEdit, "d" * 251, "descriptionHint", "the limit is 250"),
        ("initialPromptEdit", QPlainTextEdit, "p" * 2001, "initialPromptHint", "limit is 2,000"),
        ("initialPromptEdit", QPlainTextEdit, "", "initialPromptHint", "Write the initial prompt"),
        ("summaryPromptEdit", QPlainTextEdit, "s" * 501, "summaryPromptHint", "the limit is 500"),
    ],
)
def test_an_invalid_text_field_disables_save_with_its_reason_until_fixed(
    qtbot, make_dialog, widget, kind, bad, hint, words
) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    field = child(dialog, kind, widget)
    good = field.text() if kind is QLineEdit else field.toPlainText()
    (field.setText if kind is QLineEdit else field.setPlainText)(bad)
    assert not save_button(dialog).isEnabled()
    assert words in problems_text(dialog)
    assert words in child(dialog, QLabel, hint).text()
    (field.setText if kind is QLineEdit else field.setPlainText)(good)
    assert save_button(dialog).isEnabled()


def test_text_fields_show_character_counters(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    child(dialog, QLineEdit, "nameEdit").setText("Socrates")
    assert child(dialog, QLabel, "nameHint").text().startswith("8 / 30 characters.")
    child(dialog, QLineEdit, "tagLineEdit").setText("abc")
    assert child(dialog, QLabel, "tagLineHint").text().startswith("3 / 25 characters.")


def test_an_empty_model_disables_save_with_its_reason(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("")
    assert not save_button(dialog).isEnabled()
    assert "Choose a model." in problems_text(dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("llama3:8b")
    assert save_button(dialog).isEnabled()


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("temperatureSpin", 0.0, 2.0),
        ("topPSpin", 0.0, 1.0),
        ("frequencyPenaltySpin", -2.0, 2.0),
        ("presencePenaltySpin", -2.0, 2.0),
    ],
)
def test_sampling_spins_hold_the_api_ranges(qtbot, make_dialog, name, low, high) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    spin = child(dialog, QDoubleSpinBox, name)
    spin.setValue(high + 5)
    assert spin.value() == high
    spin.setValue(low - 5)
    assert spin.value() == low


def test_the_response_limit_is_bounded_by_the_model_and_explained(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    spin = child(dialog, QSpinBox, "maxTokensSpin")
    child(dialog, QComboBox, "modelCombo").setCurrentText("gpt-4")
    assert spin.maximum() == 8192
    assert "1 to 8,192 tokens for gpt-4" in child(dialog, QLabel, "maxTokensHint").text()
    assert spin.singleStep() == 50
    child(dialog, QComboBox, "modelCombo").setCurrentText("my-local-model")
    assert spin.maximum() == 1_000_000
    assert "not known" in child(dialog, QLabel, "maxTokensHint").text()


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("Coaching", (0.5, 0.9, 0.3, 0.2)),
        ("Creative", (1.0, 0.7, 0.1, 0.1)),
        ("Sarcastic", (0.8, 0.9, 0.1, 0.1)),
        ("Truthful", (0.5, 0.9, 0.1, 0.2)),
        ("Witty", (0.7, 0.9, 0.1, 0.1)),
        ("Custom", (0.7, 1.0, 0.0, 0.0)),
    ],
)
def test_a_personality_template_fills_the_sampling_spins(
    qtbot, make_dialog, template, values
) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    combo = child(dialog, QComboBox, "personalityCombo")
    combo.setCurrentIndex(combo.findText("Creative" if template == "Custom" else "Custom"))
    combo.setCurrentIndex(combo.findText(template))
    spins = ("temperatureSpin", "topPSpin", "frequencyPenaltySpin", "presencePenaltySpin")
    assert tuple(child(dialog, QDoubleSpinBox, s).value() for s in spins) == values


def test_changing_a_sampling_value_by_hand_selects_custom(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    combo = child(dialog, QComboBox, "personalityCombo")
    combo.setCurrentIndex(combo.findText("Witty"))
    child(dialog, QDoubleSpinBox, "temperatureSpin").setValue(1.7)
    assert combo.currentText() == "Custom"


def test_the_initial_prompt_token_count_follows_the_text(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("gpt-4o")
    child(dialog, QPlainTextEdit, "initialPromptEdit").setPlainText(("hello " * 100).strip())
    label = child(dialog, QLabel, "initialPromptTokensLabel")
    qtbot.waitUntil(lambda: dialog.prompt_tokens is not None, timeout=WAIT_MS)
    assert dialog.prompt_tokens == 100
    assert "100 tokens of gpt-4o's 128,000-token context window" in label.text()


def test_a_prompt_and_limit_beyond_the_context_window_cannot_be_saved(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    child(dialog, QComboBox, "modelCombo").setCurrentText("my-local-model")  # 4,096 tokens
    child(dialog, QSpinBox, "maxTokensSpin").setValue(4000)
    child(dialog, QPlainTextEdit, "initialPromptEdit").setPlainText("word " * 300)
    qtbot.waitUntil(lambda: dialog.prompt_tokens is not None, timeout=WAIT_MS)
    assert not save_button(dialog).isEnabled()
    assert "context window" in problems_text(dialog)


def test_creating_needs_a_signed_in_user(qtbot, make_dialog) -> None:
    dialog = make_dialog(creator=None)
    qtbot.waitUntil(dialog.start_new().done, timeout=WAIT_MS)
    fill_valid(dialog)
    assert not save_button(dialog).isEnabled()
    assert "Sign in" in problems_text(dialog)


# -- models --------------------------------------------------------------------------------------


def test_the_model_list_comes_from_the_server_and_free_text_is_allowed(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    combo = child(dialog, QComboBox, "modelCombo")
    assert combo.isEditable()
    assert "gpt-4o-mini" in [combo.itemText(i) for i in range(combo.count())]
    assert child(dialog, QLabel, "modelHint").property("isFallback") is False


def test_an_unreachable_server_offers_the_built_in_list_flagged(qtbot, store, user) -> None:
    client = LlmClient(
        LlmSettings(base_url=unused_loopback_url(), api_key="k", timeout_s=2, max_retries=0)
    )
    dialog = AssistantEditorDialog(AssistantLab(store, client), creator_user_id=user.id)
    qtbot.waitUntil(dialog.start_new().done, timeout=WAIT_MS)
    hint = child(dialog, QLabel, "modelHint")
    assert hint.property("isFallback") is True
    assert "built-in" in hint.text()
    close_dialog(qtbot, dialog)
    run(qtbot, client.aclose())


# -- saving, versions, rollback ------------------------------------------------------------------


def test_saving_a_new_assistant_stores_it_and_switches_to_editing(qtbot, make_dialog, lab) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS) as saved:
        save_button(dialog).click()
    assistant_id = saved.args[0]
    stored = run(qtbot, lab.details(assistant_id)).to_draft()
    assert (stored.name, stored.initial_prompt) == ("Socrates", make_draft().initial_prompt)
    assert stored == dialog.current_draft()
    assert dialog.mode is EditorMode.EDIT
    assert dialog.assistant_id == assistant_id
    assert not dialog.is_dirty


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
    assistant_id = create_assistant(qtbot, lab, user)
    run(
        qtbot,
        lab.save(
            make_draft(initial_prompt="You are Socrates.\nAsk two questions.\nNever lecture."),
            assistant_id=assistant_id,
        ),
    )
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    history = child(dialog, VersionHistoryWidget, "historyTab")
    history.select_prompt_rows(0, 1)
    diff = child(dialog, QPlainTextEdit, "promptDiffView").toPlainText()
    assert "-Ask one question at a time." in diff
    assert "+Ask two questions." in diff


def test_summary_prompt_versions_are_listed_on_request(qtbot, make_dialog, lab, user) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    run(qtbot, lab.save(make_draft(summary_prompt="Recap."), assistant_id=assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    history = child(dialog, VersionHistoryWidget, "historyTab")
    assert history.prompt_model.rowCount() == 1
    combo = child(dialog, QComboBox, "promptKindCombo")
    combo.setCurrentIndex(combo.findData(PromptType.SUMMARY))
    assert history.prompt_model.rowCount() == 2


def test_making_an_older_prompt_active_rolls_back_the_form_and_the_store(
    qtbot, make_dialog, lab, user
) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    run(qtbot, lab.save(make_draft(initial_prompt="You are Plato."), assistant_id=assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    history = child(dialog, VersionHistoryWidget, "historyTab")
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
    assistant_id = create_assistant(qtbot, lab, user)
    run(qtbot, lab.save(make_draft(model_config=ModelConfig("gpt-4o")), assistant_id=assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    history = child(dialog, VersionHistoryWidget, "historyTab")
    history.select_config_row(1)
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        child(dialog, QPushButton, "makeConfigActiveButton").click()
    assert child(dialog, QComboBox, "modelCombo").currentText() == "gpt-4o-mini"


def test_rollback_waits_until_unsaved_changes_are_saved_or_undone(
    qtbot, make_dialog, lab, user
) -> None:
    assistant_id = create_assistant(qtbot, lab, user)
    run(qtbot, lab.save(make_draft(initial_prompt="You are Plato."), assistant_id=assistant_id))
    dialog = edit_dialog(qtbot, make_dialog, assistant_id)
    child(dialog, QLineEdit, "nameEdit").setText("Changed")
    history = child(dialog, VersionHistoryWidget, "historyTab")
    history.select_prompt_rows(1)
    assert not child(dialog, QPushButton, "makePromptActiveButton").isEnabled()
    assert "Save or undo" in child(dialog, QLabel, "historyNoteLabel").text()


# -- showcased, duplicate, archive, delete -------------------------------------------------------


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


# -- try it --------------------------------------------------------------------------------------


def test_try_it_streams_the_reply_and_stores_nothing(
    qtbot, make_dialog, data_dir, openai_server
) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    tables = ("sessions", "messages", "bots", "prompts", "users")
    before = {table: count_rows(data_dir, table) for table in tables}
    child(dialog, QLineEdit, "tryItInput").setText("Why?")
    task = dialog.send_test_message()
    assert task is not None
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    transcript = child(dialog, ChatStreamView, "tryItView").transcript()
    messages = transcript.messages()
    assert [(m.role, m.message) for m in messages] == [
        (Role.USER, "Why?"),
        (Role.ASSISTANT, "Echo: Why?"),
    ]
    assert messages[-1].state is MessageState.COMPLETE
    sent = openai_server.requests_to("chat")[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": make_draft().initial_prompt}
    assert {table: count_rows(data_dir, table) for table in tables} == before


def test_try_it_with_an_empty_input_asks_for_the_greeting(qtbot, make_dialog) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    qtbot.mouseClick(child(dialog, QPushButton, "tryItButton"), Qt.MouseButton.LeftButton)
    transcript = child(dialog, ChatStreamView, "tryItView").transcript()
    qtbot.waitUntil(
        lambda: (
            transcript.rowCount() == 1 and transcript.messages()[0].state is MessageState.COMPLETE
        ),
        timeout=WAIT_MS,
    )
    assert transcript.messages()[0].message == "Hello! How can I help?"


def test_stop_ends_a_test_reply_and_keeps_what_arrived(qtbot, make_dialog, openai_server) -> None:
    openai_server.script(Reply(text="a" * 400, chunk_size=1, delay_s=0.01))
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    child(dialog, QLineEdit, "tryItInput").setText("Talk")
    task = dialog.send_test_message()
    assert task is not None
    view = child(dialog, ChatStreamView, "tryItView")
    qtbot.waitUntil(lambda: view.transcript().rowCount() == 2, timeout=WAIT_MS)
    reply_id = view.transcript().messages()[-1].id
    qtbot.waitUntil(lambda: len(view.streaming_text(reply_id) or "") >= 3, timeout=WAIT_MS)
    stop = child(dialog, QPushButton, "tryItStopButton")
    assert stop.isEnabled()
    stop.click()
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    last = view.transcript().messages()[-1]
    assert last.state is MessageState.INTERRUPTED
    assert 3 <= len(last.message) < 400
    assert not stop.isEnabled()
    assert child(dialog, QPushButton, "tryItButton").isEnabled()


def test_try_it_explains_what_blocks_it(qtbot, make_dialog, openai_server) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    assert dialog.send_test_message() is None
    assert "Write the initial prompt" in child(dialog, QLabel, "tryItStatusLabel").text()
    assert openai_server.requests_to("chat") == []


def test_start_over_forgets_the_test_conversation(qtbot, make_dialog, openai_server) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    child(dialog, QLineEdit, "tryItInput").setText("One")
    qtbot.waitUntil(dialog.send_test_message().done, timeout=WAIT_MS)  # type: ignore[union-attr]
    child(dialog, QPushButton, "tryItResetButton").click()
    assert child(dialog, ChatStreamView, "tryItView").transcript().rowCount() == 0
    child(dialog, QLineEdit, "tryItInput").setText("Two")
    qtbot.waitUntil(dialog.send_test_message().done, timeout=WAIT_MS)  # type: ignore[union-attr]
    roles = [m["role"] for m in openai_server.requests_to("chat")[-1].body["messages"]]
    assert roles == ["system", "user"]


# -- closing -------------------------------------------------------------------------------------


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
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    box = child(dialog, QMessageBox, "unsavedChangesBox")
    box.button(QMessageBox.StandardButton.Discard).click()
    assert not dialog.isVisible()
    assert count_rows(data_dir, "bots") == 0


def test_saving_from_the_unsaved_changes_prompt_saves_then_closes(
    qtbot, make_dialog, data_dir
) -> None:
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
    dialog.close()
    box = child(dialog, QMessageBox, "unsavedChangesBox")
    with qtbot.waitSignal(dialog.assistantSaved, timeout=WAIT_MS):
        box.button(QMessageBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert count_rows(data_dir, "bots") == 1
