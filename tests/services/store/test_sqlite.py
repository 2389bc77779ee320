"""The SQLite store as a whole: its users and settings, its worker thread, its files.

Every test uses a real SQLite file in its own data directory.
"""

from __future__ import annotations

import asyncio
import stat
import threading
from pathlib import Path

import pytest

from gptlab_desktop.models import (
    ContextMessage,
    MessageState,
    Role,
    SessionStatus,
    User,
    new_id,
)
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.builders import DB_NAME, count_rows, make_draft, make_message, raw, start_session

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


@pytest.mark.asyncio
async def test_adopting_a_users_id_moves_everything_made_here_to_it(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    session = await start_session(store, user, None)
    assistant = await store.create_assistant(make_draft(), user.id)
    joined = new_id()  # the id of the account made on another machine

    adopted = await store.adopt_local_user(joined)

    assert adopted.id == joined == (await store.local_user()).id
    assert (adopted.sessions_started, adopted.bots_created) == (1, 1)
    moved = await store.get_session(session.id)
    assert moved is not None and moved.user_id == joined
    assert (await store.get_assistant(assistant.id)).creator_user_id == joined  # type: ignore[union-attr]
    assert await store.get_user(user.id) is None
    assert await store.adopt_local_user(joined) == adopted  # again: nothing changes
    with raw(data_dir) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.mark.asyncio
async def test_adopting_a_user_already_pulled_adds_what_was_counted_here(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    await start_session(store, user, None)
    joined = new_id()
    with raw(data_dir) as conn:  # the account's row, as a pull leaves it
        conn.execute(
            "INSERT INTO users (id, created_date, last_modified_date, sessions_started) "
            "VALUES (?, '2026-01-01T00:00:00.000000+00:00', "
            "'2026-01-01T00:00:00.000000+00:00', 10)",
            (joined,),
        )

    adopted = await store.adopt_local_user(joined)

    assert adopted.sessions_started == 11


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


# -- settings -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_setting_never_set_is_none(store: SqliteStore) -> None:
    assert await store.get_setting("account.example") is None


@pytest.mark.asyncio
async def test_a_setting_reads_back_what_was_set_and_setting_again_replaces_it(
    store: SqliteStore,
) -> None:
    await store.set_setting("account.example", '{"a": 1}')
    assert await store.get_setting("account.example") == '{"a": 1}'
    await store.set_setting("account.example", "second")
    assert await store.get_setting("account.example") == "second"


@pytest.mark.asyncio
async def test_a_setting_survives_reopening_the_store(data_dir: Path) -> None:
    store = SqliteStore(data_dir / DB_NAME)
    assert (await store.open()).is_usable
    await store.set_setting("account.example", "kept")
    await store.close()
    reopened = SqliteStore(data_dir / DB_NAME)
    assert (await reopened.open()).is_usable
    try:
        assert await reopened.get_setting("account.example") == "kept"
    finally:
        await reopened.close()
