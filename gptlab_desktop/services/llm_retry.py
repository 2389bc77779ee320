"""When an ``LlmClient`` asks again: which failures, after how long, and what the caller is told.

The SDKs' own retries are off. Each client retries rate limits and server errors itself, only
before any text has arrived, and yields a ``RetryNotice`` before each wait so the window can
count it down; ``Retries`` keeps one request's count and decides each wait.
"""

from __future__ import annotations

import logging

from gptlab_desktop.services.errors import LlmError, RateLimited, ServerError
from gptlab_desktop.services.llm_api import RetryNotice

log = logging.getLogger(__name__)

# The first wait before a retry, doubled each time; also the wait a 429 without a hint gets.
FIRST_BACKOFF_S = 1.0
# A longer wait (a rate limit's hint) is not waited for: the request fails at once.
MAX_RETRY_WAIT_S = 60.0
# The server errors worth asking again after (Anthropic adds its "overloaded", 529).
RETRIED_STATUSES = frozenset({500, 502, 503, 504})


class Retries:
    """The retries one request may still make, and the wait before each."""

    def __init__(self, max_retries: int, *, statuses: frozenset[int] = RETRIED_STATUSES) -> None:
        self._max_retries = max_retries
        self._statuses = statuses
        self._made = 0

    def notice_after(self, error: LlmError) -> RetryNotice | None:
        """The notice to give before asking again after ``error``, or None where the request
        is not asked again (no retry left, a failure that waiting cannot mend, or a wait
        longer than ``MAX_RETRY_WAIT_S``)."""
        wait_s = self._wait_s(error)
        if wait_s is None:
            return None
        self._made += 1
        log.info("Retrying the request in %.1f s (%s)", wait_s, type(error).__name__)
        return RetryNotice(
            attempt=self._made,
            wait_s=wait_s,
            reason=error.message,
            is_rate_limit=isinstance(error, RateLimited),
        )

    def _wait_s(self, error: LlmError) -> float | None:
        if self._made >= self._max_retries:
            return None
        backoff_s = FIRST_BACKOFF_S * 2**self._made
        if isinstance(error, RateLimited):
            wait_s = error.retry_after_s if error.is_server_hint else backoff_s
        elif isinstance(error, ServerError) and error.status in self._statuses:
            wait_s = backoff_s
        else:
            return None
        return wait_s if wait_s <= MAX_RETRY_WAIT_S else None
