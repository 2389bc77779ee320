"""What a session has used and cost so far, as the chat header shows it."""

from __future__ import annotations

from gptlab_desktop.models import Message, MessageDetails, ModelConfig, Role, new_id, utcnow
from gptlab_desktop.ui.chat.usage import SessionUsage, session_usage, usage_text


def _reply(model: str, prompt: int, completion: int) -> Message:
    return Message(
        id=new_id(),
        session_id="s",
        role=Role.ASSISTANT,
        message="…",
        created_date=utcnow(),
        meta=MessageDetails(model=model, prompt_tokens=prompt, completion_tokens=completion),
    )


def test_usage_sums_the_tokens_of_every_reply() -> None:
    usage = session_usage([_reply("gpt-4o", 100, 20), _reply("gpt-4o", 150, 30)], "gpt-4o")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (250, 50, 300)


def test_cost_is_unknown_for_a_model_without_a_price() -> None:
    usage = session_usage([_reply("my-local-llama", 100, 20)], "my-local-llama")
    assert usage_text("my-local-llama", usage) == "my-local-llama · 120 tokens · cost unknown"


def test_cost_is_shown_to_a_hundredth_of_a_cent() -> None:
    text = usage_text("gpt-4o", SessionUsage(1000, 100, 0.00123))
    assert text == "gpt-4o · 1,100 tokens · ≈ $0.0012"


def test_replies_without_a_model_are_priced_at_the_session_model() -> None:
    # The session's own model prices replies that name none.
    reply = Message(
        new_id(), "s", Role.ASSISTANT, "…", utcnow(), meta=MessageDetails(prompt_tokens=10)
    )
    assert session_usage([reply], ModelConfig(model="gpt-4o").model).cost_usd is not None
