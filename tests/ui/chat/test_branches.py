"""Branches in the window: editing an earlier question or regenerating an earlier reply forks the
conversation, ‹ n / m › switch between the variants (and the choice survives a restart),
deleting a message takes what followed it, and a search hit on another branch shows that one.

Against the real loopback server and a real SQLite file; the toolbar is driven by the pointer
and its buttons by objectName.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton

from gptlab_desktop.models import Role
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.ui.chat.chatting import (
    API_KEY,
    label,
    message_input,
    open_session_id,
    send,
    start_chat,
    stored_messages,
    texts,
)
from tests.ui.chat.conftest import hover, toolbar_button
from tests.ui.conftest import GREETING, WAIT_MS, OpenWindow, close_window, is_idle


def chat_with_two_questions(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    send(qtbot, window, "First question")
    send(qtbot, window, "Second question")


def press(qtbot, window: MainWindow, row: int, name: str) -> None:
    """Point at a message and press one of its toolbar's buttons."""
    view = window.chat_view
    view.scrollTo(view.transcript().index(row))
    hover(qtbot, view, row)
    button = toolbar_button(view, name)
    assert button.isVisible() and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def variant_shown(qtbot, window: MainWindow, row: int) -> str:
    """The ‹ n / m › the toolbar shows over a row."""
    view = window.chat_view
    hover(qtbot, view, row)
    variant = view.toolbar().findChild(QLabel, "variantLabel")
    return variant.text() if variant.isVisible() else ""


def edit_row(qtbot, window: MainWindow, row: int, text: str) -> None:
    """Edit a message of the user from its toolbar, and send the new words."""
    press(qtbot, window, row, "editMessageButton")
    box = message_input(window)
    assert label(window, "editingLabel").isVisible()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: is_idle(window) and texts(window)[-1] == (Role.ASSISTANT, f"Echo: {text}"),
        timeout=WAIT_MS,
    )


def wait_idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: is_idle(window), timeout=WAIT_MS)


ORIGINAL = [
    (Role.ASSISTANT, GREETING),
    (Role.USER, "First question"),
    (Role.ASSISTANT, "Echo: First question"),
    (Role.USER, "Second question"),
    (Role.ASSISTANT, "Echo: Second question"),
]
EDITED = [
    (Role.ASSISTANT, GREETING),
    (Role.USER, "First, better put"),
    (Role.ASSISTANT, "Echo: First, better put"),
]


def test_editing_an_earlier_question_forks_and_the_branch_chosen_survives_a_restart(
    qtbot,
    window: MainWindow,
    open_window: OpenWindow,
    openai_server: FakeOpenAIServer,
    data_dir: Path,
) -> None:
    chat_with_two_questions(qtbot, window)
    session_id = open_session_id(window)

    edit_row(qtbot, window, 1, "First, better put")
    assert texts(window) == EDITED
    assert variant_shown(qtbot, window, 1) == "2 / 2"
    # The question asked instead went to the model after the greeting alone.
    asked = openai_server.requests_to("chat")[-1].body["messages"]
    assert [m["content"] for m in asked if m["role"] == "user"] == ["First, better put"]

    press(qtbot, window, 1, "previousVariantButton")
    qtbot.waitUntil(lambda: is_idle(window) and texts(window) == ORIGINAL, timeout=WAIT_MS)
    assert variant_shown(qtbot, window, 1) == "1 / 2"

    close_window(qtbot, window)
    again = open_window(
        data_dir, {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": API_KEY}
    )
    again.open_session(session_id)
    qtbot.waitUntil(lambda: is_idle(again) and again.chat_pane.session is not None, timeout=WAIT_MS)
    assert texts(again) == ORIGINAL
    assert variant_shown(qtbot, again, 1) == "1 / 2"


def test_alt_right_on_the_current_row_shows_the_next_variant(qtbot, window: MainWindow) -> None:
    chat_with_two_questions(qtbot, window)
    edit_row(qtbot, window, 1, "First, better put")
    press(qtbot, window, 1, "previousVariantButton")
    qtbot.waitUntil(lambda: is_idle(window) and texts(window) == ORIGINAL, timeout=WAIT_MS)
    view = window.chat_view
    view.setFocus()
    view.setCurrentIndex(view.transcript().index(1))

    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)

    qtbot.waitUntil(lambda: is_idle(window) and texts(window) == EDITED, timeout=WAIT_MS)
    # The row switched stays where it was, under the keyboard.
    assert view.currentIndex().row() == 1


def test_regenerating_an_earlier_reply_forks_there_and_keeps_the_old_one(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    chat_with_two_questions(qtbot, window)
    openai_server.script(Reply(text="A better first answer."))

    press(qtbot, window, 2, "regenerateMessageButton")

    qtbot.waitUntil(
        lambda: is_idle(window) and texts(window)[-1] == (Role.ASSISTANT, "A better first answer."),
        timeout=WAIT_MS,
    )
    assert texts(window) == [*ORIGINAL[:2], (Role.ASSISTANT, "A better first answer.")]
    assert variant_shown(qtbot, window, 2) == "2 / 2"
    stored = [text for _, text, _ in stored_messages(data_dir, open_session_id(window))]
    assert "Echo: Second question" in stored and "A better first answer." in stored


def test_deleting_a_message_asks_first_then_takes_the_replies_after_it(
    qtbot, window: MainWindow, data_dir: Path
) -> None:
    chat_with_two_questions(qtbot, window)

    press(qtbot, window, 3, "deleteMessageButton")
    box = window.findChild(QMessageBox, "deleteMessageBox")
    qtbot.waitUntil(box.isVisible)
    assert "replies after it" in box.text()
    qtbot.mouseClick(
        box.findChild(QPushButton, "confirmDeleteMessageButton"), Qt.MouseButton.LeftButton
    )

    qtbot.waitUntil(lambda: is_idle(window) and texts(window) == ORIGINAL[:3], timeout=WAIT_MS)
    stored = [text for _, text, _ in stored_messages(data_dir, open_session_id(window))]
    assert stored == [text for _, text in ORIGINAL[:3]]


def test_cancelling_the_delete_question_keeps_the_message(qtbot, window: MainWindow) -> None:
    chat_with_two_questions(qtbot, window)

    press(qtbot, window, 3, "deleteMessageButton")
    box = window.findChild(QMessageBox, "deleteMessageBox")
    qtbot.waitUntil(box.isVisible)
    box.reject()

    wait_idle(qtbot, window)
    assert texts(window) == ORIGINAL


def test_deleting_an_edited_question_takes_its_branch_and_shows_the_other(
    qtbot, window: MainWindow, data_dir: Path
) -> None:
    chat_with_two_questions(qtbot, window)
    edit_row(qtbot, window, 1, "First, better put")

    press(qtbot, window, 1, "deleteMessageButton")
    box = window.findChild(QMessageBox, "deleteMessageBox")
    qtbot.waitUntil(box.isVisible)
    qtbot.mouseClick(
        box.findChild(QPushButton, "confirmDeleteMessageButton"), Qt.MouseButton.LeftButton
    )

    qtbot.waitUntil(lambda: is_idle(window) and texts(window) == ORIGINAL, timeout=WAIT_MS)
    assert variant_shown(qtbot, window, 1) == ""
    stored = [text for _, text, _ in stored_messages(data_dir, open_session_id(window))]
    assert "First, better put" not in stored and "Echo: First, better put" not in stored


def test_a_search_hit_on_another_branch_shows_that_branch_at_the_message(
    qtbot, window: MainWindow
) -> None:
    chat_with_two_questions(qtbot, window)
    hidden = window.chat_view.transcript().message_at(4)  # "Echo: Second question"
    edit_row(qtbot, window, 1, "First, better put")
    assert window.chat_view.transcript().row_of(hidden.id) is None

    found = window.show_search_hit(open_session_id(window), hidden.id)

    qtbot.waitUntil(found.done, timeout=WAIT_MS)
    assert found.result() is True
    assert texts(window) == ORIGINAL
    view = window.chat_view
    assert view.currentIndex().row() == view.transcript().row_of(hidden.id)


def test_copy_conversation_puts_the_branch_shown_on_the_clipboard_as_markdown(
    qtbot, window: MainWindow
) -> None:
    chat_with_two_questions(qtbot, window)
    edit_row(qtbot, window, 1, "First, better put")
    action = window.findChild(QAction, "copyConversationAction")
    assert action is not None and action.isEnabled()

    action.trigger()

    copied = QGuiApplication.clipboard().text()
    assert "## You · " in copied and "## Code Reviewer · " in copied
    assert "First, better put" in copied and "Echo: First, better put" in copied
    assert "Second question" not in copied
