"""The outbox of a store that syncs, on a real SQLite file: every change journalled with it,
as references that merge per document, and handed out in an order that loses nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.models import MessageState, Role, SessionStatus, User
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.outbox import DocumentKind, Operation, OutboxCounts
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.store.sqlite_rows import to_text
from tests.builders import DB_NAME, make_draft, make_message, start_session

pytestmark = pytest.mark.asyncio

CLOUD = "firestore:test-project/(default)"
LATER = "9999-01-01T00:00:00.000000+00:00"  # "now" far ahead: every row is due
EARLIER = "2000-01-01T00:00:00.000000+00:00"


@pytest_asyncio.fixture
async def synced(data_dir: Path) -> AsyncIterator[SyncedStore]:
    store = SyncedStore(data_dir / DB_NAME)
    assert (await store.open()).is_usable
    await store.journal_for(CLOUD)
    yield store
    await store.close()


@pytest_asyncio.fixture
async def me(synced: SyncedStore) -> User:
    user = await synced.local_user()
    await synced.mark_sent([entry.id for entry in await synced.claim_ready(LATER, 100)])
    return user


def outbox_rows(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT kind, doc_id, operation FROM outbox ORDER BY seq").fetchall()


async def sent_all(store: SyncedStore) -> list[tuple[DocumentKind, Operation]]:
    entries = await store.claim_ready(LATER, 1000)
    await store.mark_sent([entry.id for entry in entries])
    return [(entry.kind, entry.operation) for entry in entries]


@pytest.mark.parametrize("store_class", [SqliteStore, SyncedStore])
async def test_a_store_that_never_synced_journals_nothing(
    data_dir: Path, store_class: type[SqliteStore]
) -> None:
    store = store_class(data_dir / DB_NAME)
    await store.open()
    user = await store.local_user()
    await store.create_assistant(make_draft(), user.id)
    await store.close()
    assert outbox_rows(data_dir / DB_NAME) == []


async def test_switching_sync_on_puts_everything_stored_in_the_outbox_once(
    data_dir: Path,
) -> None:
    store = SyncedStore(data_dir / DB_NAME)
    await store.open()
    try:
        user = await store.local_user()
        await store.create_assistant(make_draft(), user.id)
        session = await start_session(store, user, None)
        await store.add_messages([make_message(session.id, "kept from before")])

        assert await store.journal_for(CLOUD) == 7  # user, bot, 2 prompts, config, session, msg
        assert await store.journal_for(CLOUD) == 0  # the same cloud again: nothing twice

        entries = await store.claim_ready(LATER, 100)
        [user_entry] = [e for e in entries if e.kind is DocumentKind.USER]
        # Full values, counted once in the cloud (the journal counts deltas from here on).
        assert user_entry.increments == {
            "sessions_started": 1,
            "sessions_ended": 0,
            "bots_created": 1,
        }
        [session_entry] = [e for e in entries if e.kind is DocumentKind.SESSION]
        assert session_entry.increments == {"message_count": 1}
        await store.add_messages([make_message(session.id, "after")])
        # Journalled from here on: the message, and the session again (its row is being sent).
        assert (await store.outbox_counts()).pending == 9
    finally:
        await store.close()


async def test_another_cloud_gets_everything_again_and_nothing_meant_for_the_first(
    synced: SyncedStore, me: User
) -> None:
    await synced.create_assistant(make_draft(), me.id)
    assert (await synced.outbox_counts()).pending == 5

    added = await synced.journal_for("firestore:other-project/(default)")

    assert added == 5  # user, bot, two prompts, config: each once
    assert (await synced.outbox_counts()).pending == 5


async def test_the_journal_is_kept_at_every_open_once_sync_was_on(data_dir: Path) -> None:
    store = SyncedStore(data_dir / DB_NAME)
    await store.open()
    await store.journal_for(CLOUD)
    user = await store.local_user()
    await store.close()

    again = SyncedStore(data_dir / DB_NAME)
    await again.open()
    try:
        await again.create_assistant(make_draft(), user.id)
        kinds = [e.kind for e in await again.claim_ready(LATER, 100)]
        assert DocumentKind.BOT in kinds
    finally:
        await again.close()


async def test_creating_an_assistant_names_each_document_it_writes_with_the_counter_delta(
    synced: SyncedStore, me: User
) -> None:
    assistant = await synced.create_assistant(make_draft(), me.id)

    entries = await synced.claim_ready(LATER, 100)

    assert sorted((e.kind.value, e.operation.value) for e in entries) == [
        ("bot", "upsert"),
        ("model_config", "upsert"),
        ("prompt", "upsert"),
        ("prompt", "upsert"),
        ("user", "upsert"),
    ]
    [user_entry] = [e for e in entries if e.kind is DocumentKind.USER]
    assert user_entry.increments == {"sessions_started": 0, "sessions_ended": 0, "bots_created": 1}
    assert {e.parent_id for e in entries if e.kind is DocumentKind.PROMPT} == {assistant.id}
    [bot] = [e for e in entries if e.kind is DocumentKind.BOT]
    assert bot.record == assistant  # the document is built from the row, when sent


async def test_the_outbox_holds_references_never_the_text(
    synced: SyncedStore, me: User, data_dir: Path
) -> None:
    session = await start_session(synced, me, None)
    await synced.add_messages([make_message(session.id, "my secret garden plan")])

    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        dump = "\n".join(str(row) for row in conn.execute("SELECT * FROM outbox"))
    assert "secret garden" not in dump


async def test_writes_to_one_document_merge_into_one_row_and_their_counts_add_up(
    synced: SyncedStore, me: User, data_dir: Path
) -> None:
    session = await start_session(synced, me, None)
    await sent_all(synced)
    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    await synced.add_messages([make_message(session.id, "Hi"), reply])
    for text in ("Hel", "Hello", "Hello there"):
        await synced.update_message(reply.id, text=text, state=MessageState.STREAMING)
    await synced.update_message(reply.id, text="Hello there!", state=MessageState.COMPLETE)
    await synced.add_messages([make_message(session.id, "And you?")])

    rows = outbox_rows(data_dir / DB_NAME)
    assert [kind for kind, _, _ in rows].count("message") == 3  # one row per message
    assert [kind for kind, _, _ in rows].count("session") == 1
    entries = await synced.claim_ready(LATER, 100)
    [session_entry] = [e for e in entries if e.kind is DocumentKind.SESSION]
    assert session_entry.increments == {"message_count": 3}
    [reply_entry] = [e for e in entries if e.doc_id == reply.id]
    assert reply_entry.record is not None and reply_entry.record.message == "Hello there!"


async def test_a_session_waits_while_its_reply_streams_then_leaves_whole(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    other = await start_session(synced, me, None)
    await sent_all(synced)
    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    await synced.add_messages([make_message(session.id, "Hi"), reply])
    await synced.rename_session(other.id, "Elsewhere")

    while_streaming = await synced.claim_ready(LATER, 100)
    assert [(e.kind, e.doc_id) for e in while_streaming] == [(DocumentKind.SESSION, other.id)]
    await synced.mark_sent([e.id for e in while_streaming])

    await synced.update_message(reply.id, text="Hello!", state=MessageState.COMPLETE)
    finished = await synced.claim_ready(LATER, 100)
    assert sorted(e.kind.value for e in finished) == ["message", "message", "session"]


async def test_a_deleted_session_sends_deletes_for_it_and_every_message(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    messages = [make_message(session.id, f"m{i}") for i in range(3)]
    await synced.add_messages(messages)
    await sent_all(synced)

    await synced.delete_session(session.id)

    entries = await synced.claim_ready(LATER, 100)
    assert {(e.kind, e.doc_id, e.operation) for e in entries} == {
        (DocumentKind.SESSION, session.id, Operation.DELETE),
        *((DocumentKind.MESSAGE, m.id, Operation.DELETE) for m in messages),
    }


async def test_a_delete_replaces_a_pending_write_of_the_same_document(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    message = make_message(session.id, "typo")
    await synced.add_messages([message])

    await synced.delete_message(message.id)

    entries = await synced.claim_ready(LATER, 100)
    [only] = [e for e in entries if e.kind is DocumentKind.MESSAGE]
    assert (only.operation, only.record) == (Operation.DELETE, None)
    [session_entry] = [e for e in entries if e.kind is DocumentKind.SESSION]
    assert session_entry.increments == {"message_count": 0}  # +1 then -1


async def test_a_write_whose_outcome_is_unknown_keeps_its_marker_and_new_writes_get_their_own(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    [first] = [e for e in await synced.claim_ready(LATER, 100) if e.kind is DocumentKind.SESSION]
    await synced.mark_retry([first.id], "the network dropped", EARLIER)

    await synced.end_session(session.id, SessionStatus.COMPLETED)

    entries = await synced.claim_ready(LATER, 100)
    sessions = [e for e in entries if e.kind is DocumentKind.SESSION]
    assert sessions[0].id == first.id  # resent as it was: same marker
    assert len(sessions) == 2 and sessions[1].id != first.id
    assert first.increments == {"message_count": 0}
    assert sessions[0].attempts == 1


async def test_a_row_backing_off_holds_back_later_writes_to_its_document_only(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    other = await start_session(synced, me, None)
    entries = await synced.claim_ready(LATER, 100)
    [first] = [e for e in entries if e.doc_id == session.id]
    await synced.mark_sent([e.id for e in entries if e.id != first.id])
    await synced.mark_retry([first.id], "unavailable", LATER)  # backing off until LATER

    await synced.delete_session(session.id)
    await synced.rename_session(other.id, "Still goes")

    now = to_text(datetime(2026, 12, 7, tzinfo=UTC))
    ready = await synced.claim_ready(now, 100)
    assert [(e.kind, e.doc_id) for e in ready] == [(DocumentKind.SESSION, other.id)]


async def test_refused_writes_are_counted_listed_and_can_be_sent_again(
    synced: SyncedStore, me: User
) -> None:
    await synced.create_assistant(make_draft(name="Refused"), me.id)
    entries = await synced.claim_ready(LATER, 100)
    [bot] = [e for e in entries if e.kind is DocumentKind.BOT]
    await synced.mark_sent([e.id for e in entries if e is not bot])

    await synced.mark_dead(bot.id, "The cloud refused this write: permission denied.")

    assert await synced.outbox_counts() == OutboxCounts(pending=0, dead=1)
    [letter] = await synced.dead_letters()
    assert (letter.kind, letter.doc_id) == (DocumentKind.BOT, bot.doc_id)
    assert "permission denied" in letter.reason
    assert await synced.claim_ready(LATER, 100) == []
    assert await synced.retry_dead_letters() == 1
    [again] = await synced.claim_ready(LATER, 100)
    assert again.id == bot.id


async def test_the_store_says_when_the_outbox_grew(synced: SyncedStore, me: User) -> None:
    told: list[None] = []
    synced.on_change(lambda: told.append(None))

    await synced.list_assistants()
    assert told == []
    await synced.create_assistant(make_draft(), me.id)
    assert len(told) == 1


async def test_pending_writes_survive_closing_and_reopening(data_dir: Path) -> None:
    store = SyncedStore(data_dir / DB_NAME)
    await store.open()
    await store.journal_for(CLOUD)
    user = await store.local_user()
    await store.create_assistant(make_draft(), user.id)
    await store.close()

    again = SyncedStore(data_dir / DB_NAME)
    await again.open()
    try:
        assert (await again.outbox_counts()).pending == 5  # user, bot, two prompts, config
        await again.create_assistant(make_draft(name="Second"), user.id)  # journalled again
        assert (await again.outbox_counts()).pending == 9
    finally:
        await again.close()


async def test_touching_the_user_sends_its_document_again(synced: SyncedStore, me: User) -> None:
    await synced.touch_user(me.id)

    [entry] = await synced.claim_ready(LATER, 100)
    assert (entry.kind, entry.doc_id) == (DocumentKind.USER, me.id)
    assert entry.increments == {"sessions_started": 0, "sessions_ended": 0, "bots_created": 0}
