"""Bringing another machine's changes into the SQLite cache, without sending them back.

``PullTables.apply_pulled`` writes documents read from the cloud (already decoded into domain
values by ``cloud/documents``) into the local tables in one transaction, with the journal quiet
(``sqlite_outbox``), so a pulled change is never echoed to the cloud. The rules:

* **Last writer wins, per document.** A pulled document replaces the local row unless the local
  row is newer (``last_modified_date``, where the kind has one) or has a write of its own still
  waiting in the outbox: that write reaches the cloud later and wins there, so the cache keeps
  what the cloud is about to hold.
* **Counters converge**: the local value becomes the cloud's plus the deltas still waiting in
  the outbox (they are increments the cloud has not seen yet).
* **Deletions win**: a tombstone deletes the local row and drops any write of it still waiting,
  so a session deleted on one machine never returns from another.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from gptlab_desktop.models import Assistant, Message, ModelConfigVersion, Prompt, Session, User
from gptlab_desktop.services.store.outbox import COUNTER_FIELDS, DocumentKind, UserHashRow
from gptlab_desktop.services.store.sqlite_outbox import OutboxTables
from gptlab_desktop.services.store.sqlite_rows import config_to_json, context_to_json, to_text

log = logging.getLogger(__name__)

_TABLES: dict[DocumentKind, tuple[str, str]] = {
    DocumentKind.USER: ("users", "id"),
    DocumentKind.USER_HASH: ("user_hash", "user_hash"),
    DocumentKind.BOT: ("bots", "id"),
    DocumentKind.PROMPT: ("prompts", "id"),
    DocumentKind.MODEL_CONFIG: ("model_configs", "id"),
    DocumentKind.SESSION: ("sessions", "id"),
    DocumentKind.MESSAGE: ("messages", "id"),
}
# Parents before children, so a pulled message finds its session.
_ORDER = (
    DocumentKind.USER,
    DocumentKind.USER_HASH,
    DocumentKind.BOT,
    DocumentKind.PROMPT,
    DocumentKind.MODEL_CONFIG,
    DocumentKind.SESSION,
    DocumentKind.MESSAGE,
)


@dataclass(frozen=True, slots=True)
class PulledChanges:
    """What a pull changed in the cache, by kind (for the views to refresh)."""

    changed: dict[DocumentKind, set[str]] = field(default_factory=dict)

    def ids(self, kind: DocumentKind) -> set[str]:
        """The ids of the documents of ``kind`` that changed."""
        return self.changed.get(kind, set())

    @property
    def is_empty(self) -> bool:
        """Whether nothing changed."""
        return not any(self.changed.values())


def _kind_of(record: object) -> DocumentKind:
    for kind, cls in (
        (DocumentKind.USER, User),
        (DocumentKind.USER_HASH, UserHashRow),
        (DocumentKind.BOT, Assistant),
        (DocumentKind.PROMPT, Prompt),
        (DocumentKind.MODEL_CONFIG, ModelConfigVersion),
        (DocumentKind.SESSION, Session),
        (DocumentKind.MESSAGE, Message),
    ):
        if isinstance(record, cls):
            return kind
    raise TypeError(f"{type(record).__name__} is not a cloud document's value")


def _id_of(record: object) -> str:
    return record.user_hash if isinstance(record, UserHashRow) else record.id  # type: ignore[attr-defined]


def _columns(record: object) -> dict[str, object]:
    """The row a pulled value is stored as (counters included, at the cloud's values)."""
    if isinstance(record, User):
        return {
            "id": record.id,
            "user_hash": record.user_hash,
            "created_date": to_text(record.created_date),
            "last_modified_date": to_text(record.last_modified_date),
            "sessions_started": record.sessions_started,
            "sessions_ended": record.sessions_ended,
            "bots_created": record.bots_created,
        }
    if isinstance(record, UserHashRow):
        return {"user_hash": record.user_hash, "created_date": to_text(record.created_date)}
    if isinstance(record, Assistant):
        return {
            "id": record.id,
            "name": record.name,
            "tag_line": record.tag_line,
            "description": record.description,
            "session_type": int(record.session_type),
            "creator_user_id": record.creator_user_id,
            "created_date": to_text(record.created_date),
            "last_modified_date": to_text(record.last_modified_date),
            "active_initial_prompt_id": record.active_initial_prompt_id,
            "active_model_config_id": record.active_model_config_id,
            "active_summary_prompt_id": record.active_summary_prompt_id,
            "showcased": int(record.showcased),
            "is_active": int(record.is_active),
            "guards_prompt_leak": int(record.guards_prompt_leak),
            "sessions_started": record.sessions_started,
            "sessions_ended": record.sessions_ended,
            "showcase_key": record.showcase_key,
            "published": int(record.published),
            "creator_display_name": record.creator_display_name,
        }
    if isinstance(record, Prompt):
        return {
            "id": record.id,
            "bot_id": record.bot_id,
            "message_type": record.message_type.value,
            "message": record.message,
            "created_date": to_text(record.created_date),
            "is_active": int(record.is_active),
            "sessions_started": record.sessions_started,
            "sessions_ended": record.sessions_ended,
        }
    if isinstance(record, ModelConfigVersion):
        return {
            "id": record.id,
            "bot_id": record.bot_id,
            "config": config_to_json(record.config),
            "created_date": to_text(record.created_date),
            "is_active": int(record.is_active),
        }
    if isinstance(record, Session):
        return {
            "id": record.id,
            "user_id": record.user_id,
            "bot_id": record.bot_id,
            "bot_initial_prompt_msg": record.bot_initial_prompt_msg,
            "bot_model_config": config_to_json(record.bot_model_config),
            "bot_session_type": int(record.bot_session_type),
            "bot_summary_prompt_msg": record.bot_summary_prompt_msg,
            "bot_initial_prompt_id": record.bot_initial_prompt_id,
            "bot_summary_prompt_id": record.bot_summary_prompt_id,
            "created_date": to_text(record.created_date),
            "last_modified_date": to_text(record.last_modified_date),
            "session_schema_version": record.session_schema_version,
            "title": record.title,
            "status": int(record.status),
            "message_count": record.message_count,
            "messages_str": context_to_json(record.context),
            "user_liked": None if record.user_liked is None else int(record.user_liked),
            "recap": record.recap,
            "guards_prompt_leak": int(record.guards_prompt_leak),
            "provider_id": record.provider_id,
            "shown_leaf_id": record.shown_leaf_id,
            "is_pinned": int(record.is_pinned),
        }
    if isinstance(record, Message):
        return {
            "id": record.id,
            "session_id": record.session_id,
            "role": record.role.value,
            "message": record.message,
            "created_date": to_text(record.created_date),
            "state": record.state.value,
            "meta": json.dumps(record.meta.to_dict(), ensure_ascii=False),
            "parent_id": record.parent_id,
        }
    raise TypeError(f"{type(record).__name__} is not a cloud document's value")


# Links a pulled row may carry to a row this cache does not have (deleted here, or never
# pulled): kept as NULL, as a local delete would have left them.
_OPTIONAL_LINKS: dict[DocumentKind, tuple[tuple[str, str], ...]] = {
    DocumentKind.SESSION: (
        ("bot_id", "bots"),
        ("bot_initial_prompt_id", "prompts"),
        ("bot_summary_prompt_id", "prompts"),
    ),
}


class PullTables(OutboxTables):
    """Applying documents pulled from the cloud to the cache (see the module docstring)."""

    async def apply_pulled(
        self,
        records: Sequence[object],
        deletions: Sequence[tuple[DocumentKind, str]] = (),
    ) -> PulledChanges:
        """Bring pulled documents and tombstones into the cache, in one transaction."""
        return await self._run(self._do_apply_pulled, list(records), list(deletions))

    def _do_apply_pulled(
        self, records: list[object], deletions: list[tuple[DocumentKind, str]]
    ) -> PulledChanges:
        changed: dict[DocumentKind, set[str]] = {}
        by_kind: dict[DocumentKind, list[object]] = {}
        for record in records:
            by_kind.setdefault(_kind_of(record), []).append(record)
        with self._transaction() as conn, self._quietly(conn):
            for kind in _ORDER:
                for record in by_kind.get(kind, ()):
                    if self._apply_one(conn, kind, record):
                        changed.setdefault(kind, set()).add(_id_of(record))
            for kind, doc_id in deletions:
                table, id_column = _TABLES[kind]
                conn.execute(
                    "DELETE FROM outbox WHERE kind = ? AND doc_id = ? AND state != 'dead'",
                    (kind.value, doc_id),
                )
                # ``table`` and ``id_column`` come from the fixed map above.
                gone = conn.execute(f"DELETE FROM {table} WHERE {id_column} = ?", (doc_id,))
                if gone.rowcount:
                    changed.setdefault(kind, set()).add(doc_id)
        return PulledChanges(changed)

    def _apply_one(self, conn: sqlite3.Connection, kind: DocumentKind, record: object) -> bool:
        table, id_column = _TABLES[kind]
        columns = _columns(record)
        doc_id = str(columns[id_column])
        local = conn.execute(f"SELECT * FROM {table} WHERE {id_column} = ?", (doc_id,)).fetchone()
        waiting = conn.execute(
            "SELECT increments, operation FROM outbox WHERE kind = ? AND doc_id = ? "
            "AND state IN ('pending', 'sending')",
            (kind.value, doc_id),
        ).fetchall()
        if any(row["operation"] == "delete" for row in waiting):
            return False  # deleted here: the delete is on its way
        counters = COUNTER_FIELDS.get(kind, ())
        for name in counters:
            pending = sum(int(json.loads(row["increments"]).get(name, 0)) for row in waiting)
            columns[name] = int(columns[name]) + pending  # type: ignore[call-overload]
        keeps_local = local is not None and (
            bool(waiting)
            or (
                "last_modified_date" in columns
                and str(local["last_modified_date"]) > str(columns["last_modified_date"])
            )
        )
        if keeps_local:
            columns = {name: columns[name] for name in counters} | {id_column: doc_id}
        self._unlink_missing(conn, kind, columns)
        if local is not None and all(local[name] == value for name, value in columns.items()):
            return False
        if local is None:
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            try:
                conn.execute(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})", list(columns.values())
                )
            except sqlite3.IntegrityError:
                # Its parent is not here (deleted here, or a pull yet to bring it): skipped
                # now, brought by a later pull if it still exists.
                log.warning("A pulled %s was skipped: what it belongs to is not here", kind)
                return False
            return True
        assignments = ", ".join(f"{name} = ?" for name in columns if name != id_column)
        values = [value for name, value in columns.items() if name != id_column]
        if assignments:
            conn.execute(
                f"UPDATE {table} SET {assignments} WHERE {id_column} = ?", [*values, doc_id]
            )
        return True

    @staticmethod
    def _unlink_missing(
        conn: sqlite3.Connection, kind: DocumentKind, columns: dict[str, object]
    ) -> None:
        for column, table in _OPTIONAL_LINKS.get(kind, ()):
            value = columns.get(column)
            if (
                value is not None
                and conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (value,)).fetchone() is None
            ):
                columns[column] = None
