"""How a row of the sessions panel is drawn: a bold title over its details, or a hit's snippet."""

from __future__ import annotations

import html

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from gptlab_desktop.services.session_library import SNIPPET_CLOSE, SNIPPET_OPEN, SessionEntry
from gptlab_desktop.ui.sessions.model import AnyIndex, PanelRole, RowKind


def row_html(index: QModelIndex | QPersistentModelIndex) -> str:
    """A row as rich text: a bold title over grey details, or an indented snippet."""
    entry = index.data(PanelRole.ENTRY)
    if not isinstance(entry, SessionEntry):
        return ""
    if index.data(PanelRole.ROW_KIND) is RowKind.HIT:
        snippet = html.escape(str(index.data(PanelRole.SNIPPET)))
        # The store marks matched words with « »; show them bold instead.
        snippet = snippet.replace(SNIPPET_OPEN, "<b>").replace(SNIPPET_CLOSE, "</b>")
        return f"<div style='margin-left:14px'>“{snippet}”</div>"
    title, _, details = str(index.data()).partition("\n")
    return f"<b>{html.escape(title)}</b><br><small>{html.escape(details)}</small>"


class SessionRowDelegate(QStyledItemDelegate):
    """Draws a row as rich text (bold title, highlighted matches); editing stays plain."""

    _PADDING = 4

    def _document(self, option: QStyleOptionViewItem, index: AnyIndex) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultFont(option.font)
        document.setDocumentMargin(0)
        document.setHtml(row_html(index))
        document.setTextWidth(max(option.rect.width() - 2 * self._PADDING, 50))
        return document

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """The item's background and focus as the style draws them, then the rich text."""
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        document = self._document(option, index)
        context = QAbstractTextDocumentLayout.PaintContext()
        is_selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if is_selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
        painter.save()
        rect = option.rect
        painter.translate(rect.left() + self._PADDING, rect.top() + self._PADDING)
        document.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """The rich text's height at the view's width."""
        item = QStyleOptionViewItem(option)
        widget = option.widget
        if widget is not None and item.rect.width() <= 0:
            item.rect.setWidth(widget.viewport().width())
        document = self._document(item, index)
        return QSize(int(document.idealWidth()), int(document.size().height()) + 2 * self._PADDING)
