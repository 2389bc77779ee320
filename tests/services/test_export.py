"""Exporting a session to Markdown and JSON keeps every message, its speaker and its time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gptlab_desktop.models import (
    Message,
    MessageDetails,
    MessageKind,
    MessageState,
    ModelConfig,
    Role,
    Session,
    SessionType,
)
from gptlab_desktop.services.export import session_to_json, session_to_markdown

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _session() -> Session:
    return Session(
        id="s1",
        user_id="u1",
        bot_id="b1",
        bot_initial_prompt_msg="You are a tutor.",
        bot_model_config=ModelConfig(model="gpt-4o-mini"),
        bot_session_type=SessionType.COACHING,
        bot_summary_prompt_msg="Summarise.",
        created_date=START,
        last_modified_date=START,
        title="Fractions",
    )


def _messages() -> list[Message]:
    return [
        Message("m1", "s1", Role.ASSISTANT, "Hello! What shall we learn?", START),
        Message("m2", "s1", Role.USER, "Fractions, please.", START + timedelta(minutes=1)),
        Message(
            "m3",
            "s1",
            Role.ASSISTANT,
            "What is 1/2 + 1/4?",
            START + timedelta(minutes=2),
            state=MessageState.INTERRUPTED,
        ),
        Message(
            "m4",
            "s1",
            Role.SYSTEM,
            "We covered halves.",
            START + timedelta(minutes=3),
            meta=MessageDetails(kind=MessageKind.CONTEXT_SUMMARY),
        ),
    ]


def test_markdown_export_has_every_message_with_speaker_and_time() -> None:
    text = session_to_markdown(_session(), _messages(), assistant_name="Tutor")
    assert text.startswith("# Fractions\n")
    assert "## Tutor · " in text and "## You · " in text
    assert START.astimezone().strftime("%Y-%m-%d %H:%M") in text
    for message in _messages():
        assert message.message in text
    assert "(interrupted)" in text
    assert "> **Earlier messages were summarised**" in text


def test_json_export_round_trips_messages_in_order() -> None:
    doc = json.loads(session_to_json(_session(), _messages()))
    assert doc["format"] == "gptlab-desktop.session"
    assert [m["message"] for m in doc["messages"]] == [m.message for m in _messages()]
    assert doc["messages"][2]["state"] == "interrupted"
    assert doc["messages"][3]["kind"] == "context_summary"
    assert doc["session"]["model_config"]["model"] == "gpt-4o-mini"
    assert datetime.fromisoformat(doc["messages"][1]["created_date"]) == START + timedelta(
        minutes=1
    )
