"""Values the tests build again and again: a valid draft, a message, a started session, a
look at the database behind the store's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gptlab_desktop.models import (
    Assistant,
    AssistantDraft,
    Message,
    ModelConfig,
    Prompt,
    PromptType,
    Role,
    Session,
    SessionType,
    User,
    new_id,
    utcnow,
)
from gptlab_desktop.models import ModelConfigVersion as ConfigVersion
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.store.sqlite_pull import PullTables

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


@contextmanager
def raw(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """A second, independent connection to the store's file, to look behind its back."""
    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.row_factory = sqlite3.Row
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def count_rows(data_dir: Path, table: str) -> int:
    """Rows in a table, read through a second connection behind the store's back."""
    with raw(data_dir) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def make_message(session_id: str, text: str, **changes: object) -> Message:
    """A user message of ``session_id`` (``changes`` override single fields)."""
    values: dict[str, object] = {
        "id": new_id(),
        "session_id": session_id,
        "role": Role.USER,
        "message": text,
        "created_date": utcnow(),
    }
    values.update(changes)
    return Message(**values)  # type: ignore[arg-type]


async def start_session(store: SqliteStore, user: User, assistant_id: str | None) -> Session:
    """A session started the way the chat engine starts one: from the active versions (or,
    without an assistant, from a prompt of its own)."""
    details = await store.get_assistant_details(assistant_id) if assistant_id else None
    now = utcnow()
    session = Session(
        id=new_id(),
        user_id=user.id,
        bot_id=assistant_id,
        bot_initial_prompt_msg=details.initial_prompt.message if details else "Be helpful.",
        bot_model_config=details.model_config.config if details else ModelConfig("gpt-4o"),
        bot_session_type=details.assistant.session_type if details else SessionType.BRAINSTORMING,
        bot_summary_prompt_msg=details.summary_prompt.message if details else "Summarise.",
        created_date=now,
        last_modified_date=now,
        bot_initial_prompt_id=details.initial_prompt.id if details else None,
        bot_summary_prompt_id=details.summary_prompt.id if details else None,
    )
    return await store.create_session(session)


def make_assistant(name: str = "Socrates", **changes: object) -> Assistant:
    """An unstored assistant record of user ``"u"`` (``changes`` override single fields)."""
    now = utcnow()
    values: dict[str, object] = {
        "id": new_id(),
        "name": name,
        "tag_line": f"{name} tag",
        "description": "",
        "session_type": SessionType.BRAINSTORMING,
        "creator_user_id": "u",
        "created_date": now,
        "last_modified_date": now,
        "active_initial_prompt_id": "p",
        "active_model_config_id": "c",
        "active_summary_prompt_id": "s",
    }
    values.update(changes)
    return Assistant(**values)  # type: ignore[arg-type]


def make_session(user_id: str = "u", bot_id: str | None = "b", **changes: object) -> Session:
    """An unstored session of ``user_id`` with ``bot_id``, started now with a prompt of its own
    and gpt-4o (``changes`` override single fields)."""
    now = utcnow()
    values: dict[str, object] = {
        "id": new_id(),
        "user_id": user_id,
        "bot_id": bot_id,
        "bot_initial_prompt_msg": "Be helpful.",
        "bot_model_config": ModelConfig("gpt-4o"),
        "bot_session_type": SessionType.BRAINSTORMING,
        "bot_summary_prompt_msg": "Summarise.",
        "created_date": now,
        "last_modified_date": now,
    }
    values.update(changes)
    return Session(**values)  # type: ignore[arg-type]


async def cache_published_assistant(
    store: PullTables, name: str = "Ada's tutor", *, author_id: str = "ada", **changes: object
) -> Assistant:
    """Another user's published assistant (by "Ada"), with its active versions, as a pull from
    a shared project brings it into ``store``'s cache (``changes`` override bot fields)."""
    draft = make_draft(name=name)
    now = utcnow()
    values: dict[str, object] = {
        "creator_user_id": author_id,
        "active_initial_prompt_id": new_id(),
        "active_summary_prompt_id": new_id(),
        "active_model_config_id": new_id(),
        "published": True,
        "creator_display_name": "Ada",
    }
    values.update(changes)
    bot = make_assistant(name, **values)
    await store.apply_pulled(
        [
            bot,
            Prompt(
                bot.active_initial_prompt_id, bot.id, PromptType.INITIAL, draft.initial_prompt, now
            ),
            Prompt(
                bot.active_summary_prompt_id, bot.id, PromptType.SUMMARY, draft.summary_prompt, now
            ),
            ConfigVersion(bot.active_model_config_id, bot.id, draft.model_config, now),
        ]
    )
    return bot
