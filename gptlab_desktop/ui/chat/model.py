"""The transcript's model: the messages of one session, one row each, found by id in O(1).

Rows change one at a time: a streamed reply's growth is a ``dataChanged`` for its row, never
a reset; the view and its delegate read a row's whole ``Message`` through ``MessageRole``.
The model shows one branch of the conversation and keeps, per message, where it stands among
its variants (‹ n / m ›) as the engine's ``Conversation`` said: read, never recomputed, when a
row is painted. Another branch shown replaces only the rows after the fork.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from gptlab_desktop.models import Message, MessageKind, Role
from gptlab_desktop.services.branches import Conversation, Variant

# Custom item data roles of ChatTranscriptModel.
MessageRole = int(Qt.ItemDataRole.UserRole) + 1  # the whole Message
MessageIdRole = int(Qt.ItemDataRole.UserRole) + 2
AuthorRole = int(Qt.ItemDataRole.UserRole) + 3  # models.Role
StateRole = int(Qt.ItemDataRole.UserRole) + 4  # models.MessageState
VariantRole = int(Qt.ItemDataRole.UserRole) + 5  # branches.Variant, or None for the only one


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
        # Only the messages that have variants: most have none.
        self._variants: dict[str, Variant] = {}

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
        if role == VariantRole:
            return self._variants.get(message.id)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            variant = self._variants.get(message.id)
            where = f", variant {variant.index} of {variant.count}" if variant else ""
            return f"{author_label(message, 'Assistant')}{where}: {message.message}"
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
                VariantRole: QByteArray(b"variant"),
            }
        )
        return names

    # The transcript's own interface ----------------------------------------------------

    def set_messages(
        self, messages: Sequence[Message], variants: Mapping[str, Variant] | None = None
    ) -> None:
        """Show another transcript (a session opened): the whole model is reset."""
        self.beginResetModel()
        self._messages = list(messages)
        self._variants = _with_variants(variants or {})
        self._reindex()
        self.endResetModel()

    def show_branch(self, messages: Sequence[Message], variants: Mapping[str, Variant]) -> int:
        """Show another branch of the same conversation: the rows both branches share stay
        (their looks kept), the rows after the fork are replaced; the first row replaced."""
        fork = 0
        shared = min(len(messages), len(self._messages))
        while fork < shared and self._messages[fork].id == messages[fork].id:
            fork += 1
        if fork < len(self._messages):
            self.beginRemoveRows(QModelIndex(), fork, len(self._messages) - 1)
            for gone in self._messages[fork:]:
                del self._row_by_id[gone.id]
            del self._messages[fork:]
            self.endRemoveRows()
        for row in range(fork):
            if self._messages[row] != messages[row]:
                self.replace(messages[row])
        new_variants = _with_variants(variants)
        changed = [
            row
            for row in range(fork)
            if self._variants.get(self._messages[row].id)
            != new_variants.get(self._messages[row].id)
        ]
        self._variants = new_variants
        for row in changed:
            index = self.index(row)
            self.dataChanged.emit(
                index, index, [VariantRole, int(Qt.ItemDataRole.AccessibleTextRole)]
            )
        if fork < len(messages):
            self.beginInsertRows(QModelIndex(), fork, len(messages) - 1)
            for row in range(fork, len(messages)):
                self._messages.append(messages[row])
                self._row_by_id[messages[row].id] = row
            self.endInsertRows()
        return fork

    def variant(self, message_id: str) -> Variant | None:
        """Where a message stands among its variants; None when it has none."""
        return self._variants.get(message_id)

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
        self._variants.pop(message_id, None)
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


def _with_variants(variants: Mapping[str, Variant]) -> dict[str, Variant]:
    return {message_id: v for message_id, v in variants.items() if v.count > 1}


def shown_variants(conversation: Conversation) -> dict[str, Variant]:
    """Where each shown message of a conversation stands among its variants (those that have
    any), as the transcript keeps it."""
    found: dict[str, Variant] = {}
    for message in conversation.shown:
        variant = conversation.variant(message.id)
        if variant.count > 1:
            found[message.id] = variant
    return found


def author_label(message: Message, assistant_name: str) -> str:
    """Who wrote a message, as its header names them."""
    if is_context_summary(message):
        return "Earlier messages were summarised"
    if message.role is Role.USER:
        return "You"
    if message.role is Role.ASSISTANT:
        return assistant_name
    return "System"


def last_with_role(transcript: ChatTranscriptModel, role: Role) -> Message | None:
    """The transcript's last message from ``role``, if any."""
    for message in reversed(transcript.messages()):
        if message.role is role:
            return message
    return None
