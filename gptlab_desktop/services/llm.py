"""The OpenAI-compatible ``LlmClient``: streamed chat, model lists, key checks and moderation.

Works with OpenAI and with any server speaking its API (Ollama, LM Studio, llama.cpp, vLLM,
OpenRouter, Gemini). ``openai`` is imported on first use, never at module import: it costs
about 0.36 s and must stay off the start-up path. Every failure becomes a typed ``LlmError``
(services/errors.py) whose message a user can read and which never contains the API key.

The openai client's own retries are off; ``OpenAIClient`` retries rate limits and server errors
itself (services/llm_retry.py), only before any text has arrived, and tells the caller about
each wait so the UI can show a countdown. What it does as every SDK-based client does (the key,
the SDK's client built off the loop, the warm-up, the model list asked once) is
``SdkLlmClient``'s (services/sdk_client.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from gptlab_desktop.config import is_openai_url
from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.errors import ConnectionLost, LlmError, MissingApiKey, ServerError
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
from gptlab_desktop.services.llm_errors import ErrorTranslator, rejects_stream_options
from gptlab_desktop.services.llm_retry import Retries
from gptlab_desktop.services.model_catalog import (
    context_window,
    estimate_cost_usd,
    max_output_tokens,
    ranked_model_ids,
)
from gptlab_desktop.services.sdk_client import SdkLlmClient, import_sdk

if TYPE_CHECKING:
    import openai

__all__ = [
    "LlmSettings",
    "OpenAIClient",
    "context_window",
    "estimate_cost_usd",
    "max_output_tokens",
    "rank_models",
    "server_root",
]

log = logging.getLogger(__name__)

# OpenAI-compatible local servers ignore the key, but the client insists on having one.
PLACEHOLDER_API_KEY = "not-needed"
_NO_MODERATION_STATUSES = frozenset({404, 405, 501})
# How long the model list may wait for the server to tell its context windows (each request,
# and all of them together); what is not told by then is simply not known.
CONTEXT_WINDOW_TIMEOUT_S = 3.0
# Ollama is asked about each model on its own: at most this many (it lists the latest first).
MAX_MODELS_SHOWN = 20
# …and about this many at the same time.
MAX_SHOWN_AT_ONCE = 8


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


class OpenAIClient(SdkLlmClient["openai.AsyncOpenAI"]):
    """An OpenAI-compatible client with typed errors and its own bounded retries."""

    sdk_name = "openai"

    def __init__(self, settings: LlmSettings) -> None:
        base_url = settings.base_url.strip().rstrip("/")
        super().__init__(
            settings,
            base_url,
            missing_key=MissingApiKey,
            default_key=None if is_openai_url(base_url) else PLACEHOLDER_API_KEY,
        )
        self._sends_stream_options = True
        self._has_moderation = True
        self._errors = ErrorTranslator(
            base_url=lambda: self.base_url,
            api_key=lambda: self._clients.api_key,
            timeout_s=settings.timeout_s,
        )

    @property
    def is_openai(self) -> bool:
        """Whether the server is OpenAI's own API (models are then filtered and ranked)."""
        return is_openai_url(self.base_url)

    def _new_client(self, api_key: str) -> openai.AsyncOpenAI:
        openai = import_sdk("openai")
        return openai.AsyncOpenAI(**self._client_options(openai, api_key))

    # -- chat --------------------------------------------------------------------------------

    async def stream_chat(
        self, messages: Sequence[ChatTurn], config: ModelConfig
    ) -> AsyncIterator[StreamEvent]:
        """Stream a reply: a ``RetryNotice`` before each wait for a retry, then ``TextDelta``
        events, then one ``StreamEnd``.

        Raises an ``LlmError``; ``ConnectionLost`` when the stream broke or ended without a
        finish reason, after the text that did arrive was yielded. A stream that ends with
        no event at all is asked again once, unstreamed, to learn why (see
        ``_ask_unstreamed``).
        """
        request = self._chat_request(messages, config)
        retries = Retries(self._settings.max_retries)
        while True:
            try:
                stream = await self._open_stream(request, config.model)
                break
            except LlmError as error:
                notice = retries.notice_after(error)
                if notice is None:
                    raise
                # Said before the wait, so the window can count it down.
                yield notice
                await asyncio.sleep(notice.wait_s)
        finish_reason: str | None = None
        usage: Usage | None = None
        model = config.model
        # Still None after the loop only if no event came at all (a test that costs nothing
        # per event).
        chunk: Any = None
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
        if chunk is None:
            text, end = await self._ask_unstreamed(request, config.model)
            if text:
                yield TextDelta(text)
            yield end
            return
        if finish_reason is None:
            log.warning("The reply stream from %s ended without a finish reason", model)
            raise ConnectionLost()
        yield StreamEnd(finish_reason=finish_reason, usage=usage, model=model)

    async def _ask_unstreamed(self, request: dict[str, Any], model: str) -> tuple[str, StreamEnd]:
        """The reply to ``request`` asked once more without streaming: its text and its end.

        llama.cpp answers a streamed request that does not fit its context with HTTP 200 and
        an empty body; asked unstreamed, it says why (400, with its context size), which
        becomes ``ContextTooLong`` with the limit. A server that simply did not stream gives
        its reply here. Raises the typed error of whatever the server answers.
        """
        log.info("The reply stream ended with no event; asking once more unstreamed")
        client = await self._clients.client()
        unstreamed = {key: value for key, value in request.items() if key != "stream_options"}
        unstreamed["stream"] = False
        try:
            response = await client.post(
                "/chat/completions", body=unstreamed, cast_to=object, options=_BEARER_AUTH
            )
        except ValueError:
            response = None  # not JSON at all: nothing there either
        except Exception as exc:
            raise self._errors.translate(exc, model, mid_stream=False) from None
        completion = _completion_in(response, model)
        if completion is None:
            log.warning("The server sent no reply, streamed or unstreamed")
            raise ServerError()
        return completion

    def _chat_request(self, messages: Sequence[ChatTurn], config: ModelConfig) -> dict[str, Any]:
        """The streamed Chat Completions request for ``messages`` with ``config``, as JSON."""
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
        return request

    async def _open_stream(self, request: dict[str, Any], model: str) -> Any:
        client = await self._clients.client()
        try:
            # Plain JSON rather than chat.completions.create: its typed transform walks every
            # message of the context through TypedDict introspection (~15 ms per turn for a
            # 60-message context) to rename keys ours never have.
            return await self._post_for_events(
                client, "/chat/completions", request, options=_BEARER_AUTH
            )
        except Exception as exc:
            if "stream_options" in request and rejects_stream_options(exc):
                # Some compatible servers refuse the option; usage is then simply not reported.
                log.info("The server refuses stream_options; streaming without usage")
                self._sends_stream_options = False
                del request["stream_options"]
                return await self._open_stream(request, model)
            raise self._errors.translate(exc, model, mid_stream=False) from None

    # -- models ------------------------------------------------------------------------------

    def _fallback_models(self) -> tuple[str, ...]:
        return ranked_model_ids()

    async def _fetch_models(self) -> ModelList:
        client = await self._clients.client()
        try:
            # Plain JSON: the typed model list drops the fields that tell context windows.
            listing = await client.get("/models", cast_to=object, options=_BEARER_AUTH)
        except Exception as exc:
            raise self._errors.translate(exc, None, mid_stream=False) from None
        entries = _model_entries(listing)
        if entries is None:
            log.warning("The server's model list is not one")
            raise ServerError()
        ids = [entry["id"] for entry in entries]
        windows = await self._context_windows(client, entries)
        self._models = ModelList(
            rank_models(ids, openai_only=self.is_openai), context_windows=windows
        )
        return self._models

    async def _context_windows(
        self, client: openai.AsyncOpenAI, entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, int]:
        """Each model's context window, where the server reports one; never fails, and takes
        at most ``CONTEXT_WINDOW_TIMEOUT_S``.

        Read from the model list's own entries for any server, then from where the preset's
        server tells it (replacing what the list said: a running context beats a trained one):
        llama.cpp's ``/props``, Ollama's ``/api/show`` per model, LM Studio's ``/api/v0/models``.
        """
        windows = {
            entry["id"]: window
            for entry in entries
            if (window := _listed_context_window(entry)) is not None
        }
        ids = [entry["id"] for entry in entries]
        lookups = self._window_lookups(client, ids)
        if not lookups:
            return windows
        found: dict[str, int] = {}
        tasks = [asyncio.ensure_future(lookup(found)) for lookup in lookups]
        try:
            _done, late = await asyncio.wait(tasks, timeout=CONTEXT_WINDOW_TIMEOUT_S)
        finally:
            for task in tasks:
                task.cancel()
        if late:
            log.info("The server took too long to tell %d context window(s)", len(late))
        for task in tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                log.info("A context window could not be read (%s)", type(error).__name__)
        windows.update(found)
        return windows

    def _window_lookups(
        self, client: openai.AsyncOpenAI, ids: Sequence[str]
    ) -> list[Callable[[dict[str, int]], Awaitable[None]]]:
        """The requests that tell context windows on this preset's server, each filling a dict."""
        root = server_root(self.base_url)
        options: dict[str, Any] = {**_BEARER_AUTH, "timeout": CONTEXT_WINDOW_TIMEOUT_S}
        preset = self._settings.preset

        async def llama_cpp_props(found: dict[str, int]) -> None:
            props = await client.get(f"{root}/props", cast_to=object, options=options)
            n_ctx = _dig(props, "default_generation_settings", "n_ctx")
            if _is_window(n_ctx):
                # One model runs at a time; every id the server lists is served by it.
                found.update(dict.fromkeys(ids, n_ctx))

        at_once = asyncio.Semaphore(MAX_SHOWN_AT_ONCE)

        def ollama_show(model: str) -> Callable[[dict[str, int]], Awaitable[None]]:
            async def show(found: dict[str, int]) -> None:
                body = {"model": model}
                async with at_once:
                    shown = await client.post(
                        f"{root}/api/show", body=body, cast_to=object, options=options
                    )
                if (window := _ollama_context_window(shown)) is not None:
                    found[model] = window

            return show

        async def lm_studio_models(found: dict[str, int]) -> None:
            listing = await client.get(f"{root}/api/v0/models", cast_to=object, options=options)
            for entry in _model_entries(listing) or ():
                window = _first_window(entry, ("loaded_context_length", "max_context_length"))
                if window is not None:
                    found[entry["id"]] = window

        if preset == "llamacpp":
            return [llama_cpp_props]
        if preset == "ollama":
            return [ollama_show(model) for model in ids[:MAX_MODELS_SHOWN]]
        if preset == "lmstudio":
            return [lm_studio_models]
        return []

    # -- moderation --------------------------------------------------------------------------

    async def moderate(self, text: str) -> ModerationResult | None:
        """The server's moderation verdict, or None where it offers none (or fails): advisory."""
        if not self._has_moderation:
            return None
        try:
            client = await self._clients.client()
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


def server_root(base_url: str) -> str:
    """The server's own address: ``base_url`` without a trailing ``/v1`` (where llama.cpp's
    ``/props``, Ollama's ``/api/show`` and LM Studio's ``/api/v0`` live)."""
    root = base_url.strip().rstrip("/")
    return root.removesuffix("/v1")


def _model_entries(listing: object) -> list[Mapping[str, Any]] | None:
    """The entries of a ``/models`` answer that name a model, or None if it is not one."""
    data = listing.get("data") if isinstance(listing, Mapping) else listing
    if not isinstance(data, list):
        return None
    return [
        entry for entry in data if isinstance(entry, Mapping) and isinstance(entry.get("id"), str)
    ]


# Fields of a model list's entries that tell the context window, most telling first
# (OpenRouter's ``context_length``, LM Studio's ``max_context_length``, vLLM's
# ``max_model_len``, …).
_LISTED_WINDOW_FIELDS = ("context_length", "context_window", "max_context_length", "max_model_len")


def _listed_context_window(entry: Mapping[str, Any]) -> int | None:
    """The context window a model list's entry tells, if any; llama.cpp's trained context
    (``meta.n_ctx_train``) as a last resort: it may run with a smaller one."""
    window = _first_window(entry, _LISTED_WINDOW_FIELDS)
    if window is not None:
        return window
    trained = _dig(entry, "meta", "n_ctx_train")
    return trained if _is_window(trained) else None


_NUM_CTX = re.compile(r"(?m)^\s*num_ctx\s+(\d+)")


def _ollama_context_window(shown: object) -> int | None:
    """The context window in Ollama's ``/api/show`` answer: the ``num_ctx`` its parameters
    set (what it runs with), else the architecture's ``<arch>.context_length``."""
    if not isinstance(shown, Mapping):
        return None
    parameters = shown.get("parameters")
    if isinstance(parameters, str) and (match := _NUM_CTX.search(parameters)) is not None:
        return int(match.group(1)) or None
    info = shown.get("model_info")
    if not isinstance(info, Mapping):
        return None
    architecture = info.get("general.architecture")
    window = info.get(f"{architecture}.context_length")
    return window if _is_window(window) else None


def _first_window(entry: Mapping[str, Any], fields: Sequence[str]) -> int | None:
    for name in fields:
        value = entry.get(name)
        if _is_window(value):
            return value
    return None


def _dig(value: object, *keys: str) -> object:
    """``value[key1][key2]…``, or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _is_window(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _completion_in(response: object, model: str) -> tuple[str, StreamEnd] | None:
    """The text and end of an unstreamed Chat Completions answer, or None if it has none."""
    if not isinstance(response, Mapping):
        return None
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        return None
    choice = choices[0]
    message = choice.get("message")
    text = message.get("content") if isinstance(message, Mapping) else None
    end = StreamEnd(
        finish_reason=str(choice.get("finish_reason") or "stop"),
        usage=_usage_in(response.get("usage")),
        model=str(response.get("model") or model),
    )
    return (text if isinstance(text, str) else ""), end


def _usage_in(reported: object) -> Usage | None:
    """The token counts of an unstreamed answer's ``usage``, if it reports them."""
    if not isinstance(reported, Mapping):
        return None
    prompt = reported.get("prompt_tokens")
    completion = reported.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    total = reported.get("total_tokens")
    return Usage(prompt, completion, total if isinstance(total, int) else prompt + completion)
