"""Opening the SQLite store: creation, forward migrations, and files it must not touch.

A file it cannot use (damaged, from a newer version, another program's) is reported through
``StoreHealth`` and stays byte-for-byte as it was; every operation then raises
``StoreUnavailable``.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gptlab_desktop.models import (
    AssistantDraft,
    FailureKind,
    MessageKind,
    MessageState,
    ModelConfig,
    PromptType,
    Role,
    SessionStatus,
    new_id,
    utcnow,
)
from gptlab_desktop.services.errors import StoreCorrupt, StoreTooNew, StoreUnavailable
from gptlab_desktop.services.store.base import ShowcaseEntry
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.store.sqlite_schema import SCHEMA_VERSION, migrate
from tests.builders import DB_NAME, make_draft, start_session

if TYPE_CHECKING:
    from gptlab_desktop.models import User

PAGE_SIZE = 4096


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_by_hand(path: Path, *statements: str) -> None:
    """Run statements through a connection of our own, closed so no -wal/-shm stays behind."""
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


async def make_database(path: Path, messages: int = 0) -> None:
    """A good database written by the store, closed again."""
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    user = await store.local_user()
    draft = AssistantDraft("Bot", "Tag", "Desc", "Initial", "Summary", ModelConfig("gpt-4o"))
    await store.create_assistant(draft, user.id)
    await store.close()
    if messages:
        conn = sqlite3.connect(path)
        with conn:
            conn.execute(
                "INSERT INTO sessions (id, user_id, bot_initial_prompt_msg, bot_model_config, "
                "bot_session_type, bot_summary_prompt_msg, created_date, last_modified_date) "
                "VALUES ('s', ?, 'i', '{\"model\": \"m\"}', 2, 's', ?, ?)",
                (user.id, utcnow().isoformat(), utcnow().isoformat()),
            )
            conn.executemany(
                "INSERT INTO messages (id, session_id, role, message, created_date) "
                "VALUES (?, 's', 'user', ?, ?)",
                ((new_id(), f"text {i} " * 30, utcnow().isoformat()) for i in range(messages)),
            )
        conn.close()  # the last close folds the WAL back into the file


@pytest.mark.asyncio
async def test_a_new_file_is_created_at_the_current_schema_in_wal_mode(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    store = SqliteStore(path)

    health = await store.open()
    await store.close()

    assert health.is_usable and health.problem is None and health.path == str(path)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    expected = {"users", "user_hash", "bots", "prompts", "model_configs", "sessions", "messages"}
    assert expected | {"messages_fts", "outbox", "sync_state"} <= tables


@pytest.mark.asyncio
async def test_a_missing_data_directory_is_created(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "not" / "yet" / DB_NAME)

    health = await store.open()
    await store.close()

    assert health.is_usable
    assert (tmp_path / "not" / "yet" / DB_NAME).exists()


@pytest.mark.asyncio
async def test_an_empty_file_becomes_a_new_database(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    path.touch()
    store = SqliteStore(path)

    health = await store.open()
    user = await store.local_user()
    await store.close()

    assert health.is_usable and user.id


@pytest.mark.asyncio
async def test_a_version_1_file_is_upgraded_keeping_its_data(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    now = utcnow().isoformat(timespec="microseconds")
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.executescript(
        f"""
        INSERT INTO users (id, user_hash, created_date, last_modified_date, sessions_started)
            VALUES ('u1', 'hash', '{now}', '{now}', 1);
        INSERT INTO bots (id, name, session_type, creator_user_id, created_date,
            last_modified_date, active_initial_prompt_id, active_model_config_id,
            active_summary_prompt_id, sessions_started)
            VALUES ('b1', 'Old bot', 3, 'u1', '{now}', '{now}', 'p1', 'c1', 'p2', 1);
        INSERT INTO prompts (id, bot_id, message_type, message, created_date, sessions_started)
            VALUES ('p1', 'b1', 'initial', 'Old initial', '{now}', 1),
                   ('p2', 'b1', 'summary', 'Old summary', '{now}', 0);
        INSERT INTO model_configs (id, bot_id, config, created_date)
            VALUES ('c1', 'b1', '{{"model": "gpt-4", "max_tokens": 100}}', '{now}');
        INSERT INTO sessions (id, user_id, bot_id, bot_initial_prompt_msg, bot_model_config,
            bot_session_type, bot_summary_prompt_msg, bot_initial_prompt_id, created_date,
            last_modified_date, message_count)
            VALUES ('s1', 'u1', 'b1', 'Old initial', '{{"model": "gpt-4"}}', 3, 'Old summary',
                    'p1', '{now}', '{now}', 1);
        INSERT INTO messages (id, session_id, role, message, created_date)
            VALUES ('m1', 's1', 'user', 'Remember the old kaleidoscope', '{now}');
        """
    )
    conn.close()

    store = SqliteStore(path)
    health = await store.open()
    try:
        assert health.is_usable, health.problem
        details = await store.get_assistant_details("b1")
        assert details is not None
        assert details.initial_prompt.message == "Old initial"
        assert details.model_config.config == ModelConfig("gpt-4", max_tokens=100)
        assert [m.message for m in await store.list_messages("s1")] == [
            "Remember the old kaleidoscope"
        ]
        (hit,) = await store.search_messages("kaleidoscope")
        assert hit.message_id == "m1"
        ended = await store.end_session("s1", SessionStatus.COMPLETED)
        assert ended.status is SessionStatus.COMPLETED
        (prompt,) = await store.list_prompts("b1", PromptType.INITIAL)
        assert (prompt.sessions_started, prompt.sessions_ended) == (1, 1)
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert check.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        assert check.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 0


# -- version 4: the local user ------------------------------------------------------------

SCHEMA3_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "schema3.sqlite3"
TABLES = ("users", "user_hash", "bots", "prompts", "model_configs", "sessions", "messages")
VERSION_7_BOT_COLUMNS = (
    "id, name, tag_line, description, session_type, creator_user_id, created_date, "
    "last_modified_date, active_initial_prompt_id, active_model_config_id, "
    "active_summary_prompt_id, showcased, is_active, guards_prompt_leak, sessions_started, "
    "sessions_ended, showcase_key"
)
# The columns of sessions before version 9 added the chat's provider.
VERSION_8_SESSION_COLUMNS = (
    "id, user_id, bot_id, bot_initial_prompt_msg, bot_model_config, bot_session_type, "
    "bot_summary_prompt_msg, bot_initial_prompt_id, bot_summary_prompt_id, created_date, "
    "last_modified_date, session_schema_version, title, status, message_count, messages_str, "
    "user_liked, recap, guards_prompt_leak"
)


def table_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the entity tables, in a stable order, read behind the store's back
    (messages without their details, which version 5 rewrites in their typed form; bots and
    sessions with the columns they had before versions 8 and 9 added their own)."""
    queries = {
        "messages": "SELECT seq, id, session_id, role, message, created_date, state FROM messages",
        "bots": f"SELECT {VERSION_7_BOT_COLUMNS} FROM bots",
        "sessions": f"SELECT {VERSION_8_SESSION_COLUMNS} FROM sessions",
    }
    with closing(sqlite3.connect(path)) as conn:
        return {
            table: sorted(
                conn.execute(queries.get(table, f"SELECT * FROM {table}")).fetchall(),
                key=repr,
            )
            for table in TABLES
        }


def showcase_renames(before: dict[str, list[tuple[object, ...]]], path: Path) -> dict[str, str]:
    """Old id → new id of each showcased bot and version that version 7 renamed, matched by
    what does not change (the showcase key; a version's bot, kind, content and date)."""
    with closing(sqlite3.connect(path)) as conn:
        bots_now = dict(conn.execute("SELECT showcase_key, id FROM bots").fetchall())
        prompts_now = {
            tuple(row[1:]): row[0]
            for row in conn.execute(
                "SELECT id, bot_id, message_type, message, created_date FROM prompts"
            )
        }
        configs_now = {
            tuple(row[1:]): row[0]
            for row in conn.execute("SELECT id, bot_id, config, created_date FROM model_configs")
        }
        bot_columns = [column[1] for column in conn.execute("PRAGMA table_info(bots)")]
    renames: dict[str, str] = {}
    key_at = bot_columns.index("showcase_key")
    for bot in before["bots"]:
        if bot[key_at] is not None:
            renames[str(bot[0])] = bots_now[bot[key_at]]
    for prompt_id, bot_id, kind, message, created, *_ in before["prompts"]:
        new_id = prompts_now[(renames.get(str(bot_id), bot_id), kind, message, created)]
        if new_id != prompt_id:
            renames[str(prompt_id)] = new_id
    for config_id, bot_id, config, created, *_ in before["model_configs"]:
        new_id = configs_now[(renames.get(str(bot_id), bot_id), config, created)]
        if new_id != config_id:
            renames[str(config_id)] = new_id
    return renames


def with_ids_renamed(
    tables: dict[str, list[tuple[object, ...]]], renames: dict[str, str]
) -> dict[str, list[tuple[object, ...]]]:
    """``tables`` with every cell holding a renamed id holding the new one, re-sorted."""
    return {
        table: sorted(
            (
                tuple(renames.get(cell, cell) if isinstance(cell, str) else cell for cell in row)
                for row in rows
            ),
            key=repr,
        )
        for table, rows in tables.items()
    }


def version_3_file(path: Path, *statements: str) -> None:
    """A file at schema version 3 (before the local user), with ``statements`` run on it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, target=3) == 3
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def insert_user(user_id: str, user_hash: str, created: str) -> str:
    return (
        "INSERT INTO users (id, user_hash, created_date, last_modified_date) "
        f"VALUES ('{user_id}', '{user_hash}', '{created}', '{created}')"
    )


def insert_bot(bot_id: str, creator: str) -> str:
    return (
        "INSERT INTO bots (id, name, session_type, creator_user_id, created_date, "
        "last_modified_date, active_initial_prompt_id, active_model_config_id, "
        f"active_summary_prompt_id) VALUES ('{bot_id}', 'Bot {bot_id}', 2, '{creator}', "
        "'2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00', 'p', 'c', 'q')"
    )


def insert_session(session_id: str, user_id: str) -> str:
    return (
        "INSERT INTO sessions (id, user_id, bot_initial_prompt_msg, bot_model_config, "
        "bot_session_type, bot_summary_prompt_msg, created_date, last_modified_date) "
        f"VALUES ('{session_id}', '{user_id}', 'i', '{{\"model\": \"m\"}}', 2, 's', "
        "'2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00')"
    )


async def local_user_of(path: Path) -> User:
    store = SqliteStore(path)
    health = await store.open()
    try:
        assert health.is_usable, health.problem
        return await store.local_user()
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_version_3_user_found_by_hash_stays_the_local_user(data_dir: Path) -> None:
    # The fixture was written by the app at version 3: one user, made by the hash of a key.
    path = data_dir / DB_NAME
    shutil.copyfile(SCHEMA3_FIXTURE, path)
    with closing(sqlite3.connect(path)) as conn:
        ((old_id, old_hash),) = conn.execute("SELECT id, user_hash FROM users").fetchall()
    before = table_rows(path)

    user = await local_user_of(path)

    assert (user.id, user.user_hash) == (old_id, old_hash)
    assert await local_user_of(path) == user
    # Every row kept, links to the user included; the showcase renamed (version 7) throughout.
    assert table_rows(path) == with_ids_renamed(before, showcase_renames(before, path))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.mark.asyncio
async def test_of_several_users_the_one_owning_most_sessions_and_assistants_is_local(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    version_3_file(
        path,
        insert_user("older", "a" * 64, "2026-01-01T00:00:00.000000+00:00"),
        insert_user("busy", "b" * 64, "2026-01-02T00:00:00.000000+00:00"),
        insert_user("newest", "c" * 64, "2026-01-03T00:00:00.000000+00:00"),
        insert_bot("b1", "busy"),
        insert_session("s1", "busy"),
        insert_session("s2", "newest"),
    )

    user = await local_user_of(path)

    assert (user.id, user.user_hash) == ("busy", "b" * 64)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 3


@pytest.mark.asyncio
async def test_between_users_owning_as_much_the_most_recently_created_is_local(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    version_3_file(
        path,
        insert_user("older", "a" * 64, "2026-01-01T00:00:00.000000+00:00"),
        insert_user("newer", "b" * 64, "2026-01-02T00:00:00.000000+00:00"),
        insert_session("s1", "older"),
        insert_session("s2", "newer"),
    )

    assert (await local_user_of(path)).id == "newer"


@pytest.mark.asyncio
async def test_the_old_stand_in_for_no_key_becomes_no_hash(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    version_3_file(
        path,
        insert_user("keyless", "local-user-without-api-key", "2026-01-01T00:00:00.000000+00:00"),
        insert_session("s1", "keyless"),
    )

    user = await local_user_of(path)

    assert (user.id, user.user_hash) == ("keyless", None)


@pytest.mark.asyncio
async def test_rebuilding_users_keeps_every_link_to_them(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    version_3_file(
        path,
        insert_user("u1", "a" * 64, "2026-01-01T00:00:00.000000+00:00"),
        insert_bot("b1", "u1"),
        insert_session("s1", "u1"),
    )

    await local_user_of(path)

    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT creator_user_id FROM bots").fetchall() == [("u1",)]
        assert conn.execute("SELECT user_id FROM sessions").fetchall() == [("u1",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.mark.asyncio
async def test_a_hash_another_user_holds_can_be_recorded_on_the_local_user(
    data_dir: Path,
) -> None:
    # The hash finds no one any more, so it need not be unique.
    path = data_dir / DB_NAME
    version_3_file(
        path,
        insert_user("local", "a" * 64, "2026-01-02T00:00:00.000000+00:00"),
        insert_user("other", "b" * 64, "2026-01-01T00:00:00.000000+00:00"),
    )
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        recorded = await store.record_user_hash("local", "b" * 64)
        other = await store.get_user("other")
    finally:
        await store.close()

    assert (recorded.id, recorded.user_hash) == ("local", "b" * 64)
    assert other is not None and other.user_hash == "b" * 64


@pytest.mark.asyncio
async def test_a_failing_version_4_leaves_the_users_as_they_were(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    # A table already named like the one version 4 creates makes it fail after the rebuild.
    version_3_file(
        path,
        insert_user("u1", "a" * 64, "2026-01-01T00:00:00.000000+00:00"),
        insert_session("s1", "u1"),
        "CREATE TABLE local_user (x)",
    )
    before = table_rows(path)

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable
    assert table_rows(path) == before
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()
    assert "user_hash TEXT NOT NULL UNIQUE" in sql


@pytest.mark.asyncio
async def test_migrating_leaves_foreign_keys_enforced_on_the_connection(data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_a_failing_migration_leaves_the_file_at_its_previous_version(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    # Migration 2 creates the outbox: a table already there makes it fail half way.
    conn.execute("CREATE TABLE outbox (x)")
    conn.close()

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable and health.problem
    with closing(sqlite3.connect(path)) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {row[0] for row in check.execute("SELECT name FROM sqlite_master")}
    assert "messages_fts" not in names and "sync_state" not in names


@pytest.mark.asyncio
async def test_a_file_from_a_newer_version_is_reported_and_left_untouched(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    await make_database(path)
    write_by_hand(path, f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    before = sha256(path)

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable
    assert health.problem is not None
    assert str(path) in health.problem
    assert "newer version of GPT Lab Desktop" in health.problem
    assert "left untouched" in health.problem
    assert sha256(path) == before
    assert siblings(path) == []


@pytest.mark.asyncio
async def test_random_bytes_are_reported_as_damaged_and_left_untouched(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    path.write_bytes(random.Random(1).randbytes(3 * PAGE_SIZE))
    before = sha256(path)

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable
    assert health.problem is not None and str(path) in health.problem
    assert sha256(path) == before
    assert siblings(path) == []


@pytest.mark.asyncio
async def test_a_database_with_an_overwritten_page_is_reported_and_left_untouched(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    await make_database(path, messages=500)
    data = bytearray(path.read_bytes())
    middle = len(data) // PAGE_SIZE // 2
    data[middle * PAGE_SIZE : (middle + 1) * PAGE_SIZE] = random.Random(2).randbytes(PAGE_SIZE)
    path.write_bytes(bytes(data))
    before = sha256(path)

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable
    assert health.problem is not None and "damaged" in health.problem
    assert sha256(path) == before
    assert siblings(path) == []


@pytest.mark.asyncio
async def test_a_truncated_database_is_reported_and_left_untouched(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    await make_database(path, messages=500)
    path.write_bytes(path.read_bytes()[: 5 * PAGE_SIZE + 100])
    before = sha256(path)

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable
    assert sha256(path) == before
    assert siblings(path) == []


@pytest.mark.asyncio
async def test_another_programs_database_is_reported_and_left_untouched(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    write_by_hand(path, "CREATE TABLE recipes (name TEXT)")
    before = sha256(path)

    store = SqliteStore(path)
    health = await store.open()
    await store.close()

    assert not health.is_usable
    assert health.problem is not None and "another program" in health.problem
    assert sha256(path) == before


@pytest.mark.asyncio
async def test_a_path_that_is_a_directory_is_reported_without_raising(data_dir: Path) -> None:
    (data_dir / DB_NAME).mkdir()
    store = SqliteStore(data_dir / DB_NAME)

    health = await store.open()
    await store.close()

    assert not health.is_usable and health.problem


OPERATIONS: dict[str, Callable[[SqliteStore], Awaitable[object]]] = {
    "local_user": lambda s: s.local_user(),
    "record_user_hash": lambda s: s.record_user_hash("u", "hash"),
    "get_user": lambda s: s.get_user("u"),
    "create_assistant": lambda s: s.create_assistant(
        AssistantDraft("n", "t", "d", "i", "s", ModelConfig("m")), "u"
    ),
    "get_assistant": lambda s: s.get_assistant("a"),
    "get_assistant_details": lambda s: s.get_assistant_details("a"),
    "list_assistants": lambda s: s.list_assistants(),
    "set_assistant_active": lambda s: s.set_assistant_active("a", False),
    "delete_assistant": lambda s: s.delete_assistant("a"),
    "list_prompts": lambda s: s.list_prompts("a", PromptType.INITIAL),
    "list_model_configs": lambda s: s.list_model_configs("a"),
    "activate_prompt": lambda s: s.activate_prompt("a", "p"),
    "activate_model_config": lambda s: s.activate_model_config("a", "c"),
    "sync_showcase": lambda s: s.sync_showcase([]),
    "get_session": lambda s: s.get_session("s"),
    "list_sessions": lambda s: s.list_sessions(),
    "update_session_context": lambda s: s.update_session_context("s", []),
    "rename_session": lambda s: s.rename_session("s", "t"),
    "end_session": lambda s: s.end_session("s", SessionStatus.COMPLETED),
    "delete_session": lambda s: s.delete_session("s"),
    "update_message": lambda s: s.update_message("m", text="t", state=MessageState.COMPLETE),
    "delete_message": lambda s: s.delete_message("m"),
    "list_messages": lambda s: s.list_messages("s"),
    "search_messages": lambda s: s.search_messages("word"),
    "search_messages with no words": lambda s: s.search_messages(""),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_every_operation_on_a_damaged_store_raises_store_unavailable(
    data_dir: Path, operation: str
) -> None:
    path = data_dir / DB_NAME
    path.write_bytes(b"not a database at all" * 100)
    store = SqliteStore(path)
    await store.open()
    try:
        with pytest.raises(StoreCorrupt) as raised:
            await OPERATIONS[operation](store)
    finally:
        await store.close()

    assert isinstance(raised.value, StoreUnavailable)
    assert str(path) in str(raised.value)


@pytest.mark.asyncio
async def test_operations_on_a_too_new_store_raise_store_too_new(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    await make_database(path)
    write_by_hand(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store = SqliteStore(path)
    await store.open()
    try:
        with pytest.raises(StoreTooNew):
            await store.list_assistants()
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_store_that_was_never_opened_or_is_closed_raises_store_unavailable(
    data_dir: Path,
) -> None:
    store = SqliteStore(data_dir / DB_NAME)
    with pytest.raises(StoreUnavailable):
        await store.list_assistants()

    await store.open()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.list_assistants()


# -- version 5: typed message details ------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_schema_3_file_keeps_every_messages_state_and_details_typed(
    data_dir: Path,
) -> None:
    # The fixture was written by the app at version 3 (scripts/make-schema3-fixture.py): its
    # engine stored an interrupted reply's error as the sentence itself.
    path = data_dir / DB_NAME
    shutil.copyfile(SCHEMA3_FIXTURE, path)
    with closing(sqlite3.connect(path)) as conn:
        before = conn.execute(
            "SELECT id, role, message, state FROM messages ORDER BY seq"
        ).fetchall()
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        (session,) = await store.list_sessions()
        messages = await store.list_messages(session.id)
    finally:
        await store.close()

    assert [(m.id, m.role.value, m.message, m.state.value) for m in messages] == [
        tuple(row) for row in before
    ]
    replies = [m for m in messages if m.role is Role.ASSISTANT]
    details = [
        (m.state, m.meta.failure, m.meta.stopped, m.meta.withheld, m.meta.kind) for m in replies
    ]
    assert details == [
        (MessageState.COMPLETE, None, False, False, None),  # the greeting
        (MessageState.INTERRUPTED, FailureKind.INVALID_API_KEY, False, False, None),
        (MessageState.INTERRUPTED, FailureKind.CONNECTION_LOST, False, False, None),
        (MessageState.INTERRUPTED, None, True, False, None),  # stopped
        (MessageState.COMPLETE, None, False, True, None),  # withheld
        (MessageState.COMPLETE, None, False, False, MessageKind.RECAP),
        (MessageState.INTERRUPTED, FailureKind.STORAGE, False, False, None),
    ]
    greeting = replies[0].meta
    assert (greeting.model, greeting.finish_reason) == ("gpt-4o-mini", "stop")
    assert greeting.prompt_tokens and greeting.completion_tokens
    [note] = [m for m in messages if m.kind is MessageKind.CONTEXT_SUMMARY]
    assert note.meta.summarised_messages == 4
    with closing(sqlite3.connect(path)) as conn:
        stored = [row[0] for row in conn.execute("SELECT meta FROM messages")]
    # The wording left the data: only kinds are stored.
    assert not any("error" in meta or '"llm"' in meta for meta in stored)


# -- version 7: the showcase's ids, the same on every machine ------------------------------------


@pytest.mark.asyncio
async def test_a_showcase_with_random_ids_is_renamed_and_every_link_follows(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    draft = make_draft()
    # Made by the app before version 7: a showcased assistant with random ids, and a session.
    store = SqliteStore(path)
    await store.open()
    user = await store.local_user()
    await store.sync_showcase([ShowcaseEntry("tutor", draft)])
    [assistant] = await store.list_assistants()
    session = await start_session(store, user, assistant.id)
    await store.close()
    old = {"bot": new_id(), "initial": new_id(), "summary": new_id(), "config": new_id()}
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        for table, column, key, current in (
            ("bots", "id", "bot", assistant.id),
            ("prompts", "id", "initial", assistant.active_initial_prompt_id),
            ("prompts", "id", "summary", assistant.active_summary_prompt_id),
            ("model_configs", "id", "config", assistant.active_model_config_id),
        ):
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (old[key], current))
        conn.execute("UPDATE prompts SET bot_id = ?", (old["bot"],))
        conn.execute("UPDATE model_configs SET bot_id = ?", (old["bot"],))
        conn.execute(
            "UPDATE bots SET active_initial_prompt_id = ?, active_summary_prompt_id = ?, "
            "active_model_config_id = ?",
            (old["initial"], old["summary"], old["config"]),
        )
        conn.execute(
            "UPDATE sessions SET bot_id = ?, bot_initial_prompt_id = ?, bot_summary_prompt_id = ?",
            (old["bot"], old["initial"], old["summary"]),
        )
        # The columns of versions 9 to 11 did not exist yet (nor 11's index).
        conn.execute("DROP INDEX sessions_listing")
        conn.execute("ALTER TABLE sessions DROP COLUMN is_pinned")
        conn.execute("ALTER TABLE sessions DROP COLUMN provider_id")
        conn.execute("ALTER TABLE sessions DROP COLUMN shown_leaf_id")
        conn.execute("ALTER TABLE messages DROP COLUMN parent_id")
        conn.execute("PRAGMA user_version = 6")

    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        entry = ShowcaseEntry("tutor", draft)
        renamed = await store.get_assistant(entry.bot_id)
        assert renamed is not None
        assert renamed.active_initial_prompt_id == entry.prompt_id(
            PromptType.INITIAL, draft.initial_prompt
        )
        assert renamed.active_summary_prompt_id == entry.prompt_id(
            PromptType.SUMMARY, draft.summary_prompt
        )
        assert renamed.active_model_config_id == entry.model_config_id(draft.model_config)
        moved = await store.get_session(session.id)
        assert moved is not None
        assert (moved.bot_id, moved.bot_initial_prompt_id, moved.bot_summary_prompt_id) == (
            renamed.id,
            renamed.active_initial_prompt_id,
            renamed.active_summary_prompt_id,
        )
        assert await store.sync_showcase([entry]) == 0  # already in step: nothing added
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT count(*) FROM bots").fetchone()[0] == 1


# -- version 8: publishing ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_version_7_file_gains_unpublished_assistants_keeping_every_row_and_link(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, target=7) == 7
        for statement in (
            insert_user("u1", "a" * 64, "2026-01-01T00:00:00.000000+00:00"),
            "INSERT INTO local_user (only_row, user_id) VALUES (1, 'u1')",
            insert_bot("b1", "u1"),
            "INSERT INTO prompts (id, bot_id, message_type, message, created_date) "
            "VALUES ('p', 'b1', 'initial', 'Hi', '2026-01-01T00:00:00.000000+00:00')",
            insert_session("s1", "u1"),
            "UPDATE sessions SET bot_id = 'b1', bot_initial_prompt_id = 'p'",
        ):
            conn.execute(statement)
    finally:
        conn.close()
    before = table_rows(path)

    await local_user_of(path)

    assert table_rows(path) == before
    with closing(sqlite3.connect(path)) as check:
        added = check.execute("SELECT published, creator_display_name FROM bots").fetchall()
        assert added == [(0, None)]  # not published, no author name
        check.execute("PRAGMA foreign_keys = ON")
        assert check.execute("PRAGMA foreign_key_check").fetchall() == []
        indexes = {row[1] for row in check.execute("PRAGMA index_list(bots)")}
        assert {"bots_creator", "bots_lobby_order"} <= indexes
        # Another user's published assistant is cached without that user's record.
        check.execute(insert_bot("theirs", "someone-else"))
        # Deleting the bot still takes its versions and unlinks its sessions.
        check.execute("DELETE FROM bots WHERE id = 'b1'")
        assert check.execute("SELECT count(*) FROM prompts").fetchone()[0] == 0
        assert check.execute("SELECT bot_id FROM sessions").fetchall() == [(None,)]


# -- version 11: pinned chats, and the chat list's covering index ----------------------------

SCHEMA9_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "schema9.sqlite3"


def every_row(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the entity tables with every column, read behind the store's back."""
    with closing(sqlite3.connect(path)) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in TABLES
        }


@pytest.mark.asyncio
async def test_a_version_10_file_opens_with_no_chat_pinned_and_every_row_unchanged(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, target=10) == 10
        for statement in (
            insert_user("u1", "a" * 64, "2026-01-01T00:00:00.000000+00:00"),
            "INSERT INTO local_user (only_row, user_id) VALUES (1, 'u1')",
            insert_bot("b1", "u1"),
            insert_session("s1", "u1"),
            insert_session("s2", "u1"),
            "UPDATE sessions SET bot_id = 'b1', title = 'Kept', shown_leaf_id = 'm9'",
        ):
            conn.execute(statement)
    finally:
        conn.close()
    before = every_row(path)

    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        summaries = await store.list_session_summaries()
    finally:
        await store.close()

    assert [s.is_pinned for s in summaries] == [False, False]
    with closing(sqlite3.connect(path)) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in check.execute("PRAGMA table_info(sessions)")]
        assert columns[-1] == "is_pinned"
        version_10 = ", ".join(columns[:-1])
        after = sorted(check.execute(f"SELECT {version_10} FROM sessions").fetchall(), key=repr)
        plan = check.execute(
            "EXPLAIN QUERY PLAN SELECT id, title, is_pinned FROM sessions "
            "ORDER BY is_pinned DESC, last_modified_date DESC"
        ).fetchall()
    assert after == before["sessions"]
    assert {table: rows for table, rows in every_row(path).items() if table != "sessions"} == {
        table: rows for table, rows in before.items() if table != "sessions"
    }
    assert "COVERING INDEX sessions_listing" in plan[0][3]


@pytest.mark.asyncio
async def test_the_database_of_the_release_before_branches_opens_with_its_chat_unpinned(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    shutil.copyfile(SCHEMA9_FIXTURE, path)
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        [session] = await store.list_sessions()
        [summary] = await store.list_session_summaries()
    finally:
        await store.close()
    assert not session.is_pinned
    assert summary.id == session.id and summary.title == session.title
