"""What every ``LlmClient`` does, whichever provider it speaks to: each test runs once for
``OpenAIClient`` against the OpenAI-compatible loopback server and once for ``AnthropicClient``
against the Messages API one, both with their real SDKs.

What one client alone does is in test_llm.py, test_llm_local_servers.py and
test_anthropic_client.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.anthropic_client import FALLBACK_MODELS, AnthropicClient
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
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import (
    LlmClient,
    LlmSettings,
    ModelList,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from gptlab_desktop.services.model_catalog import ranked_model_ids
from gptlab_desktop.services.sdk_client import SdkLlmClient
from tests.fakes import (
    AnthropicErrorReply,
    ErrorReply,
    MessageReply,
    Reply,
    unused_loopback_url,
)
from tests.fakes.http_stub import StubRequest
from tests.services.llm_helpers import (
    ANTHROPIC_KEY,
    LONG_TEXT,
    OPENAI_KEY,
    TURNS,
    ReplyReader,
    notices_in,
    quick_settings,
    text_of,
)

CLAUDE = "claude-sonnet-4-6"


class StandIn:
    """A provider's client against its loopback stand-in, in the words the tests below speak.

    ``reply`` and ``errors`` script its server (``Reply`` or ``MessageReply``, ``ErrorReply``
    or ``AnthropicErrorReply``: they share the options used here); the mappings are the
    options that make a reply stop at the length limit, end without saying why, or say why
    but leave out the stream's final marker.
    """

    server_fixture: ClassVar[str]
    client_class: ClassVar[type[SdkLlmClient[Any]]]
    key: ClassVar[str]
    config: ClassVar[ModelConfig]
    reply: ClassVar[Callable[..., object]]
    errors: ClassVar[Any]
    retried_error: ClassVar[Any]
    at_length: ClassVar[Mapping[str, object]]
    without_end: ClassVar[Mapping[str, object]]
    without_final_marker: ClassVar[Mapping[str, object]]
    refusal_words: ClassVar[str]

    def __init__(self, server: Any) -> None:
        self.server = server
        self.collect = ReplyReader(TURNS, self.config)

    def client(self, **settings: Any) -> LlmClient:
        """A client of the stand-in sending ``key``, with short timeouts."""
        return self.client_class(quick_settings(self.server.base_url, self.key, **settings))

    def script(self, *responses: object) -> None:
        """Queue responses for the next reply requests."""
        self.server.script(*responses)

    def sent_key(self, request: StubRequest) -> str:
        """The key a request sent."""
        raise NotImplementedError

    def key_fragments(self) -> list[str]:
        """Parts of ``key`` that would give it away."""
        raise NotImplementedError

    def unreachable_url(self) -> str:
        """A server address where nothing listens."""
        return unused_loopback_url()

    def fallback_models(self) -> tuple[str, ...]:
        """The built-in model list the client offers when the server cannot be asked."""
        raise NotImplementedError


class OpenAIStandIn(StandIn):
    """``OpenAIClient`` against the OpenAI-compatible loopback server."""

    server_fixture = "openai_server"
    client_class = OpenAIClient
    key = OPENAI_KEY
    config = ModelConfig(model="gpt-4o-mini", max_tokens=300, temperature=0.5)
    reply = Reply
    errors = ErrorReply
    retried_error = ErrorReply(502)
    at_length: ClassVar[Mapping[str, object]] = {"finish_reason": "length"}
    without_end: ClassVar[Mapping[str, object]] = {"finish_reason": None, "omit_done": True}
    without_final_marker: ClassVar[Mapping[str, object]] = {"omit_done": True}
    refusal_words = "The AI service did not accept"

    def sent_key(self, request: StubRequest) -> str:
        return request.headers["authorization"].removeprefix("Bearer ")

    def key_fragments(self) -> list[str]:
        # OpenAI echoes the key's first and last characters; neither may surface anywhere.
        key = self.key
        return [key, key[:12], key[6:20], key[-10:], key[-4:], f"{key[:6]}********"]

    def fallback_models(self) -> tuple[str, ...]:
        return ranked_model_ids()


class AnthropicStandIn(StandIn):
    """``AnthropicClient`` against the Messages API loopback server."""

    server_fixture = "anthropic_server"
    client_class = AnthropicClient
    key = ANTHROPIC_KEY
    config = ModelConfig(model=CLAUDE, max_tokens=300, temperature=0.5)
    reply = MessageReply
    errors = AnthropicErrorReply
    # Anthropic's own server error, "overloaded" (529), is retried as a 5xx is.
    retried_error = AnthropicErrorReply.overloaded()
    at_length: ClassVar[Mapping[str, object]] = {"stop_reason": "max_tokens"}
    without_end: ClassVar[Mapping[str, object]] = {"stop_reason": None}
    without_final_marker: ClassVar[Mapping[str, object]] = {"omit_message_stop": True}
    refusal_words = "Anthropic did not accept"

    def sent_key(self, request: StubRequest) -> str:
        return request.headers["x-api-key"]

    def key_fragments(self) -> list[str]:
        key = self.key
        return [key, key[:14], key[7:24], key[-10:], f"{key[:10]}***"]

    def unreachable_url(self) -> str:
        # The client sends to the server's root (the requests name /v1), as its messages say.
        return super().unreachable_url().removesuffix("/v1")

    def fallback_models(self) -> tuple[str, ...]:
        return FALLBACK_MODELS


STAND_INS: dict[str, type[StandIn]] = {"openai": OpenAIStandIn, "anthropic": AnthropicStandIn}


@pytest.fixture(params=list(STAND_INS))
def stand_in(request: pytest.FixtureRequest) -> StandIn:
    """Each provider's client and running stand-in in turn; the server checks the key."""
    kind = STAND_INS[request.param]
    stand = kind(request.getfixturevalue(kind.server_fixture))
    stand.server.api_key = stand.key
    return stand


def on_each(provider: str, cases: Mapping[str, tuple[object, ...]]) -> list[Any]:
    """The parameters of a test run on ``provider``'s stand-in once per case (named)."""
    return [pytest.param(provider, *case, id=f"{provider}-{name}") for name, case in cases.items()]


@pytest_asyncio.fixture
async def client(stand_in: StandIn) -> AsyncIterator[LlmClient]:
    """A client of the stand-in, closed after the test."""
    async with contextlib.aclosing(stand_in.client()) as llm:
        yield llm


# -- streaming -----------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
async def test_streamed_text_arrives_whole_and_in_order(
    client: LlmClient, stand_in: StandIn, chunk_size: int
) -> None:
    stand_in.script(stand_in.reply(text=LONG_TEXT, chunk_size=chunk_size))
    events = await stand_in.collect(client)
    assert text_of(events) == LONG_TEXT
    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert len(deltas) == -(-len(LONG_TEXT) // chunk_size)


@pytest.mark.asyncio
async def test_stream_ends_with_the_finish_reason_usage_and_model(
    client: LlmClient, stand_in: StandIn
) -> None:
    served = f"{stand_in.config.model}-x"
    stand_in.script(stand_in.reply(text="Hi!", usage=(12, 3), model=served, **stand_in.at_length))
    events = await stand_in.collect(client)
    assert events[-1] == StreamEnd(finish_reason="length", usage=Usage(12, 3, 15), model=served)
    assert all(isinstance(event, TextDelta) for event in events[:-1])


@pytest.mark.asyncio
async def test_complete_returns_the_whole_reply(client: LlmClient, stand_in: StandIn) -> None:
    stand_in.script(stand_in.reply(text="A short title", chunk_size=3))
    assert await client.complete(TURNS, stand_in.config) == "A short title"


@pytest.mark.asyncio
async def test_leaving_a_stream_early_leaves_the_client_usable(
    client: LlmClient, stand_in: StandIn
) -> None:
    stand_in.script(stand_in.reply(text=LONG_TEXT, chunk_size=5, delay_s=0.01))
    stream = client.stream_chat(TURNS, stand_in.config)
    async for _event in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    stand_in.script(stand_in.reply(text="Still here."))
    assert text_of(await stand_in.collect(client)) == "Still here."


# -- interrupted streams -------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(
            lambda stand_in: stand_in.reply(text="abcdefghij", chunk_size=2, drop_after_chunks=3),
            id="dropped",
        ),
        pytest.param(
            lambda stand_in: stand_in.reply(text="abcdef", chunk_size=2, **stand_in.without_end),
            id="ended-without-saying-why-it-stopped",
        ),
    ],
)
async def test_a_cut_stream_yields_the_partial_text_then_raises_connection_lost(
    client: LlmClient, stand_in: StandIn, cut: Callable[[StandIn], object]
) -> None:
    stand_in.script(cut(stand_in))
    received: list[str] = []
    with pytest.raises(ConnectionLost):
        async for event in client.stream_chat(TURNS, stand_in.config):
            assert isinstance(event, TextDelta), "an interrupted reply never reports an end"
            received.append(event.text)
    assert "".join(received) == "abcdef"
    assert len(stand_in.server.requests) == 1, "text arrived: no retry"


@pytest.mark.asyncio
async def test_a_stream_saying_why_it_stopped_but_not_that_it_ended_is_complete(
    client: LlmClient, stand_in: StandIn
) -> None:
    options = {**stand_in.at_length, **stand_in.without_final_marker}
    stand_in.script(stand_in.reply(text="abc", **options))
    events = await stand_in.collect(client)
    assert text_of(events) == "abc"
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].finish_reason == "length"


@pytest.mark.asyncio
async def test_unreachable_server_raises_server_unreachable_quickly(stand_in: StandIn) -> None:
    url = stand_in.unreachable_url()
    llm = stand_in.client_class(LlmSettings(base_url=url, api_key=stand_in.key))
    started = time.monotonic()
    with pytest.raises(ServerUnreachable) as caught:
        await stand_in.collect(llm)
    assert time.monotonic() - started < 3
    assert url in str(caught.value)
    await llm.aclose()


@pytest.mark.asyncio
async def test_server_silent_beyond_the_timeout_raises_llm_timeout(stand_in: StandIn) -> None:
    llm = stand_in.client(timeout_s=0.3)
    stand_in.script(stand_in.reply(text="late", delay_s=3))
    started = time.monotonic()
    with pytest.raises(LlmTimeout) as caught:
        await stand_in.collect(llm)
    assert time.monotonic() - started < 2
    assert "0.3 s" in str(caught.value)
    await llm.aclose()


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("stand_in", "reply", "error_type"),
    [
        *on_each(
            "openai",
            {
                "401": (ErrorReply.invalid_api_key(OPENAI_KEY), InvalidApiKey),
                "403": (ErrorReply(403), ModelNotAvailable),
                "404": (ErrorReply.model_not_found("gpt-4o-mini"), ModelNotAvailable),
                "quota": (ErrorReply.insufficient_quota(), QuotaExhausted),
                "too-long": (ErrorReply.context_length_exceeded(), ContextTooLong),
                "500": (ErrorReply(500), ServerError),
                "503": (ErrorReply(503), ServerError),
                "422": (ErrorReply(422), RequestRejected),
            },
        ),
        *on_each(
            "anthropic",
            {
                "401": (AnthropicErrorReply.invalid_api_key(), InvalidApiKey),
                "429": (AnthropicErrorReply.rate_limited(retry_after_s=2), RateLimited),
                "529": (AnthropicErrorReply.overloaded(), ServerError),
                "500": (AnthropicErrorReply(500), ServerError),
                "502": (AnthropicErrorReply(502), ServerError),
                "503": (AnthropicErrorReply(503), ServerError),
                "too-long": (AnthropicErrorReply.prompt_too_long(210_000, 200_000), ContextTooLong),
                "404": (AnthropicErrorReply.model_not_found(CLAUDE), ModelNotAvailable),
                "403": (
                    AnthropicErrorReply(
                        403, "permission_error", "This key may not use this workspace."
                    ),
                    RequestRejected,
                ),
                "413": (
                    AnthropicErrorReply(
                        413, "request_too_large", "Request exceeds the maximum size"
                    ),
                    RequestRejected,
                ),
            },
        ),
    ],
    indirect=["stand_in"],
)
async def test_an_error_answer_maps_to_its_typed_error(
    stand_in: StandIn, reply: Any, error_type: type[LlmError]
) -> None:
    llm = stand_in.client(max_retries=0)
    stand_in.script(reply)
    with pytest.raises(error_type) as caught:
        await stand_in.collect(llm)
    assert type(caught.value) is error_type
    assert caught.value.status == reply.status
    assert caught.value.message.endswith((".", ")")), "a whole sentence for the user"
    await llm.aclose()


@pytest.mark.asyncio
async def test_model_not_available_names_the_model(client: LlmClient, stand_in: StandIn) -> None:
    model = stand_in.config.model
    stand_in.script(stand_in.errors.model_not_found(model))
    with pytest.raises(ModelNotAvailable) as caught:
        await stand_in.collect(client)
    assert caught.value.model == model
    assert model in str(caught.value)


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_rate_limit_is_retried_after_retry_after_and_succeeds(
    client: LlmClient, stand_in: StandIn
) -> None:
    stand_in.script(stand_in.errors.rate_limited(retry_after_s=0.4), stand_in.reply(text="Done."))
    seen: list[StreamEvent] = []
    started = time.monotonic()
    events = await stand_in.collect(client, seen=seen)
    assert time.monotonic() - started >= 0.4
    assert text_of(events) == "Done."
    (notice,) = notices_in(seen)
    assert (notice.attempt, notice.wait_s, notice.is_rate_limit) == (1, 0.4, True)
    assert "too many requests" in notice.reason
    assert len(stand_in.server.requests) == 2


@pytest.mark.asyncio
async def test_retries_give_up_after_max_retries(stand_in: StandIn) -> None:
    llm = stand_in.client(max_retries=2)
    limited = stand_in.errors.rate_limited(retry_after_s=0.05)
    stand_in.script(limited, limited, limited, stand_in.reply())
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimited) as caught:
        await stand_in.collect(llm, seen=seen)
    assert caught.value.retry_after_s == 0.05
    assert [notice.attempt for notice in notices_in(seen)] == [1, 2]
    assert len(stand_in.server.requests) == 3
    await llm.aclose()


@pytest.mark.asyncio
async def test_a_rate_limit_asking_for_a_long_wait_fails_at_once(
    client: LlmClient, stand_in: StandIn
) -> None:
    stand_in.script(stand_in.errors.rate_limited(retry_after_s=3600))
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimited) as caught:
        await stand_in.collect(client, seen=seen)
    assert caught.value.retry_after_s == 3600
    assert notices_in(seen) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("stand_in", "reply", "error_type"),
    [
        *on_each("openai", {"quota": (ErrorReply.insufficient_quota(), QuotaExhausted)}),
        *on_each(
            "anthropic",
            {
                "credit": (AnthropicErrorReply.credit_too_low(), QuotaExhausted),
                "too-long": (AnthropicErrorReply.prompt_too_long(9000, 8000), ContextTooLong),
                "key": (AnthropicErrorReply.invalid_api_key(), InvalidApiKey),
            },
        ),
    ],
    indirect=["stand_in"],
)
async def test_a_request_refused_for_good_is_not_retried(
    client: LlmClient, stand_in: StandIn, reply: Any, error_type: type[LlmError]
) -> None:
    stand_in.script(reply, stand_in.reply())
    seen: list[StreamEvent] = []
    with pytest.raises(error_type):
        await stand_in.collect(client, seen=seen)
    assert notices_in(seen) == []
    assert len(stand_in.server.requests) == 1


@pytest.mark.asyncio
async def test_a_server_error_is_retried_with_backoff(stand_in: StandIn) -> None:
    llm = stand_in.client(max_retries=1)
    stand_in.script(stand_in.retried_error, stand_in.reply(text="Recovered."))
    seen: list[StreamEvent] = []
    assert text_of(await stand_in.collect(llm, seen=seen)) == "Recovered."
    (notice,) = notices_in(seen)
    assert (notice.attempt, notice.wait_s, notice.is_rate_limit) == (1, 1.0, False)
    assert f"HTTP {stand_in.retried_error.status}" in notice.reason
    await llm.aclose()


# -- the key never leaks -------------------------------------------------------------------------


def _openai_leaks(key: str) -> dict[str, tuple[object]]:
    """OpenAI-style error answers quoting parts of ``key``, named."""
    return {
        "401-echo": (ErrorReply.invalid_api_key(key),),
        "400": (
            ErrorReply(400, {"error": {"message": f"Bad key {key} in request", "code": None}}),
        ),
        "403": (
            ErrorReply(403, {"error": {"message": f"Key {key[:12]}*** may not use this model"}}),
        ),
        "500": (ErrorReply(500, {"error": {"message": f"Internal error for Bearer {key}"}}),),
        "429": (ErrorReply(429, {"error": {"message": f"Slow down {key}", "code": "rate_limit"}}),),
        "quota": (
            ErrorReply(
                429, {"error": {"message": f"Quota of {key}", "code": "insufficient_quota"}}
            ),
        ),
        "404": (ErrorReply(404, {"error": {"message": f"No route for {key}"}}),),
    }


def _anthropic_leaks(key: str) -> dict[str, tuple[object]]:
    """Anthropic's error answers quoting parts of ``key``, named by their status."""
    replies = [
        AnthropicErrorReply(401, "authentication_error", f"invalid x-api-key {key}"),
        AnthropicErrorReply(400, "invalid_request_error", f"Bad key {key} in request"),
        AnthropicErrorReply(403, "permission_error", f"Key {key[:14]}*** may not use this"),
        AnthropicErrorReply(500, "api_error", f"Internal error for x-api-key: {key}"),
        AnthropicErrorReply(529, "overloaded_error", f"Overloaded for Bearer {key}"),
        AnthropicErrorReply(429, "rate_limit_error", f"Slow down {key}"),
        AnthropicErrorReply(404, "not_found_error", f"model: {CLAUDE} for {key}"),
    ]
    return {str(reply.status): (reply,) for reply in replies}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("stand_in", "reply"),
    [
        *on_each("openai", _openai_leaks(OPENAI_KEY)),
        *on_each("anthropic", _anthropic_leaks(ANTHROPIC_KEY)),
    ],
    indirect=["stand_in"],
)
async def test_the_key_reaches_no_message_and_no_log(
    stand_in: StandIn, reply: Any, caplog: pytest.LogCaptureFixture
) -> None:
    llm = stand_in.client(max_retries=0)
    stand_in.script(reply)
    caplog.set_level("DEBUG")
    with pytest.raises(LlmError) as caught:
        await stand_in.collect(llm)
    error = caught.value
    shown = "\n".join(
        [str(error), repr(error), *map(str, error.args), *traceback.format_exception(error)]
    )
    for fragment in stand_in.key_fragments():
        assert fragment not in shown
        assert fragment not in caplog.text
    await llm.aclose()


def test_the_key_is_not_in_the_settings_or_the_clients_repr(stand_in: StandIn) -> None:
    settings = LlmSettings(base_url=stand_in.server.base_url, api_key=stand_in.key)
    assert stand_in.key not in repr(settings)
    assert stand_in.key not in repr(stand_in.client_class(settings))


# -- the SDK, the key and the client ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "client_class", "settings", "unloaded"),
    [
        pytest.param(
            "llm",
            "OpenAIClient",
            "base_url='http://127.0.0.1:1/v1'",
            ("openai", "httpx2", "tiktoken"),
            id="openai",
        ),
        pytest.param(
            "anthropic_client",
            "AnthropicClient",
            "base_url='http://127.0.0.1:1', api_key='k'",
            ("anthropic", "openai", "httpx2"),
            id="anthropic",
        ),
    ],
)
def test_importing_and_building_a_client_loads_no_sdk(
    module: str, client_class: str, settings: str, unloaded: tuple[str, ...]
) -> None:
    lines = [
        "import sys",
        f"from gptlab_desktop.services.{module} import {client_class}",
        "from gptlab_desktop.services.llm_api import LlmSettings",
        "import gptlab_desktop.services.tokens",
        f"{client_class}(LlmSettings({settings}))",
        *(f"assert {name!r} not in sys.modules, '{name} imported'" for name in unloaded),
    ]
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.asyncio
async def test_warm_up_imports_the_sdk(stand_in: StandIn) -> None:
    llm = stand_in.client_class(LlmSettings(base_url=stand_in.server.base_url))
    await llm.warm_up()
    assert llm.sdk_name in sys.modules
    await llm.aclose()


@pytest.mark.asyncio
async def test_a_key_saved_while_the_warm_up_builds_the_client_is_the_one_sent(
    client: SdkLlmClient[Any], stand_in: StandIn
) -> None:
    stand_in.server.api_key = "sk-the-new-key"
    warming = asyncio.ensure_future(client.warm_up())
    # White-box: wait until the warm-up is building its client (with the old key) in a thread.
    while not client._clients.is_building:
        await asyncio.sleep(0)
    await client.use_api_key("sk-the-new-key")
    await warming
    stand_in.script(stand_in.reply(text="ok"))
    assert await client.complete(TURNS, stand_in.config) == "ok"
    (request,) = stand_in.server.requests
    assert stand_in.sent_key(request) == "sk-the-new-key"


@pytest.mark.asyncio
async def test_a_new_key_is_used_for_the_next_request(stand_in: StandIn) -> None:
    stand_in.server.api_key = "sk-new-key"
    settings = LlmSettings(base_url=stand_in.server.base_url, api_key="sk-old-key")
    async with contextlib.aclosing(stand_in.client_class(settings)) as llm:
        with pytest.raises(InvalidApiKey):
            await llm.check_key()
        await llm.use_api_key("sk-new-key")
        await llm.check_key()
        assert stand_in.sent_key(stand_in.server.requests[-1]) == "sk-new-key"


# -- models and keys -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_model_list_is_asked_once_and_cached(
    client: LlmClient, stand_in: StandIn
) -> None:
    assert client.cached_models is None
    first = await client.list_models()
    second = await client.list_models()
    assert first == second == client.cached_models
    assert not first.is_fallback
    assert len(stand_in.server.requests_to("models")) == 1


@pytest.mark.asyncio
async def test_an_unreachable_server_gives_the_flagged_built_in_model_list(
    stand_in: StandIn,
) -> None:
    url = stand_in.unreachable_url()
    llm = stand_in.client_class(LlmSettings(base_url=url, api_key=stand_in.key))
    models = await llm.list_models()
    assert models == ModelList(stand_in.fallback_models(), is_fallback=True)
    assert llm.cached_models is None, "a fallback is not remembered: the next call asks again"
    await llm.aclose()


@pytest.mark.asyncio
async def test_check_key_accepts_the_right_key(client: LlmClient) -> None:
    await client.check_key()
    assert client.cached_models is not None


@pytest.mark.asyncio
async def test_check_key_rejects_a_wrong_key(stand_in: StandIn) -> None:
    stand_in.server.api_key = "sk-the-right-one-0000000000"
    llm = stand_in.client()
    with pytest.raises(InvalidApiKey, match=stand_in.refusal_words):
        await llm.check_key()
    await llm.aclose()
