"""Values the tests build again and again: a valid draft, a started session, a row count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gptlab_desktop.models import (
    AssistantDraft,
    ModelConfig,
    Session,
    SessionType,
    User,
    new_id,
    utcnow,
)
from gptlab_desktop.services.store.sqlite import SqliteStore

# The database's name in a data directory (``AppPaths.database_file``).
DB_NAME = "gptlab.sqlite3"


def make_draft(**changes: object) -> AssistantDraft:
    """A valid draft; ``changes`` override single fields."""
    values: dict[str, object] = {
        "name": "Socrates",
        "tag_line": "Asks, never tells",
        "description": "A tutor who answers questions with questions.",
        "initial_prompt": "You are Socrates.\nAsk one question at a time.\nNever lecture.",
        "summary_prompt": "Summarise what the student discovered.",
        "model_config": ModelConfig("gpt-4o-mini", max_tokens=300, temperature=0.5),
        "session_type": SessionType.COACHING,
        "guards_prompt_leak": False,
    }
    values.update(changes)
    return AssistantDraft(**values)  # type: ignore[arg-type]


def count_rows(data_dir: Path, table: str) -> int:
    """Rows in a table, read through a second connection behind the store's back."""
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def start_session(store: SqliteStore, user: User, assistant_id: str) -> Session:
    """A session started from the assistant's active versions, as the chat engine does."""
    details = await store.get_assistant_details(assistant_id)
    assert details is not None
    now = utcnow()
    return await store.create_session(
        Session(
            id=new_id(),
            user_id=user.id,
            bot_id=assistant_id,
            bot_initial_prompt_msg=details.initial_prompt.message,
            bot_model_config=details.model_config.config,
            bot_session_type=details.assistant.session_type,
            bot_summary_prompt_msg=details.summary_prompt.message,
            created_date=now,
            last_modified_date=now,
            bot_initial_prompt_id=details.initial_prompt.id,
            bot_summary_prompt_id=details.summary_prompt.id,
        )
    )
