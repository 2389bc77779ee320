"""The chat pane's transcript: a list model of messages and a delegate that paints them.

A model and one view, never a widget per message: measured at 2,000 messages, widgets took
seconds to show where a model took a fraction of one (DESIGN.md). A streamed reply changes only
its own row (``dataChanged``), and the delegate caches each row's size so that growing the last
message does not re-measure every other one.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from gptlab_desktop.models import Message, MessageState, Role

AnyIndex = QModelIndex | QPersistentModelIndex

_ROLE_LABELS = {Role.SYSTEM: "System", Role.USER: "You", Role.ASSISTANT: "Assistant"}


class ChatRole(IntEnum):
    """Data roles beyond Qt's own."""

    MESSAGE = Qt.ItemDataRole.UserRole + 1
    MESSAGE_ID = Qt.ItemDataRole.UserRole + 2
    AUTHOR = Qt.ItemDataRole.UserRole + 3
    STATE = Qt.ItemDataRole.UserRole + 4


def author_label(message: Message) -> str:
    """Who wrote ``message``, as the transcript shows it."""
    label = _ROLE_LABELS[message.role]
    if message.state is MessageState.INTERRUPTED:
        return f"{label} (interrupted)"
    return label


class ChatModel(QAbstractListModel):
    """The messages of one session, in transcript order."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._messages: list[Message] = []
        self._rows: dict[str, int] = {}

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Number of messages (a list has no children)."""
        return 0 if parent.isValid() else len(self._messages)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The message at ``index`` as text or one of ``ChatRole``."""
        if not index.isValid() or not 0 <= index.row() < len(self._messages):
            return None
        message = self._messages[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return message.message
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{author_label(message)}: {message.message}"
        if role == ChatRole.MESSAGE:
            return message
        if role == ChatRole.MESSAGE_ID:
            return message.id
        if role == ChatRole.AUTHOR:
            return author_label(message)
        if role == ChatRole.STATE:
            return message.state
        return None

    def set_messages(self, messages: Sequence[Message]) -> None:
        """Show another transcript."""
        self.beginResetModel()
        self._messages = list(messages)
        self._rows = {message.id: row for row, message in enumerate(self._messages)}
        self.endResetModel()

    def append_message(self, message: Message) -> None:
        """Add a message at the end."""
        row = len(self._messages)
        self.beginInsertRows(QModelIndex(), row, row)
        self._messages.append(message)
        self._rows[message.id] = row
        self.endInsertRows()

    def replace_message(self, message: Message) -> bool:
        """Replace the message with the same id (a streamed reply grew); False if not shown."""
        row = self._rows.get(message.id)
        if row is None:
            return False
        self._messages[row] = message
        changed = self.index(row)
        self.dataChanged.emit(changed, changed)
        return True

    def clear(self) -> None:
        """Show no transcript."""
        self.set_messages(())

    def messages(self) -> list[Message]:
        """Every message shown, in order."""
        return list(self._messages)


class ChatMessageDelegate(QStyledItemDelegate):
    """Paints a message as its author's label over its wrapped text; caches row sizes.

    A plain-text placeholder: the Markdown view of a streaming reply replaces it later.
    """

    _PADDING = 8
    _GAP = 2

    def __init__(self, model: ChatModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # message id -> (width the size was measured at, the size)
        self._size_cache: dict[str, tuple[int, QSize]] = {}
        model.dataChanged.connect(self._forget_rows)
        model.modelReset.connect(self._size_cache.clear)
        model.rowsRemoved.connect(self._size_cache.clear)

    def _forget_rows(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        for row in range(top_left.row(), bottom_right.row() + 1):
            message_id = top_left.siblingAtRow(row).data(ChatRole.MESSAGE_ID)
            self._size_cache.pop(str(message_id), None)
        # The view only asks again for sizes it was told changed.
        self.sizeHintChanged.emit(top_left)

    def cached_size_count(self) -> int:
        """How many row sizes are cached (for tests and benchmarks)."""
        return len(self._size_cache)

    @staticmethod
    def _label_font(option: QStyleOptionViewItem) -> QFont:
        font = QFont(option.font)
        font.setBold(True)
        return font

    def _text_width(self, option: QStyleOptionViewItem) -> int:
        # Wrap at the view's visible width, not at whatever rect the view passes to sizeHint.
        viewport = getattr(option.widget, "viewport", None)
        width = viewport().width() if callable(viewport) else option.rect.width()
        return max(width - 2 * self._PADDING, 50)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """The author line plus the wrapped text, measured once per width."""
        width = self._text_width(option)
        message_id = str(index.data(ChatRole.MESSAGE_ID))
        cached = self._size_cache.get(message_id)
        if cached is not None and cached[0] == width:
            return cached[1]
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        text_rect = QFontMetrics(option.font).boundingRect(
            QRect(0, 0, width, 0), int(Qt.TextFlag.TextWordWrap), text
        )
        height = (
            QFontMetrics(self._label_font(option)).height()
            + self._GAP
            + text_rect.height()
            + 2 * self._PADDING
        )
        size = QSize(width + 2 * self._PADDING, height)
        self._size_cache[message_id] = (width, size)
        return size

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """Paint the author label and the text."""
        painter.save()
        style = option.widget.style() if option.widget is not None else None
        if style is not None:
            background = QStyleOptionViewItem(option)
            background.text = ""
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, background, painter, option.widget
            )
        is_selected = bool(option.state & QStyle.StateFlag.State_Selected)
        color = option.palette.color(
            QPalette.ColorRole.HighlightedText if is_selected else QPalette.ColorRole.Text
        )
        inner = option.rect.adjusted(self._PADDING, self._PADDING, -self._PADDING, -self._PADDING)
        label_font = self._label_font(option)
        label_height = QFontMetrics(label_font).height()
        painter.setPen(color)
        painter.setFont(label_font)
        painter.drawText(
            QRect(inner.left(), inner.top(), inner.width(), label_height),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            str(index.data(ChatRole.AUTHOR) or ""),
        )
        painter.setFont(option.font)
        text_top = inner.top() + label_height + self._GAP
        painter.drawText(
            QRect(inner.left(), text_top, inner.width(), inner.bottom() - text_top + 1),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            | int(Qt.TextFlag.TextWordWrap),
            str(index.data(Qt.ItemDataRole.DisplayRole) or ""),
        )
        painter.restore()
