"""Another machine's changes into the cache: last writer wins per document, counters converge,
deletions win, and nothing pulled is ever sent back."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.models import MessageState, Role, User, new_id, utcnow
from gptlab_desktop.services.errors import ReadOnlyAssistant
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.outbox import DocumentKind
from tests.builders import (
    DB_NAME,
    cache_published_assistant,
    make_draft,
    make_message,
    start_session,
)

pytestmark = pytest.mark.asyncio

LATER = "9999-01-01T00:00:00.000000+00:00"


@pytest_asyncio.fixture
async def synced(data_dir: Path) -> AsyncIterator[SyncedStore]:
    store = SyncedStore(data_dir / DB_NAME)
    assert (await store.open()).is_usable
    await store.journal_for("firestore:test/(default)")
    yield store
    await store.close()


@pytest_asyncio.fixture
async def me(synced: SyncedStore) -> User:
    user = await synced.local_user()
    await flush(synced)
    return user


async def flush(store: SyncedStore) -> None:
    """As if the replayer had sent everything waiting."""
    await store.mark_sent([entry.id for entry in await store.claim_ready(LATER, 1000)])


async def test_a_session_from_another_machine_arrives_with_its_messages_and_is_not_sent_back(
    synced: SyncedStore, me: User
) -> None:
    elsewhere = dataclasses.replace(
        await start_session(synced, me, None), id=new_id(), title="From the laptop"
    )
    messages = [make_message(elsewhere.id, "hello from the laptop")]
    await flush(synced)

    changes = await synced.apply_pulled([*messages, elsewhere])  # any order: parents first

    assert changes.ids(DocumentKind.SESSION) == {elsewhere.id}
    assert (await synced.get_session(elsewhere.id)).title == "From the laptop"  # type: ignore[union-attr]
    assert [m.message for m in await synced.list_messages(elsewhere.id)] == [
        "hello from the laptop"
    ]
    assert (await synced.outbox_counts()).pending == 0
    hits = await synced.search_messages("laptop")
    assert [hit.session_id for hit in hits] == [elsewhere.id]


async def test_the_newer_edit_wins_whichever_machine_made_it(synced: SyncedStore, me: User) -> None:
    session = await start_session(synced, me, None)
    await synced.rename_session(session.id, "Mine, newer")
    await flush(synced)
    local = await synced.get_session(session.id)
    assert local is not None
    older = dataclasses.replace(
        local, title="Theirs, older", last_modified_date=local.last_modified_date - timedelta(1)
    )
    newer = dataclasses.replace(
        local, title="Theirs, newer", last_modified_date=local.last_modified_date + timedelta(1)
    )

    assert (await synced.apply_pulled([older])).is_empty
    assert (await synced.get_session(session.id)).title == "Mine, newer"  # type: ignore[union-attr]
    await synced.apply_pulled([newer])
    assert (await synced.get_session(session.id)).title == "Theirs, newer"  # type: ignore[union-attr]


async def test_a_pin_is_journalled_as_its_session_and_one_changed_elsewhere_arrives(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    await flush(synced)

    await synced.pin_session(session.id, True)

    [entry] = await synced.claim_ready(LATER, 10)
    assert (entry.kind, entry.doc_id) == (DocumentKind.SESSION, session.id)
    assert entry.record is not None and entry.record.is_pinned  # type: ignore[union-attr]
    await synced.mark_sent([entry.id])
    # Unpinned on the laptop: no activity, so the same last modified date.
    local = await synced.get_session(session.id)
    assert local is not None
    await synced.apply_pulled([dataclasses.replace(local, is_pinned=False)])
    assert (await synced.get_session(session.id)).is_pinned is False  # type: ignore[union-attr]


async def test_a_local_write_not_yet_sent_is_kept_over_a_pulled_one(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    await flush(synced)
    reply = make_message(session.id, "mine", role=Role.ASSISTANT)
    await synced.add_messages([reply])  # waiting in the outbox

    await synced.apply_pulled([dataclasses.replace(reply, message="theirs")])

    assert [m.message for m in await synced.list_messages(session.id)] == ["mine"]


async def test_counters_become_the_clouds_plus_what_is_still_to_be_sent(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    await flush(synced)
    await synced.add_messages([make_message(session.id, "one"), make_message(session.id, "two")])
    stored = await synced.get_session(session.id)
    assert stored is not None
    # The cloud has counted 5 messages from other machines, not yet this machine's two.
    cloud = dataclasses.replace(
        stored, message_count=5, last_modified_date=stored.last_modified_date - timedelta(1)
    )

    await synced.apply_pulled([cloud])

    assert (await synced.get_session(session.id)).message_count == 7  # type: ignore[union-attr]


async def test_a_deletion_from_another_machine_wins_over_a_waiting_edit(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    await synced.add_messages([make_message(session.id, "soon gone")])
    await flush(synced)
    await synced.rename_session(session.id, "Renamed here")  # waiting

    changes = await synced.apply_pulled([], [(DocumentKind.SESSION, session.id)])

    assert changes.ids(DocumentKind.SESSION) == {session.id}
    assert await synced.get_session(session.id) is None
    assert await synced.search_messages("soon") == []
    assert (await synced.outbox_counts()).pending == 0  # nothing sent back, no edit resurrects


async def test_a_document_deleted_here_is_not_brought_back_by_a_pull(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    await flush(synced)
    await synced.delete_session(session.id)  # the delete waits in the outbox

    assert (await synced.apply_pulled([session])).is_empty
    assert await synced.get_session(session.id) is None


async def test_a_session_of_an_assistant_this_machine_no_longer_has_keeps_its_snapshot(
    synced: SyncedStore, me: User
) -> None:
    assistant = await synced.create_assistant(make_draft(), me.id)
    theirs = await start_session(synced, me, assistant.id)
    await synced.delete_session(theirs.id)
    await synced.delete_assistant(assistant.id)
    await flush(synced)

    await synced.apply_pulled([theirs])

    pulled = await synced.get_session(theirs.id)
    assert pulled is not None
    assert (pulled.bot_id, pulled.bot_initial_prompt_id) == (None, None)
    assert pulled.bot_initial_prompt_msg == theirs.bot_initial_prompt_msg


async def test_a_streaming_message_pulled_then_finished_is_replaced(
    synced: SyncedStore, me: User
) -> None:
    session = await start_session(synced, me, None)
    await flush(synced)
    reply = make_message(session.id, "Hel", role=Role.ASSISTANT, state=MessageState.STREAMING)
    await synced.apply_pulled([reply])

    await synced.apply_pulled(
        [dataclasses.replace(reply, message="Hello!", state=MessageState.COMPLETE)]
    )

    [stored] = await synced.list_messages(session.id)
    assert (stored.message, stored.state) == ("Hello!", MessageState.COMPLETE)
    assert utcnow() >= stored.created_date


# -- a shared project's lobby -----------------------------------------------------------------


async def test_publishing_and_withdrawing_an_own_assistant_are_edits_sent_as_such(
    synced: SyncedStore, me: User
) -> None:
    mine = await synced.create_assistant(make_draft(), me.id)
    await flush(synced)

    await synced.set_assistant_published(mine.id, True, author_name="Ada")
    [entry] = await synced.claim_ready(LATER, 10)
    assert (entry.kind, entry.doc_id) == (DocumentKind.BOT, mine.id)
    assert not any(entry.increments.values())  # an edit: nothing counted
    assert entry.record.published and entry.record.creator_display_name == "Ada"  # type: ignore[union-attr]
    await synced.mark_sent([entry.id])

    withdrawn = await synced.set_assistant_published(mine.id, False)
    assert (withdrawn.published, withdrawn.creator_display_name) == (False, "Ada")
    [entry] = await synced.claim_ready(LATER, 10)
    assert not entry.record.published  # type: ignore[union-attr]


async def test_another_users_published_assistant_is_cached_read_only_and_counts_each_session(
    synced: SyncedStore, me: User
) -> None:
    theirs = await cache_published_assistant(synced, version_sessions_started=0)
    await flush(synced)  # nothing pulled waits to be sent back
    assert await synced.claim_ready(LATER, 10) == []

    cached = await synced.get_assistant(theirs.id)
    assert cached is not None
    assert (cached.published, cached.creator_display_name, cached.creator_user_id) == (
        True,
        "Ada",
        "ada",
    )
    for change in (
        synced.update_assistant(theirs.id, make_draft(name="Mine now")),
        synced.set_assistant_published(theirs.id, False),
        synced.set_assistant_active(theirs.id, False),
        synced.delete_assistant(theirs.id),
    ):
        with pytest.raises(ReadOnlyAssistant):
            await change

    await start_session(synced, me, theirs.id)

    counted = {
        entry.kind: entry.increments
        for entry in await synced.claim_ready(LATER, 10)
        if entry.kind in (DocumentKind.BOT, DocumentKind.PROMPT)
    }
    started = {"sessions_started": 1, "sessions_ended": 0}
    assert counted == {DocumentKind.BOT: started, DocumentKind.PROMPT: started}
    listed = {a.id: a for a in await synced.list_assistants()}
    assert listed[theirs.id].version_sessions_started == 1
