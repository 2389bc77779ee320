"""The SQLite store's file: checked before it is opened, created private, opened for writing.

The file is opened with care: an existing file is first inspected read-only (its header by
hand, then ``PRAGMA quick_check`` through an immutable read-only connection), and only a file
known to be good, or absent, is ever opened for writing. A damaged file, or one written by a
newer version of the app, is refused with a ``StoreUnavailable`` that says so, and left
byte-for-byte untouched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from gptlab_desktop.services.errors import StoreCorrupt, StoreTooNew, StoreUnavailable
from gptlab_desktop.services.store.sqlite_schema import SCHEMA_VERSION, migrate

log = logging.getLogger(__name__)

_SQLITE_HEADER = b"SQLite format 3\x00"


def open_database(path: Path) -> sqlite3.Connection:
    """The store's one connection to ``path``, created or migrated as needed.

    Raises ``StoreUnavailable`` (``StoreCorrupt``, ``StoreTooNew``) with a user-facing
    sentence when the file must not or cannot be used; nothing is written to such a file.
    The connection belongs to the calling thread (``check_same_thread`` stays on).
    """
    try:
        problem = check_before_opening(path)
    except OSError as error:
        problem = StoreUnavailable(f"{path} could not be read ({error.strerror}).")
    if problem is not None:
        raise problem
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
        message = f"{path} could not be opened ({error})."
    else:
        log.info("Store opened at %s (schema version %d)", path, version)
        return conn
    # Raised outside the handler, so the refusal carries no chained SQLite traceback.
    raise StoreUnavailable(message)


def check_before_opening(path: Path) -> StoreUnavailable | None:
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
