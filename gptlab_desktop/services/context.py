"""What the model sees next: GPT Lab's context policies, with tokens counted before sending.

Brainstorming sessions keep the last 20 messages. Coaching sessions condense: once the request
would reach 60% of the model's context window, the summary prompt runs over the context and the
summary (as an assistant message) plus the last 4 messages replace it. Either way a request is
trimmed, oldest first, until it fits the window with room for the reply, so it never overflows.
The transcript keeps everything; only the context shrinks.

Counting needs the model's tokenizer, which costs tens of megabytes and a third of a second to
load. Most requests are far from both limits, and an upper bound on their tokens, free to compute,
already proves it (``plan_within_ceiling``); only a request near a limit is counted exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gptlab_desktop.models import ContextMessage, SessionType

BRAINSTORMING_KEPT_MESSAGES = 20
COACHING_CONDENSE_RATIO = 0.6
KEPT_AFTER_SUMMARY = 4

# counts the tokens of a request: the system prompt plus these context messages
CountRequest = Callable[[Sequence[ContextMessage]], int]


class MessageTooLong(ValueError):
    """The newest message alone does not fit the model's context window."""


@dataclass(frozen=True, slots=True)
class ContextPlan:
    """The context to send, and whether a coaching session should condense first."""

    context: tuple[ContextMessage, ...]
    should_condense: bool
    # The request's tokens; only an upper bound on them when ``is_exact`` is False.
    token_count: int
    is_exact: bool = True


def kept_context(
    session_type: SessionType, context: Sequence[ContextMessage]
) -> tuple[ContextMessage, ...]:
    """The context worth storing: a brainstorming session never sends more than its last 20."""
    if session_type is SessionType.BRAINSTORMING:
        return tuple(context[-BRAINSTORMING_KEPT_MESSAGES:])
    return tuple(context)


def plan_within_ceiling(
    session_type: SessionType,
    context: Sequence[ContextMessage],
    ceiling_request: CountRequest,
    *,
    context_window: int,
    max_reply_tokens: int,
) -> ContextPlan | None:
    """The plan, when ``ceiling_request`` (never below the exact count) shows it needs no trim
    and no condensing; None when only an exact count can tell (``plan_context``)."""
    kept = kept_context(session_type, context)
    ceiling = ceiling_request(kept)
    if ceiling > context_window - max_reply_tokens:
        return None
    if (
        session_type is SessionType.COACHING
        and len(kept) > KEPT_AFTER_SUMMARY
        and ceiling >= COACHING_CONDENSE_RATIO * context_window
    ):
        return None
    return ContextPlan(context=kept, should_condense=False, token_count=ceiling, is_exact=False)


def plan_context(
    session_type: SessionType,
    context: Sequence[ContextMessage],
    count_request: CountRequest,
    *,
    context_window: int,
    max_reply_tokens: int,
) -> ContextPlan:
    """Apply the session type's policy, then trim oldest-first to fit window minus reply."""
    kept = kept_context(session_type, context)
    tokens = count_request(kept)
    should_condense = (
        session_type is SessionType.COACHING
        and len(kept) > KEPT_AFTER_SUMMARY
        and tokens >= COACHING_CONDENSE_RATIO * context_window
    )
    budget = context_window - max_reply_tokens
    while tokens > budget and len(kept) > 1:
        kept = kept[1:]
        tokens = count_request(kept)
    if tokens > budget:
        raise MessageTooLong(
            f"This message is about {tokens:,} tokens, more than the model's context window "
            f"leaves room for ({budget:,} tokens after reserving {max_reply_tokens:,} for the "
            "reply). Shorten it, or choose a model with a larger context window."
        )
    return ContextPlan(context=kept, should_condense=should_condense, token_count=tokens)


def condensed(
    context: Sequence[ContextMessage], summary: ContextMessage
) -> tuple[ContextMessage, ...]:
    """The context after condensing: the summary, then the last four messages."""
    return (summary, *context[-KEPT_AFTER_SUMMARY:])
