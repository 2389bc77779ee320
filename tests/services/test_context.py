"""GPT Lab's context policies, counted in tokens before sending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from gptlab_desktop.models import ContextMessage, Role, SessionType
from gptlab_desktop.services.context import (
    BRAINSTORMING_KEPT_MESSAGES,
    MessageTooLong,
    condensed,
    kept_context,
    plan_context,
    plan_within_ceiling,
)

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def _context(n: int, words: int = 10) -> tuple[ContextMessage, ...]:
    roles = (Role.USER, Role.ASSISTANT)
    return tuple(ContextMessage(roles[i % 2], f"m{i} " + "w " * words, WHEN) for i in range(n))


def _count(context: Sequence[ContextMessage]) -> int:
    # one token per word plus a system prompt of 10 tokens: a stand-in for tiktoken that makes
    # the arithmetic of the policy visible
    return 10 + sum(len(m.message.split()) for m in context)


def test_brainstorming_keeps_the_last_twenty_messages() -> None:
    plan = plan_context(
        SessionType.BRAINSTORMING,
        _context(30),
        _count,
        context_window=100_000,
        max_reply_tokens=250,
    )
    assert len(plan.context) == BRAINSTORMING_KEPT_MESSAGES
    assert plan.context[0].message.startswith("m10 ")
    assert not plan.should_condense


def test_coaching_keeps_everything_below_sixty_percent() -> None:
    context = _context(30)  # 30 * 11 + 10 = 340 tokens
    plan = plan_context(
        SessionType.COACHING, context, _count, context_window=1000, max_reply_tokens=100
    )
    assert plan.context == context
    assert not plan.should_condense
    assert plan.token_count == 340


def test_coaching_asks_to_condense_at_sixty_percent_of_the_window() -> None:
    plan = plan_context(
        SessionType.COACHING, _context(30), _count, context_window=560, max_reply_tokens=100
    )
    assert plan.should_condense  # 340 >= 0.6 * 560


def test_a_request_is_trimmed_oldest_first_to_leave_room_for_the_reply() -> None:
    plan = plan_context(
        SessionType.BRAINSTORMING,
        _context(20),
        _count,
        context_window=200,
        max_reply_tokens=100,
    )
    assert plan.token_count <= 100
    assert plan.context[-1].message.startswith("m19 ")
    assert len(plan.context) == 8  # 10 + 8 * 11 = 98


def test_a_single_message_too_long_for_the_window_is_refused_with_numbers() -> None:
    with pytest.raises(MessageTooLong) as caught:
        plan_context(
            SessionType.BRAINSTORMING,
            _context(1, words=500),
            _count,
            context_window=300,
            max_reply_tokens=100,
        )
    assert "200" in str(caught.value)


def test_condensed_context_is_the_summary_then_the_last_four() -> None:
    context = _context(10)
    summary = ContextMessage(Role.ASSISTANT, "summary", WHEN)
    assert condensed(context, summary) == (summary, *context[-4:])


def test_a_brainstorming_session_stores_only_the_context_it_will_send() -> None:
    context = _context(25)
    assert kept_context(SessionType.BRAINSTORMING, context) == context[-20:]
    assert kept_context(SessionType.COACHING, context) == context


def _ceiling(context: Sequence[ContextMessage]) -> int:
    # an upper bound twice the stand-in count, as a byte length is above a token count
    return 2 * _count(context)


def test_a_request_whose_ceiling_fits_is_planned_without_counting() -> None:
    context = _context(30)  # 340 tokens, ceiling 680
    plan = plan_within_ceiling(
        SessionType.COACHING, context, _ceiling, context_window=2000, max_reply_tokens=100
    )
    assert plan is not None
    assert (plan.context, plan.should_condense, plan.is_exact) == (context, False, False)
    assert plan.token_count == 680


def test_a_request_whose_ceiling_passes_the_budget_needs_an_exact_count() -> None:
    context = _context(30)  # ceiling 680 passes the 600-token budget; the exact 340 does not
    ceiling_plan = plan_within_ceiling(
        SessionType.COACHING, context, _ceiling, context_window=700, max_reply_tokens=100
    )
    exact_plan = plan_context(
        SessionType.COACHING, context, _count, context_window=700, max_reply_tokens=100
    )
    assert ceiling_plan is None
    assert exact_plan.context == context


def test_a_coaching_request_whose_ceiling_reaches_sixty_percent_needs_an_exact_count() -> None:
    # ceiling 680 >= 0.6 * 1,100; the exact 340 would not condense
    assert (
        plan_within_ceiling(
            SessionType.COACHING, _context(30), _ceiling, context_window=1100, max_reply_tokens=100
        )
        is None
    )


def test_the_ceiling_is_taken_after_brainstorming_keeps_its_last_twenty() -> None:
    plan = plan_within_ceiling(
        SessionType.BRAINSTORMING,
        _context(300),
        _ceiling,
        context_window=1000,
        max_reply_tokens=100,
    )  # 300 messages would pass the budget; the 20 sent (ceiling 460) do not
    assert plan is not None
    assert len(plan.context) == BRAINSTORMING_KEPT_MESSAGES
