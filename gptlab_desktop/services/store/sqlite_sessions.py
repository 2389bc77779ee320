"""The SQLite store's sessions: each a snapshot of the assistant it started with, counted on
its user, assistant and prompt version as it starts and ends."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gptlab_desktop.models import (
    ContextMessage,
    ModelConfig,
    Session,
    SessionStatus,
    SessionSummary,
    UserLiked,
    utcnow,
)
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.store.sqlite_database import SqliteDatabase
from gptlab_desktop.services.store.sqlite_rows import (
    SUMMARY_COLUMNS,
    config_to_json,
    context_to_json,
    session_from_row,
    summary_from_values,
    to_text,
)


class SessionTables(SqliteDatabase):
    """Sessions: the ``Store``'s session methods."""

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
                        user_liked, recap, guards_prompt_leak, provider_id, shown_leaf_id,
                        is_pinned
                    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    (
                        session.id,
                        session.user_id,
                        session.bot_id,
                        session.bot_initial_prompt_msg,
                        config_to_json(session.bot_model_config),
                        int(session.bot_session_type),
                        session.bot_summary_prompt_msg,
                        session.bot_initial_prompt_id,
                        session.bot_summary_prompt_id,
                        to_text(session.created_date),
                        to_text(session.last_modified_date),
                        session.session_schema_version,
                        session.title,
                        int(session.status),
                        session.message_count,
                        context_to_json(session.context),
                        None if session.user_liked is None else int(session.user_liked),
                        session.recap,
                        int(session.guards_prompt_leak),
                        session.provider_id,
                        session.shown_leaf_id,
                        int(session.is_pinned),
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise NotFound(
                    "The session's user, assistant or prompt version no longer exists."
                ) from error
            if inserted.rowcount == 1:
                now = to_text(utcnow())
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
        return session_from_row(row)

    async def get_session(self, session_id: str) -> Session | None:
        """The session with this id, if any."""
        return await self._run(self._do_get_session, session_id)

    def _do_get_session(self, session_id: str) -> Session | None:
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return None if row is None else session_from_row(row)

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
        return [session_from_row(row) for row in rows]

    async def list_session_summaries(
        self, *, bot_id: str | None = None, limit: int | None = None
    ) -> list[SessionSummary]:
        """What a chat list shows of each session: pinned ones first, then newest-modified
        first; of one assistant or of all. Read from the listing index alone."""
        return await self._run(self._do_list_summaries, bot_id, limit)

    def _do_list_summaries(self, bot_id: str | None, limit: int | None) -> list[SessionSummary]:
        sql_limit = -1 if limit is None else max(limit, 0)
        where = "" if bot_id is None else "WHERE bot_id = :bot "
        # Plain tuples, not named rows; ties in time broken by id, the index's next column, so
        # the index is read backwards with nothing to sort.
        cursor = self._db.cursor()
        cursor.row_factory = None
        rows = cursor.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM sessions INDEXED BY sessions_listing {where}"
            "ORDER BY is_pinned DESC, last_modified_date DESC, id DESC LIMIT :limit",
            {"bot": bot_id, "limit": sql_limit},
        ).fetchall()
        return [summary_from_values(row) for row in rows]

    async def update_session_context(
        self, session_id: str, context: Sequence[ContextMessage]
    ) -> None:
        """Replace the context the model sees next (``messages_str``)."""
        await self._run(
            self._do_update_session, session_id, "messages_str", context_to_json(context)
        )

    async def rename_session(self, session_id: str, title: str) -> None:
        """Give a session a title."""
        await self._run(self._do_update_session, session_id, "title", title)

    async def pin_session(self, session_id: str, is_pinned: bool) -> None:
        """Pin a session to the top of the chat list, or unpin it. Not an activity: its last
        modified date, and so its place among the chats by date, stays."""
        await self._run(self._do_pin_session, session_id, is_pinned)

    def _do_pin_session(self, session_id: str, is_pinned: bool) -> None:
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE sessions SET is_pinned = ? WHERE id = ?", (int(is_pinned), session_id)
            )
            if updated.rowcount == 0:
                raise NotFound("This session no longer exists.")

    async def show_branch(
        self,
        session_id: str,
        leaf_id: str | None,
        context: Sequence[ContextMessage],
        message_count: int,
    ) -> None:
        """Show the branch ending at ``leaf_id``: its context and message count become the
        session's (GPT Lab's meaning, for the branch shown)."""
        await self._run(
            self._do_show_branch, session_id, leaf_id, context_to_json(context), message_count
        )

    def _do_show_branch(
        self, session_id: str, leaf_id: str | None, context: str, message_count: int
    ) -> None:
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE sessions SET shown_leaf_id = ?, messages_str = ?, message_count = ?, "
                "last_modified_date = ? WHERE id = ?",
                (leaf_id, context, message_count, to_text(utcnow()), session_id),
            )
            if updated.rowcount == 0:
                raise NotFound("This session no longer exists.")

    async def change_session_model(
        self, session_id: str, config: ModelConfig, provider_id: str | None
    ) -> None:
        """Make the chat talk to ``config``'s model (and temperature) on that provider."""
        await self._run(self._do_change_model, session_id, config_to_json(config), provider_id)

    def _do_change_model(self, session_id: str, config: str, provider_id: str | None) -> None:
        with self._transaction() as conn:
            updated = conn.execute(
                "UPDATE sessions SET bot_model_config = ?, provider_id = ?, "
                "last_modified_date = ? WHERE id = ?",
                (config, provider_id, to_text(utcnow()), session_id),
            )
            if updated.rowcount == 0:
                raise NotFound("This session no longer exists.")

    def _do_update_session(self, session_id: str, column: str, value: str) -> None:
        if column not in ("messages_str", "title"):
            raise ValueError(column)
        with self._transaction() as conn:
            updated = conn.execute(
                f"UPDATE sessions SET {column} = ?, last_modified_date = ? WHERE id = ?",
                (value, to_text(utcnow()), session_id),
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
            now = to_text(utcnow())
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
