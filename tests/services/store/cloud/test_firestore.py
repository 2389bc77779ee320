"""The Firestore store against the real official emulator: GPT Lab's layout field by field,
bodies only as ciphertext, counters by increment, one batch per change, one showcase for two
machines, replays that count once, and typed errors within seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from google.cloud import firestore

from gptlab_desktop.models import (
    ContextMessage,
    MessageDetails,
    MessageState,
    ModelConfig,
    PromptType,
    Role,
    SessionStatus,
    User,
    UserLiked,
    new_id,
    stable_id,
    utcnow,
)
from gptlab_desktop.services.errors import (
    AlreadyApplied,
    CloudRefused,
    CloudSearchUnsupported,
    CloudUnavailable,
    NotFound,
    ReadOnlyAssistant,
    StoreUnavailable,
)
from gptlab_desktop.services.store.base import ShowcaseEntry
from gptlab_desktop.services.store.cloud import documents as docs
from gptlab_desktop.services.store.cloud.documents import CloudDocument, RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.writes import CloudWrite, CollectionKind
from tests.builders import make_draft, make_message, make_session
from tests.fakes.firestore_emulator import EMULATOR_HOST_ENV, free_port
from tests.services.store.cloud.layout import SESSION_FIELDS

pytestmark = [pytest.mark.firestore, pytest.mark.asyncio]

SECRET = "Zebulon owes me 4711 quokkas"


@pytest_asyncio.fixture
async def cloud(emulator_project: str, cipher: RecordCipher) -> AsyncIterator[FirestoreStore]:
    """A Firestore store on a fresh emulator project, open, closed afterwards."""
    store = FirestoreStore(FirestoreSettings(project_id=emulator_project), cipher)
    health = await store.open()
    assert health.is_usable, health.problem
    yield store
    await store.close()


async def two_machines(project: str) -> list[FirestoreStore]:
    """Two computers' stores on one project, each of a user of its own, open."""
    from gptlab_desktop.services.crypto import DataKey

    machines = [
        FirestoreStore(
            FirestoreSettings(project_id=project), RecordCipher(DataKey.generate(), new_id())
        )
        for _ in range(2)
    ]
    for machine in machines:
        await machine.open()
    return machines


@pytest_asyncio.fixture
async def me(cloud: FirestoreStore) -> User:
    """The store's user, created on the emulator."""
    return await cloud.local_user()


@pytest.fixture
def raw_db(emulator_project: str) -> firestore.AsyncClient:
    """A plain client of the same project, to look at the documents behind the store's back."""
    return firestore.AsyncClient(project=emulator_project)


async def raw(client: firestore.AsyncClient, path: str) -> dict[str, Any]:
    snapshot = await client.document(path).get()
    assert snapshot.exists, path
    return snapshot.to_dict()


async def commit_times(client: firestore.AsyncClient, *paths: str) -> set[object]:
    """The update times of documents: one value when one commit wrote them all."""
    snapshots = [await client.document(path).get() for path in paths]
    assert all(snapshot.exists for snapshot in snapshots)
    return {snapshot.update_time for snapshot in snapshots}


async def paths_under(client: firestore.AsyncClient, collection: str) -> set[str]:
    return {snapshot.reference.path async for snapshot in client.collection(collection).stream()}


async def a_session_with_assistant(cloud: FirestoreStore, me: User):
    assistant = await cloud.create_assistant(make_draft(), me.id)
    details = await cloud.get_assistant_details(assistant.id)
    assert details is not None
    session = make_session(
        me.id,
        assistant.id,
        bot_initial_prompt_msg=details.initial_prompt.message,
        bot_initial_prompt_id=details.initial_prompt.id,
        bot_summary_prompt_id=details.summary_prompt.id,
        bot_model_config=details.model_config.config,
        title=SECRET,
    )
    return assistant, await cloud.create_session(session)


# -- users -------------------------------------------------------------------------------------


async def test_the_local_user_is_the_ciphers_user_the_same_on_every_ask(
    cloud: FirestoreStore, cipher: RecordCipher
) -> None:
    first = await cloud.local_user()
    again = await cloud.local_user()

    assert first.id == cipher.user_id
    assert again == first


async def test_a_user_hash_is_recorded_on_the_user_and_in_user_hash(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    user = await cloud.record_user_hash(me.id, "ab" * 32)

    assert user.id == me.id and user.user_hash == "ab" * 32
    assert await cloud.get_user(me.id) == user
    stored = await raw(raw_db, f"user_hash/{'ab' * 32}")
    assert stored["user_hash_type"] == "open_ai_key"
    fields = await raw(raw_db, f"users/{me.id}")
    assert {
        "user_hash",
        "created_date",
        "last_modified_date",
        "sessions_started",
        "sessions_ended",
        "bots_created",
    } <= set(fields)


# -- assistants ----------------------------------------------------------------------------------


async def test_an_assistant_round_trips_with_its_versions_and_counts_bots_created(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    assistant = await cloud.create_assistant(make_draft(), me.id)

    details = await cloud.get_assistant_details(assistant.id)
    assert details is not None
    assert details.to_draft() == make_draft()
    assert await cloud.get_assistant(assistant.id) == assistant
    assert (await cloud.get_user(me.id)).bots_created == 1  # type: ignore[union-attr]
    bot = await raw(raw_db, f"bots/{assistant.id}")
    for name in (
        "name",
        "tag_line",
        "description",
        "session_type",
        "creator_user_id",
        "created_date",
        "last_modified_date",
        "active_initial_prompt_id",
        "active_model_config_id",
        "active_summary_prompt_id",
        "showcased",
        "is_active",
    ):
        assert name in bot, name
    assert bot["session_type"] == 3 and bot["creator_user_id"] == me.id
    prompt = await raw(raw_db, f"bots/{assistant.id}/prompts/{assistant.active_initial_prompt_id}")
    assert prompt["message_type"] == "initial" and prompt["is_active"] is True
    assert {"message", "created_date", "sessions_started", "sessions_ended"} <= set(prompt)
    config = await raw(
        raw_db, f"bots/{assistant.id}/model_configs/{assistant.active_model_config_id}"
    )
    assert config["config"] == make_draft().model_config.to_dict()
    assert config["is_active"] is True


async def test_an_edit_adds_versions_and_activating_an_old_one_moves_the_pointer(
    cloud: FirestoreStore, me: User
) -> None:
    assistant = await cloud.create_assistant(make_draft(), me.id)

    edited = await cloud.update_assistant(
        assistant.id,
        make_draft(initial_prompt="You are Plato.", model_config=ModelConfig("gpt-4o")),
    )

    prompts = await cloud.list_prompts(assistant.id, PromptType.INITIAL)
    assert [p.message for p in prompts] == ["You are Plato.", make_draft().initial_prompt]
    assert [p.is_active for p in prompts] == [True, False]
    assert edited.active_summary_prompt_id == assistant.active_summary_prompt_id
    configs = await cloud.list_model_configs(assistant.id)
    assert [c.config.model for c in configs] == ["gpt-4o", "gpt-4o-mini"]

    back = await cloud.activate_prompt(assistant.id, assistant.active_initial_prompt_id)
    back = await cloud.activate_model_config(assistant.id, assistant.active_model_config_id)

    assert back.active_initial_prompt_id == assistant.active_initial_prompt_id
    assert await cloud.get_assistant(assistant.id) == back
    details = await cloud.get_assistant_details(assistant.id)
    assert details is not None and details.to_draft() == make_draft()
    assert [p.is_active for p in await cloud.list_prompts(assistant.id, PromptType.INITIAL)] == [
        False,
        True,
    ]


async def test_archive_restore_and_list(cloud: FirestoreStore, me: User) -> None:
    kept = await cloud.create_assistant(make_draft(name="Aristotle"), me.id)
    archived = await cloud.create_assistant(make_draft(name="Zeno"), me.id)

    await cloud.set_assistant_active(archived.id, False)

    assert [a.id for a in await cloud.list_assistants()] == [kept.id]
    assert [a.name for a in await cloud.list_assistants(include_archived=True)] == [
        "Aristotle",
        "Zeno",
    ]
    restored = await cloud.set_assistant_active(archived.id, True)
    assert restored.is_active


async def test_deleting_an_assistant_removes_its_versions_keeps_sessions_and_leaves_a_tombstone(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    assistant, session = await a_session_with_assistant(cloud, me)

    await cloud.delete_assistant(assistant.id)

    assert await cloud.get_assistant(assistant.id) is None
    assert await paths_under(raw_db, f"bots/{assistant.id}/prompts") == set()
    assert await paths_under(raw_db, f"bots/{assistant.id}/model_configs") == set()
    kept = await cloud.get_session(session.id)
    assert kept is not None and kept.bot_id is None
    assert kept.bot_initial_prompt_msg == session.bot_initial_prompt_msg
    tombstones = await cloud.changed_since(CollectionKind.TOMBSTONES, utcnow() - timedelta(1))
    assert [docs.tombstone_from_document(t).path for t in tombstones] == [f"bots/{assistant.id}"]


# -- publishing ----------------------------------------------------------------------------------


async def test_a_published_assistant_is_listed_for_every_user_and_changed_by_its_author_alone(
    emulator_project: str, raw_db: firestore.AsyncClient
) -> None:
    ada, bob = await two_machines(emulator_project)
    try:
        author = await ada.local_user()
        tutor = await ada.create_assistant(make_draft(name="Tutor"), author.id)
        await ada.create_assistant(make_draft(name="Diary"), author.id)
        assert await bob.list_assistants() == []

        published = await ada.set_assistant_published(tutor.id, True, author_name="Ada")

        stored = await raw(raw_db, f"bots/{tutor.id}")
        assert (stored["published"], stored["creator_display_name"]) == (True, "Ada")
        assert [(a.name, a.creator_display_name) for a in await bob.list_assistants()] == [
            ("Tutor", "Ada")
        ]
        assert [a.name for a in await ada.list_assistants()] == ["Diary", "Tutor"]  # once each
        for change in (
            bob.update_assistant(tutor.id, make_draft(name="Bob's now")),
            bob.set_assistant_published(tutor.id, False),
        ):
            with pytest.raises(ReadOnlyAssistant):
                await change
        since = published.last_modified_date - timedelta(minutes=1)
        prompts = await bob.changed_since(CollectionKind.PROMPTS, since)
        assert {p.id for p in prompts} == {
            tutor.active_initial_prompt_id,
            tutor.active_summary_prompt_id,
        }

        await ada.set_assistant_published(tutor.id, False)
        assert await bob.list_assistants() == []
    finally:
        for machine in (ada, bob):
            await machine.close()


# -- showcase ------------------------------------------------------------------------------------


async def test_two_machines_syncing_the_same_showcase_write_it_once(
    emulator_project: str, raw_db: firestore.AsyncClient
) -> None:
    entries = [
        ShowcaseEntry("socrates", make_draft()),
        ShowcaseEntry("plato", make_draft(name="Plato", initial_prompt="You are Plato.")),
    ]
    machines = await two_machines(emulator_project)

    changes = [await machine.sync_showcase(entries) for machine in machines]

    assert changes == [2, 0]
    bots = await paths_under(raw_db, "bots")
    assert bots == {
        f"bots/{stable_id('showcase', 'socrates')}",
        f"bots/{stable_id('showcase', 'plato')}",
    }
    bot_id, initial_id, summary_id, config_id = docs.showcase_ids(entries[0].key, entries[0].draft)
    assert await paths_under(raw_db, f"bots/{bot_id}/prompts") == {
        f"bots/{bot_id}/prompts/{initial_id}",
        f"bots/{bot_id}/prompts/{summary_id}",
    }
    assert await paths_under(raw_db, f"bots/{bot_id}/model_configs") == {
        f"bots/{bot_id}/model_configs/{config_id}"
    }
    showcase = await machines[1].list_assistants()
    assert [a.name for a in showcase] == ["Plato", "Socrates"]
    assert all(a.showcased and a.creator_user_id is None for a in showcase)
    with pytest.raises(ReadOnlyAssistant):
        await machines[1].update_assistant(bot_id, make_draft(name="Mine"))
    for machine in machines:
        await machine.close()


async def test_two_machines_racing_to_write_the_showcase_write_it_once(
    emulator_project: str, raw_db: firestore.AsyncClient
) -> None:
    entries = [ShowcaseEntry("socrates", make_draft())]
    machines = await two_machines(emulator_project)

    changes = await asyncio.gather(*(machine.sync_showcase(entries) for machine in machines))

    assert sorted(changes) == [0, 1]
    assert len(await paths_under(raw_db, "bots")) == 1
    for machine in machines:
        await machine.close()


async def test_a_changed_showcase_prompt_is_a_new_version_and_changing_it_back_reuses_the_old(
    cloud: FirestoreStore,
) -> None:
    first = ShowcaseEntry("socrates", make_draft())
    second = ShowcaseEntry("socrates", make_draft(initial_prompt="You are Socrates, briefly."))
    await cloud.sync_showcase([first])

    assert await cloud.sync_showcase([second]) == 1
    assert await cloud.sync_showcase([first]) == 1
    bot_id = docs.showcase_ids(first.key, first.draft)[0]

    prompts = await cloud.list_prompts(bot_id, PromptType.INITIAL)
    assert len(prompts) == 2
    assistant = await cloud.get_assistant(bot_id)
    assert assistant is not None
    assert assistant.active_initial_prompt_id == docs.showcase_ids(first.key, first.draft)[1]
    assert {p.id: p.is_active for p in prompts} == {
        docs.showcase_ids(first.key, first.draft)[1]: True,
        docs.showcase_ids(second.key, second.draft)[1]: False,
    }


# -- sessions and messages -------------------------------------------------------------------------


async def test_a_session_round_trips_with_its_snapshot_and_counts_on_user_bot_and_prompt(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    assistant, session = await a_session_with_assistant(cloud, me)

    assert await cloud.get_session(session.id) == session
    assert [s.id for s in await cloud.list_sessions(bot_id=assistant.id)] == [session.id]
    assert (await cloud.get_user(me.id)).sessions_started == 1  # type: ignore[union-attr]
    assert (await cloud.get_assistant(assistant.id)).sessions_started == 1  # type: ignore[union-attr]
    prompt = await raw(raw_db, f"bots/{assistant.id}/prompts/{session.bot_initial_prompt_id}")
    assert prompt["sessions_started"] == 1
    stored = await raw(raw_db, f"sessions/{session.id}")
    assert set(stored) >= SESSION_FIELDS
    assert stored["status"] == 0 and stored["session_schema_version"] == 1
    assert stored["bot_model_config"] == session.bot_model_config.to_dict()


async def test_creating_the_same_session_again_counts_nothing(
    cloud: FirestoreStore, me: User
) -> None:
    assistant, session = await a_session_with_assistant(cloud, me)

    again = await cloud.create_session(session)

    assert again == session
    assert (await cloud.get_user(me.id)).sessions_started == 1  # type: ignore[union-attr]
    assert (await cloud.get_assistant(assistant.id)).sessions_started == 1  # type: ignore[union-attr]


async def test_messages_round_trip_and_count_and_bodies_are_ciphertext(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    _assistant, session = await a_session_with_assistant(cloud, me)
    question = make_message(session.id, SECRET)
    reply = make_message(
        session.id,
        "",
        role=Role.ASSISTANT,
        state=MessageState.STREAMING,
        created_date=question.created_date + timedelta(seconds=1),
    )
    context = (ContextMessage(Role.USER, SECRET, question.created_date),)

    await cloud.add_messages([question, reply], context=context)
    await cloud.update_message(
        reply.id,
        text=f"About {SECRET}",
        state=MessageState.COMPLETE,
        meta=MessageDetails(model="gpt-4o"),
    )
    await cloud.add_messages([question])  # a replay: changes and counts nothing

    messages = await cloud.list_messages(session.id)
    assert [m.message for m in messages] == [SECRET, f"About {SECRET}"]
    assert messages[1].state is MessageState.COMPLETE and messages[1].meta.model == "gpt-4o"
    stored = await cloud.get_session(session.id)
    assert stored is not None and stored.message_count == 2 and stored.context == context
    for message in messages:
        fields = await raw(raw_db, f"sessions/{session.id}/messages/{message.id}")
        assert {"created_date", "message", "role"} <= set(fields)
        assert fields["message"].startswith("v1.") and "Zebulon" not in str(fields)
    session_fields = await raw(raw_db, f"sessions/{session.id}")
    for name in docs.ENCRYPTED_SESSION_FIELDS:
        assert session_fields[name].startswith("v1."), name
    assert "Zebulon" not in str(session_fields)


async def test_a_new_store_finds_a_message_it_did_not_write(
    cloud: FirestoreStore, me: User, emulator_project: str, cipher: RecordCipher
) -> None:
    _assistant, session = await a_session_with_assistant(cloud, me)
    message = make_message(session.id, "first")
    await cloud.add_message(message)
    other = FirestoreStore(FirestoreSettings(project_id=emulator_project), cipher)
    await other.open()

    await other.update_message(message.id, text="second", state=MessageState.COMPLETE)
    await other.delete_message(message.id)

    assert await cloud.list_messages(session.id) == []
    assert (await cloud.get_session(session.id)).message_count == 0  # type: ignore[union-attr]
    await other.close()


async def test_a_pinned_session_lists_first_and_keeps_its_date(
    cloud: FirestoreStore, me: User
) -> None:
    _assistant, older = await a_session_with_assistant(cloud, me)
    _other, newer = await a_session_with_assistant(cloud, me)
    before = await cloud.get_session(older.id)
    assert before is not None

    await cloud.pin_session(older.id, True)

    pinned = await cloud.get_session(older.id)
    assert pinned is not None and pinned.is_pinned
    assert pinned.last_modified_date == before.last_modified_date
    assert [s.id for s in await cloud.list_session_summaries()][:2] == [older.id, newer.id]


async def test_ending_a_session_counts_once_and_keeps_rating_and_recap_encrypted(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    assistant, session = await a_session_with_assistant(cloud, me)
    await cloud.update_session_context(session.id, (ContextMessage(Role.USER, "hi", utcnow()),))
    await cloud.rename_session(session.id, "A new title")

    ended = await cloud.end_session(
        session.id, SessionStatus.COMPLETED, user_liked=UserLiked.LIKED, recap=SECRET
    )
    again = await cloud.end_session(session.id, SessionStatus.COMPLETED)

    assert again.recap == SECRET and again.user_liked is UserLiked.LIKED
    stored = await cloud.get_session(session.id)
    assert stored is not None
    assert (stored.status, stored.user_liked, stored.recap, stored.title) == (
        SessionStatus.COMPLETED,
        UserLiked.LIKED,
        SECRET,
        "A new title",
    )
    assert ended.status is SessionStatus.COMPLETED
    assert (await cloud.get_user(me.id)).sessions_ended == 1  # type: ignore[union-attr]
    assert (await cloud.get_assistant(assistant.id)).sessions_ended == 1  # type: ignore[union-attr]
    prompt = await raw(raw_db, f"bots/{assistant.id}/prompts/{session.bot_initial_prompt_id}")
    assert prompt["sessions_ended"] == 1
    fields = await raw(raw_db, f"sessions/{session.id}")
    assert fields["status"] == 1 and fields["user_liked"] == 1
    assert fields["recap"].startswith("v1.") and "Zebulon" not in str(fields)


async def test_deleting_a_session_removes_its_messages_and_leaves_one_tombstone(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    _assistant, session = await a_session_with_assistant(cloud, me)
    await cloud.add_messages([make_message(session.id, "one"), make_message(session.id, "two")])
    since = utcnow() - timedelta(minutes=1)

    await cloud.delete_session(session.id)

    assert await cloud.get_session(session.id) is None
    assert await paths_under(raw_db, f"sessions/{session.id}/messages") == set()
    tombstones = await cloud.changed_since(CollectionKind.TOMBSTONES, since)
    assert [docs.tombstone_from_document(t).path for t in tombstones] == [f"sessions/{session.id}"]
    with pytest.raises(NotFound):
        await cloud.delete_session(session.id)


async def test_a_session_too_long_for_one_batch_is_deleted_whole(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    session = await cloud.create_session(make_session(me.id, None))
    start = utcnow()
    await cloud.add_messages(
        [
            make_message(session.id, f"message {n}", created_date=start + timedelta(seconds=n))
            for n in range(300)
        ]
    )

    await cloud.delete_session(session.id)

    assert await paths_under(raw_db, f"sessions/{session.id}/messages") == set()
    assert await cloud.get_session(session.id) is None


async def test_search_is_refused_with_a_reason(cloud: FirestoreStore) -> None:
    with pytest.raises(CloudSearchUnsupported):
        await cloud.search_messages("anything")


async def test_settings_round_trip(cloud: FirestoreStore, me: User) -> None:
    await cloud.set_setting("account.example", "one")
    await cloud.set_setting("account.example", "two")

    assert await cloud.get_setting("account.example") == "two"
    assert await cloud.get_setting("account.other") is None


# -- one commit per change ---------------------------------------------------------------------


async def test_creating_an_assistant_is_one_commit(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    assistant = await cloud.create_assistant(make_draft(), me.id)

    bot = f"bots/{assistant.id}"
    assert (
        len(
            await commit_times(
                raw_db,
                f"users/{me.id}",
                bot,
                f"{bot}/prompts/{assistant.active_initial_prompt_id}",
                f"{bot}/prompts/{assistant.active_summary_prompt_id}",
                f"{bot}/model_configs/{assistant.active_model_config_id}",
            )
        )
        == 1
    )


async def test_a_chat_turn_is_one_commit(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    _assistant, session = await a_session_with_assistant(cloud, me)
    question = make_message(session.id, "question")
    reply = make_message(session.id, "reply", role=Role.ASSISTANT)

    await cloud.add_messages(
        [question, reply], context=(ContextMessage(Role.USER, "question", utcnow()),)
    )

    base = f"sessions/{session.id}"
    times = await commit_times(
        raw_db, base, f"{base}/messages/{question.id}", f"{base}/messages/{reply.id}"
    )
    assert len(times) == 1


async def test_ending_a_session_is_one_commit(
    cloud: FirestoreStore, me: User, raw_db: firestore.AsyncClient
) -> None:
    assistant, session = await a_session_with_assistant(cloud, me)

    await cloud.end_session(session.id, SessionStatus.ABANDONED_BY_USER)

    times = await commit_times(
        raw_db,
        f"sessions/{session.id}",
        f"users/{me.id}",
        f"bots/{assistant.id}",
        f"bots/{assistant.id}/prompts/{session.bot_initial_prompt_id}",
    )
    assert len(times) == 1


# -- the replayer's API ----------------------------------------------------------------------------


async def test_a_replayed_batch_with_a_marker_is_refused_and_counts_once(
    cloud: FirestoreStore, me: User
) -> None:
    marker = new_id()
    writes = [
        CloudWrite.increment(docs.user_path(me.id), {"bots_created": 2}, marker_id=marker),
        CloudWrite.merge(docs.modified_document(docs.user_path(me.id), utcnow())),
    ]
    await cloud.commit(writes)

    with pytest.raises(AlreadyApplied) as refused:
        await cloud.commit(writes)

    assert refused.value.marker_ids == (marker,)
    assert (await cloud.get_user(me.id)).bots_created == 2  # type: ignore[union-attr]
    assert await cloud.applied_markers([marker, new_id()]) == {marker}


async def test_writes_sharing_a_marker_land_once_and_a_replay_names_that_marker(
    cloud: FirestoreStore, me: User
) -> None:
    marker = new_id()
    user = docs.user_path(me.id)
    writes = [
        CloudWrite.increment(user, {"sessions_started": 1}, marker_id=marker),
        CloudWrite.increment(user, {"sessions_ended": 1}, marker_id=marker),
    ]
    await cloud.commit(writes)
    fresh = CloudWrite.increment(user, {"bots_created": 1}, marker_id=new_id())

    with pytest.raises(AlreadyApplied) as refused:
        await cloud.commit([*writes, fresh])

    assert refused.value.marker_ids == (marker,)
    stored = await cloud.get_user(me.id)
    assert stored is not None
    assert (stored.sessions_started, stored.sessions_ended, stored.bots_created) == (1, 1, 0)


async def test_a_replayer_that_drops_landed_entries_sends_everything_exactly_once(
    cloud: FirestoreStore, me: User, cipher: RecordCipher
) -> None:
    session = make_session(me.id, None)
    message = make_message(session.id, SECRET)
    user = docs.user_path(me.id)
    entries = {
        "start": [
            CloudWrite.set(docs.session_document(session, cipher), marker_id="start"),
            CloudWrite.increment(user, {"sessions_started": 1}, marker_id="start"),
        ],
        "turn": [
            CloudWrite.set(docs.message_document(message, cipher), marker_id="turn"),
            CloudWrite.increment(
                docs.session_path(session.id), {"message_count": 1}, marker_id="turn"
            ),
        ],
        "end": [CloudWrite.increment(user, {"sessions_ended": 1}, marker_id="end")],
    }
    await cloud.commit(entries["start"] + entries["turn"])  # landed, but say the answer was lost

    pending = list(entries)
    while pending:
        try:
            await cloud.commit([write for name in pending for write in entries[name]])
        except AlreadyApplied as landed:
            pending = [name for name in pending if name not in landed.marker_ids]
        else:
            pending = []

    stored = await cloud.get_user(me.id)
    assert stored is not None and (stored.sessions_started, stored.sessions_ended) == (1, 1)
    assert (await cloud.get_session(session.id)).message_count == 1  # type: ignore[union-attr]
    assert await cloud.list_messages(session.id) == [message]
    assert await cloud.applied_markers(entries) == set(entries)


async def test_creating_an_existing_document_without_a_landed_marker_is_refused(
    cloud: FirestoreStore, me: User
) -> None:
    existing = docs.user_document(me)

    with pytest.raises(CloudRefused):
        await cloud.commit([CloudWrite.create(existing, marker_id=new_id())])


async def test_a_multi_document_change_is_one_atomic_commit(
    cloud: FirestoreStore, me: User, cipher: RecordCipher, raw_db: firestore.AsyncClient
) -> None:
    session = make_session(me.id, None)
    good = CloudWrite.set(docs.session_document(session, cipher))
    missing = CloudWrite.increment(docs.bot_path(new_id()), {"sessions_started": 1})

    with pytest.raises(NotFound):
        await cloud.commit([good, missing])

    assert not (await raw_db.document(good.path).get()).exists


async def test_changed_since_finds_what_another_machine_wrote(
    cloud: FirestoreStore, me: User, emulator_project: str, cipher: RecordCipher
) -> None:
    other = FirestoreStore(FirestoreSettings(project_id=emulator_project), cipher)
    await other.open()
    since = utcnow() - timedelta(minutes=1)
    _assistant, session = await a_session_with_assistant(other, me)
    message = make_message(session.id, "from the other machine")
    await other.add_message(message)

    sessions = await cloud.changed_since(CollectionKind.SESSIONS, since)
    messages = await cloud.changed_since(CollectionKind.MESSAGES, since)
    bots = await cloud.changed_since(CollectionKind.BOTS, since)
    prompts = await cloud.changed_since(CollectionKind.PROMPTS, since)
    users = await cloud.changed_since(CollectionKind.USERS, since)

    assert [docs.session_from_document(d, cipher).id for d in sessions] == [session.id]
    assert [docs.message_from_document(d, cipher) for d in messages] == [message]
    assert len(bots) == 1 and len(prompts) == 2 and len(users) == 1
    latest = messages[-1].data[docs.SERVER_MODIFIED_FIELD]
    later = await cloud.changed_since(CollectionKind.MESSAGES, latest + timedelta(seconds=1))
    assert later == []
    await other.close()


# -- errors ------------------------------------------------------------------------------------


async def test_a_write_the_server_refuses_is_cloud_refused(cloud: FirestoreStore, me: User) -> None:
    too_large = CloudDocument(docs.setting_path(me.id, "big"), {"value": "x" * 1_100_000})

    with pytest.raises(CloudRefused) as refused:
        await cloud.commit([CloudWrite.set(too_large)])

    assert "not accepted" in refused.value.reason


async def test_an_unreachable_host_fails_within_seconds_as_cloud_unavailable(
    monkeypatch: pytest.MonkeyPatch, cipher: RecordCipher
) -> None:
    monkeypatch.setenv(EMULATOR_HOST_ENV, f"127.0.0.1:{free_port()}")
    store = FirestoreStore(
        FirestoreSettings(project_id="unreachable", rpc_timeout_s=1.0, retry_deadline_s=2.0),
        cipher,
    )
    await store.open()
    started = time.monotonic()

    with pytest.raises(CloudUnavailable):
        await store.local_user()
    with pytest.raises(CloudUnavailable):
        await store.set_setting("a", "b")

    assert time.monotonic() - started < 10
    await store.close()


async def test_without_credentials_open_reports_the_problem_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch, tmp_path, cipher: RecordCipher
) -> None:
    monkeypatch.delenv(EMULATOR_HOST_ENV, raising=False)
    # No ADC file, no gcloud configuration, and no metadata server to ask.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    store = FirestoreStore(FirestoreSettings(project_id="no-credentials"), cipher)

    health = await store.open()

    assert not health.is_usable
    assert health.problem and "credentials" in health.problem.lower()
    with pytest.raises(StoreUnavailable):
        await store.local_user()
