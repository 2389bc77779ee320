"""Selecting part of a message: a read-only text browser laid over it, showing its document.

Rows are painted, not widgets, so nothing in them can be selected. On a press on a message's
text (or Enter on the current row) the view lays this browser exactly over the message's body,
showing the very document the row was painted from (shared, never rendered again), and the
press goes on as the browser's own: a drag selects. One browser serves every row in turn.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRect, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPalette,
    QTextDocument,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QFrame, QTextBrowser, QWidget

from gptlab_desktop.ui.chat.message_actions import COPY_MARKDOWN_KEYS, is_shortcut_override
from gptlab_desktop.ui.chat.plain_text import plain_text
from gptlab_desktop.ui.naming import name_widget


class MessageSelector(QTextBrowser):
    """The text of one message, selectable by mouse and keyboard; copies plain text.

    Ctrl+C copies the selection as plain text (``plain_text``), Ctrl+Shift+C asks for the
    message's Markdown source, Esc asks to be closed. Links are reported, never followed.
    """

    #: Text was put on the clipboard (the view confirms it).
    copied = Signal(str)
    #: Ctrl+Shift+C: the message's Markdown source is wanted on the clipboard.
    markdownWanted = Signal()
    #: Esc: the user is done selecting.
    closeWanted = Signal()
    #: A link in the message was clicked (its target, as written).
    anchorActivated = Signal(str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        name_widget(self, "messageSelector", "Message text")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportMargins(0, 0, 0, 0)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        # The standard menu would be exec'd (a nested loop inside qasync): the view's own
        # message menu pops up instead.
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self._document: QTextDocument | None = None
        self._empty = QTextDocument(self)
        self.hide()

    def show_document(self, document: QTextDocument, body: QRect, fill: QColor) -> None:
        """Lay the browser over a message's body and show its document there."""
        # Sized first: showing a document lays it out at the browser's width, which must be
        # the width the row laid it out at.
        self.place(body)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Base, fill)
        self.setPalette(palette)
        if document is not self._document:
            # The same wrapping the document was laid out with, or showing it would change it.
            self.setWordWrapMode(document.defaultTextOption().wrapMode())
            self._document = document
            self.setDocument(document)
        self.show()

    def place(self, body: QRect) -> None:
        """Move and size the browser to a body's rectangle (the row moved or grew)."""
        if self.geometry() != body:
            self.setGeometry(body)

    def detach(self) -> None:
        """Hide, and let go of the document shown (it stays the row's)."""
        self.hide()
        if self._document is not None:
            self._document = None
            self.setDocument(self._empty)

    def shown_document(self) -> QTextDocument | None:
        """The document shown, if any."""
        return self._document

    def selected_text(self) -> str:
        """The selection, as copying it gives it."""
        cursor = self.textCursor()
        if not cursor.hasSelection() or self._document is None:
            return ""
        return plain_text(self._document, cursor.selectionStart(), cursor.selectionEnd())

    def copy_selection(self) -> bool:
        """Put the selection on the clipboard as plain text; False when nothing is selected."""
        text = self.selected_text()
        if not text:
            return False
        QApplication.clipboard().setText(text)
        self.copied.emit(text)
        return True

    def press_at(self, event: QMouseEvent, at: QPoint) -> None:
        """Take a press (or a move or release of the same drag) made on the view, at a point
        of this browser's viewport: the gesture that opened the browser goes on in it."""
        forwarded = QMouseEvent(
            event.type(),
            QPointF(at),
            event.globalPosition(),
            event.button(),
            event.buttons(),
            event.modifiers(),
        )
        QApplication.sendEvent(self.viewport(), forwarded)

    # -- Qt's interface ----------------------------------------------------------------------

    def createMimeDataFromSelection(self) -> QMimeData:
        """Drags carry the plain text of the selection too."""
        data = QMimeData()
        data.setText(self.selected_text())
        return data

    def event(self, event: QEvent) -> bool:
        """Esc is the selector's own here, not the window's shortcut (which stops a reply)."""
        if is_shortcut_override(event) and (
            event.key() == Qt.Key.Key_Escape or _is_copy_markdown(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Copy as plain text, ask for the Markdown, or be closed; the rest selects."""
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            event.accept()
            return
        if _is_copy_markdown(event):
            self.markdownWanted.emit()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.closeWanted.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """The wheel scrolls the transcript: the browser is as tall as its text, and Ctrl with
        the wheel would zoom the shared document."""
        parent = self.parentWidget()
        if parent is not None:
            QApplication.sendEvent(parent, event)

    def loadResource(self, type: int, name: QUrl) -> object:
        """Load nothing: message text is untrusted (its images are already in the document)."""
        return None

    def _on_anchor_clicked(self, url: QUrl) -> None:
        self.anchorActivated.emit(url.toString())


def _is_copy_markdown(event: QKeyEvent) -> bool:
    return QKeySequence(event.keyCombination()) == QKeySequence(COPY_MARKDOWN_KEYS)
