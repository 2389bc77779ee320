"""Rows of the SQLite store and the domain values they hold, both ways.

Dates are stored as fixed-width ISO-8601 UTC text (see ``sqlite_schema``), model configs and
session contexts as JSON text; every function here is pure and touches no connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gptlab_desktop.models import (
    Assistant,
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    Role,
    Session,
    SessionStatus,
    SessionSummary,
    SessionType,
    User,
    UserLiked,
)


def to_text(moment: datetime) -> str:
    """A datetime as fixed-width ISO-8601 UTC text; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_ZERO = timedelta(0)


def to_datetime(text: str) -> datetime:
    """A stored date back as an aware UTC datetime."""
    if text.endswith("+00:00"):
        # As ``to_text`` writes every date: already UTC (a third of the time of the checks).
        return datetime.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.utcoffset() == _ZERO else moment.astimezone(UTC)


def config_to_json(config: ModelConfig) -> str:
    """A model config as the JSON text of its column (keys sorted, so equal configs match)."""
    return json.dumps(config.to_dict(), sort_keys=True)


def config_from_json(text: str) -> ModelConfig:
    """A model config column back as a ``ModelConfig``."""
    return ModelConfig.from_dict(json.loads(text))


def context_to_json(context: Sequence[ContextMessage]) -> str:
    """The context as GPT Lab's ``messages_str``: a list of {role, message, created_date}."""
    return json.dumps(
        [
            {
                "role": item.role.value,
                "message": item.message,
                "created_date": to_text(item.created_date),
            }
            for item in context
        ],
        ensure_ascii=False,
    )


def context_from_json(text: str) -> tuple[ContextMessage, ...]:
    """A ``messages_str`` column back as context messages."""
    return tuple(
        ContextMessage(
            role=Role(item["role"]),
            message=item["message"],
            created_date=to_datetime(item["created_date"]),
        )
        for item in json.loads(text)
    )


def user_from_row(row: sqlite3.Row) -> User:
    """A ``users`` row as a ``User``."""
    return User(
        id=row["id"],
        user_hash=row["user_hash"],
        created_date=to_datetime(row["created_date"]),
        last_modified_date=to_datetime(row["last_modified_date"]),
        sessions_started=row["sessions_started"],
        sessions_ended=row["sessions_ended"],
        bots_created=row["bots_created"],
    )


# The bot's columns ``assistant_from_tuple`` reads, in its order; the last value it reads is
# the active initial prompt's count of sessions (``ASSISTANT_COLUMNS`` reads it with the bot).
_BOT_COLUMN_NAMES = (
    "id",
    "name",
    "tag_line",
    "description",
    "session_type",
    "creator_user_id",
    "created_date",
    "last_modified_date",
    "active_initial_prompt_id",
    "active_model_config_id",
    "active_summary_prompt_id",
    "showcased",
    "is_active",
    "guards_prompt_leak",
    "sessions_started",
    "sessions_ended",
    "showcase_key",
    "published",
    "creator_display_name",
)
_VERSION_SESSIONS = "version_sessions_started"

# What ``assistant_from_tuple`` reads of ``bots`` (listing reads many rows at once).
ASSISTANT_COLUMNS = ", ".join(f"bots.{name}" for name in _BOT_COLUMN_NAMES) + (
    ", (SELECT prompts.sessions_started FROM prompts "
    f"WHERE prompts.id = bots.active_initial_prompt_id) AS {_VERSION_SESSIONS}"
)


def assistant_from_tuple(row: tuple[Any, ...]) -> Assistant:
    """A ``bots`` row read as a plain tuple of ``ASSISTANT_COLUMNS`` as an ``Assistant``."""
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
        published,
        author,
        version_started,
    ) = row
    return Assistant(
        id_,
        name,
        tag_line,
        description,
        SessionType(session_type),
        creator,
        to_datetime(created),
        to_datetime(modified),
        initial_id,
        config_id,
        summary_id,
        bool(showcased),
        bool(is_active),
        bool(guards),
        started,
        ended,
        key,
        bool(published),
        author,
        version_started or 0,
    )


def assistant_from_row(row: sqlite3.Row) -> Assistant:
    """A ``bots`` row as an ``Assistant`` (read with ``ASSISTANT_COLUMNS``, or ``*``: then
    without the active version's count)."""
    version = row[_VERSION_SESSIONS] if _VERSION_SESSIONS in row.keys() else 0  # noqa: SIM118
    return assistant_from_tuple((*(row[name] for name in _BOT_COLUMN_NAMES), version))


def prompt_from_row(row: sqlite3.Row) -> Prompt:
    """A ``prompts`` row as a ``Prompt`` version."""
    return Prompt(
        id=row["id"],
        bot_id=row["bot_id"],
        message_type=PromptType(row["message_type"]),
        message=row["message"],
        created_date=to_datetime(row["created_date"]),
        is_active=bool(row["is_active"]),
        sessions_started=row["sessions_started"],
        sessions_ended=row["sessions_ended"],
    )


def model_config_version_from_row(row: sqlite3.Row) -> ModelConfigVersion:
    """A ``model_configs`` row as a ``ModelConfigVersion``."""
    return ModelConfigVersion(
        id=row["id"],
        bot_id=row["bot_id"],
        config=config_from_json(row["config"]),
        created_date=to_datetime(row["created_date"]),
        is_active=bool(row["is_active"]),
    )


def session_from_row(row: sqlite3.Row) -> Session:
    """A ``sessions`` row as a ``Session``."""
    liked = row["user_liked"]
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        bot_id=row["bot_id"],
        bot_initial_prompt_msg=row["bot_initial_prompt_msg"],
        bot_model_config=config_from_json(row["bot_model_config"]),
        bot_session_type=SessionType(row["bot_session_type"]),
        bot_summary_prompt_msg=row["bot_summary_prompt_msg"],
        created_date=to_datetime(row["created_date"]),
        last_modified_date=to_datetime(row["last_modified_date"]),
        bot_initial_prompt_id=row["bot_initial_prompt_id"],
        bot_summary_prompt_id=row["bot_summary_prompt_id"],
        title=row["title"],
        status=SessionStatus(row["status"]),
        message_count=row["message_count"],
        context=context_from_json(row["messages_str"]),
        user_liked=None if liked is None else UserLiked(liked),
        recap=row["recap"],
        guards_prompt_leak=bool(row["guards_prompt_leak"]),
        session_schema_version=row["session_schema_version"],
        provider_id=row["provider_id"],
        shown_leaf_id=row["shown_leaf_id"],
        is_pinned=bool(row["is_pinned"]),
    )


# The columns a chat list reads, in this order: all in the ``sessions_listing`` index, so no
# row (each holds the chat's whole context) is read.
SUMMARY_COLUMNS = (
    "id, bot_id, title, created_date, last_modified_date, status, message_count, is_pinned, "
    "json_extract(bot_model_config, '$.model')"
)
_STATUSES = {int(status): status for status in SessionStatus}


def summary_from_values(values: Sequence[Any]) -> SessionSummary:
    """A plain row of ``SUMMARY_COLUMNS`` (a tuple: ten thousand are read at once) as a
    ``SessionSummary``."""
    session_id, bot_id, title, created, modified, status, count, is_pinned, model = values
    # Positional, in the dataclass's field order: the quickest way to make one.
    return SessionSummary(
        session_id,
        bot_id,
        title,
        to_datetime(created),
        to_datetime(modified),
        _STATUSES[status] if status in _STATUSES else SessionStatus(status),
        count,
        model or "",
        bool(is_pinned),
    )


def message_from_row(row: sqlite3.Row) -> Message:
    """A ``messages`` row as a ``Message``."""
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        role=Role(row["role"]),
        message=row["message"],
        created_date=to_datetime(row["created_date"]),
        state=MessageState(row["state"]),
        meta=MessageDetails.from_dict(json.loads(row["meta"])),
        parent_id=row["parent_id"],
    )
