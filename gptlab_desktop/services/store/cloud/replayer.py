"""Sending the outbox to the cloud: in order, in batches, exactly once, never blocking anyone.

``OutboxReplayer`` takes the ready rows of a ``SyncedStore``'s outbox (oldest first; a session
waits while its reply streams), builds each document from its local row through the one egress
module (``documents``: bodies sealed with the user's data key at this moment, so nothing waits
in the outbox in plaintext), and commits them as one batch. Then:

* **Committed**: the rows are forgotten.
* **Already applied** (a marker of the batch exists: an earlier attempt landed although its
  answer was lost, e.g. the app was killed or the network dropped after the commit): the
  markers say which rows landed; those are forgotten, the rest go again. Counters are
  ``Increment`` transforms, which a replay would apply twice, so every write of a batch carries
  its row's marker, created in the same batch with an ``exists=False`` precondition: a batch
  that landed once can never land again. Chosen over recomputing counters from documents,
  which would cost a read of every session per count and still race two machines.
* **Unreachable, or any failure whose outcome is unknown**: the rows stay as they are (same
  markers) and are tried again after an exponential backoff with full jitter, capped; being
  offline for a week loses nothing, so these never give up.
* **Refused** (permission denied, an invalid document): the batch is split, each write sent
  alone, and the one the server refuses goes to the dead-letter state with the reason, shown
  to the user, instead of being retried forever. A failure of our own (a bug) also ends there
  after a few attempts, rather than looping.

The replayer is woken by the store when the outbox grows (``SyncedStore.on_change``), waits a
moment so a turn's writes leave together, and reports its state (``SyncStatus``) to whoever
shows it. Every call to the cloud is bounded by the writer's own deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from gptlab_desktop.models import (
    Assistant,
    Message,
    ModelConfigVersion,
    Prompt,
    Session,
    User,
    utcnow,
)
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.crypto import WrappedKey
from gptlab_desktop.services.errors import AlreadyApplied, CloudRefused, CloudUnavailable
from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.cloud.documents import CloudDocument, RecordCipher
from gptlab_desktop.services.store.cloud.member_writes import MemberWrites, ShapedWrite, in_steps
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.cloud.writes import CloudWrite
from gptlab_desktop.services.store.outbox import (
    DocumentKind,
    Operation,
    OutboxEntry,
    UserHashRow,
)
from gptlab_desktop.services.store.sqlite_rows import to_text
from gptlab_desktop.services.sync_status import SyncState, SyncStatus

log = logging.getLogger(__name__)

# Rows a commit: Firestore takes at most 500 writes (a row brings at most three: its write, its
# marker, a tombstone or its session's stamp), but the client turns a batch into protobufs on
# the event loop, so the batch is kept small enough that this never stalls the window
# (bench_sync: 1,000 writes in 1.8 s, the longest stall 35 ms; at 150 rows, 110 ms).
BATCH_ROWS = 50
# A turn's writes (the question, then the finished reply) leave together when close in time.
GATHER_S = 0.2
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
# How often a failure of our own (not the network's, not the server's verdict) is retried.
OWN_FAILURE_ATTEMPTS = 5


class CloudWriter(Protocol):
    """What the replayer needs of the cloud store (``FirestoreStore``)."""

    async def commit(self, writes: Sequence[CloudWrite]) -> None:
        """Commit ``writes`` as one batch (``AlreadyApplied`` when a marker exists)."""

    async def applied_markers(self, marker_ids: Sequence[str]) -> set[str]:
        """Which of these markers exist: the writes that have landed."""


def backoff_s(attempts: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempts + 1``: exponential, capped, full jitter."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(attempts, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)


def document_for(
    entry: OutboxEntry, cipher: RecordCipher, wrapped_key: WrappedKey | None
) -> CloudDocument:
    """The cloud document an upsert sends, built now from the entry's local row, its counters
    left out (they travel as increments)."""
    record = entry.record
    if isinstance(record, User):
        document = documents.user_document(record, wrapped_key)
    elif isinstance(record, UserHashRow):
        document = documents.user_hash_document(record.user_hash, record.created_date)
    elif isinstance(record, Assistant):
        document = documents.bot_document(record)
    elif isinstance(record, Prompt):
        document = documents.prompt_document(record)
    elif isinstance(record, ModelConfigVersion):
        document = documents.model_config_document(record)
    elif isinstance(record, Session):
        document = documents.session_document(record, cipher)
    elif isinstance(record, Message):
        document = documents.message_document(record, cipher)
    else:
        raise ValueError(f"No local row to build the {entry.kind} document from.")
    return documents.without_counters(document)


def path_for(kind: DocumentKind, doc_id: str, parent_id: str | None) -> str:
    """The cloud path of a document named by an outbox row (for a delete)."""
    if kind is DocumentKind.USER:
        return documents.user_path(doc_id)
    if kind is DocumentKind.USER_HASH:
        return documents.user_hash_path(doc_id)
    if kind is DocumentKind.BOT:
        return documents.bot_path(doc_id)
    if kind is DocumentKind.SESSION:
        return documents.session_path(doc_id)
    if parent_id is None:
        raise ValueError(f"A {kind} document lives under a parent the row does not name.")
    if kind is DocumentKind.PROMPT:
        return documents.prompt_path(parent_id, doc_id)
    if kind is DocumentKind.MODEL_CONFIG:
        return documents.model_config_path(parent_id, doc_id)
    return documents.message_path(parent_id, doc_id)


class OutboxReplayer:
    """Sends a synced store's outbox to the cloud, exactly once; reports how it goes."""

    def __init__(
        self,
        store: SyncedStore,
        writer: CloudWriter,
        cipher: Callable[[], Awaitable[RecordCipher]],
        wrapped_key: Callable[[], Awaitable[WrappedKey | None]],
        *,
        batch_rows: int = BATCH_ROWS,
        gather_s: float = GATHER_S,
        clock: Callable[[], datetime] = utcnow,
        member: MemberWrites | None = None,
    ) -> None:
        self._store = store
        # A shared project's member: writes shaped to what its rules allow (member_writes).
        self._member = member
        self._writer = writer
        self._cipher = cipher
        self._wrapped_key = wrapped_key
        self._batch_rows = batch_rows
        self._gather_s = gather_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._status = SyncStatus()
        self._listeners: list[Callable[[SyncStatus], None]] = []
        store.on_change(self.nudge)

    # -- status -----------------------------------------------------------------------------
    @property
    def status(self) -> SyncStatus:
        """The sync's state now."""
        return self._status

    def on_status(self, listener: Callable[[SyncStatus], None]) -> None:
        """Call ``listener`` with every new status."""
        self._listeners.append(listener)

    def _set_status(self, status: SyncStatus) -> None:
        if status != self._status:
            self._status = status
            for listener in self._listeners:
                listener(status)

    async def refresh_status(self, state: SyncState | None = None, reason: str = "") -> None:
        """Recount what waits and publish it (``state`` defaults to the current one)."""
        counts = await self._store.outbox_counts()
        state = state or self._status.state
        if counts.dead and state is not SyncState.OFFLINE:
            state, reason = SyncState.PROBLEM, reason or self._refused_reason(counts.dead)
        self._set_status(SyncStatus(state, counts.pending, counts.dead, reason))

    @staticmethod
    def _refused_reason(count: int) -> str:
        writes = "write was" if count == 1 else f"{count:,} writes were"
        return f"{writes.capitalize()} refused by the cloud; see Storage… for why."

    # -- running ----------------------------------------------------------------------------
    def nudge(self) -> None:
        """Something was written: send soon."""
        self._wake.set()

    async def run(self, *, idle_s: float = 30.0) -> None:
        """Send whatever is ready, then wait for a write or ``idle_s``; until cancelled."""
        while True:
            delay = await self.replay_ready()
            with contextlib.suppress(TimeoutError):  # nothing written meanwhile: look again
                await asyncio.wait_for(self._wake.wait(), timeout=min(idle_s, delay))
            self._wake.clear()
            await asyncio.sleep(self._gather_s)

    async def replay_now(self) -> float:
        """Send everything waiting now, backing-off writes too (the user asked to sync)."""
        await self._store.make_waiting_due()
        return await self.replay_ready()

    async def replay_ready(self) -> float:
        """Send every ready row now; returns how long until rows backing off are due."""
        await self.refresh_status()
        while True:
            entries = await self._store.claim_ready(to_text(self._clock()), self._batch_rows)
            if not entries:
                await self.refresh_status(
                    SyncState.ONLINE if self._status.state is SyncState.SYNCING else None
                )
                return BACKOFF_MAX_S
            self._set_status(replace(self._status, state=SyncState.SYNCING))
            outcome = await self._send(entries)
            if outcome is not None:  # offline: wait, then try again
                return outcome

    async def _send(self, entries: Sequence[OutboxEntry]) -> float | None:
        """Send one claimed batch; None when done with it, or seconds to back off."""
        done = [e.id for e in entries if e.operation is Operation.UPSERT and e.record is None]
        entries = [e for e in entries if e.id not in done]
        await self._store.mark_sent(done)  # gone locally: the row's later delete follows it
        if not entries:
            return None
        try:
            writes = await self._writes(entries)
            if self._member is not None:
                return await self._send_shaped(entries, await self._member.shape(entries, writes))
            await self._writer.commit(writes)
        except AlreadyApplied:
            landed = await self._writer.applied_markers([e.id for e in entries])
            await self._store.mark_sent(sorted(landed))
            return None  # the rest are still 'sending': claimed again at once
        except CloudUnavailable as error:
            return await self._back_off(entries, error.message, SyncState.OFFLINE)
        except CloudRefused as refused:
            if len(entries) == 1:
                await self._store.mark_dead(entries[0].id, refused.message)
                log.warning("A %s write was refused by the cloud", entries[0].kind)
                await self.refresh_status()
                return None
            for entry in entries:  # find the one refused: each alone
                outcome = await self._send([entry])
                if outcome is not None:
                    return outcome
            return None
        except Exception as error:  # our own failure: a few tries, then the user is told
            log.exception("Sending %d outbox rows failed", len(entries))
            if max(e.attempts for e in entries) + 1 >= OWN_FAILURE_ATTEMPTS:
                for entry in entries:
                    await self._store.mark_dead(
                        entry.id, f"This change could not be sent ({error})."
                    )
                await self.refresh_status()
                return None
            return await self._back_off(entries, str(error), SyncState.PROBLEM)
        await self._store.mark_sent([e.id for e in entries])
        return None

    async def _send_shaped(
        self, entries: Sequence[OutboxEntry], shaped: Sequence[ShapedWrite]
    ) -> float | None:
        """Send a member's writes (``_send``'s errors are its own): what is not theirs to
        write is forgotten, a row whose counters moved far goes alone, in steps."""
        skipped = [e.id for e, s in zip(entries, shaped, strict=True) if s.write is None]
        await self._store.mark_sent(skipped)
        kept = [(e, s) for e, s in zip(entries, shaped, strict=True) if s.write is not None]
        if any(s.needs_steps for _, s in kept):
            if len(kept) > 1:
                for entry, _ in kept:
                    outcome = await self._send([entry])
                    if outcome is not None:
                        return outcome
                return None
            entry, one = kept[0]
            assert one.write is not None
            steps = in_steps(one.write, one.step)
            landed = await self._writer.applied_markers(
                [step.marker_id for step in steps if step.marker_id is not None]
            )
            for step in steps:
                if step.marker_id not in landed:
                    await self._writer.commit([step])
        elif kept:
            await self._writer.commit([s.write for _, s in kept if s.write is not None])
        await self._store.mark_sent([e.id for e, _ in kept])
        return None

    async def _back_off(
        self, entries: Sequence[OutboxEntry], reason: str, state: SyncState
    ) -> float:
        delay = backoff_s(max(e.attempts for e in entries))
        due = self._clock() + timedelta(seconds=delay)
        await self._store.mark_retry([e.id for e in entries], reason, to_text(due))
        await self.refresh_status(state, reason)
        return delay

    async def _writes(self, entries: Sequence[OutboxEntry]) -> list[CloudWrite]:
        cipher = await self._cipher()
        wrapped = None
        if any(e.kind is DocumentKind.USER for e in entries):
            wrapped = await self._wrapped_key()
        # Sealing a batch of bodies is CPU work: on a worker thread, never on the event loop.
        return await run_blocking(writes_for, list(entries), cipher, wrapped)


def writes_for(
    entries: Sequence[OutboxEntry], cipher: RecordCipher, wrapped: WrappedKey | None
) -> list[CloudWrite]:
    """The cloud writes of outbox entries: each document built now from its local row."""
    writes = []
    for entry in entries:
        if entry.operation is Operation.DELETE:
            path = path_for(entry.kind, entry.doc_id, entry.parent_id)
            writes.append(CloudWrite.delete(path, marker_id=entry.id))
        else:
            # Merged, not set: a field this machine does not know of (an addition made by a
            # newer version, or by GPT Lab) survives its write.
            writes.append(
                CloudWrite.merge(
                    document_for(entry, cipher, wrapped),
                    increments=entry.increments,
                    marker_id=entry.id,
                )
            )
    return writes
