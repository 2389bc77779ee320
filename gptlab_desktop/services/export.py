"""A session's transcript as Markdown or JSON, with timestamps (GPT Lab offered plain text)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gptlab_desktop import __version__
from gptlab_desktop.models import Message, MessageKind, MessageState, Role, Session
from gptlab_desktop.services.branches import ConversationTree

_SPEAKER = {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "Note"}


def _stamp(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def session_to_markdown(
    session: Session, messages: Sequence[Message], *, assistant_name: str | None = None
) -> str:
    """The transcript as a Markdown document, each message headed by speaker and time."""
    speaker = dict(_SPEAKER)
    if assistant_name:
        speaker[Role.ASSISTANT] = assistant_name
    title = session.title or assistant_name or "Chat session"
    lines = [
        f"# {title}",
        "",
        f"- Started: {_stamp(session.created_date)}",
        f"- Model: {session.bot_model_config.model}",
        f"- Messages: {sum(m.role is not Role.SYSTEM for m in messages)}",
        "",
    ]
    for message in messages:
        if message.kind is MessageKind.CONTEXT_SUMMARY:
            lines += [
                f"> **Earlier messages were summarised** ({_stamp(message.created_date)}):",
                *(f"> {line}" for line in message.message.splitlines()),
                "",
            ]
            continue
        heading = f"## {speaker[message.role]} · {_stamp(message.created_date)}"
        if message.state is MessageState.INTERRUPTED:
            heading += " (interrupted)"
        if message.kind is MessageKind.RECAP:
            heading += " (recap)"
        lines += [heading, "", message.message, ""]
    return "\n".join(lines).rstrip() + "\n"


def session_to_json(
    session: Session,
    messages: Sequence[Message],
    *,
    every_branch: Sequence[Message] | None = None,
) -> str:
    """The session and its transcript (the branch shown) as a JSON document (ISO-8601 UTC
    timestamps); with ``every_branch``, also every message of the conversation's tree, each
    with the id of the one it follows (``parent_id``, null for a first message)."""
    doc: dict[str, Any] = {
        "format": "gptlab-desktop.session",
        "version": 1,
        "exported_by": f"gptlab-desktop {__version__}",
        "session": {
            "id": session.id,
            "title": session.title,
            "created_date": session.created_date.isoformat(),
            "status": session.status.name.lower(),
            "session_type": session.bot_session_type.name.lower(),
            "model_config": session.bot_model_config.to_dict(),
            "initial_prompt": session.bot_initial_prompt_msg,
            "summary_prompt": session.bot_summary_prompt_msg,
            "user_liked": None if session.user_liked is None else bool(session.user_liked),
            "recap": session.recap,
        },
        "messages": [_message_entry(message) for message in messages],
    }
    if every_branch is not None:
        tree = ConversationTree(every_branch)
        doc["all_branches"] = [
            {**_message_entry(message), "parent_id": _parent_of(tree, message)}
            for message in every_branch
        ]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _message_entry(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role.value,
        "message": message.message,
        "created_date": message.created_date.isoformat(),
        "state": message.state.value,
        **({"kind": message.meta.kind.value} if message.meta.kind else {}),
    }


def _parent_of(tree: ConversationTree, message: Message) -> str | None:
    parent = tree.parent(message.id)
    return None if parent is None else parent.id
