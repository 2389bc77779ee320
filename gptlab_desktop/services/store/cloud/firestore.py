"""The ``Store`` on the user's own Firestore project (``google.cloud.firestore.AsyncClient``).

GPT Lab's layout exactly (DESIGN.md): ``users``, ``user_hash``, ``bots`` with ``model_configs`` and
``prompts``, ``sessions`` with ``messages``; every document is made and read by ``documents``
(the one egress module), so bodies, ``messages_str``, titles and recaps leave only as
ciphertext. The additions (tombstones, outbox markers, settings, ``server_modified_date``) are
listed in ``documents``' docstring.

How it writes:

* every change of several documents is **one batch** (atomic, no transaction: the emulator's
  contended transactions wait ~6 s, and a chat turn must not); counters change only by
  ``Increment``;
* replays are harmless where the ``Store`` contract says so: a session or message already
  stored is created with a "must not exist" precondition, and a batch that meets it is sent
  again without the documents already there, counting nothing twice;
* every write stamps ``server_modified_date`` with the server's clock, and a message's write
  stamps its session's too, so ``changed_since`` finds a session's changed messages below the
  sessions that changed;
* a delete of a session, message or assistant leaves a tombstone in
  ``users/{user}/tombstones`` in the same batch (``changed_since(CollectionKind.TOMBSTONES)``).

``commit`` sends a replayer's ``CloudWrite`` batch; with markers it cannot land twice
(``AlreadyApplied``; ``applied_markers`` tells which did).

Bounded waits: every call has a per-attempt ``timeout`` and an ``AsyncRetry`` with a short
deadline, and an overall bound on top, so an unreachable host fails in seconds with
``CloudUnavailable`` instead of the client's minutes. A commit is retried only on
``ServiceUnavailable`` (nearly always: no connection was made), never on a deadline, whose
commit may have landed: resending it would count its increments twice. A batch with markers
is safe either way (a resent one fails with ``AlreadyApplied``); the store's own methods send
none, so a commit whose answer is lost after it landed can, rarely, count once more.

What Firestore cannot do here: ``search_messages`` (the bodies are encrypted; the synced store
searches its local copy) raises ``CloudSearchUnsupported``. Lists are ordered on the client, so no
composite index is needed; ``changed_since`` on sessions and bots filters on two fields, which in
a real project needs the composite indexes named in ``REQUIRED_INDEXES`` (the emulator needs
none; docs/firestore.md has the commands that create them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from google.api_core import exceptions as google_errors
from google.api_core.retry_async import AsyncRetry
from google.auth import exceptions as auth_errors
from google.cloud import firestore

from gptlab_desktop.models import (
    Assistant,
    AssistantDetails,
    AssistantDraft,
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    Role,
    SearchHit,
    Session,
    SessionStatus,
    User,
    UserLiked,
    new_id,
    utcnow,
)
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.errors import (
    AlreadyApplied,
    CloudError,
    CloudRefused,
    CloudSearchUnsupported,
    CloudUnavailable,
    NotFound,
    ReadOnlyAssistant,
    StoreError,
    StoreUnavailable,
)
from gptlab_desktop.services.store.base import ShowcaseEntry, Store, StoreHealth
from gptlab_desktop.services.store.cloud import documents as docs
from gptlab_desktop.services.store.cloud.documents import CloudDocument, RecordCipher
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.writes import CloudWrite, CollectionKind, WriteKind

log = logging.getLogger(__name__)

T = TypeVar("T")

# Firestore's limit of operations in one commit.
MAX_BATCH_WRITES = 500

# The composite indexes ``changed_since`` needs in a real project (the emulator needs none).
REQUIRED_INDEXES = (
    "sessions: user_id ASC, server_modified_date ASC",
    "bots: creator_user_id ASC, server_modified_date ASC",
    "bots: showcased ASC, server_modified_date ASC",
    "bots: published ASC, server_modified_date ASC",
    # Another user's assistant: only its active versions are the member's to read.
    "prompts: is_active ASC, server_modified_date ASC",
    "model_configs: is_active ASC, server_modified_date ASC",
)

# Queries of one pull in flight at once.
_PARALLEL_QUERIES = 8

# The fields of a bot that an edit writes: everything but its counters.
_BOT_COUNTERS = docs.COUNTER_FIELDS[docs.BOTS]


@dataclass(frozen=True, slots=True)
class _MessageFacts:
    """What a message's updates need to know of it without reading it."""

    session_id: str
    role: Role
    created_date: datetime


# A batch of this many writes or fewer (a chat turn's) is built on the loop: a thread hop
# would cost more than it saves.
_BUILD_HERE_UP_TO = 8


class _DocumentExists(Exception):
    """A ``create`` met an existing document (the batch changed nothing)."""


class FirestoreStore(Store):
    """The ``Store`` on one user's Firestore project; ``cipher`` is that user's data key."""

    def __init__(self, settings: FirestoreSettings, cipher: RecordCipher) -> None:
        self._settings = settings
        self._cipher = cipher
        self._user_id = cipher.user_id
        self._client: firestore.AsyncClient | None = None
        self._problem: str | None = None
        # Which session a message is in, and what its sealed fields are bound to besides
        # (role, creation): the Store names messages by id alone. Remembered from every write
        # and read, so a reply's updates cost no read.
        self._message_sessions: dict[str, _MessageFacts] = {}
        # When each session known this run was created (its sealed fields are bound to it).
        self._session_created: dict[str, datetime] = {}
        retryable = (
            google_errors.ServiceUnavailable,
            google_errors.DeadlineExceeded,
            google_errors.InternalServerError,
            google_errors.Aborted,
        )
        self._read_retry = self._retry(*retryable)
        self._commit_retry = self._retry(google_errors.ServiceUnavailable)

    def _retry(self, *kinds: type[Exception]) -> AsyncRetry:
        def is_retryable(error: Exception) -> bool:
            return isinstance(error, kinds)

        return AsyncRetry(
            predicate=is_retryable,
            initial=0.2,
            maximum=1.0,
            multiplier=2.0,
            timeout=self._settings.retry_deadline_s,
        )

    @property
    def user_id(self) -> str:
        """The user whose data this store reads and writes."""
        return self._user_id

    # -- life -------------------------------------------------------------------------------
    async def open(self) -> StoreHealth:
        """Make the client; never raises, reports. No Firestore call is made yet (reachability
        shows on the first one), but finding Application Default Credentials may probe the
        network, so the client is made off the event loop."""
        if self._client is not None:
            return StoreHealth(is_usable=True, path=self._where)
        try:
            self._client = await run_blocking(self._make_client)
        except auth_errors.DefaultCredentialsError:
            self._problem = (
                "No Google credentials were found for your Firestore project. Choose a "
                "service account file or sign in with Application Default Credentials."
            )
        except (ValueError, google_errors.GoogleAPIError, auth_errors.GoogleAuthError) as error:
            self._problem = f"Your Firestore project could not be opened ({_short(error)})."
        if self._client is None:
            log.warning("Cloud store not usable: %s", self._problem)
            return StoreHealth(False, self._problem, self._where)
        return StoreHealth(is_usable=True, path=self._where)

    def _make_client(self) -> firestore.AsyncClient:
        # The grpc channel is made at the first call, on the event loop's thread.
        endpoint = self._settings.api_endpoint
        return firestore.AsyncClient(
            project=self._settings.project_id,
            database=self._settings.database_id,
            credentials=self._settings.credentials,
            client_options=None if endpoint is None else {"api_endpoint": endpoint},
        )

    @property
    def _where(self) -> str:
        return f"firestore://{self._settings.project_id}/{self._settings.database_id}"

    async def close(self) -> None:
        """Release the client's channel."""
        client, self._client = self._client, None
        transport = getattr(client, "_transport", None)
        if transport is not None:
            try:
                await transport.close()
            except Exception:  # closing must not fail the app's shutdown
                log.debug("Closing the Firestore channel failed", exc_info=True)

    @property
    def _db(self) -> firestore.AsyncClient:
        if self._client is None:
            raise StoreUnavailable(self._problem or "The cloud store is not open.")
        return self._client

    # -- plumbing: bounded calls, reads, one batch --------------------------------------------
    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one network operation within the overall deadline, errors made typed; rejected
        credentials are renewed once (``FirestoreSettings.refresh_credentials``) and the
        operation tried again."""
        refresh = self._settings.refresh_credentials
        if refresh is not None:
            try:
                return await self._call_once(operation)
            except CloudRefused as error:
                if not isinstance(error.__cause__, google_errors.Unauthenticated):
                    raise
            log.info("The cloud rejected the credentials; renewing them once")
            try:
                async with asyncio.timeout(self._settings.overall_deadline_s):
                    await refresh()
            except TimeoutError:
                raise CloudUnavailable() from None
        return await self._call_once(operation)

    async def _call_once(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._settings.overall_deadline_s):
                return await operation()
        except TimeoutError:
            raise CloudUnavailable() from None
        except google_errors.AlreadyExists:
            raise _DocumentExists() from None
        except google_errors.Unauthenticated as error:
            raise cloud_error(error) from error  # the cause tells ``_call`` to renew
        except (google_errors.GoogleAPIError, auth_errors.GoogleAuthError) as error:
            raise cloud_error(error) from None

    async def _get(self, path: str) -> CloudDocument | None:
        """The document at ``path``, if it exists."""
        found = await self._get_all([path])
        return found.get(path)

    async def _get_all(self, paths: Iterable[str]) -> dict[str, CloudDocument]:
        """The documents that exist among ``paths``, by path (one call)."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        db = self._db
        refs = [db.document(path) for path in wanted]

        async def read() -> dict[str, CloudDocument]:
            found: dict[str, CloudDocument] = {}
            async for snapshot in db.get_all(
                refs, retry=self._read_retry, timeout=self._settings.rpc_timeout_s
            ):
                if snapshot.exists:
                    found[snapshot.reference.path] = _document(snapshot)
            return found

        return await self._call(read)

    async def _query(self, query: Any) -> list[CloudDocument]:
        """The documents a query finds (one call)."""

        async def read() -> list[CloudDocument]:
            snapshots = await query.get(
                retry=self._read_retry, timeout=self._settings.rpc_timeout_s
            )
            return [_document(snapshot) for snapshot in snapshots]

        return await self._call(read)

    def _sub(self, parent: str, collection: str) -> Any:
        """The collection ``collection`` below the document at ``parent``."""
        return self._db.collection(f"{parent}/{collection}")

    def _where_equal(self, collection: str, field_name: str, value: object) -> Any:
        return self._db.collection(collection).where(
            filter=firestore.FieldFilter(field_name, "==", value)
        )

    async def _send(self, writes: Sequence[CloudWrite]) -> None:
        """Send ``writes`` as one batch: stamps, tombstones and markers added here."""
        if not writes:
            return
        # Turning documents into protobufs is pure CPU work, ~0.5 ms a write: a large batch
        # is built on a worker thread, so that the window never waits for it.
        if len(writes) > _BUILD_HERE_UP_TO:
            batch = await run_blocking(self._build_batch, list(writes))
        else:
            batch = self._build_batch(writes)

        async def commit() -> None:
            await batch.commit(retry=self._commit_retry, timeout=self._settings.rpc_timeout_s)

        await self._call(commit)

    def _build_batch(self, writes: Sequence[CloudWrite]) -> Any:
        """The batch of ``writes``, with its stamps, tombstones and markers (not sent)."""
        db = self._db
        now = utcnow()
        batch = db.batch()
        count = 0
        deleted = {write.path for write in writes if write.kind is WriteKind.DELETE}
        stamped: set[str] = set()
        for write in writes:
            ref = db.document(write.path)
            if write.kind is WriteKind.DELETE:
                batch.delete(ref)
                count += 1
                if write.leaves_tombstone:
                    tombstone = docs.tombstone_document(self._user_id, write.path, now)
                    batch.set(db.document(tombstone.path), _stamped(tombstone.data))
                    count += 1
            else:
                data = _stamped(write.document.data)
                data.update(
                    {name: firestore.Increment(delta) for name, delta in write.increments.items()}
                )
                if write.kind is WriteKind.SET:
                    batch.set(ref, data)
                elif write.kind is WriteKind.MERGE:
                    batch.set(ref, data, merge=True)
                elif write.kind is WriteKind.UPDATE:
                    batch.update(ref, data)
                else:
                    batch.create(ref, data)
                stamped.add(write.path)
                count += 1
        # One marker per outbox entry, however many writes it brought: a second create of the
        # same marker in one batch would fail the batch as if it had landed before.
        markers = dict.fromkeys(w.marker_id for w in writes if w.marker_id is not None)
        for marker_id in markers:
            marker = docs.applied_write_document(self._user_id, marker_id, now)
            batch.create(db.document(marker.path), marker.data)
            count += 1
        # A changed message stamps its session, so a pull finds it below the changed sessions.
        for write in writes:
            if write.kind is WriteKind.DELETE or docs.collection_of(write.path) != docs.MESSAGES:
                continue
            session = write.path.rsplit("/", 2)[0]
            if session in stamped or session in deleted:
                continue
            batch.update(db.document(session), _stamped({}))
            stamped.add(session)
            count += 1
        if count > MAX_BATCH_WRITES:
            raise ValueError(
                f"One batch holds at most {MAX_BATCH_WRITES} writes; this one has {count}."
            )
        return batch

    # -- the replayer's API -------------------------------------------------------------------
    async def commit(self, writes: Sequence[CloudWrite]) -> None:
        """Send ``writes`` as one atomic batch (all land or none).

        For each ``marker_id`` of the writes (several writes may share one) the batch also
        creates ``users/{user}/applied_writes/{marker_id}``, so sending a batch again fails
        with ``AlreadyApplied`` naming the markers that had landed, and counts nothing twice:
        the replayer drops those entries and sends the rest. ``NotFound`` for an update of a
        missing document; ``CloudRefused`` for a write the server refuses (retrying it cannot
        help); ``CloudUnavailable`` when Firestore cannot be reached in time.
        """
        try:
            await self._send(writes)
        except _DocumentExists:
            markers = dict.fromkeys(w.marker_id for w in writes if w.marker_id is not None)
            # Only on this failure path: which markers made it fail, if any did.
            landed = await self.applied_markers(markers) if markers else set()
            if landed:
                raise AlreadyApplied(tuple(m for m in markers if m in landed)) from None
            raise CloudRefused("a document to create exists already.") from None

    async def applied_markers(self, marker_ids: Iterable[str]) -> set[str]:
        """Which of ``marker_ids`` have landed (their marker documents exist)."""
        by_path = {docs.applied_write_path(self._user_id, mid): mid for mid in marker_ids}
        found = await self._get_all(by_path)
        return {by_path[path] for path in found}

    async def changed_since(self, kind: CollectionKind, since: datetime) -> list[CloudDocument]:
        """The user's documents of one kind written at or after ``since`` (server time: their
        ``server_modified_date``), oldest first, as stored (decode them with ``documents``).

        Users: the user's own document. Sessions: the user's. Messages: those of the sessions
        that changed. Bots: the showcase, the published ones (a shared project's lobby) and the
        user's own; prompts and model configs: those of the bots that changed (of another
        user's bot, only the active ones: the rest are its author's alone). Tombstones: the
        user's (deleted sessions, messages, assistants). A caller resuming from the newest
        ``server_modified_date`` it has seen asks from just after it (``CloudPuller``), so a
        quiet pull reads almost nothing.
        """
        kind = CollectionKind(kind)
        changed = firestore.FieldFilter(docs.SERVER_MODIFIED_FIELD, ">=", since)
        found: list[CloudDocument]
        if kind is CollectionKind.USERS:
            user = await self._get(docs.user_path(self._user_id))
            found = [user] if user is not None and _modified(user) >= since else []
        elif kind is CollectionKind.SESSIONS:
            found = await self._changed_sessions(changed)
        elif kind is CollectionKind.MESSAGES:
            sessions = await self._changed_sessions(changed)
            found = await self._gather_queries(
                self._sub(session.path, docs.MESSAGES).where(filter=changed) for session in sessions
            )
        elif kind is CollectionKind.BOTS:
            found = await self._gather_queries(
                query.where(filter=changed) for query in self._visible_bot_queries()
            )
        elif kind in (CollectionKind.PROMPTS, CollectionKind.MODEL_CONFIGS):
            # A version never changes alone: its bot's pointer or counters change in the same
            # batch, which stamps the bot too. So only the bots changed since are looked in.
            bots = await self._gather_queries(
                query.where(filter=changed) for query in self._visible_bot_queries()
            )
            found = await self._gather_queries(
                self._versions_query(bot, kind.value).where(filter=changed) for bot in bots
            )
        else:
            found = await self._query(
                self._sub(docs.user_path(self._user_id), docs.TOMBSTONES).where(filter=changed)
            )
        unique = {document.path: document for document in found}
        return sorted(unique.values(), key=lambda document: (_modified(document), document.path))

    async def _changed_sessions(self, changed: Any) -> list[CloudDocument]:
        return await self._query(
            self._where_equal(docs.SESSIONS, "user_id", self._user_id).where(filter=changed)
        )

    def _visible_bot_queries(self) -> list[Any]:
        return [
            self._where_equal(docs.BOTS, "showcased", True),
            self._where_equal(docs.BOTS, "published", True),
            self._where_equal(docs.BOTS, "creator_user_id", self._user_id),
        ]

    async def still_listed(self, bot_ids: Sequence[str]) -> set[str]:
        """Which of these assistants are still in the lobby: readable (a shared project's rules
        hide an unpublished one from everyone but its author) and published or showcased.
        One read each: a read the rules refuse fails alone, not the others'."""
        gate = asyncio.Semaphore(_PARALLEL_QUERIES)

        async def listed(bot_id: str) -> bool:
            async with gate:
                try:
                    bot = await self._get(docs.bot_path(bot_id))
                except CloudRefused:
                    return False
            return bot is not None and bool(bot.data.get("published") or bot.data.get("showcased"))

        answers = await asyncio.gather(*(listed(bot_id) for bot_id in bot_ids))
        return {bot_id for bot_id, is_listed in zip(bot_ids, answers, strict=True) if is_listed}

    def _versions_query(self, bot: CloudDocument, collection: str) -> Any:
        """A bot's versions of one kind: all of the user's own bot, the active ones of another
        user's (or the showcase's), which are all the rules let a member read."""
        versions = self._sub(bot.path, collection)
        if bot.data.get("creator_user_id") == self._user_id:
            return versions
        return versions.where(filter=firestore.FieldFilter("is_active", "==", True))

    async def _gather_queries(self, queries: Iterable[Any]) -> list[CloudDocument]:
        """The documents of several queries, a few at a time (one per changed session can be
        many)."""
        gate = asyncio.Semaphore(_PARALLEL_QUERIES)

        async def run(query: Any) -> list[CloudDocument]:
            async with gate:
                return await self._query(query)

        results = await asyncio.gather(*(run(query) for query in queries))
        return [document for result in results for document in result]

    # -- users ------------------------------------------------------------------------------
    async def local_user(self) -> User:
        """The cipher's user (``users/{id}``), created the first time it is asked."""
        path = docs.user_path(self._user_id)
        found = await self._get(path)
        if found is not None:
            return docs.user_from_document(found)
        now = utcnow()
        user = User(id=self._user_id, user_hash=None, created_date=now, last_modified_date=now)
        try:
            await self._send([CloudWrite.create(docs.user_document(user))])
        except _DocumentExists:
            # Another machine of the same user made it meanwhile.
            found = await self._get(path)
            if found is None:
                raise NotFound("This user is not known.") from None
            return docs.user_from_document(found)
        log.info("Cloud user created")
        return user

    async def record_user_hash(self, user_id: str, user_hash: str) -> User:
        """Write GPT Lab's ``user_hash`` on the user and its ``user_hash/{hash}`` record (one
        batch); recording the hash the user already has changes nothing."""
        if not user_hash:
            raise ValueError("A user hash is not empty.")
        user_doc = docs.user_path(user_id)
        hash_doc = docs.user_hash_path(user_hash)
        found = await self._get_all([user_doc, hash_doc])
        if user_doc not in found:
            raise NotFound("This user is not known.")
        user = docs.user_from_document(found[user_doc])
        if user.user_hash == user_hash:
            return user
        now = utcnow()
        changed = replace(user, user_hash=user_hash, last_modified_date=now)
        writes = [
            CloudWrite.update(
                docs.fields_of(docs.user_document(changed), ("user_hash", "last_modified_date"))
            )
        ]
        if hash_doc not in found:
            writes.append(CloudWrite.set(docs.user_hash_document(user_hash, now)))
        await self._send(writes)
        log.info("User hash recorded")
        return changed

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        found = await self._get(docs.user_path(user_id))
        return None if found is None else docs.user_from_document(found)

    # -- assistants -------------------------------------------------------------------------
    @staticmethod
    def _new_assistant(
        draft: AssistantDraft,
        now: datetime,
        *,
        creator_user_id: str | None,
        ids: tuple[str, str, str, str] | None = None,
        showcase_key: str | None = None,
    ) -> tuple[Assistant, list[CloudWrite]]:
        """A new bot with its first versions, and the writes that create them."""
        bot_id, initial_id, summary_id, config_id = ids or (new_id(), new_id(), new_id(), new_id())
        assistant = Assistant(
            id=bot_id,
            name=draft.name,
            tag_line=draft.tag_line,
            description=draft.description,
            session_type=draft.session_type,
            creator_user_id=creator_user_id,
            created_date=now,
            last_modified_date=now,
            active_initial_prompt_id=initial_id,
            active_model_config_id=config_id,
            active_summary_prompt_id=summary_id,
            showcased=showcase_key is not None,
            guards_prompt_leak=draft.guards_prompt_leak,
            showcase_key=showcase_key,
        )
        writes = [
            CloudWrite.create(docs.bot_document(assistant)),
            CloudWrite.create(
                docs.prompt_document(
                    Prompt(initial_id, bot_id, PromptType.INITIAL, draft.initial_prompt, now)
                )
            ),
            CloudWrite.create(
                docs.prompt_document(
                    Prompt(summary_id, bot_id, PromptType.SUMMARY, draft.summary_prompt, now)
                )
            ),
            CloudWrite.create(
                docs.model_config_document(
                    ModelConfigVersion(config_id, bot_id, draft.model_config, now)
                )
            ),
        ]
        return assistant, writes

    async def create_assistant(self, draft: AssistantDraft, creator_user_id: str) -> Assistant:
        """Create an assistant with its first versions and count bots_created, in one batch."""
        (assistant,) = await self.create_assistants([draft], creator_user_id)
        return assistant

    async def create_assistants(
        self, drafts: Sequence[AssistantDraft], creator_user_id: str
    ) -> list[Assistant]:
        """Create several assistants in one batch (an import): all of them or none."""
        if not drafts:
            return []
        now = utcnow()
        assistants: list[Assistant] = []
        writes: list[CloudWrite] = []
        for draft in drafts:
            assistant, created = self._new_assistant(draft, now, creator_user_id=creator_user_id)
            assistants.append(assistant)
            writes += created
        writes.append(
            CloudWrite.update(
                docs.modified_document(docs.user_path(creator_user_id), now),
                increments={"bots_created": len(drafts)},
            )
        )
        try:
            await self._send(writes)
        except NotFound:
            raise NotFound("The user creating this assistant is not known.") from None
        return assistants

    async def _own_assistant(self, assistant_id: str) -> Assistant:
        """The assistant, or ``NotFound``; ``ReadOnlyAssistant`` if it is showcased or another
        user's published one."""
        assistant = await self.get_assistant(assistant_id)
        if assistant is None:
            raise NotFound("This assistant no longer exists.")
        if assistant.showcased:
            raise ReadOnlyAssistant(
                f"“{assistant.name}” is a showcased assistant: it cannot be changed, "
                "only duplicated."
            )
        if assistant.is_read_only_for(self._user_id):
            raise ReadOnlyAssistant(
                f"“{assistant.name}” is another user's published assistant: it cannot be "
                "changed, only duplicated."
            )
        return assistant

    async def _active_versions(
        self, assistant: Assistant
    ) -> tuple[Prompt | None, Prompt | None, ModelConfigVersion | None]:
        """The active initial prompt, summary prompt and model config (one call)."""
        initial = docs.prompt_path(assistant.id, assistant.active_initial_prompt_id)
        summary = docs.prompt_path(assistant.id, assistant.active_summary_prompt_id)
        config = docs.model_config_path(assistant.id, assistant.active_model_config_id)
        found = await self._get_all([initial, summary, config])
        return (
            docs.prompt_from_document(found[initial]) if initial in found else None,
            docs.prompt_from_document(found[summary]) if summary in found else None,
            docs.model_config_from_document(found[config]) if config in found else None,
        )

    def _draft_writes(
        self,
        assistant: Assistant,
        versions: tuple[Prompt | None, Prompt | None, ModelConfigVersion | None],
        draft: AssistantDraft,
        now: datetime,
        *,
        existing: dict[str, CloudDocument] | None = None,
        version_ids: tuple[str, str, str] | None = None,
    ) -> tuple[Assistant, list[CloudWrite]]:
        """Bring an assistant in line with ``draft``: the changed assistant and the writes
        (none if nothing changed). Changed prompts and configs become new active versions;
        with ``version_ids`` those versions have these ids, and one of them already in
        ``existing`` is made active again instead of created."""
        initial, summary, config = versions
        existing = existing or {}
        initial_id, summary_id, config_id = version_ids or (new_id(), new_id(), new_id())
        writes: list[CloudWrite] = []
        changes: dict[str, object] = {}

        def activate(path: str, create: Callable[[], CloudDocument]) -> None:
            if path in existing:
                writes.append(CloudWrite.update(docs.version_activity_document(path, True)))
            else:
                writes.append(CloudWrite.create(create()))

        for kind, old, text, prompt_id, pointer in (
            (PromptType.INITIAL, initial, draft.initial_prompt, initial_id, "initial"),
            (PromptType.SUMMARY, summary, draft.summary_prompt, summary_id, "summary"),
        ):
            if old is not None and old.message == text:
                continue
            if old is not None:
                writes.append(
                    CloudWrite.update(
                        docs.version_activity_document(docs.prompt_path(old.bot_id, old.id), False)
                    )
                )
            activate(
                docs.prompt_path(assistant.id, prompt_id),
                lambda kind=kind, text=text, prompt_id=prompt_id: docs.prompt_document(
                    Prompt(prompt_id, assistant.id, kind, text, now)
                ),
            )
            changes[f"active_{pointer}_prompt_id"] = prompt_id
        if config is None or config.config != draft.model_config:
            if config is not None:
                writes.append(
                    CloudWrite.update(
                        docs.version_activity_document(
                            docs.model_config_path(config.bot_id, config.id), False
                        )
                    )
                )
            activate(
                docs.model_config_path(assistant.id, config_id),
                lambda: docs.model_config_document(
                    ModelConfigVersion(config_id, assistant.id, draft.model_config, now)
                ),
            )
            changes["active_model_config_id"] = config_id
        plain = {
            "name": draft.name,
            "tag_line": draft.tag_line,
            "description": draft.description,
            "session_type": draft.session_type,
            "guards_prompt_leak": draft.guards_prompt_leak,
        }
        changes.update(
            {name: value for name, value in plain.items() if getattr(assistant, name) != value}
        )
        if not changes:
            return assistant, []
        changed = replace(assistant, last_modified_date=now, **changes)  # type: ignore[arg-type]
        writes.append(CloudWrite.update(_bot_fields(changed)))
        return changed, writes

    async def update_assistant(self, assistant_id: str, draft: AssistantDraft) -> Assistant:
        """Apply a draft in one batch: a changed prompt or model config becomes a new active
        version, the other fields change in place."""
        assistant = await self._own_assistant(assistant_id)
        versions = await self._active_versions(assistant)
        changed, writes = self._draft_writes(assistant, versions, draft, utcnow())
        await self._send(writes)
        return changed

    async def get_assistant(self, assistant_id: str) -> Assistant | None:
        """The assistant with this id, archived or not."""
        found = await self._get(docs.bot_path(assistant_id))
        return None if found is None else docs.bot_from_document(found)

    async def get_assistant_details(self, assistant_id: str) -> AssistantDetails | None:
        """The assistant with its active prompts and model config (two calls)."""
        assistant = await self.get_assistant(assistant_id)
        if assistant is None:
            return None
        initial, summary, config = await self._active_versions(assistant)
        if initial is None or summary is None or config is None:
            raise StoreError(
                f"The assistant “{assistant.name}” is missing a prompt or model config."
            )
        return AssistantDetails(assistant, initial, summary, config)

    async def list_assistants(self, *, include_archived: bool = False) -> list[Assistant]:
        """Showcased first, then own and published ones, each group by name (ordered here, so
        no composite index is needed)."""
        found = await self._gather_queries(self._visible_bot_queries())
        unique = {document.path: docs.bot_from_document(document) for document in found}
        assistants = [a for a in unique.values() if include_archived or a.is_active]
        return sorted(assistants, key=lambda a: (not a.showcased, a.name.casefold(), a.name, a.id))

    async def set_assistant_active(self, assistant_id: str, is_active: bool) -> Assistant:
        """Archive (``False``) or restore (``True``) an own assistant."""
        assistant = await self._own_assistant(assistant_id)
        if assistant.is_active == is_active:
            return assistant
        changed = replace(assistant, is_active=is_active, last_modified_date=utcnow())
        await self._send(
            [
                CloudWrite.update(
                    docs.fields_of(docs.bot_document(changed), ("is_active", "last_modified_date"))
                )
            ]
        )
        return changed

    async def set_assistant_published(
        self, assistant_id: str, published: bool, *, author_name: str | None = None
    ) -> Assistant:
        """Publish an own assistant to the project's lobby (``True``), or withdraw it."""
        assistant = await self._own_assistant(assistant_id)
        name = author_name if published else assistant.creator_display_name
        if (assistant.published, assistant.creator_display_name) == (published, name):
            return assistant
        changed = replace(
            assistant, published=published, creator_display_name=name, last_modified_date=utcnow()
        )
        fields = ("published", "creator_display_name", "last_modified_date")
        await self._send([CloudWrite.update(docs.fields_of(docs.bot_document(changed), fields))])
        return changed

    async def delete_assistant(self, assistant_id: str) -> None:
        """Delete an own assistant and its versions, leaving a tombstone; the user's sessions
        keep their snapshots and lose only their link (as SQLite's ``ON DELETE SET NULL``)."""
        await self._own_assistant(assistant_id)
        bot = docs.bot_path(assistant_id)
        prompts, configs, sessions = await asyncio.gather(
            self._query(self._sub(bot, docs.PROMPTS)),
            self._query(self._sub(bot, docs.MODEL_CONFIGS)),
            self._query(
                self._where_equal(docs.SESSIONS, "user_id", self._user_id).where(
                    filter=firestore.FieldFilter("bot_id", "==", assistant_id)
                )
            ),
        )
        unlinked = [
            CloudWrite.update(
                docs.fields_of(
                    docs.session_document(
                        docs.session_from_document(document, self._cipher).with_changes(
                            bot_id=None
                        ),
                        self._cipher,
                    ),
                    ("bot_id",),
                )
            )
            for document in sessions
        ]
        versions = [
            CloudWrite.delete(document.path, tombstone=False) for document in prompts + configs
        ]
        await self._send_large(versions, [*unlinked, CloudWrite.delete(bot)])

    async def _send_large(self, first: list[CloudWrite], last: list[CloudWrite]) -> None:
        """``last`` in one batch, after ``first`` in as many as it takes (Firestore's batch
        limit): used for deletes, where the parts sent first are harmless on their own."""
        room = MAX_BATCH_WRITES // 2  # each write may bring a tombstone or a stamp
        while len(first) + len(last) > room:
            chunk, first = first[:room], first[room:]
            await self._send(chunk)
        await self._send(first + last)

    async def _versions(self, assistant_id: str, collection: str) -> list[CloudDocument]:
        bot, versions = await asyncio.gather(
            self.get_assistant(assistant_id),
            self._query(self._sub(docs.bot_path(assistant_id), collection)),
        )
        if bot is None:
            raise NotFound("This assistant no longer exists.")
        return versions

    async def list_prompts(self, assistant_id: str, message_type: PromptType) -> list[Prompt]:
        """Every version of one kind of prompt, newest first."""
        found = await self._versions(assistant_id, docs.PROMPTS)
        prompts = [docs.prompt_from_document(document) for document in found]
        kind = PromptType(message_type)
        return sorted(
            (prompt for prompt in prompts if prompt.message_type is kind),
            key=lambda prompt: (prompt.created_date, prompt.id),
            reverse=True,
        )

    async def list_model_configs(self, assistant_id: str) -> list[ModelConfigVersion]:
        """Every model config version, newest first."""
        found = await self._versions(assistant_id, docs.MODEL_CONFIGS)
        configs = [docs.model_config_from_document(document) for document in found]
        return sorted(configs, key=lambda config: (config.created_date, config.id), reverse=True)

    async def activate_prompt(self, assistant_id: str, prompt_id: str) -> Assistant:
        """Make an existing prompt version the active one of its kind (one batch)."""
        assistant = await self._own_assistant(assistant_id)
        found = await self._get(docs.prompt_path(assistant_id, prompt_id))
        if found is None:
            raise NotFound("This prompt version no longer exists.")
        chosen = docs.prompt_from_document(found)
        siblings = await self.list_prompts(assistant_id, chosen.message_type)
        pointer = (
            "active_initial_prompt_id"
            if chosen.message_type is PromptType.INITIAL
            else "active_summary_prompt_id"
        )
        changed = replace(assistant, last_modified_date=utcnow(), **{pointer: prompt_id})
        versions = [(docs.prompt_path(assistant_id, p.id), p.id, p.is_active) for p in siblings]
        await self._send(_activation_writes(changed, versions, prompt_id))
        return changed

    async def activate_model_config(self, assistant_id: str, config_id: str) -> Assistant:
        """Make an existing model config version the active one (one batch)."""
        assistant = await self._own_assistant(assistant_id)
        configs = await self.list_model_configs(assistant_id)
        if config_id not in {config.id for config in configs}:
            raise NotFound("This model config version no longer exists.")
        changed = replace(assistant, active_model_config_id=config_id, last_modified_date=utcnow())
        versions = [
            (docs.model_config_path(assistant_id, c.id), c.id, c.is_active) for c in configs
        ]
        await self._send(_activation_writes(changed, versions, config_id))
        return changed

    async def sync_showcase(self, entries: Sequence[ShowcaseEntry]) -> int:
        """Insert or update showcased assistants by key, in one batch; returns changes.

        Every id is derived from the resources (``documents.showcase_ids``), so every machine
        names the showcase alike and two machines write one document set, not a copy each. A machine
        that loses a race to create it (a "must not exist" precondition fails) reads again and
        finds it there.
        """
        for attempt in range(3):
            try:
                return await self._sync_showcase_once(entries)
            except _DocumentExists:
                log.info("Showcase written meanwhile by another machine (attempt %d)", attempt)
        raise CloudRefused("the showcase kept changing while it was being written.")

    async def _sync_showcase_once(self, entries: Sequence[ShowcaseEntry]) -> int:
        planned = [(entry, docs.showcase_ids(entry.key, entry.draft)) for entry in entries]
        paths: list[str] = []
        for _entry, (bot_id, initial_id, summary_id, config_id) in planned:
            paths += [
                docs.bot_path(bot_id),
                docs.prompt_path(bot_id, initial_id),
                docs.prompt_path(bot_id, summary_id),
                docs.model_config_path(bot_id, config_id),
            ]
        found = await self._get_all(paths)
        now = utcnow()
        writes: list[CloudWrite] = []
        changes = 0
        for entry, ids in planned:
            bot_id, initial_id, summary_id, config_id = ids
            bot = found.get(docs.bot_path(bot_id))
            if bot is None:
                # No creator, so no user's bots_created counts a showcased assistant.
                _assistant, created = self._new_assistant(
                    entry.draft, now, creator_user_id=None, ids=ids, showcase_key=entry.key
                )
                writes += created
                changes += 1
                continue
            assistant = docs.bot_from_document(bot)
            active = (
                docs.prompt_path(bot_id, assistant.active_initial_prompt_id),
                docs.prompt_path(bot_id, assistant.active_summary_prompt_id),
                docs.model_config_path(bot_id, assistant.active_model_config_id),
            )
            if all(path in found for path in active):
                # Already on shipped versions (read above): no second read at each start.
                versions = (
                    docs.prompt_from_document(found[active[0]]),
                    docs.prompt_from_document(found[active[1]]),
                    docs.model_config_from_document(found[active[2]]),
                )
            else:
                versions = await self._active_versions(assistant)
            _changed, updated = self._draft_writes(
                assistant,
                versions,
                entry.draft,
                now,
                existing=found,
                version_ids=(initial_id, summary_id, config_id),
            )
            if updated:
                writes += updated
                changes += 1
        await self._send(writes)
        if changes:
            log.info("Showcase synchronised: %d assistants added or updated", changes)
        return changes

    # -- sessions ---------------------------------------------------------------------------
    def _own(self, document: CloudDocument) -> Session | None:
        """The session in ``document`` if it is this user's."""
        if document.data.get("user_id") != self._user_id:
            return None
        session = docs.session_from_document(document, self._cipher)
        self._session_created[session.id] = session.created_date
        return session

    async def create_session(self, session: Session) -> Session:
        """Store a new session and count sessions_started on the user, bot and prompt, in one
        batch (no read). Storing the same session id again changes and counts nothing."""
        document = docs.session_document(session, self._cipher)
        self._session_created[session.id] = session.created_date
        now = utcnow()
        columns = ["sessions_started"]
        if not session.status.is_open:
            columns.append("sessions_ended")
        counts = dict.fromkeys(columns, 1)
        writes = [
            CloudWrite.create(document),
            CloudWrite.update(
                docs.modified_document(docs.user_path(session.user_id), now), increments=counts
            ),
        ]
        if session.bot_id is not None:
            writes.append(CloudWrite.increment(docs.bot_path(session.bot_id), counts))
            if session.bot_initial_prompt_id is not None:
                writes.append(
                    CloudWrite.increment(
                        docs.prompt_path(session.bot_id, session.bot_initial_prompt_id), counts
                    )
                )
        try:
            await self._send(writes)
        except _DocumentExists:
            stored = await self.get_session(session.id)
            if stored is None:
                raise NotFound("This session no longer exists.") from None
            return stored
        except NotFound:
            raise NotFound(
                "The session's user, assistant or prompt version no longer exists."
            ) from None
        return session

    async def get_session(self, session_id: str) -> Session | None:
        """The session with this id, if it is this user's."""
        found = await self._get(docs.session_path(session_id))
        return None if found is None else self._own(found)

    async def list_sessions(
        self, *, bot_id: str | None = None, limit: int | None = None
    ) -> list[Session]:
        """The user's sessions newest-modified first, of one assistant or of all (ordered here,
        so no composite index is needed)."""
        query = self._where_equal(docs.SESSIONS, "user_id", self._user_id)
        if bot_id is not None:
            query = query.where(filter=firestore.FieldFilter("bot_id", "==", bot_id))
        found = await self._query(query)
        sessions = [session for document in found if (session := self._own(document))]
        sessions.sort(key=lambda s: (s.last_modified_date, s.created_date, s.id), reverse=True)
        return sessions if limit is None else sessions[: max(limit, 0)]

    async def _update_session(self, document: CloudDocument) -> None:
        try:
            await self._send([CloudWrite.update(document)])
        except NotFound:
            raise NotFound("This session no longer exists.") from None

    async def _change_session(self, session_id: str, **changes: Any) -> None:
        """Update the given fields of ``sessions/{id}`` (``docs.session_changes``); no read."""
        await self._update_session(
            docs.session_changes(
                session_id,
                self._cipher,
                created_date=await self._created_of_session(session_id),
                last_modified_date=utcnow(),
                **changes,
            )
        )

    async def update_session_context(
        self, session_id: str, context: Sequence[ContextMessage]
    ) -> None:
        """Replace the context the model sees next (``messages_str``); no read."""
        await self._change_session(
            session_id,
            context=context,
        )

    async def rename_session(self, session_id: str, title: str) -> None:
        """Give a session a title; no read."""
        await self._change_session(
            session_id,
            title=title,
        )

    async def pin_session(self, session_id: str, is_pinned: bool) -> None:
        """Pin a session in the chat list, or unpin it; its last modified date stays."""
        await self._update_session(
            docs.session_changes(
                session_id,
                self._cipher,
                created_date=await self._created_of_session(session_id),
                last_modified_date=None,
                is_pinned=is_pinned,
            )
        )

    async def show_branch(
        self,
        session_id: str,
        leaf_id: str | None,
        context: Sequence[ContextMessage],
        message_count: int,
    ) -> None:
        """Show the branch ending at ``leaf_id``: its context and count; no read."""
        await self._change_session(
            session_id,
            context=context,
            shown_branch=(leaf_id, message_count),
        )

    async def change_session_model(
        self, session_id: str, config: ModelConfig, provider_id: str | None
    ) -> None:
        """Change the chat's model and provider; no read."""
        await self._change_session(
            session_id,
            model=(config, provider_id),
        )

    async def end_session(
        self,
        session_id: str,
        status: SessionStatus,
        *,
        user_liked: UserLiked | None = None,
        recap: str = "",
    ) -> Session:
        """Close a session with a final status; counts sessions_ended once (one read, one
        batch). Ending an ended session again counts nothing; it may add a rating or a recap.

        Two machines ending the same open session at the same moment could both count it: the
        read and the batch are not one transaction (transactions wait seconds when contended).
        """
        if SessionStatus(status).is_open:
            raise ValueError("A session ends with a closing status, not STARTED.")
        found = await self._get(docs.session_path(session_id))
        session = None if found is None else self._own(found)
        if session is None:
            raise NotFound("This session no longer exists.")
        now = utcnow()
        writes = [
            CloudWrite.update(
                docs.session_changes(
                    session_id,
                    self._cipher,
                    created_date=session.created_date,
                    last_modified_date=now,
                    status=status,
                    user_liked=user_liked,
                    recap=recap or None,
                )
            )
        ]
        if session.status.is_open:
            ended = {"sessions_ended": 1}
            linked = []
            if session.bot_id is not None:
                linked.append(docs.bot_path(session.bot_id))
                if session.bot_initial_prompt_id is not None:
                    linked.append(docs.prompt_path(session.bot_id, session.bot_initial_prompt_id))
            # An assistant deleted since keeps no statistics; updating it would fail the batch.
            present = await self._get_all(linked)
            writes.append(
                CloudWrite.update(
                    docs.modified_document(docs.user_path(session.user_id), now), increments=ended
                )
            )
            writes += [CloudWrite.increment(path, ended) for path in linked if path in present]
        await self._update_session_writes(writes)
        return session.with_changes(
            status=SessionStatus(status),
            user_liked=session.user_liked if user_liked is None else user_liked,
            recap=recap or session.recap,
            last_modified_date=now,
        )

    async def _update_session_writes(self, writes: list[CloudWrite]) -> None:
        try:
            await self._send(writes)
        except NotFound:
            raise NotFound("This session no longer exists.") from None

    async def delete_session(self, session_id: str) -> None:
        """Delete a session and its messages, leaving one tombstone for the session (the
        messages go first when they do not fit in one batch)."""
        if await self.get_session(session_id) is None:
            raise NotFound("This session no longer exists.")
        path = docs.session_path(session_id)
        messages = await self._query(self._sub(path, docs.MESSAGES))
        await self._send_large(
            [CloudWrite.delete(document.path, tombstone=False) for document in messages],
            [CloudWrite.delete(path)],
        )
        for document in messages:
            self._message_sessions.pop(document.id, None)

    # -- messages ---------------------------------------------------------------------------
    async def add_messages(
        self, messages: Sequence[Message], *, context: Sequence[ContextMessage] | None = None
    ) -> None:
        """Append messages of one session, count message_count and (with ``context``) replace
        the session's context, in one batch with no read. A message id already stored changes
        and counts nothing (a replayed write)."""
        if not messages:
            return
        session_ids = {message.session_id for message in messages}
        if len(session_ids) != 1:
            raise ValueError("add_messages takes the messages of one session")
        (session_id,) = session_ids
        pending = list(messages)
        for _attempt in range(3):
            now = utcnow()
            writes = [
                CloudWrite.create(docs.message_document(m, self._cipher, last_modified_date=now))
                for m in pending
            ]
            writes.append(
                CloudWrite.update(
                    docs.session_changes(
                        session_id,
                        self._cipher,
                        created_date=await self._created_of_session(session_id),
                        last_modified_date=now,
                        context=context,
                    ),
                    increments={"message_count": len(pending)},
                )
            )
            try:
                await self._send(writes)
            except NotFound:
                raise NotFound("This message's session no longer exists.") from None
            except _DocumentExists:
                stored = await self._get_all(docs.message_path(m.session_id, m.id) for m in pending)
                pending = [
                    m for m in pending if docs.message_path(m.session_id, m.id) not in stored
                ]
                if not pending:
                    break
                continue
            break
        for message in messages:
            self._message_sessions[message.id] = _MessageFacts(
                session_id, message.role, message.created_date
            )

    async def _facts_of_message(self, message_id: str) -> _MessageFacts:
        """The session a message is in, its role and creation: remembered from writes and
        reads, else looked up among the user's sessions (two calls)."""
        known = self._message_sessions.get(message_id)
        if known is not None:
            return known
        sessions = await self._query(
            self._where_equal(docs.SESSIONS, "user_id", self._user_id).select([])
        )
        candidates = {docs.message_path(s.id, message_id): s.id for s in sessions}
        found = await self._get_all(candidates)
        if not found:
            raise NotFound("This message no longer exists.")
        path, document = next(iter(found.items()))
        try:
            facts = _MessageFacts(
                candidates[path],
                Role(document.data["role"]),
                docs.date_of(document.data["created_date"]),
            )
        except (KeyError, ValueError, TypeError):
            raise CloudRefused("a stored message is incomplete.") from None
        self._message_sessions[message_id] = facts
        return facts

    async def _created_of_session(self, session_id: str) -> datetime:
        """When a session was created: remembered this run, else read (one read)."""
        known = self._session_created.get(session_id)
        if known is not None:
            return known
        session = await self.get_session(session_id)
        if session is None:
            raise NotFound("This session no longer exists.")
        return session.created_date

    async def update_message(
        self,
        message_id: str,
        *,
        text: str,
        state: MessageState,
        meta: MessageDetails | None = None,
        context: Sequence[ContextMessage] | None = None,
    ) -> None:
        """Replace a message's text and state (and with ``context`` the session's context),
        in one batch; ``meta=None`` keeps the stored details."""
        facts = await self._facts_of_message(message_id)
        session_id = facts.session_id
        now = utcnow()
        writes = [
            CloudWrite.update(
                docs.message_changes(
                    session_id,
                    message_id,
                    self._cipher,
                    role=facts.role,
                    created_date=facts.created_date,
                    text=text,
                    state=state,
                    meta=meta,
                    last_modified_date=now,
                )
            )
        ]
        if context is not None:
            writes.append(
                CloudWrite.update(
                    docs.session_changes(
                        session_id,
                        self._cipher,
                        created_date=await self._created_of_session(session_id),
                        last_modified_date=now,
                        context=context,
                    )
                )
            )
        try:
            await self._send(writes)
        except NotFound:
            self._message_sessions.pop(message_id, None)
            raise NotFound("This message no longer exists.") from None

    async def delete_message(self, message_id: str) -> None:
        """Remove one message, leaving a tombstone, and count message_count down (one batch).

        Unlike SQLite the count is not held at zero: an increment cannot be bounded.
        """
        facts = await self._facts_of_message(message_id)
        session_id = facts.session_id
        path = docs.message_path(session_id, message_id)
        if await self._get(path) is None:
            self._message_sessions.pop(message_id, None)
            raise NotFound("This message no longer exists.")
        await self._update_session_writes(
            [
                CloudWrite.delete(path),
                CloudWrite.update(
                    docs.modified_document(docs.session_path(session_id), utcnow()),
                    increments={"message_count": -1},
                ),
            ]
        )
        self._message_sessions.pop(message_id, None)

    async def delete_messages(self, message_ids: Sequence[str]) -> None:
        """Remove messages one batch each, leaving tombstones (a subtree is small)."""
        for message_id in message_ids:
            with contextlib.suppress(NotFound):
                await self.delete_message(message_id)

    async def list_messages(self, session_id: str) -> list[Message]:
        """The transcript in ``created_date`` order (ordered here)."""
        found = await self._query(self._sub(docs.session_path(session_id), docs.MESSAGES))
        messages = [docs.message_from_document(document, self._cipher) for document in found]
        messages.sort(key=lambda message: message.created_date)
        for message in messages:
            self._message_sessions[message.id] = _MessageFacts(
                session_id, message.role, message.created_date
            )
        return messages

    async def search_messages(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Not possible here: Firestore holds the bodies encrypted, so it cannot match words
        in them, and decrypting every message to scan it would download the whole history.
        The synced store searches its local copy; this raises ``CloudSearchUnsupported``."""
        raise CloudSearchUnsupported()

    # -- settings ---------------------------------------------------------------------------
    async def get_setting(self, name: str) -> str | None:
        """A small named value kept with the user's data, or None."""
        found = await self._get(docs.setting_path(self._user_id, name))
        return None if found is None else docs.setting_from_document(found)

    async def set_setting(self, name: str, value: str) -> None:
        """Store a small named value, replacing any previous one (never a secret)."""
        await self._send(
            [CloudWrite.set(docs.setting_document(self._user_id, name, value, utcnow()))]
        )


# -- before the data key: what a machine about to join or set up may read ----------------------


async def read_user_document(settings: FirestoreSettings, user_id: str) -> CloudDocument | None:
    """``users/{user_id}`` as stored (its ``data_key`` is what a recovery kit opens), read
    before this machine has the data key: the user document holds no sealed field."""
    async with _reader(settings, user_id) as store:
        return await store._get(docs.user_path(user_id))


async def holds_encrypted_history(settings: FirestoreSettings) -> bool:
    """Whether the project holds a user whose history is encrypted (a wrapped data key): a
    machine that has not joined must not set up a second, separate history beside it."""
    async with _reader(settings, "joining") as store:
        users = await store._query(store._db.collection(docs.USERS).limit(20))
    return any(docs.wrapped_key_from_document(user) is not None for user in users)


@contextlib.asynccontextmanager
async def _reader(settings: FirestoreSettings, user_id: str) -> AsyncIterator[FirestoreStore]:
    # A store that only reads documents without sealed fields; its data key is never used.
    store = FirestoreStore(settings, RecordCipher(DataKey.generate(), user_id))
    health = await store.open()
    if not health.is_usable:
        raise CloudUnavailable(health.problem)
    try:
        yield store
    finally:
        await store.close()


def cloud_error(error: Exception) -> CloudError | NotFound:
    """The app's typed error for a google library failure, with a sentence for the user (the
    server's own words only where they name no data: a field, a limit)."""
    if isinstance(
        error,
        google_errors.RetryError | google_errors.ServiceUnavailable | auth_errors.TransportError,
    ):
        return CloudUnavailable()
    if isinstance(error, google_errors.DeadlineExceeded):
        return CloudUnavailable(
            "Your Firestore project did not answer in time. Your changes are kept on this "
            "computer and sent when it answers again."
        )
    if isinstance(error, google_errors.ResourceExhausted | google_errors.TooManyRequests):
        return CloudUnavailable(
            "Your Firestore project's quota is used up for now; changes are sent later."
        )
    if isinstance(error, google_errors.Aborted | google_errors.InternalServerError):
        return CloudUnavailable(
            "Your Firestore project had a passing problem; the change is tried again later."
        )
    if isinstance(error, google_errors.NotFound):
        return NotFound("A document to change is no longer in your Firestore project.")
    if isinstance(error, google_errors.PermissionDenied):
        return CloudRefused(
            "this account may not read or write this data (permission denied). Check the "
            "project's security rules and the account's roles."
        )
    if isinstance(error, google_errors.Unauthenticated | auth_errors.GoogleAuthError):
        return CloudRefused(
            "the credentials were not accepted. Choose the service account again, or sign in "
            "with Application Default Credentials again."
        )
    if isinstance(error, google_errors.InvalidArgument):
        return CloudRefused(f"the data was not accepted ({_short(error)}).")
    if isinstance(error, google_errors.FailedPrecondition):
        return CloudRefused(
            f"the database is not ready for this request ({_short(error)}). A missing index "
            "or database is created in the Google Cloud console."
        )
    return CloudError(f"Your Firestore project could not do this ({_short(error)}).")


def _short(error: Exception) -> str:
    """The server's message, cut short (it names fields and limits, not values)."""
    message = getattr(error, "message", None) or str(error)
    text = " ".join(str(message).split())
    return text if len(text) <= 160 else text[:157] + "…"


def _document(snapshot: Any) -> CloudDocument:
    return CloudDocument(snapshot.reference.path, snapshot.to_dict() or {})


def _stamped(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``server_modified_date`` set by the server at commit."""
    return {**data, docs.SERVER_MODIFIED_FIELD: firestore.SERVER_TIMESTAMP}


def _modified(document: CloudDocument) -> datetime:
    value = document.data.get(docs.SERVER_MODIFIED_FIELD)
    return value if isinstance(value, datetime) else datetime.min.replace(tzinfo=utcnow().tzinfo)


def _activation_writes(
    changed: Assistant, versions: Iterable[tuple[str, str, bool]], chosen_id: str
) -> list[CloudWrite]:
    """One batch making ``chosen_id`` the active one of ``versions`` (path, id, is_active):
    each version whose activity changes, then the bot's new pointer."""
    writes = [
        CloudWrite.update(docs.version_activity_document(path, version_id == chosen_id))
        for path, version_id, is_active in versions
        if is_active != (version_id == chosen_id)
    ]
    writes.append(CloudWrite.update(_bot_fields(changed)))
    return writes


def _bot_fields(assistant: Assistant) -> CloudDocument:
    """A bot's document without its counters: what an edit writes over it."""
    document = docs.bot_document(assistant)
    return docs.fields_of(document, (name for name in document.data if name not in _BOT_COUNTERS))
