"""Anthropic's failures as the typed errors of ``services/errors.py``, redacted of keys.

``AnthropicErrorTranslator.translate`` turns whatever the anthropic SDK raised into the one
``LlmError`` a user can act on, from the HTTP status and Anthropic's error body
(``{"type": "error", "error": {"type": "rate_limit_error", "message": ...}}``): a refused key,
a rate limit and its wait, no credit left, a conversation too long for the model (and the limit
Anthropic names), a model not available, the server overloaded or unreachable. Messages keep
the server's own words, redacted of the key in use and of anything shaped like a key; the log
records only the kind of error and its HTTP status (the words may quote the request).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from gptlab_desktop.services.errors import (
    ConnectionLost,
    ContextTooLong,
    InvalidApiKey,
    LlmError,
    LlmTimeout,
    ModelNotAvailable,
    QuotaExhausted,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from gptlab_desktop.services.llm_errors import caused_by, display_url, retry_after_s
from gptlab_desktop.services.llm_retry import FIRST_BACKOFF_S
from gptlab_desktop.services.sdk_client import import_sdk

log = logging.getLogger(__name__)

_INVALID_KEY = (
    "Anthropic did not accept your API key. Check it in Settings → Providers, or create a new "
    "one in the Anthropic Console."
)

# Anthropic's error types, and the HTTP status each goes with: an error event inside a stream
# that began well (HTTP 200) is judged by the status its type would have had.
_STATUS_OF_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# "prompt is too long: 210000 tokens > 200000 maximum", and "input length and `max_tokens`
# exceed context limit: 198000 + 8192 > 200000": the number that follows ">" is the limit.
_CONTEXT_LIMIT = re.compile(
    r"prompt is too long:\s*\d+ tokens > (\d+) maximum|exceed context limit:[\d\s+]*>\s*(\d+)",
    re.IGNORECASE,
)
_NO_CREDIT = re.compile(r"credit balance is too low", re.IGNORECASE)

# Key-shaped strings (Anthropic's keys begin sk-ant-), and keys quoted after a header name.
_KEY_LIKE = re.compile(
    r"\b(?:sk|pk|rk)-[\w\-*.]{3,}|(?i:bearer)\s+\S+|(?i:x-api-key|authorization)\s*[:=]\s*\S+"
)


class AnthropicErrorTranslator:
    """Typed errors for one ``AnthropicClient``: its server, its timeout, its key (to hide)."""

    def __init__(
        self, *, base_url: str, api_key: Callable[[], str | None], timeout_s: float
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._timeout_s = timeout_s

    def translate(self, exc: BaseException, model: str | None, *, mid_stream: bool) -> LlmError:
        """The typed error for what the anthropic SDK raised; its text is redacted of keys."""
        anthropic = import_sdk("anthropic")  # loaded by now

        if isinstance(exc, LlmError):
            return exc
        if isinstance(exc, anthropic.APITimeoutError):
            if caused_by(exc, "ConnectTimeout"):
                return ServerUnreachable(display_url(self._base_url))
            return LlmTimeout(self._timeout_s)
        if isinstance(exc, anthropic.APIConnectionError):
            if not mid_stream and caused_by(exc, "ConnectError"):
                return ServerUnreachable(display_url(self._base_url))
            return ConnectionLost()
        if isinstance(exc, anthropic.APIStatusError):
            return self.from_body(exc.status_code, exc.body, model, exc.response.headers)
        if isinstance(exc, anthropic.APIError):
            log.info("Anthropic sent an answer that could not be read (%s)", type(exc).__name__)
            return ServerError(self.redact(exc.message))
        log.error("Unexpected failure talking to Anthropic: %s", type(exc).__name__)
        return ServerError(type(exc).__name__)

    def from_body(
        self,
        status: int,
        body: object,
        model: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> LlmError:
        """The typed error for Anthropic's error ``body`` (``{"type": "error", "error":
        {"type": ..., "message": ...}}``) answered with HTTP ``status``."""
        error = body.get("error") if isinstance(body, Mapping) else None
        error = error if isinstance(error, Mapping) else {}
        kind = error.get("type")
        kind = kind if kind in _STATUS_OF_ERROR_TYPE else None
        message = error.get("message")
        if not isinstance(message, str):
            message = body if isinstance(body, str) else ""
        if status < 400:  # an error event in a stream that began well
            status = _STATUS_OF_ERROR_TYPE.get(kind or "", 500)
        # Only the kind and the status: the server's words may quote the request.
        log.info("Anthropic answered HTTP %s (%s)", status, kind or "no known error type")
        detail = _as_sentence(self.redact(message))
        if status == 401:
            return InvalidApiKey(_INVALID_KEY, status=status)
        if status == 429:
            hinted = retry_after_s(headers or {})
            if hinted is None:
                return RateLimited(FIRST_BACKOFF_S, is_server_hint=False)
            return RateLimited(hinted)
        if status == 402 or _NO_CREDIT.search(detail):
            return QuotaExhausted()
        if status in (400, 413) and (limit := _CONTEXT_LIMIT.search(detail)):
            return ContextTooLong(model, limit=int(limit.group(1) or limit.group(2)))
        if status == 404 and model is not None and model in detail:
            return ModelNotAvailable(model, status=status)
        if status == 404:
            server = display_url(self._base_url)
            return RequestRejected(
                f"{server} has no such endpoint (HTTP 404); check the server address in "
                f"Settings. It said: {detail or 'Not found.'}",
                status=status,
                code=kind,
            )
        if status >= 500:
            return ServerError(detail, status=status)
        return RequestRejected(detail or f"HTTP {status}", status=status, code=kind)

    def redact(self, text: str) -> str:
        """``text`` without the key in use or anything shaped like a key, at most 300 chars."""
        api_key = self._api_key()
        if api_key and len(api_key) >= 4:
            text = text.replace(api_key, "[key hidden]")
        return _KEY_LIKE.sub("[key hidden]", text)[:300]


def _as_sentence(words: str) -> str:
    """The server's ``words`` ending as a sentence does ("Overloaded" → "Overloaded.")."""
    words = words.strip()
    return words if not words or words.endswith((".", "!", "?", ")")) else words + "."
