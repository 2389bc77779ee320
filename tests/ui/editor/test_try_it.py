"""The Try-it pane: replies stream from the draft (a loopback server), and nothing is stored."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.ui.chat.view import ChatStreamView
from tests.builders import count_rows, make_draft
from tests.fakes.openai_server import Reply
from tests.ui.conftest import WAIT_MS
from tests.ui.editor.conftest import child, filled_new_dialog, new_dialog


def test_try_it_streams_the_reply_and_stores_nothing(
    qtbot, make_dialog, data_dir, openai_server
) -> None:
    dialog = filled_new_dialog(qtbot, make_dialog)
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
    dialog = filled_new_dialog(qtbot, make_dialog)
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
    dialog = filled_new_dialog(qtbot, make_dialog)
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
    dialog = filled_new_dialog(qtbot, make_dialog)
    child(dialog, QLineEdit, "tryItInput").setText("One")
    qtbot.waitUntil(dialog.send_test_message().done, timeout=WAIT_MS)  # type: ignore[union-attr]
    child(dialog, QPushButton, "tryItResetButton").click()
    assert child(dialog, ChatStreamView, "tryItView").transcript().rowCount() == 0
    child(dialog, QLineEdit, "tryItInput").setText("Two")
    qtbot.waitUntil(dialog.send_test_message().done, timeout=WAIT_MS)  # type: ignore[union-attr]
    roles = [m["role"] for m in openai_server.requests_to("chat")[-1].body["messages"]]
    assert roles == ["system", "user"]
