"""A conversation as a tree: editing an earlier message or regenerating a reply forks it.

Each message names the one it follows (``Message.parent_id``); messages stored before branches
existed name none and follow the message before them, so old sessions read as one linear
branch. A session shows one branch at a time, root to leaf: the one ending at its
``shown_leaf_id``, or, when none is chosen, the newest message's. Siblings (messages sharing a
parent) are the variants a user switches between (‹ n / m ›); switching to one shows the
newest leaf beneath it.

Pure and Qt-free: built from a session's transcript (``Store.list_messages``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gptlab_desktop.models import (
    ROOT_PARENT,
    ContextMessage,
    Message,
    MessageKind,
    MessageState,
    Role,
    Session,
    SessionType,
)
from gptlab_desktop.services.context import condensed, kept_context


@dataclass(frozen=True, slots=True)
class Variant:
    """Where a message stands among its siblings: ``index`` (from 1) of ``count``."""

    index: int
    count: int


class ConversationTree:
    """The messages of one session, as a tree; every query is linear in its size or better."""

    def __init__(self, messages: Sequence[Message]) -> None:
        # In the order stored: creation, then insertion.
        self._messages = list(messages)
        self._by_id = {message.id: message for message in self._messages}
        self._order = {message.id: index for index, message in enumerate(self._messages)}
        self._parent: dict[str, str | None] = {}
        self._children: dict[str | None, list[str]] = {}
        previous: str | None = None
        for message in self._messages:
            parent = self._parent_of(message, previous)
            self._parent[message.id] = parent
            self._children.setdefault(parent, []).append(message.id)
            previous = message.id

    def _parent_of(self, message: Message, previous: str | None) -> str | None:
        if message.parent_id is None:  # stored before branches: the message before it
            return previous
        if message.parent_id == ROOT_PARENT or message.parent_id not in self._by_id:
            return None  # a root (or its parent is gone: it starts a branch of its own)
        return message.parent_id

    def __len__(self) -> int:
        return len(self._messages)

    def get(self, message_id: str) -> Message | None:
        """The message with that id, if it is in the tree."""
        return self._by_id.get(message_id)

    def parent(self, message_id: str) -> Message | None:
        """The message ``message_id`` follows (None for a root)."""
        parent = self._parent.get(message_id)
        return None if parent is None else self._by_id[parent]

    def children(self, message_id: str | None) -> list[Message]:
        """The messages following ``message_id`` (None: the roots), oldest first."""
        return [self._by_id[child] for child in self._children.get(message_id, ())]

    def siblings(self, message_id: str) -> list[Message]:
        """The variants of a message: it and every message sharing its parent, oldest first."""
        return self.children(self._parent.get(message_id))

    def variant(self, message_id: str) -> Variant:
        """Where a message stands among its variants."""
        siblings = self._children.get(self._parent.get(message_id), [message_id])
        return Variant(siblings.index(message_id) + 1, len(siblings))

    def newest_leaf(self, message_id: str | None = None) -> Message | None:
        """The newest message with nothing after it under ``message_id`` (None: in the whole
        tree); the message itself when nothing follows it."""
        if message_id is None:
            candidates = [m.id for m in self._messages if not self._children.get(m.id)]
        else:
            candidates = [m for m in self.subtree(message_id) if not self._children.get(m)]
        if not candidates:
            return None
        return self._by_id[max(candidates, key=self._order.__getitem__)]

    def branch(self, leaf_id: str | None = None) -> list[Message]:
        """The messages from a root to ``leaf_id`` (None, or a leaf no longer there: to the
        newest leaf), in order."""
        leaf = self._by_id.get(leaf_id) if leaf_id is not None else None
        if leaf is None:
            leaf = self.newest_leaf()
        path: list[Message] = []
        current = None if leaf is None else leaf.id
        while current is not None:
            path.append(self._by_id[current])
            current = self._parent[current]
        path.reverse()
        return path

    def subtree(self, message_id: str) -> list[str]:
        """``message_id`` and every message after it, parents before children."""
        found: list[str] = []
        pending = [message_id] if message_id in self._by_id else []
        while pending:
            current = pending.pop()
            found.append(current)
            pending.extend(reversed(self._children.get(current, ())))
        return found

    def all_branches(self) -> list[list[Message]]:
        """Every branch, root to leaf, oldest leaf first (an export of all of them)."""
        leaves = [m.id for m in self._messages if not self._children.get(m.id)]
        return [self.branch(leaf) for leaf in leaves]


@dataclass(frozen=True, slots=True)
class Conversation:
    """A session, its conversation's tree, and the branch it shows (root to leaf)."""

    session: Session
    tree: ConversationTree
    shown: list[Message]

    def variant(self, message_id: str) -> Variant:
        """Where a shown message stands among its variants (‹ index / count ›)."""
        return self.tree.variant(message_id)


def branch_context(
    branch: Sequence[Message], session_type: SessionType
) -> tuple[ContextMessage, ...]:
    """What the model sees next on a branch (GPT Lab's ``messages_str``), as the engine keeps
    it turn by turn: the user's messages and complete replies (never a recap or a reply cut
    short); after a condensing summary, the summary and the four messages before it, then what
    followed; a brainstorming session's last 20."""
    said = [
        (index, message)
        for index, message in enumerate(branch)
        if message.message
        and (
            message.role is Role.USER
            or (
                message.role is Role.ASSISTANT
                and message.state is MessageState.COMPLETE
                and message.kind is not MessageKind.RECAP
            )
        )
    ]
    notes = [i for i, m in enumerate(branch) if m.kind is MessageKind.CONTEXT_SUMMARY]
    entries = [ContextMessage(m.role, m.message, m.created_date) for _, m in said]
    if notes:
        note = branch[notes[-1]]
        before = [
            entry for (index, _), entry in zip(said, entries, strict=True) if index < notes[-1]
        ]
        after = [
            entry for (index, _), entry in zip(said, entries, strict=True) if index > notes[-1]
        ]
        summary = ContextMessage(Role.ASSISTANT, note.message, note.created_date)
        entries = [*condensed(before, summary), *after]
    return kept_context(session_type, entries)
