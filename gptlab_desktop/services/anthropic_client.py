"""The Anthropic ``LlmClient``: Claude's Messages API behind the app's one interface.

``anthropic`` is imported on first use, never at module import: it costs about 1.6 s and must
stay off the start-up path. Every failure becomes a typed ``LlmError`` (services/errors.py)
whose message keeps the server's own words, redacted of any key; the log records only the
kind of error and its HTTP status (``services/anthropic_errors.py``). The SDK's own retries
are off: ``AnthropicClient`` retries rate limits (429), server errors (5xx) and Anthropic's
"overloaded" (529) itself, only before any text has arrived, and tells the caller about each
wait so the window can count it down.

How the app's conversation becomes a Messages request:

* system turns become the ``system`` parameter (joined by blank lines); the other turns become
  ``messages``, consecutive turns of one role merged into one and blank turns left out;
* Anthropic wants the user to speak first: where the conversation starts otherwise (the
  app's greet, where the assistant opens from the system prompt alone) ``GREET_TURN`` is sent
  as the first user turn;
* the app's temperature (0 to 2, OpenAI's range) is halved onto Anthropic's 0 to 1, so both
  ends and the middle keep their meaning; a top P below 1 is sent instead of the temperature
  (newer models refuse the two together); the frequency and presence penalties have no
  Anthropic counterpart and are not sent;
* stop reasons are given in OpenAI's words (``end_turn`` → ``stop``, ``max_tokens`` →
  ``length``, ``refusal`` → ``content_filter``, ``tool_use`` → ``tool_calls``), as the rest of
  the app knows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gptlab_desktop.config import is_openai_url
from gptlab_desktop.models import ModelConfig, Role
from gptlab_desktop.services.anthropic_errors import AnthropicErrorTranslator
from gptlab_desktop.services.errors import ConnectionLost, LlmError, MissingApiKey
from gptlab_desktop.services.llm_api import (
    YIELD_EVERY_S,
    ChatTurn,
    LlmSettings,
    ModelList,
    ModerationResult,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from gptlab_desktop.services.llm_retry import RETRIED_STATUSES, Retries
from gptlab_desktop.services.sdk_client import SdkLlmClient, import_sdk

if TYPE_CHECKING:
    import anthropic

__all__ = [
    "ANTHROPIC_API_VERSION",
    "ANTHROPIC_BASE_URL",
    "FALLBACK_MODELS",
    "GREET_TURN",
    "AnthropicClient",
    "anthropic_base_url",
    "anthropic_messages",
    "anthropic_temperature",
]

log = logging.getLogger(__name__)

ANTHROPIC_BASE_URL = "https://api.anthropic.com"

# The Messages API version every request names. anthropic 2.x sends 2026-10-21 by default,
# which refuses temperature, top_p and top_k (HTTP 400, even at their default values); the
# app's assistants are defined by their temperature, so this module asks for the version that
# takes it, and reads the request and event shapes of that version.
ANTHROPIC_API_VERSION = "2023-06-01"

# The user turn that opens a conversation the assistant is to begin (the greet): Anthropic
# wants every conversation to start with the user, and the system prompt says the rest.
GREET_TURN = "Please begin."

# Offered when the server cannot be asked for its models: current Claude models (from the
# anthropic 2.17 SDK's list), newest first.
FALLBACK_MODELS = (
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-4-8",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
)

# Models asked for per page (Anthropic's largest): one request lists them all.
MODELS_PAGE_SIZE = 1000

# Anthropic's "overloaded" (529) is worth asking again after too.
_RETRIED_STATUSES = RETRIED_STATUSES | {529}

# Anthropic's stop reasons in the words the rest of the app knows (OpenAI's finish reasons);
# any other reason is passed on as it came.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
}

_MISSING_KEY = (
    "No Anthropic API key is set. Add yours in Settings → Providers (you can create one in "
    "the Anthropic Console)."
)


def anthropic_base_url(configured: str) -> str:
    """The server to send to: ``configured`` without a trailing ``/v1`` (the requests name
    it), or ``ANTHROPIC_BASE_URL`` where none is set (the settings' default is OpenAI's)."""
    url = configured.strip().rstrip("/")
    if not url or is_openai_url(url):
        return ANTHROPIC_BASE_URL
    return url.removesuffix("/v1")


def anthropic_messages(turns: Sequence[ChatTurn]) -> tuple[str, list[dict[str, str]]]:
    """The ``system`` text and the ``messages`` of a request for ``turns``.

    Consecutive turns of one role are merged, blank turns left out, and ``GREET_TURN`` goes
    first where the user does not speak first.
    """
    system: list[str] = []
    messages: list[dict[str, str]] = []
    for turn in turns:
        if not turn.content.strip():
            continue  # Anthropic refuses empty messages
        if turn.role is Role.SYSTEM:
            system.append(turn.content)
        elif messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"] += "\n\n" + turn.content
        else:
            messages.append({"role": str(turn.role), "content": turn.content})
    if not messages or messages[0]["role"] != Role.USER:
        messages.insert(0, {"role": str(Role.USER), "content": GREET_TURN})
    return "\n\n".join(system), messages


def anthropic_temperature(temperature: float) -> float:
    """The app's temperature (0 to 2) on Anthropic's scale (0 to 1): half of it."""
    return min(1.0, max(0.0, temperature / 2))


def _sampling(config: ModelConfig) -> dict[str, float]:
    if config.top_p < 1.0:
        return {"top_p": config.top_p}
    return {"temperature": anthropic_temperature(config.temperature)}


class AnthropicClient(SdkLlmClient["anthropic.AsyncAnthropic"]):
    """Anthropic's Messages API as an ``LlmClient``, with typed errors and its own bounded
    retries."""

    sdk_name = "anthropic"

    def __init__(self, settings: LlmSettings) -> None:
        super().__init__(
            settings,
            anthropic_base_url(settings.base_url),
            missing_key=lambda: MissingApiKey(_MISSING_KEY),
        )
        self._errors = AnthropicErrorTranslator(
            base_url=self.base_url,
            api_key=lambda: self._clients.api_key,
            timeout_s=settings.timeout_s,
        )

    async def use_api_key(self, api_key: str | None) -> None:
        """Send ``api_key`` from now on (a key saved or removed in Settings; an empty one is
        none)."""
        await super().use_api_key(api_key or None)

    def _new_client(self, api_key: str) -> anthropic.AsyncAnthropic:
        anthropic = import_sdk("anthropic")
        return anthropic.AsyncAnthropic(
            **self._client_options(anthropic, api_key),
            default_headers={
                "anthropic-version": ANTHROPIC_API_VERSION,
                # anthropic 2.x sends the key as a bearer token; the header Anthropic documents
                # (and that proxies and compatible servers read) is x-api-key, sent alone.
                "x-api-key": api_key,
                "Authorization": anthropic.omit,
            },
        )

    # -- chat --------------------------------------------------------------------------------

    async def stream_chat(
        self, messages: Sequence[ChatTurn], config: ModelConfig
    ) -> AsyncIterator[StreamEvent]:
        """Stream a reply: a ``RetryNotice`` before each wait for a retry, then ``TextDelta``
        events, then one ``StreamEnd``.

        A failure before any text (an error answer, or an error event first thing in the
        stream) is retried where waiting can help. Raises an ``LlmError``; ``ConnectionLost``
        when the stream broke or ended without a stop reason, after the text that did arrive.
        """
        request = self._request(messages, config)
        retries = Retries(self._settings.max_retries, statuses=_RETRIED_STATUSES)
        while True:
            has_text = False
            try:
                async with contextlib.aclosing(self._reply(request, config.model)) as events:
                    async for event in events:
                        has_text = has_text or isinstance(event, TextDelta)
                        yield event
                return
            except LlmError as error:
                failure = error
            notice = None if has_text else retries.notice_after(failure)
            if notice is None:
                raise failure
            # Said before the wait, so the window can count it down.
            yield notice
            await asyncio.sleep(notice.wait_s)

    def _request(self, turns: Sequence[ChatTurn], config: ModelConfig) -> dict[str, Any]:
        system, messages = anthropic_messages(turns)
        request: dict[str, Any] = {
            "model": config.model,
            "max_tokens": config.max_tokens,
            "messages": messages,
            **_sampling(config),
            "stream": True,
        }
        if system:
            request["system"] = system
        return request

    async def _reply(
        self, request: Mapping[str, Any], model: str
    ) -> AsyncIterator[TextDelta | StreamEnd]:
        """One attempt: the reply's text as it streams in, then its end."""
        stream = await self._open_stream(request, model)
        reply = _ReplyState(model)
        resumed = time.monotonic()
        try:
            # Each event is its JSON as a dict (see _open_stream): a few fields are read.
            async for event in stream:
                # Events that have already arrived are parsed without ever suspending: a fast
                # server would hold the event loop (and the window) for hundreds of ms.
                if time.monotonic() - resumed > YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    resumed = time.monotonic()
                if event.get("type") == "error":
                    raise self._errors.from_body(200, event, model)
                if text := reply.read(event):
                    yield TextDelta(text)
        except Exception as exc:
            raise self._errors.translate(exc, model, mid_stream=True) from None
        finally:
            await stream.close()
        yield reply.end()

    async def _open_stream(self, request: Mapping[str, Any], model: str) -> Any:
        client = await self._clients.client()
        try:
            # Plain JSON rather than messages.create (the SDK's stream still skips pings).
            return await self._post_for_events(client, "/v1/messages", request)
        except Exception as exc:
            raise self._errors.translate(exc, model, mid_stream=False) from None

    # -- models ------------------------------------------------------------------------------

    def _fallback_models(self) -> tuple[str, ...]:
        return FALLBACK_MODELS

    async def _fetch_models(self) -> ModelList:
        client = await self._clients.client()
        # Each model's context window, where the server reports one; in the server's order
        # (newest first).
        found: dict[str, int | None] = {}
        try:
            async for info in client.models.list(limit=MODELS_PAGE_SIZE):
                found.setdefault(info.id, info.max_input_tokens)
        except Exception as exc:
            raise self._errors.translate(exc, None, mid_stream=False) from None
        windows = {model: size for model, size in found.items() if size}
        self._models = ModelList(tuple(found), context_windows=windows)
        return self._models

    # -- moderation --------------------------------------------------------------------------

    async def moderate(self, text: str) -> ModerationResult | None:
        """None: Anthropic offers no moderation endpoint."""
        return None


class _ReplyState:
    """What the events of one reply have told so far: its model, tokens and stop reason."""

    __slots__ = ("input_tokens", "model", "output_tokens", "stop_reason")

    def __init__(self, model: str) -> None:
        self.model = model
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.stop_reason: str | None = None

    def read(self, event: Mapping[str, Any]) -> str | None:
        """The text ``event`` adds to the reply, if any; what else it tells is kept."""
        kind = event.get("type")
        if kind == "content_block_delta":  # by far the most frequent
            delta = event.get("delta") or {}
            return delta.get("text") if delta.get("type") == "text_delta" else None
        if kind == "message_start":
            message = event.get("message") or {}
            self.model = message.get("model") or self.model
            self._count(message.get("usage"))
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self._count(event.get("usage"))
        return None

    def end(self) -> StreamEnd:
        """The reply's end; ``ConnectionLost`` if the stream never said why it stopped."""
        if self.stop_reason is None:
            log.warning("The reply stream from %s ended without a stop reason", self.model)
            raise ConnectionLost()
        usage = None
        if self.input_tokens is not None or self.output_tokens is not None:
            read, written = self.input_tokens or 0, self.output_tokens or 0
            usage = Usage(read, written, read + written)
        finish_reason = _FINISH_REASONS.get(self.stop_reason, self.stop_reason)
        return StreamEnd(finish_reason=finish_reason, usage=usage, model=self.model)

    def _count(self, usage: Any) -> None:
        # Counts are running totals; the prompt's include what was read from the prompt cache.
        if not isinstance(usage, dict):
            return
        if usage.get("input_tokens") is not None:
            self.input_tokens = (
                usage["input_tokens"]
                + (usage.get("cache_creation_input_tokens") or 0)
                + (usage.get("cache_read_input_tokens") or 0)
            )
        if usage.get("output_tokens") is not None:
            self.output_tokens = usage["output_tokens"]
