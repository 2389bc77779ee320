"""The chat transcript: a list model of messages and a fast view that paints them as Markdown.

Measured here (DESIGN.md): a widget per message is far too slow at 2,000 messages, and
re-laying out every row per token costs 160 ms. So rows are painted by a delegate from a
cached QTextDocument per message; a streamed reply re-renders only its own row, at most
every 100 ms, and only the part of it that changed: settled Markdown blocks are appended to
its document once, and just the unsettled tail is replaced; rows not yet shown get an
estimated height that is made exact when they are painted or, a few at a time, when the
event loop is idle.

Per chat turn (bench/bench_turn.py), QListView's own geometry placed every row again on each
new row (a size query per row: O(rows) per turn) and repainted the whole viewport on each
update. So the view keeps row heights and tops itself (a change recomputes tops from the
changed row on), repaints only the rows a change or scroll uncovered, and paints a settled row
painted again into a pixmap that later repaints blit (a bounded cache, see RowPixmapCache). Its
scroll bar repaints only when what it shows changes (QuietScrollBar): Qt's own repainted it on
every change of range, once or twice a turn, which cost more than the new rows themselves.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import html
import itertools
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QAction,
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QRegion,
    QResizeEvent,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSlider,
    QListView,
    QMenu,
    QScrollBar,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionSlider,
    QStyleOptionViewItem,
    QWidget,
)

from gptlab_desktop.models import Message, MessageKind, MessageState, Role
from gptlab_desktop.ui.markdown import (
    COPY_SCHEME,
    StreamingMarkdown,
    render_markdown,
)
from gptlab_desktop.ui.messages import interruption_text

log = logging.getLogger(__name__)

# Custom item data roles of ChatTranscriptModel.
MessageRole = int(Qt.ItemDataRole.UserRole) + 1  # the whole Message
MessageIdRole = int(Qt.ItemDataRole.UserRole) + 2
AuthorRole = int(Qt.ItemDataRole.UserRole) + 3  # models.Role
StateRole = int(Qt.ItemDataRole.UserRole) + 4  # models.MessageState

STREAM_RENDER_INTERVAL_MS = 100
_PIN_TOLERANCE_PX = 2
_REFINE_SLICE_S = 0.008
_REFINE_DELAY_MS = 150
_REFINE_RELAYOUT_INTERVAL_S = 0.25
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Painted rows kept as pixmaps: at most this many bytes (a few screens' worth), and only rows
# up to this many viewport heights tall (taller ones are drawn directly, only the part shown).
PIXMAP_CACHE_BYTES = 24 * 1024 * 1024
_PIXMAP_MAX_VIEWPORTS = 2
# How many rows drawn once (not yet cached) are remembered, to cache them if drawn again.
_DRAWN_ONCE_LIMIT = 4096
_RESIZE_RELAYOUT_DELAY_MS = 100


def is_context_summary(message: Message) -> bool:
    """Whether a message is the notice that earlier turns were summarised to fit the context."""
    return message.role is Role.SYSTEM and message.kind is MessageKind.CONTEXT_SUMMARY


class ChatTranscriptModel(QAbstractListModel):
    """The messages of one session in order; one row per message, found by id in O(1)."""

    # A message was replaced whole (its state changed); the view drops pending stream text.
    messageReplaced = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._messages: list[Message] = []
        self._row_by_id: dict[str, int] = {}

    # Qt's model interface -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._messages)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        """One row per message (a list: no children)."""
        if parent is not None and parent.isValid():
            return 0
        return len(self._messages)

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        """The message, its parts, or its text for display and accessibility."""
        if not index.isValid() or index.parent().isValid():
            return None
        row = index.row()
        if not 0 <= row < len(self._messages):
            return None
        message = self._messages[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return message.message
        if role == MessageRole:
            return message
        if role == MessageIdRole:
            return message.id
        if role == AuthorRole:
            return message.role
        if role == StateRole:
            return message.state
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{_author_label(message, 'Assistant')}: {message.message}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return message.created_date.astimezone().strftime("%A %d %B %Y, %H:%M:%S")
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        """Messages can be selected (to copy) but not edited in place."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def roleNames(self) -> dict[int, QByteArray]:
        """Names of the custom roles, for QML and debugging."""
        names = dict(super().roleNames())
        names.update(
            {
                MessageRole: QByteArray(b"message"),
                MessageIdRole: QByteArray(b"messageId"),
                AuthorRole: QByteArray(b"author"),
                StateRole: QByteArray(b"state"),
            }
        )
        return names

    # The transcript's own interface ----------------------------------------------------

    def set_messages(self, messages: list[Message]) -> None:
        """Show another transcript (a session opened): the whole model is reset."""
        self.beginResetModel()
        self._messages = list(messages)
        self._reindex()
        self.endResetModel()

    def append(self, message: Message) -> None:
        """Add a message at the end."""
        if message.id in self._row_by_id:
            raise ValueError(f"message {message.id} is already in the transcript")
        row = len(self._messages)
        self.beginInsertRows(QModelIndex(), row, row)
        self._messages.append(message)
        self._row_by_id[message.id] = row
        self.endInsertRows()

    def update_text(self, message_id: str, text: str) -> bool:
        """Change one message's text (a streamed reply grew); False if it is not here."""
        row = self._row_by_id.get(message_id)
        if row is None:
            return False
        if self._messages[row].message == text:
            return True
        self._messages[row] = replace(self._messages[row], message=text)
        index = self.index(row)
        self.dataChanged.emit(
            index,
            index,
            [
                int(Qt.ItemDataRole.DisplayRole),
                MessageRole,
                int(Qt.ItemDataRole.AccessibleTextRole),
            ],
        )
        return True

    def replace(self, message: Message) -> bool:
        """Put a new version of a message in its row (streaming became complete or
        interrupted); False if no message has its id."""
        row = self._row_by_id.get(message.id)
        if row is None:
            return False
        self._messages[row] = message
        index = self.index(row)
        self.messageReplaced.emit(message.id)
        self.dataChanged.emit(index, index)
        return True

    def remove(self, message_id: str) -> bool:
        """Take a message out (a regenerated reply); False if it is not here."""
        row = self._row_by_id.get(message_id)
        if row is None:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._messages[row]
        self._reindex()
        self.endRemoveRows()
        return True

    def message_at(self, row: int) -> Message:
        """The message in a row (IndexError outside the transcript)."""
        if row < 0:
            raise IndexError(row)
        return self._messages[row]

    def message(self, message_id: str) -> Message | None:
        """The message with an id, if it is here."""
        row = self._row_by_id.get(message_id)
        return None if row is None else self._messages[row]

    def row_of(self, message_id: str) -> int | None:
        """The row of a message, if it is here."""
        return self._row_by_id.get(message_id)

    def messages(self) -> tuple[Message, ...]:
        """Every message, in order."""
        return tuple(self._messages)

    def _reindex(self) -> None:
        self._row_by_id = {message.id: row for row, message in enumerate(self._messages)}


def _author_label(message: Message, assistant_name: str) -> str:
    if is_context_summary(message):
        return "Earlier messages were summarised"
    if message.role is Role.USER:
        return "You"
    if message.role is Role.ASSISTANT:
        return assistant_name
    return "System"


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


class _OfflineDocument(QTextDocument):
    """A QTextDocument that never loads a resource: message text is untrusted."""

    def loadResource(self, type: int, name: QUrl) -> object:
        """Refuse every image, stylesheet or other resource a document asks for."""
        return None


@dataclass(slots=True)
class _RowLayout:
    """The cached look of one message at one width; exact once a document was laid out."""

    content: tuple[str, MessageState, str]
    width: int
    height: int
    is_exact: bool = False
    document: QTextDocument | None = None
    # What the document holds, which can lag behind ``content`` while only estimated.
    document_content: tuple[str, MessageState, str] | None = None
    code_blocks: tuple[str, ...] = ()
    # The message value laid out: an identity check answers most size queries.
    source: Message | None = None


@dataclass(slots=True)
class _StreamedDocument:
    """A streaming reply's document, grown in place: settled blocks, then the tail."""

    document: QTextDocument
    markdown: StreamingMarkdown
    # Where the tail begins in the document; None while nothing has settled (the document
    # then holds only the tail and is simply refilled).
    tail_start: int | None = None


@dataclass(slots=True)
class _PaintedRow:
    """One row as painted: valid while its layout is the same object and its look the same."""

    layout: _RowLayout
    look: tuple[object, ...]
    pixmap: QPixmap
    cost: int  # bytes


class RowPixmapCache:
    """Painted rows by message id, least recently used dropped first, bounded in bytes.

    A row's layout object is replaced whenever its text, state or width changes, so an
    entry made for another layout (or another look: size, selection, palette, device pixel
    ratio, header) is never shown. A row is kept only once it is painted a second time as it
    looks: rendering into a pixmap and blitting it costs two to four times drawing the row
    directly, which most rows of a chat turn (a new question, a finished reply) never repay.
    """

    def __init__(self, limit_bytes: int = PIXMAP_CACHE_BYTES) -> None:
        self._rows: OrderedDict[str, _PaintedRow] = OrderedDict()
        self._bytes = 0
        self.limit_bytes = limit_bytes
        # Rows drawn directly once, with the layout and look they were drawn with.
        self._drawn_once: OrderedDict[str, tuple[_RowLayout, tuple[object, ...]]] = OrderedDict()

    def is_worth_keeping(
        self, message_id: str, layout: _RowLayout, look: tuple[object, ...]
    ) -> bool:
        """Whether a row not in the cache was drawn before as it looks now (then keep it).

        A False answer is remembered: the next paint with this layout and look says True.
        """
        drawn = self._drawn_once.pop(message_id, None)
        if drawn is not None and drawn[0] is layout and drawn[1] == look:
            return True
        self._drawn_once[message_id] = (layout, look)
        if len(self._drawn_once) > _DRAWN_ONCE_LIMIT:
            self._drawn_once.popitem(last=False)
        return False

    def find(self, message_id: str, layout: _RowLayout, look: tuple[object, ...]) -> QPixmap | None:
        """The row's pixmap if it was painted from this layout with this look."""
        entry = self._rows.get(message_id)
        if entry is None:
            return None
        if entry.layout is not layout or entry.look != look:
            self.forget(message_id)
            return None
        self._rows.move_to_end(message_id)
        return entry.pixmap

    def put(
        self, message_id: str, layout: _RowLayout, look: tuple[object, ...], pixmap: QPixmap
    ) -> bool:
        """Keep a painted row (False, and nothing kept, if it alone exceeds the limit)."""
        self.forget(message_id)
        cost = pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)
        if cost > self.limit_bytes:
            return False
        self._rows[message_id] = _PaintedRow(layout, look, pixmap, cost)
        self._bytes += cost
        while self._bytes > self.limit_bytes:
            _, oldest = self._rows.popitem(last=False)
            self._bytes -= oldest.cost
        return True

    def forget(self, message_id: str) -> None:
        """Drop one row's pixmap."""
        self._drawn_once.pop(message_id, None)
        entry = self._rows.pop(message_id, None)
        if entry is not None:
            self._bytes -= entry.cost

    def clear(self) -> None:
        """Drop every pixmap."""
        self._rows.clear()
        self._drawn_once.clear()
        self._bytes = 0

    def bytes_used(self) -> int:
        """The memory the kept pixmaps take."""
        return self._bytes

    def pixmap_of(self, message_id: str) -> QPixmap | None:
        """The pixmap kept for a message, whatever it was painted from."""
        entry = self._rows.get(message_id)
        return None if entry is None else entry.pixmap

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._rows


class MessageDelegate(QStyledItemDelegate):
    """Paints a message as a bubble: author, time, Markdown body, and its state."""

    # Geometry in pixels: margin around a bubble, padding inside it, gap under the header.
    MARGIN_X = 10
    MARGIN_Y = 5
    PADDING = 10
    HEADER_GAP = 4
    USER_INDENT_RATIO = 0.12
    USER_INDENT_MAX = 96

    def __init__(self, view: ChatStreamView) -> None:
        super().__init__(view)
        self._view = view
        self._layouts: dict[str, _RowLayout] = {}
        self._streams: dict[str, _StreamedDocument] = {}
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
        self._streams.pop(message_id, None)
        self._pixmaps.forget(message_id)

    def forget_all(self) -> None:
        """Drop every cached look (another transcript, font or theme)."""
        self._layouts.clear()
        self._streams.clear()
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
            and cached.content == _content_key(message)
        )

    def ensure_exact(self, message: Message, row_width: int) -> tuple[bool, _RowLayout]:
        """Lay the message out exactly at this width; True when its height changed."""
        cached = self._layouts.get(message.id)
        if cached is not None and cached.is_exact and cached.width == row_width:
            if cached.source is message:
                return False, cached
            content = _content_key(message)
            if cached.content == content:
                cached.source = message
                return False, cached
        content = _content_key(message)
        # One document per message, reused: a streamed reply refills it on every flush.
        document = cached.document if cached is not None else None
        if document is None:
            document = _OfflineDocument()
            document.setDocumentMargin(0)
            document.setUndoRedoEnabled(False)
        if (
            cached is not None
            and cached.document is document
            and cached.document_content == content
        ):
            code_blocks = cached.code_blocks  # same text at another width: no re-render
        else:
            code_blocks = self._fill(document, message)
        body_width = self._body_width(row_width, message)
        # setTextWidth lays the whole document out again even at the same width.
        if document.textWidth() != body_width:
            document.setTextWidth(body_width)
        height = self._row_height(document.size().height())
        fresh = _RowLayout(
            content, row_width, height, True, document, content, code_blocks, source=message
        )
        self._layouts[message.id] = fresh
        return cached is None or cached.height != height, fresh

    def _fill(self, document: QTextDocument, message: Message) -> tuple[str, ...]:
        if message.state is MessageState.STREAMING:
            return self._fill_streaming(document, message)
        # The complete message is rendered whole, exactly, whatever was shown while streaming.
        self._streams.pop(message.id, None)
        rendered = render_markdown(message.message)
        document.setDefaultFont(self._view.font())
        document.setHtml(rendered.html + _state_html(message))
        return rendered.code_blocks

    def _fill_streaming(self, document: QTextDocument, message: Message) -> tuple[str, ...]:
        """Grow a streaming reply's document: append newly settled blocks, replace the tail.

        Re-rendering and re-setting the whole reply on every flush costs time in proportion
        to its length, which over a long reply adds up to far more than the reply is worth.
        """
        stream = self._streams.get(message.id)
        if stream is None or stream.document is not document:
            stream = self._streams[message.id] = _StreamedDocument(document, StreamingMarkdown())
            document.setDefaultFont(self._view.font())
            stream.tail_start = None
        update = stream.markdown.update(message.message)
        if update.restart:
            stream.tail_start = None
        settled_html = "".join(piece.html for piece in update.settled)
        if stream.tail_start is None:
            if not settled_html:
                document.setHtml(update.tail.html)
                return update.code_blocks
            document.setHtml(settled_html)
        else:
            cursor = QTextCursor(document)
            cursor.setPosition(stream.tail_start)
            # Removing the tail merges the last settled block with the tail's last block, whose
            # format it would take.
            block_format, char_format = cursor.blockFormat(), cursor.blockCharFormat()
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            cursor.setBlockFormat(block_format)
            cursor.setBlockCharFormat(char_format)
            _append_html(document, settled_html)
        stream.tail_start = document.characterCount() - 1
        _append_html(document, update.tail.html)
        return update.code_blocks

    def layout_for(self, message: Message, row_width: int) -> _RowLayout:
        """The cached look, or a cheap estimate when the message was never laid out here."""
        content = _content_key(message)
        cached = self._layouts.get(message.id)
        if cached is not None and cached.width == row_width and cached.content == content:
            cached.source = message
            return cached
        estimate = _RowLayout(
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
        extra = 2 if message.state is MessageState.INTERRUPTED else 0
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

    def header_text(self, message: Message) -> str:
        """The header line: who wrote it, when, and whether it is still arriving."""
        label = _author_label(message, self.assistant_name)
        streaming = " …" if message.state is MessageState.STREAMING else ""
        return f"{label}{streaming} · {_short_time(message.created_date)}"

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
        viewport = self._view.viewport()
        if (
            message.state is MessageState.STREAMING
            or row_rect.height() > _PIXMAP_MAX_VIEWPORTS * max(1, viewport.height())
        ):
            # A reply still arriving changes before a pixmap of it could be reused, and one
            # far taller than the screen is worth drawing only where it is in view.
            shown = QRect(option.rect).intersected(viewport.rect())
            self._draw_row(painter, row_rect, shown, message, layout, palette, is_selected)
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
        )
        pixmap = self._pixmaps.find(message.id, layout, look)
        if pixmap is None and not self._pixmaps.is_worth_keeping(message.id, layout, look):
            shown = QRect(option.rect).intersected(viewport.rect())
            self._draw_row(painter, row_rect, shown, message, layout, palette, is_selected)
            return
        if pixmap is None:
            pixmap = QPixmap(
                math.ceil(row_rect.width() * ratio), math.ceil(row_rect.height() * ratio)
            )
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(background)
            local = QRect(0, 0, row_rect.width(), row_rect.height())
            row_painter = QPainter(pixmap)
            self._draw_row(row_painter, local, local, message, layout, palette, is_selected)
            row_painter.end()
            self._pixmaps.put(message.id, layout, look, pixmap)
        painter.drawPixmap(row_rect.topLeft(), pixmap)

    def _draw_row(
        self,
        painter: QPainter,
        row_rect: QRect,
        shown: QRect,
        message: Message,
        layout: _RowLayout,
        palette: QPalette,
        is_selected: bool,
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

        header = QRect(
            bubble.left() + self.PADDING,
            bubble.top() + self.PADDING,
            bubble.width() - 2 * self.PADDING,
            self._header_height(),
        )
        label = _author_label(message, self.assistant_name)
        if message.state is MessageState.STREAMING:
            label += " …"
        painter.setFont(self._header_font())
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
        painter.setFont(self._view.font())
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
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


def _append_html(document: QTextDocument, body: str) -> None:
    """Add HTML blocks at the end of a document, each keeping its own block format.

    An inserted fragment's first block merges into the block at the cursor and loses its
    format (a heading or list item would become part of the paragraph before it). So the
    fragment is given an empty first block to merge away; a fragment starting with a table
    already has one, the block a table always follows.
    """
    if not body:
        return
    source = _OfflineDocument()
    source.setHtml(body)
    frames = source.rootFrame().childFrames()
    starts_with_table = bool(frames) and frames[0].firstPosition() <= 1
    if not starts_with_table:
        QTextCursor(source).insertBlock()
    cursor = QTextCursor(document)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertFragment(QTextDocumentFragment(source))


def _content_key(message: Message) -> tuple[str, MessageState, str]:
    return (message.message, message.state, _state_note(message))


def _state_note(message: Message) -> str:
    if message.state is not MessageState.INTERRUPTED:
        return ""
    return interruption_text(message.meta)


def _state_html(message: Message) -> str:
    """The visible marker of a reply cut short, part of the message's document."""
    if message.state is not MessageState.INTERRUPTED:
        return ""
    note = _state_note(message)
    detail = f" — {html.escape(note)}" if note else ""
    return f'<p style="color: #b3261e;"><b>Interrupted</b>{detail}</p>'


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


class QuietScrollBar(QScrollBar):
    """A scroll bar that repaints when what it shows changes, not on every change of range.

    Qt repaints a scroll bar on each change of its range or value, and Fusion's costs about
    1 ms a paint at a window's height: each new message and each reply's growth paid it. In a
    transcript longer than a few screens, pinned to the bottom, a new row moves the slider by
    less than a pixel, so most of those paints drew the same picture again.
    """

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self._painted_look: tuple[object, ...] | None = None
        self._is_batching = False
        self._groove_key: tuple[object, ...] | None = None
        self._groove_pixmap: QPixmap | None = None

    @contextlib.contextmanager
    def changes_batched(self) -> Iterator[None]:
        """Change range and value together, then repaint once if the result shows.

        Growing the range first moves the value off the end; only the view's scroll back to
        it, a moment later, is what is shown.
        """
        if self._is_batching:
            yield
            return
        self._is_batching = True
        try:
            yield
        finally:
            self._is_batching = False
            self._update_if_changed()

    def look(self) -> tuple[object, ...]:
        """Everything of the range and value that painting shows: the slider's place, the
        state, and whether the value is at either end (some styles grey out an arrow there)."""
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        slider = self.style().subControlRect(
            QStyle.ComplexControl.CC_ScrollBar,
            option,
            QStyle.SubControl.SC_ScrollBarSlider,
            self,
        )
        return (
            slider.getRect(),
            option.state,
            option.minimum == option.maximum,
            option.sliderValue == option.minimum,
            option.sliderValue == option.maximum,
        )

    def sliderChange(self, change: QAbstractSlider.SliderChange) -> None:
        """Repaint only if the change shows (Qt's own version always repaints)."""
        if not self._is_batching:
            self._update_if_changed()

    def _update_if_changed(self) -> None:
        if self._painted_look is None or self.look() != self._painted_look:
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint as Qt does, the groove from a cached pixmap; remember what was painted.

        The groove is most of the cost (Fusion fills the bar's whole height with a gradient)
        and depends on nothing that scrolling changes. Under the mouse, Qt's own painting is
        used: which part is hovered or pressed is known only inside QScrollBar.
        """
        self._painted_look = self.look()
        style = self.style()
        if (
            self.underMouse()
            or self.isSliderDown()
            or style.styleHint(QStyle.StyleHint.SH_ScrollBar_Transient, None, self)
        ):
            super().paintEvent(event)
            return
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._groove(option))
        option.subControls = QStyle.SubControl.SC_All & ~QStyle.SubControl.SC_ScrollBarGroove
        style.drawComplexControl(QStyle.ComplexControl.CC_ScrollBar, option, painter, self)
        painter.end()

    def changeEvent(self, event: QEvent) -> None:
        """Another style draws another groove: drop the cached one."""
        if event.type() == QEvent.Type.StyleChange:
            self._groove_pixmap = None
        super().changeEvent(event)

    def _groove(self, option: QStyleOptionSlider) -> QPixmap:
        ratio = self.devicePixelRatioF()
        key = (option.rect.size().toTuple(), ratio, option.state, option.palette.cacheKey())
        if self._groove_key != key or self._groove_pixmap is None:
            pixmap = QPixmap(
                math.ceil(option.rect.width() * ratio), math.ceil(option.rect.height() * ratio)
            )
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            groove = QStyleOptionSlider(option)
            groove.subControls = QStyle.SubControl.SC_ScrollBarGroove
            painter = QPainter(pixmap)
            self.style().drawComplexControl(
                QStyle.ComplexControl.CC_ScrollBar, groove, painter, self
            )
            painter.end()
            self._groove_key, self._groove_pixmap = key, pixmap
        return self._groove_pixmap


class ChatStreamView(QListView):
    """The transcript pane: Markdown messages, a streamed reply, and per-message actions.

    It owns a ChatTranscriptModel (``transcript()``); the chat pane fills it, streams into
    it with ``set_streaming_text``, and connects the request signals to its engine.
    """

    # Text just put on the clipboard (a message or a code block), so the pane can confirm.
    copyRequested = Signal(str)
    regenerateRequested = Signal(str)  # message id of the last assistant reply
    continueRequested = Signal(str)  # message id of the interrupted last reply
    editRequested = Signal(str)  # message id of the last user message
    linkActivated = Signal(QUrl)  # an http(s) or mailto link in a message was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Set first: the configuration calls below already reach doItemsLayout.
        self._is_pinned = True
        self._transcript: ChatTranscriptModel | None = None
        self._pending_text: dict[str, str] = {}
        self._delegate = MessageDelegate(self)
        # Row geometry, kept here rather than in QListView (which places every row again on
        # any insertion): each row's height, and each row's top, valid for a leading run of
        # rows only; a change recomputes the tops from the changed row on.
        self._heights: list[int] = []
        self._tops: list[int] = []
        self._tops_valid = 0
        self._heights_width = 0
        # Rows found taller or shorter when painted; placed again once the paint is done.
        self._resized_ids: set[str] = set()
        self._vertical_bar = QuietScrollBar(Qt.Orientation.Vertical, self)
        self.setVerticalScrollBar(self._vertical_bar)
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")
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

        self._stream_timer = QTimer(self)
        self._stream_timer.setSingleShot(True)
        self._stream_timer.setInterval(STREAM_RENDER_INTERVAL_MS)
        self._stream_timer.timeout.connect(self.flush_streaming)

        # Rows never shown get exact heights a few milliseconds at a time, bottom first.
        self._refine_timer = QTimer(self)
        self._refine_timer.setInterval(0)
        self._refine_timer.timeout.connect(self._refine_some_rows)
        # Refining starts a little later, so that it never delays the first paint.
        self._refine_delay = QTimer(self)
        self._refine_delay.setSingleShot(True)
        self._refine_delay.setInterval(_REFINE_DELAY_MS)
        self._refine_delay.timeout.connect(self._refine_timer.start)
        self._refine_row = -1
        self._refine_changed: list[int] = []
        self._last_refine_layout = 0.0

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
        self.setModel(ChatTranscriptModel(self))

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
            (model.messageReplaced, self._on_message_replaced),
        ]

    def transcript(self) -> ChatTranscriptModel:
        """The model this view shows."""
        assert self._transcript is not None
        return self._transcript

    def set_assistant_name(self, name: str) -> None:
        """The name shown over the assistant's messages."""
        self._delegate.assistant_name = name or "Assistant"
        self.viewport().update()

    def message_delegate(self) -> MessageDelegate:
        """The delegate that paints messages (its documents are what tests inspect)."""
        return self._delegate

    def row_width(self) -> int:
        """The width every row is laid out for: the viewport's."""
        return max(120, self.viewport().width())

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

    def is_pinned_to_bottom(self) -> bool:
        """Whether new text scrolls the view (False once the user scrolled up to read)."""
        return self._is_pinned

    def scroll_to_end(self) -> None:
        """Scroll to the newest message and follow new text again."""
        self._is_pinned = True
        self.scrollToBottom()

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
        last_assistant = _last_with_role(transcript, Role.ASSISTANT)
        last_user = _last_with_role(transcript, Role.USER)
        is_settled = message.state is not MessageState.STREAMING
        if is_settled and last_assistant is not None and last_assistant.id == message.id:
            menu.addSeparator()
            regenerate = QAction("Regenerate", menu)
            regenerate.triggered.connect(lambda: self.regenerateRequested.emit(message.id))
            menu.addAction(regenerate)
            if message.state is MessageState.INTERRUPTED:
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

    # Row geometry ----------------------------------------------------------------------------

    def _sync_rows(self) -> None:
        """Heights for every row (after a change the view was not told of row by row)."""
        # Qt asks for geometry while the view is being built, before it has a model.
        if self._transcript is not None and len(self._heights) != len(self._transcript):
            self._measure_all_rows()

    def _measure_all_rows(self) -> None:
        width = self.row_width()
        self._delegate.set_layout_width(width)
        height_for = self._delegate.height_for
        messages = self._transcript.messages() if self._transcript is not None else ()
        self._heights = [height_for(message, width) for message in messages]
        self._tops_valid = 0
        self._heights_width = width

    def _row_tops(self) -> list[int]:
        """Every row's top in content coordinates, recomputed from the first stale one on."""
        heights = self._heights
        valid = self._tops_valid
        if valid < len(heights) or len(self._tops) != len(heights):
            tops = self._tops
            del tops[valid:]
            top = tops[-1] + heights[valid - 1] if valid else 0
            tops.extend(itertools.accumulate(heights[valid:-1], initial=top))
            self._tops_valid = len(heights)
        return self._tops

    def content_height(self) -> int:
        """The height of every row together."""
        self._sync_rows()
        if not self._heights:
            return 0
        return self._row_tops()[-1] + self._heights[-1]

    def _row_at(self, y: int) -> int:
        """The row at a content y (clamped to the rows there are; -1 when there are none)."""
        tops = self._row_tops()
        if not tops:
            return -1
        return min(len(tops) - 1, max(0, bisect.bisect_right(tops, y) - 1))

    def _set_height(self, row: int, height: int) -> bool:
        if self._heights[row] == height:
            return False
        self._heights[row] = height
        self._tops_valid = min(self._tops_valid, row + 1)
        return True

    def _scroll_anchor(self) -> tuple[int, int] | None:
        """The top row in view and where it is, to keep it there (None when pinned)."""
        if self._is_pinned or not self._heights:
            return None
        row = self._row_at(self.verticalOffset())
        return row, self._row_tops()[row] - self.verticalOffset()

    def _rows_moved(self, first: int, anchor: tuple[int, int] | None) -> None:
        """Rows from ``first`` on changed height or place: scroll range, anchor, repaint."""
        self.updateGeometries()
        bar = self.verticalScrollBar()
        if anchor is not None and anchor[0] < len(self._heights):
            bar.setValue(self._row_tops()[anchor[0]] - anchor[1])
        elif self._is_pinned:
            bar.setValue(bar.maximum())
        viewport = self.viewport()
        tops = self._row_tops()
        top = tops[first] if first < len(tops) else self.content_height()
        # Only what is at or below the first moved row: what is above it, a scroll blitted.
        top = max(0, top - self.verticalOffset())
        if top < viewport.height():
            viewport.update(QRect(0, top, viewport.width(), viewport.height() - top))

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
            if self._set_height(row, height):
                first = row if first is None else min(first, row)
        if first is not None:
            self._rows_moved(first, anchor)

    # QAbstractItemView's geometry interface, answered from the heights above -------------

    def visualRect(self, index: QModelIndex | QPersistentModelIndex) -> QRect:
        """Where a row is, in viewport coordinates."""
        if not index.isValid() or index.parent().isValid():
            return QRect()
        self._sync_rows()
        row = index.row()
        if not 0 <= row < len(self._heights):
            return QRect()
        top = self._row_tops()[row] - self.verticalOffset()
        return QRect(0, top, self.row_width(), self._heights[row])

    def indexAt(self, point: QPoint) -> QModelIndex:
        """The row under a viewport point."""
        self._sync_rows()
        y = point.y() + self.verticalOffset()
        if not self._heights or y < 0 or y >= self.content_height():
            return QModelIndex()
        if not 0 <= point.x() < self.row_width():
            return QModelIndex()
        return self.transcript().index(self._row_at(y))

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
        count = len(self._heights)
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
            row = self._row_at(self._row_tops()[max(0, row)] - page)
        elif cursorAction == Action.MovePageDown:
            row = self._row_at(self._row_tops()[max(0, row)] + page)
        return self.transcript().index(min(count - 1, max(0, row)))

    def setSelection(self, rect: QRect, command: QItemSelectionModel.SelectionFlag) -> None:
        """Select the rows a viewport rectangle touches."""
        self._sync_rows()
        selection = QItemSelection()
        offset = self.verticalOffset()
        top, bottom = rect.normalized().top() + offset, rect.normalized().bottom() + offset
        if self._heights and bottom >= 0 and top < self.content_height():
            transcript = self.transcript()
            selection.select(
                transcript.index(self._row_at(top)), transcript.index(self._row_at(bottom))
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
        if not self._heights:
            return
        offset = self.verticalOffset()
        # Row by row of the damaged region, not its bounding rectangle: a scroll damages a
        # strip at each end, and the rows between are already on screen.
        rows: set[int] = set()
        for area in event.region():
            rows.update(
                range(self._row_at(area.top() + offset), self._row_at(area.bottom() + offset) + 1)
            )
        tops = self._row_tops()
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
            option.rect = QRect(0, tops[row] - offset, width, self._heights[row])
            state = base.state
            if selection is not None and selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if has_focus and index == current:
                state |= QStyle.StateFlag.State_HasFocus
            option.state = state
            self._delegate.paint(painter, option, index)
        painter.end()

    # Layout and pinning --------------------------------------------------------------------

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
        elif anchor is not None and anchor[0] < len(self._heights):
            bar.setValue(self._row_tops()[anchor[0]] - anchor[1])

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A new width changes every row's height: place them again, refine them again."""
        QAbstractItemView.resizeEvent(self, event)
        self._delegate.set_layout_width(self.row_width())
        if self.row_width() != self._heights_width:
            self._relayout_timer.start()
            self._start_refining()

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
        anchor = self._scroll_anchor() if len(self._heights) + count == len(transcript) else None
        if anchor is not None and anchor[0] >= first:
            anchor = (anchor[0] + count, anchor[1])
        if len(self._heights) + count != len(transcript):
            self._measure_all_rows()
        else:
            height_for = self._delegate.height_for
            self._heights[first:first] = [
                height_for(transcript.message_at(row), width) for row in range(first, last + 1)
            ]
            self._tops_valid = min(self._tops_valid, first)
        self._rows_moved(first, anchor)
        if last - first >= 50:
            self._start_refining()
        QAbstractItemView.rowsInserted(self, parent, first, last)

    def rowsAboutToBeRemoved(
        self, parent: QModelIndex | QPersistentModelIndex, first: int, last: int
    ) -> None:
        """Rows leaving: forget their looks and any text still waiting for them."""
        QAbstractItemView.rowsAboutToBeRemoved(self, parent, first, last)
        if parent.isValid():
            return
        transcript = self.transcript()
        for row in range(first, last + 1):
            message_id = transcript.message_at(row).id
            self._pending_text.pop(message_id, None)
            self._delegate.forget(message_id)

    def _on_rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        anchor = self._scroll_anchor()
        if len(self._heights) - (last - first + 1) == self.transcript().rowCount():
            del self._heights[first : last + 1]
            self._tops_valid = min(self._tops_valid, first)
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

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._is_pinned:
            self.verticalScrollBar().setValue(maximum)

    def _on_model_reset(self) -> None:
        self._pending_text.clear()
        self._stream_timer.stop()
        self._delegate.forget_all()
        self._is_pinned = True
        self._lay_out_last_rows()
        self._measure_all_rows()
        self.updateGeometries()
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        self.viewport().update()
        self._start_refining()

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

    def _on_message_replaced(self, message_id: str) -> None:
        # The final version wins over any streamed text still waiting to be shown.
        self._pending_text.pop(message_id, None)

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

    def _start_refining(self) -> None:
        self._refine_row = self.transcript().rowCount() - 1
        if self._refine_row >= 0 and not self._refine_timer.isActive():
            self._refine_delay.start()

    def _refine_some_rows(self) -> None:
        transcript = self.transcript()
        width = self.row_width()
        deadline = time.perf_counter() + _REFINE_SLICE_S
        self._refine_row = min(self._refine_row, transcript.rowCount() - 1)
        while self._refine_row >= 0 and time.perf_counter() < deadline:
            changed, _ = self._delegate.ensure_exact(transcript.message_at(self._refine_row), width)
            if changed:
                self._refine_changed.append(self._refine_row)
            self._refine_row -= 1
        is_done = self._refine_row < 0
        if is_done:
            self._refine_timer.stop()
        now = time.perf_counter()
        if self._refine_changed and (
            is_done or now - self._last_refine_layout > _REFINE_RELAYOUT_INTERVAL_S
        ):
            rows, self._refine_changed = self._refine_changed, []
            self._last_refine_layout = now
            self._update_heights(row for row in rows if row < len(transcript))

    def is_refining(self) -> bool:
        """Whether rows are still being laid out exactly in idle time."""
        return self._refine_timer.isActive() or self._refine_delay.isActive()


def _last_with_role(transcript: ChatTranscriptModel, role: Role) -> Message | None:
    for message in reversed(transcript.messages()):
        if message.role is role:
            return message
    return None
