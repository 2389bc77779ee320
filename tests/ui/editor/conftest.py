"""Editor test set-up: a real SQLite store, the loopback OpenAI-compatible server, dialogs.

Async work runs on the qasync loop of ``qt_loop``; tests wait for it with ``qtbot.waitUntil``.
The helpers drive the dialog by objectName, as a user would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton

from gptlab_desktop.models import User
from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmClient, LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from tests.builders import DB_NAME, make_draft
from tests.fakes.openai_server import FakeOpenAIServer
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


@pytest.fixture
def store(qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(data_dir / DB_NAME)
    assert run(qtbot, opened.open()).is_usable
    yield opened
    run(qtbot, opened.close())


@pytest.fixture
def user(qtbot: Any, store: SqliteStore) -> User:
    return run(qtbot, store.local_user())


@pytest.fixture
def llm(
    qtbot: Any, qt_loop: qasync.QEventLoop, openai_server: FakeOpenAIServer
) -> Iterator[LlmClient]:
    client = OpenAIClient(
        LlmSettings(base_url=openai_server.base_url, api_key="sk-test", timeout_s=5.0)
    )
    yield client
    run(qtbot, client.aclose())


@pytest.fixture
def lab(store: SqliteStore, llm: LlmClient) -> AssistantLab:
    return AssistantLab(store, Providers.of_client(llm))


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


def filled_new_dialog(
    qtbot: Any, make_dialog: Callable[..., AssistantEditorDialog]
) -> AssistantEditorDialog:
    """An editor on a new assistant, its form filled in validly (``fill_valid``)."""
    dialog = new_dialog(qtbot, make_dialog)
    fill_valid(dialog)
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


def save_blocked_because(dialog: AssistantEditorDialog) -> str:
    """Check that Save is disabled; the reasons the form gives for it."""
    assert not save_button(dialog).isEnabled()
    return problems_text(dialog)


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
