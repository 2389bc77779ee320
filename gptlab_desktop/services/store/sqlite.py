"""The embedded SQLite store: the default backend, and the local cache of every other one.

One connection lives on one worker thread (``SerialExecutor``), so no SQLite call ever runs on
the event loop; every public method is a coroutine that hands a ``_do_*`` function to that
thread. Each operation that touches several rows runs in one ``BEGIN IMMEDIATE`` transaction,
and counters are bumped with ``UPDATE … SET x = x + 1`` inside it, never read-then-write.

The file is opened with care: an existing file is first inspected read-only (its header by
hand, then ``PRAGMA quick_check`` through an immutable read-only connection), and only a file
known to be good, or absent, is ever opened for writing. A damaged file, or one written by a
newer version of the app, is reported through ``StoreHealth`` and left byte-for-byte untouched.

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
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

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
    SessionType,
    User,
    UserLiked,
    new_id,
    utcnow,
)
from gptlab_desktop.services.aio import SerialExecutor, run_blocking
from gptlab_desktop.services.errors import (
    NotFound,
    ReadOnlyAssistant,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    StoreUnavailable,
)
from gptlab_desktop.services.store.base import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    ShowcaseEntry,
    Store,
    StoreHealth,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

Migration = Callable[[sqlite3.Connection], None]

_SQLITE_HEADER = b"SQLite format 3\x00"


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

# Forward migrations in order; the schema version (PRAGMA user_version) is how many have run.
# Append only: a released migration is never edited.
MIGRATIONS: tuple[Migration, ...] = (_ENTITIES, _SEARCH_AND_SYNC, _LOBBY_ORDER)
SCHEMA_VERSION = len(MIGRATIONS)

# A search takes at most this many words, so a pasted essay cannot make a pathological query.
MAX_SEARCH_WORDS = 16
# A one-letter prefix matches a large share of every word ever written, and ranking all
# those messages takes ~100 ms at 100,000 messages; a one-letter last word matches whole.
MIN_PREFIX_LENGTH = 2
_SNIPPET_TOKENS = 12
# Letters and digits only: what FTS5's unicode61 tokenizer keeps as parts of a token.
_SEARCH_WORD = re.compile(r"[^\W_]+")


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Run the migrations after the file's ``user_version`` up to ``target``; returns the version.

    Each migration runs in its own transaction together with the version bump, so a failure
    leaves the file at the previous version. ``conn`` must be in autocommit mode
    (``isolation_level=None``).
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
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
    return version


def fts_query(text: str) -> str | None:
    """An FTS5 query for what a user typed, which no input can turn into a syntax error.

    Each word becomes a quoted phrase, all of them required, and the last one a prefix (when
    it has at least ``MIN_PREFIX_LENGTH`` characters) so results follow the typing. Quoting
    turns operators (``AND``, ``NEAR``, ``*``, parentheses, quotes) into plain words.
    ``None`` when there is nothing to look for.
    """
    words = _SEARCH_WORD.findall(text)[:MAX_SEARCH_WORDS]
    if not words:
        return None
    # The pattern admits no double quote, so a word needs no escaping inside its phrase.
    phrases = [f'"{word}"' for word in words]
    if len(words[-1]) >= MIN_PREFIX_LENGTH:
        phrases[-1] += "*"
    return " ".join(phrases)


def _to_text(moment: datetime) -> str:
    """A datetime as fixed-width ISO-8601 UTC text; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_ZERO = timedelta(0)


def _to_datetime(text: str) -> datetime:
    """A stored date back as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.utcoffset() == _ZERO else moment.astimezone(UTC)


def _config_json(config: ModelConfig) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


def _config_from_json(text: str) -> ModelConfig:
    return ModelConfig.from_dict(json.loads(text))


def _context_json(context: Sequence[ContextMessage]) -> str:
    """The context as GPT Lab's ``messages_str``: a list of {role, message, created_date}."""
    return json.dumps(
        [
            {
                "role": item.role.value,
                "message": item.message,
                "created_date": _to_text(item.created_date),
            }
            for item in context
        ],
        ensure_ascii=False,
    )


def _context_from_json(text: str) -> tuple[ContextMessage, ...]:
    return tuple(
        ContextMessage(
            role=Role(item["role"]),
            message=item["message"],
            created_date=_to_datetime(item["created_date"]),
        )
        for item in json.loads(text)
    )


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        user_hash=row["user_hash"],
        created_date=_to_datetime(row["created_date"]),
        last_modified_date=_to_datetime(row["last_modified_date"]),
        sessions_started=row["sessions_started"],
        sessions_ended=row["sessions_ended"],
        bots_created=row["bots_created"],
    )


# The columns of ``_assistant_from_tuple``, in its order (listing reads many rows at once).
_ASSISTANT_COLUMNS = (
    "id, name, tag_line, description, session_type, creator_user_id, created_date, "
    "last_modified_date, active_initial_prompt_id, active_model_config_id, "
    "active_summary_prompt_id, showcased, is_active, guards_prompt_leak, sessions_started, "
    "sessions_ended, showcase_key"
)


_ASSISTANT_COLUMN_NAMES = tuple(name.strip() for name in _ASSISTANT_COLUMNS.split(","))


def _assistant_from_tuple(row: tuple[Any, ...]) -> Assistant:
    (
        id_,
        name,
        tag_line,
        description,
        session_type,
        creator,
        created,
        modified,
        initial_id,
        config_id,
        summary_id,
        showcased,
        is_active,
        guards,
        started,
        ended,
        key,
    ) = row
    return Assistant(
        id_,
        name,
        tag_line,
        description,
        SessionType(session_type),
        creator,
        _to_datetime(created),
        _to_datetime(modified),
        initial_id,
        config_id,
        summary_id,
        bool(showcased),
        bool(is_active),
        bool(guards),
        started,
        ended,
        key,
    )


def _assistant(row: sqlite3.Row) -> Assistant:
    return _assistant_from_tuple(tuple(row[name] for name in _ASSISTANT_COLUMN_NAMES))


def _prompt(row: sqlite3.Row) -> Prompt:
    return Prompt(
        id=row["id"],
        bot_id=row["bot_id"],
        message_type=PromptType(row["message_type"]),
        message=row["message"],
        created_date=_to_datetime(row["created_date"]),
        is_active=bool(row["is_active"]),
        sessions_started=row["sessions_started"],
        sessions_ended=row["sessions_ended"],
    )


def _model_config_version(row: sqlite3.Row) -> ModelConfigVersion:
    return ModelConfigVersion(
        id=row["id"],
        bot_id=row["bot_id"],
        config=_config_from_json(row["config"]),
        created_date=_to_datetime(row["created_date"]),
        is_active=bool(row["is_active"]),
    )


def _session(row: sqlite3.Row) -> Session:
    liked = row["user_liked"]
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        bot_id=row["bot_id"],
        bot_initial_prompt_msg=row["bot_initial_prompt_msg"],
        bot_model_config=_config_from_json(row["bot_model_config"]),
        bot_session_type=SessionType(row["bot_session_type"]),
        bot_summary_prompt_msg=row["bot_summary_prompt_msg"],
        created_date=_to_datetime(row["created_date"]),
        last_modified_date=_to_datetime(row["last_modified_date"]),
        bot_initial_prompt_id=row["bot_initial_prompt_id"],
        bot_summary_prompt_id=row["bot_summary_prompt_id"],
        title=row["title"],
        status=SessionStatus(row["status"]),
        message_count=row["message_count"],
        context=_context_from_json(row["messages_str"]),
        user_liked=None if liked is None else UserLiked(liked),
        recap=row["recap"],
        guards_prompt_leak=bool(row["guards_prompt_leak"]),
        session_schema_version=row["session_schema_version"],
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        role=Role(row["role"]),
        message=row["message"],
        created_date=_to_datetime(row["created_date"]),
        state=MessageState(row["state"]),
        meta=MessageDetails.from_dict(json.loads(row["meta"])),
    )


def _inspect(path: Path) -> StoreUnavailable | None:
    """Why the existing file at ``path`` must not be opened for writing; ``None`` if it may.

    Nothing here writes: the header is read by hand, and SQLite only sees the file through a
    read-only URI. Without a ``-wal`` sibling the connection is also ``immutable``, because a
    plain read-only connection to a WAL-mode file creates ``-wal`` and ``-shm`` files.
    """
    if not path.exists() or path.stat().st_size == 0:
        # SQLite treats an empty file as an empty database: nothing there to protect.
        return None
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_HEADER):
        return StoreCorrupt(_damaged(path))
    wal = path.with_name(path.name + "-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0
    uri = path.resolve().as_uri() + ("?mode=ro" if has_wal else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error:
        return StoreCorrupt(_damaged(path))
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            return StoreTooNew(
                f"{path} was written by a newer version of GPT Lab Desktop (data format "
                f"{version}; this version reads up to {SCHEMA_VERSION}); it was left "
                "untouched. Update GPT Lab Desktop to open it."
            )
        if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
            return StoreCorrupt(_damaged(path))
        if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            return StoreUnavailable(
                f"{path} is a database of another program, not of GPT Lab Desktop; "
                "it was left untouched."
            )
    except sqlite3.Error:
        return StoreCorrupt(_damaged(path))
    finally:
        conn.close()
    return None


def _damaged(path: Path) -> str:
    return (
        f"{path} is damaged and could not be opened; it was left untouched so that it can "
        "be recovered from a backup. GPT Lab Desktop runs without saved data until then."
    )


def _restrict_permissions(path: Path) -> None:
    """Make the database and its siblings readable by their owner only."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with suppress(FileNotFoundError):
            os.chmod(candidate, 0o600)


def _create_private_file(path: Path) -> None:
    """Create an empty database file readable by its owner only (SQLite gives -wal/-shm the
    same mode as the main file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class SqliteStore(Store):
    """The ``Store`` on one SQLite file, every call on one worker thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = SerialExecutor("sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._unavailable: StoreUnavailable | None = None
        self._is_closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # -- plumbing ---------------------------------------------------------------------------
    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the store's thread, turning SQLite failures into ``StoreError``."""
        self._raise_if_unusable()
        try:
            return await self._executor.run(fn, *args, **kwargs)
        except sqlite3.Error as error:
            # SQLite's messages name constraints and files, never the values written.
            log.exception("Store operation %s failed", getattr(fn, "__name__", fn))
            raise StoreError(
                f"GPT Lab Desktop could not read or save its data ({error})."
            ) from error

    def _raise_if_unusable(self) -> None:
        if self._unavailable is not None:
            # A fresh instance each time, so tracebacks do not pile up on one object.
            raise type(self._unavailable)(self._unavailable.message)
        if self._conn is None or self._is_closed:
            raise StoreUnavailable("The data store is not open.")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable("The data store is not open.")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed if the block finishes, rolled back if it raises."""
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- life -------------------------------------------------------------------------------
    async def open(self) -> StoreHealth:
        """Open (creating or migrating as needed); never raises for a bad file, reports it."""
        if self._conn is not None:
            return StoreHealth(is_usable=True, path=str(self._path))
        if self._unavailable is not None:
            return StoreHealth(False, self._unavailable.message, str(self._path))
        try:
            return await self._executor.run(self._do_open)
        except Exception as error:  # open() reports, never raises
            log.exception("Opening the store failed")
            self._unavailable = StoreUnavailable(
                f"{self._path} could not be opened ({error}); it was left as it was."
            )
            return StoreHealth(False, self._unavailable.message, str(self._path))

    def _do_open(self) -> StoreHealth:
        path = self._path
        try:
            problem = _inspect(path)
        except OSError as error:
            problem = StoreUnavailable(f"{path} could not be read ({error.strerror}).")
        if problem is not None:
            log.warning("Store not usable: %s", problem.message)
            self._unavailable = problem
            return StoreHealth(False, problem.message, str(path))
        conn: sqlite3.Connection | None = None
        try:
            if not path.exists():
                _create_private_file(path)
            # Created on the executor's one worker thread and, with check_same_thread left on,
            # unusable from any other: a stray call from the event loop fails loudly.
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = migrate(conn)
            _restrict_permissions(path)
        except (sqlite3.Error, OSError) as error:
            if conn is not None:
                conn.close()
            self._unavailable = StoreUnavailable(f"{path} could not be opened ({error}).")
            log.warning("Store not usable: %s", self._unavailable.message)
            return StoreHealth(False, self._unavailable.message, str(path))
        self._conn = conn
        log.info("Store opened at %s (schema version %d)", path, version)
        return StoreHealth(is_usable=True, path=str(path))

    async def close(self) -> None:
        """Finish pending writes and release the backend."""
        if self._is_closed:
            return
        self._is_closed = True
        # Always through the worker: an open() still running there is queued before this, so
        # the connection it makes is closed too, and the event loop never waits on a join.
        await self._executor.run(self._do_close)
        await run_blocking(self._executor.shutdown)

    def _do_close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            conn.close()

    # -- users ------------------------------------------------------------------------------
    async def get_or_create_user(self, user_hash: str) -> User:
        """The user known by ``user_hash``, created (with its ``user_hash`` record) if new."""
        return await self._run(self._do_get_or_create_user, user_hash)

    def _do_get_or_create_user(self, user_hash: str) -> User:
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM users WHERE user_hash = ?", (user_hash,)).fetchone()
            if row is not None:
                return _user(row)
            now = _to_text(utcnow())
            user_id = new_id()
            conn.execute(
                "INSERT INTO users (id, user_hash, created_date, last_modified_date) "
                "VALUES (?, ?, ?, ?)",
                (user_id, user_hash, now, now),
            )
            conn.execute(
                "INSERT OR IGNORE INTO user_hash (user_hash, user_hash_type, created_date) "
                "VALUES (?, 'open_ai_key', ?)",
                (user_hash, now),
            )
            log.info("New user created")
            return _user(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        return await self._run(self._do_get_user, user_id)

    def _do_get_user(self, user_id: str) -> User | None:
        row = self._db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else _user(row)

    # -- assistants -------------------------------------------------------------------------
    async def create_assistant(self, draft: AssistantDraft, creator_user_id: str) -> Assistant:
        """Create an assistant with its first prompt and config versions; counts bots_created."""
        return await self._run(self._do_create_assistant, draft, creator_user_id)

    def _do_create_assistant(self, draft: AssistantDraft, creator_user_id: str) -> Assistant:
        with self._transaction() as conn:
            now = _to_text(utcnow())
            counted = conn.execute(
                "UPDATE users SET bots_created = bots_created + 1, last_modified_date = ? "
                "WHERE id = ?",
                (now, creator_user_id),
            )
            if counted.rowcount == 0:
                raise NotFound("The user creating this assistant is not known.")
            bot_id = self._insert_assistant(conn, draft, now, creator_user_id=creator_user_id)
            return self._load_assistant(conn, bot_id)

    async def create_assistants(
        self, drafts: Sequence[AssistantDraft], creator_user_id: str
    ) -> list[Assistant]:
        """Create several assistants in one transaction (an import): all of them or none."""
        return await self._run(self._do_create_assistants, list(drafts), creator_user_id)

    def _do_create_assistants(
        self, drafts: list[AssistantDraft], creator_user_id: str
    ) -> list[Assistant]:
        with self._transaction() as conn:
            now = _to_text(utcnow())
            counted = conn.execute(
                "UPDATE users SET bots_created = bots_created + ?, last_modified_date = ? "
                "WHERE id = ?",
                (len(drafts), now, creator_user_id),
            )
            if counted.rowcount == 0:
                raise NotFound("The user creating these assistants is not known.")
            bot_ids = [
                self._insert_assistant(conn, draft, now, creator_user_id=creator_user_id)
                for draft in drafts
            ]
            return [self._load_assistant(conn, bot_id) for bot_id in bot_ids]

    def _insert_assistant(
        self,
        conn: sqlite3.Connection,
        draft: AssistantDraft,
        now: str,
        *,
        creator_user_id: str | None = None,
        showcase_key: str | None = None,
    ) -> str:
        """Insert a bot with its first versions (inside the caller's transaction)."""
        bot_id, initial_id, summary_id, config_id = new_id(), new_id(), new_id(), new_id()
        conn.execute(
            """
            INSERT INTO bots (
                id, name, tag_line, description, session_type, creator_user_id,
                created_date, last_modified_date, active_initial_prompt_id,
                active_model_config_id, active_summary_prompt_id, showcased,
                guards_prompt_leak, showcase_key
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                bot_id,
                draft.name,
                draft.tag_line,
                draft.description,
                int(draft.session_type),
                creator_user_id,
                now,
                now,
                initial_id,
                config_id,
                summary_id,
                int(showcase_key is not None),
                int(draft.guards_prompt_leak),
                showcase_key,
            ),
        )
        self._insert_prompt(conn, bot_id, initial_id, PromptType.INITIAL, draft.initial_prompt, now)
        self._insert_prompt(conn, bot_id, summary_id, PromptType.SUMMARY, draft.summary_prompt, now)
        self._insert_model_config(conn, bot_id, config_id, draft.model_config, now)
        return bot_id

    @staticmethod
    def _insert_prompt(
        conn: sqlite3.Connection,
        bot_id: str,
        prompt_id: str,
        message_type: PromptType,
        message: str,
        now: str,
    ) -> None:
        """Add the active version of one kind of prompt; the previous one becomes inactive."""
        conn.execute(
            "UPDATE prompts SET is_active = 0 "
            "WHERE bot_id = ? AND message_type = ? AND is_active = 1",
            (bot_id, message_type.value),
        )
        conn.execute(
            "INSERT INTO prompts (id, bot_id, message_type, message, created_date, is_active) "
            "VALUES (?, ?, ?, ?, ?, 1)",
            (prompt_id, bot_id, message_type.value, message, now),
        )

    @staticmethod
    def _insert_model_config(
        conn: sqlite3.Connection, bot_id: str, config_id: str, config: ModelConfig, now: str
    ) -> None:
        """Add the active model config version; the previous one becomes inactive."""
        conn.execute(
            "UPDATE model_configs SET is_active = 0 WHERE bot_id = ? AND is_active = 1",
            (bot_id,),
        )
        conn.execute(
            "INSERT INTO model_configs (id, bot_id, config, created_date, is_active) "
            "VALUES (?, ?, ?, ?, 1)",
            (config_id, bot_id, _config_json(config), now),
        )

    def _load_assistant(self, conn: sqlite3.Connection, assistant_id: str) -> Assistant:
        row = conn.execute("SELECT * FROM bots WHERE id = ?", (assistant_id,)).fetchone()
        if row is None:
            raise NotFound("This assistant no longer exists.")
        return _assistant(row)

    def _load_own_assistant(self, conn: sqlite3.Connection, assistant_id: str) -> Assistant:
        """The assistant, or ``NotFound``; ``ReadOnlyAssistant`` if it is showcased."""
        assistant = self._load_assistant(conn, assistant_id)
        if assistant.showcased:
            raise ReadOnlyAssistant(
                f"“{assistant.name}” is a showcased assistant: it cannot be changed, "
                "only duplicated."
            )
        return assistant

    def _apply_draft(
        self, conn: sqlite3.Connection, assistant: Assistant, draft: AssistantDraft, now: str
    ) -> bool:
        """Bring an assistant in line with ``draft``; whether anything changed.

        Changed prompts and configs become new active versions; the other fields change in
        place. Inside the caller's transaction.
        """
        changed = False
        for message_type, text, pointer in (
            (PromptType.INITIAL, draft.initial_prompt, "active_initial_prompt_id"),
            (PromptType.SUMMARY, draft.summary_prompt, "active_summary_prompt_id"),
        ):
            current = conn.execute(
                "SELECT message FROM prompts WHERE id = ?", (getattr(assistant, pointer),)
            ).fetchone()
            if current is None or current["message"] != text:
                prompt_id = new_id()
                self._insert_prompt(conn, assistant.id, prompt_id, message_type, text, now)
                # ``pointer`` is one of two fixed column names above, never user input.
                conn.execute(
                    f"UPDATE bots SET {pointer} = ? WHERE id = ?", (prompt_id, assistant.id)
                )
                changed = True
        current_config = conn.execute(
            "SELECT config FROM model_configs WHERE id = ?", (assistant.active_model_config_id,)
        ).fetchone()
        if (
            current_config is None
            or _config_from_json(current_config["config"]) != draft.model_config
        ):
            config_id = new_id()
            self._insert_model_config(conn, assistant.id, config_id, draft.model_config, now)
            conn.execute(
                "UPDATE bots SET active_model_config_id = ? WHERE id = ?", (config_id, assistant.id)
            )
            changed = True
        fields = (
            draft.name,
            draft.tag_line,
            draft.description,
            draft.session_type,
            draft.guards_prompt_leak,
        )
        if fields != (
            assistant.name,
            assistant.tag_line,
            assistant.description,
            assistant.session_type,
            assistant.guards_prompt_leak,
        ):
            conn.execute(
                "UPDATE bots SET name = ?, tag_line = ?, description = ?, session_type = ?, "
                "guards_prompt_leak = ? WHERE id = ?",
                (
                    draft.name,
                    draft.tag_line,
                    draft.description,
                    int(draft.session_type),
                    int(draft.guards_prompt_leak),
                    assistant.id,
                ),
            )
            changed = True
        if changed:
            conn.execute("UPDATE bots SET last_modified_date = ? WHERE id = ?", (now, assistant.id))
        return changed

    async def update_assistant(self, assistant_id: str, draft: AssistantDraft) -> Assistant:
        """Apply a draft: a changed prompt or model config becomes a new active version."""
        return await self._run(self._do_update_assistant, assistant_id, draft)

    def _do_update_assistant(self, assistant_id: str, draft: AssistantDraft) -> Assistant:
        with self._transaction() as conn:
            assistant = self._load_own_assistant(conn, assistant_id)
            self._apply_draft(conn, assistant, draft, _to_text(utcnow()))
            return self._load_assistant(conn, assistant_id)

    async def get_assistant(self, assistant_id: str) -> Assistant | None:
        """The assistant with this id, archived or not."""
        return await self._run(self._do_get_assistant, assistant_id)

    def _do_get_assistant(self, assistant_id: str) -> Assistant | None:
        row = self._db.execute("SELECT * FROM bots WHERE id = ?", (assistant_id,)).fetchone()
        return None if row is None else _assistant(row)

    async def get_assistant_details(self, assistant_id: str) -> AssistantDetails | None:
        """The assistant with its active prompts and model config."""
        return await self._run(self._do_get_assistant_details, assistant_id)

    def _do_get_assistant_details(self, assistant_id: str) -> AssistantDetails | None:
        conn = self._db
        # One snapshot for the four reads, so a concurrent edit cannot mix versions.
        conn.execute("BEGIN")
        try:
            row = conn.execute("SELECT * FROM bots WHERE id = ?", (assistant_id,)).fetchone()
            if row is None:
                return None
            assistant = _assistant(row)
            initial = conn.execute(
                "SELECT * FROM prompts WHERE id = ?", (assistant.active_initial_prompt_id,)
            ).fetchone()
            summary = conn.execute(
                "SELECT * FROM prompts WHERE id = ?", (assistant.active_summary_prompt_id,)
            ).fetchone()
            config = conn.execute(
                "SELECT * FROM model_configs WHERE id = ?", (assistant.active_model_config_id,)
            ).fetchone()
        finally:
            conn.execute("COMMIT")
        if initial is None or summary is None or config is None:
            raise StoreError(
                f"The assistant “{assistant.name}” is missing a prompt or model config."
            )
        return AssistantDetails(
            assistant=assistant,
            initial_prompt=_prompt(initial),
            summary_prompt=_prompt(summary),
            model_config=_model_config_version(config),
        )

    async def list_assistants(self, *, include_archived: bool = False) -> list[Assistant]:
        """Showcased first, then own assistants, each group by name (a stable order)."""
        return await self._run(self._do_list_assistants, include_archived)

    def _do_list_assistants(self, include_archived: bool) -> list[Assistant]:
        cursor = self._db.execute(
            f"SELECT {_ASSISTANT_COLUMNS} FROM bots WHERE ? OR is_active = 1 "
            "ORDER BY showcased DESC, name COLLATE NOCASE, name, id",
            (int(include_archived),),
        )
        cursor.row_factory = None  # plain tuples: no per-column name lookups
        return [_assistant_from_tuple(row) for row in cursor.fetchall()]

    async def set_assistant_active(self, assistant_id: str, is_active: bool) -> Assistant:
        """Archive (``False``) or restore (``True``) an own assistant."""
        return await self._run(self._do_set_assistant_active, assistant_id, is_active)

    def _do_set_assistant_active(self, assistant_id: str, is_active: bool) -> Assistant:
        with self._transaction() as conn:
            assistant = self._load_own_assistant(conn, assistant_id)
            if assistant.is_active != is_active:
                conn.execute(
                    "UPDATE bots SET is_active = ?, last_modified_date = ? WHERE id = ?",
                    (int(is_active), _to_text(utcnow()), assistant_id),
                )
            return self._load_assistant(conn, assistant_id)

    async def delete_assistant(self, assistant_id: str) -> None:
        """Delete an own assistant and its versions; its sessions keep their snapshots."""
        await self._run(self._do_delete_assistant, assistant_id)

    def _do_delete_assistant(self, assistant_id: str) -> None:
        with self._transaction() as conn:
            self._load_own_assistant(conn, assistant_id)
            # Prompts and configs go by ON DELETE CASCADE; sessions keep their snapshots and
            # lose only their links (ON DELETE SET NULL).
            conn.execute("DELETE FROM bots WHERE id = ?", (assistant_id,))

    async def list_prompts(self, assistant_id: str, message_type: PromptType) -> list[Prompt]:
        """Every version of one kind of prompt, newest first."""
        return await self._run(self._do_list_prompts, assistant_id, message_type)

    def _do_list_prompts(self, assistant_id: str, message_type: PromptType) -> list[Prompt]:
        conn = self._db
        self._load_assistant(conn, assistant_id)
        rows = conn.execute(
            "SELECT * FROM prompts WHERE bot_id = ? AND message_type = ? "
            "ORDER BY created_date DESC, rowid DESC",
            (assistant_id, PromptType(message_type).value),
        ).fetchall()
        return [_prompt(row) for row in rows]

    async def list_model_configs(self, assistant_id: str) -> list[ModelConfigVersion]:
        """Every model config version, newest first."""
        return await self._run(self._do_list_model_configs, assistant_id)

    def _do_list_model_configs(self, assistant_id: str) -> list[ModelConfigVersion]:
        conn = self._db
        self._load_assistant(conn, assistant_id)
        rows = conn.execute(
            "SELECT * FROM model_configs WHERE bot_id = ? ORDER BY created_date DESC, rowid DESC",
            (assistant_id,),
        ).fetchall()
        return [_model_config_version(row) for row in rows]

    async def activate_prompt(self, assistant_id: str, prompt_id: str) -> Assistant:
        """Make an existing prompt version the active one of its kind."""
        return await self._run(self._do_activate_prompt, assistant_id, prompt_id)

    def _do_activate_prompt(self, assistant_id: str, prompt_id: str) -> Assistant:
        with self._transaction() as conn:
            self._load_own_assistant(conn, assistant_id)
            row = conn.execute(
                "SELECT message_type FROM prompts WHERE id = ? AND bot_id = ?",
                (prompt_id, assistant_id),
            ).fetchone()
            if row is None:
                raise NotFound("This prompt version no longer exists.")
            message_type = PromptType(row["message_type"])
            pointer = (
                "active_initial_prompt_id"
                if message_type is PromptType.INITIAL
                else "active_summary_prompt_id"
            )
            conn.execute(
                "UPDATE prompts SET is_active = (id = ?) WHERE bot_id = ? AND message_type = ?",
                (prompt_id, assistant_id, message_type.value),
            )
            conn.execute(
                f"UPDATE bots SET {pointer} = ?, last_modified_date = ? WHERE id = ?",
                (prompt_id, _to_text(utcnow()), assistant_id),
            )
            return self._load_assistant(conn, assistant_id)

    async def activate_model_config(self, assistant_id: str, config_id: str) -> Assistant:
        """Make an existing model config version the active one."""
        return await self._run(self._do_activate_model_config, assistant_id, config_id)

    def _do_activate_model_config(self, assistant_id: str, config_id: str) -> Assistant:
        with self._transaction() as conn:
            self._load_own_assistant(conn, assistant_id)
            row = conn.execute(
                "SELECT 1 FROM model_configs WHERE id = ? AND bot_id = ?",
                (config_id, assistant_id),
            ).fetchone()
            if row is None:
                raise NotFound("This model config version no longer exists.")
            conn.execute(
                "UPDATE model_configs SET is_active = (id = ?) WHERE bot_id = ?",
                (config_id, assistant_id),
            )
            conn.execute(
                "UPDATE bots SET active_model_config_id = ?, last_modified_date = ? WHERE id = ?",
                (config_id, _to_text(utcnow()), assistant_id),
            )
            return self._load_assistant(conn, assistant_id)

    async def sync_showcase(self, entries: Sequence[ShowcaseEntry]) -> int:
        """Insert or update showcased assistants by key (never duplicating); returns changes."""
        return await self._run(self._do_sync_showcase, list(entries))

    def _do_sync_showcase(self, entries: list[ShowcaseEntry]) -> int:
        changes = 0
        with self._transaction() as conn:
            now = _to_text(utcnow())
            for entry in entries:
                row = conn.execute(
                    "SELECT * FROM bots WHERE showcase_key = ?", (entry.key,)
                ).fetchone()
                if row is None:
                    # No creator, so no user's bots_created counts a showcased assistant.
                    self._insert_assistant(conn, entry.draft, now, showcase_key=entry.key)
                    changes += 1
                elif self._apply_draft(conn, _assistant(row), entry.draft, now):
                    changes += 1
        if changes:
            log.info("Showcase synchronised: %d assistants added or updated", changes)
        return changes

    # -- sessions ---------------------------------------------------------------------------
    @staticmethod
    def _count_session(
        conn: sqlite3.Connection,
        column: str,
        now: str,
        user_id: str,
        bot_id: str | None,
        initial_prompt_id: str | None,
    ) -> None:
        """Bump ``column`` (sessions_started or sessions_ended) on the user, bot and prompt."""
        if column not in ("sessions_started", "sessions_ended"):
            raise ValueError(column)
        conn.execute(
            f"UPDATE users SET {column} = {column} + 1, last_modified_date = ? WHERE id = ?",
            (now, user_id),
        )
        if bot_id is not None:
            conn.execute(f"UPDATE bots SET {column} = {column} + 1 WHERE id = ?", (bot_id,))
        if initial_prompt_id is not None:
            conn.execute(
                f"UPDATE prompts SET {column} = {column} + 1 WHERE id = ?", (initial_prompt_id,)
            )

    async def create_session(self, session: Session) -> Session:
        """Store a new session; counts sessions_started on the user, bot and prompt.

        Storing the same session id again changes and counts nothing (a replayed write).
        """
        return await self._run(self._do_create_session, session)

    def _do_create_session(self, session: Session) -> Session:
        with self._transaction() as conn:
            try:
                inserted = conn.execute(
                    """
                    INSERT INTO sessions (
                        id, user_id, bot_id, bot_initial_prompt_msg, bot_model_config,
                        bot_session_type, bot_summary_prompt_msg, bot_initial_prompt_id,
                        bot_summary_prompt_id, created_date, last_modified_date,
                        session_schema_version, title, status, message_count, messages_str,
                        user_liked, recap, guards_prompt_leak
                    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    (
                        session.id,
                        session.user_id,
                        session.bot_id,
                        session.bot_initial_prompt_msg,
                        _config_json(session.bot_model_config),
                        int(session.bot_session_type),
                        session.bot_summary_prompt_msg,
                        session.bot_initial_prompt_id,
                        session.bot_summary_prompt_id,
                        _to_text(session.created_date),
                        _to_text(session.last_modified_date),
                        session.session_schema_version,
                        session.title,
                        int(session.status),
                        session.message_count,
                        _context_json(session.context),
                        None if session.user_liked is None else int(session.user_liked),
                        session.recap,
                        int(session.guards_prompt_leak),
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise NotFound(
                    "The session's user, assistant or prompt version no longer exists."
                ) from error
            if inserted.rowcount == 1:
                now = _to_text(utcnow())
                links = (session.user_id, session.bot_id, session.bot_initial_prompt_id)
                self._count_session(conn, "sessions_started", now, *links)
                if not session.status.is_open:
                    self._count_session(conn, "sessions_ended", now, *links)
            return self._load_session(conn, session.id)

    @staticmethod
    def _load_session(conn: sqlite3.Connection, session_id: str) -> Session:
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFound("This session no longer exists.")
        return _session(row)

    async def get_session(self, session_id: str) -> Session | None:
        """The session with this id, if any."""
        return await self._run(self._do_get_session, session_id)

    def _do_get_session(self, session_id: str) -> Session | None:
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return None if row is None else _session(row)

    async def list_sessions(
        self, *, bot_id: str | None = None, limit: int | None = None
    ) -> list[Session]:
        """Sessions newest-modified first, of one assistant or of all."""
        return await self._run(self._do_list_sessions, bot_id, limit)

    def _do_list_sessions(self, bot_id: str | None, limit: int | None) -> list[Session]:
        sql_limit = -1 if limit is None else max(limit, 0)
        if bot_id is None:
            rows = self._db.execute(
                "SELECT * FROM sessions ORDER BY last_modified_date DESC, rowid DESC LIMIT ?",
                (sql_limit,),
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM sessions WHERE bot_id = ? "
                "ORDER BY last_modified_date DESC, rowid DESC LIMIT ?",
                (bot_id, sql_limit),
            ).fetchall()
        return [_session(row) for row in rows]

    async def update_session_context(
        self, session_id: str, context: Sequence[ContextMessage]
    ) -> None:
        """Replace the context the model sees next (``messages_str``)."""
        await self._run(self._do_update_session, session_id, "messages_str", _context_json(context))

    async def rename_session(self, session_id: str, title: str) -> None:
        """Give a session a title."""
        await self._run(self._do_update_session, session_id, "title", title)

    def _do_update_session(self, session_id: str, column: str, value: str) -> None:
        if column not in ("messages_str", "title"):
            raise ValueError(column)
        with self._transaction() as conn:
            updated = conn.execute(
                f"UPDATE sessions SET {column} = ?, last_modified_date = ? WHERE id = ?",
                (value, _to_text(utcnow()), session_id),
            )
            if updated.rowcount == 0:
                raise NotFound("This session no longer exists.")

    async def end_session(
        self,
        session_id: str,
        status: SessionStatus,
        *,
        user_liked: UserLiked | None = None,
        recap: str = "",
    ) -> Session:
        """Close a session with a final status; counts sessions_ended once.

        Ending an ended session again counts nothing; it may add a rating or a recap (an
        absent rating or an empty recap keeps the stored one).
        """
        return await self._run(self._do_end_session, session_id, status, user_liked, recap)

    def _do_end_session(
        self, session_id: str, status: SessionStatus, user_liked: UserLiked | None, recap: str
    ) -> Session:
        if SessionStatus(status).is_open:
            raise ValueError("A session ends with a closing status, not STARTED.")
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise NotFound("This session no longer exists.")
            now = _to_text(utcnow())
            conn.execute(
                "UPDATE sessions SET status = ?, user_liked = coalesce(?, user_liked), "
                "recap = CASE WHEN ? = '' THEN recap ELSE ? END, last_modified_date = ? "
                "WHERE id = ?",
                (
                    int(status),
                    None if user_liked is None else int(user_liked),
                    recap,
                    recap,
                    now,
                    session_id,
                ),
            )
            if SessionStatus(row["status"]).is_open:
                self._count_session(
                    conn,
                    "sessions_ended",
                    now,
                    row["user_id"],
                    row["bot_id"],
                    row["bot_initial_prompt_id"],
                )
            return self._load_session(conn, session_id)

    async def delete_session(self, session_id: str) -> None:
        """Delete a session and its messages."""
        await self._run(self._do_delete_session, session_id)

    def _do_delete_session(self, session_id: str) -> None:
        with self._transaction() as conn:
            # Messages (and their search index entries, by trigger) go by ON DELETE CASCADE.
            deleted = conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            if deleted.rowcount == 0:
                raise NotFound("This session no longer exists.")

    # -- messages ---------------------------------------------------------------------------
    async def add_messages(
        self, messages: Sequence[Message], *, context: Sequence[ContextMessage] | None = None
    ) -> None:
        """Append messages of one session to its transcript in one transaction.

        A message id already stored changes and counts nothing (a replayed write). With
        ``context``, the session's context is replaced in the same transaction.
        """
        if not messages:
            return
        if len({message.session_id for message in messages}) != 1:
            raise ValueError("add_messages takes the messages of one session")
        context_json = None if context is None else _context_json(context)
        await self._run(self._do_add_messages, tuple(messages), context_json)

    def _do_add_messages(self, messages: tuple[Message, ...], context_json: str | None) -> None:
        rows = [
            (
                message.id,
                message.session_id,
                Role(message.role).value,
                message.message,
                _to_text(message.created_date),
                MessageState(message.state).value,
                json.dumps(message.meta.to_dict(), ensure_ascii=False),
            )
            for message in messages
        ]
        with self._transaction() as conn:
            try:
                added = conn.executemany(
                    "INSERT INTO messages "
                    "(id, session_id, role, message, created_date, state, meta) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    rows,
                ).rowcount
            except sqlite3.IntegrityError as error:
                raise NotFound("This message's session no longer exists.") from error
            if added > 0:
                conn.execute(
                    "UPDATE sessions SET message_count = message_count + ?, "
                    "messages_str = coalesce(?, messages_str), last_modified_date = ? "
                    "WHERE id = ?",
                    (added, context_json, _to_text(utcnow()), messages[0].session_id),
                )

    async def update_message(
        self,
        message_id: str,
        *,
        text: str,
        state: MessageState,
        meta: MessageDetails | None = None,
        context: Sequence[ContextMessage] | None = None,
    ) -> None:
        """Replace a message's text and state (a streaming reply as it grows, then complete).

        ``meta=None`` keeps the stored details. With ``context``, the session's context is
        replaced in the same transaction.
        """
        meta_json = None if meta is None else json.dumps(meta.to_dict(), ensure_ascii=False)
        context_json = None if context is None else _context_json(context)
        await self._run(self._do_update_message, message_id, text, state, meta_json, context_json)

    def _do_update_message(
        self,
        message_id: str,
        text: str,
        state: MessageState,
        meta_json: str | None,
        context_json: str | None,
    ) -> None:
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE messages SET message = ?, state = ?, meta = coalesce(?, meta) "
                "WHERE id = ? RETURNING session_id",
                (text, MessageState(state).value, meta_json, message_id),
            ).fetchone()
            if updated is None:
                raise NotFound("This message no longer exists.")
            if context_json is not None:
                conn.execute(
                    "UPDATE sessions SET messages_str = ?, last_modified_date = ? WHERE id = ?",
                    (context_json, _to_text(utcnow()), updated["session_id"]),
                )

    async def delete_message(self, message_id: str) -> None:
        """Remove one message (regenerate, edit-and-resend); counts message_count down."""
        await self._run(self._do_delete_message, message_id)

    def _do_delete_message(self, message_id: str) -> None:
        with self._transaction() as conn:
            row = conn.execute(
                "DELETE FROM messages WHERE id = ? RETURNING session_id", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFound("This message no longer exists.")
            conn.execute(
                "UPDATE sessions SET message_count = max(message_count - 1, 0), "
                "last_modified_date = ? WHERE id = ?",
                (_to_text(utcnow()), row["session_id"]),
            )

    async def list_messages(self, session_id: str) -> list[Message]:
        """The transcript in ``created_date`` order (insertion order among equal dates)."""
        return await self._run(self._do_list_messages, session_id)

    def _do_list_messages(self, session_id: str) -> list[Message]:
        rows = self._db.execute(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY created_date, seq",
            (session_id,),
        ).fetchall()
        return [_message(row) for row in rows]

    async def search_messages(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Full-text search over every cached message, best matches first.

        Any text is a valid query (see ``fts_query``); one with no words finds nothing.
        """
        self._raise_if_unusable()
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        return await self._run(self._do_search_messages, match, limit)

    def _do_search_messages(self, match: str, limit: int) -> list[SearchHit]:
        # Rank and cut inside the FTS query, so snippets are built for ``limit`` rows only.
        rows = self._db.execute(
            """
            SELECT m.session_id, m.id, s.title, hit.snippet, m.created_date
            FROM (
                SELECT rowid, rank,
                       snippet(messages_fts, 0, ?, ?, '…', ?) AS snippet
                FROM messages_fts
                WHERE messages_fts MATCH ?
                ORDER BY rank
                LIMIT ?
            ) AS hit
            JOIN messages AS m ON m.seq = hit.rowid
            JOIN sessions AS s ON s.id = m.session_id
            ORDER BY hit.rank
            """,
            (SNIPPET_OPEN, SNIPPET_CLOSE, _SNIPPET_TOKENS, match, limit),
        ).fetchall()
        return [
            SearchHit(
                session_id=row[0],
                message_id=row[1],
                session_title=row[2],
                snippet=row[3],
                created_date=_to_datetime(row[4]),
            )
            for row in rows
        ]

    # -- settings ---------------------------------------------------------------------------
    # Kept in ``sync_state``, the store's key/value table; names are namespaced by their owner
    # (``account.…``), so they never meet the sync engine's own entries.
    async def get_setting(self, name: str) -> str | None:
        """A small named value kept with the data (e.g. the wrapped data key), or None."""
        return await self._run(self._do_get_setting, name)

    def _do_get_setting(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM sync_state WHERE key = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    async def set_setting(self, name: str, value: str) -> None:
        """Store a small named value, replacing any previous one (never a secret)."""
        await self._run(self._do_set_setting, name, value)

    def _do_set_setting(self, name: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sync_state (key, value, last_modified_date) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "last_modified_date = excluded.last_modified_date",
                (name, value, _to_text(utcnow())),
            )
