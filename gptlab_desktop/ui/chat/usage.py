"""What a session's replies cost: their tokens, and a price where the provider's is known.

Tokens come from the server's report, or were counted here when it sent none (local servers
rarely do): such a total is shown as an estimate. A price is known only where the provider's
is (``Providers.cost_usd``: OpenAI's list prices, or the prices the user gave a profile);
otherwise the cost is unknown, never a made-up "$0.0000".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gptlab_desktop.models import Message, Role
from gptlab_desktop.services.providers import short_model_name

# What one reply cost: (model, prompt tokens, completion tokens) -> US dollars, None if unknown.
PriceOf = Callable[[str, int, int], float | None]


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """Tokens of a session's replies, whether any were counted here, and what they cost."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    is_estimated: bool = False

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


def session_usage(
    messages: Sequence[Message], default_model: str, price_of: PriceOf
) -> SessionUsage:
    """Sum the usage stored with each assistant reply; the cost is unknown if any price is."""
    prompt = completion = 0
    # Nothing spent yet costs nothing only where prices are known at all.
    cost = price_of(default_model, 0, 0)
    is_estimated = False
    for message in messages:
        if message.role is not Role.ASSISTANT:
            continue
        meta = message.meta
        prompt_tokens = meta.prompt_tokens or 0
        completion_tokens = meta.completion_tokens or 0
        if not prompt_tokens and not completion_tokens:
            continue
        prompt += prompt_tokens
        completion += completion_tokens
        is_estimated = is_estimated or meta.usage_estimated
        if cost is not None:
            price = price_of(meta.model or default_model, prompt_tokens, completion_tokens)
            cost = None if price is None else cost + price
    return SessionUsage(prompt, completion, cost, is_estimated)


def usage_text(model: str, usage: SessionUsage) -> str:
    """The header's line: the model (its short name), tokens so far and what they cost."""
    count = usage.total_tokens
    tokens = f"{count:,} token{'s' if count != 1 else ''}"
    if usage.is_estimated:
        tokens = f"≈ {tokens} (estimated)"
    if usage.cost_usd is None:
        cost = "cost unknown"
    elif usage.cost_usd < 1:
        cost = f"≈ ${usage.cost_usd:.4f}"
    else:
        cost = f"≈ ${usage.cost_usd:,.2f}"
    return f"{short_model_name(model)} · {tokens} · {cost}"
