"""The outbox's vocabulary: which cloud document a pending write names, and what it changes.

A local store that syncs keeps, beside every change, one outbox row naming the cloud document
the change touches (``OutboxEntry``): its kind and id, whether it is written or deleted, and
the deltas of its counters. The row holds no copy of the data; the replayer builds the document
from the local row when it sends it (``services/store/cloud/documents.py``, the one way out).
Backend-free: the SQLite tables are in ``sqlite_outbox``, the sending in ``cloud/replayer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from gptlab_desktop.models import Assistant, Message, ModelConfigVersion, Prompt, Session, User


class DocumentKind(StrEnum):
    """The kinds of cloud document, one per collection of GPT Lab's layout."""

    USER = "user"
    USER_HASH = "user_hash"
    BOT = "bot"
    PROMPT = "prompt"
    MODEL_CONFIG = "model_config"
    SESSION = "session"
    MESSAGE = "message"


class Operation(StrEnum):
    """What a pending write does to its document."""

    UPSERT = "upsert"
    DELETE = "delete"


class EntryState(StrEnum):
    """Where an outbox row is in its life."""

    PENDING = "pending"  # waiting; further writes to its document merge into it
    SENDING = "sending"  # sent at least once, outcome not known: resent as it is, never merged
    DEAD = "dead"  # refused by the server; kept, with the reason, for the user


# The counters of each kind: applied in the cloud as increments (never as values, so two
# machines counting at once both count), and left out of the fields a write sends. The one
# list: ``cloud/documents.COUNTER_FIELDS`` names the same by collection.
COUNTER_FIELDS: dict[DocumentKind, tuple[str, ...]] = {
    DocumentKind.USER: ("sessions_started", "sessions_ended", "bots_created"),
    DocumentKind.BOT: ("sessions_started", "sessions_ended"),
    DocumentKind.PROMPT: ("sessions_started", "sessions_ended"),
    DocumentKind.SESSION: ("message_count",),
}


@dataclass(frozen=True, slots=True)
class UserHashRow:
    """A local ``user_hash`` record (GPT Lab's collection of key hashes)."""

    user_hash: str
    created_date: datetime


# The local row an entry's document is built from.
LocalRecord = User | UserHashRow | Assistant | Prompt | ModelConfigVersion | Session | Message


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One pending write, with the local row its document is built from.

    ``record`` is None for a delete, and for an upsert whose local row has gone since (a later
    delete of the same document follows it in the outbox).
    """

    seq: int
    id: str  # the marker that makes a replay of this write count nothing twice
    kind: DocumentKind
    doc_id: str
    parent_id: str | None  # the bot of a prompt or model config, the session of a message
    operation: Operation
    increments: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    record: LocalRecord | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A write the server refused, and why (shown to the user; retried only when asked)."""

    id: str
    kind: DocumentKind
    doc_id: str
    reason: str
    created_date: datetime


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """How many writes wait to be sent, and how many were refused."""

    pending: int = 0
    dead: int = 0
