"""The two widgets laid over the transcript's painted rows, kept in place as the rows move.

The text selector covers one message's body while its text is being selected; the toolbar sits
on the hovered row's header (or the current row's, while the keyboard works in the transcript).
There is one of each, moved between rows: the rows stay painted, never widgets. Whenever the
rows are placed again or scrolled, both follow their row; the selector closes once its row has
left the screen or the transcript.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QApplication

from gptlab_desktop.models import Message
from gptlab_desktop.ui.chat.message_toolbar import MessageToolbar
from gptlab_desktop.ui.chat.selector import MessageSelector

if TYPE_CHECKING:
    from gptlab_desktop.ui.chat.placed_view import PlacedRowsView

# The toolbar's distance from the bubble's right edge and from the viewport's top.
_TOOLBAR_INSET = 4


class MessageOverlays(QObject):
    """Opens, places and closes the selector and the toolbar over a view's rows."""

    def __init__(self, view: PlacedRowsView) -> None:
        super().__init__(view)
        self._view = view
        viewport = view.viewport()
        self.selector = MessageSelector(viewport)
        self.toolbar = MessageToolbar(viewport)
        self._selector_id: str | None = None
        self._hovered_id: str | None = None
        self._can_write = False
        self._can_change = False
        self.selector.closeWanted.connect(self._close_to_view)
        self.selector.cursorPositionChanged.connect(self._keep_cursor_in_view)
        self.toolbar.leaveWanted.connect(self._leave_toolbar)

    # -- the selector --------------------------------------------------------------------------

    def selector_message_id(self) -> str | None:
        """The message whose text the selector shows (None while it is closed)."""
        return self._selector_id

    def body_rect(self, row: int) -> QRect:
        """Where a row's message text is, in viewport coordinates (laid out exactly)."""
        view = self._view
        message = view.transcript().message_at(row)
        document, _ = view.message_delegate().document(message)
        rect = view.visualRect(view.transcript().index(row))
        origin = view.message_delegate().body_origin(rect, message)
        size = QSize(math.ceil(document.textWidth()), math.ceil(document.size().height()))
        return QRect(origin, size)

    def open_selector(self, row: int) -> MessageSelector:
        """Lay the selector over a row's text, the document the row was painted from."""
        view = self._view
        message = view.transcript().message_at(row)
        document, _ = view.message_delegate().document(message)
        fill = view.message_delegate().fill_colour(message, view.palette())
        self._selector_id = message.id
        self.selector.show_document(document, self.body_rect(row), fill)
        self.selector.raise_()
        self.toolbar.raise_()
        return self.selector

    def close_selector(self) -> None:
        """Put the selector away (its selection with it)."""
        if self._selector_id is None:
            return
        had_focus = self.selector.hasFocus()
        self._selector_id = None
        self.selector.detach()
        if had_focus:
            self._view.setFocus(Qt.FocusReason.OtherFocusReason)

    def in_selector(self, point: QPoint) -> QPoint:
        """A viewport point in the selector's own coordinates."""
        return point - self.selector.geometry().topLeft()

    def _close_to_view(self) -> None:
        self.close_selector()
        self._view.setFocus(Qt.FocusReason.OtherFocusReason)

    def _keep_cursor_in_view(self) -> None:
        """Selecting with the keyboard past the screen's edge scrolls the transcript."""
        if self._selector_id is None or not self.selector.hasFocus():
            return
        cursor = self.selector.cursorRect().translated(self.selector.geometry().topLeft())
        area = self._view.viewport().rect()
        bar = self._view.verticalScrollBar()
        if cursor.top() < area.top():
            bar.setValue(bar.value() + cursor.top() - area.top())
        elif cursor.bottom() > area.bottom():
            bar.setValue(bar.value() + cursor.bottom() - area.bottom())

    # -- the toolbar ---------------------------------------------------------------------------

    def set_permissions(self, *, can_write: bool, can_change: bool) -> None:
        """Which actions the toolbar offers now (regenerate and edit; delete and variants)."""
        self._can_write, self._can_change = can_write, can_change
        self.refresh()

    def hover(self, row: int | None) -> None:
        """The pointer is over a row (None: over none): the toolbar goes there."""
        transcript = self._view.transcript()
        self._hovered_id = None if row is None else transcript.message_at(row).id
        self.refresh()

    def follow_current(self) -> None:
        """The current row changed: the toolbar goes there until the pointer moves again."""
        self._hovered_id = None
        self.refresh()

    def focus_toolbar(self) -> bool:
        """Put the keyboard on the current row's toolbar; False if it has nothing to press."""
        self._hovered_id = None
        self.refresh()
        return self.toolbar.isVisible() and self.toolbar.focus_first()

    def _leave_toolbar(self) -> None:
        self._view.setFocus(Qt.FocusReason.OtherFocusReason)
        self.refresh()

    def _toolbar_message(self) -> Message | None:
        """The row the toolbar belongs on: where the keyboard is in it, else the pointer's
        row, else (while the transcript has the keyboard) the current row."""
        transcript = self._view.transcript()
        focused = QApplication.focusWidget()
        if focused is not None and self.toolbar.isAncestorOf(focused):
            kept = self.toolbar.message_id
            if kept is not None and transcript.message(kept) is not None:
                return transcript.message(kept)
        if self._hovered_id is not None:
            hovered = transcript.message(self._hovered_id)
            if hovered is not None:
                return hovered
        current = self._view.currentIndex()
        has_keyboard = self._view.hasFocus() or self.selector.hasFocus()
        if has_keyboard and current.isValid() and current.row() < len(transcript):
            return transcript.message_at(current.row())
        return None

    def _place_toolbar(self) -> None:
        message = self._toolbar_message()
        row = None if message is None else self._view.transcript().row_of(message.id)
        if message is None or row is None:
            self.toolbar.forget()
            return
        view = self._view
        rect = view.visualRect(view.transcript().index(row))
        area = view.viewport().rect()
        if not rect.intersects(area):
            self.toolbar.forget()
            return
        delegate = view.message_delegate()
        self.toolbar.show_for(
            message,
            view.transcript().variant(message.id),
            can_write=self._can_write,
            can_change=self._can_change,
        )
        size = self.toolbar.sizeHint()
        bubble = delegate.bubble_rect(rect, message)
        header = delegate.header_rect(rect, message)
        x = max(0, bubble.right() - _TOOLBAR_INSET - size.width())
        y = header.center().y() - size.height() // 2
        # A row taller than the screen keeps its toolbar in view while any of it is shown.
        y = max(y, area.top() + _TOOLBAR_INSET)
        y = min(y, bubble.bottom() - size.height())
        geometry = QRect(QPoint(x, y), size)
        if self.toolbar.geometry() != geometry:
            self.toolbar.setGeometry(geometry)
        if not self.toolbar.isVisible():
            self.toolbar.show()
            self.toolbar.raise_()

    # -- following the rows --------------------------------------------------------------------

    def refresh(self) -> None:
        """Place both again over their rows (which moved, grew, scrolled or left)."""
        self._place_selector()
        self._place_toolbar()

    def _place_selector(self) -> None:
        if self._selector_id is None:
            return
        row = self._view.transcript().row_of(self._selector_id)
        if row is None:
            self.close_selector()
            return
        body = self.body_rect(row)
        if not body.intersects(self._view.viewport().rect()):
            self.close_selector()
            return
        self.selector.place(body)
