"""What a session's replies cost: the tokens the server reported and their list price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gptlab_desktop.models import Message, Role
from gptlab_desktop.services.model_catalog import estimate_cost_usd


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """Tokens the server reported for a session's replies, and what they cost at list prices."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


def session_usage(messages: Sequence[Message], default_model: str) -> SessionUsage:
    """Sum the usage stored with each assistant reply; the cost is unknown if any model is."""
    prompt = completion = 0
    cost: float | None = 0.0
    for message in messages:
        if message.role is not Role.ASSISTANT:
            continue
        prompt_tokens = message.meta.prompt_tokens or 0
        completion_tokens = message.meta.completion_tokens or 0
        if not prompt_tokens and not completion_tokens:
            continue
        prompt += prompt_tokens
        completion += completion_tokens
        model = message.meta.model or default_model
        price = estimate_cost_usd(model, prompt_tokens, completion_tokens)
        cost = None if price is None or cost is None else cost + price
    return SessionUsage(prompt, completion, cost)


def usage_text(model: str, usage: SessionUsage) -> str:
    """The header's line: model, tokens so far and their estimated cost."""
    tokens = f"{usage.total_tokens:,} token{'s' if usage.total_tokens != 1 else ''}"
    if usage.cost_usd is None:
        cost = "cost unknown"
    elif usage.cost_usd < 1:
        cost = f"≈ ${usage.cost_usd:.4f}"
    else:
        cost = f"≈ ${usage.cost_usd:,.2f}"
    return f"{model} · {tokens} · {cost}"
