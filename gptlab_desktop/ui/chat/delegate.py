"""The delegate that paints a message as a bubble: author, variant, time, Markdown body, state.

Rows are painted from a cached QTextDocument per message (documents.py) and, once a settled
row is painted again as it looks, blitted from a pixmap (row_cache.py). A row never laid out
gets a cheap estimated height; it is made exact when it is painted or refined in idle time.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QTextDocument,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from gptlab_desktop.models import Message, MessageState, Role
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.ui.chat.documents import MessageDocuments, content_key, has_state_mark
from gptlab_desktop.ui.chat.model import (
    ChatTranscriptModel,
    MessageRole,
    VariantRole,
    author_label,
    is_context_summary,
)
from gptlab_desktop.ui.chat.row_cache import RowLayout, RowPixmapCache

if TYPE_CHECKING:
    from gptlab_desktop.ui.chat.placed_view import PlacedRowsView

# Rows taller than this many viewport heights are drawn directly, only the part shown, never
# kept as pixmaps.
_PIXMAP_MAX_VIEWPORTS = 2


def _short_time(moment: datetime, now: datetime | None = None) -> str:
    """Local time; the date too when it is not today."""
    return _short_time_on(moment, (now or datetime.now().astimezone()).date())


# Every painted row reads its time (it is part of a cached row's look); formatting it again
# each time was a third of a repaint's Python time.
@functools.lru_cache(maxsize=4096)
def _short_time_on(moment: datetime, today: date) -> str:
    local = moment.astimezone()
    if local.date() == today:
        return local.strftime("%H:%M")
    if local.year == today.year:
        return local.strftime("%d %b, %H:%M")
    return local.strftime("%d %b %Y, %H:%M")


def variant_text(variant: Variant) -> str:
    """Where a message stands among its variants, as its header shows it: "2 / 3"."""
    return f"{variant.index} / {variant.count}"


class MessageDelegate(QStyledItemDelegate):
    """Paints a message as a bubble: author, variant, time, Markdown body, and its state."""

    # Geometry in pixels: margin around a bubble, padding inside it, gap under the header.
    MARGIN_X = 10
    MARGIN_Y = 5
    PADDING = 10
    HEADER_GAP = 4
    USER_INDENT_RATIO = 0.12
    USER_INDENT_MAX = 96

    def __init__(self, view: PlacedRowsView) -> None:
        super().__init__(view)
        self._view = view
        self._layouts: dict[str, RowLayout] = {}
        self._documents = MessageDocuments()
        self._layout_width = 0
        self.assistant_name = "Assistant"
        # The view's model, read directly: heights are looked up for every row on a reset.
        self.transcript = ChatTranscriptModel(self)
        # A repaint (a scroll, a new row) then blits the rows already painted.
        self._pixmaps = RowPixmapCache()

    # Cache ---------------------------------------------------------------------------

    def forget(self, message_id: str) -> None:
        """Drop one message's cached look (it left the transcript)."""
        self._layouts.pop(message_id, None)
        self._documents.forget(message_id)
        self._pixmaps.forget(message_id)

    def forget_all(self) -> None:
        """Drop every cached look (another transcript, font or theme)."""
        self._layouts.clear()
        self._documents.clear()
        self._pixmaps.clear()

    def pixmap_cache(self) -> RowPixmapCache:
        """The painted rows kept for repaints."""
        return self._pixmaps

    def height_for(self, message: Message, row_width: int) -> int:
        """The row's cached (or estimated) height at a width; a lookup on the usual path."""
        cached = self._layouts.get(message.id)
        if cached is not None and cached.source is message and cached.width == row_width:
            return cached.height
        return self.layout_for(message, row_width).height

    def cached_layout_count(self) -> int:
        """How many messages have a cached look (exact or estimated)."""
        return len(self._layouts)

    def is_exact(self, message: Message, row_width: int) -> bool:
        """Whether the message's cached look is laid out for this text and width."""
        cached = self._layouts.get(message.id)
        return (
            cached is not None
            and cached.is_exact
            and cached.width == row_width
            and cached.content == content_key(message)
        )

    def ensure_exact(self, message: Message, row_width: int) -> tuple[bool, RowLayout]:
        """Lay the message out exactly at this width; True when its height changed."""
        cached = self._layouts.get(message.id)
        if cached is not None and cached.is_exact and cached.width == row_width:
            if cached.source is message:
                return False, cached
            content = content_key(message)
            if cached.content == content:
                cached.source = message
                return False, cached
        content = content_key(message)
        # One document per message, reused: a streamed reply refills it on every flush.
        document = cached.document if cached is not None else None
        if document is None:
            document = self._documents.new_document()
        if (
            cached is not None
            and cached.document is document
            and cached.document_content == content
        ):
            code_blocks = cached.code_blocks  # same text at another width: no re-render
        else:
            code_blocks = self._documents.fill(document, message, self._view.font())
        body_width = self._body_width(row_width, message)
        # setTextWidth lays the whole document out again even at the same width.
        if document.textWidth() != body_width:
            document.setTextWidth(body_width)
        height = self._row_height(document.size().height())
        fresh = RowLayout(
            content, row_width, height, True, document, content, code_blocks, source=message
        )
        self._layouts[message.id] = fresh
        return cached is None or cached.height != height, fresh

    def layout_for(self, message: Message, row_width: int) -> RowLayout:
        """The cached look, or a cheap estimate when the message was never laid out here."""
        content = content_key(message)
        cached = self._layouts.get(message.id)
        if cached is not None and cached.width == row_width and cached.content == content:
            cached.source = message
            return cached
        estimate = RowLayout(
            content,
            row_width,
            self._row_height(self._estimate_body_height(message, row_width)),
            is_exact=False,
            source=message,
        )
        if cached is not None:
            estimate.document = cached.document
            estimate.document_content = cached.document_content
            estimate.code_blocks = cached.code_blocks
        self._layouts[message.id] = estimate
        return estimate

    def _estimate_body_height(self, message: Message, row_width: int) -> float:
        metrics = QFontMetrics(self._view.font())
        per_line = max(
            1, self._body_width(row_width, message) // max(1, metrics.averageCharWidth())
        )
        lines = 0
        for line in message.message.split("\n"):
            lines += 1 + len(line) // per_line
        fences = message.message.count("```") // 2
        extra = 2 if has_state_mark(message) else 0
        return (lines + 2 * fences + extra) * metrics.lineSpacing()

    # Geometry --------------------------------------------------------------------------

    def _header_font(self) -> QFont:
        font = QFont(self._view.font())
        font.setBold(True)
        return font

    def _header_height(self) -> int:
        return QFontMetrics(self._header_font()).height()

    def _row_height(self, body_height: float) -> int:
        chrome = 2 * self.MARGIN_Y + 2 * self.PADDING + self._header_height() + self.HEADER_GAP
        return chrome + int(body_height + 0.999)

    def _indent(self, row_width: int, message: Message) -> int:
        if message.role is not Role.USER:
            return 0
        return min(self.USER_INDENT_MAX, int(row_width * self.USER_INDENT_RATIO))

    def _body_width(self, row_width: int, message: Message) -> int:
        bubble = row_width - 2 * self.MARGIN_X - self._indent(row_width, message)
        return max(40, bubble - 2 * self.PADDING)

    def bubble_rect(self, row_rect: QRect, message: Message) -> QRect:
        """Where a message's bubble is drawn inside its row."""
        indent = self._indent(row_rect.width(), message)
        return row_rect.adjusted(
            self.MARGIN_X + indent, self.MARGIN_Y, -self.MARGIN_X, -self.MARGIN_Y
        )

    def body_origin(self, row_rect: QRect, message: Message) -> QPoint:
        """The top-left corner of the message's document inside its row."""
        bubble = self.bubble_rect(row_rect, message)
        return QPoint(
            bubble.left() + self.PADDING,
            bubble.top() + self.PADDING + self._header_height() + self.HEADER_GAP,
        )

    def header_rect(self, row_rect: QRect, message: Message) -> QRect:
        """Where the header line (author, variant, time) is drawn inside a row."""
        bubble = self.bubble_rect(row_rect, message)
        return QRect(
            bubble.left() + self.PADDING,
            bubble.top() + self.PADDING,
            bubble.width() - 2 * self.PADDING,
            self._header_height(),
        )

    def header_text(self, message: Message, variant: Variant | None = None) -> str:
        """The header line: who wrote it, which variant, when, and whether it is arriving."""
        label = author_label(message, self.assistant_name)
        streaming = " …" if message.state is MessageState.STREAMING else ""
        where = f" · {variant_text(variant)}" if variant is not None else ""
        return f"{label}{streaming}{where} · {_short_time(message.created_date)}"

    @staticmethod
    def fill_colour(message: Message, palette: QPalette) -> QColor:
        """The colour a message's bubble is filled with (what lies behind its text)."""
        return _bubble_colours(message, palette)[0]

    # Qt's delegate interface -----------------------------------------------------------

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        """The cached (or estimated) height of the row at the viewport's width."""
        width = self._layout_width
        return QSize(width, self.height_for(self.transcript.message_at(index.row()), width))

    def set_layout_width(self, width: int) -> None:
        """The row width sizes are answered for (the view sets it before placing rows)."""
        self._layout_width = width

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """Draw a message's row: from its cached pixmap when it looks as it did last time."""
        message = index.data(MessageRole)
        if message is None:
            return
        row_rect = QRect(option.rect)
        row_rect.setWidth(self._view.row_width())
        changed, layout = self.ensure_exact(message, row_rect.width())
        if changed and layout.height != option.rect.height():
            # The row was placed with an estimate: place the rows from it on again, after
            # this paint.
            self._view.note_row_resized(message.id)
        palette: QPalette = option.palette
        is_selected = bool(option.state & QStyle.StateFlag.State_Selected)
        variant = index.data(VariantRole)
        viewport = self._view.viewport()
        if (
            message.state is MessageState.STREAMING
            or row_rect.height() > _PIXMAP_MAX_VIEWPORTS * max(1, viewport.height())
        ):
            # A reply still arriving changes before a pixmap of it could be reused, and one
            # far taller than the screen is worth drawing only where it is in view.
            shown = QRect(option.rect).intersected(viewport.rect())
            self._draw_row(painter, row_rect, shown, message, layout, palette, is_selected, variant)
            return
        # The device actually painted on (the backing store, or an image a widget is
        # rendered into), whose pixel ratio the pixmap must match to stay sharp.
        engine = painter.paintEngine()
        device = engine.paintDevice() if engine is not None else painter.device()
        ratio = device.devicePixelRatio() if device is not None else 1.0
        background = _row_background(viewport)
        # Everything the drawing reads besides the layout (hover and focus are not drawn).
        look = (
            row_rect.width(),
            row_rect.height(),
            is_selected,
            ratio,
            palette.cacheKey(),
            background.rgba(),
            self.assistant_name,
            _short_time(message.created_date),
            variant,
        )
        pixmap = self._pixmaps.find(message.id, layout, look)
        if pixmap is None and not self._pixmaps.is_worth_keeping(message.id, layout, look):
            shown = QRect(option.rect).intersected(viewport.rect())
            self._draw_row(painter, row_rect, shown, message, layout, palette, is_selected, variant)
            return
        if pixmap is None:
            pixmap = QPixmap(
                math.ceil(row_rect.width() * ratio), math.ceil(row_rect.height() * ratio)
            )
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(background)
            local = QRect(0, 0, row_rect.width(), row_rect.height())
            row_painter = QPainter(pixmap)
            self._draw_row(
                row_painter, local, local, message, layout, palette, is_selected, variant
            )
            row_painter.end()
            self._pixmaps.put(message.id, layout, look, pixmap)
        painter.drawPixmap(row_rect.topLeft(), pixmap)

    def _draw_row(
        self,
        painter: QPainter,
        row_rect: QRect,
        shown: QRect,
        message: Message,
        layout: RowLayout,
        palette: QPalette,
        is_selected: bool,
        variant: Variant | None,
    ) -> None:
        """Draw the bubble, header and the ``shown`` part of the document of one message."""
        painter.save()
        painter.setClipRect(row_rect)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bubble = self.bubble_rect(row_rect, message)
        fill, border = _bubble_colours(message, palette)
        pen = QPen(border, 1)
        if is_context_summary(message):
            pen.setStyle(Qt.PenStyle.DashLine)
        if is_selected:
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 2)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(bubble).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)

        header = self.header_rect(row_rect, message)
        label = author_label(message, self.assistant_name)
        if message.state is MessageState.STREAMING:
            label += " …"
        painter.setFont(self._header_font())
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
        painter.setFont(self._view.font())
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        if variant is not None:
            # Beside the author: the toolbar shown over a hovered row covers the right end.
            gap = QFontMetrics(self._view.font()).horizontalAdvance("  ")
            after = QFontMetrics(self._header_font()).horizontalAdvance(label) + gap
            painter.drawText(
                header.adjusted(after, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                variant_text(variant),
            )
        painter.drawText(
            header,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            _short_time(message.created_date),
        )

        document = layout.document
        if document is not None:
            origin = self.body_origin(row_rect, message)
            painter.translate(origin)
            context = QAbstractTextDocumentLayout.PaintContext()
            context.palette = palette
            # Only the part in view: a long reply is far taller than the viewport, and drawing
            # all of it on every streamed update would cost more than everything else.
            context.clip = QRectF(
                0, shown.top() - origin.y(), document.textWidth(), max(0, shown.height())
            )
            document.documentLayout().draw(painter, context)
        painter.restore()

    def editorEvent(
        self,
        event: QEvent,
        model: object,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        """Clicks on a code block's Copy link copy its code; other links are announced."""
        if not isinstance(event, QMouseEvent):
            return False
        anchor = self.anchor_at(index, QRect(option.rect), event.position().toPoint())
        if event.type() == QEvent.Type.MouseMove:
            if anchor:
                self._view.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
            else:
                self._view.viewport().unsetCursor()
            return False
        if not anchor or event.button() is not Qt.MouseButton.LeftButton:
            return False
        if event.type() == QEvent.Type.MouseButtonRelease:
            self._view.activate_anchor(index, anchor)
        # Presses on a link are taken too, so a click on Copy does not also start a selection.
        return event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease)

    def anchor_at(
        self, index: QModelIndex | QPersistentModelIndex, row_rect: QRect, point: QPoint
    ) -> str:
        """The link target under a viewport point in a row, or an empty string."""
        message = index.data(MessageRole)
        if message is None:
            return ""
        row_rect = QRect(row_rect)
        row_rect.setWidth(self._view.row_width())
        _, layout = self.ensure_exact(message, row_rect.width())
        if layout.document is None:
            return ""
        local = QPointF(point - self.body_origin(row_rect, message))
        return str(layout.document.documentLayout().anchorAt(local))

    def document(self, message: Message) -> tuple[QTextDocument, tuple[str, ...]]:
        """The laid-out document of a message and the raw code of its code blocks."""
        _, layout = self.ensure_exact(message, self._view.row_width())
        assert layout.document is not None
        return layout.document, layout.code_blocks


def _row_background(viewport: QWidget) -> QColor:
    """What a row's pixmap is filled with first: the viewport's own background if it paints
    one (an opaque pixmap keeps sub-pixel text antialiasing), else transparency."""
    colour = viewport.palette().color(viewport.backgroundRole())
    if viewport.autoFillBackground() and colour.alpha() == 255:
        return colour
    return QColor(Qt.GlobalColor.transparent)


def _bubble_colours(message: Message, palette: QPalette) -> tuple[QColor, QColor]:
    base = palette.color(QPalette.ColorRole.Base)
    mid = palette.color(QPalette.ColorRole.Mid)
    if is_context_summary(message) or message.role is Role.SYSTEM:
        return palette.color(QPalette.ColorRole.Window), mid
    if message.role is Role.USER:
        highlight = palette.color(QPalette.ColorRole.Highlight)
        return _mix(base, highlight, 0.16), _mix(base, highlight, 0.4)
    return palette.color(QPalette.ColorRole.AlternateBase), _mix(base, mid, 0.5)


def _mix(first: QColor, second: QColor, amount: float) -> QColor:
    return QColor(
        round(first.red() + (second.red() - first.red()) * amount),
        round(first.green() + (second.green() - first.green()) * amount),
        round(first.blue() + (second.blue() - first.blue()) * amount),
    )
