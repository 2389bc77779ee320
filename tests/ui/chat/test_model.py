"""The transcript's model: rows by id, one dataChanged per change, never a reset."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.ui.chat.model import ChatTranscriptModel, MessageRole, VariantRole
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


# Branches ---------------------------------------------------------------------------------


def test_another_branch_replaces_only_the_rows_after_the_fork(qtmodeltester):
    model = ChatTranscriptModel()
    qtmodeltester.check(model)
    shared = conversation(3)
    old_tail, new_tail = conversation(2), conversation(3)
    model.set_messages([*shared, *old_tail])
    removed: list[tuple[int, int]] = []
    inserted: list[tuple[int, int]] = []
    resets: list[bool] = []
    model.rowsRemoved.connect(lambda _parent, first, last: removed.append((first, last)))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    model.modelReset.connect(lambda: resets.append(True))

    fork = model.show_branch([*shared, *new_tail], {})

    assert fork == 3
    assert removed == [(3, 4)] and inserted == [(3, 5)] and resets == []
    assert model.messages() == (*shared, *new_tail)
    assert model.row_of(new_tail[2].id) == 5 and model.row_of(old_tail[0].id) is None


def test_variants_are_kept_per_message_and_a_change_signals_its_row():
    model = ChatTranscriptModel()
    messages = conversation(3)
    model.set_messages(messages, {messages[1].id: Variant(1, 1), messages[2].id: Variant(1, 2)})
    changed: list[tuple[int, list[int]]] = []
    model.dataChanged.connect(lambda top, _bottom, roles: changed.append((top.row(), roles)))

    assert model.variant(messages[1].id) is None  # the only one: no variants to show
    assert model.index(2).data(VariantRole) == Variant(1, 2)
    assert "variant 1 of 2" in model.index(2).data(Qt.ItemDataRole.AccessibleTextRole)

    model.show_branch(messages, {messages[2].id: Variant(1, 2), messages[0].id: Variant(2, 2)})

    assert model.variant(messages[0].id) == Variant(2, 2)
    assert [row for row, _ in changed] == [0]
    assert VariantRole in changed[0][1]


def test_the_same_branch_shown_again_changes_nothing():
    model = ChatTranscriptModel()
    messages = conversation(4)
    model.set_messages(messages)
    signals: list[str] = []
    for name in ("rowsRemoved", "rowsInserted", "dataChanged", "modelReset"):
        getattr(model, name).connect(lambda *_args, name=name: signals.append(name))

    model.show_branch(list(messages), {})

    assert signals == []
