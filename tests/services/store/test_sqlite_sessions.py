"""The SQLite store's sessions: every field, the counters, ending, listing, deleting.

Every test uses a real SQLite file in its own data directory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gptlab_desktop.models import (
    ContextMessage,
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
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.builders import count_rows, make_draft, make_message, raw, start_session

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
