"""A list view whose rows are placed from heights it keeps, and painted only where damaged.

Per chat turn (bench/bench_turn.py), QListView's own geometry placed every row again on each
new row (a size query per row: O(rows) per turn) and repainted the whole viewport on each
update. So this view keeps row heights and tops itself (row_geometry.py), answers Qt's
geometry questions from them, and repaints only the rows a change or scroll uncovered. Its
scroll bar repaints only when what it shows changes (scroll_bar.py).
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    Qt,
)
from PySide6.QtGui import QPainter, QPaintEvent, QRegion
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyleOptionViewItem,
    QWidget,
)

from gptlab_desktop.ui.chat.delegate import MessageDelegate
from gptlab_desktop.ui.chat.model import ChatTranscriptModel
from gptlab_desktop.ui.chat.row_geometry import RowGeometry
from gptlab_desktop.ui.chat.scroll_bar import QuietScrollBar


class PlacedRowsView(QListView):
    """A transcript's rows one under another, at the heights its MessageDelegate gives them.

    Answers QAbstractItemView's geometry interface (where a row is, which row is at a point,
    scrolling to a row, moving the cursor, selecting) and paints the damaged rows; keeping
    the heights in step with the transcript is MessageRowsView's work (rows_view.py).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._transcript: ChatTranscriptModel | None = None
        self._delegate = MessageDelegate(self)
        # Row geometry, kept here rather than in QListView (which places every row again on
        # any insertion): each row's height, and each row's top, valid for a leading run of
        # rows only; a change recomputes the tops from the changed row on.
        self._rows = RowGeometry()
        self._vertical_bar = QuietScrollBar(Qt.Orientation.Vertical, self)
        self.setVerticalScrollBar(self._vertical_bar)

    # The transcript and its rows ---------------------------------------------------------

    def transcript(self) -> ChatTranscriptModel:
        """The model this view shows."""
        assert self._transcript is not None
        return self._transcript

    def message_delegate(self) -> MessageDelegate:
        """The delegate that paints messages (its documents are what tests inspect)."""
        return self._delegate

    def row_width(self) -> int:
        """The width every row is laid out for: the viewport's."""
        return max(120, self.viewport().width())

    def activate_anchor(self, index: QModelIndex | QPersistentModelIndex, anchor: str) -> None:
        """Follow a link clicked in a row (ChatStreamView copies code and announces links)."""

    def note_row_resized(self, message_id: str) -> None:
        """A row was painted at another height than it was placed at (placed again later)."""

    def _sync_rows(self) -> None:
        """Heights for every row (after a change the view was not told of row by row)."""
        # Qt asks for geometry while the view is being built, before it has a model.
        if self._transcript is not None and len(self._rows) != len(self._transcript):
            self._measure_all_rows()

    def _measure_all_rows(self) -> None:
        width = self.row_width()
        self._delegate.set_layout_width(width)
        height_for = self._delegate.height_for
        messages = self._transcript.messages() if self._transcript is not None else ()
        self._rows.reset([height_for(message, width) for message in messages], width)

    def content_height(self) -> int:
        """The height of every row together."""
        self._sync_rows()
        return self._rows.content_height()

    # QAbstractItemView's geometry interface, answered from the heights above -------------
    def visualRect(self, index: QModelIndex | QPersistentModelIndex) -> QRect:
        """Where a row is, in viewport coordinates."""
        if not index.isValid() or index.parent().isValid():
            return QRect()
        self._sync_rows()
        row = index.row()
        if not 0 <= row < len(self._rows):
            return QRect()
        top = self._rows.tops()[row] - self.verticalOffset()
        return QRect(0, top, self.row_width(), self._rows.heights[row])

    def indexAt(self, point: QPoint) -> QModelIndex:
        """The row under a viewport point."""
        self._sync_rows()
        y = point.y() + self.verticalOffset()
        if not self._rows or y < 0 or y >= self.content_height():
            return QModelIndex()
        if not 0 <= point.x() < self.row_width():
            return QModelIndex()
        return self.transcript().index(self._rows.row_at(y))

    def horizontalOffset(self) -> int:
        """Rows always fit the width: never scrolled sideways."""
        return 0

    def verticalOffset(self) -> int:
        """How far the content is scrolled, in pixels."""
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Every message is shown."""
        return False

    def scrollTo(
        self,
        index: QModelIndex | QPersistentModelIndex,
        hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible,
    ) -> None:
        """Scroll so that a row is in view (as QListView does, its top first)."""
        rect = self.visualRect(index)
        if not rect.isValid():
            return
        area = self.viewport().rect()
        Hint = QAbstractItemView.ScrollHint
        if hint == Hint.EnsureVisible and area.contains(rect):
            return
        value = self.verticalOffset()
        if hint == Hint.PositionAtTop or (hint == Hint.EnsureVisible and rect.top() < 0):
            value += rect.top()
        elif hint == Hint.PositionAtBottom or hint == Hint.EnsureVisible:
            value += min(rect.top(), rect.bottom() - area.height() + 1)
        else:  # PositionAtCenter
            value += rect.top() - (area.height() - rect.height()) // 2
        self.verticalScrollBar().setValue(value)

    def moveCursor(
        self, cursorAction: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier
    ) -> QModelIndex:
        """The row a key moves to: the next or previous message, a page on, the first or last."""
        self._sync_rows()
        count = len(self._rows)
        if not count:
            return QModelIndex()
        current = self.currentIndex()
        row = current.row() if current.isValid() else -1
        Action = QAbstractItemView.CursorAction
        page = self.viewport().height()
        if cursorAction in (Action.MoveUp, Action.MovePrevious):
            row = row - 1 if row >= 0 else count - 1
        elif cursorAction in (Action.MoveDown, Action.MoveNext):
            row += 1
        elif cursorAction == Action.MoveHome:
            row = 0
        elif cursorAction == Action.MoveEnd:
            row = count - 1
        elif cursorAction == Action.MovePageUp:
            row = self._rows.row_at(self._rows.tops()[max(0, row)] - page)
        elif cursorAction == Action.MovePageDown:
            row = self._rows.row_at(self._rows.tops()[max(0, row)] + page)
        return self.transcript().index(min(count - 1, max(0, row)))

    def setSelection(self, rect: QRect, command: QItemSelectionModel.SelectionFlag) -> None:
        """Select the rows a viewport rectangle touches."""
        self._sync_rows()
        selection = QItemSelection()
        offset = self.verticalOffset()
        top, bottom = rect.normalized().top() + offset, rect.normalized().bottom() + offset
        if self._rows and bottom >= 0 and top < self.content_height():
            transcript = self.transcript()
            selection.select(
                transcript.index(self._rows.row_at(top)),
                transcript.index(self._rows.row_at(bottom)),
            )
        selection_model = self.selectionModel()
        if selection_model is not None:
            selection_model.select(selection, command)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        """The viewport area of the selected rows."""
        region = QRegion()
        transcript = self.transcript()
        for selected in selection:
            if selected.parent().isValid():
                continue
            top = self.visualRect(transcript.index(selected.top()))
            bottom = self.visualRect(transcript.index(selected.bottom()))
            if top.isValid() and bottom.isValid():
                region += top.united(bottom)
        return region

    def updateGeometries(self) -> None:
        """The scroll range: every row's height, with one viewport's worth shown."""
        page = self.viewport().height()
        bar = self._vertical_bar
        # The range grows, then (pinned) the value follows: one repaint for both, if any.
        with bar.changes_batched():
            bar.setPageStep(page)
            bar.setRange(0, max(0, self.content_height() - page))
        self.horizontalScrollBar().setRange(0, 0)
        QAbstractItemView.updateGeometries(self)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        """Move what is painted and repaint only what scrolled into view.

        QListView's own version does nothing when its (unused) layout is empty.
        """
        self.viewport().scroll(0, dy)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint the rows in the damaged area only."""
        self._sync_rows()
        if not self._rows:
            return
        offset = self.verticalOffset()
        # Row by row of the damaged region, not its bounding rectangle: a scroll damages a
        # strip at each end, and the rows between are already on screen.
        rows: set[int] = set()
        for area in event.region():
            first, last = area.top() + offset, area.bottom() + offset
            rows.update(range(self._rows.row_at(first), self._rows.row_at(last) + 1))
        tops = self._rows.tops()
        transcript = self.transcript()
        selection = self.selectionModel()
        current = self.currentIndex()
        has_focus = self.hasFocus()
        base = QStyleOptionViewItem()
        self.initViewItemOption(base)
        width = self.row_width()
        painter = QPainter(self.viewport())
        for row in sorted(rows):
            index = transcript.index(row)
            option = QStyleOptionViewItem(base)
            option.rect = QRect(0, tops[row] - offset, width, self._rows.heights[row])
            state = base.state
            if selection is not None and selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if has_focus and index == current:
                state |= QStyle.StateFlag.State_HasFocus
            option.state = state
            self._delegate.paint(painter, option, index)
        painter.end()
