"""The SQLite store's schema: its forward migrations, run in order on open.

The schema version is SQLite's ``PRAGMA user_version``: how many of ``MIGRATIONS`` have run.

Schema decisions worth knowing:
- Dates are ISO-8601 UTC text with microseconds (``2026-01-02T03:04:05.000006+00:00``); the
  fixed width makes text order equal time order, so indexes on dates sort correctly.
- Deleting an assistant sets ``sessions.bot_id`` (and the session's prompt ids) to NULL through
  ``ON DELETE SET NULL``: sessions survive with their snapshots and can still be replayed.
- ``messages.seq`` is the integer rowid: it breaks ties between messages created in the same
  microsecond (insertion order) and is the rowid of the FTS5 index over message bodies.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable

from gptlab_desktop.models import MessageDetails, ModelConfig, PromptType
from gptlab_desktop.services.store.base import (
    showcase_bot_id,
    showcase_model_config_id,
    showcase_prompt_id,
)

log = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]


def _script(*statements: str) -> Migration:
    """A migration that runs ``statements`` one by one (inside the caller's transaction).

    ``executescript`` is avoided on purpose: it commits any open transaction first, which
    would make a failing migration leave half a schema behind.
    """

    def run(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return run


# Version 1: the entities of DESIGN.md's data model.
_ENTITIES = _script(
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        user_hash TEXT NOT NULL UNIQUE,
        created_date TEXT NOT NULL,
        last_modified_date TEXT NOT NULL,
        sessions_started INTEGER NOT NULL DEFAULT 0,
        sessions_ended INTEGER NOT NULL DEFAULT 0,
        bots_created INTEGER NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE user_hash (
        user_hash TEXT PRIMARY KEY,
        user_hash_type TEXT NOT NULL DEFAULT 'open_ai_key',
        created_date TEXT NOT NULL
    )
    """,
    # The active_* pointers carry no foreign key: a bot row is written before its first
    # versions exist, and the pointers are checked by the code that moves them.
    """
    CREATE TABLE bots (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        tag_line TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        session_type INTEGER NOT NULL,
        creator_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
        created_date TEXT NOT NULL,
        last_modified_date TEXT NOT NULL,
        active_initial_prompt_id TEXT NOT NULL,
        active_model_config_id TEXT NOT NULL,
        active_summary_prompt_id TEXT NOT NULL,
        showcased INTEGER NOT NULL DEFAULT 0 CHECK (showcased IN (0, 1)),
        is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        guards_prompt_leak INTEGER NOT NULL DEFAULT 0 CHECK (guards_prompt_leak IN (0, 1)),
        sessions_started INTEGER NOT NULL DEFAULT 0,
        sessions_ended INTEGER NOT NULL DEFAULT 0,
        showcase_key TEXT UNIQUE
    )
    """,
    "CREATE INDEX bots_creator ON bots(creator_user_id)",
    """
    CREATE TABLE prompts (
        id TEXT PRIMARY KEY,
        bot_id TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        message_type TEXT NOT NULL CHECK (message_type IN ('initial', 'summary')),
        message TEXT NOT NULL,
        created_date TEXT NOT NULL,
        is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        sessions_started INTEGER NOT NULL DEFAULT 0,
        sessions_ended INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX prompts_bot ON prompts(bot_id, message_type, created_date)",
    """
    CREATE TABLE model_configs (
        id TEXT PRIMARY KEY,
        bot_id TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
        config TEXT NOT NULL,
        created_date TEXT NOT NULL,
        is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))
    )
    """,
    "CREATE INDEX model_configs_bot ON model_configs(bot_id, created_date)",
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        bot_id TEXT REFERENCES bots(id) ON DELETE SET NULL,
        bot_initial_prompt_msg TEXT NOT NULL,
        bot_model_config TEXT NOT NULL,
        bot_session_type INTEGER NOT NULL,
        bot_summary_prompt_msg TEXT NOT NULL,
        bot_initial_prompt_id TEXT REFERENCES prompts(id) ON DELETE SET NULL,
        bot_summary_prompt_id TEXT REFERENCES prompts(id) ON DELETE SET NULL,
        created_date TEXT NOT NULL,
        last_modified_date TEXT NOT NULL,
        session_schema_version INTEGER NOT NULL DEFAULT 1,
        title TEXT NOT NULL DEFAULT '',
        status INTEGER NOT NULL DEFAULT 0,
        message_count INTEGER NOT NULL DEFAULT 0,
        messages_str TEXT NOT NULL DEFAULT '[]',
        user_liked INTEGER,
        recap TEXT NOT NULL DEFAULT '',
        guards_prompt_leak INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX sessions_bot ON sessions(bot_id, last_modified_date)",
    "CREATE INDEX sessions_modified ON sessions(last_modified_date)",
    "CREATE INDEX sessions_user ON sessions(user_id)",
    # Without these, deleting an assistant's prompts (ON DELETE SET NULL) scans every session.
    "CREATE INDEX sessions_initial_prompt ON sessions(bot_initial_prompt_id)",
    "CREATE INDEX sessions_summary_prompt ON sessions(bot_summary_prompt_id)",
    """
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        message TEXT NOT NULL,
        created_date TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'complete',
        meta TEXT NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX messages_session ON messages(session_id, created_date)",
)

# Version 2: full-text search over message bodies, and the tables Firestore sync will use.
_SEARCH_AND_SYNC = _script(
    # External content: the index stores no second copy of the bodies; triggers keep it in step.
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        message,
        content='messages',
        content_rowid='seq',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, message) VALUES (new.seq, new.message);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
    END
    """,
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF message ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
        INSERT INTO messages_fts(rowid, message) VALUES (new.seq, new.message);
    END
    """,
    # Messages written at version 1 become searchable too.
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created_date TEXT NOT NULL,
        operation TEXT NOT NULL,
        path TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )
    """,
    """
    CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        last_modified_date TEXT NOT NULL
    )
    """,
)

# The lobby lists every assistant in this order; the index spares a sort of the whole table
# (measured: 10,000 assistants listed in a third of the time).
_LOBBY_ORDER = _script(
    "CREATE INDEX bots_lobby_order ON bots(showcased DESC, name COLLATE NOCASE, name, id)",
)

# The columns of ``users`` at version 1, copied whole when version 4 rebuilds the table.
_USER_COLUMNS = (
    "id, user_hash, created_date, last_modified_date, sessions_started, sessions_ended, "
    "bots_created"
)

# Version 4: the local user. A user is a random id created with the store, and ``user_hash``
# (GPT Lab's hash of a real OpenAI key) is only a field, written when such a key is in use and
# never used to find anyone: so it may be NULL, and two users may carry the same one. SQLite
# cannot drop NOT NULL or UNIQUE in place, so ``users`` is rebuilt (ids, and so every link to
# them, unchanged); ``migrate`` runs with foreign keys off, so dropping the old table fires no
# ON DELETE action on the bots and sessions that point at it.
#
# ``local_user`` names the one local user of the store (at most one row). In a file that
# already has users, it is the user owning the most sessions and assistants together (ties:
# the most recently created), so whoever did the work here stays who the app opens as; the
# other users and everything they own stay as they are. A file without users gets its local
# user on first use (``SqliteStore.local_user``).
_LOCAL_USER = _script(
    """
    CREATE TABLE users_v4 (
        id TEXT PRIMARY KEY,
        user_hash TEXT,
        created_date TEXT NOT NULL,
        last_modified_date TEXT NOT NULL,
        sessions_started INTEGER NOT NULL DEFAULT 0,
        sessions_ended INTEGER NOT NULL DEFAULT 0,
        bots_created INTEGER NOT NULL DEFAULT 0
    )
    """,
    f"INSERT INTO users_v4 ({_USER_COLUMNS}) SELECT {_USER_COLUMNS} FROM users ORDER BY rowid",
    "DROP TABLE users",
    "ALTER TABLE users_v4 RENAME TO users",
    # Before this version a user without any key was filed under this stand-in, which is no
    # key's hash (not hexadecimal): such a user has no hash.
    "UPDATE users SET user_hash = NULL WHERE user_hash = 'local-user-without-api-key'",
    """
    CREATE TABLE local_user (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        user_id TEXT NOT NULL UNIQUE REFERENCES users(id)
    )
    """,
    """
    INSERT INTO local_user (only_row, user_id)
    SELECT 1, users.id FROM users
    ORDER BY (SELECT count(*) FROM sessions WHERE sessions.user_id = users.id)
             + (SELECT count(*) FROM bots WHERE bots.creator_user_id = users.id) DESC,
             users.created_date DESC,
             users.id DESC
    LIMIT 1
    """,
)


def _typed_details(conn: sqlite3.Connection) -> None:
    """Version 5: every message's details in ``MessageDetails``'s form.

    Until version 4 the engine stored an interrupted reply's error as its sentence
    (``{"error": "The connection … was lost …", "failure": "llm"}``), so the wording lived in
    the data. Now only the kind is stored (``{"failure": "connection_lost"}``) and the sentence
    is made when shown. ``MessageDetails.from_dict`` reads both forms; each row is rewritten in
    the new one, and keys nothing reads any more go.
    """
    rows = conn.execute("SELECT id, meta FROM messages WHERE meta != '{}'").fetchall()
    for message_id, stored in rows:
        try:
            details = MessageDetails.from_dict(json.loads(stored))
        except ValueError:
            details = MessageDetails()  # unreadable details: the message itself is kept
        typed = json.dumps(details.to_dict(), ensure_ascii=False)
        if typed != stored:
            conn.execute("UPDATE messages SET meta = ? WHERE id = ?", (typed, message_id))


# Version 6: the outbox holds references, not copies. Each row names one cloud document (its
# kind and id, and the bot or session it belongs to), whether it is to be written or deleted,
# and the counter deltas to apply to it; the document itself is built from the local row, and
# encrypted, when it is sent, so no plaintext waits here and several writes to one document
# become one row (at most one pending row per document: the partial unique index). A row being
# sent (``sending``) keeps its ``id`` until the outcome is known: the id is the marker that
# makes a replay count nothing twice. ``dead`` rows are writes the server refused, kept with
# the reason for the user. Version 2's outbox was never written to, so it is replaced.
_OUTBOX_OF_REFERENCES = _script(
    "DROP TABLE outbox",
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (
            kind IN ('user', 'user_hash', 'bot', 'prompt', 'model_config', 'session', 'message')
        ),
        doc_id TEXT NOT NULL,
        parent_id TEXT,
        operation TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
        increments TEXT NOT NULL DEFAULT '{}',
        created_date TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_date TEXT,
        last_error TEXT
    )
    """,
    "CREATE UNIQUE INDEX outbox_pending_document ON outbox(kind, doc_id) WHERE state = 'pending'",
    "CREATE INDEX outbox_state ON outbox(state, seq)",
    "CREATE INDEX outbox_document ON outbox(kind, doc_id)",
    # The sessions whose rows wait while a reply streams (sqlite_outbox), found without a scan.
    "CREATE INDEX messages_streaming ON messages(session_id) WHERE state = 'streaming'",
)


def _stable_showcase_ids(conn: sqlite3.Connection) -> None:
    """Version 7: showcased assistants, and their active versions, get the ids every machine
    gives them (``store.base.showcase_bot_id`` and its siblings), so a synced showcase is one
    set of cloud documents, not a copy per machine. Every link follows (versions, sessions,
    the active pointers); older versions keep their ids: they are this machine's history.
    """
    bots = conn.execute(
        "SELECT id, showcase_key, active_initial_prompt_id, active_summary_prompt_id, "
        "active_model_config_id FROM bots WHERE showcase_key IS NOT NULL"
    ).fetchall()
    for old_id, key, initial_id, summary_id, config_id in bots:
        bot_id = showcase_bot_id(key)
        for statement in (
            "UPDATE bots SET id = :new WHERE id = :old",
            "UPDATE prompts SET bot_id = :new WHERE bot_id = :old",
            "UPDATE model_configs SET bot_id = :new WHERE bot_id = :old",
            "UPDATE sessions SET bot_id = :new WHERE bot_id = :old",
        ):
            conn.execute(statement, {"new": bot_id, "old": old_id})
        for prompt_id, pointer, link in (
            (initial_id, "active_initial_prompt_id", "bot_initial_prompt_id"),
            (summary_id, "active_summary_prompt_id", "bot_summary_prompt_id"),
        ):
            row = conn.execute(
                "SELECT message_type, message FROM prompts WHERE id = ?", (prompt_id,)
            ).fetchone()
            if row is None:
                continue
            stable = showcase_prompt_id(key, PromptType(row[0]), row[1])
            conn.execute("UPDATE prompts SET id = ? WHERE id = ?", (stable, prompt_id))
            # ``pointer`` and ``link`` are fixed column names above, never data.
            conn.execute(f"UPDATE bots SET {pointer} = ? WHERE id = ?", (stable, bot_id))
            conn.execute(f"UPDATE sessions SET {link} = ? WHERE {link} = ?", (stable, prompt_id))
        row = conn.execute("SELECT config FROM model_configs WHERE id = ?", (config_id,)).fetchone()
        if row is not None:
            stable = showcase_model_config_id(key, ModelConfig.from_dict(json.loads(row[0])))
            conn.execute("UPDATE model_configs SET id = ? WHERE id = ?", (stable, config_id))
            conn.execute(
                "UPDATE bots SET active_model_config_id = ? WHERE id = ?", (stable, bot_id)
            )


# The columns of ``bots`` at version 7, copied whole when version 8 rebuilds the table.
_BOT_COLUMNS = (
    "id, name, tag_line, description, session_type, creator_user_id, created_date, "
    "last_modified_date, active_initial_prompt_id, active_model_config_id, "
    "active_summary_prompt_id, showcased, is_active, guards_prompt_leak, sessions_started, "
    "sessions_ended, showcase_key"
)

# Version 8: publishing to a shared project's lobby. ``published`` marks an assistant every
# member of the project may read and chat with, and ``creator_display_name`` is its author's
# name as the lobby shows it (written when it is published). The cache now also holds other
# users' published assistants, whose author has no ``users`` row here (a user's record is
# theirs alone): so ``creator_user_id`` loses its foreign key, and SQLite can only drop one by
# rebuilding the table (as version 4 did ``users``; ids, and every link to them, unchanged).
_PUBLISHED = _script(
    """
    CREATE TABLE bots_v8 (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        tag_line TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        session_type INTEGER NOT NULL,
        creator_user_id TEXT,
        created_date TEXT NOT NULL,
        last_modified_date TEXT NOT NULL,
        active_initial_prompt_id TEXT NOT NULL,
        active_model_config_id TEXT NOT NULL,
        active_summary_prompt_id TEXT NOT NULL,
        showcased INTEGER NOT NULL DEFAULT 0 CHECK (showcased IN (0, 1)),
        is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        guards_prompt_leak INTEGER NOT NULL DEFAULT 0 CHECK (guards_prompt_leak IN (0, 1)),
        sessions_started INTEGER NOT NULL DEFAULT 0,
        sessions_ended INTEGER NOT NULL DEFAULT 0,
        showcase_key TEXT UNIQUE,
        published INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
        creator_display_name TEXT
    )
    """,
    f"INSERT INTO bots_v8 ({_BOT_COLUMNS}) SELECT {_BOT_COLUMNS} FROM bots ORDER BY rowid",
    "DROP TABLE bots",
    "ALTER TABLE bots_v8 RENAME TO bots",
    "CREATE INDEX bots_creator ON bots(creator_user_id)",
    "CREATE INDEX bots_lobby_order ON bots(showcased DESC, name COLLATE NOCASE, name, id)",
)


# 9: the provider a chat talks to (a chat can change provider and model mid-way).
_SESSION_PROVIDER = _script("ALTER TABLE sessions ADD COLUMN provider_id TEXT")


# 10: conversations as trees: each message's parent, and the branch a session shows.
_BRANCHES = _script(
    "ALTER TABLE messages ADD COLUMN parent_id TEXT",
    "ALTER TABLE sessions ADD COLUMN shown_leaf_id TEXT",
)


# 11: chats pinned to the top of the chat list, and the list read from one covering index:
# listing ten thousand chats never touches their rows (a row holds the chat's whole context).
_PINS = _script(
    "ALTER TABLE sessions ADD COLUMN is_pinned INTEGER NOT NULL DEFAULT 0",
    """
    CREATE INDEX sessions_listing ON sessions(
        is_pinned, last_modified_date, id, bot_id, title, created_date, status, message_count,
        bot_model_config
    )
    """,
)


# Forward migrations in order; the schema version (PRAGMA user_version) is how many have run.
# Append only: a released migration is never edited.
MIGRATIONS: tuple[Migration, ...] = (
    _ENTITIES,
    _SEARCH_AND_SYNC,
    _LOBBY_ORDER,
    _LOCAL_USER,
    _typed_details,
    _OUTBOX_OF_REFERENCES,
    _stable_showcase_ids,
    _PUBLISHED,
    _SESSION_PROVIDER,
    _BRANCHES,
    _PINS,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Run the migrations after the file's ``user_version`` up to ``target``; returns the version.

    Each migration runs in its own transaction together with the version bump, so a failure
    leaves the file at the previous version. ``conn`` must be in autocommit mode
    (``isolation_level=None``).

    Foreign keys are not enforced while migrations run (and enforced again afterwards if they
    were): rebuilding a table drops the old one, which with enforcement on would fire the ON
    DELETE actions of every row pointing at it. The pragma only takes effect outside a
    transaction, hence here and not inside a migration.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version >= target:
        return version
    was_enforced = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        while version < target:
            conn.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[version](conn)
                # PRAGMA takes no parameters; the value is our own integer.
                conn.execute(f"PRAGMA user_version = {version + 1:d}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            version += 1
            log.info("Store schema migrated to version %d", version)
    finally:
        if was_enforced:
            conn.execute("PRAGMA foreign_keys = ON")
    return version
