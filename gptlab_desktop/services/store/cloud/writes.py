"""The writes a remote store sends in one batch, as plain values (no google library here).

A ``CloudWrite`` is one operation on one document built by ``documents`` (set, merge, update,
create or delete), optionally with counter increments on that document and an outbox marker.
``FirestoreStore.commit`` sends a sequence of them as one atomic batch; the outbox replayer
builds them from its rows when it sends them.

Rules the values enforce, because Firestore would otherwise do something surprising:

* a field is either written as a value or incremented, never both in one write;
* increments (zero included: it makes a counter exist) are on counters only
  (``documents.COUNTER_FIELDS``): everything else is a value
  the last writer decides, and counters are never written as values over a document that
  another machine may have counted on (use ``documents.without_counters``);
* a delete carries no data; it leaves a tombstone unless told not to (the messages of a
  deleted session need none: the session's tombstone stands for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.cloud.documents import CloudDocument, collection_of


class WriteKind(StrEnum):
    """What a write does to its document."""

    SET = "set"  # replace the whole document (create it if absent)
    MERGE = "merge"  # write the given fields, keep the others (create it if absent)
    UPDATE = "update"  # write the given fields of an existing document (NotFound otherwise)
    CREATE = "create"  # write a new document (fails if it exists)
    DELETE = "delete"  # remove the document (nothing if absent)


class CollectionKind(StrEnum):
    """What ``FirestoreStore.changed_since`` can pull (the collection names of the layout)."""

    USERS = documents.USERS
    BOTS = documents.BOTS
    PROMPTS = documents.PROMPTS
    MODEL_CONFIGS = documents.MODEL_CONFIGS
    SESSIONS = documents.SESSIONS
    MESSAGES = documents.MESSAGES
    TOMBSTONES = documents.TOMBSTONES


# Deleting one of these leaves a tombstone by default (what other machines must learn of).
TOMBSTONED_COLLECTIONS = frozenset(
    {
        documents.BOTS,
        documents.PROMPTS,
        documents.MODEL_CONFIGS,
        documents.SESSIONS,
        documents.MESSAGES,
    }
)


@dataclass(frozen=True, slots=True)
class CloudWrite:
    """One operation on one document, with counter ``increments`` ``{field: delta}`` and an
    optional ``marker_id`` (an outbox entry's id: ``commit`` creates its marker document in the
    same batch, so the batch cannot land twice). Build one with the class methods."""

    kind: WriteKind
    document: CloudDocument
    increments: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    marker_id: str | None = None
    leaves_tombstone: bool = False

    def __post_init__(self) -> None:
        collection = collection_of(self.document.path)
        object.__setattr__(self, "increments", MappingProxyType(dict(self.increments)))
        if self.kind is WriteKind.DELETE:
            if self.document.data or self.increments:
                raise ValueError("A delete carries no fields and no increments.")
        elif self.leaves_tombstone:
            raise ValueError("Only a delete leaves a tombstone.")
        counters = documents.COUNTER_FIELDS.get(collection, ())
        for name, delta in self.increments.items():
            if name not in counters:
                raise ValueError(f"{name!r} is not a counter of {collection}.")
            # Zero is allowed: it makes a counter exist (at 0) on a new document without
            # writing a value another machine's count could be lost under.
            if isinstance(delta, bool) or not isinstance(delta, int):
                raise ValueError("An increment is a whole number.")
            if name in self.document.data:
                raise ValueError(f"{name!r} is both written and incremented.")
        if self.kind is WriteKind.CREATE and self.increments:
            raise ValueError("A new document starts with its counters as values.")
        if self.marker_id is not None and not self.marker_id:
            raise ValueError("A marker id is not empty.")

    @property
    def path(self) -> str:
        """The document's path."""
        return self.document.path

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def set(
        cls,
        document: CloudDocument,
        *,
        increments: Mapping[str, int] | None = None,
        marker_id: str | None = None,
    ) -> CloudWrite:
        """Replace the whole document with ``document.data`` (then apply ``increments``)."""
        return cls(WriteKind.SET, document, increments or {}, marker_id)

    @classmethod
    def merge(
        cls,
        document: CloudDocument,
        *,
        increments: Mapping[str, int] | None = None,
        marker_id: str | None = None,
    ) -> CloudWrite:
        """Write ``document.data``'s fields, keeping the others; creates it if absent."""
        return cls(WriteKind.MERGE, document, increments or {}, marker_id)

    @classmethod
    def update(
        cls,
        document: CloudDocument,
        *,
        increments: Mapping[str, int] | None = None,
        marker_id: str | None = None,
    ) -> CloudWrite:
        """Write ``document.data``'s fields of an existing document (NotFound if absent)."""
        return cls(WriteKind.UPDATE, document, increments or {}, marker_id)

    @classmethod
    def create(cls, document: CloudDocument, *, marker_id: str | None = None) -> CloudWrite:
        """Write a new document; the batch fails if it already exists."""
        return cls(WriteKind.CREATE, document, {}, marker_id)

    @classmethod
    def increment(
        cls, path: str, increments: Mapping[str, int], *, marker_id: str | None = None
    ) -> CloudWrite:
        """Only count: ``increments`` on the existing document at ``path``."""
        if not increments:
            raise ValueError("An increment write needs at least one counter.")
        return cls(WriteKind.UPDATE, CloudDocument(path), increments, marker_id)

    @classmethod
    def delete(
        cls, path: str, *, marker_id: str | None = None, tombstone: bool | None = None
    ) -> CloudWrite:
        """Remove the document at ``path``; it leaves a tombstone (``tombstone=None``: where
        its collection is one other machines must hear of, ``TOMBSTONED_COLLECTIONS``)."""
        leaves = collection_of(path) in TOMBSTONED_COLLECTIONS if tombstone is None else tombstone
        return cls(WriteKind.DELETE, CloudDocument(path), {}, marker_id, leaves)
