"""What a session has used and cost so far, as the chat header shows it."""

from __future__ import annotations

from gptlab_desktop.models import Message, MessageDetails, ModelConfig, Role, new_id, utcnow
from gptlab_desktop.preferences import BUILT_IN_OPENAI, Preferences, ProviderProfile
from gptlab_desktop.services.model_catalog import estimate_cost_usd
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.chat.usage import SessionUsage, session_usage, usage_text

LOCAL = ProviderProfile("local", "Ollama", "ollama", "http://127.0.0.1:11434/v1")


def _reply(model: str, prompt: int, completion: int, *, estimated: bool = False) -> Message:
    return Message(
        id=new_id(),
        session_id="s",
        role=Role.ASSISTANT,
        message="…",
        created_date=utcnow(),
        meta=MessageDetails(
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            usage_estimated=estimated,
        ),
    )


def _unknown_price(model: str, prompt: int, completion: int) -> float | None:
    return None


def _providers() -> Providers:
    return Providers(Preferences(profiles=(BUILT_IN_OPENAI, LOCAL)))


def test_usage_sums_the_tokens_of_every_reply() -> None:
    replies = [_reply("gpt-4o", 100, 20), _reply("gpt-4o", 150, 30)]
    usage = session_usage(replies, "gpt-4o", estimate_cost_usd)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (250, 50, 300)


def test_cost_is_unknown_for_a_model_without_a_price() -> None:
    usage = session_usage([_reply("my-local-llama", 100, 20)], "my-local-llama", _unknown_price)
    assert usage_text("my-local-llama", usage) == "my-local-llama · 120 tokens · cost unknown"


def test_cost_is_shown_to_a_hundredth_of_a_cent() -> None:
    text = usage_text("gpt-4o", SessionUsage(1000, 100, 0.00123))
    assert text == "gpt-4o · 1,100 tokens · ≈ $0.0012"


def test_replies_without_a_model_are_priced_at_the_session_model() -> None:
    # The session's own model prices replies that name none.
    reply = Message(
        new_id(), "s", Role.ASSISTANT, "…", utcnow(), meta=MessageDetails(prompt_tokens=10)
    )
    model = ModelConfig(model="gpt-4o").model
    assert session_usage([reply], model, estimate_cost_usd).cost_usd is not None


def test_tokens_counted_here_are_marked_as_an_estimate() -> None:
    usage = session_usage(
        [_reply("gpt-4o", 1000, 234, estimated=True), _reply("gpt-4o", 0, 0)],
        "gpt-4o",
        _unknown_price,
    )
    assert usage_text("gpt-4o", usage) == "gpt-4o · ≈ 1,234 tokens (estimated) · cost unknown"


def test_a_local_servers_replies_cost_is_unknown_even_when_openai_knows_the_model() -> None:
    providers = _providers()
    usage = session_usage(
        [_reply("gpt-4o", 100, 20)], "gpt-4o", lambda *args: providers.cost_usd("local", *args)
    )
    assert usage.cost_usd is None
    assert "cost unknown" in usage_text("gpt-4o", usage)


def test_a_local_session_without_replies_is_not_shown_as_free() -> None:
    providers = _providers()
    usage = session_usage([], "llama3.2", lambda *args: providers.cost_usd("local", *args))
    assert usage_text("llama3.2", usage) == "llama3.2 · 0 tokens · cost unknown"


def test_openais_own_replies_are_priced_at_its_list_prices() -> None:
    providers = _providers()
    usage = session_usage(
        [_reply("gpt-4o", 1000, 100)], "gpt-4o", lambda *args: providers.cost_usd("openai", *args)
    )
    assert usage.cost_usd == estimate_cost_usd("gpt-4o", 1000, 100)


def test_a_model_file_is_named_by_its_file_name() -> None:
    usage = SessionUsage(10, 5, None, is_estimated=True)
    text = usage_text("/models/SmolLM2-360M-Instruct.Q8_0.gguf", usage)
    assert text == "SmolLM2-360M-Instruct.Q8_0.gguf · ≈ 15 tokens (estimated) · cost unknown"
