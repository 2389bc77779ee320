"""What the delegate keeps per row: each message's layout, and painted rows as pixmaps.

A settled row painted again is blitted from a pixmap (bench/bench_turn.py: repainting the
rows a scroll or a new row uncovered otherwise drew them all again); the cache is bounded
in bytes and an entry is shown only for the very layout and look it was painted from.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtGui import QPixmap, QTextDocument

from gptlab_desktop.models import Message, MessageState

# Painted rows kept as pixmaps: at most this many bytes (a few screens' worth).
PIXMAP_CACHE_BYTES = 24 * 1024 * 1024
# How many rows drawn once (not yet cached) are remembered, to cache them if drawn again.
_DRAWN_ONCE_LIMIT = 4096


@dataclass(slots=True)
class RowLayout:
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
class _PaintedRow:
    """One row as painted: valid while its layout is the same object and its look the same."""

    layout: RowLayout
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
        self._drawn_once: OrderedDict[str, tuple[RowLayout, tuple[object, ...]]] = OrderedDict()

    def is_worth_keeping(
        self, message_id: str, layout: RowLayout, look: tuple[object, ...]
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

    def find(self, message_id: str, layout: RowLayout, look: tuple[object, ...]) -> QPixmap | None:
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
        self, message_id: str, layout: RowLayout, look: tuple[object, ...], pixmap: QPixmap
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
