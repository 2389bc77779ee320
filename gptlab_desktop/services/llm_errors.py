"""The AI service's failures as the typed errors of ``services/errors.py``, redacted of keys.

``ErrorTranslator.translate`` turns whatever the openai SDK raised into the one ``LlmError``
a user can act on (a refused key, a rate limit and its wait, a model not available, the
server unreachable, …). The server's own words (``server_words``: error bodies of any common
shape, plain text, HTML) go into the message, redacted of the key in use and of anything
shaped like a key; the log gets only the error's kind, HTTP status and code, never the
server's text (it may quote the request).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
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
from gptlab_desktop.services.llm_retry import FIRST_BACKOFF_S

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)


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
            return ServerError(self.redact(server_words(exc.body) or exc.message))
        log.error("Unexpected failure talking to the AI service: %s", type(exc).__name__)
        return ServerError(type(exc).__name__)

    def _translate_status(self, exc: openai.APIStatusError, model: str | None) -> LlmError:
        error = self._error_for_status(exc, model)
        # Kind, status and code only: the server's words may quote the request.
        log.info(
            "The AI service answered HTTP %s (code %s): %s",
            exc.status_code,
            _loggable_code(exc.code),
            type(error).__name__,
        )
        return error

    def _error_for_status(self, exc: openai.APIStatusError, model: str | None) -> LlmError:
        status = exc.status_code
        code = exc.code or ""
        detail = self.redact(server_words(exc.body))
        if status == 401:
            return InvalidApiKey(said=detail)
        if status == 429:
            if code == "insufficient_quota" or exc.type == "insufficient_quota":
                return QuotaExhausted()
            hinted = retry_after_s(exc.response.headers)
            if hinted is None:
                return RateLimited(FIRST_BACKOFF_S, is_server_hint=False)
            return RateLimited(hinted)
        if model and (
            status == 403 or (status == 404 and (code == "model_not_found" or model in detail))
        ):
            return ModelNotAvailable(model, status=status)
        if status == 404:
            # A server without the endpoint ("Not Found"): its words, but no model blamed.
            server = display_url(self._base_url())
            said = f": “{detail}”" if detail else ""
            return RequestRejected(
                f"{server} has no such endpoint (HTTP 404{said}); check the server address in "
                "Settings → Providers.",
                status=status,
                code=code or None,
            )
        if status in (400, 413) and (
            code == "context_length_exceeded"
            or exc.type in _CONTEXT_ERROR_TYPES
            or _CONTEXT_WORDS.search(detail) is not None
        ):
            return ContextTooLong(model, limit=named_context_limit(exc.body))
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


# The longest stretch of a server's words kept for a message (the redaction cuts at 300 too).
MAX_SERVER_WORDS = 300


def server_words(body: object) -> str:
    """The server's own words in an error body of any common shape, as one bounded line.

    Understands ``{"error": {"message": …}}`` (OpenAI, llama.cpp), ``{"error": "text"}``
    (Ollama), ``{"detail": "text"}`` and FastAPI's ``{"detail": [{"loc": …, "msg": …}]}``
    (vLLM's validation errors), ``{"message": …}``, and plain text or an HTML page (tags
    stripped). The openai SDK has already unwrapped ``error`` where it is a mapping. Not
    redacted here: ``ErrorTranslator.redact`` does that.
    """
    words = _WHITESPACE.sub(" ", _words_in(body, depth=0)).strip()
    if len(words) > MAX_SERVER_WORDS:
        words = words[: MAX_SERVER_WORDS - 1].rstrip() + "…"
    return words


# Where each shape keeps its words, most telling first.
_WORD_KEYS = ("message", "error", "detail", "msg", "error_description", "title")


def _words_in(value: object, *, depth: int) -> str:
    if depth > 4:
        return ""
    if isinstance(value, str):
        return _text_of_page(value) if _HTML_TAG.search(value) else value
    if isinstance(value, Mapping):
        for key in _WORD_KEYS:
            words = _words_in(value.get(key), depth=depth + 1)
            if words:
                return _with_location(value.get("loc"), words) if key == "msg" else words
        return ""
    if isinstance(value, list | tuple):
        found = (_words_in(item, depth=depth + 1) for item in value[:3])
        return "; ".join(words for words in found if words)
    return ""


def _with_location(loc: object, words: str) -> str:
    """A FastAPI validation message with the field it is about (``messages.0.role: …``)."""
    if not isinstance(loc, list | tuple):
        return words
    names = [str(part) for part in loc if part != "body" and isinstance(part, str | int)]
    return f"{'.'.join(names)}: {words}" if names else words


def _text_of_page(page: str) -> str:
    """The visible text of an HTML error page (a proxy's "502 Bad Gateway")."""
    page = _HTML_HIDDEN.sub(" ", page)
    return html.unescape(_HTML_TAG.sub(" ", page))


_HTML_TAG = re.compile(r"<[A-Za-z!/][^>]*>")
_HTML_HIDDEN = re.compile(r"(?is)<(script|style|head)\b[^>]*>.*?</\1\s*>")
_WHITESPACE = re.compile(r"\s+")

# Words and error types that say the request does not fit the model's context window.
_CONTEXT_WORDS = re.compile(r"(?i)context (?:length|size|window)|n_ctx")
_CONTEXT_ERROR_TYPES = frozenset({"exceed_context_size_error", "context_length_exceeded"})

# "maximum context length is 8192 tokens", "context size (4096)", "context length of only
# 2048 tokens", "context window: 8,192", "n_ctx = 2048".
_CONTEXT_LIMIT_WORDS = re.compile(
    r"(?i)(?:context (?:length|size|window)(?:\s+(?:is|of|only))*|n_ctx)\s*[(:=]?\s*"
    r"(\d{1,3}(?:,\d{3})+|\d+)"
)


def named_context_limit(body: object) -> int | None:
    """The context window (in tokens) a context-overflow error names, if it names one.

    ``body`` is the error's body as the openai SDK keeps it (or the whole JSON, or its text).
    llama.cpp's ``n_ctx`` field wins; otherwise the words are read: OpenAI's and vLLM's "This
    model's maximum context length is N tokens", LM Studio's "context length of only N
    tokens", and "context size (N)"-like wording.
    """
    if isinstance(body, Mapping):
        nested = body.get("error")
        if isinstance(nested, Mapping):
            return named_context_limit(nested)
        n_ctx = body.get("n_ctx")
        if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) and n_ctx > 0:
            return n_ctx
    match = _CONTEXT_LIMIT_WORDS.search(server_words(body))
    if match is None:
        return None
    limit = int(match.group(1).replace(",", ""))
    return limit if limit > 0 else None


def _loggable_code(code: str | None) -> str:
    """The server's error code for a log line: an identifier, or a word saying it was not."""
    if not code:
        return "none"
    return code if _CODE_SHAPE.fullmatch(code) else "unrecognised"


_CODE_SHAPE = re.compile(r"[\w.\-]{1,64}")


def rejects_stream_options(exc: BaseException) -> bool:
    """Whether the server refused the request for carrying ``stream_options``."""
    status = getattr(exc, "status_code", None)
    return status in (400, 422) and "stream_options" in server_words(getattr(exc, "body", None))


def caused_by(exc: BaseException, name: str) -> bool:
    """Whether ``exc`` was caused (within five links) by an exception of class ``name``."""
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
