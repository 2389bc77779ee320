"""How a row of the sessions panel is drawn: a chat's title over its details (its group's header
above the first of a group, the open chat marked), or a search hit's snippet.

Session rows are drawn line by line with the font's metrics and have one of two heights, so
laying out ten thousand chats asks nothing costly; only hit rows (a few hundred at most) are
rich text, for their highlighted matches.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from gptlab_desktop.services.session_library import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    ChatGroup,
    SessionEntry,
)
from gptlab_desktop.ui.sessions.model import AnyIndex, PanelRole, RowKind

# How strongly the open chat's row is tinted with the highlight colour when not selected.
_OPEN_TINT_ALPHA = 60


def row_html(index: QModelIndex | QPersistentModelIndex) -> str:
    """A hit row as rich text: its snippet, matched words bold, what was written escaped."""
    entry = index.data(PanelRole.ENTRY)
    if not isinstance(entry, SessionEntry) or index.data(PanelRole.ROW_KIND) is not RowKind.HIT:
        return ""
    snippet = html.escape(str(index.data(PanelRole.SNIPPET)))
    # The store marks matched words with « »; show them bold instead.
    snippet = snippet.replace(SNIPPET_OPEN, "<b>").replace(SNIPPET_CLOSE, "</b>")
    return f"<div style='margin-left:14px'>“{snippet}”</div>"


class _Fonts:
    """The fonts of a row, made once per view font."""

    def __init__(self, base: QFont) -> None:
        self.title = QFont(base)
        self.open_title = QFont(base)
        self.open_title.setBold(True)
        self.details = QFont(base)
        self.details.setPointSizeF(max(6.0, base.pointSizeF() * 0.9))
        self.header = QFont(base)
        self.header.setBold(True)
        self.header.setCapitalization(QFont.Capitalization.AllUppercase)
        self.header.setPointSizeF(max(6.0, base.pointSizeF() * 0.85))
        self.title_height = QFontMetrics(self.open_title).height()
        self.details_height = QFontMetrics(self.details).height()
        self.header_height = QFontMetrics(self.header).height()


class SessionRowDelegate(QStyledItemDelegate):
    """Draws a chat's title and details (a group header above the first of a group, the open
    chat tinted, with a bar at its edge), or a hit's snippet as rich text; edits the title in
    place on its own line."""

    _PADDING = 6
    _HEADER_GAP = 6
    _BAR_WIDTH = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts_by_key: dict[str, _Fonts] = {}

    def _fonts(self, option: QStyleOptionViewItem) -> _Fonts:
        key = option.font.key()
        fonts = self._fonts_by_key.get(key)
        if fonts is None:
            fonts = self._fonts_by_key[key] = _Fonts(option.font)
        return fonts

    def _header_height(self, fonts: _Fonts) -> int:
        return fonts.header_height + 2 * self._HEADER_GAP

    def _card_height(self, fonts: _Fonts) -> int:
        return fonts.title_height + fonts.details_height + 2 * self._PADDING

    # -- sizes ------------------------------------------------------------------------------
    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """A chat: two lines (and its group's header); a hit: its snippet at the view's width."""
        width = max(option.rect.width(), 120)
        if index.data(PanelRole.ROW_KIND) is RowKind.HIT:
            item = QStyleOptionViewItem(option)
            widget = option.widget
            if widget is not None and item.rect.width() <= 0:
                item.rect.setWidth(widget.viewport().width())
            document = self._hit_document(item, index)
            return QSize(width, int(document.size().height()) + 2 * self._PADDING)
        fonts = self._fonts(option)
        height = self._card_height(fonts)
        if index.data(PanelRole.STARTS_GROUP):
            height += self._header_height(fonts)
        return QSize(width, height)

    def _card_rect(self, option: QStyleOptionViewItem, index: AnyIndex) -> QRect:
        """The part of a row below its header."""
        rect = QRect(option.rect)
        if index.data(PanelRole.STARTS_GROUP):
            rect.setTop(rect.top() + self._header_height(self._fonts(option)))
        return rect

    # -- painting ---------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """The group header, the background the style draws (selection, hover), the open
        chat's tint, then the row's text."""
        fonts = self._fonts(option)
        palette: QPalette = option.palette
        painter.save()
        try:
            if index.data(PanelRole.STARTS_GROUP):
                self._paint_header(painter, option, index, fonts)
            card = QStyleOptionViewItem(option)
            self.initStyleOption(card, index)
            card.rect = self._card_rect(option, index)
            card.text = ""
            widget = option.widget
            style = widget.style() if widget is not None else QApplication.style()
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, card, painter, widget)
            is_selected = bool(option.state & QStyle.StateFlag.State_Selected)
            is_open = bool(index.data(PanelRole.IS_OPEN))
            if is_open:
                self._paint_open_mark(painter, card.rect, palette, is_selected=is_selected)
            if index.data(PanelRole.ROW_KIND) is RowKind.HIT:
                self._paint_hit(painter, option, index, is_selected=is_selected)
            else:
                self._paint_chat(painter, card.rect, index, fonts, palette, is_selected=is_selected)
        finally:
            painter.restore()

    def _paint_header(
        self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex, fonts: _Fonts
    ) -> None:
        group = index.data(PanelRole.GROUP)
        rect = QRect(option.rect)
        rect.setHeight(self._header_height(fonts))
        painter.setFont(fonts.header)
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            rect.adjusted(self._PADDING, 0, -self._PADDING, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            group.label if isinstance(group, ChatGroup) else "",
        )

    def _paint_open_mark(
        self, painter: QPainter, rect: QRect, palette: QPalette, *, is_selected: bool
    ) -> None:
        highlight = palette.color(QPalette.ColorRole.Highlight)
        if not is_selected:
            tint = QColor(highlight)
            tint.setAlpha(_OPEN_TINT_ALPHA)
            painter.fillRect(rect, tint)
        bar = QRect(rect.left(), rect.top(), self._BAR_WIDTH, rect.height())
        painter.fillRect(
            bar, palette.color(QPalette.ColorRole.HighlightedText) if is_selected else highlight
        )

    def _paint_chat(
        self,
        painter: QPainter,
        rect: QRect,
        index: AnyIndex,
        fonts: _Fonts,
        palette: QPalette,
        *,
        is_selected: bool,
    ) -> None:
        inner = rect.adjusted(
            self._PADDING + self._BAR_WIDTH, self._PADDING, -self._PADDING, -self._PADDING
        )
        title_font = fonts.open_title if index.data(PanelRole.IS_OPEN) else fonts.title
        text_role = QPalette.ColorRole.HighlightedText if is_selected else QPalette.ColorRole.Text
        details_role = text_role if is_selected else QPalette.ColorRole.PlaceholderText
        top = inner.top()
        for font, height, text, role in (
            (title_font, fonts.title_height, index.data(PanelRole.TITLE), text_role),
            (fonts.details, fonts.details_height, index.data(PanelRole.DETAILS), details_role),
        ):
            line = QRect(inner.left(), top, inner.width(), height)
            metrics = QFontMetrics(font)
            painter.setFont(font)
            painter.setPen(palette.color(role))
            painter.drawText(
                line,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(str(text or ""), Qt.TextElideMode.ElideRight, line.width()),
            )
            top += height

    def _hit_document(self, option: QStyleOptionViewItem, index: AnyIndex) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultFont(option.font)
        document.setDocumentMargin(0)
        document.setHtml(row_html(index))
        document.setTextWidth(max(option.rect.width() - 2 * self._PADDING, 50))
        return document

    def _paint_hit(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: AnyIndex,
        *,
        is_selected: bool,
    ) -> None:
        document = self._hit_document(option, index)
        context = QAbstractTextDocumentLayout.PaintContext()
        role = QPalette.ColorRole.HighlightedText if is_selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
        painter.translate(option.rect.left() + self._PADDING, option.rect.top() + self._PADDING)
        document.documentLayout().draw(painter, context)

    # -- editing ----------------------------------------------------------------------------
    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: AnyIndex
    ) -> None:
        """The title's editor stands on the title's line, below any group header."""
        fonts = self._fonts(option)
        card = self._card_rect(option, index)
        line_height = max(fonts.title_height + self._PADDING, editor.sizeHint().height())
        # Centred on the title's line.
        centre = card.top() + self._PADDING + fonts.title_height // 2
        editor.setGeometry(
            QRect(
                card.left() + self._BAR_WIDTH,
                max(card.top(), centre - line_height // 2),
                card.width() - self._BAR_WIDTH,
                line_height,
            )
        )
