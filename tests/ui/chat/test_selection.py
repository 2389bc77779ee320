"""Selecting part of a message and copying it: with the mouse in one drag, and with the keys."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QMenu, QTextBrowser

from gptlab_desktop.models import Role
from gptlab_desktop.ui.chat.selector import MessageSelector
from tests.ui.chat.chatting import send, start_chat
from tests.ui.chat.conftest import (
    CODE,
    anchor_position,
    conversation,
    drag,
    message,
    text_point,
)

REPLY = "The quick brown fox jumps over the lazy dog, and then it keeps running far away."
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def shown(view, *messages) -> None:
    view.transcript().set_messages(list(messages))
    view.scroll_to_end()


def test_dragging_across_part_of_a_reply_selects_it_and_ctrl_c_copies_exactly_that(view, qtbot):
    shown(view, message("Tell me about foxes", Role.USER), message(REPLY))

    drag(qtbot, view, text_point(view, 1, 4), text_point(view, 1, 25))
    selector = view.selector()
    qtbot.keyClick(selector, Qt.Key.Key_C, CTRL)

    assert selector.isVisible() and selector.hasFocus()
    assert QGuiApplication.clipboard().text() == REPLY[4:25]


def test_the_selection_is_copied_as_plain_text_not_markdown(view, qtbot):
    shown(view, message("A **bold** claim, `in code`."))

    drag(qtbot, view, text_point(view, 0, 2), text_point(view, 0, 16))
    qtbot.keyClick(view.selector(), Qt.Key.Key_C, CTRL)

    assert QGuiApplication.clipboard().text() == "bold claim, in"


def test_the_selector_shows_the_rows_own_document_over_its_text(view, qtbot):
    shown(view, message(REPLY))

    drag(qtbot, view, text_point(view, 0, 0), text_point(view, 0, 3))

    selector = view.selector()
    assert selector.objectName() == "messageSelector"
    assert selector.document() is view.message_document(0)
    assert selector.geometry().topLeft() == view.document_origin(0)
    assert view.findChildren(MessageSelector) == [selector]


def test_ctrl_shift_c_in_the_selector_copies_the_messages_markdown(view, qtbot):
    raw = "Some *emphasis* and a [link](https://example.org)."
    shown(view, message(raw))

    drag(qtbot, view, text_point(view, 0, 0), text_point(view, 0, 4))
    qtbot.keyClick(view.selector(), Qt.Key.Key_C, CTRL | SHIFT)

    assert QGuiApplication.clipboard().text() == raw


def test_enter_on_the_current_row_opens_its_text_for_keyboard_selection(view, qtbot):
    shown(view, message("A question", Role.USER), message(REPLY))
    view.setFocus()
    view.setCurrentIndex(view.transcript().index(1))

    qtbot.keyClick(view, Qt.Key.Key_Return)
    selector = view.selector()
    assert selector.hasFocus() and view.selecting_message_id() == view.transcript().message_at(1).id
    for _ in range(3):
        qtbot.keyClick(selector, Qt.Key.Key_Right, CTRL | SHIFT)  # three words
    qtbot.keyClick(selector, Qt.Key.Key_C, CTRL)

    assert QGuiApplication.clipboard().text() == "The quick brown "


def test_escape_puts_the_selector_away_and_gives_the_keys_back_to_the_transcript(view, qtbot):
    shown(view, message(REPLY))
    view.setCurrentIndex(view.transcript().index(0))
    view.open_selector(0)

    qtbot.keyClick(view.selector(), Qt.Key.Key_Escape)

    assert not view.selector().isVisible()
    assert view.selecting_message_id() is None
    assert view.hasFocus()


def test_pressing_another_message_moves_the_one_selector_there(view, qtbot):
    shown(view, message("First message here", Role.USER), message(REPLY))
    drag(qtbot, view, text_point(view, 1, 0), text_point(view, 1, 5))

    drag(qtbot, view, text_point(view, 0, 0), text_point(view, 0, 5))

    assert view.selecting_message_id() == view.transcript().message_at(0).id
    assert view.selector().selected_text() == "First"
    assert len(view.findChildren(QTextBrowser)) == 1


def test_a_press_outside_any_text_puts_the_selector_away(view, qtbot):
    shown(view, message(REPLY))
    view.open_selector(0)

    below = QPoint(view.viewport().width() // 2, view.viewport().height() - 5)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=below)

    assert view.selecting_message_id() is None


def test_the_selector_closes_when_its_message_scrolls_away(view, qtbot):
    shown(view, *conversation(80))
    last = view.transcript().rowCount() - 1
    view.open_selector(last)

    view.verticalScrollBar().setValue(0)

    assert view.selecting_message_id() is None
    assert not view.selector().isVisible()


def test_the_selector_follows_its_message_while_it_stays_on_screen(view, qtbot):
    shown(view, *conversation(80))
    row = view.indexAt(QPoint(100, 200)).row()
    view.open_selector(row)
    bar = view.verticalScrollBar()

    bar.setValue(bar.value() - 30)

    assert view.selecting_message_id() is not None
    assert view.selector().geometry().topLeft() == view.document_origin(row)


def test_the_selector_closes_when_the_transcript_changes(view, qtbot):
    first, second = message("q", Role.USER), message(REPLY)
    shown(view, first, second)
    view.open_selector(1)

    view.transcript().remove(second.id)

    assert view.selecting_message_id() is None
    view.transcript().append(second)
    view.open_selector(1)
    view.transcript().set_messages([first])
    assert view.selecting_message_id() is None


def test_the_wheel_over_the_selector_scrolls_the_transcript(view, qtbot):
    shown(view, *conversation(80))
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    row = view.indexAt(QPoint(100, 200)).row()
    selector = view.open_selector(row)
    before = bar.value()
    at = QPointF(5, 5)

    QApplication.sendEvent(
        selector.viewport(),
        QWheelEvent(
            at,
            selector.viewport().mapToGlobal(at),
            QPoint(0, 0),
            QPoint(0, -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        ),
    )

    assert bar.value() > before


def test_a_code_blocks_copy_link_in_the_open_selector_still_copies_its_code(view, qtbot):
    shown(view, message("Try:\n\n```python\n" + CODE + "```"))
    selector = view.open_selector(0)
    link = anchor_position(view.message_document(0), "copy:0").toPoint()

    with qtbot.waitSignal(view.copyRequested):
        qtbot.mouseClick(selector.viewport(), Qt.MouseButton.LeftButton, pos=link)

    assert QGuiApplication.clipboard().text() == CODE.rstrip("\n")


def test_a_press_on_a_link_does_not_open_the_selector(view, qtbot):
    shown(view, message("Try:\n\n```python\n" + CODE + "```"))
    link = view.document_origin(0) + anchor_position(view.message_document(0), "copy:0").toPoint()

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=link)

    assert view.selecting_message_id() is None
    assert QGuiApplication.clipboard().text() == CODE.rstrip("\n")


def test_copy_selection_is_offered_in_the_menu_of_the_message_selected(view, qtbot):
    shown(view, message("q", Role.USER), message(REPLY))
    drag(qtbot, view, text_point(view, 1, 4), text_point(view, 1, 9))

    menu = view.context_menu_for(1)
    copy = next(a for a in menu.actions() if a.text() == "Copy selection")
    copy.trigger()

    assert QGuiApplication.clipboard().text() == "quick"
    assert "Copy selection" not in [a.text() for a in view.context_menu_for(0).actions()]


# The offscreen platform cannot raise a window or grab the keyboard for a popup menu.
@pytest.mark.qt_log_ignore(
    "This plugin does not support raise\\(\\)",
    "This plugin does not support grabbing the keyboard",
)
def test_a_right_click_on_the_selected_text_pops_up_the_messages_menu(view, qtbot):
    shown(view, message("q", Role.USER), message(REPLY))
    drag(qtbot, view, text_point(view, 1, 4), text_point(view, 1, 9))
    selector = view.selector()
    at = QPoint(10, 5)

    QApplication.sendEvent(
        selector.viewport(),
        QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, selector.viewport().mapToGlobal(at)),
    )

    menu = view.findChild(QMenu, "chatMessageMenu")
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    assert "Copy selection" in [action.text() for action in menu.actions()]
    menu.close()


# In the window -----------------------------------------------------------------------------


def test_in_the_window_a_reply_is_drag_selected_and_esc_closes_the_selector_not_the_reply(
    qtbot, window
):
    start_chat(qtbot, window)
    send(qtbot, window, "Tell me about foxes")
    view = window.chat_view
    reply = view.transcript().rowCount() - 1
    text = view.transcript().message_at(reply).message  # "Echo: Tell me about foxes"

    drag(qtbot, view, text_point(view, reply, 6), text_point(view, reply, 13))
    selector = view.selector()
    qtbot.keyClick(selector, Qt.Key.Key_C, CTRL)
    assert QGuiApplication.clipboard().text() == text[6:13]

    qtbot.keyClick(selector, Qt.Key.Key_Escape)

    assert view.selecting_message_id() is None
    assert view.hasFocus()
