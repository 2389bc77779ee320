"""The SQLite store: entities, versions, counters, transactions, search and threading.

Every test uses a real SQLite file in its own data directory.
"""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlab_desktop.models import (
    AssistantDraft,
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    PromptType,
    Role,
    Session,
    SessionStatus,
    SessionType,
    User,
    UserLiked,
    new_id,
    utcnow,
)
from gptlab_desktop.services.errors import NotFound, ReadOnlyAssistant, StoreError
from gptlab_desktop.services.store.base import SNIPPET_CLOSE, SNIPPET_OPEN, ShowcaseEntry
from gptlab_desktop.services.store.sqlite import SqliteStore

DB_NAME = "gptlab.sqlite3"


def make_draft(**changes: object) -> AssistantDraft:
    values: dict[str, object] = {
        "name": "Socrates",
        "tag_line": "Asks, never tells",
        "description": "A tutor who answers questions with questions.",
        "initial_prompt": "You are Socrates. Ask one question at a time.",
        "summary_prompt": "Summarise what the student discovered.",
        "model_config": ModelConfig("gpt-4o-mini", max_tokens=300, temperature=0.5),
        "session_type": SessionType.COACHING,
        "guards_prompt_leak": False,
    }
    values.update(changes)
    return AssistantDraft(**values)  # type: ignore[arg-type]


@contextmanager
def raw(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """A second, independent connection to the store's file, to look behind its back."""
    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.row_factory = sqlite3.Row
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def count_rows(data_dir: Path, table: str) -> int:
    with raw(data_dir) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest_asyncio.fixture
async def store(data_dir: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(data_dir / DB_NAME)
    health = await opened.open()
    assert health.is_usable, health.problem
    yield opened
    await opened.close()


@pytest_asyncio.fixture
async def user(store: SqliteStore) -> User:
    return await store.local_user()


async def start_session(store: SqliteStore, user: User, assistant_id: str | None) -> Session:
    """A session started the way the chat engine starts one: from the active versions."""
    details = await store.get_assistant_details(assistant_id) if assistant_id else None
    now = utcnow()
    session = Session(
        id=new_id(),
        user_id=user.id,
        bot_id=assistant_id,
        bot_initial_prompt_msg=details.initial_prompt.message if details else "Be helpful.",
        bot_model_config=details.model_config.config if details else ModelConfig("gpt-4o"),
        bot_session_type=details.assistant.session_type if details else SessionType.BRAINSTORMING,
        bot_summary_prompt_msg=details.summary_prompt.message if details else "Summarise.",
        created_date=now,
        last_modified_date=now,
        bot_initial_prompt_id=details.initial_prompt.id if details else None,
        bot_summary_prompt_id=details.summary_prompt.id if details else None,
    )
    return await store.create_session(session)


def make_message(session_id: str, text: str, **changes: object) -> Message:
    values: dict[str, object] = {
        "id": new_id(),
        "session_id": session_id,
        "role": Role.USER,
        "message": text,
        "created_date": utcnow(),
    }
    values.update(changes)
    return Message(**values)  # type: ignore[arg-type]


# -- users ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_fresh_store_has_its_local_user_at_once(store: SqliteStore) -> None:
    user = await store.local_user()

    assert user.id and len(user.id) == len(new_id())
    assert user.user_hash is None
    assert user.created_date.tzinfo is not None
    assert (user.sessions_started, user.sessions_ended, user.bots_created) == (0, 0, 0)
    assert await store.local_user() == user


@pytest.mark.asyncio
async def test_the_local_user_is_the_same_after_reopening(data_dir: Path) -> None:
    first_store = SqliteStore(data_dir / DB_NAME)
    assert (await first_store.open()).is_usable
    first = await first_store.local_user()
    await first_store.close()

    again_store = SqliteStore(data_dir / DB_NAME)
    assert (await again_store.open()).is_usable
    try:
        again = await again_store.local_user()
    finally:
        await again_store.close()

    assert again == first
    assert count_rows(data_dir, "users") == 1


@pytest.mark.asyncio
async def test_two_stores_asking_at_once_make_one_local_user(data_dir: Path) -> None:
    stores = [SqliteStore(data_dir / DB_NAME) for _ in range(2)]
    for opened in stores:
        assert (await opened.open()).is_usable
    try:
        first, second = await asyncio.gather(*(opened.local_user() for opened in stores))
    finally:
        for opened in stores:
            await opened.close()

    assert first == second
    assert count_rows(data_dir, "users") == 1


@pytest.mark.asyncio
async def test_recording_a_user_hash_writes_it_and_keeps_the_id(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    recorded = await store.record_user_hash(user.id, "b" * 64)

    assert recorded.id == user.id
    assert recorded.user_hash == "b" * 64
    assert await store.local_user() == recorded == await store.get_user(user.id)
    with raw(data_dir) as conn:
        record = conn.execute("SELECT * FROM user_hash WHERE user_hash = ?", ("b" * 64,)).fetchone()
    assert record["user_hash_type"] == "open_ai_key"


@pytest.mark.asyncio
async def test_recording_the_same_user_hash_again_changes_nothing(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    recorded = await store.record_user_hash(user.id, "b" * 64)

    again = await store.record_user_hash(user.id, "b" * 64)

    assert again == recorded
    assert count_rows(data_dir, "user_hash") == 1


@pytest.mark.asyncio
async def test_a_new_key_s_hash_replaces_the_old_one_on_the_same_user(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    await store.record_user_hash(user.id, "b" * 64)

    recorded = await store.record_user_hash(user.id, "c" * 64)

    assert (recorded.id, recorded.user_hash) == (user.id, "c" * 64)
    # GPT Lab's user_hash records are kept, one per key ever used.
    assert count_rows(data_dir, "user_hash") == 2


@pytest.mark.asyncio
async def test_recording_a_hash_for_an_unknown_user_raises_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.record_user_hash("nobody", "b" * 64)


@pytest.mark.asyncio
async def test_get_user_reads_back_a_user_and_none_for_unknown_ids(
    store: SqliteStore, user: User
) -> None:
    assert await store.get_user(user.id) == user
    assert await store.get_user("nobody") is None


# -- assistants -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_created_assistant_round_trips_with_its_first_versions(
    store: SqliteStore, user: User
) -> None:
    draft = make_draft(guards_prompt_leak=True)
    assistant = await store.create_assistant(draft, user.id)

    details = await store.get_assistant_details(assistant.id)
    assert details is not None
    assert details.to_draft() == draft
    assert details.assistant == assistant == await store.get_assistant(assistant.id)
    assert assistant.creator_user_id == user.id
    assert not assistant.showcased and assistant.is_active
    assert details.initial_prompt.message_type is PromptType.INITIAL
    assert details.summary_prompt.message_type is PromptType.SUMMARY
    assert details.initial_prompt.is_active and details.model_config.is_active
    assert assistant.session_type is SessionType.COACHING


@pytest.mark.asyncio
async def test_unknown_assistant_reads_as_none(store: SqliteStore) -> None:
    assert await store.get_assistant("missing") is None
    assert await store.get_assistant_details("missing") is None


@pytest.mark.asyncio
async def test_creating_an_assistant_counts_bots_created(store: SqliteStore, user: User) -> None:
    await store.create_assistant(make_draft(), user.id)
    await store.create_assistant(make_draft(name="Second"), user.id)

    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 2


@pytest.mark.asyncio
async def test_creating_an_assistant_for_an_unknown_user_leaves_nothing(
    store: SqliteStore, data_dir: Path
) -> None:
    with pytest.raises(NotFound):
        await store.create_assistant(make_draft(), "nobody")

    assert count_rows(data_dir, "bots") == 0
    assert count_rows(data_dir, "prompts") == 0


@pytest.mark.asyncio
async def test_creating_an_assistant_is_one_transaction(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    # Make the summary prompt's insert (after the bot and the initial prompt) fail.
    with raw(data_dir) as conn:
        conn.execute(
            "CREATE TRIGGER fail_summary BEFORE INSERT ON prompts "
            "WHEN new.message_type = 'summary' BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )

    with pytest.raises(StoreError):
        await store.create_assistant(make_draft(), user.id)

    for table in ("bots", "prompts", "model_configs"):
        assert count_rows(data_dir, table) == 0, table
    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 0


@pytest.mark.asyncio
async def test_a_changed_prompt_becomes_a_new_active_version(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    updated = await store.update_assistant(
        assistant.id, make_draft(initial_prompt="You are Socrates, and brief.")
    )

    versions = await store.list_prompts(assistant.id, PromptType.INITIAL)
    assert [p.message for p in versions] == [
        "You are Socrates, and brief.",
        "You are Socrates. Ask one question at a time.",
    ]
    assert [p.is_active for p in versions] == [True, False]
    assert updated.active_initial_prompt_id == versions[0].id
    assert updated.active_summary_prompt_id == assistant.active_summary_prompt_id
    assert updated.active_model_config_id == assistant.active_model_config_id
    assert len(await store.list_prompts(assistant.id, PromptType.SUMMARY)) == 1
    assert updated.last_modified_date > assistant.last_modified_date


@pytest.mark.asyncio
async def test_a_changed_summary_prompt_becomes_a_new_version(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    updated = await store.update_assistant(assistant.id, make_draft(summary_prompt="List it."))

    versions = await store.list_prompts(assistant.id, PromptType.SUMMARY)
    assert [p.message for p in versions] == ["List it.", make_draft().summary_prompt]
    assert updated.active_summary_prompt_id == versions[0].id
    assert len(await store.list_prompts(assistant.id, PromptType.INITIAL)) == 1


@pytest.mark.asyncio
async def test_a_changed_model_config_becomes_a_new_active_version(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    new_config = ModelConfig("gpt-4o", max_tokens=500, temperature=1.2, top_p=0.9)

    updated = await store.update_assistant(assistant.id, make_draft(model_config=new_config))

    versions = await store.list_model_configs(assistant.id)
    assert [v.config for v in versions] == [new_config, make_draft().model_config]
    assert [v.is_active for v in versions] == [True, False]
    assert updated.active_model_config_id == versions[0].id


@pytest.mark.asyncio
async def test_an_unchanged_draft_adds_no_version(store: SqliteStore, user: User) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    updated = await store.update_assistant(assistant.id, make_draft())

    assert updated == assistant
    assert len(await store.list_prompts(assistant.id, PromptType.INITIAL)) == 1
    assert len(await store.list_prompts(assistant.id, PromptType.SUMMARY)) == 1
    assert len(await store.list_model_configs(assistant.id)) == 1


@pytest.mark.asyncio
async def test_plain_fields_change_in_place(store: SqliteStore, user: User) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    draft = make_draft(
        name="Plato",
        tag_line="Forms",
        description="Ideas first.",
        session_type=SessionType.BRAINSTORMING,
        guards_prompt_leak=True,
    )

    updated = await store.update_assistant(assistant.id, draft)

    details = await store.get_assistant_details(assistant.id)
    assert details is not None and details.to_draft() == draft
    assert (updated.name, updated.tag_line, updated.description) == (
        "Plato",
        "Forms",
        "Ideas first.",
    )
    assert updated.session_type is SessionType.BRAINSTORMING and updated.guards_prompt_leak
    assert updated.active_initial_prompt_id == assistant.active_initial_prompt_id
    assert updated.last_modified_date > assistant.last_modified_date
    assert updated.created_date == assistant.created_date


@pytest.mark.asyncio
async def test_activating_an_older_prompt_rolls_the_assistant_back(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    await store.update_assistant(assistant.id, make_draft(initial_prompt="Newer prompt."))

    rolled_back = await store.activate_prompt(assistant.id, assistant.active_initial_prompt_id)

    assert rolled_back.active_initial_prompt_id == assistant.active_initial_prompt_id
    versions = await store.list_prompts(assistant.id, PromptType.INITIAL)
    assert [(p.message, p.is_active) for p in versions] == [
        ("Newer prompt.", False),
        ("You are Socrates. Ask one question at a time.", True),
    ]
    details = await store.get_assistant_details(assistant.id)
    assert details is not None and details.initial_prompt.message == make_draft().initial_prompt


@pytest.mark.asyncio
async def test_activating_an_older_model_config_rolls_the_assistant_back(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    await store.update_assistant(assistant.id, make_draft(model_config=ModelConfig("gpt-4")))

    rolled_back = await store.activate_model_config(assistant.id, assistant.active_model_config_id)

    assert rolled_back.active_model_config_id == assistant.active_model_config_id
    versions = await store.list_model_configs(assistant.id)
    assert [v.is_active for v in versions] == [False, True]
    details = await store.get_assistant_details(assistant.id)
    assert details is not None and details.model_config.config == make_draft().model_config


@pytest.mark.asyncio
async def test_a_version_of_another_assistant_cannot_be_activated(
    store: SqliteStore, user: User
) -> None:
    mine = await store.create_assistant(make_draft(), user.id)
    other = await store.create_assistant(make_draft(name="Other"), user.id)

    with pytest.raises(NotFound):
        await store.activate_prompt(mine.id, other.active_initial_prompt_id)
    with pytest.raises(NotFound):
        await store.activate_model_config(mine.id, other.active_model_config_id)


@pytest.mark.asyncio
async def test_unknown_assistant_ids_raise_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.update_assistant("missing", make_draft())
    with pytest.raises(NotFound):
        await store.set_assistant_active("missing", False)
    with pytest.raises(NotFound):
        await store.delete_assistant("missing")
    with pytest.raises(NotFound):
        await store.activate_prompt("missing", "missing")
    with pytest.raises(NotFound):
        await store.activate_model_config("missing", "missing")
    with pytest.raises(NotFound):
        await store.list_prompts("missing", PromptType.INITIAL)
    with pytest.raises(NotFound):
        await store.list_model_configs("missing")


@pytest.mark.asyncio
async def test_archived_assistants_are_listed_only_when_asked_and_can_be_restored(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    archived = await store.set_assistant_active(assistant.id, False)
    assert not archived.is_active
    assert await store.list_assistants() == []
    assert [a.id for a in await store.list_assistants(include_archived=True)] == [assistant.id]

    restored = await store.set_assistant_active(assistant.id, True)
    assert restored.is_active
    assert [a.id for a in await store.list_assistants()] == [assistant.id]


@pytest.mark.asyncio
async def test_assistants_list_showcased_first_then_own_each_by_name_ignoring_case(
    store: SqliteStore, user: User
) -> None:
    for name in ("zeta", "Alpha", "beta"):
        await store.create_assistant(make_draft(name=name), user.id)
    await store.sync_showcase(
        [
            ShowcaseEntry("yak", make_draft(name="Yak")),
            ShowcaseEntry("bee", make_draft(name="bee")),
        ]
    )

    listed = await store.list_assistants()

    assert [(a.name, a.showcased) for a in listed] == [
        ("bee", True),
        ("Yak", True),
        ("Alpha", False),
        ("beta", False),
        ("zeta", False),
    ]


@pytest.mark.asyncio
async def test_deleting_an_assistant_removes_its_versions_and_keeps_its_sessions(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    session = await start_session(store, user, assistant.id)

    await store.delete_assistant(assistant.id)

    assert await store.get_assistant(assistant.id) is None
    assert count_rows(data_dir, "prompts") == 0
    assert count_rows(data_dir, "model_configs") == 0
    kept = await store.get_session(session.id)
    assert kept is not None
    assert kept.bot_id is None and kept.bot_initial_prompt_id is None
    assert kept.bot_initial_prompt_msg == make_draft().initial_prompt
    assert kept.bot_model_config == make_draft().model_config
    # The creator's statistics are history: deleting does not uncount.
    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 1


# -- showcase -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_showcase_sync_inserts_showcased_assistants_owned_by_nobody(
    store: SqliteStore, user: User
) -> None:
    changes = await store.sync_showcase(
        [ShowcaseEntry("socrates", make_draft(guards_prompt_leak=True))]
    )

    assert changes == 1
    (assistant,) = await store.list_assistants()
    assert assistant.showcased and assistant.showcase_key == "socrates"
    assert assistant.creator_user_id is None and assistant.guards_prompt_leak
    refreshed = await store.get_user(user.id)
    assert refreshed is not None and refreshed.bots_created == 0


@pytest.mark.asyncio
async def test_showcase_sync_twice_changes_nothing_the_second_time(
    store: SqliteStore, data_dir: Path
) -> None:
    entries = [ShowcaseEntry("a", make_draft(name="A")), ShowcaseEntry("b", make_draft(name="B"))]

    assert await store.sync_showcase(entries) == 2
    before = await store.list_assistants()
    assert await store.sync_showcase(entries) == 0

    assert await store.list_assistants() == before
    assert count_rows(data_dir, "prompts") == 4
    assert count_rows(data_dir, "model_configs") == 2


@pytest.mark.asyncio
async def test_showcase_sync_updates_in_place_with_new_versions_only_where_changed(
    store: SqliteStore,
) -> None:
    await store.sync_showcase([ShowcaseEntry("a", make_draft())])
    (before,) = await store.list_assistants()

    changes = await store.sync_showcase(
        [ShowcaseEntry("a", make_draft(description="Better words.", initial_prompt="Newer."))]
    )

    assert changes == 1
    (after,) = await store.list_assistants()
    assert after.id == before.id and after.description == "Better words."
    assert after.active_initial_prompt_id != before.active_initial_prompt_id
    assert after.active_summary_prompt_id == before.active_summary_prompt_id
    assert after.active_model_config_id == before.active_model_config_id
    assert len(await store.list_prompts(after.id, PromptType.INITIAL)) == 2


@pytest.mark.asyncio
async def test_showcased_assistants_are_read_only(store: SqliteStore) -> None:
    await store.sync_showcase([ShowcaseEntry("a", make_draft())])
    (showcased,) = await store.list_assistants()

    with pytest.raises(ReadOnlyAssistant):
        await store.update_assistant(showcased.id, make_draft(name="Mine now"))
    with pytest.raises(ReadOnlyAssistant):
        await store.set_assistant_active(showcased.id, False)
    with pytest.raises(ReadOnlyAssistant):
        await store.delete_assistant(showcased.id)
    with pytest.raises(ReadOnlyAssistant):
        await store.activate_prompt(showcased.id, showcased.active_initial_prompt_id)
    with pytest.raises(ReadOnlyAssistant):
        await store.activate_model_config(showcased.id, showcased.active_model_config_id)
    assert await store.get_assistant(showcased.id) == showcased


# -- sessions -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_session_round_trips_every_field(store: SqliteStore, user: User) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    details = await store.get_assistant_details(assistant.id)
    assert details is not None
    created = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    session = Session(
        id=new_id(),
        user_id=user.id,
        bot_id=assistant.id,
        bot_initial_prompt_msg="Initial «prompt» ✓",
        bot_model_config=ModelConfig("gpt-4o", 123, 0.1, 0.2, 0.3, -0.4),
        bot_session_type=SessionType.COACHING,
        bot_summary_prompt_msg="Summary",
        created_date=created,
        last_modified_date=created,
        bot_initial_prompt_id=details.initial_prompt.id,
        bot_summary_prompt_id=details.summary_prompt.id,
        title="A title",
        context=(
            ContextMessage(Role.ASSISTANT, "Hello — what brings you here?", created),
            ContextMessage(Role.USER, "Questions 🙂", created + timedelta(seconds=1)),
        ),
    )

    stored = await store.create_session(session)

    assert stored == session
    assert await store.get_session(session.id) == session
    assert stored.status is SessionStatus.STARTED
    assert stored.context[1].role is Role.USER


@pytest.mark.asyncio
async def test_dates_round_trip_as_the_same_instant_in_utc(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    tokyo = timezone(timedelta(hours=9))
    written = datetime(2026, 1, 1, 9, 0, 0, 5, tzinfo=tokyo)
    await store.add_message(make_message(session.id, "hi", created_date=written))

    (message,) = await store.list_messages(session.id)

    assert message.created_date == written
    assert message.created_date.utcoffset() == timedelta(0)


@pytest.mark.asyncio
async def test_unknown_session_reads_as_none(store: SqliteStore) -> None:
    assert await store.get_session("missing") is None


@pytest.mark.asyncio
async def test_a_session_for_an_unknown_user_is_not_stored(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)

    with pytest.raises(NotFound):
        await store.create_session(session.with_changes(id=new_id(), user_id="nobody"))


@pytest.mark.asyncio
async def test_starting_a_session_counts_on_the_user_the_assistant_and_the_prompt(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)

    await start_session(store, user, assistant.id)
    await start_session(store, user, assistant.id)

    refreshed_user = await store.get_user(user.id)
    refreshed = await store.get_assistant(assistant.id)
    (prompt,) = await store.list_prompts(assistant.id, PromptType.INITIAL)
    assert refreshed_user is not None and refreshed_user.sessions_started == 2
    assert refreshed is not None and refreshed.sessions_started == 2
    assert prompt.sessions_started == 2
    assert (refreshed_user.sessions_ended, refreshed.sessions_ended, prompt.sessions_ended) == (
        0,
        0,
        0,
    )


@pytest.mark.asyncio
async def test_prompt_statistics_belong_to_the_version_a_session_started_with(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    await start_session(store, user, assistant.id)
    await store.update_assistant(assistant.id, make_draft(initial_prompt="Version two."))
    await start_session(store, user, assistant.id)
    await start_session(store, user, assistant.id)

    versions = await store.list_prompts(assistant.id, PromptType.INITIAL)

    assert [(p.message, p.sessions_started) for p in versions] == [
        ("Version two.", 2),
        (make_draft().initial_prompt, 1),
    ]


@pytest.mark.asyncio
async def test_storing_the_same_session_again_counts_nothing(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    session = await start_session(store, user, assistant.id)

    await store.create_session(session)

    refreshed = await store.get_assistant(assistant.id)
    assert refreshed is not None and refreshed.sessions_started == 1


@pytest.mark.asyncio
async def test_ending_a_session_counts_on_the_user_the_assistant_and_the_prompt(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    session = await start_session(store, user, assistant.id)

    ended = await store.end_session(
        session.id, SessionStatus.COMPLETED, user_liked=UserLiked.LIKED, recap="We learned."
    )

    assert ended.status is SessionStatus.COMPLETED
    assert ended.user_liked is UserLiked.LIKED and ended.recap == "We learned."
    refreshed_user = await store.get_user(user.id)
    refreshed = await store.get_assistant(assistant.id)
    (prompt,) = await store.list_prompts(assistant.id, PromptType.INITIAL)
    assert refreshed_user is not None and refreshed_user.sessions_ended == 1
    assert refreshed is not None and refreshed.sessions_ended == 1
    assert prompt.sessions_ended == 1


@pytest.mark.asyncio
async def test_ending_an_ended_session_counts_once_and_may_add_the_rating(
    store: SqliteStore, user: User
) -> None:
    assistant = await store.create_assistant(make_draft(), user.id)
    session = await start_session(store, user, assistant.id)
    await store.end_session(session.id, SessionStatus.COMPLETED, recap="The recap.")

    again = await store.end_session(
        session.id, SessionStatus.COMPLETED, user_liked=UserLiked.DISLIKED
    )

    assert again.user_liked is UserLiked.DISLIKED and again.recap == "The recap."
    refreshed_user = await store.get_user(user.id)
    refreshed = await store.get_assistant(assistant.id)
    assert refreshed_user is not None and refreshed_user.sessions_ended == 1
    assert refreshed is not None and refreshed.sessions_ended == 1


@pytest.mark.asyncio
async def test_ending_an_unknown_session_raises_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.end_session("missing", SessionStatus.ABANDONED_BY_USER)


@pytest.mark.asyncio
async def test_sessions_list_newest_modified_first_of_one_assistant_or_all(
    store: SqliteStore, user: User
) -> None:
    one = await store.create_assistant(make_draft(), user.id)
    two = await store.create_assistant(make_draft(name="Two"), user.id)
    oldest = await start_session(store, user, one.id)
    middle = await start_session(store, user, two.id)
    newest = await start_session(store, user, one.id)
    await store.rename_session(oldest.id, "Touched last")

    everything = [s.id for s in await store.list_sessions()]
    of_one = [s.id for s in await store.list_sessions(bot_id=one.id)]
    limited = [s.id for s in await store.list_sessions(limit=2)]

    assert everything == [oldest.id, newest.id, middle.id]
    assert of_one == [oldest.id, newest.id]
    assert limited == [oldest.id, newest.id]


@pytest.mark.asyncio
async def test_updating_the_context_replaces_what_the_model_sees_next(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    context = [
        ContextMessage(Role.ASSISTANT, "Summary of before.", utcnow()),
        ContextMessage(Role.USER, "And now?", utcnow()),
    ]

    await store.update_session_context(session.id, context)

    stored = await store.get_session(session.id)
    assert stored is not None and stored.context == tuple(context)
    assert stored.last_modified_date >= session.last_modified_date


@pytest.mark.asyncio
async def test_renaming_a_session_sets_its_title(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)

    await store.rename_session(session.id, "Renamed")

    stored = await store.get_session(session.id)
    assert stored is not None and stored.title == "Renamed"


@pytest.mark.asyncio
async def test_changing_an_unknown_session_raises_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.rename_session("missing", "x")
    with pytest.raises(NotFound):
        await store.update_session_context("missing", [])
    with pytest.raises(NotFound):
        await store.delete_session("missing")


@pytest.mark.asyncio
async def test_deleting_a_session_removes_its_messages_from_transcript_and_search(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    session = await start_session(store, user, None)
    await store.add_message(make_message(session.id, "ephemeral armadillo"))

    await store.delete_session(session.id)

    assert await store.get_session(session.id) is None
    assert await store.search_messages("armadillo") == []
    assert count_rows(data_dir, "messages") == 0
    with raw(data_dir) as conn:
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


# -- messages -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_message_round_trips_with_its_details(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    message = make_message(
        session.id,
        "Reply with **Markdown** and ünïcødé",
        role=Role.ASSISTANT,
        state=MessageState.INTERRUPTED,
        meta=MessageDetails(model="gpt-4o", prompt_tokens=40, completion_tokens=2),
    )

    await store.add_message(message)

    (stored,) = await store.list_messages(session.id)
    assert stored == message and stored.meta == message.meta
    assert stored.role is Role.ASSISTANT and stored.state is MessageState.INTERRUPTED


@pytest.mark.asyncio
async def test_adding_and_deleting_messages_counts_message_count(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    first = make_message(session.id, "one")
    await store.add_message(first)
    await store.add_message(make_message(session.id, "two"))
    await store.add_message(first)  # a replayed write counts nothing

    counted = await store.get_session(session.id)
    await store.delete_message(first.id)
    after_delete = await store.get_session(session.id)

    assert counted is not None and counted.message_count == 2
    assert after_delete is not None and after_delete.message_count == 1
    assert [m.message for m in await store.list_messages(session.id)] == ["two"]


@pytest.mark.asyncio
async def test_messages_added_together_are_stored_and_counted_with_their_context(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    question = make_message(session.id, "What is a half?")
    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    context = (ContextMessage(Role.USER, question.message, question.created_date),)

    await store.add_messages((question, reply), context=context)
    await store.add_messages((question, reply))  # a replayed write counts nothing

    stored = await store.get_session(session.id)
    assert stored is not None and stored.message_count == 2 and stored.context == context
    assert await store.list_messages(session.id) == [question, reply]


@pytest.mark.asyncio
async def test_a_refused_batch_of_messages_stores_none_of_them(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    kept = make_message(session.id, "kept")
    await store.add_message(kept)
    with pytest.raises(ValueError, match="one session"):
        await store.add_messages((make_message(session.id, "a"), make_message("other", "b")))
    with pytest.raises(NotFound):
        await store.add_messages((make_message("missing", "lost"), make_message("missing", "x")))
    assert await store.list_messages(session.id) == [kept]
    stored = await store.get_session(session.id)
    assert stored is not None and stored.message_count == 1


@pytest.mark.asyncio
async def test_a_message_for_an_unknown_session_is_not_stored(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.add_message(make_message("missing", "lost"))


@pytest.mark.asyncio
async def test_updating_a_message_replaces_text_and_state_and_keeps_meta_unless_given(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    reply = make_message(
        session.id,
        "",
        role=Role.ASSISTANT,
        state=MessageState.STREAMING,
        meta=MessageDetails(model="m"),
    )
    await store.add_message(reply)

    await store.update_message(reply.id, text="Partial", state=MessageState.STREAMING)
    (streaming,) = await store.list_messages(session.id)
    await store.update_message(
        reply.id,
        text="Partial answer.",
        state=MessageState.COMPLETE,
        meta=MessageDetails(completion_tokens=3),
    )
    (complete,) = await store.list_messages(session.id)

    assert (streaming.message, streaming.state, streaming.meta) == (
        "Partial",
        MessageState.STREAMING,
        MessageDetails(model="m"),
    )
    assert (complete.message, complete.state, complete.meta) == (
        "Partial answer.",
        MessageState.COMPLETE,
        MessageDetails(completion_tokens=3),
    )


@pytest.mark.asyncio
async def test_changing_an_unknown_message_raises_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.update_message("missing", text="x", state=MessageState.COMPLETE)
    with pytest.raises(NotFound):
        await store.delete_message("missing")


@pytest.mark.asyncio
async def test_messages_list_in_created_date_order(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    start = utcnow()
    for offset, text in ((2, "third"), (0, "first"), (1, "second")):
        await store.add_message(
            make_message(session.id, text, created_date=start + timedelta(seconds=offset))
        )

    listed = await store.list_messages(session.id)

    assert [m.message for m in listed] == ["first", "second", "third"]


@pytest.mark.asyncio
async def test_messages_with_the_same_date_keep_insertion_order(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    same = utcnow()
    texts = [f"message {i}" for i in range(20)]
    for text in texts:
        await store.add_message(make_message(session.id, text, created_date=same))

    listed = await store.list_messages(session.id)

    assert [m.message for m in listed] == texts


# -- search ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def searchable(store: SqliteStore, user: User) -> Session:
    session = await start_session(store, user, None)
    await store.rename_session(session.id, "Zoo trip")
    for text in (
        "The giraffe ate leaves from the tallest tree.",
        "Giraffe, giraffe, giraffe: the children could not stop saying it.",
        "Penguins waddled past the aquarium window.",
        "Nothing about animals here at all.",
    ):
        await store.add_message(make_message(session.id, text))
    return session


@pytest.mark.asyncio
async def test_search_finds_messages_by_word_with_a_marked_snippet(
    store: SqliteStore, searchable: Session
) -> None:
    hits = await store.search_messages("penguins")

    (hit,) = hits
    assert hit.session_id == searchable.id and hit.session_title == "Zoo trip"
    assert f"{SNIPPET_OPEN}Penguins{SNIPPET_CLOSE}" in hit.snippet
    (message,) = [m for m in await store.list_messages(searchable.id) if m.id == hit.message_id]
    assert hit.created_date == message.created_date


@pytest.mark.asyncio
async def test_search_ranks_the_best_match_first(store: SqliteStore, searchable: Session) -> None:
    hits = await store.search_messages("giraffe")

    assert [h.snippet.count(SNIPPET_OPEN) for h in hits] == [3, 1]


@pytest.mark.asyncio
async def test_search_matches_the_last_word_as_a_prefix_and_needs_every_word(
    store: SqliteStore, searchable: Session
) -> None:
    assert len(await store.search_messages("aqua")) == 1
    assert len(await store.search_messages("giraffe tall")) == 1
    assert await store.search_messages("giraffe penguins") == []


@pytest.mark.asyncio
async def test_search_ignores_case_and_accents(store: SqliteStore, searchable: Session) -> None:
    assert len(await store.search_messages("PENGUÏNS")) == 1


@pytest.mark.asyncio
async def test_search_follows_message_edits_and_deletes(
    store: SqliteStore, user: User, searchable: Session
) -> None:
    (penguin,) = await store.search_messages("penguins")

    await store.update_message(penguin.message_id, text="Seals now.", state=MessageState.COMPLETE)
    assert await store.search_messages("penguins") == []
    assert len(await store.search_messages("seals")) == 1

    await store.delete_message(penguin.message_id)
    assert await store.search_messages("seals") == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    ["", "   ", '"', '"giraffe', "(giraffe", "giraffe)", "AND", "giraffe AND", "OR NOT", "*",
     "gir*", "NEAR(a b)", "^giraffe", "col:giraffe", "-giraffe", "'; DROP TABLE messages; --",
     "\x00", "🦒", "giraffe\x00penguins", "a" * 10_000],
)  # fmt: skip
async def test_hostile_search_text_never_raises(
    store: SqliteStore, searchable: Session, query: str
) -> None:
    hits = await store.search_messages(query)

    assert isinstance(hits, list)


@pytest.mark.asyncio
async def test_operator_words_are_searched_as_plain_words(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    await store.add_message(make_message(session.id, "Cats AND dogs, NOT birds"))

    assert len(await store.search_messages('"cats" AND (dogs')) == 1
    assert len(await store.search_messages("NOT")) == 1


@pytest.mark.asyncio
async def test_an_empty_search_returns_nothing(store: SqliteStore, searchable: Session) -> None:
    assert await store.search_messages("") == []
    assert await store.search_messages("?!") == []


def test_any_text_is_a_search_that_never_raises(data_dir: Path) -> None:
    loop = asyncio.new_event_loop()
    store = SqliteStore(data_dir / DB_NAME)

    async def seed() -> None:
        assert (await store.open()).is_usable
        user = await store.local_user()
        session = await start_session(store, user, None)
        await store.add_message(make_message(session.id, "Ein Bäcker backt Brötchen 123 _x_"))

    @settings(max_examples=300, deadline=None)
    @given(query=st.text())
    def search_survives(query: str) -> None:
        hits = loop.run_until_complete(store.search_messages(query))
        assert isinstance(hits, list)

    try:
        loop.run_until_complete(seed())
        search_survives()
    finally:
        loop.run_until_complete(store.close())
        loop.close()


# -- threads, files, speed ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sqlite_work_runs_off_the_event_loop_thread(store: SqliteStore, user: User) -> None:
    threads: set[int] = set()
    # Private parts, because the connection is deliberately not exposed; the callback is
    # installed from the worker thread, the only one the connection accepts calls from.
    await store._executor.run(
        store._db.set_trace_callback, lambda _statement: threads.add(threading.get_ident())
    )

    assistant = await store.create_assistant(make_draft(), user.id)
    session = await start_session(store, user, assistant.id)
    await store.add_message(make_message(session.id, "hello"))
    await store.list_assistants()
    await store.list_messages(session.id)
    await store.search_messages("hello")
    await store.end_session(session.id, SessionStatus.COMPLETED)

    assert threads, "the trace callback saw no statement"
    assert threading.get_ident() not in threads
    assert len(threads) == 1


@pytest.mark.asyncio
async def test_the_database_files_are_private_to_their_owner(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    await store.create_assistant(make_draft(), user.id)

    files = sorted(data_dir.glob(DB_NAME + "*"))

    assert [f.name for f in files] == [DB_NAME, DB_NAME + "-shm", DB_NAME + "-wal"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.asyncio
async def test_a_message_and_the_context_it_extends_are_stored_together(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    question = make_message(session.id, "What is a half?")
    context = (ContextMessage(Role.USER, question.message, question.created_date),)
    await store.add_message(question, context=context)
    stored = await store.get_session(session.id)
    assert stored is not None and stored.context == context

    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    await store.add_message(reply)
    longer = (*context, ContextMessage(Role.ASSISTANT, "One of two parts.", reply.created_date))
    await store.update_message(
        reply.id, text="One of two parts.", state=MessageState.COMPLETE, context=longer
    )
    stored = await store.get_session(session.id)
    assert stored is not None and stored.context == longer


@pytest.mark.asyncio
async def test_a_message_update_without_context_leaves_the_context_alone(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    question = make_message(session.id, "Hi")
    context = (ContextMessage(Role.USER, "Hi", question.created_date),)
    await store.add_message(question, context=context)
    await store.update_message(question.id, text="Hi!", state=MessageState.COMPLETE)
    stored = await store.get_session(session.id)
    assert stored is not None and stored.context == context
