"""The chat's transcript view: Markdown messages, a streamed reply, and per-message actions.

Rows are painted by a delegate from a cached QTextDocument per message (delegate.py); a
streamed reply re-renders only its own row, at most every 100 ms, and only the part of it
that changed (documents.py). Placing and painting rows is MessageRowsView's (rows_view.py).

Text is selected in a browser laid over the pressed message, showing its document
(selector.py); one toolbar follows the hovered or current message (message_toolbar.py); both
are kept over their rows by ``MessageOverlays`` (overlays.py). The actions on a message, in
its menu and on its keys, are message_actions.py's. The keys on the current row:
Up and Down move, Enter selects its text, Ctrl+C copies it, Ctrl+Shift+C copies its Markdown,
Ctrl+R regenerates a reply, F2 edits one of the user's messages, Del deletes, Alt+Left and
Alt+Right show the previous and next variant, Alt+Enter reaches the toolbar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QEnterEvent,
    QFocusEvent,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QTextDocument,
)
from PySide6.QtWidgets import QAbstractItemView, QMenu, QWidget

from gptlab_desktop.models import Message
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.ui.chat.documents import state_mark_text
from gptlab_desktop.ui.chat.message_actions import act_on_key, message_menu
from gptlab_desktop.ui.chat.message_toolbar import MessageToolbar
from gptlab_desktop.ui.chat.model import ChatTranscriptModel, MessageRole
from gptlab_desktop.ui.chat.overlays import MessageOverlays
from gptlab_desktop.ui.chat.plain_text import plain_text
from gptlab_desktop.ui.chat.rows_view import MessageRowsView
from gptlab_desktop.ui.chat.selector import MessageSelector
from gptlab_desktop.ui.markdown import COPY_SCHEME

STREAM_RENDER_INTERVAL_MS = 100
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})


class ChatStreamView(MessageRowsView):
    """The transcript pane: Markdown messages, a streamed reply, and per-message actions.

    It owns a ChatTranscriptModel (``transcript()``); the chat pane fills it, streams into
    it with ``set_streaming_text``, and connects the request signals to its engine.
    """

    # Text just put on the clipboard (a message or a code block), so the pane can confirm.
    copyRequested = Signal(str)
    regenerateRequested = Signal(str)  # message id of a reply to ask for again
    # Message id of the last reply, interrupted or cut at the length limit.
    continueRequested = Signal(str)
    editRequested = Signal(str)  # message id of one of the user's messages
    deleteRequested = Signal(str)  # message id of a message to delete with what followed it
    # A message id and a step (-1 the previous variant, +1 the next) to show instead.
    variantRequested = Signal(str, int)
    linkActivated = Signal(QUrl)  # an http(s) or mailto link in a message was clicked

    # Made once the view has its model (placing the rows before that tells nothing).
    _overlays: MessageOverlays | None = None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending_text: dict[str, str] = {}
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")
        self._can_write = False
        self._can_change = False
        # While a press that opened the selector drags on, its moves go to the selector.
        self._is_dragging_into_selector = False
        # Actions of the pane offered in every message's menu (Copy conversation).
        self._pane_actions: list[QAction] = []

        self._stream_timer = QTimer(self)
        self._stream_timer.setSingleShot(True)
        self._stream_timer.setInterval(STREAM_RENDER_INTERVAL_MS)
        self._stream_timer.timeout.connect(self.flush_streaming)
        self.setModel(ChatTranscriptModel(self))
        self._overlays = MessageOverlays(self)
        self._connect_overlays(self._overlays)

    def _connect_overlays(self, overlays: MessageOverlays) -> None:
        selector, toolbar = overlays.selector, overlays.toolbar
        selector.copied.connect(self.copyRequested)
        selector.markdownWanted.connect(self._copy_selector_markdown)
        selector.anchorActivated.connect(self._activate_selector_anchor)
        toolbar.copyWanted.connect(self.copy_text_of)
        toolbar.copyMarkdownWanted.connect(self.copy_markdown_of)
        toolbar.regenerateWanted.connect(self.regenerateRequested)
        toolbar.editWanted.connect(self.editRequested)
        toolbar.deleteWanted.connect(self.deleteRequested)
        toolbar.variantWanted.connect(self.variantRequested)

    def _model_connections(self, model: ChatTranscriptModel) -> list[tuple[object, object]]:
        return [
            *super()._model_connections(model),
            (model.messageReplaced, self._on_message_replaced),
        ]

    def set_assistant_name(self, name: str) -> None:
        """The name shown over the assistant's messages."""
        self._delegate.assistant_name = name or "Assistant"
        self.viewport().update()

    def set_permissions(self, *, can_write: bool, can_change: bool) -> None:
        """What may be done to messages now: regenerate and edit (``can_write``: the chat
        takes messages and nothing runs), delete and switch variants (``can_change``)."""
        self._can_write, self._can_change = can_write, can_change
        assert self._overlays is not None
        self._overlays.set_permissions(can_write=can_write, can_change=can_change)

    @property
    def can_write(self) -> bool:
        """Whether messages may be regenerated and edited now."""
        return self._can_write

    @property
    def can_change(self) -> bool:
        """Whether messages may be deleted and their variants switched now."""
        return self._can_change

    def set_pane_actions(self, actions: Sequence[QAction]) -> None:
        """Actions of the whole chat offered at the end of every message's menu."""
        self._pane_actions = list(actions)

    def pane_actions(self) -> list[QAction]:
        """The chat's own actions every message's menu ends with."""
        return list(self._pane_actions)

    def focus_toolbar(self) -> bool:
        """Put the keyboard on the current message's toolbar (Alt+Enter)."""
        assert self._overlays is not None
        return self._overlays.focus_toolbar()

    def selector(self) -> MessageSelector:
        """The browser laid over a message to select its text (one, moved between rows)."""
        assert self._overlays is not None
        return self._overlays.selector

    def toolbar(self) -> MessageToolbar:
        """The toolbar over the hovered or current message (one, moved between rows)."""
        assert self._overlays is not None
        return self._overlays.toolbar

    def selecting_message_id(self) -> str | None:
        """The message whose text is open for selecting, if any."""
        assert self._overlays is not None
        return self._overlays.selector_message_id()

    def open_selector(self, row: int) -> MessageSelector:
        """Open a message's text for selecting, the keyboard in it (Enter on a row)."""
        assert self._overlays is not None
        self.scrollTo(self.transcript().index(row))
        selector = self._overlays.open_selector(row)
        selector.setFocus(Qt.FocusReason.OtherFocusReason)
        return selector

    def close_selector(self) -> None:
        """Put the selector away."""
        assert self._overlays is not None
        self._overlays.close_selector()

    # Branches -----------------------------------------------------------------------------

    def show_branch(
        self,
        messages: Sequence[Message],
        variants: Mapping[str, Variant],
        keep_row: int | None = None,
    ) -> None:
        """Show another branch of the conversation; the row ``keep_row`` (the message whose
        variant was switched) stays where it is on screen, else the view stays as it was."""
        transcript = self.transcript()
        kept_top: int | None = None
        if keep_row is not None and 0 <= keep_row < len(transcript):
            kept_top = self.visualRect(transcript.index(keep_row)).top()
        current = self.currentIndex().row() if self.currentIndex().isValid() else None
        fork = transcript.show_branch(messages, variants)
        if current is not None and fork <= current < len(transcript):
            # The keyboard stays at its place: on the variant shown instead, say.
            self.setCurrentIndex(transcript.index(current))
        if kept_top is None or keep_row is None or keep_row >= len(transcript):
            return
        self._sync_rows()
        self.updateGeometries()
        bar = self.verticalScrollBar()
        bar.setValue(self._rows.tops()[keep_row] - kept_top)
        self._on_scrolled(bar.value())
        self.viewport().update()

    # Streaming ---------------------------------------------------------------------------

    def set_streaming_text(self, message_id: str, text: str) -> None:
        """Keep a streamed reply's latest text; it is shown at most every 100 ms.

        Rendering Markdown and laying the row out on every token would cost far more than
        a token's worth of time; the user cannot read faster than ten updates a second.
        """
        self._pending_text[message_id] = text
        if not self._stream_timer.isActive():
            self._stream_timer.start()

    def streaming_text(self, message_id: str) -> str | None:
        """The latest text of a message, including text not yet shown."""
        if message_id in self._pending_text:
            return self._pending_text[message_id]
        message = self.transcript().message(message_id)
        return None if message is None else message.message

    def flush_streaming(self) -> None:
        """Show pending streamed text now (also when the stream ends)."""
        self._stream_timer.stop()
        pending, self._pending_text = self._pending_text, {}
        for message_id, text in pending.items():
            self.transcript().update_text(message_id, text)

    # Tests and the pane find a message's document and its place here.

    def message_document(self, row: int) -> QTextDocument:
        """The laid-out document of the message in a row."""
        document, _ = self._delegate.document(self.transcript().message_at(row))
        return document

    def document_origin(self, row: int) -> QPoint:
        """Where the message's document starts, in viewport coordinates."""
        index = self.transcript().index(row)
        rect = self.visualRect(index)
        rect.setWidth(self.row_width())
        return self._delegate.body_origin(rect, self.transcript().message_at(row))

    # Copy and actions --------------------------------------------------------------------

    def message_text(self, row: int) -> str:
        """A message's text as copying it gives it: the words shown, without its state mark."""
        message = self.transcript().message_at(row)
        text = plain_text(self.message_document(row))
        mark = state_mark_text(message)
        if mark and text.endswith(mark):
            text = text[: -len(mark)].rstrip("\n")
        return text

    def copy_text(self, row: int) -> None:
        """Put a message's text on the clipboard, as plain text."""
        self._copy(self.message_text(row))

    def copy_message(self, row: int) -> None:
        """Put a message's Markdown source on the clipboard."""
        message = self.transcript().message_at(row)
        text = self.streaming_text(message.id) or message.message
        self._copy(text)

    def copy_text_of(self, message_id: str) -> None:
        """Copy the text of the message with that id (if it is still shown)."""
        row = self.transcript().row_of(message_id)
        if row is not None:
            self.copy_text(row)

    def copy_markdown_of(self, message_id: str) -> None:
        """Copy the Markdown source of the message with that id (if it is still shown)."""
        row = self.transcript().row_of(message_id)
        if row is not None:
            self.copy_message(row)

    def _copy_selector_markdown(self) -> None:
        message_id = self.selecting_message_id()
        if message_id is not None:
            self.copy_markdown_of(message_id)

    def _activate_selector_anchor(self, anchor: str) -> None:
        message_id = self.selecting_message_id()
        row = None if message_id is None else self.transcript().row_of(message_id)
        if row is not None:
            self.activate_anchor(self.transcript().index(row), anchor)

    def activate_anchor(self, index: QModelIndex | QPersistentModelIndex, anchor: str) -> None:
        """Follow a link clicked in a message: copy a code block, or announce a web link."""
        scheme, _, rest = anchor.partition(":")
        if scheme == COPY_SCHEME:
            _, code_blocks = self._delegate.document(index.data(MessageRole))
            if rest.isdigit() and int(rest) < len(code_blocks):
                self._copy(code_blocks[int(rest)])
            return
        url = QUrl(anchor)
        if url.scheme().lower() in _LINK_SCHEMES:
            self.linkActivated.emit(url)

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.copyRequested.emit(text)

    def context_menu_for(self, row: int) -> QMenu:
        """The menu of actions on a message (``message_actions.message_menu``)."""
        return message_menu(self, row)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """Offer the message's actions; popup(), never exec() (we run inside qasync)."""
        index = self.indexAt(event.pos())
        if not index.isValid():
            return
        self.setCurrentIndex(index)
        menu = self.context_menu_for(index.row())
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.globalPos())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """The current message's keys (the module's docstring lists them); the rest move."""
        index = self.currentIndex()
        if index.isValid() and act_on_key(self, event, index.row()):
            event.accept()
            return
        super().keyPressEvent(event)

    # The pointer -----------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A press on a message's text opens it for selecting, and the press goes on there
        (a drag selects); a press anywhere else puts the selector away."""
        assert self._overlays is not None
        point = event.position().toPoint()
        index = self.indexAt(point)
        super().mousePressEvent(event)
        is_on_text = (
            event.button() is Qt.MouseButton.LeftButton
            and index.isValid()
            and not self._delegate.anchor_at(index, self.visualRect(index), point)
            and self._overlays.body_rect(index.row()).contains(point)
        )
        if not is_on_text:
            self._overlays.close_selector()
            return
        selector = self._overlays.open_selector(index.row())
        selector.setFocus(Qt.FocusReason.MouseFocusReason)
        selector.press_at(event, self._overlays.in_selector(point))
        self._is_dragging_into_selector = True

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Drag on in the selector; else the toolbar follows the pointer's row."""
        assert self._overlays is not None
        point = event.position().toPoint()
        if self._is_dragging_into_selector:
            self._overlays.selector.press_at(event, self._overlays.in_selector(point))
            return
        super().mouseMoveEvent(event)
        index = self.indexAt(point)
        self._overlays.hover(index.row() if index.isValid() else None)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """The end of a drag that selects, or of an ordinary click."""
        if self._is_dragging_into_selector:
            assert self._overlays is not None
            self._is_dragging_into_selector = False
            self._overlays.selector.press_at(
                event, self._overlays.in_selector(event.position().toPoint())
            )
            # The press began in the view; it ends in the selector, not as a click on a link.
            self.setState(QAbstractItemView.State.NoState)
            return
        super().mouseReleaseEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:
        """The pointer came over the transcript (the toolbar goes to its row) or left it (the
        toolbar goes back to the current row)."""
        if self._overlays is not None:
            if isinstance(event, QEnterEvent):
                index = self.indexAt(event.position().toPoint())
                self._overlays.hover(index.row() if index.isValid() else None)
            elif event.type() == QEvent.Type.Leave:
                self._overlays.hover(None)
        return super().viewportEvent(event)

    def currentChanged(
        self,
        current: QModelIndex | QPersistentModelIndex,
        previous: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """The keyboard moved to another message: the toolbar moves with it."""
        super().currentChanged(current, previous)
        if self._overlays is not None:
            self._overlays.follow_current()

    def focusInEvent(self, event: QFocusEvent) -> None:
        """The toolbar shows on the current row while the keyboard is here."""
        super().focusInEvent(event)
        if self._overlays is not None:
            self._overlays.refresh()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        """Away from the transcript the toolbar follows only the pointer."""
        super().focusOutEvent(event)
        if self._overlays is not None:
            self._overlays.refresh()

    # The transcript's changes ----------------------------------------------------------------

    def rowsAboutToBeRemoved(
        self, parent: QModelIndex | QPersistentModelIndex, first: int, last: int
    ) -> None:
        """Rows leaving: forget their looks and any text still waiting for them; the
        transcript changed, so the selector is put away."""
        if not parent.isValid():
            transcript = self.transcript()
            for row in range(first, last + 1):
                self._pending_text.pop(transcript.message_at(row).id, None)
            self.close_selector()
        super().rowsAboutToBeRemoved(parent, first, last)

    def _on_model_reset(self) -> None:
        self._pending_text.clear()
        self._stream_timer.stop()
        if self._overlays is not None:
            self._overlays.close_selector()
        super()._on_model_reset()

    def _rows_placed(self) -> None:
        if self._overlays is not None:
            self._overlays.refresh()

    def _on_message_replaced(self, message_id: str) -> None:
        # The final version wins over any streamed text still waiting to be shown.
        self._pending_text.pop(message_id, None)
