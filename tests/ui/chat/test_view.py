"""The chat view: copying, links, actions on messages, streamed text, its name."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent, QGuiApplication
from PySide6.QtWidgets import QMenu

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.ui.chat.view import STREAM_RENDER_INTERVAL_MS
from tests.ui.chat.conftest import CODE, click_link, conversation, message
from tests.ui.conftest import RENDERING_LIBRARIES, modules_loaded_by


def action_texts(menu: QMenu) -> list[str]:
    return [action.text() for action in menu.actions() if not action.isSeparator()]


def trigger(menu: QMenu, text: str) -> None:
    next(action for action in menu.actions() if action.text() == text).trigger()


# Copying ---------------------------------------------------------------------------------


def test_clicking_copy_on_a_code_block_copies_exactly_its_code(view, qtbot):
    view.transcript().set_messages(
        [message("Try this:\n\n```python\n" + CODE + "```\n\nand\n\n```\nsecond\n```")]
    )

    with qtbot.waitSignal(view.copyRequested):
        click_link(qtbot, view, 0, "copy:0")

    assert QGuiApplication.clipboard().text() == CODE.rstrip("\n")


def test_clicking_copy_on_the_second_code_block_copies_the_second(view, qtbot):
    view.transcript().set_messages(
        [message("```python\n" + CODE + "```\n\nand\n\n```\nsecond block\n```")]
    )

    click_link(qtbot, view, 0, "copy:1")

    assert QGuiApplication.clipboard().text() == "second block"


def test_clicking_a_web_link_announces_it(view, qtbot):
    view.transcript().set_messages([message("See [the docs](https://example.org/docs).")])

    with qtbot.waitSignal(view.linkActivated) as clicked:
        click_link(qtbot, view, 0, "https://example.org/docs")

    assert clicked.args[0].toString() == "https://example.org/docs"


def test_copy_as_markdown_puts_the_raw_markdown_on_the_clipboard(view):
    raw = "**Bold** and `code`\n\n- a list"
    view.transcript().set_messages([message("hi", Role.USER), message(raw)])

    trigger(view.context_menu_for(1), "Copy as Markdown")

    assert QGuiApplication.clipboard().text() == raw


def test_copy_puts_the_text_shown_on_the_clipboard(view):
    view.transcript().set_messages([message("hi", Role.USER), message("**Bold** and `code`")])

    trigger(view.context_menu_for(1), "Copy")

    assert QGuiApplication.clipboard().text() == "Bold and code"


def test_ctrl_c_copies_the_current_messages_text(view, qtbot):
    view.transcript().set_messages([message("first", Role.USER), message("second *reply*")])
    view.setCurrentIndex(view.transcript().index(1))

    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)

    assert QGuiApplication.clipboard().text() == "second reply"


def test_ctrl_shift_c_copies_the_current_messages_markdown(view, qtbot):
    view.transcript().set_messages([message("first", Role.USER), message("second *reply*")])
    view.setCurrentIndex(view.transcript().index(1))

    qtbot.keyClick(
        view,
        Qt.Key.Key_C,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )

    assert QGuiApplication.clipboard().text() == "second *reply*"


def test_copying_an_interrupted_reply_leaves_out_its_mark(view):
    view.transcript().set_messages([message("So far", state=MessageState.INTERRUPTED)])
    assert "Interrupted" in view.message_document(0).toPlainText()

    trigger(view.context_menu_for(0), "Copy")

    assert QGuiApplication.clipboard().text() == "So far"


# Actions on messages ---------------------------------------------------------------------


def test_regenerate_is_offered_on_every_settled_reply(view):
    messages = [
        message("q1", Role.USER),
        message("a1"),
        message("q2", Role.USER),
        message("a2", state=MessageState.STREAMING),
    ]
    view.transcript().set_messages(messages)

    assert "Regenerate" in action_texts(view.context_menu_for(1))
    assert "Regenerate" not in action_texts(view.context_menu_for(0))
    assert "Regenerate" not in action_texts(view.context_menu_for(3))


def test_continue_is_offered_only_when_the_last_reply_was_interrupted(view):
    view.transcript().set_messages([message("q", Role.USER), message("a")])
    assert "Continue" not in action_texts(view.context_menu_for(1))

    view.transcript().set_messages(
        [message("q", Role.USER), message("a", state=MessageState.INTERRUPTED)]
    )
    assert "Continue" in action_texts(view.context_menu_for(1))


def test_edit_and_resend_is_offered_on_every_message_of_the_user(view):
    view.transcript().set_messages(
        [message("q1", Role.USER), message("a1"), message("q2", Role.USER), message("a2")]
    )

    assert "Edit and resend" in action_texts(view.context_menu_for(0))
    assert "Edit and resend" in action_texts(view.context_menu_for(2))
    assert "Edit and resend" not in action_texts(view.context_menu_for(3))


def test_actions_that_change_the_conversation_wait_for_permission(view):
    view.transcript().set_messages([message("q", Role.USER), message("a")])

    def enabled(row: int) -> dict[str, bool]:
        menu = view.context_menu_for(row)
        return {a.text(): a.isEnabled() for a in menu.actions() if not a.isSeparator()}

    assert not enabled(1)["Regenerate"] and not enabled(1)["Delete…"]
    assert enabled(1)["Copy"] and enabled(1)["Copy as Markdown"]
    view.set_permissions(can_write=False, can_change=True)
    assert not enabled(0)["Edit and resend"] and enabled(0)["Delete…"]
    view.set_permissions(can_write=True, can_change=True)
    assert enabled(0)["Edit and resend"] and enabled(1)["Regenerate"]


def test_menu_actions_emit_the_message_id(view, qtbot):
    question = message("q", Role.USER)
    reply = message("a", state=MessageState.INTERRUPTED)
    view.transcript().set_messages([question, reply])
    view.set_permissions(can_write=True, can_change=True)

    with qtbot.waitSignal(view.regenerateRequested) as regenerate:
        trigger(view.context_menu_for(1), "Regenerate")
    with qtbot.waitSignal(view.continueRequested) as cont:
        trigger(view.context_menu_for(1), "Continue")
    with qtbot.waitSignal(view.editRequested) as edit:
        trigger(view.context_menu_for(0), "Edit and resend")
    with qtbot.waitSignal(view.deleteRequested) as delete:
        trigger(view.context_menu_for(0), "Delete…")

    assert regenerate.args == [reply.id]
    assert cont.args == [reply.id]
    assert edit.args == [question.id]
    assert delete.args == [question.id]


# Streaming and scrolling -----------------------------------------------------------------


def test_streamed_text_is_shown_in_one_update_after_the_interval(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([message("q", Role.USER), reply])
    changes: list[int] = []
    view.transcript().dataChanged.connect(lambda top, _bottom, _roles: changes.append(top.row()))

    for count in range(1, 30):
        view.set_streaming_text(reply.id, "word " * count)

    assert changes == []
    assert view.streaming_text(reply.id) == "word " * 29
    qtbot.waitUntil(lambda: changes == [1], timeout=5 * STREAM_RENDER_INTERVAL_MS)
    assert view.transcript().message_at(1).message == "word " * 29


def test_final_message_wins_over_streamed_text_not_yet_shown(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])

    view.set_streaming_text(reply.id, "partial")
    view.transcript().replace(replace(reply, message="Final answer."))
    qtbot.wait(2 * STREAM_RENDER_INTERVAL_MS)

    assert view.transcript().message_at(0).message == "Final answer."
    assert view.streaming_text(reply.id) == "Final answer."


# Identity and start-up -------------------------------------------------------------------


def test_view_is_named_for_tests_and_assistive_technology(view):
    assert view.objectName() == "chatView"
    assert view.accessibleName()


def test_importing_the_chat_view_does_not_import_markdown_or_pygments():
    loaded = modules_loaded_by("import gptlab_desktop.ui.chat.view", RENDERING_LIBRARIES)
    assert loaded == []


# The offscreen platform cannot raise a window or grab the keyboard for a popup menu.
@pytest.mark.qt_log_ignore(
    "This plugin does not support raise\\(\\)",
    "This plugin does not support grabbing the keyboard",
)
def test_a_right_click_pops_up_the_menu_without_blocking(view, qtbot):
    view.transcript().set_messages([message("hello")])
    centre = view.visualRect(view.transcript().index(0)).center()

    view.contextMenuEvent(
        QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, centre, view.viewport().mapToGlobal(centre)
        )
    )

    menu = view.findChild(QMenu, "chatMessageMenu")
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    menu.close()


# Branches ----------------------------------------------------------------------------------


def test_another_branch_keeps_the_switched_row_where_it_was_on_screen(view, qtbot):
    messages = conversation(60)
    view.transcript().set_messages(messages)
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    row = view.indexAt(QPoint(100, 150)).row()
    top = view.visualRect(view.transcript().index(row)).top()
    others = conversation(40)

    view.show_branch([*messages[:row], *others], {others[0].id: Variant(2, 2)}, keep_row=row)

    assert view.transcript().message_at(row) == others[0]
    assert view.visualRect(view.transcript().index(row)).top() == top
    assert not view.is_pinned_to_bottom()


def test_another_branch_keeps_the_current_row_under_the_keyboard(view):
    messages = conversation(6)
    view.transcript().set_messages(messages)
    view.setCurrentIndex(view.transcript().index(3))
    others = conversation(3)

    view.show_branch([*messages[:3], *others], {}, keep_row=3)

    assert view.currentIndex().row() == 3
