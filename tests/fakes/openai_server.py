"""A real OpenAI-compatible HTTP server on 127.0.0.1, scriptable per test (and per benchmark).

It speaks HTTP/1.1 with chunked Server-Sent Events for streamed chat completions, plain JSON
for everything else, and records every request. Each endpoint has a queue of scripted
responses; when the queue is empty a default answers (the chat default echoes the last user
message). No pytest here: ``bench/`` scripts import it too.

    with FakeOpenAIServer() as server:
        server.script(Reply(text="Hello!", chunk_size=2))
        server.script(ErrorReply.rate_limited(retry_after_s=1))  # the next request after that
        ... use server.base_url ...

A personality makes it behave like another server, as measured (DESIGN.md, "Real servers,
measured"): ``LlamaCpp`` (a context limit whose streamed overflow is HTTP 200 with an empty
body, no usage in streams, ``{"detail": …}`` errors, no moderation, file-path model ids, cuts
at ``max_tokens``, one request slot, ``/props``), ``Ollama`` (``/api/show``), ``OpenRouter``
(context lengths in its model list), ``LmStudio`` (``/api/v0/models``) and ``Vllm``
(``max_model_len`` in its model list):

    with FakeOpenAIServer(personality=LlamaCpp(n_ctx=2048)) as server:
        ...
        assert server.interrupted_requests == []  # no request overlapped another

Prompts are counted in rough tokens (``count_prompt_tokens``: a token per four characters of
every message's content, rounded up); replies in words (``max_tokens`` cuts after that many).
"""

from __future__ import annotations

import json
import math
import re
import select
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes.http_stub import StubHandler, StubRequest, StubServer

Endpoint = Literal["chat", "models", "moderations", "props", "show", "lmstudio_models"]

_PATHS: dict[str, Endpoint] = {
    "/v1/chat/completions": "chat",
    "/v1/models": "models",
    "/v1/moderations": "moderations",
    # Each of these only where its personality serves it (see FakeOpenAIServer._serves).
    "/props": "props",
    "/api/show": "show",
    "/api/v0/models": "lmstudio_models",
}

DEFAULT_MODELS = ("gpt-3.5-turbo", "gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "whisper-1")


@dataclass(frozen=True)
class Reply:
    """A successful chat completion, streamed when the request asks for a stream.

    ``text`` None echoes the last user message. ``delay_s`` is slept before every chunk (the
    first included). ``usage`` True computes rough counts; a pair gives (prompt, completion).
    ``drop_after_chunks`` closes the socket after that many content chunks, mid-body.
    ``omit_done`` leaves out the final ``data: [DONE]``.
    """

    text: str | None = None
    chunk_size: int = 8
    delay_s: float = 0.0
    usage: bool | tuple[int, int] = True
    finish_reason: str | None = "stop"
    drop_after_chunks: int | None = None
    omit_done: bool = False
    model: str | None = None


@dataclass(frozen=True)
class EmptyStream:
    """HTTP 200 with an empty body: no event at all (llama.cpp's answer to a streamed request
    over its context, or a server that does not stream)."""


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with an OpenAI-style JSON body, or the body given.

    A mapping ``body`` is sent as JSON; a string as it is, as HTML when it starts with ``<``
    and as plain text otherwise (``content_type`` overrides either).
    """

    status: int
    body: Mapping[str, Any] | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str | None = None

    def json_body(self) -> Mapping[str, Any]:
        """The body to send as JSON: the scripted one, or a generic OpenAI error."""
        if isinstance(self.body, Mapping):
            return self.body
        return _error_body(f"Scripted error {self.status}.", "server_error", None)

    def payload(self, *, detail_style: bool = False) -> tuple[bytes, str]:
        """The body's bytes and content type; ``detail_style`` for a server whose own errors
        are ``{"detail": …}`` (llama.cpp's, as measured) when none was scripted."""
        if isinstance(self.body, str):
            kind = "text/html" if self.body.lstrip().startswith("<") else "text/plain"
            return self.body.encode(), self.content_type or f"{kind}; charset=utf-8"
        body = self.json_body()
        if self.body is None and detail_style:
            body = {"detail": f"Scripted error {self.status}."}
        return json.dumps(body).encode(), self.content_type or "application/json"

    @classmethod
    def invalid_api_key(cls, key: str) -> ErrorReply:
        """401 as OpenAI sends it: the message echoes the start and end of the key."""
        hint = f"{key[:6]}{'*' * 8}{key[-4:]}" if len(key) > 10 else key
        message = (
            f"Incorrect API key provided: {hint}. You can find your API key in your "
            "account settings."
        )
        return cls(401, _error_body(message, "invalid_request_error", "invalid_api_key"))

    @classmethod
    def rate_limited(
        cls, retry_after_s: float | None = None, *, retry_after_ms: float | None = None
    ) -> ErrorReply:
        """429 ``rate_limit_exceeded``, with ``retry-after`` / ``retry-after-ms`` if given."""
        headers: dict[str, str] = {}
        if retry_after_s is not None:
            headers["retry-after"] = f"{retry_after_s:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = f"{retry_after_ms:g}"
        message = "Rate limit reached for requests. Please try again shortly."
        return cls(429, _error_body(message, "requests", "rate_limit_exceeded"), headers)

    @classmethod
    def insufficient_quota(cls) -> ErrorReply:
        """429 ``insufficient_quota``: retrying cannot help."""
        message = "You exceeded your current quota, please check your plan and billing details."
        return cls(429, _error_body(message, "insufficient_quota", "insufficient_quota"))

    @classmethod
    def context_length_exceeded(cls) -> ErrorReply:
        """400 ``context_length_exceeded``."""
        message = (
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9000 tokens. Please reduce the length of the messages."
        )
        return cls(400, _error_body(message, "invalid_request_error", "context_length_exceeded"))

    @classmethod
    def model_not_found(cls, model: str) -> ErrorReply:
        """404 ``model_not_found``."""
        message = f"The model `{model}` does not exist or you do not have access to it."
        return cls(404, _error_body(message, "invalid_request_error", "model_not_found"))

    @classmethod
    def stream_options_rejected(cls) -> ErrorReply:
        """400 as some compatible servers answer a request carrying ``stream_options``."""
        message = "Unrecognized request argument supplied: stream_options"
        return cls(400, _error_body(message, "invalid_request_error", None))


@dataclass(frozen=True)
class ModelsReply:
    """A ``GET /v1/models`` answer listing these ids."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class ModerationReply:
    """A ``POST /v1/moderations`` answer."""

    flagged: bool = False
    categories: tuple[str, ...] = ()


Scripted = Reply | EmptyStream | ErrorReply | ModelsReply | ModerationReply


# -- personalities -------------------------------------------------------------------------------

# The model a llama.cpp server was measured with; its id in /v1/models is the file's path.
SMOLLM2_PATH = "/models/SmolLM2-360M-Instruct-Q8_0.gguf"


@dataclass(frozen=True)
class LlamaCpp:
    """llama.cpp's OpenAI-compatible server, as measured with SmolLM2 at 2,048 tokens.

    A prompt over ``n_ctx`` (``count_prompt_tokens``) gets HTTP 200 and an empty body when
    streamed, and 400 ``exceed_context_size_error`` with ``n_ctx`` unstreamed; streams carry
    no usage even when asked; errors are ``{"detail": …}``; ``/v1/moderations`` is 404; the
    model list names the model's file; a reply stops at ``max_tokens`` words with
    ``finish_reason`` "length"; and with ``single_slot`` a new chat request interrupts (cuts)
    the one still in progress. ``GET /props`` tells the running context, ``n_ctx``.
    """

    n_ctx: int = 2048
    n_ctx_train: int = 8192
    model_path: str = SMOLLM2_PATH
    single_slot: bool = True


@dataclass(frozen=True)
class Ollama:
    """Ollama: ``POST /api/show`` tells each model's architecture context length (``models``,
    model → tokens) and the ``num_ctx`` its parameters set, where ``num_ctx`` names one."""

    models: Mapping[str, int] = field(
        default_factory=lambda: {"llama3.2:3b": 131_072, "qwen2.5:0.5b": 32_768}
    )
    num_ctx: Mapping[str, int] = field(default_factory=dict)
    architecture: str = "llama"


@dataclass(frozen=True)
class OpenRouter:
    """OpenRouter: its model list's entries carry ``context_length`` (model → tokens)."""

    models: Mapping[str, int] = field(
        default_factory=lambda: {
            "meta-llama/llama-3.1-8b-instruct": 131_072,
            "mistralai/mistral-7b-instruct": 32_768,
        }
    )


@dataclass(frozen=True)
class LmStudio:
    """LM Studio: ``GET /api/v0/models`` tells each model's ``max_context_length`` (model →
    tokens), and ``loaded_context_length`` for the ones in ``loaded`` (model → tokens)."""

    models: Mapping[str, int] = field(
        default_factory=lambda: {"qwen2.5-7b-instruct": 32_768, "phi-3-mini-4k-instruct": 4_096}
    )
    loaded: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Vllm:
    """vLLM: its model list's entries carry ``max_model_len`` (model → tokens), and its errors
    are FastAPI's (``{"detail": …}`` for an unknown path)."""

    models: Mapping[str, int] = field(
        default_factory=lambda: {"Qwen/Qwen2.5-1.5B-Instruct": 32_768}
    )


Personality = LlamaCpp | Ollama | OpenRouter | LmStudio | Vllm


def count_prompt_tokens(messages: Any) -> int:
    """The fake's token count of a prompt: one per four characters of all the messages'
    contents together, rounded up (what a context limit is measured in)."""
    chars = sum(
        len(str(message.get("content", "")))
        for message in messages or []
        if isinstance(message, dict)
    )
    return math.ceil(chars / 4)


_WORD = re.compile(r"\s*\S+")


def cut_to_words(text: str, max_tokens: object) -> tuple[str, bool]:
    """``text`` cut after ``max_tokens`` words (a word being a token here), and whether it was."""
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
        return text, False
    words = _WORD.findall(text)
    if len(words) <= max_tokens:
        return text, False
    return "".join(words[:max_tokens]), True


class RecordedRequest(StubRequest):
    """One request the server received; ``headers`` keys are lower-case."""

    @property
    def endpoint(self) -> Endpoint | None:
        """Which API endpoint the request was for, if any."""
        return _PATHS.get(self.path)


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@dataclass(eq=False)
class _Generation:
    """A chat request being answered; ``cut`` is set to end it early (a newer request took the
    only slot, or the server stops)."""

    request: RecordedRequest
    connection: socket.socket
    cut: threading.Event = field(default_factory=threading.Event)


class FakeOpenAIServer(StubServer[Endpoint, RecordedRequest, Scripted]):
    """An OpenAI-compatible loopback server running in a background thread.

    ``personality`` makes it behave like another server (see ``LlamaCpp``, ``Ollama``,
    ``OpenRouter``, ``LmStudio``, ``Vllm``). ``context_limit`` (tokens, counted by
    ``count_prompt_tokens``) refuses longer prompts: 400 ``context_length_exceeded`` as
    OpenAI words it, or llama.cpp's answers for that personality, whose ``n_ctx`` is the
    default. ``single_slot`` makes a new chat request interrupt the one in progress
    (llama.cpp's default; see ``interrupted_requests``). Each is an attribute too.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        personality: Personality | None = None,
        context_limit: int | None = None,
        single_slot: bool | None = None,
    ) -> None:
        super().__init__(_Handler, thread_name="fake-openai-server", endpoints=_ENDPOINTS)
        # With api_key set, requests with another bearer token get OpenAI's 401.
        self.api_key = api_key
        self.personality = personality
        llama_cpp = personality if isinstance(personality, LlamaCpp) else None
        is_llama_cpp = llama_cpp is not None
        if context_limit is None and llama_cpp is not None:
            context_limit = llama_cpp.n_ctx
        self.context_limit = context_limit
        if single_slot is None:
            single_slot = llama_cpp is not None and llama_cpp.single_slot
        self.single_slot = single_slot
        self.models: tuple[str, ...] = _default_models(personality)
        self.moderation_available = not is_llama_cpp
        # Whether a streamed reply reports usage when asked (llama.cpp's never does).
        self.streams_usage = not is_llama_cpp
        # Whether a reply stops at the request's max_tokens (in words) with "length".
        self.cuts_at_max_tokens = is_llama_cpp
        self._interrupted: list[RecordedRequest] = []
        self._generations: set[_Generation] = set()
        self._slot: _Generation | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving: chat replies in progress are cut first, then every open connection."""
        self._stopping.set()  # before the cuts: a reply starting now is cut as it begins
        with self._lock:
            generations = list(self._generations)
        for generation in generations:
            generation.cut.set()
        super().stop()

    @property
    def root_url(self) -> str:
        """The server's own address (``/props``, ``/api/show`` and ``/api/v0`` live there)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL to give an OpenAI client (ends in ``/v1``)."""
        return f"{self.root_url}/v1"

    # -- scripting and records ---------------------------------------------------------------

    def script(self, *responses: Scripted, endpoint: Endpoint | None = None) -> None:
        """Queue responses for the next requests to an endpoint.

        Without ``endpoint``: ``ModelsReply`` goes to models, ``ModerationReply`` to
        moderations, everything else to chat. An ``ErrorReply`` may go to any endpoint
        (``props``, ``show``, ``lmstudio_models`` too).
        """
        with self._lock:
            for response in responses:
                self._queues[endpoint or _default_endpoint(response)].append(response)

    @property
    def interrupted_requests(self) -> list[RecordedRequest]:
        """The chat requests cut short because a newer one took the only slot, oldest first
        (always empty unless ``single_slot``)."""
        with self._lock:
            return list(self._interrupted)

    def pending(self, endpoint: Endpoint = "chat") -> int:
        """How many scripted responses are still queued for an endpoint."""
        with self._lock:
            return len(self._queues[endpoint])

    # -- used by the handler -----------------------------------------------------------------

    def _serves(self, endpoint: Endpoint) -> bool:
        """Whether this personality has the endpoint at all."""
        personality = self.personality
        if endpoint == "moderations":
            return not isinstance(personality, LlamaCpp)
        if endpoint == "props":
            return isinstance(personality, LlamaCpp)
        if endpoint == "show":
            return isinstance(personality, Ollama)
        if endpoint == "lmstudio_models":
            return isinstance(personality, LmStudio)
        return True

    def _begin(self, request: RecordedRequest, connection: socket.socket) -> _Generation:
        """A chat request starts; with one slot, the one it takes from is cut, and recorded as
        interrupted unless its client had already hung up (a reply stopped)."""
        generation = _Generation(request, connection)
        with self._lock:
            self._generations.add(generation)
            if self.single_slot:
                previous = self._slot
                # Asked before the cut: cutting shuts its connection down.
                if previous is not None and not _has_hung_up(previous.connection):
                    self._interrupted.append(previous.request)
                if previous is not None:
                    previous.cut.set()
                self._slot = generation
        if self._stopping.is_set():
            generation.cut.set()
        return generation

    def _finish(self, generation: _Generation) -> None:
        """A chat request has had its answer (or was cut): it holds the slot no more."""
        with self._lock:
            self._generations.discard(generation)
            if self._slot is generation:
                self._slot = None


def _has_hung_up(connection: socket.socket) -> bool:
    """Whether the client closed its end of ``connection`` (it reads as at end, at once)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


_ENDPOINTS: tuple[Endpoint, ...] = (
    "chat",
    "models",
    "moderations",
    "props",
    "show",
    "lmstudio_models",
)


def _default_models(personality: Personality | None) -> tuple[str, ...]:
    if isinstance(personality, LlamaCpp):
        return (personality.model_path,)
    if isinstance(personality, Ollama | OpenRouter | LmStudio | Vllm):
        return tuple(personality.models)
    return DEFAULT_MODELS


def _default_endpoint(response: Scripted) -> Endpoint:
    if isinstance(response, ModelsReply):
        return "models"
    if isinstance(response, ModerationReply):
        return "moderations"
    return "chat"


def unused_loopback_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class _Handler(StubHandler):
    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self, body: Any) -> None:
        path = self.path.split("?", 1)[0]
        headers = {key.lower(): value for key, value in self.headers.items()}
        request = RecordedRequest(self.command, path, headers, body)
        self.fake._record(request)
        endpoint = _PATHS.get(path)
        if endpoint is None or not self.fake._serves(endpoint):
            self._not_found(path)
            return
        if not self._authorised(headers):
            return
        body = body if isinstance(body, dict) else {}
        if endpoint == "chat":
            generation = self.fake._begin(request, self.connection)
            try:
                self._chat(body, generation)
            finally:
                self.fake._finish(generation)
            return
        scripted = self.fake._next(endpoint)
        if isinstance(scripted, ErrorReply):
            self.fake._sleep(scripted.delay_s)
            self._send_error(scripted)
        elif endpoint == "models":
            ids = scripted.ids if isinstance(scripted, ModelsReply) else self.fake.models
            self._send_json(200, _models_body(ids, self.fake.personality))
        elif endpoint == "moderations":
            self._moderation(body, scripted)
        elif endpoint == "props":
            self._send_json(200, _props_body(self._llama_cpp, self.fake.context_limit))
        elif endpoint == "show":
            self._show(body)
        else:
            self._send_json(200, _lm_studio_models_body(self._lm_studio, self.fake.models))

    @property
    def _llama_cpp(self) -> LlamaCpp:
        personality = self.fake.personality
        assert isinstance(personality, LlamaCpp)
        return personality

    @property
    def _lm_studio(self) -> LmStudio:
        personality = self.fake.personality
        assert isinstance(personality, LmStudio)
        return personality

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        expected = self.fake.api_key
        if expected is None:
            return True
        given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if given == expected:
            return True
        error = ErrorReply.invalid_api_key(given)
        self._send_json(error.status, error.json_body())
        return False

    def _not_found(self, path: str) -> None:
        """404 as each server words it: FastAPI-like ``detail`` for llama.cpp (as measured),
        Go's plain text for Ollama, an OpenAI error otherwise."""
        personality = self.fake.personality
        if isinstance(personality, LlamaCpp | Vllm):
            self._send_json(404, {"detail": "Not Found"})
        elif isinstance(personality, Ollama):
            self._send_bytes(404, b"404 page not found", "text/plain")
        else:
            body = _error_body(f"Unknown path {path}.", "invalid_request_error", None)
            self._send_json(404, body)

    def _send_error(self, error: ErrorReply) -> None:
        detail_style = isinstance(self.fake.personality, LlamaCpp)
        payload, content_type = error.payload(detail_style=detail_style)
        self._send_bytes(error.status, payload, content_type, error.headers)

    # -- endpoints ---------------------------------------------------------------------------

    def _moderation(self, body: dict[str, Any], scripted: Scripted | None) -> None:
        if not self.fake.moderation_available:
            self._send_json(404, _error_body("Not found.", "invalid_request_error", None))
            return
        reply = scripted if isinstance(scripted, ModerationReply) else ModerationReply()
        all_categories = ("harassment", "hate", "self-harm", "sexual", "violence")
        result = {
            "flagged": reply.flagged,
            "categories": {name: name in reply.categories for name in all_categories},
            "category_scores": {
                name: 0.9 if name in reply.categories else 0.01 for name in all_categories
            },
        }
        self._send_json(
            200,
            {
                "id": "modr-fake",
                "model": body.get("model", "omni-moderation-latest"),
                "results": [result],
            },
        )

    def _show(self, body: dict[str, Any]) -> None:
        personality = self.fake.personality
        assert isinstance(personality, Ollama)
        model = str(body.get("model") or body.get("name") or "")
        if model not in personality.models:
            self._send_json(404, {"error": f"model '{model}' not found"})
            return
        self._send_json(200, _show_body(personality, model))

    def _chat(self, body: dict[str, Any], generation: _Generation) -> None:
        fake = self.fake
        is_streamed = bool(body.get("stream"))
        limit = fake.context_limit
        if limit is not None and (used := count_prompt_tokens(body.get("messages"))) > limit:
            # Before the script: a scripted reply waits for a request that fits.
            self._context_exceeded(is_streamed, used, limit)
            return
        scripted = fake._next("chat")
        if isinstance(scripted, ErrorReply):
            if not self._pause(scripted.delay_s, generation):
                self._send_error(scripted)
            return
        if isinstance(scripted, EmptyStream):
            self._send_empty(is_streamed)
            return
        reply = scripted if isinstance(scripted, Reply) else Reply()
        model = reply.model or str(body.get("model", "fake-model"))
        text = reply.text if reply.text is not None else _echo(body.get("messages"))
        finish_reason = reply.finish_reason
        if fake.cuts_at_max_tokens and finish_reason is not None:
            text, is_cut = cut_to_words(text, body.get("max_tokens"))
            finish_reason = "length" if is_cut else finish_reason
        prompt_tokens, completion_tokens = _usage_counts(reply, body.get("messages"), text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not is_streamed:
            if not self._pause(reply.delay_s, generation):
                fake._finish(generation)
                self._send_json(200, _completion_body(model, text, finish_reason, usage))
            return
        options = body.get("stream_options") or {}
        wants_usage = bool(options.get("include_usage")) and bool(reply.usage)
        wants_usage = wants_usage and fake.streams_usage
        self._stream(reply, model, text, finish_reason, usage if wants_usage else None, generation)

    def _context_exceeded(self, is_streamed: bool, used: int, limit: int) -> None:
        if not isinstance(self.fake.personality, LlamaCpp):
            message = (
                f"This model's maximum context length is {limit} tokens. However, your "
                f"messages resulted in {used} tokens. Please reduce the length of the messages."
            )
            body = _error_body(message, "invalid_request_error", "context_length_exceeded")
            self._send_json(400, body)
        elif is_streamed:
            self._send_empty(is_streamed=True)
        else:
            self._send_json(400, _llama_cpp_context_error(used, limit))

    def _pause(self, seconds: float, generation: _Generation) -> bool:
        """Wait ``seconds``; True (and the connection cut) if the request was cut meanwhile."""
        if seconds > 0:
            generation.cut.wait(seconds)
        if generation.cut.is_set():
            self._drop()
            return True
        return False

    def _stream(
        self,
        reply: Reply,
        model: str,
        text: str,
        finish_reason: str | None,
        usage: dict[str, int] | None,
        generation: _Generation,
    ) -> None:
        self._begin_event_stream()
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }

        try:
            if self._pause(reply.delay_s, generation):
                return
            self._event(chunk({"role": "assistant", "content": ""}, None))
            size = max(1, reply.chunk_size)
            for sent, start in enumerate(range(0, len(text), size)):
                if reply.drop_after_chunks is not None and sent >= reply.drop_after_chunks:
                    self._drop()
                    return
                if self._pause(reply.delay_s, generation):
                    return
                self._event(chunk({"content": text[start : start + size]}, None))
            if reply.drop_after_chunks is not None:
                self._drop()
                return
            if finish_reason is not None:
                self._event(chunk({}, finish_reason))
            if usage is not None:
                self._event({**chunk({}, None), "choices": [], "usage": usage})
            # The reply is complete: a request arriving from now on overlaps nothing (the
            # client cannot have seen the end before the final marker below).
            self.fake._finish(generation)
            if not reply.omit_done:
                self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except OSError:
            # The client went away (a cancelled stream): nothing left to tell it.
            self.close_connection = True

    def _send_empty(self, is_streamed: bool) -> None:
        """HTTP 200 and no body at all (an event stream with no event, when streamed)."""
        content_type = "text/event-stream; charset=utf-8" if is_streamed else "application/json"
        self._send_bytes(200, b"", content_type)

    def _event(self, data: Mapping[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(data).encode() + b"\n\n")


def _echo(messages: Any) -> str:
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return f"Echo: {message.get('content', '')}"
    return "Hello! How can I help?"


def _usage_counts(reply: Reply, messages: Any, text: str) -> tuple[int, int]:
    if isinstance(reply.usage, tuple):
        return reply.usage
    prompt_chars = sum(len(str(message.get("content", ""))) for message in messages or [])
    return prompt_chars // 4 + 1, len(text) // 4 + 1


def _models_body(ids: Iterable[str], personality: Personality | None) -> dict[str, Any]:
    created = 1_700_000_000
    if isinstance(personality, LlamaCpp):
        meta = {"vocab_type": 2, "n_vocab": 49_152, "n_ctx_train": personality.n_ctx_train}
        data = [
            {
                "id": model,
                "object": "model",
                "created": created,
                "owned_by": "llamacpp",
                "meta": meta,
            }
            for model in ids
        ]
    elif isinstance(personality, Vllm):
        data = [
            {
                "id": model,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "max_model_len": personality.models.get(model),
            }
            for model in ids
        ]
    elif isinstance(personality, OpenRouter):
        data = [
            {
                "id": model,
                "name": model,
                "created": created,
                **_listed_length(personality.models.get(model)),
            }
            for model in ids
        ]
    else:
        data = [
            {"id": model, "object": "model", "created": created, "owned_by": "system"}
            for model in ids
        ]
    return {"object": "list", "data": data}


def _listed_length(length: int | None) -> dict[str, Any]:
    return {} if length is None else {"context_length": length}


def _props_body(personality: LlamaCpp, n_ctx: int | None) -> dict[str, Any]:
    return {
        "default_generation_settings": {"n_ctx": n_ctx or personality.n_ctx, "params": {}},
        "total_slots": 1 if personality.single_slot else 4,
        "model_path": personality.model_path,
    }


def _llama_cpp_context_error(used: int, limit: int) -> dict[str, Any]:
    return {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size, try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": used,
            "n_ctx": limit,
        }
    }


def _show_body(personality: Ollama, model: str) -> dict[str, Any]:
    architecture = personality.architecture
    parameters = 'stop                           "<|eot_id|>"'
    if model in personality.num_ctx:
        parameters = f"num_ctx                        {personality.num_ctx[model]}\n{parameters}"
    return {
        "modelfile": f"FROM {model}",
        "parameters": parameters,
        "details": {"family": architecture, "format": "gguf"},
        "model_info": {
            "general.architecture": architecture,
            f"{architecture}.context_length": personality.models[model],
            f"{architecture}.embedding_length": 3072,
        },
    }


def _lm_studio_models_body(personality: LmStudio, ids: Iterable[str]) -> dict[str, Any]:
    data = []
    for model in ids:
        entry: dict[str, Any] = {
            "id": model,
            "object": "model",
            "type": "llm",
            "state": "loaded" if model in personality.loaded else "not-loaded",
        }
        if model in personality.models:
            entry["max_context_length"] = personality.models[model]
        if model in personality.loaded:
            entry["loaded_context_length"] = personality.loaded[model]
        data.append(entry)
    return {"object": "list", "data": data}


def _completion_body(
    model: str, text: str, finish_reason: str | None, usage: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason or "stop",
            }
        ],
        "usage": usage,
    }
