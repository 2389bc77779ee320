"""A real OpenAI-compatible HTTP server on 127.0.0.1, scriptable per test (and per benchmark).

It speaks HTTP/1.1 with chunked Server-Sent Events for streamed chat completions, plain JSON
for everything else, and records every request. Each endpoint has a queue of scripted
responses; when the queue is empty a default answers (the chat default echoes the last user
message). No pytest here: ``bench/`` scripts import it too.

    with FakeOpenAIServer() as server:
        server.script(Reply(text="Hello!", chunk_size=2))
        server.script(ErrorReply.rate_limited(retry_after_s=1))  # the next request after that
        ... use server.base_url ...
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes.http_stub import StubHandler, StubRequest, StubServer

Endpoint = Literal["chat", "models", "moderations"]

_PATHS: dict[str, Endpoint] = {
    "/v1/chat/completions": "chat",
    "/v1/models": "models",
    "/v1/moderations": "moderations",
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
class ErrorReply:
    """An HTTP error with an OpenAI-style JSON body (or the body given)."""

    status: int
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def json_body(self) -> Mapping[str, Any]:
        """The body to send: the scripted one, or a generic OpenAI error for the status."""
        if self.body is not None:
            return self.body
        return _error_body(f"Scripted error {self.status}.", "server_error", None)

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
        body = _error_body(
            "Rate limit reached for requests. Please try again shortly.",
            "requests",
            "rate_limit_exceeded",
        )
        return cls(429, body, headers)

    @classmethod
    def insufficient_quota(cls) -> ErrorReply:
        """429 ``insufficient_quota``: retrying cannot help."""
        body = _error_body(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        )
        return cls(429, body)

    @classmethod
    def context_length_exceeded(cls) -> ErrorReply:
        """400 ``context_length_exceeded``."""
        body = _error_body(
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9000 tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
        )
        return cls(400, body)

    @classmethod
    def model_not_found(cls, model: str) -> ErrorReply:
        """404 ``model_not_found``."""
        body = _error_body(
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )
        return cls(404, body)

    @classmethod
    def stream_options_rejected(cls) -> ErrorReply:
        """400 as some compatible servers answer a request carrying ``stream_options``."""
        body = _error_body(
            "Unrecognized request argument supplied: stream_options",
            "invalid_request_error",
            None,
        )
        return cls(400, body)


@dataclass(frozen=True)
class ModelsReply:
    """A ``GET /v1/models`` answer listing these ids."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class ModerationReply:
    """A ``POST /v1/moderations`` answer."""

    flagged: bool = False
    categories: tuple[str, ...] = ()


Scripted = Reply | ErrorReply | ModelsReply | ModerationReply


class RecordedRequest(StubRequest):
    """One request the server received; ``headers`` keys are lower-case."""

    @property
    def endpoint(self) -> Endpoint | None:
        """Which API endpoint the request was for, if any."""
        return _PATHS.get(self.path)


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeOpenAIServer(StubServer[Endpoint, RecordedRequest, Scripted]):
    """An OpenAI-compatible loopback server running in a background thread."""

    def __init__(self, *, api_key: str | None = None) -> None:
        endpoints: tuple[Endpoint, ...] = ("chat", "models", "moderations")
        super().__init__(_Handler, thread_name="fake-openai-server", endpoints=endpoints)
        # With api_key set, requests with another bearer token get OpenAI's 401.
        self.api_key = api_key
        self.models: tuple[str, ...] = DEFAULT_MODELS
        self.moderation_available = True

    @property
    def base_url(self) -> str:
        """The base URL to give an OpenAI client (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and records ---------------------------------------------------------------

    def script(self, *responses: Scripted, endpoint: Endpoint | None = None) -> None:
        """Queue responses for the next requests to an endpoint.

        Without ``endpoint``: ``ModelsReply`` goes to models, ``ModerationReply`` to
        moderations, everything else to chat.
        """
        with self._lock:
            for response in responses:
                self._queues[endpoint or _default_endpoint(response)].append(response)

    def pending(self, endpoint: Endpoint = "chat") -> int:
        """How many scripted responses are still queued for an endpoint."""
        with self._lock:
            return len(self._queues[endpoint])


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
        self.fake._record(RecordedRequest(self.command, path, headers, body))
        endpoint = _PATHS.get(path)
        if endpoint is None:
            self._send_json(
                404, _error_body(f"Unknown path {path}.", "invalid_request_error", None)
            )
            return
        if not self._authorised(headers):
            return
        scripted = self.fake._next(endpoint)
        if isinstance(scripted, ErrorReply):
            self.fake._sleep(scripted.delay_s)
            self._send_json(scripted.status, scripted.json_body(), scripted.headers)
        elif endpoint == "chat":
            self._chat(body if isinstance(body, dict) else {}, scripted)
        elif endpoint == "models":
            ids = scripted.ids if isinstance(scripted, ModelsReply) else self.fake.models
            self._send_json(200, _models_body(ids))
        else:
            self._moderation(body if isinstance(body, dict) else {}, scripted)

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

    def _chat(self, body: dict[str, Any], scripted: Scripted | None) -> None:
        reply = scripted if isinstance(scripted, Reply) else Reply()
        model = reply.model or str(body.get("model", "fake-model"))
        text = reply.text if reply.text is not None else _echo(body.get("messages"))
        prompt_tokens, completion_tokens = _usage_counts(reply, body.get("messages"), text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not body.get("stream"):
            self.fake._sleep(reply.delay_s)
            self._send_json(200, _completion_body(model, text, reply.finish_reason, usage))
            return
        options = body.get("stream_options") or {}
        wants_usage = bool(options.get("include_usage")) and bool(reply.usage)
        self._stream(reply, model, text, usage if wants_usage else None)

    def _stream(self, reply: Reply, model: str, text: str, usage: dict[str, int] | None) -> None:
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
            self.fake._sleep(reply.delay_s)
            self._event(chunk({"role": "assistant", "content": ""}, None))
            size = max(1, reply.chunk_size)
            for sent, start in enumerate(range(0, len(text), size)):
                if reply.drop_after_chunks is not None and sent >= reply.drop_after_chunks:
                    self._drop()
                    return
                self.fake._sleep(reply.delay_s)
                self._event(chunk({"content": text[start : start + size]}, None))
            if reply.drop_after_chunks is not None:
                self._drop()
                return
            if reply.finish_reason is not None:
                self._event(chunk({}, reply.finish_reason))
            if usage is not None:
                self._event({**chunk({}, None), "choices": [], "usage": usage})
            if not reply.omit_done:
                self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except OSError:
            # The client went away (a cancelled stream): nothing left to tell it.
            self.close_connection = True

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


def _models_body(ids: Iterable[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
            for model in ids
        ],
    }


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
