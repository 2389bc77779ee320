"""The OpenAI-compatible ``LlmClient``: streamed chat, model lists, key checks and moderation.

Works with OpenAI and with any server speaking its API (Ollama, LM Studio, llama.cpp, vLLM,
OpenRouter, Gemini). ``openai``
is imported on first use, never at module import: it costs about 0.36 s and must stay off the
start-up path. Every failure becomes a typed ``LlmError`` (services/errors.py) whose message a
user can read and which never contains the API key.

The openai client's own retries are off; ``OpenAIClient`` retries rate limits and server errors
itself, only before any text has arrived, and tells the caller about each wait so the UI can
show a countdown.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from gptlab_desktop.config import is_openai_url
from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import (
    ConnectionLost,
    LlmError,
    MissingApiKey,
    RateLimited,
    ServerError,
)
from gptlab_desktop.services.llm_api import (
    ChatTurn,
    LlmSettings,
    ModelList,
    ModerationResult,
    RetryNotice,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from gptlab_desktop.services.llm_errors import (
    FIRST_BACKOFF_S,
    ErrorTranslator,
    display_url,
    rejects_stream_options,
)
from gptlab_desktop.services.model_catalog import (
    context_window,
    estimate_cost_usd,
    max_output_tokens,
    ranked_model_ids,
)

if TYPE_CHECKING:
    import openai

__all__ = [
    "LlmSettings",
    "OpenAIClient",
    "context_window",
    "estimate_cost_usd",
    "max_output_tokens",
    "rank_models",
]

log = logging.getLogger(__name__)

# OpenAI-compatible local servers ignore the key, but the client insists on having one.
PLACEHOLDER_API_KEY = "not-needed"
CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_WAIT_S = 60.0
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
_NO_MODERATION_STATUSES = frozenset({404, 405, 501})
_OPENAI_IMPORT_LOCK = threading.Lock()


def _import_openai() -> ModuleType:
    """The ``openai`` module, imported by one thread at a time (lazy: see the module docstring).

    The warm-up and a first request (a key being checked) may import it from two worker threads
    at once; Python's import locks then break the pydantic import cycle by handing one thread a
    half-initialised module, and the import fails.
    """
    with _OPENAI_IMPORT_LOCK:
        import openai

    return openai


def rank_models(available: Sequence[str], *, openai_only: bool) -> tuple[str, ...]:
    """The models to offer: OpenAI's known chat models in GPT Lab's order, or all, sorted.

    For OpenAI (``openai_only``) only the chat models the app knows are kept, newest first;
    any other server keeps everything it lists, sorted by name.
    """
    unique = set(available)
    if openai_only:
        ranked = tuple(model for model in ranked_model_ids() if model in unique)
        if ranked:
            return ranked
    return tuple(sorted(unique, key=str.lower))


# How long reading a stream may keep the event loop before letting the window paint.
YIELD_EVERY_S = 0.005


class OpenAIClient:
    """An OpenAI-compatible client with typed errors and its own bounded retries."""

    def __init__(self, settings: LlmSettings) -> None:
        self._settings = settings
        self.base_url = settings.base_url.strip().rstrip("/")
        key = settings.api_key or None
        if key is None and not self.is_openai:
            key = PLACEHOLDER_API_KEY
        self._api_key = key
        # The key being read (the keyring may take seconds): requests wait for it, nothing else.
        self._pending_key: asyncio.Future[str | None] | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._building_client = asyncio.Lock()
        self._models: ModelList | None = None
        self._sends_stream_options = True
        self._has_moderation = True
        self._errors = ErrorTranslator(
            base_url=lambda: self.base_url,
            api_key=lambda: self._api_key,
            timeout_s=settings.timeout_s,
        )

    def __repr__(self) -> str:
        return f"OpenAIClient(base_url={self._display_base_url!r})"

    # -- facts -------------------------------------------------------------------------------

    @property
    def is_openai(self) -> bool:
        """Whether the server is OpenAI's own API (models are then filtered and ranked)."""
        return is_openai_url(self.base_url)

    @property
    def _display_base_url(self) -> str:
        return display_url(self.base_url)

    @property
    def has_api_key(self) -> bool:
        """Whether a key is configured (or not needed: a compatible server gets a placeholder)."""
        return self._api_key is not None

    @property
    def cached_models(self) -> ModelList | None:
        """The model list fetched earlier in this client's life, if any."""
        return self._models

    # -- lifecycle ---------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Import ``openai`` and build its client in a worker thread, off the event loop.

        Both are slow the first time (the import ~0.4 s, the client's TLS context ~0.1 s), so
        doing them here keeps the first request from stalling the window.
        """
        await run_blocking(_import_openai)
        if self._api_key is not None:
            await self._client_off_loop()

    async def use_api_key(self, api_key: str | None) -> None:
        """Send ``api_key`` from now on (a key saved or removed in Settings)."""
        self._pending_key = None
        await self._switch_key(api_key)

    def use_api_key_when_read(self, api_key: Awaitable[str | None]) -> None:
        """Send the key that ``api_key`` gives once it is read; requests wait for it till then.

        Start-up reads the saved key from the keyring, which may take seconds: only the first
        request to the AI service waits for it, never the window or the data. A failed read
        means no key (the request then says what is missing).
        """
        self._pending_key = asyncio.ensure_future(api_key)

    async def _settle_key(self) -> None:
        """Wait for a key still being read, and use it."""
        pending = self._pending_key
        if pending is None:
            return
        try:
            key = await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise
            key = None
        except Exception:
            log.warning("Reading the saved API key failed", exc_info=True)
            key = None
        if self._pending_key is pending:  # not replaced by a key chosen meanwhile
            self._pending_key = None
            await self._switch_key(key)

    async def _switch_key(self, api_key: str | None) -> None:
        if api_key is None and not self.is_openai:
            api_key = PLACEHOLDER_API_KEY
        if api_key == self._api_key:
            return
        await self.aclose()
        self._api_key = api_key
        self._models = None

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _client_off_loop(self) -> openai.AsyncOpenAI:
        """The client, built in a worker thread the first time (its TLS set-up is slow).

        It is kept only if the key did not change while it was being built (a key saved while
        the warm-up builds one); otherwise it is dropped and built again with the new key.
        """
        await self._settle_key()
        while self._client is None:
            async with self._building_client:  # a chat and its moderation start together
                if self._client is not None:
                    break
                if self._api_key is None:
                    raise MissingApiKey()
                api_key = self._api_key
                client = await run_blocking(self._new_client, api_key)
                if api_key == self._api_key and self._client is None:
                    self._client = client
                else:
                    await client.close()
        return self._client

    def _new_client(self, api_key: str) -> openai.AsyncOpenAI:
        """A client sending ``api_key`` (any thread)."""
        openai = _import_openai()
        return openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.base_url,
            timeout=openai.Timeout(
                self._settings.timeout_s, connect=self._settings.connect_timeout_s
            ),
            max_retries=0,
        )

    # -- chat --------------------------------------------------------------------------------

    async def stream_chat(
        self, messages: Sequence[ChatTurn], config: ModelConfig
    ) -> AsyncIterator[StreamEvent]:
        """Stream a reply: a ``RetryNotice`` before each wait for a retry, then ``TextDelta``
        events, then one ``StreamEnd``.

        Raises an ``LlmError``; ``ConnectionLost`` when the stream broke or ended without a
        finish reason, after the text that did arrive was yielded.
        """
        attempt = 0
        while True:
            try:
                stream = await self._open_stream(messages, config)
                break
            except LlmError as error:
                wait_s = self._retry_wait(error, attempt)
                if wait_s is None:
                    raise
                attempt += 1
                log.info("Retrying the request in %.1f s (%s)", wait_s, type(error).__name__)
                # Said before the wait, so the window can count it down.
                yield RetryNotice(
                    attempt=attempt,
                    wait_s=wait_s,
                    reason=error.message,
                    is_rate_limit=isinstance(error, RateLimited),
                )
                await asyncio.sleep(wait_s)
        finish_reason: str | None = None
        usage: Usage | None = None
        model = config.model
        resumed = time.monotonic()
        try:
            # Each chunk is the event's JSON as a dict (see _open_stream): three fields are read.
            async for chunk in stream:
                # Events that have already arrived are parsed without ever suspending: a fast
                # server would hold the event loop (and the window) for hundreds of ms.
                if time.monotonic() - resumed > YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    resumed = time.monotonic()
                model = chunk.get("model") or model
                reported = chunk.get("usage")
                if reported is not None:
                    usage = Usage(
                        prompt_tokens=reported["prompt_tokens"],
                        completion_tokens=reported["completion_tokens"],
                        total_tokens=reported["total_tokens"],
                    )
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta")
                    if delta is not None and (content := delta.get("content")):
                        yield TextDelta(content)
                    if (reason := choice.get("finish_reason")) is not None:
                        finish_reason = reason
        except Exception as exc:
            raise self._errors.translate(exc, config.model, mid_stream=True) from None
        finally:
            await stream.close()
        if finish_reason is None:
            log.warning("The reply stream from %s ended without a finish reason", model)
            raise ConnectionLost()
        yield StreamEnd(finish_reason=finish_reason, usage=usage, model=model)

    async def complete(self, messages: Sequence[ChatTurn], config: ModelConfig) -> str:
        """The whole reply as one string (titles, summaries); retries are waited for silently."""
        parts: list[str] = []
        async for event in self.stream_chat(messages, config):
            if isinstance(event, TextDelta):
                parts.append(event.text)
        return "".join(parts)

    def _retry_wait(self, error: LlmError, attempt: int) -> float | None:
        if attempt >= self._settings.max_retries:
            return None
        if isinstance(error, RateLimited):
            wait_s = error.retry_after_s if error.is_server_hint else _backoff(attempt)
        elif isinstance(error, ServerError) and error.status in _RETRIED_STATUSES:
            wait_s = _backoff(attempt)
        else:
            return None
        return wait_s if wait_s <= MAX_RETRY_WAIT_S else None

    async def _open_stream(self, messages: Sequence[ChatTurn], config: ModelConfig) -> Any:
        client = await self._client_off_loop()
        request: dict[str, Any] = {
            "model": config.model,
            "messages": [{"role": str(turn.role), "content": turn.content} for turn in messages],
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "frequency_penalty": config.frequency_penalty,
            "presence_penalty": config.presence_penalty,
            "stream": True,
        }
        if self._sends_stream_options:
            request["stream_options"] = {"include_usage": True}
        try:
            # Posted as plain JSON rather than through chat.completions.create: its typed
            # transform walks every message of the context through TypedDict introspection
            # (~15 ms per turn for a 60-message context) to rename keys ours never have, and
            # its stream builds a pydantic model per token where three fields are read.
            return await client.post(
                "/chat/completions",
                body=request,
                cast_to=object,
                options=_BEARER_AUTH,
                stream=True,
                stream_cls=_json_stream_class(),
            )
        except Exception as exc:
            if self._sends_stream_options and rejects_stream_options(exc):
                # Some compatible servers refuse the option; usage is then simply not reported.
                log.info("The server refuses stream_options; streaming without usage")
                self._sends_stream_options = False
                return await self._open_stream(messages, config)
            raise self._errors.translate(exc, config.model, mid_stream=False) from None

    # -- models and keys ---------------------------------------------------------------------

    async def list_models(self) -> ModelList:
        """The models to offer, asked once per client; a flagged built-in list when that fails."""
        if self._models is not None:
            return self._models
        try:
            return await self._fetch_models()
        except LlmError as error:
            log.warning("Could not list the models (%s); offering the built-in list", error.title)
            return ModelList(ranked_model_ids(), is_fallback=True)

    async def check_key(self) -> None:
        """Ask the server for its models; raises ``InvalidApiKey`` (and other ``LlmError``)."""
        await self._fetch_models()

    async def _fetch_models(self) -> ModelList:
        client = await self._client_off_loop()
        try:
            ids = [model.id async for model in client.models.list()]
        except Exception as exc:
            raise self._errors.translate(exc, None, mid_stream=False) from None
        self._models = ModelList(rank_models(ids, openai_only=self.is_openai))
        return self._models

    # -- moderation --------------------------------------------------------------------------

    async def moderate(self, text: str) -> ModerationResult | None:
        """The server's moderation verdict, or None where it offers none (or fails): advisory."""
        if not self._has_moderation:
            return None
        try:
            client = await self._client_off_loop()
            # Plain JSON, like the chat request: the typed response model costs more to build
            # (every category, score and input type) than the two fields read here.
            response = await client.post(
                "/moderations", body={"input": text}, cast_to=object, options=_BEARER_AUTH
            )
        except LlmError:
            return None
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if status in _NO_MODERATION_STATUSES:
                # Asked once: a server without the endpoint will not grow one meanwhile.
                self._has_moderation = False
                log.info("The server offers no moderation (HTTP %s)", status)
            else:
                log.info("Moderation unavailable: %s", type(exc).__name__)
            return None
        results = response.get("results") if isinstance(response, dict) else None
        if not results or not isinstance(results[0], dict):
            return None
        result = results[0]
        flags = result.get("categories")
        hits = flags.items() if isinstance(flags, dict) else ()
        categories = tuple(sorted({name for name, is_hit in hits if is_hit is True}))
        return ModerationResult(flagged=result.get("flagged") is True, categories=categories)


# The SDK's own chat and moderation calls send the API key as a bearer token; so do ours.
_BEARER_AUTH: dict[str, Any] = {"security": {"bearer_auth": True}}


def _json_stream_class() -> Any:
    """The SDK's server-sent-event stream, yielding each event's JSON as it came (a dict).

    It still raises the SDK's errors for error events and broken connections.
    """
    import openai  # already loaded by now; named here to stay lazy

    return openai.AsyncStream[object]


def _backoff(attempt: int) -> float:
    return FIRST_BACKOFF_S * 2**attempt
