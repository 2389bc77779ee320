"""Where rows are and what is repainted: only what changed, rows one under another."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QImage, QRegion

from gptlab_desktop.models import Role
from gptlab_desktop.ui.chat.view import ChatStreamView
from tests.ui.chat.conftest import conversation, message, row_image, settled

# Painting: only what changed, rows blitted from a bounded cache ---------------------------


class PaintedRegions(QObject):
    """Collects the regions the viewport is asked to paint (a real paint, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.region = QRegion()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.region += event.region()
            self.count += 1
        return False


def watch_paints(view: ChatStreamView) -> PaintedRegions:
    spy = PaintedRegions()
    view.viewport().installEventFilter(spy)
    return spy


def on_screen(view: ChatStreamView) -> QImage:
    """What the window system was last given for the view (its backing store)."""
    return view.screen().grabWindow(view.winId()).toImage()


def test_a_row_whose_text_changes_at_the_same_height_repaints_only_its_rect(view, qtbot):
    messages = conversation(6)
    view.transcript().set_messages(messages)
    settled(view, qtbot)
    spy = watch_paints(view)
    rect = view.visualRect(view.transcript().index(2))

    view.transcript().update_text(
        messages[2].id, messages[2].message.replace("Message 2", "Message X")
    )

    qtbot.waitUntil(lambda: spy.count > 0)
    assert view.visualRect(view.transcript().index(2)) == rect
    assert QRegion(rect).contains(spy.region.boundingRect())


def test_a_row_that_grows_repaints_from_its_top_down_only(view, qtbot):
    messages = conversation(6)
    view.transcript().set_messages(messages)
    settled(view, qtbot)
    spy = watch_paints(view)
    first_rows = view.visualRect(view.transcript().index(0)).united(
        view.visualRect(view.transcript().index(1))
    )

    view.transcript().update_text(messages[2].id, messages[2].message + "\n\nA new paragraph.")

    qtbot.waitUntil(lambda: spy.count > 0)
    assert spy.region.boundingRect().top() == view.visualRect(view.transcript().index(2)).top()
    assert not spy.region.intersects(first_rows)


def test_appending_a_message_paints_only_the_new_row_afresh(view, qtbot):
    messages = conversation(30)
    view.transcript().set_messages(messages)
    settled(view, qtbot)
    view.viewport().repaint()  # painted again, the rows in view are kept as pixmaps
    cache = view.message_delegate().pixmap_cache()
    shown = [m.id for m in messages if m.id in cache]
    before = {message_id: cache.pixmap_of(message_id).cacheKey() for message_id in shown}
    spy = watch_paints(view)
    new = message("One more question?", Role.USER)

    view.transcript().append(new)
    qtbot.waitUntil(lambda: spy.count > 0)

    assert shown
    new_row = view.visualRect(view.transcript().index(len(messages)))
    assert spy.region.boundingRect().top() >= new_row.top()
    assert {message_id: cache.pixmap_of(message_id).cacheKey() for message_id in shown} == before
    assert new.id not in cache  # drawn once, directly


def test_what_is_on_screen_after_scrolling_and_appending_matches_a_full_repaint(view, qtbot):
    view.transcript().set_messages(conversation(40))
    settled(view, qtbot)
    bar = view.verticalScrollBar()

    bar.setValue(bar.value() - 70)
    view.transcript().append(message("Appended while scrolled up", Role.USER))
    bar.setValue(bar.maximum())
    view.transcript().append(message("Appended at the end", Role.USER))
    qtbot.wait(50)
    shown = on_screen(view)
    view.viewport().repaint()

    assert shown == on_screen(view)


def test_selecting_a_row_repaints_it_highlighted_and_deselecting_restores_it(view, qtbot):
    view.transcript().set_messages(conversation(3))
    plain = row_image(view, 1)

    view.setCurrentIndex(view.transcript().index(1))
    selected = row_image(view, 1)
    view.clearSelection()

    assert selected != plain
    assert row_image(view, 1) == plain


def test_each_row_is_found_where_it_is_placed_one_under_another(view):
    view.transcript().set_messages(conversation(8))
    transcript = view.transcript()

    rects = [view.visualRect(transcript.index(row)) for row in range(8)]

    assert all(upper.bottom() + 1 == lower.top() for upper, lower in itertools.pairwise(rects))
    for row, rect in enumerate(rects):
        if view.viewport().rect().contains(rect.center()):
            assert view.indexAt(rect.center()).row() == row


def test_arrow_keys_move_from_message_to_message(view, qtbot):
    view.transcript().set_messages(conversation(5))
    view.setFocus()
    view.setCurrentIndex(view.transcript().index(3))

    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.currentIndex().row() == 2
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 4


def test_clicking_a_message_selects_it(view, qtbot):
    view.transcript().set_messages(conversation(4))
    point = view.visualRect(view.transcript().index(2)).center()

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)

    assert [index.row() for index in view.selectionModel().selectedIndexes()] == [2]


def test_removing_a_message_moves_the_rows_below_it_up(view, qtbot):
    messages = conversation(4)
    view.transcript().set_messages(messages)
    view.scrollToTop()
    top_of_second = view.visualRect(view.transcript().index(1)).top()

    view.transcript().remove(messages[1].id)

    assert view.visualRect(view.transcript().index(1)).top() == top_of_second
    assert view.transcript().message_at(1).id == messages[2].id


def test_the_scroll_range_is_the_height_of_every_row(view):
    view.transcript().set_messages(conversation(40))
    transcript = view.transcript()
    last = view.visualRect(transcript.index(transcript.rowCount() - 1))
    bar = view.verticalScrollBar()

    assert bar.maximum() == view.content_height() - view.viewport().height()
    assert last.bottom() == view.viewport().height() - 1
