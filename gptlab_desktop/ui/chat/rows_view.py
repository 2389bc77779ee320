"""The transcript's rows kept placed as it changes, and pinned to the bottom while followed.

A new row is laid out exactly and only it is placed and painted; a changed row moves the
rows after it only if its height changed; rows never shown get estimated heights, made
exact in idle time (refiner.py). While pinned, the newest text stays in view; once the user
scrolls up to read, the row at the top stays where it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from gptlab_desktop.ui.chat.model import ChatTranscriptModel
from gptlab_desktop.ui.chat.placed_view import PlacedRowsView
from gptlab_desktop.ui.chat.refiner import IdleRowRefiner

_PIN_TOLERANCE_PX = 2
_RESIZE_RELAYOUT_DELAY_MS = 100


class MessageRowsView(PlacedRowsView):
    """Places a ChatTranscriptModel's rows again as rows arrive, change, leave or resize.

    Keeps the bottom in view while pinned to it, else the top row in view where it was.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Set first: the configuration calls below already reach doItemsLayout.
        self._is_pinned = True
        # Rows found taller or shorter when painted; placed again once the paint is done.
        self._resized_ids: set[str] = set()
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Always shown: a scroll bar appearing would change the width and re-lay out every row.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSpacing(0)
        self.setMouseTracking(True)
        self.verticalScrollBar().setSingleStep(24)

        self.setItemDelegate(self._delegate)
        self._delegate.set_layout_width(self.row_width())

        # Rows never shown get exact heights a few milliseconds at a time, bottom first.
        self._refiner = IdleRowRefiner(
            lambda: self.transcript().rowCount(),
            self._refine_row,
            self.row_width,
            self._update_heights,
            self,
        )

        self._resized_timer = QTimer(self)
        self._resized_timer.setSingleShot(True)
        self._resized_timer.setInterval(0)
        self._resized_timer.timeout.connect(self._apply_resized_rows)
        # A new width changes every row's height: place them all again once resizing pauses.
        self._relayout_timer = QTimer(self)
        self._relayout_timer.setSingleShot(True)
        self._relayout_timer.setInterval(_RESIZE_RELAYOUT_DELAY_MS)
        self._relayout_timer.timeout.connect(self.doItemsLayout)

        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._on_range_changed)

    # Model -----------------------------------------------------------------------------

    def setModel(self, model: object) -> None:
        """Show a ChatTranscriptModel (the view makes its own; another may replace it)."""
        if not isinstance(model, ChatTranscriptModel):
            raise TypeError("ChatStreamView shows a ChatTranscriptModel")
        if self._transcript is not None:
            for signal, slot in self._model_connections(self._transcript):
                signal.disconnect(slot)
        super().setModel(model)
        self._transcript = model
        self._delegate.transcript = model
        for signal, slot in self._model_connections(model):
            signal.connect(slot)
        self._on_model_reset()

    def _model_connections(self, model: ChatTranscriptModel) -> list[tuple[object, object]]:
        return [
            (model.modelReset, self._on_model_reset),
            (model.rowsRemoved, self._on_rows_removed),
        ]

    # Pinning and placing rows again --------------------------------------------------------

    def is_pinned_to_bottom(self) -> bool:
        """Whether new text scrolls the view (False once the user scrolled up to read)."""
        return self._is_pinned

    def scroll_to_end(self) -> None:
        """Scroll to the newest message and follow new text again."""
        self._is_pinned = True
        self.scrollToBottom()

    def _scroll_anchor(self) -> tuple[int, int] | None:
        """The top row in view and where it is, to keep it there (None when pinned)."""
        if self._is_pinned or not self._rows:
            return None
        row = self._rows.row_at(self.verticalOffset())
        return row, self._rows.tops()[row] - self.verticalOffset()

    def _rows_moved(self, first: int, anchor: tuple[int, int] | None) -> None:
        """Rows from ``first`` on changed height or place: scroll range, anchor, repaint."""
        self.updateGeometries()
        bar = self.verticalScrollBar()
        if anchor is not None and anchor[0] < len(self._rows):
            bar.setValue(self._rows.tops()[anchor[0]] - anchor[1])
        elif self._is_pinned:
            bar.setValue(bar.maximum())
        viewport = self.viewport()
        tops = self._rows.tops()
        top = tops[first] if first < len(tops) else self.content_height()
        # Only what is at or below the first moved row: what is above it, a scroll blitted.
        top = max(0, top - self.verticalOffset())
        if top < viewport.height():
            viewport.update(QRect(0, top, viewport.width(), viewport.height() - top))
        self._rows_placed()

    def _rows_placed(self) -> None:
        """The rows moved (placed again, or scrolled): what is laid over them follows."""

    def note_row_resized(self, message_id: str) -> None:
        """A row painted at another height than it was placed at: place it again soon."""
        self._resized_ids.add(message_id)
        if not self._resized_timer.isActive():
            self._resized_timer.start()

    def _apply_resized_rows(self) -> None:
        ids, self._resized_ids = self._resized_ids, set()
        self._update_heights(row for row in map(self.transcript().row_of, ids) if row is not None)

    def _update_heights(self, rows: Iterable[int]) -> None:
        """Take the delegate's heights for some rows; move what follows if any changed."""
        self._sync_rows()
        transcript = self.transcript()
        width = self.row_width()
        anchor = self._scroll_anchor()
        first: int | None = None
        for row in rows:
            height = self._delegate.height_for(transcript.message_at(row), width)
            if self._rows.set_height(row, height):
                first = row if first is None else min(first, row)
        if first is not None:
            self._rows_moved(first, anchor)

    # Layout ------------------------------------------------------------------------------

    def doItemsLayout(self) -> None:
        """Place every row again, keeping the bottom in view when pinned, else the top row."""
        self._relayout_timer.stop()
        anchor = self._scroll_anchor()
        self._measure_all_rows()
        # Ends a pending delayed layout, sets the scroll range and repaints.
        QAbstractItemView.doItemsLayout(self)
        bar = self.verticalScrollBar()
        if self._is_pinned:
            bar.setValue(bar.maximum())
        elif anchor is not None and anchor[0] < len(self._rows):
            bar.setValue(self._rows.tops()[anchor[0]] - anchor[1])
        self._rows_placed()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A new width changes every row's height: place them again, refine them again."""
        QAbstractItemView.resizeEvent(self, event)
        self._delegate.set_layout_width(self.row_width())
        if self.row_width() != self._rows.width:
            self._relayout_timer.start()
            self._refiner.start()

    def rowsInserted(
        self, parent: QModelIndex | QPersistentModelIndex, first: int, last: int
    ) -> None:
        """New rows: laid out exactly (the first 50), placed, and only they painted."""
        if parent.isValid():
            return
        transcript = self.transcript()
        width = self.row_width()
        for row in range(first, min(last, first + 50) + 1):
            self._delegate.ensure_exact(transcript.message_at(row), width)
        count = last - first + 1
        anchor = self._scroll_anchor() if len(self._rows) + count == len(transcript) else None
        if anchor is not None and anchor[0] >= first:
            anchor = (anchor[0] + count, anchor[1])
        if len(self._rows) + count != len(transcript):
            self._measure_all_rows()
        else:
            height_for = self._delegate.height_for
            self._rows.insert(
                first,
                [height_for(transcript.message_at(row), width) for row in range(first, last + 1)],
            )
        self._rows_moved(first, anchor)
        if last - first >= 50:
            self._refiner.start()
        QAbstractItemView.rowsInserted(self, parent, first, last)

    def rowsAboutToBeRemoved(
        self, parent: QModelIndex | QPersistentModelIndex, first: int, last: int
    ) -> None:
        """Rows leaving: forget their looks."""
        QAbstractItemView.rowsAboutToBeRemoved(self, parent, first, last)
        if parent.isValid():
            return
        transcript = self.transcript()
        for row in range(first, last + 1):
            self._delegate.forget(transcript.message_at(row).id)

    def _on_rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        anchor = self._scroll_anchor()
        if len(self._rows) - (last - first + 1) == self.transcript().rowCount():
            self._rows.remove(first, last)
        else:
            self._measure_all_rows()
        if anchor is not None and anchor[0] > last:
            anchor = (anchor[0] - (last - first + 1), anchor[1])
        elif anchor is not None and anchor[0] >= first:
            anchor = None
        self._rows_moved(first, anchor)

    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._is_pinned = value >= bar.maximum() - _PIN_TOLERANCE_PX
        self._rows_placed()

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._is_pinned:
            self.verticalScrollBar().setValue(maximum)

    def _on_model_reset(self) -> None:
        self._delegate.forget_all()
        self._is_pinned = True
        self._lay_out_last_rows()
        self._measure_all_rows()
        self.updateGeometries()
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        self.viewport().update()
        self._refiner.start()
        self._rows_placed()

    def _lay_out_last_rows(self) -> None:
        """Exact heights for the rows that fill the screen at the bottom, before first paint."""
        transcript = self.transcript()
        width = self.row_width()
        filled = 0
        row = transcript.rowCount() - 1
        while row >= 0 and filled < 2 * max(self.viewport().height(), 400):
            _, layout = self._delegate.ensure_exact(transcript.message_at(row), width)
            filled += layout.height
            row -= 1

    def dataChanged(
        self,
        top_left: QModelIndex | QPersistentModelIndex,
        bottom_right: QModelIndex | QPersistentModelIndex,
        roles: list[int] | None = None,
    ) -> None:
        """Re-lay out the changed rows only; move the rows after them only if a height changed.

        QListView's own handling places every row again on any change, which for a
        streamed reply in a long transcript costs far more than the change itself.
        """
        self._sync_rows()
        transcript = self.transcript()
        width = self.row_width()
        rows = range(top_left.row(), bottom_right.row() + 1)
        for row in rows:
            self._delegate.ensure_exact(transcript.message_at(row), width)
        self._update_heights(rows)
        # Repaints the changed rows and tells assistive technology.
        QAbstractItemView.dataChanged(self, top_left, bottom_right, roles or [])

    def _refine_row(self, row: int, width: int) -> bool:
        changed, _ = self._delegate.ensure_exact(self.transcript().message_at(row), width)
        return changed

    def is_refining(self) -> bool:
        """Whether rows are still being laid out exactly in idle time."""
        return self._refiner.is_refining()
