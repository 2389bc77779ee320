"""Start-up refuses nothing: from the lobby's first paint every action works at once.

The user is the store's own (created with it), so neither the store nor the user waits for the
keyring; a keyring that takes 3 s to answer delays only the first request to the AI service.
Each test runs the app's own composition (``app.launch``) on a real SQLite file, against the
OpenAI-compatible loopback server and, for the slow case, the real test Secret Service with
every answer delayed (``SlowSecretService``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from gptlab_desktop.app import AppRun
from gptlab_desktop.models import Role
from gptlab_desktop.services.assistant_format import bundle_document, encode_document
from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
from tests.builders import make_draft
from tests.fakes.keyring_daemon import SlowSecretService
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.ui.conftest import WAIT_MS

GREETING = "Hello! How can I help?"


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


def test_what_is_asked_before_the_data_is_open_waits_for_it_and_is_carried_out(
    qtbot: Any, open_run: Callable[..., AppRun], tmp_path: Path
) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(encode_document(bundle_document([make_draft(name="Early Bird")])))
    run = open_run(wait=False)
    window = run.window
    assert not window.is_data_open  # the store opens on a worker thread

    window.findChild(QAction, "newAssistantAction").trigger()
    assert window.import_assistants(path) is None  # accepted, not refused

    assert QApplication.overrideCursor() is not None
    assert QApplication.overrideCursor().shape() == Qt.CursorShape.BusyCursor
    assert window.statusBar().currentMessage().startswith("Opening your data…")
    qtbot.waitUntil(lambda: len(window.assistant_editors) == 1, timeout=WAIT_MS)
    assert window.assistant_editors[0].isVisible()
    assert QApplication.overrideCursor() is None
    qtbot.waitUntil(
        lambda: "Early Bird" in [a.name for a in window.lobby_model.assistants()],
        timeout=WAIT_MS,
    )
