"""Bringing what other machines wrote into the local cache: at start, on a timer, on demand.

``CloudPuller.pull_once`` asks the cloud, kind by kind, for the user's documents written since
the last pull (``FirestoreStore.changed_since``: by ``server_modified_date``, the *server's*
clock, so machines whose clocks disagree miss nothing), decodes them through the one egress
module (decrypting bodies with the user's data key, off the event loop), and applies them to
the cache in one transaction (``SyncedStore.apply_pulled``: last writer wins per document,
counters converge, tombstones delete). The watermarks — the newest server time seen per kind —
are kept with the data, so a restart resumes where the last pull ended, asking for what is
strictly newer (applying a document twice would change nothing anyway).

A document that cannot be decrypted (history written under a data key this machine has not
joined) is counted, not applied, and the pull says so, so the user learns that encrypted
history exists and how to open it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import DecryptionFailed
from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.cloud.documents import CloudDocument, RecordCipher
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.cloud.writes import CollectionKind
from gptlab_desktop.services.store.outbox import DocumentKind
from gptlab_desktop.services.store.sqlite_pull import PulledChanges
from gptlab_desktop.services.store.sqlite_rows import to_datetime, to_text

log = logging.getLogger(__name__)

# Pulled in this order; the cache applies parents before children whatever the order.
_KINDS = (
    CollectionKind.USERS,
    CollectionKind.BOTS,
    CollectionKind.PROMPTS,
    CollectionKind.MODEL_CONFIGS,
    CollectionKind.SESSIONS,
    CollectionKind.MESSAGES,
    CollectionKind.TOMBSTONES,
)
_WATERMARK_SETTING = "sync.pulled_until.{kind}"
# Every how many pulls the cached published assistants of others are checked (the first pull,
# then every ~10 minutes at the usual 30 s interval): one read each.
LISTED_CHECK_EVERY = 20
# The cloud collection a tombstone's path names, as an outbox document kind.
_DELETED_KINDS = {
    documents.BOTS: DocumentKind.BOT,
    documents.PROMPTS: DocumentKind.PROMPT,
    documents.MODEL_CONFIGS: DocumentKind.MODEL_CONFIG,
    documents.SESSIONS: DocumentKind.SESSION,
    documents.MESSAGES: DocumentKind.MESSAGE,
}
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_ONE_TICK = timedelta(microseconds=1)  # Firestore's timestamps are to the microsecond


class CloudReader(Protocol):
    """What the puller needs of the cloud store (``FirestoreStore``)."""

    async def changed_since(self, kind: CollectionKind, since: datetime) -> list[CloudDocument]:
        """The user's documents of ``kind`` written at or after ``since`` (server time)."""

    async def still_listed(self, bot_ids: Sequence[str]) -> set[str]:
        """Which of these other users' assistants the lobby still lists (readable, published
        or showcased)."""


@dataclass(frozen=True, slots=True)
class PullReport:
    """What one pull brought, and how much it could not read."""

    changes: PulledChanges
    documents: int = 0
    unreadable: int = 0


def _decode(kind: CollectionKind, document: CloudDocument, cipher: RecordCipher) -> object:
    if kind is CollectionKind.USERS:
        return documents.user_from_document(document)
    if kind is CollectionKind.BOTS:
        return documents.bot_from_document(document)
    if kind is CollectionKind.PROMPTS:
        return documents.prompt_from_document(document)
    if kind is CollectionKind.MODEL_CONFIGS:
        return documents.model_config_from_document(document)
    if kind is CollectionKind.SESSIONS:
        return documents.session_from_document(document, cipher)
    return documents.message_from_document(document, cipher)


def _decode_all(
    pulled: Sequence[tuple[CollectionKind, CloudDocument]], cipher: RecordCipher
) -> tuple[list[object], list[tuple[DocumentKind, str]], int]:
    """Records and deletions from pulled documents, and how many could not be read (on a
    worker thread: decrypting a whole history is not for the event loop)."""
    records: list[object] = []
    deletions: list[tuple[DocumentKind, str]] = []
    unreadable = 0
    for kind, document in pulled:
        try:
            if kind is CollectionKind.TOMBSTONES:
                tombstone = documents.tombstone_from_document(document)
                deleted_kind = _DELETED_KINDS.get(tombstone.collection)
                if deleted_kind is not None:
                    deletions.append((deleted_kind, tombstone.path.rsplit("/", 1)[-1]))
            else:
                records.append(_decode(kind, document, cipher))
        except DecryptionFailed:
            unreadable += 1
        except ValueError:
            log.warning("A pulled %s document could not be read; skipped", kind.value)
            unreadable += 1
    return records, deletions, unreadable


class CloudPuller:
    """Pulls the user's changes made elsewhere into the cache (see the module docstring)."""

    def __init__(
        self,
        store: SyncedStore,
        reader: CloudReader,
        cipher: Callable[[], Awaitable[RecordCipher]],
        *,
        listed_check_every: int = LISTED_CHECK_EVERY,
    ) -> None:
        self._store = store
        self._reader = reader
        self._cipher = cipher
        self._listed_check_every = listed_check_every
        self._pulls = 0

    async def pull_once(self) -> PullReport:
        """One pull of every kind; raises the cloud's typed errors (``CloudUnavailable``…)."""
        cipher = await self._cipher()
        pulled: list[tuple[CollectionKind, CloudDocument]] = []
        newest: dict[CollectionKind, datetime] = {}
        for kind in _KINDS:
            # Strictly after the newest seen: a query reads every commit up to its read time,
            # and a later commit has a later server time, so nothing is missed, and the newest
            # batch is not read again at every pull (every read is paid for).
            since = await self._watermark(kind) + _ONE_TICK
            for document in await self._reader.changed_since(kind, since):
                pulled.append((kind, document))
                stamp = document.data.get(documents.SERVER_MODIFIED_FIELD)
                if isinstance(stamp, datetime) and stamp > newest.get(kind, since):
                    newest[kind] = stamp
        records, deletions, unreadable = await run_blocking(_decode_all, pulled, cipher)
        if self._pulls % self._listed_check_every == 0:
            deletions += await self._withdrawn(cipher.user_id)
        self._pulls += 1
        changes = await self._store.apply_pulled(records, deletions)
        # Only once applied: a crash before this pulls the same documents again, harmlessly.
        for kind, stamp in newest.items():
            await self._store.set_setting(
                _WATERMARK_SETTING.format(kind=kind.value), to_text(stamp)
            )
        if unreadable:
            log.warning("%d pulled documents could not be decrypted or read", unreadable)
        return PullReport(changes, len(pulled), unreadable)

    async def _withdrawn(self, user_id: str) -> list[tuple[DocumentKind, str]]:
        """Other users' published assistants cached here that their authors took back.

        Unpublished, an assistant is no longer readable by others (the rules), so no pull can
        bring its change: the cache asks whether each is still listed, now and then, and
        forgets those that are not. Sessions had with one keep their copy of it."""
        cached = [
            assistant.id
            for assistant in await self._store.list_assistants(include_archived=True)
            if assistant.published
            and not assistant.showcased
            and assistant.creator_user_id not in (None, user_id)
        ]
        if not cached:
            return []
        listed = await self._reader.still_listed(cached)
        return [(DocumentKind.BOT, bot_id) for bot_id in cached if bot_id not in listed]

    async def _watermark(self, kind: CollectionKind) -> datetime:
        stored = await self._store.get_setting(_WATERMARK_SETTING.format(kind=kind.value))
        return EPOCH if stored is None else to_datetime(stored)
