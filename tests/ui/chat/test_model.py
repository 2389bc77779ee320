"""The transcript's model: rows by id, one dataChanged per change, never a reset."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.ui.chat.model import ChatTranscriptModel, MessageRole
from tests.ui.chat.conftest import conversation, message

# The model --------------------------------------------------------------------------------


def test_model_satisfies_the_model_tester_through_every_change(qtmodeltester):
    model = ChatTranscriptModel()
    qtmodeltester.check(model)
    first, second, third = message("a", Role.USER), message("b"), message("c", Role.USER)
    model.set_messages([first])
    model.append(second)
    model.append(third)
    model.update_text(second.id, "b, longer")
    model.replace(replace(second, state=MessageState.INTERRUPTED))
    model.remove(first.id)
    model.set_messages([])

    assert model.rowCount() == 0


def test_update_text_signals_that_row_only_and_never_a_reset():
    model = ChatTranscriptModel()
    messages = conversation(5)
    model.set_messages(messages)
    changed: list[tuple[int, int]] = []
    resets: list[bool] = []
    model.dataChanged.connect(lambda top, bottom, _roles: changed.append((top.row(), bottom.row())))
    model.modelReset.connect(lambda: resets.append(True))

    model.update_text(messages[3].id, "new text")

    assert changed == [(3, 3)]
    assert resets == []
    assert model.message_at(3).message == "new text"


def test_messages_are_found_by_id_after_a_removal():
    model = ChatTranscriptModel()
    messages = conversation(4)
    model.set_messages(messages)

    model.remove(messages[1].id)

    assert model.row_of(messages[3].id) == 2
    assert model.index(2).data(MessageRole) == messages[3]


def test_updating_an_unknown_message_changes_nothing():
    model = ChatTranscriptModel()
    model.set_messages(conversation(2))

    assert model.update_text("missing", "text") is False
    assert model.replace(message("x")) is False
    assert model.remove("missing") is False


def test_chat_model_exposes_accessible_text(qapp) -> None:
    chat = ChatTranscriptModel()
    chat.set_messages([message("Hi", Role.USER)])
    assert chat.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole) == "You: Hi"
