"""The SQLite store's messages: each session's transcript, and full-text search over all of
them (an FTS5 index kept in step by triggers, see ``sqlite_schema``)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence

from gptlab_desktop.models import (
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    Role,
    SearchHit,
    utcnow,
)
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.store.base import SNIPPET_CLOSE, SNIPPET_OPEN
from gptlab_desktop.services.store.sqlite_database import SqliteDatabase
from gptlab_desktop.services.store.sqlite_rows import (
    context_to_json,
    message_from_row,
    to_datetime,
    to_text,
)

# A search takes at most this many words, so a pasted essay cannot make a pathological query.
MAX_SEARCH_WORDS = 16
# A one-letter prefix matches a large share of every word ever written, and ranking all
# those messages takes ~100 ms at 100,000 messages; a one-letter last word matches whole.
MIN_PREFIX_LENGTH = 2
_SNIPPET_TOKENS = 12
# Letters and digits only: what FTS5's unicode61 tokenizer keeps as parts of a token.
_SEARCH_WORD = re.compile(r"[^\W_]+")


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


class MessageTables(SqliteDatabase):
    """Messages and search: the ``Store``'s message methods."""

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
        context_json = None if context is None else context_to_json(context)
        await self._run(self._do_add_messages, tuple(messages), context_json)

    def _do_add_messages(self, messages: tuple[Message, ...], context_json: str | None) -> None:
        rows = [
            (
                message.id,
                message.session_id,
                Role(message.role).value,
                message.message,
                to_text(message.created_date),
                MessageState(message.state).value,
                json.dumps(message.meta.to_dict(), ensure_ascii=False),
                message.parent_id,
            )
            for message in messages
        ]
        with self._transaction() as conn:
            try:
                added = conn.executemany(
                    "INSERT INTO messages "
                    "(id, session_id, role, message, created_date, state, meta, parent_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    rows,
                ).rowcount
            except sqlite3.IntegrityError as error:
                raise NotFound("This message's session no longer exists.") from error
            if added > 0:
                conn.execute(
                    "UPDATE sessions SET message_count = message_count + ?, "
                    "messages_str = coalesce(?, messages_str), last_modified_date = ? "
                    "WHERE id = ?",
                    (added, context_json, to_text(utcnow()), messages[0].session_id),
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
        context_json = None if context is None else context_to_json(context)
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
                    (context_json, to_text(utcnow()), updated["session_id"]),
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
                (to_text(utcnow()), row["session_id"]),
            )

    async def delete_messages(self, message_ids: Sequence[str]) -> None:
        """Remove messages of one session together (a subtree of its conversation), counting
        message_count down; ids no longer stored are skipped."""
        if message_ids:
            await self._run(self._do_delete_messages, tuple(message_ids))

    def _do_delete_messages(self, message_ids: tuple[str, ...]) -> None:
        with self._transaction() as conn:
            sessions: dict[str, int] = {}
            for message_id in message_ids:
                row = conn.execute(
                    "DELETE FROM messages WHERE id = ? RETURNING session_id", (message_id,)
                ).fetchone()
                if row is not None:
                    sessions[row["session_id"]] = sessions.get(row["session_id"], 0) + 1
            for session_id, removed in sessions.items():
                conn.execute(
                    "UPDATE sessions SET message_count = max(message_count - ?, 0), "
                    "last_modified_date = ? WHERE id = ?",
                    (removed, to_text(utcnow()), session_id),
                )

    async def list_messages(self, session_id: str) -> list[Message]:
        """The transcript in ``created_date`` order (insertion order among equal dates)."""
        return await self._run(self._do_list_messages, session_id)

    def _do_list_messages(self, session_id: str) -> list[Message]:
        rows = self._db.execute(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY created_date, seq",
            (session_id,),
        ).fetchall()
        return [message_from_row(row) for row in rows]

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
                created_date=to_datetime(row[4]),
            )
            for row in rows
        ]
