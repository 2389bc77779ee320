"""The toolbar over the hovered or current message: one widget, its buttons, their keys."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.ui.chat.message_toolbar import MessageToolbar
from tests.ui.chat.conftest import conversation, hover, message, toolbar_button

BUTTONS = (
    "copyMessageButton",
    "copyMarkdownButton",
    "regenerateMessageButton",
    "editMessageButton",
    "deleteMessageButton",
    "previousVariantButton",
    "nextVariantButton",
)
ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def chat(view):
    """A question, a reply with two variants (the second shown), another question and reply."""
    messages = [
        message("First question", Role.USER),
        message("A **reply**"),
        message("Second question", Role.USER),
        message("Another reply"),
    ]
    view.transcript().set_messages(messages, {messages[1].id: Variant(2, 2)})
    view.set_permissions(can_write=True, can_change=True)
    view.scroll_to_end()
    return view


def test_one_toolbar_follows_the_pointer_from_row_to_row(chat, qtbot):
    hover(qtbot, chat, 0)
    toolbar = chat.toolbar()
    assert toolbar.objectName() == "messageToolbar"
    assert toolbar.isVisible() and toolbar.message_id == chat.transcript().message_at(0).id
    assert chat.visualRect(chat.transcript().index(0)).intersects(toolbar.geometry())

    hover(qtbot, chat, 3)

    assert toolbar.message_id == chat.transcript().message_at(3).id
    assert chat.findChildren(MessageToolbar) == [toolbar]


def test_the_toolbar_follows_the_current_row_while_the_keyboard_is_in_the_transcript(chat, qtbot):
    chat.setFocus()
    chat.setCurrentIndex(chat.transcript().index(3))

    qtbot.keyClick(chat, Qt.Key.Key_Up)

    assert chat.currentIndex().row() == 2
    assert chat.toolbar().message_id == chat.transcript().message_at(2).id


def test_every_button_is_named_for_assistive_technology_with_its_keys_in_its_tooltip(chat):
    for name in BUTTONS:
        button = toolbar_button(chat, name)
        assert button.accessibleName(), name
        assert "(" in button.toolTip() and button.toolTip().endswith(")"), name
    assert "Ctrl+Shift+C" in toolbar_button(chat, "copyMarkdownButton").toolTip()
    assert "Alt+Left" in toolbar_button(chat, "previousVariantButton").toolTip()


def test_regenerate_is_offered_on_replies_and_edit_on_the_users_messages(chat, qtbot):
    hover(qtbot, chat, 0)
    assert toolbar_button(chat, "editMessageButton").isVisible()
    assert not toolbar_button(chat, "regenerateMessageButton").isVisible()

    hover(qtbot, chat, 1)

    assert toolbar_button(chat, "regenerateMessageButton").isVisible()
    assert not toolbar_button(chat, "editMessageButton").isVisible()


def test_a_message_with_variants_shows_where_it_stands_between_them(chat, qtbot):
    hover(qtbot, chat, 1)
    label = chat.toolbar().findChild(QLabel, "variantLabel")

    assert label.isVisible() and label.text() == "2 / 2"
    assert toolbar_button(chat, "previousVariantButton").isEnabled()
    assert not toolbar_button(chat, "nextVariantButton").isEnabled()
    reply = chat.transcript().message_at(1)
    header = chat.message_delegate().header_text(reply, chat.transcript().variant(reply.id))
    assert "2 / 2" in header

    hover(qtbot, chat, 3)

    assert not label.isVisible()
    assert not toolbar_button(chat, "previousVariantButton").isVisible()


def test_copy_and_copy_as_markdown_buttons_copy_the_hovered_message(chat, qtbot):
    hover(qtbot, chat, 1)

    qtbot.mouseClick(toolbar_button(chat, "copyMessageButton"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "A reply"
    qtbot.mouseClick(toolbar_button(chat, "copyMarkdownButton"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "A **reply**"


@pytest.mark.parametrize(
    ("row", "name", "signal"),
    [
        (1, "regenerateMessageButton", "regenerateRequested"),
        (2, "editMessageButton", "editRequested"),
        (3, "deleteMessageButton", "deleteRequested"),
    ],
)
def test_a_button_asks_for_its_action_on_the_hovered_message(chat, qtbot, row, name, signal):
    hover(qtbot, chat, row)

    with qtbot.waitSignal(getattr(chat, signal)) as asked:
        qtbot.mouseClick(toolbar_button(chat, name), Qt.MouseButton.LeftButton)

    assert asked.args == [chat.transcript().message_at(row).id]


def test_the_previous_variant_button_asks_for_a_step_back(chat, qtbot):
    hover(qtbot, chat, 1)

    with qtbot.waitSignal(chat.variantRequested) as asked:
        qtbot.mouseClick(toolbar_button(chat, "previousVariantButton"), Qt.MouseButton.LeftButton)

    assert asked.args == [chat.transcript().message_at(1).id, -1]


def test_buttons_that_change_the_conversation_are_disabled_while_not_permitted(chat, qtbot):
    chat.set_permissions(can_write=False, can_change=False)
    hover(qtbot, chat, 1)

    assert toolbar_button(chat, "copyMessageButton").isEnabled()
    for name in ("regenerateMessageButton", "deleteMessageButton", "previousVariantButton"):
        assert not toolbar_button(chat, name).isEnabled(), name


def test_a_streaming_reply_cannot_be_deleted_or_regenerated(view, qtbot):
    view.transcript().set_messages(
        [message("q", Role.USER), message("arriving", state=MessageState.STREAMING)]
    )
    view.set_permissions(can_write=True, can_change=True)
    hover(qtbot, view, 1)

    assert not toolbar_button(view, "deleteMessageButton").isEnabled()
    assert not toolbar_button(view, "regenerateMessageButton").isVisible()


def test_alt_enter_puts_the_keyboard_on_the_toolbar_and_escape_gives_it_back(chat, qtbot):
    chat.setFocus()
    chat.setCurrentIndex(chat.transcript().index(1))

    qtbot.keyClick(chat, Qt.Key.Key_Return, ALT)
    toolbar = chat.toolbar()
    focused = QGuiApplication.focusObject()
    assert toolbar.isAncestorOf(focused)
    assert toolbar.message_id == chat.transcript().message_at(1).id
    qtbot.keyClick(focused, Qt.Key.Key_Right)
    assert QGuiApplication.focusObject() is not focused
    assert toolbar.isAncestorOf(QGuiApplication.focusObject())

    qtbot.keyClick(QGuiApplication.focusObject(), Qt.Key.Key_Escape)

    assert chat.hasFocus()


@pytest.mark.parametrize(
    ("row", "key", "modifiers", "signal", "args"),
    [
        (1, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier, "regenerateRequested", []),
        (0, Qt.Key.Key_F2, Qt.KeyboardModifier.NoModifier, "editRequested", []),
        (2, Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier, "deleteRequested", []),
        (1, Qt.Key.Key_Left, ALT, "variantRequested", [-1]),
    ],
)
def test_the_current_rows_keys_ask_for_its_actions(chat, qtbot, row, key, modifiers, signal, args):
    chat.setFocus()
    chat.setCurrentIndex(chat.transcript().index(row))

    with qtbot.waitSignal(getattr(chat, signal)) as asked:
        qtbot.keyClick(chat, key, modifiers)

    assert asked.args == [chat.transcript().message_at(row).id, *args]


def test_alt_right_past_the_last_variant_asks_nothing(chat, qtbot):
    chat.setFocus()
    chat.setCurrentIndex(chat.transcript().index(1))

    with qtbot.assertNotEmitted(chat.variantRequested):
        qtbot.keyClick(chat, Qt.Key.Key_Right, ALT)


def test_a_long_transcript_still_has_one_toolbar(view, qtbot):
    view.transcript().set_messages(conversation(300))
    for row in (299, 298, 297):
        hover(qtbot, view, row)

    assert len(view.findChildren(MessageToolbar)) == 1
