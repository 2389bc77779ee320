"""A real HTTP server on 127.0.0.1 speaking Anthropic's Messages API, scriptable per test.

``POST /v1/messages`` answers with named Server-Sent Events when the request asks for a
stream (``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``) and with one JSON message
otherwise; ``GET /v1/models`` lists models a page at a time. Requests are checked the way
the API checks them where that catches a client's mistakes: the key (``x-api-key``), the
``anthropic-version`` header, ``max_tokens``, a first message from the user, and sampling
parameters that API version 2026-10-21 no longer takes. Each endpoint has a queue of
scripted responses; when it is empty a default answers (the reply echoes the last user
message). No pytest here.

    with FakeAnthropicServer(api_key="sk-ant-test") as server:
        server.script(MessageReply(text="Hello!", chunk_size=2))
        server.script(AnthropicErrorReply.overloaded())  # the request after that
        ... use server.base_url ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_stub import StubHandler, StubRequest, StubServer

AnthropicEndpoint = Literal["messages", "models"]

_PATHS: dict[str, AnthropicEndpoint] = {"/v1/messages": "messages", "/v1/models": "models"}

# Newest first, as Anthropic lists them; the context window each reports.
DEFAULT_ANTHROPIC_MODELS: dict[str, int] = {
    "claude-opus-5-5": 1_000_000,
    "claude-sonnet-5-5": 1_000_000,
    "claude-haiku-5-5": 200_000,
    "claude-sonnet-4-6": 200_000,
    "claude-haiku-4-5": 200_000,
}

# The API version that refuses sampling parameters (temperature, top_p, top_k), even at their
# defaults; anthropic 2.x sends it unless told otherwise.
STRICT_API_VERSION = "2026-10-21"
_SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")
# Anthropic's API answers 404 for a page size it does not serve; this stand-in caps it.
_MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class MessageReply:
    """A successful message, streamed when the request asks for a stream.

    ``text`` None echoes the last user message. ``delay_s`` is slept before every event that
    carries text (and before the first). ``usage`` gives (input, output) tokens; None counts
    roughly. ``stop_reason`` None leaves out ``message_delta`` (a stream that never says why
    it stopped). ``drop_after_chunks`` closes the socket after that many text chunks.
    ``omit_message_stop`` leaves out the final ``message_stop``. ``error`` sends that error as
    an ``error`` event after ``error_after_chunks`` text chunks, and ends the stream there.
    """

    text: str | None = None
    chunk_size: int = 8
    delay_s: float = 0.0
    usage: tuple[int, int] | None = None
    stop_reason: str | None = "end_turn"
    drop_after_chunks: int | None = None
    omit_message_stop: bool = False
    error: AnthropicErrorReply | None = None
    error_after_chunks: int = 0
    model: str | None = None


@dataclass(frozen=True)
class AnthropicErrorReply:
    """An HTTP error with Anthropic's error body (``{"type": "error", "error": {...}}``)."""

    status: int
    error_type: str = "api_error"
    message: str = "Internal server error"
    headers: Mapping[str, str] = field(default_factory=dict)

    def json_body(self) -> dict[str, Any]:
        """The body Anthropic sends for this error."""
        return _error_body(self.error_type, self.message)

    @classmethod
    def invalid_api_key(cls) -> AnthropicErrorReply:
        """401, as Anthropic answers a key it does not know."""
        return cls(401, "authentication_error", "invalid x-api-key")

    @classmethod
    def rate_limited(cls, retry_after_s: float | None = None) -> AnthropicErrorReply:
        """429 ``rate_limit_error``, with ``retry-after`` (whole seconds, as Anthropic sends)."""
        headers = {} if retry_after_s is None else {"retry-after": f"{retry_after_s:g}"}
        message = (
            "This request would exceed the rate limit for your organization of 50 requests "
            "per minute. Please reduce the prompt length or the maximum tokens requested, "
            "or try again later."
        )
        return cls(429, "rate_limit_error", message, headers)

    @classmethod
    def overloaded(cls) -> AnthropicErrorReply:
        """529 ``overloaded_error``: Anthropic's servers are busy for everyone."""
        return cls(529, "overloaded_error", "Overloaded")

    @classmethod
    def prompt_too_long(cls, tokens: int, maximum: int) -> AnthropicErrorReply:
        """400, the conversation does not fit the model's context window."""
        message = f"prompt is too long: {tokens} tokens > {maximum} maximum"
        return cls(400, "invalid_request_error", message)

    @classmethod
    def model_not_found(cls, model: str) -> AnthropicErrorReply:
        """404 ``not_found_error`` naming the model."""
        return cls(404, "not_found_error", f"model: {model}")

    @classmethod
    def credit_too_low(cls) -> AnthropicErrorReply:
        """400, the account has no credit left."""
        message = (
            "Your credit balance is too low to access the Anthropic API. Please go to Plans "
            "& Billing to upgrade or purchase credits."
        )
        return cls(400, "invalid_request_error", message)


@dataclass(frozen=True)
class AnthropicModelsReply:
    """A ``GET /v1/models`` answer listing these ids (newest first), paged as asked."""

    ids: tuple[str, ...]


Scripted = MessageReply | AnthropicErrorReply | AnthropicModelsReply


@dataclass(frozen=True)
class AnthropicRequest(StubRequest):
    """One request the server received; ``headers`` keys are lower-case, ``query`` holds the
    first value of each query parameter."""

    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> AnthropicEndpoint | None:
        """Which API endpoint the request was for, if any."""
        return _PATHS.get(self.path)


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": "req_fake",
    }


class FakeAnthropicServer(StubServer[AnthropicEndpoint, AnthropicRequest, Scripted]):
    """An Anthropic Messages API loopback server running in a background thread."""

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__(_Handler, thread_name="fake-anthropic-server", endpoints=_PATHS.values())
        # With api_key set, requests sending another key get Anthropic's 401.
        self.api_key = api_key
        self.models: dict[str, int] = dict(DEFAULT_ANTHROPIC_MODELS)
        # The largest page of models the server gives, whatever the client asks for.
        self.page_size_cap = _MAX_PAGE_SIZE

    @property
    def base_url(self) -> str:
        """The base URL to give an Anthropic client (no ``/v1``: the SDK adds it)."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting and records ---------------------------------------------------------------

    def script(self, *responses: Scripted, endpoint: AnthropicEndpoint | None = None) -> None:
        """Queue responses for the next requests to an endpoint.

        Without ``endpoint``: ``AnthropicModelsReply`` goes to models, everything else to messages.
        """
        with self._lock:
            for response in responses:
                default = "models" if isinstance(response, AnthropicModelsReply) else "messages"
                self._queues[endpoint or default].append(response)


class _Handler(StubHandler):
    @property
    def fake(self) -> FakeAnthropicServer:
        return self.server.fake

    def _dispatch(self, body: Any) -> None:
        url = urlsplit(self.path)
        headers = {key.lower(): value for key, value in self.headers.items()}
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.fake._record(AnthropicRequest(self.command, url.path, headers, body, query))
        endpoint = _PATHS.get(url.path)
        if endpoint is None:
            self._send_error(AnthropicErrorReply(404, "not_found_error", "Not found"))
            return
        refusal = self._refusal(headers)
        if refusal is not None:
            self._send_error(refusal)
            return
        scripted = self.fake._next(endpoint)
        if isinstance(scripted, AnthropicErrorReply):
            self._send_error(scripted)
        elif endpoint == "models":
            ids = (
                scripted.ids
                if isinstance(scripted, AnthropicModelsReply)
                else tuple(self.fake.models)
            )
            self._models(ids, query)
        else:
            request = body if isinstance(body, dict) else {}
            problem = _request_problem(request, headers)
            if problem is not None:
                self._send_error(AnthropicErrorReply(400, "invalid_request_error", problem))
                return
            reply = scripted if isinstance(scripted, MessageReply) else MessageReply()
            self._message(request, reply)

    def _refusal(self, headers: Mapping[str, str]) -> AnthropicErrorReply | None:
        expected = self.fake.api_key
        # The API reads x-api-key first; a key sent as a bearer token counts where it is absent.
        given = headers.get("x-api-key")
        if given is None:
            given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if expected is not None and given != expected:
            return AnthropicErrorReply.invalid_api_key()
        if not headers.get("anthropic-version"):
            return AnthropicErrorReply(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        return None

    def _send_error(self, error: AnthropicErrorReply) -> None:
        headers = {"request-id": "req_fake", **error.headers}
        self._send_json(error.status, error.json_body(), headers)

    # -- endpoints ---------------------------------------------------------------------------

    def _models(self, ids: tuple[str, ...], query: Mapping[str, str]) -> None:
        limit = min(int(query.get("limit", "20")), self.fake.page_size_cap)
        start = ids.index(query["after_id"]) + 1 if query.get("after_id") in ids else 0
        page = ids[start : start + limit]
        self._send_json(
            200,
            {
                "data": [self._model_info(model) for model in page],
                "has_more": start + limit < len(ids),
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            },
        )

    def _model_info(self, model: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "type": "model",
            "id": model,
            "display_name": model.replace("-", " ").title(),
            "created_at": "2026-01-01T00:00:00Z",
            "lifecycle": "active",
        }
        if model in self.fake.models:
            info["max_input_tokens"] = self.fake.models[model]
        return info

    def _message(self, request: dict[str, Any], reply: MessageReply) -> None:
        model = reply.model or str(request.get("model", "claude-fake"))
        text = reply.text if reply.text is not None else _echo(request.get("messages"))
        input_tokens, output_tokens = reply.usage or _rough_usage(request, text)
        if not request.get("stream"):
            self.fake._sleep(reply.delay_s)
            body = {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": reply.stop_reason,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            }
            self._send_json(200, body)
            return
        try:
            self._stream(reply, model, text, (input_tokens, output_tokens))
        except OSError:
            # The client went away (a cancelled stream): nothing left to tell it.
            self.close_connection = True

    def _stream(self, reply: MessageReply, model: str, text: str, usage: tuple[int, int]) -> None:
        self._begin_event_stream()
        self.fake._sleep(reply.delay_s)
        self._event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage[0], "output_tokens": 1},
                },
            },
        )
        block = {"type": "content_block_start", "index": 0}
        self._event("content_block_start", {**block, "content_block": {"type": "text", "text": ""}})
        self._event("ping", {"type": "ping"})
        size = max(1, reply.chunk_size)
        for sent, start in enumerate(range(0, len(text), size)):
            if self._ends_here(reply, sent):
                return
            self.fake._sleep(reply.delay_s)
            delta = {"type": "text_delta", "text": text[start : start + size]}
            self._event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        if self._ends_here(reply, None):
            return
        self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
        if reply.stop_reason is not None:
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": usage[1]},
                },
            )
            if not reply.omit_message_stop:
                self._event("message_stop", {"type": "message_stop"})
        self._write_chunk(b"")

    def _ends_here(self, reply: MessageReply, chunks_sent: int | None) -> bool:
        """Whether the scripted cut or error event comes after ``chunks_sent`` text chunks
        (None: all of them); it is sent if so."""
        sent_all = chunks_sent is None
        if reply.drop_after_chunks is not None and (
            sent_all or chunks_sent >= reply.drop_after_chunks
        ):
            self._drop()
            return True
        if reply.error is not None and (sent_all or chunks_sent >= reply.error_after_chunks):
            self._event("error", reply.error.json_body())
            self._write_chunk(b"")
            return True
        return False

    def _event(self, name: str, data: Mapping[str, Any]) -> None:
        self._write_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())


def _request_problem(request: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """What Anthropic would refuse in a Messages request, in its words; None if nothing."""
    if not isinstance(request.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return f'messages.{index}.role: Input should be "user" or "assistant"'
        if not str(message.get("content") or "").strip():
            return f"messages.{index}: all messages must have non-empty content"
    if messages[0]["role"] != "user":
        return 'messages: first message must use the "user" role'
    if headers.get("anthropic-version") == STRICT_API_VERSION:
        for name in _SAMPLING_PARAMETERS:
            if name in request:
                return f"{name}: Extra inputs are not permitted"
    elif "temperature" in request and "top_p" in request:
        return "`temperature` and `top_p` cannot both be specified for this model."
    return None


def _echo(messages: Any) -> str:
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return f"Echo: {message.get('content', '')}"
    return "Hello! How can I help?"


def _rough_usage(request: Mapping[str, Any], text: str) -> tuple[int, int]:
    messages = request.get("messages") or []
    read = len(str(request.get("system", ""))) + sum(
        len(str(message.get("content", ""))) for message in messages
    )
    return read // 4 + 1, len(text) // 4 + 1
