"""Marks under complete replies that did not end on their own: the length limit, a filter."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from gptlab_desktop.models import MessageDetails, Role
from gptlab_desktop.ui.messages import reply_mark_text
from tests.ui.chat.conftest import message, settled

CUT = MessageDetails(finish_reason="length")
FILTERED = MessageDetails(finish_reason="content_filter")


def action_texts(menu: QMenu) -> list[str]:
    return [action.text() for action in menu.actions() if isinstance(action, QAction)]


def test_the_marks_are_worded_in_one_place() -> None:
    assert reply_mark_text(CUT) == "Cut at the length limit"
    assert reply_mark_text(FILTERED) == "Stopped by the provider's content filter"
    assert reply_mark_text(MessageDetails(finish_reason="stop")) == ""


def test_a_reply_cut_at_the_length_limit_is_marked(view) -> None:
    view.transcript().set_messages([message("An answer that stops mid", meta=CUT)])

    text = view.message_document(0).toPlainText()

    assert "Cut at the length limit" in text
    assert "Interrupted" not in text


def test_a_reply_the_content_filter_stopped_is_marked(view) -> None:
    view.transcript().set_messages([message("Part of it", meta=FILTERED)])

    assert "Stopped by the provider's content filter" in view.message_document(0).toPlainText()


def test_a_reply_that_ended_on_its_own_has_no_mark(view) -> None:
    view.transcript().set_messages([message("Done.", meta=MessageDetails(finish_reason="stop"))])

    text = view.message_document(0).toPlainText()

    assert "Cut at the length limit" not in text
    assert "content filter" not in text


def test_continue_is_offered_on_a_last_reply_cut_at_the_length_limit(view) -> None:
    view.transcript().set_messages([message("q", Role.USER), message("a", meta=CUT)])

    assert "Continue" in action_texts(view.context_menu_for(1))


def test_continue_is_not_offered_on_a_filtered_reply(view) -> None:
    view.transcript().set_messages([message("q", Role.USER), message("a", meta=FILTERED)])

    assert "Continue" not in action_texts(view.context_menu_for(1))


def test_a_row_grows_by_its_mark_and_shrinks_back_when_it_goes(view, qtbot) -> None:
    plain = message("A reply of a single line.")
    view.transcript().set_messages([message("q", Role.USER), plain])
    settled(view, qtbot)
    height = view.visualRect(view.transcript().index(1)).height()

    view.transcript().replace(replace(plain, meta=CUT))
    settled(view, qtbot)
    marked = view.visualRect(view.transcript().index(1)).height()

    view.transcript().replace(plain)
    settled(view, qtbot)

    assert marked > height
    # The cached size follows the mark: no stale height from the marked look.
    assert view.visualRect(view.transcript().index(1)).height() == height
