"""The outbox in SQLite: every change journalled in its own transaction, read back to be sent.

The journal is a set of TEMP triggers on the store's tables, installed on the connection of a
store that syncs (``OutboxTables.install_journal``): a local-only store has none and pays
nothing. Because a trigger runs inside the statement that fired it, the outbox row and the
change it names are committed together or not at all, by every write method there is — and
by any added later — without one line in them. A trigger records a reference, never the data:
the kind and id of the document, the bot or session it belongs to, upsert or delete, and the
counter deltas (``NEW.x - OLD.x``), merged into the document's one pending row.

Writes that come *from* the cloud (a pull) must not be sent back: they are made with the
journal quiet (``_quietly``), which the triggers test for.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from gptlab_desktop.services.store.outbox import (
    COUNTER_FIELDS,
    DeadLetter,
    DocumentKind,
    EntryState,
    LocalRecord,
    Operation,
    OutboxCounts,
    OutboxEntry,
    UserHashRow,
)
from gptlab_desktop.services.store.sqlite_database import SqliteDatabase
from gptlab_desktop.services.store.sqlite_rows import (
    assistant_from_row,
    message_from_row,
    model_config_version_from_row,
    prompt_from_row,
    session_from_row,
    to_datetime,
    user_from_row,
)

# Each journalled table: the kind of document a row is, its id column, and the column naming
# the document it lives under (a subcollection's parent).
_JOURNALLED: tuple[tuple[str, DocumentKind, str, str | None], ...] = (
    ("users", DocumentKind.USER, "id", None),
    ("user_hash", DocumentKind.USER_HASH, "user_hash", None),
    ("bots", DocumentKind.BOT, "id", None),
    ("prompts", DocumentKind.PROMPT, "id", "bot_id"),
    ("model_configs", DocumentKind.MODEL_CONFIG, "id", "bot_id"),
    ("sessions", DocumentKind.SESSION, "id", None),
    ("messages", DocumentKind.MESSAGE, "id", "session_id"),
)

_NOW = "strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')"
# A marker id: 20 random hex digits, a valid document id.
_MARKER = "lower(hex(randomblob(10)))"


def _increments(kind: DocumentKind, change: str) -> str:
    """The SQL of a row's counter deltas as a JSON object; ``change`` is insert or update."""
    fields = COUNTER_FIELDS.get(kind, ())
    if not fields:
        return "'{}'"
    if change == "insert":
        pairs = ", ".join(f"'{name}', NEW.{name}" for name in fields)
    else:
        pairs = ", ".join(f"'{name}', NEW.{name} - OLD.{name}" for name in fields)
    return f"json_object({pairs})"


def _merged_increments(kind: DocumentKind) -> str:
    """The SQL adding a new row's deltas to those already pending for the document."""
    fields = COUNTER_FIELDS.get(kind, ())
    if not fields:
        return "'{}'"
    pairs = ", ".join(
        f"'{name}', coalesce(json_extract(outbox.increments, '$.{name}'), 0) "
        f"+ coalesce(json_extract(excluded.increments, '$.{name}'), 0)"
        for name in fields
    )
    return f"json_object({pairs})"


_QUIET_TABLE = "CREATE TEMP TABLE IF NOT EXISTS sync_quiet (only_row INTEGER PRIMARY KEY)"


def _journal_statements() -> list[str]:
    """The TEMP table that quiets the journal and the triggers that keep it."""
    statements = [_QUIET_TABLE]
    quiet = "NOT EXISTS (SELECT 1 FROM temp.sync_quiet)"
    for table, kind, id_column, parent_column in _JOURNALLED:
        for change, event in (("insert", "INSERT"), ("update", "UPDATE")):
            row = "NEW"
            parent = f"{row}.{parent_column}" if parent_column else "NULL"
            statements.append(
                f"""
                CREATE TEMP TRIGGER IF NOT EXISTS journal_{table}_{change}
                AFTER {event} ON main.{table} WHEN {quiet}
                BEGIN
                    INSERT INTO outbox
                        (id, kind, doc_id, parent_id, operation, increments, created_date)
                    VALUES ({_MARKER}, '{kind.value}', {row}.{id_column}, {parent}, 'upsert',
                            {_increments(kind, change)}, {_NOW})
                    ON CONFLICT (kind, doc_id) WHERE state = 'pending' DO UPDATE SET
                        operation = 'upsert',
                        parent_id = excluded.parent_id,
                        increments = {_merged_increments(kind)};
                END
                """
            )
        parent = f"OLD.{parent_column}" if parent_column else "NULL"
        # A deleted document's pending deltas go with it: there is nothing left to count on.
        statements.append(
            f"""
            CREATE TEMP TRIGGER IF NOT EXISTS journal_{table}_delete
            AFTER DELETE ON main.{table} WHEN {quiet}
            BEGIN
                INSERT INTO outbox
                    (id, kind, doc_id, parent_id, operation, increments, created_date)
                VALUES ({_MARKER}, '{kind.value}', OLD.{id_column}, {parent}, 'delete', '{{}}',
                        {_NOW})
                ON CONFLICT (kind, doc_id) WHERE state = 'pending' DO UPDATE SET
                    operation = 'delete', increments = '{{}}';
            END
            """
        )
    return statements


# Rows ready to go, oldest first. A session's rows (and its messages') wait while one of its
# messages streams, so a chat turn leaves as one commit once the reply is finished; a row waits
# behind an older unsent row of the same document that is backing off, so a retried write and
# a later one (an upsert, then a delete) never arrive out of order.
_READY = """
SELECT * FROM outbox AS entry
WHERE entry.state IN ('pending', 'sending')
  AND (entry.next_attempt_date IS NULL OR entry.next_attempt_date <= :now)
  AND NOT (entry.kind = 'session' AND entry.doc_id IN
           (SELECT session_id FROM messages WHERE state = 'streaming'))
  AND NOT (entry.kind = 'message' AND entry.parent_id IN
           (SELECT session_id FROM messages WHERE state = 'streaming'))
  AND NOT EXISTS (
      SELECT 1 FROM outbox AS older
      WHERE older.kind = entry.kind AND older.doc_id = entry.doc_id AND older.seq < entry.seq
        AND older.state = 'sending' AND older.next_attempt_date > :now
  )
ORDER BY entry.seq
LIMIT :limit
"""

_RECORD_QUERIES: dict[DocumentKind, str] = {
    DocumentKind.USER: "SELECT * FROM users WHERE id = ?",
    DocumentKind.USER_HASH: "SELECT * FROM user_hash WHERE user_hash = ?",
    DocumentKind.BOT: "SELECT * FROM bots WHERE id = ?",
    DocumentKind.PROMPT: "SELECT * FROM prompts WHERE id = ?",
    DocumentKind.MODEL_CONFIG: "SELECT * FROM model_configs WHERE id = ?",
    DocumentKind.SESSION: "SELECT * FROM sessions WHERE id = ?",
    DocumentKind.MESSAGE: "SELECT * FROM messages WHERE id = ?",
}


def _record_from_row(kind: DocumentKind, row: sqlite3.Row) -> LocalRecord:
    if kind is DocumentKind.USER:
        return user_from_row(row)
    if kind is DocumentKind.USER_HASH:
        return UserHashRow(row["user_hash"], to_datetime(row["created_date"]))
    if kind is DocumentKind.BOT:
        return assistant_from_row(row)
    if kind is DocumentKind.PROMPT:
        return prompt_from_row(row)
    if kind is DocumentKind.MODEL_CONFIG:
        return model_config_version_from_row(row)
    if kind is DocumentKind.SESSION:
        return session_from_row(row)
    return message_from_row(row)


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _everything_statements() -> list[str]:
    """Statements putting every local row in the outbox, counters at their full values."""
    statements = []
    for table, kind, id_column, parent_column in _JOURNALLED:
        fields = COUNTER_FIELDS.get(kind, ())
        increments = (
            "json_object(" + ", ".join(f"'{name}', {name}" for name in fields) + ")"
            if fields
            else "'{}'"
        )
        parent = parent_column or "NULL"
        # ``WHERE true`` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
        statements.append(
            f"""
            INSERT INTO outbox (id, kind, doc_id, parent_id, operation, increments, created_date)
            SELECT {_MARKER}, '{kind.value}', {id_column}, {parent}, 'upsert', {increments},
                   {_NOW}
            FROM main.{table} WHERE true
            ON CONFLICT (kind, doc_id) WHERE state = 'pending' DO NOTHING
            """
        )
    return statements


# The setting naming the cloud the journal is kept for (the project's key), once sync is on.
JOURNAL_SETTING = "sync.journal_for"


class OutboxTables(SqliteDatabase):
    """The outbox of a store that syncs: the journal, and the rows the replayer sends."""

    def install_journal(self, conn: sqlite3.Connection) -> None:
        """Start journalling every change on ``conn`` (on the store's thread, once opened)."""
        for statement in _journal_statements():
            conn.execute(statement)

    def _journal_target(self, conn: sqlite3.Connection) -> str | None:
        row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (JOURNAL_SETTING,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    async def journal_for(self, target: str) -> int:
        """Keep the journal for the cloud named ``target`` (e.g. ``firestore:project/db``).

        The first time, or for another cloud than before, every row already stored is put in
        the outbox (its counters at their full values) in the same transaction that starts the
        journal, so nothing is counted twice or missed, and the push resumes after a crash or
        a quit; what was pending for another cloud is dropped. Returns how many rows were put
        in. Once on, the journal is kept at every open, whatever the storage mode, so changes
        made while the cloud is switched off reach it when it is switched on again.
        """
        return await self._run(self._do_journal_for, target)

    def _do_journal_for(self, target: str) -> int:
        with self._transaction() as conn:
            added = 0
            if self._journal_target(conn) != target:
                conn.execute("DELETE FROM outbox")
                before = conn.total_changes
                for statement in _everything_statements():
                    conn.execute(statement)
                added = conn.total_changes - before
                conn.execute(
                    "INSERT INTO sync_state (key, value, last_modified_date) "
                    f"VALUES (?, ?, {_NOW}) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (JOURNAL_SETTING, target),
                )
            self.install_journal(conn)
            return added

    def _install_journal_if_kept(self, conn: sqlite3.Connection) -> None:
        """At open: resume the journal of a store that has synced before."""
        if self._journal_target(conn) is not None:
            self.install_journal(conn)

    @contextmanager
    def _quietly(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Inside a transaction: changes made in the block are not journalled (a pull)."""
        # Made with the journal; made here too, so a store that never synced can be filled.
        conn.execute(_QUIET_TABLE)
        conn.execute("INSERT OR IGNORE INTO temp.sync_quiet (only_row) VALUES (1)")
        try:
            yield
        finally:
            conn.execute("DELETE FROM temp.sync_quiet")

    # -- sending ----------------------------------------------------------------------------
    async def claim_ready(self, now: str, limit: int) -> list[OutboxEntry]:
        """The next rows to send (at most ``limit``), marked as being sent, with their rows.

        ``now`` is the current time as stored (``sqlite_rows.to_text``).
        """
        return await self._run(self._do_claim_ready, now, limit)

    def _do_claim_ready(self, now: str, limit: int) -> list[OutboxEntry]:
        with self._transaction() as conn:
            rows = conn.execute(_READY, {"now": now, "limit": limit}).fetchall()
            if not rows:
                return []
            seqs = [row["seq"] for row in rows]
            conn.execute(
                f"UPDATE outbox SET state = 'sending' WHERE seq IN ({_placeholders(seqs)})", seqs
            )
            return [self._entry(conn, row) for row in rows]

    @staticmethod
    def _entry(conn: sqlite3.Connection, row: sqlite3.Row) -> OutboxEntry:
        kind = DocumentKind(row["kind"])
        operation = Operation(row["operation"])
        record = None
        if operation is Operation.UPSERT:
            found = conn.execute(_RECORD_QUERIES[kind], (row["doc_id"],)).fetchone()
            record = None if found is None else _record_from_row(kind, found)
        increments = {
            name: int(delta)
            for name, delta in _json_object(row["increments"]).items()
            if name in COUNTER_FIELDS.get(kind, ())
        }
        return OutboxEntry(
            seq=row["seq"],
            id=row["id"],
            kind=kind,
            doc_id=row["doc_id"],
            parent_id=row["parent_id"],
            operation=operation,
            increments=increments,
            attempts=row["attempts"],
            record=record,
        )

    async def mark_sent(self, ids: Sequence[str]) -> None:
        """These writes reached the cloud: forget them."""
        if ids:
            await self._run(self._do_mark_sent, list(ids))

    def _do_mark_sent(self, ids: list[str]) -> None:
        with self._transaction() as conn:
            conn.execute(f"DELETE FROM outbox WHERE id IN ({_placeholders(ids)})", ids)

    async def mark_retry(self, ids: Sequence[str], error: str, next_attempt: str) -> None:
        """These writes failed for now (outcome unknown): try again from ``next_attempt``."""
        if ids:
            await self._run(self._do_mark_retry, list(ids), error, next_attempt)

    def _do_mark_retry(self, ids: list[str], error: str, next_attempt: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_date = ? "
                f"WHERE id IN ({_placeholders(ids)})",
                [error, next_attempt, *ids],
            )

    async def make_waiting_due(self) -> int:
        """Every write backing off is due now (the user asked to sync now); returns how many."""
        return await self._run(self._do_make_waiting_due)

    def _do_make_waiting_due(self) -> int:
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt_date = NULL "
                "WHERE state = 'sending' AND next_attempt_date IS NOT NULL"
            ).rowcount

    async def mark_dead(self, entry_id: str, reason: str) -> None:
        """The server refused this write: keep it, with the reason, and stop sending it."""
        await self._run(self._do_mark_dead, entry_id, reason)

    def _do_mark_dead(self, entry_id: str, reason: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'dead', last_error = ? WHERE id = ?", (reason, entry_id)
            )

    async def retry_dead_letters(self) -> int:
        """Send the refused writes again (the user fixed the cause); returns how many."""
        return await self._run(self._do_retry_dead_letters)

    def _do_retry_dead_letters(self) -> int:
        with self._transaction() as conn:
            # Still 'sending', never merged: a refused write may have landed after all.
            return conn.execute(
                "UPDATE outbox SET state = 'sending', next_attempt_date = NULL WHERE state = 'dead'"
            ).rowcount

    # -- what the user sees -----------------------------------------------------------------
    async def outbox_counts(self) -> OutboxCounts:
        """How many writes wait, and how many were refused."""
        return await self._run(self._do_outbox_counts)

    def _do_outbox_counts(self) -> OutboxCounts:
        counts = dict(
            self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        )
        pending = counts.get(EntryState.PENDING.value, 0) + counts.get(EntryState.SENDING.value, 0)
        return OutboxCounts(pending=pending, dead=counts.get(EntryState.DEAD.value, 0))

    async def dead_letters(self) -> list[DeadLetter]:
        """The refused writes, oldest first."""
        return await self._run(self._do_dead_letters)

    def _do_dead_letters(self) -> list[DeadLetter]:
        rows = self._db.execute(
            "SELECT id, kind, doc_id, last_error, created_date FROM outbox "
            "WHERE state = 'dead' ORDER BY seq"
        ).fetchall()
        return [
            DeadLetter(
                id=row["id"],
                kind=DocumentKind(row["kind"]),
                doc_id=row["doc_id"],
                reason=row["last_error"] or "",
                created_date=to_datetime(row["created_date"]),
            )
            for row in rows
        ]


def _json_object(text: str) -> dict[str, object]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}
