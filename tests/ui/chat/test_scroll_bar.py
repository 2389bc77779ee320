"""The scroll bar looks as Qt's own does and repaints only when that changes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QScrollBar

from gptlab_desktop.models import Role
from gptlab_desktop.ui.chat.scroll_bar import QuietScrollBar
from tests.ui.chat.conftest import conversation, message, settled

# Row geometry ------------------------------------------------------------------------------


def _largest_channel_difference(first: QImage, second: QImage) -> int:
    assert first.size() == second.size()
    first = first.convertToFormat(QImage.Format.Format_RGB32)
    second = second.convertToFormat(QImage.Format.Format_RGB32)
    return (
        max(
            abs(((a >> shift) & 0xFF) - ((b >> shift) & 0xFF))
            for y in range(first.height())
            for x in range(first.width())
            if (a := first.pixel(x, y)) != (b := second.pixel(x, y))
            for shift in (0, 8, 16)
        )
        if first != second
        else 0
    )


@pytest.mark.parametrize(
    ("maximum", "page", "value"),
    [(0, 100, 0), (100, 10, 0), (100, 10, 57), (100, 10, 100), (20_000, 480, 20_000)],
)
def test_the_scroll_bar_looks_as_qts_own_does(qtbot, maximum, page, value):
    bars = [QScrollBar(Qt.Orientation.Vertical), QuietScrollBar(Qt.Orientation.Vertical)]
    for bar in bars:
        qtbot.addWidget(bar)
        bar.resize(14, 480)
        bar.setRange(0, maximum)
        bar.setPageStep(page)
        bar.setValue(value)
    plain, quiet = (bar.grab().toImage() for bar in bars)

    # Its groove is drawn from a cached pixmap: blending may round a border pixel by a level.
    assert _largest_channel_difference(plain, quiet) <= 2


class Paints(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_new_row_that_does_not_move_the_slider_does_not_repaint_the_scroll_bar(view, qtbot):
    view.transcript().set_messages(conversation(2_000))
    settled(view, qtbot)
    bar = view.verticalScrollBar()
    assert isinstance(bar, QuietScrollBar)
    paints = Paints()
    bar.installEventFilter(paints)
    look = bar.look()

    view.transcript().append(message("One more.", Role.USER))
    new_row = view.visualRect(view.transcript().index(2_000))
    qtbot.waitUntil(lambda: view.viewport().rect().contains(new_row))
    qtbot.wait(50)

    assert bar.look() == look  # pinned to the bottom of a long transcript: no visible change
    assert bar.value() == bar.maximum()
    assert paints.count == 0


def test_a_new_row_that_moves_the_slider_repaints_the_scroll_bar(view, qtbot):
    view.transcript().set_messages(conversation(8))
    settled(view, qtbot)
    bar = view.verticalScrollBar()
    paints = Paints()
    bar.installEventFilter(paints)
    look = bar.look()

    view.transcript().append(message("A longer answer. " * 40))

    qtbot.waitUntil(lambda: paints.count > 0)
    assert bar.look() != look
    assert bar.value() == bar.maximum()
