"""The AI service's failures as the typed errors of ``services/errors.py``, redacted of keys.

``ErrorTranslator.translate`` turns whatever the openai SDK raised into the one ``LlmError``
a user can act on (a refused key, a rate limit and its wait, a model not available, the
server unreachable, …). Every text a server sent is redacted of the key in use and of
anything shaped like a key before it reaches a message or a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from gptlab_desktop.models import utcnow
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

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

# The first wait before a retry, doubled each time; also the wait a 429 without a hint gets.
FIRST_BACKOFF_S = 1.0


class ErrorTranslator:
    """Typed errors for one client: its server's address, its timeout, its key (to hide)."""

    def __init__(
        self,
        *,
        base_url: Callable[[], str],
        api_key: Callable[[], str | None],
        timeout_s: float,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._timeout_s = timeout_s

    def translate(self, exc: BaseException, model: str | None, *, mid_stream: bool) -> LlmError:
        """The typed error for an openai exception; its text is redacted of any key."""
        import openai  # already loaded by now; named here to stay lazy

        if isinstance(exc, LlmError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            if caused_by(exc, "ConnectTimeout"):
                return ServerUnreachable(display_url(self._base_url()))
            return LlmTimeout(self._timeout_s)
        if isinstance(exc, openai.APIConnectionError):
            if not mid_stream and caused_by(exc, "ConnectError"):
                return ServerUnreachable(display_url(self._base_url()))
            return ConnectionLost()
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc, model)
        if isinstance(exc, openai.APIError):
            # An error event inside an otherwise good stream.
            return ServerError(self.redact(exc.message))
        log.error("Unexpected failure talking to the AI service: %s", type(exc).__name__)
        return ServerError(type(exc).__name__)

    def _translate_status(self, exc: openai.APIStatusError, model: str | None) -> LlmError:
        status = exc.status_code
        code = exc.code or ""
        detail = self.redact(server_message(exc))
        log.info("The AI service answered HTTP %s (%s): %s", status, code or "no code", detail)
        if status == 401:
            return InvalidApiKey(said=detail)
        if status == 429:
            if code == "insufficient_quota" or exc.type == "insufficient_quota":
                return QuotaExhausted()
            hinted = retry_after_s(exc.response.headers)
            if hinted is None:
                return RateLimited(FIRST_BACKOFF_S, is_server_hint=False)
            return RateLimited(hinted)
        if model is not None and (
            status == 403 or (status == 404 and (code == "model_not_found" or model in detail))
        ):
            return ModelNotAvailable(model, status=status)
        if status == 404:
            server = display_url(self._base_url())
            return RequestRejected(
                f"{server} has no such endpoint (HTTP 404); check the server address in "
                "Settings → Providers.",
                status=status,
                code=code or None,
            )
        if status == 400 and (
            code == "context_length_exceeded" or "context length" in detail.lower()
        ):
            return ContextTooLong(model)
        if status >= 500:
            return ServerError(detail, status=status)
        return RequestRejected(detail or f"HTTP {status}", status=status, code=code or None)

    def redact(self, text: str) -> str:
        """``text`` without the key in use or anything shaped like a key, at most 300 chars."""
        api_key = self._api_key()
        if api_key and len(api_key) >= 4:
            text = text.replace(api_key, "[key hidden]")
        text = _KEY_LIKE.sub("[key hidden]", text)
        return text[:300]


# Key-shaped strings, and OpenAI's "Incorrect API key provided: sk-abc***xyz" echo.
_KEY_LIKE = re.compile(
    r"(?i:api key provided:)\s*\S+|\b(?:sk|pk|rk)-[\w\-*.]{3,}|(?i:bearer)\s+\S+",
)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait a 429 asks for: ``retry-after-ms``, else ``retry-after`` (seconds or a date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def server_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str):
            return message
    if isinstance(body, str):
        return body
    return ""


def rejects_stream_options(exc: BaseException) -> bool:
    status = getattr(exc, "status_code", None)
    return status in (400, 422) and "stream_options" in server_message(exc)


def caused_by(exc: BaseException, name: str) -> bool:
    cause: BaseException | None = exc.__cause__ or exc.__context__
    seen = 0
    while cause is not None and seen < 5:
        if type(cause).__name__ == name:
            return True
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return False


def display_url(url: str) -> str:
    """The URL without any user:password part, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
