"""The SQLite store's assistants: bots with their prompt and model config versions, and the
showcase kept in step with resources/.

Editing an assistant adds a version and moves its ``active_*`` pointer (DESIGN.md), so older
versions stay listed and can be made active again.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from gptlab_desktop.models import (
    Assistant,
    AssistantDetails,
    AssistantDraft,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    new_id,
    utcnow,
)
from gptlab_desktop.services.errors import NotFound, ReadOnlyAssistant, StoreError
from gptlab_desktop.services.store.base import ShowcaseEntry
from gptlab_desktop.services.store.sqlite_database import SqliteDatabase
from gptlab_desktop.services.store.sqlite_rows import (
    ASSISTANT_COLUMNS,
    assistant_from_row,
    assistant_from_tuple,
    config_from_json,
    config_to_json,
    model_config_version_from_row,
    prompt_from_row,
    to_text,
)

log = logging.getLogger(__name__)


class AssistantTables(SqliteDatabase):
    """Assistants, their versions and the showcase: the ``Store``'s assistant methods."""

    async def create_assistant(self, draft: AssistantDraft, creator_user_id: str) -> Assistant:
        """Create an assistant with its first prompt and config versions; counts bots_created."""
        return await self._run(self._do_create_assistant, draft, creator_user_id)

    def _do_create_assistant(self, draft: AssistantDraft, creator_user_id: str) -> Assistant:
        with self._transaction() as conn:
            now = to_text(utcnow())
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
            now = to_text(utcnow())
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
        showcase: ShowcaseEntry | None = None,
    ) -> str:
        """Insert a bot with its first versions (inside the caller's transaction).

        A showcased one (``showcase``) gets the ids every machine gives it.
        """
        if showcase is None:
            bot_id, initial_id, summary_id, config_id = new_id(), new_id(), new_id(), new_id()
        else:
            bot_id = showcase.bot_id
            initial_id = showcase.prompt_id(PromptType.INITIAL, draft.initial_prompt)
            summary_id = showcase.prompt_id(PromptType.SUMMARY, draft.summary_prompt)
            config_id = showcase.model_config_id(draft.model_config)
        showcase_key = None if showcase is None else showcase.key
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
        # A showcased assistant's version ids come from their content, so a text shipped
        # before and shipped again is that version made active again.
        conn.execute(
            "INSERT INTO prompts (id, bot_id, message_type, message, created_date, is_active) "
            "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO UPDATE SET is_active = 1",
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
            "VALUES (?, ?, ?, ?, 1) ON CONFLICT (id) DO UPDATE SET is_active = 1",
            (config_id, bot_id, config_to_json(config), now),
        )

    def _load_assistant(self, conn: sqlite3.Connection, assistant_id: str) -> Assistant:
        row = conn.execute(
            f"SELECT {ASSISTANT_COLUMNS} FROM bots WHERE id = ?", (assistant_id,)
        ).fetchone()
        if row is None:
            raise NotFound("This assistant no longer exists.")
        return assistant_from_row(row)

    def _load_own_assistant(self, conn: sqlite3.Connection, assistant_id: str) -> Assistant:
        """The assistant, or ``NotFound``; ``ReadOnlyAssistant`` if it is showcased or another
        user's published one (cached from a shared project's lobby)."""
        assistant = self._load_assistant(conn, assistant_id)
        if assistant.showcased:
            raise ReadOnlyAssistant(
                f"“{assistant.name}” is a showcased assistant: it cannot be changed, "
                "only duplicated."
            )
        local = conn.execute("SELECT user_id FROM local_user WHERE only_row = 1").fetchone()
        if assistant.is_read_only_for(None if local is None else local[0]):
            raise ReadOnlyAssistant(
                f"“{assistant.name}” is another user's published assistant: it cannot be "
                "changed, only duplicated."
            )
        return assistant

    def _apply_draft(
        self,
        conn: sqlite3.Connection,
        assistant: Assistant,
        draft: AssistantDraft,
        now: str,
        showcase: ShowcaseEntry | None = None,
    ) -> bool:
        """Bring an assistant in line with ``draft``; whether anything changed.

        Changed prompts and configs become new active versions (with the ids every machine
        gives a ``showcase`` entry's); the other fields change in place. Inside the caller's
        transaction.
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
                prompt_id = new_id() if showcase is None else showcase.prompt_id(message_type, text)
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
            or config_from_json(current_config["config"]) != draft.model_config
        ):
            config_id = (
                new_id() if showcase is None else showcase.model_config_id(draft.model_config)
            )
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
            self._apply_draft(conn, assistant, draft, to_text(utcnow()))
            return self._load_assistant(conn, assistant_id)

    async def get_assistant(self, assistant_id: str) -> Assistant | None:
        """The assistant with this id, archived or not."""
        return await self._run(self._do_get_assistant, assistant_id)

    def _do_get_assistant(self, assistant_id: str) -> Assistant | None:
        row = self._db.execute(
            f"SELECT {ASSISTANT_COLUMNS} FROM bots WHERE id = ?", (assistant_id,)
        ).fetchone()
        return None if row is None else assistant_from_row(row)

    async def get_assistant_details(self, assistant_id: str) -> AssistantDetails | None:
        """The assistant with its active prompts and model config."""
        return await self._run(self._do_get_assistant_details, assistant_id)

    def _do_get_assistant_details(self, assistant_id: str) -> AssistantDetails | None:
        conn = self._db
        # One snapshot for the four reads, so a concurrent edit cannot mix versions.
        conn.execute("BEGIN")
        try:
            row = conn.execute(
                f"SELECT {ASSISTANT_COLUMNS} FROM bots WHERE id = ?", (assistant_id,)
            ).fetchone()
            if row is None:
                return None
            assistant = assistant_from_row(row)
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
            initial_prompt=prompt_from_row(initial),
            summary_prompt=prompt_from_row(summary),
            model_config=model_config_version_from_row(config),
        )

    async def list_assistants(self, *, include_archived: bool = False) -> list[Assistant]:
        """Showcased first, then own assistants, each group by name (a stable order)."""
        return await self._run(self._do_list_assistants, include_archived)

    def _do_list_assistants(self, include_archived: bool) -> list[Assistant]:
        cursor = self._db.execute(
            f"SELECT {ASSISTANT_COLUMNS} FROM bots WHERE ? OR is_active = 1 "
            "ORDER BY showcased DESC, name COLLATE NOCASE, name, id",
            (int(include_archived),),
        )
        cursor.row_factory = None  # plain tuples: no per-column name lookups
        return [assistant_from_tuple(row) for row in cursor.fetchall()]

    async def set_assistant_active(self, assistant_id: str, is_active: bool) -> Assistant:
        """Archive (``False``) or restore (``True``) an own assistant."""
        return await self._run(self._do_set_assistant_active, assistant_id, is_active)

    def _do_set_assistant_active(self, assistant_id: str, is_active: bool) -> Assistant:
        with self._transaction() as conn:
            assistant = self._load_own_assistant(conn, assistant_id)
            if assistant.is_active != is_active:
                conn.execute(
                    "UPDATE bots SET is_active = ?, last_modified_date = ? WHERE id = ?",
                    (int(is_active), to_text(utcnow()), assistant_id),
                )
            return self._load_assistant(conn, assistant_id)

    async def set_assistant_published(
        self, assistant_id: str, published: bool, *, author_name: str | None = None
    ) -> Assistant:
        """Publish (``True``) an own assistant to a shared project's lobby, or withdraw it."""
        return await self._run(
            self._do_set_assistant_published, assistant_id, published, author_name
        )

    def _do_set_assistant_published(
        self, assistant_id: str, published: bool, author_name: str | None
    ) -> Assistant:
        with self._transaction() as conn:
            assistant = self._load_own_assistant(conn, assistant_id)
            # The name is written when it is published; withdrawn, the author's name stays.
            name = author_name if published else assistant.creator_display_name
            if (assistant.published, assistant.creator_display_name) != (published, name):
                conn.execute(
                    "UPDATE bots SET published = ?, creator_display_name = ?, "
                    "last_modified_date = ? WHERE id = ?",
                    (int(published), name, to_text(utcnow()), assistant_id),
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
        return [prompt_from_row(row) for row in rows]

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
        return [model_config_version_from_row(row) for row in rows]

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
                (prompt_id, to_text(utcnow()), assistant_id),
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
                (config_id, to_text(utcnow()), assistant_id),
            )
            return self._load_assistant(conn, assistant_id)

    async def sync_showcase(self, entries: Sequence[ShowcaseEntry]) -> int:
        """Insert or update showcased assistants by key (never duplicating); returns changes."""
        return await self._run(self._do_sync_showcase, list(entries))

    def _do_sync_showcase(self, entries: list[ShowcaseEntry]) -> int:
        changes = 0
        with self._transaction() as conn:
            now = to_text(utcnow())
            for entry in entries:
                row = conn.execute(
                    "SELECT * FROM bots WHERE showcase_key = ?", (entry.key,)
                ).fetchone()
                if row is None:
                    # No creator, so no user's bots_created counts a showcased assistant.
                    self._insert_assistant(conn, entry.draft, now, showcase=entry)
                    changes += 1
                elif self._apply_draft(conn, assistant_from_row(row), entry.draft, now, entry):
                    changes += 1
        if changes:
            log.info("Showcase synchronised: %d assistants added or updated", changes)
        return changes
