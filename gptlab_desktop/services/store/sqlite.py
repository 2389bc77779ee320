"""The embedded SQLite store: the default backend, and the local cache of every other one.

``SqliteStore`` is put together from parts that share one connection on one worker thread
(``SqliteDatabase``): assistants and their versions (``sqlite_assistants``), sessions
(``sqlite_sessions``), messages and search (``sqlite_messages``); users and settings are
here. The schema and its migrations live in ``sqlite_schema``, the checks made before a file
is opened in ``sqlite_files``, and the mapping between rows and domain values in
``sqlite_rows``.

Every public method is a coroutine that hands a ``_do_*`` function to the worker thread, so no
SQLite call ever runs on the event loop. Each operation that touches several rows runs in one
``BEGIN IMMEDIATE`` transaction, and counters are bumped with ``UPDATE … SET x = x + 1`` inside
it, never read-then-write.
"""

from __future__ import annotations

import logging

from gptlab_desktop.models import User, new_id, utcnow
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.identity import USER_HASH_TYPE
from gptlab_desktop.services.store.base import Store
from gptlab_desktop.services.store.sqlite_assistants import AssistantTables
from gptlab_desktop.services.store.sqlite_messages import MessageTables
from gptlab_desktop.services.store.sqlite_rows import to_text, user_from_row
from gptlab_desktop.services.store.sqlite_sessions import SessionTables

log = logging.getLogger(__name__)

_LOCAL_USER_QUERY = (
    "SELECT users.* FROM local_user JOIN users ON users.id = local_user.user_id "
    "WHERE local_user.only_row = 1"
)


class SqliteStore(AssistantTables, SessionTables, MessageTables, Store):
    """The ``Store`` on one SQLite file, every call on one worker thread."""

    # -- users ------------------------------------------------------------------------------
    async def local_user(self) -> User:
        """The one local user of this store, created (a random id) the first time it is asked.

        The same user on every open. In a file from before version 4 it is the user who owns
        the most sessions and assistants (see ``sqlite_schema``).
        """
        return await self._run(self._do_local_user)

    def _do_local_user(self) -> User:
        row = self._db.execute(_LOCAL_USER_QUERY).fetchone()
        if row is not None:
            return user_from_row(row)
        with self._transaction() as conn:
            # Asked again under the write lock: another process may have made it meanwhile.
            row = conn.execute(_LOCAL_USER_QUERY).fetchone()
            if row is None:
                now = to_text(utcnow())
                user_id = new_id()
                conn.execute(
                    "INSERT INTO users (id, created_date, last_modified_date) VALUES (?, ?, ?)",
                    (user_id, now, now),
                )
                conn.execute("INSERT INTO local_user (only_row, user_id) VALUES (1, ?)", (user_id,))
                log.info("Local user created")
                row = conn.execute(_LOCAL_USER_QUERY).fetchone()
            return user_from_row(row)

    async def adopt_local_user(self, user_id: str) -> User:
        """Make ``user_id`` the local user: joining a synced account made on another machine.

        Everything the previous local user owns here (sessions, assistants, counts) moves to
        the adopted id in one transaction, so nothing made on this machine before it joined is
        lost or left behind. Adopting the current local user changes nothing.
        """
        if not user_id or "/" in user_id:
            raise ValueError("A user id is non-empty and has no slash.")
        return await self._run(self._do_adopt_local_user, user_id)

    def _do_adopt_local_user(self, user_id: str) -> User:
        current = self._do_local_user()
        if current.id == user_id:
            return current
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
                conn.execute(
                    "INSERT INTO users (id, user_hash, created_date, last_modified_date, "
                    "sessions_started, sessions_ended, bots_created) "
                    "SELECT ?, user_hash, created_date, ?, sessions_started, sessions_ended, "
                    "bots_created FROM users WHERE id = ?",
                    (user_id, to_text(utcnow()), current.id),
                )
            else:  # already pulled: what this machine counted is added to it
                conn.execute(
                    "UPDATE users SET "
                    "sessions_started = sessions_started + :started, "
                    "sessions_ended = sessions_ended + :ended, "
                    "bots_created = bots_created + :bots, last_modified_date = :now "
                    "WHERE id = :id",
                    {
                        "started": current.sessions_started,
                        "ended": current.sessions_ended,
                        "bots": current.bots_created,
                        "now": to_text(utcnow()),
                        "id": user_id,
                    },
                )
            for statement in (
                "UPDATE sessions SET user_id = :new WHERE user_id = :old",
                "UPDATE bots SET creator_user_id = :new WHERE creator_user_id = :old",
                "UPDATE local_user SET user_id = :new WHERE only_row = 1",
                "DELETE FROM users WHERE id = :old",
            ):
                conn.execute(statement, {"new": user_id, "old": current.id})
            log.info("Local user adopted from another machine's account")
            return user_from_row(conn.execute(_LOCAL_USER_QUERY).fetchone())

    async def record_user_hash(self, user_id: str, user_hash: str) -> User:
        """Write GPT Lab's ``user_hash`` on the user (and its ``user_hash`` record); the id stays.

        Only for the hash of a real OpenAI key; the store never finds a user by it. Recording
        the hash the user already has changes nothing.
        """
        if not user_hash:
            raise ValueError("A user hash is not empty.")
        return await self._run(self._do_record_user_hash, user_id, user_hash)

    def _do_record_user_hash(self, user_id: str, user_hash: str) -> User:
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise NotFound("This user is not known.")
            if row["user_hash"] == user_hash:
                return user_from_row(row)
            now = to_text(utcnow())
            conn.execute(
                "UPDATE users SET user_hash = ?, last_modified_date = ? WHERE id = ?",
                (user_hash, now, user_id),
            )
            conn.execute(
                "INSERT OR IGNORE INTO user_hash (user_hash, user_hash_type, created_date) "
                "VALUES (?, ?, ?)",
                (user_hash, USER_HASH_TYPE, now),
            )
            log.info("User hash recorded")
            return user_from_row(
                conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            )

    async def touch_user(self, user_id: str) -> None:
        """Mark the user changed now (what the cloud's user document carries changed with it,
        e.g. the wrapped data key after a new passphrase), so a synced store sends it again."""
        await self._run(self._do_touch_user, user_id)

    def _do_touch_user(self, user_id: str) -> None:
        with self._transaction() as conn:
            touched = conn.execute(
                "UPDATE users SET last_modified_date = ? WHERE id = ?",
                (to_text(utcnow()), user_id),
            )
            if touched.rowcount == 0:
                raise NotFound("This user is not known.")

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        return await self._run(self._do_get_user, user_id)

    def _do_get_user(self, user_id: str) -> User | None:
        row = self._db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else user_from_row(row)

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
                (name, value, to_text(utcnow())),
            )
