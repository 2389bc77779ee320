"""The chat's transcript view: Markdown messages, a streamed reply, and per-message actions.

Rows are painted by a delegate from a cached QTextDocument per message (delegate.py); a
streamed reply re-renders only its own row, at most every 100 ms, and only the part of it
that changed (documents.py). Placing and painting rows is MessageRowsView's (rows_view.py).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QTextDocument,
)
from PySide6.QtWidgets import QMenu, QWidget

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.services.chat import can_continue
from gptlab_desktop.ui.chat.model import (
    ChatTranscriptModel,
    MessageRole,
    last_with_role,
)
from gptlab_desktop.ui.chat.rows_view import MessageRowsView
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
    regenerateRequested = Signal(str)  # message id of the last assistant reply
    # Message id of the last reply, interrupted or cut at the length limit.
    continueRequested = Signal(str)
    editRequested = Signal(str)  # message id of the last user message
    linkActivated = Signal(QUrl)  # an http(s) or mailto link in a message was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending_text: dict[str, str] = {}
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")

        self._stream_timer = QTimer(self)
        self._stream_timer.setSingleShot(True)
        self._stream_timer.setInterval(STREAM_RENDER_INTERVAL_MS)
        self._stream_timer.timeout.connect(self.flush_streaming)
        self.setModel(ChatTranscriptModel(self))

    def _model_connections(self, model: ChatTranscriptModel) -> list[tuple[object, object]]:
        return [
            *super()._model_connections(model),
            (model.messageReplaced, self._on_message_replaced),
        ]

    def set_assistant_name(self, name: str) -> None:
        """The name shown over the assistant's messages."""
        self._delegate.assistant_name = name or "Assistant"
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

    def copy_message(self, row: int) -> None:
        """Put a message's raw Markdown on the clipboard."""
        message = self.transcript().message_at(row)
        text = self.streaming_text(message.id) or message.message
        self._copy(text)

    def _copy_message_with_id(self, message_id: str) -> None:
        row = self.transcript().row_of(message_id)
        if row is not None:
            self.copy_message(row)

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
        """The actions offered on a message (Copy; Regenerate, Continue, Edit where they fit)."""
        transcript = self.transcript()
        message = transcript.message_at(row)
        menu = QMenu(self)
        menu.setObjectName("chatMessageMenu")
        copy = QAction("Copy message", menu)
        copy.triggered.connect(lambda: self._copy_message_with_id(message.id))
        menu.addAction(copy)
        last_assistant = last_with_role(transcript, Role.ASSISTANT)
        last_user = last_with_role(transcript, Role.USER)
        is_settled = message.state is not MessageState.STREAMING
        if is_settled and last_assistant is not None and last_assistant.id == message.id:
            menu.addSeparator()
            regenerate = QAction("Regenerate", menu)
            regenerate.triggered.connect(lambda: self.regenerateRequested.emit(message.id))
            menu.addAction(regenerate)
            if can_continue(message):
                cont = QAction("Continue", menu)
                cont.triggered.connect(lambda: self.continueRequested.emit(message.id))
                menu.addAction(cont)
        if last_user is not None and last_user.id == message.id:
            menu.addSeparator()
            edit = QAction("Edit and resend", menu)
            edit.triggered.connect(lambda: self.editRequested.emit(message.id))
            menu.addAction(edit)
        return menu

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
        """Ctrl+C copies the selected message."""
        if event.matches(QKeySequence.StandardKey.Copy):
            index = self.currentIndex()
            if index.isValid():
                self.copy_message(index.row())
                event.accept()
                return
        super().keyPressEvent(event)

    # The transcript's changes ----------------------------------------------------------------

    def rowsAboutToBeRemoved(
        self, parent: QModelIndex | QPersistentModelIndex, first: int, last: int
    ) -> None:
        """Rows leaving: forget their looks and any text still waiting for them."""
        if not parent.isValid():
            transcript = self.transcript()
            for row in range(first, last + 1):
                self._pending_text.pop(transcript.message_at(row).id, None)
        super().rowsAboutToBeRemoved(parent, first, last)

    def _on_model_reset(self) -> None:
        self._pending_text.clear()
        self._stream_timer.stop()
        super()._on_model_reset()

    def _on_message_replaced(self, message_id: str) -> None:
        # The final version wins over any streamed text still waiting to be shown.
        self._pending_text.pop(message_id, None)
