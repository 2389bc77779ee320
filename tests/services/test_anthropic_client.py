"""The Anthropic client against a real loopback server speaking the Messages API, with the real
anthropic SDK."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.config import OPENAI_BASE_URL
from gptlab_desktop.models import ModelConfig, Role
from gptlab_desktop.services.anthropic_client import (
    ANTHROPIC_API_VERSION,
    ANTHROPIC_BASE_URL,
    FALLBACK_MODELS,
    GREET_TURN,
    AnthropicClient,
)
from gptlab_desktop.services.errors import (
    ConnectionLost,
    ContextTooLong,
    InvalidApiKey,
    LlmError,
    LlmTimeout,
    MissingApiKey,
    ModelNotAvailable,
    QuotaExhausted,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from gptlab_desktop.services.llm_api import (
    ChatTurn,
    LlmClient,
    LlmSettings,
    ModelList,
    RetryNotice,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from tests.fakes import (
    AnthropicErrorReply,
    AnthropicModelsReply,
    FakeAnthropicServer,
    MessageReply,
    unused_loopback_url,
)
from tests.fakes.anthropic_server import DEFAULT_ANTHROPIC_MODELS

KEY = "sk-ant-api03-Secret0123456789abcdefXYZ-uvw"
MODEL = "claude-sonnet-4-6"
CONFIG = ModelConfig(model=MODEL, max_tokens=300, temperature=0.5)
TURNS = (
    ChatTurn(Role.SYSTEM, "You are a helpful assistant."),
    ChatTurn(Role.USER, "Say hello."),
)
LONG_TEXT = (
    "Hello, wörld! 👋🏽 Here is **Markdown**:\n\n- one\n- two\n\n```py\nprint('x')\n```\n" * 20
)


def make_client(server: FakeAnthropicServer, **settings: object) -> AnthropicClient:
    """A client of the loopback server with short timeouts (nothing here should be slow)."""
    options: dict[str, object] = {"timeout_s": 5.0, "connect_timeout_s": 2.0}
    options.update(settings)
    return AnthropicClient(LlmSettings(base_url=server.base_url, api_key=KEY, **options))  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def client(anthropic_server: FakeAnthropicServer) -> AsyncIterator[AnthropicClient]:
    anthropic_server.api_key = KEY
    llm = make_client(anthropic_server)
    yield llm
    await llm.aclose()


async def collect(
    llm: LlmClient,
    turns: tuple[ChatTurn, ...] = TURNS,
    config: ModelConfig = CONFIG,
    *,
    seen: list[StreamEvent] | None = None,
) -> list[StreamEvent]:
    """Every event of a reply; each also goes into ``seen`` as it comes (kept if it fails)."""
    events = [] if seen is None else seen
    async for event in llm.stream_chat(turns, config):
        events.append(event)
    return events


def notices_in(events: list[StreamEvent]) -> list[RetryNotice]:
    return [event for event in events if isinstance(event, RetryNotice)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def sent(server: FakeAnthropicServer) -> dict[str, object]:
    """The body of the one Messages request the server received."""
    (request,) = server.requests_to("messages")
    return request.body


# -- streaming -----------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
async def test_streamed_text_arrives_whole_and_in_order(
    client: LlmClient, anthropic_server: FakeAnthropicServer, chunk_size: int
) -> None:
    anthropic_server.script(MessageReply(text=LONG_TEXT, chunk_size=chunk_size))
    events = await collect(client)
    assert text_of(events) == LONG_TEXT
    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert len(deltas) == -(-len(LONG_TEXT) // chunk_size)


@pytest.mark.asyncio
async def test_stream_ends_with_the_stop_reason_usage_and_model(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(MessageReply(text="Hi!", usage=(12, 3), model="claude-sonnet-4-6-x"))
    events = await collect(client)
    assert events[-1] == StreamEnd(
        finish_reason="stop", usage=Usage(12, 3, 15), model="claude-sonnet-4-6-x"
    )
    assert all(isinstance(event, TextDelta) for event in events[:-1])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("tool_use", "tool_calls"),
        ("pause_turn", "pause_turn"),
    ],
)
async def test_stop_reasons_are_given_in_the_words_the_app_knows(
    client: LlmClient, anthropic_server: FakeAnthropicServer, stop_reason: str, finish_reason: str
) -> None:
    anthropic_server.script(MessageReply(text="Cut sh", stop_reason=stop_reason))
    events = await collect(client)
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].finish_reason == finish_reason


@pytest.mark.asyncio
async def test_complete_returns_the_whole_reply(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(MessageReply(text="A short title", chunk_size=3))
    assert await client.complete(TURNS, CONFIG) == "A short title"


@pytest.mark.asyncio
async def test_leaving_a_stream_early_leaves_the_client_usable(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(MessageReply(text=LONG_TEXT, chunk_size=5, delay_s=0.01))
    stream = client.stream_chat(TURNS, CONFIG)
    async for _event in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    anthropic_server.script(MessageReply(text="Still here."))
    assert text_of(await collect(client)) == "Still here."


# -- the request ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_system_prompt_is_sent_as_system_and_the_turns_as_messages(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    await collect(client)
    body = sent(anthropic_server)
    assert body["system"] == "You are a helpful assistant."
    assert body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert body["model"] == MODEL
    assert body["max_tokens"] == 300
    assert body["stream"] is True


@pytest.mark.asyncio
async def test_system_turns_are_joined_and_same_role_turns_merged(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    turns = (
        ChatTurn(Role.SYSTEM, "Be brief."),
        ChatTurn(Role.USER, "First."),
        ChatTurn(Role.SYSTEM, "Answer in French."),
        ChatTurn(Role.USER, "Second."),
        ChatTurn(Role.ASSISTANT, "Bonjour."),
        ChatTurn(Role.ASSISTANT, "  "),
        ChatTurn(Role.ASSISTANT, "Encore."),
        ChatTurn(Role.USER, "Third."),
    )
    await collect(client, turns)
    body = sent(anthropic_server)
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [
        {"role": "user", "content": "First.\n\nSecond."},
        {"role": "assistant", "content": "Bonjour.\n\nEncore."},
        {"role": "user", "content": "Third."},
    ]


@pytest.mark.asyncio
async def test_greet_sends_one_user_turn_asking_the_assistant_to_begin(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(MessageReply(text="Welcome! I am your tutor."))
    events = await collect(client, (ChatTurn(Role.SYSTEM, "You are a tutor. Greet the user."),))
    assert text_of(events) == "Welcome! I am your tutor."
    body = sent(anthropic_server)
    assert body["system"] == "You are a tutor. Greet the user."
    assert body["messages"] == [{"role": "user", "content": GREET_TURN}]


@pytest.mark.asyncio
async def test_a_conversation_the_assistant_opened_starts_with_the_greet_turn(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    turns = (
        ChatTurn(Role.SYSTEM, "You are a tutor."),
        ChatTurn(Role.ASSISTANT, "Welcome!"),
        ChatTurn(Role.USER, "Teach me."),
    )
    await collect(client, turns)
    assert sent(anthropic_server)["messages"] == [
        {"role": "user", "content": GREET_TURN},
        {"role": "assistant", "content": "Welcome!"},
        {"role": "user", "content": "Teach me."},
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("temperature", "sent_temperature"), [(0.0, 0.0), (0.7, 0.35), (1.0, 0.5), (2.0, 1.0)]
)
async def test_temperature_is_halved_onto_anthropics_scale(
    client: LlmClient,
    anthropic_server: FakeAnthropicServer,
    temperature: float,
    sent_temperature: float,
) -> None:
    await collect(client, config=ModelConfig(model=MODEL, temperature=temperature))
    body = sent(anthropic_server)
    assert body["temperature"] == pytest.approx(sent_temperature)
    assert "top_p" not in body


@pytest.mark.asyncio
async def test_top_p_below_one_is_sent_instead_of_the_temperature(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    await collect(client, config=ModelConfig(model=MODEL, temperature=1.2, top_p=0.9))
    body = sent(anthropic_server)
    assert body["top_p"] == 0.9
    assert "temperature" not in body, "newer models refuse temperature and top_p together"


@pytest.mark.asyncio
async def test_penalties_are_not_sent(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    config = ModelConfig(model=MODEL, frequency_penalty=1.5, presence_penalty=-1.0)
    await collect(client, config=config)
    body = sent(anthropic_server)
    assert not {"frequency_penalty", "presence_penalty"} & set(body)


@pytest.mark.asyncio
async def test_the_key_is_sent_as_x_api_key_alone(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    await collect(client)
    (request,) = anthropic_server.requests_to("messages")
    assert request.headers["x-api-key"] == KEY
    assert "authorization" not in request.headers, "anthropic 2.x would send a bearer token"


@pytest.mark.asyncio
async def test_requests_name_the_api_version_that_takes_a_temperature(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    # The SDK's own default (2026-10-21) refuses temperature; the stand-in refuses it too.
    anthropic_server.script(MessageReply(text="Warm."))
    assert text_of(await collect(client)) == "Warm."
    (request,) = anthropic_server.requests_to("messages")
    assert request.headers["anthropic-version"] == ANTHROPIC_API_VERSION == "2023-06-01"


# -- interrupted streams -------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(
            MessageReply(text="abcdefghij", chunk_size=2, drop_after_chunks=3), id="dropped"
        ),
        pytest.param(
            MessageReply(text="abcdef", chunk_size=2, stop_reason=None),
            id="ended-without-stop-reason-or-message-stop",
        ),
    ],
)
async def test_a_cut_stream_yields_the_partial_text_then_raises_connection_lost(
    client: LlmClient, anthropic_server: FakeAnthropicServer, cut: MessageReply
) -> None:
    anthropic_server.script(cut)
    received: list[str] = []
    with pytest.raises(ConnectionLost):
        async for event in client.stream_chat(TURNS, CONFIG):
            assert isinstance(event, TextDelta), "an interrupted reply never reports an end"
            received.append(event.text)
    assert "".join(received) == "abcdef"
    assert len(anthropic_server.requests_to("messages")) == 1, "text arrived: no retry"


@pytest.mark.asyncio
async def test_a_stream_with_a_stop_reason_but_no_message_stop_is_complete(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(
        MessageReply(text="abc", stop_reason="max_tokens", omit_message_stop=True)
    )
    events = await collect(client)
    assert text_of(events) == "abc"
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].finish_reason == "length"


@pytest.mark.asyncio
async def test_an_error_event_after_text_raises_after_the_text_without_a_retry(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    error = AnthropicErrorReply.overloaded()
    anthropic_server.script(
        MessageReply(text="abcdef", chunk_size=3, error=error, error_after_chunks=1)
    )
    seen: list[StreamEvent] = []
    with pytest.raises(ServerError, match="Overloaded") as caught:
        await collect(client, seen=seen)
    assert seen == [TextDelta("abc")]
    assert caught.value.status == 529
    assert len(anthropic_server.requests_to("messages")) == 1


@pytest.mark.asyncio
async def test_an_error_event_before_any_text_is_retried(
    anthropic_server: FakeAnthropicServer,
) -> None:
    llm = make_client(anthropic_server, max_retries=1)
    overloaded = MessageReply(error=AnthropicErrorReply.overloaded(), error_after_chunks=0)
    anthropic_server.script(overloaded, MessageReply(text="Recovered."))
    seen: list[StreamEvent] = []
    assert text_of(await collect(llm, seen=seen)) == "Recovered."
    assert [(notice.attempt, notice.wait_s) for notice in notices_in(seen)] == [(1, 1.0)]
    assert isinstance(seen[0], RetryNotice), "the notice comes before any text"
    await llm.aclose()


@pytest.mark.asyncio
async def test_unreachable_server_raises_server_unreachable_quickly() -> None:
    url = unused_loopback_url().removesuffix("/v1")
    llm = AnthropicClient(LlmSettings(base_url=url, api_key=KEY))
    started = time.monotonic()
    with pytest.raises(ServerUnreachable) as caught:
        await collect(llm)
    assert time.monotonic() - started < 3
    assert url in str(caught.value)
    await llm.aclose()


@pytest.mark.asyncio
async def test_server_silent_beyond_the_timeout_raises_llm_timeout(
    anthropic_server: FakeAnthropicServer,
) -> None:
    llm = make_client(anthropic_server, timeout_s=0.3)
    anthropic_server.script(MessageReply(text="late", delay_s=3))
    started = time.monotonic()
    with pytest.raises(LlmTimeout) as caught:
        await collect(llm)
    assert time.monotonic() - started < 2
    assert "0.3 s" in str(caught.value)
    await llm.aclose()


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        pytest.param(AnthropicErrorReply.invalid_api_key(), InvalidApiKey, id="401"),
        pytest.param(AnthropicErrorReply.rate_limited(retry_after_s=2), RateLimited, id="429"),
        pytest.param(AnthropicErrorReply.overloaded(), ServerError, id="529"),
        pytest.param(AnthropicErrorReply(500), ServerError, id="500"),
        pytest.param(AnthropicErrorReply(502), ServerError, id="502"),
        pytest.param(AnthropicErrorReply(503), ServerError, id="503"),
        pytest.param(
            AnthropicErrorReply.prompt_too_long(210_000, 200_000), ContextTooLong, id="too-long"
        ),
        pytest.param(AnthropicErrorReply.model_not_found(MODEL), ModelNotAvailable, id="404"),
        pytest.param(
            AnthropicErrorReply(403, "permission_error", "This key may not use this workspace."),
            RequestRejected,
            id="403",
        ),
        pytest.param(
            AnthropicErrorReply(413, "request_too_large", "Request exceeds the maximum size"),
            RequestRejected,
            id="413",
        ),
    ],
)
async def test_an_error_answer_maps_to_its_typed_error(
    anthropic_server: FakeAnthropicServer, reply: AnthropicErrorReply, error_type: type[LlmError]
) -> None:
    llm = make_client(anthropic_server, max_retries=0)
    anthropic_server.script(reply)
    with pytest.raises(error_type) as caught:
        await collect(llm)
    assert type(caught.value) is error_type
    assert caught.value.status == reply.status
    assert caught.value.message.endswith((".", ")")), "a whole sentence for the user"
    await llm.aclose()


@pytest.mark.asyncio
async def test_no_credit_left_is_quota_exhausted(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(AnthropicErrorReply.credit_too_low())
    with pytest.raises(QuotaExhausted):
        await collect(client)


@pytest.mark.asyncio
async def test_a_refused_key_is_explained_in_anthropics_terms(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(AnthropicErrorReply.invalid_api_key())
    with pytest.raises(InvalidApiKey) as caught:
        await collect(client)
    assert str(caught.value).startswith("Anthropic did not accept your API key.")
    assert "Settings → Providers" in str(caught.value)


@pytest.mark.asyncio
async def test_context_too_long_carries_the_limit_anthropic_names(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(AnthropicErrorReply.prompt_too_long(210_000, 200_000))
    with pytest.raises(ContextTooLong) as caught:
        await collect(client)
    assert caught.value.limit == 200_000
    assert caught.value.model == MODEL
    assert MODEL in str(caught.value)


@pytest.mark.asyncio
async def test_model_not_available_names_the_model(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(AnthropicErrorReply.model_not_found(MODEL))
    with pytest.raises(ModelNotAvailable) as caught:
        await collect(client)
    assert caught.value.model == MODEL
    assert MODEL in str(caught.value)


@pytest.mark.asyncio
async def test_a_refused_request_keeps_the_servers_words(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    words = "messages.1.content: Input should be a valid list"
    anthropic_server.script(AnthropicErrorReply(400, "invalid_request_error", words))
    with pytest.raises(RequestRejected) as caught:
        await collect(client)
    assert words in str(caught.value)
    assert caught.value.code == "invalid_request_error"


@pytest.mark.asyncio
async def test_a_server_error_keeps_the_servers_words(
    anthropic_server: FakeAnthropicServer,
) -> None:
    llm = make_client(anthropic_server, max_retries=0)
    anthropic_server.script(AnthropicErrorReply.overloaded())
    with pytest.raises(ServerError) as caught:
        await collect(llm)
    assert "HTTP 529" in str(caught.value)
    assert "It said: Overloaded" in str(caught.value)
    await llm.aclose()


@pytest.mark.asyncio
async def test_missing_key_raises_missing_api_key_without_a_request(
    anthropic_server: FakeAnthropicServer,
) -> None:
    llm = AnthropicClient(LlmSettings(base_url=anthropic_server.base_url))
    assert not llm.has_api_key
    with pytest.raises(MissingApiKey, match="Anthropic"):
        await collect(llm)
    with pytest.raises(MissingApiKey):
        await llm.check_key()
    assert anthropic_server.requests == []


# -- the key never leaks -------------------------------------------------------------------------


def _key_fragments() -> list[str]:
    return [KEY, KEY[:14], KEY[7:24], KEY[-10:], f"{KEY[:10]}***"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        AnthropicErrorReply(401, "authentication_error", f"invalid x-api-key {KEY}"),
        AnthropicErrorReply(400, "invalid_request_error", f"Bad key {KEY} in request"),
        AnthropicErrorReply(403, "permission_error", f"Key {KEY[:14]}*** may not use this"),
        AnthropicErrorReply(500, "api_error", f"Internal error for x-api-key: {KEY}"),
        AnthropicErrorReply(529, "overloaded_error", f"Overloaded for Bearer {KEY}"),
        AnthropicErrorReply(429, "rate_limit_error", f"Slow down {KEY}"),
        AnthropicErrorReply(404, "not_found_error", f"model: {MODEL} for {KEY}"),
    ],
    ids=lambda reply: str(reply.status),
)
async def test_the_key_reaches_no_message_and_no_log(
    anthropic_server: FakeAnthropicServer,
    reply: AnthropicErrorReply,
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm = make_client(anthropic_server, max_retries=0)
    anthropic_server.script(reply)
    caplog.set_level("DEBUG")
    with pytest.raises(LlmError) as caught:
        await collect(llm)
    error = caught.value
    shown = "\n".join(
        [str(error), repr(error), *map(str, error.args), *traceback.format_exception(error)]
    )
    for fragment in _key_fragments():
        assert fragment not in shown
        assert fragment not in caplog.text
    await llm.aclose()


@pytest.mark.asyncio
async def test_the_log_records_the_kind_and_status_never_the_servers_words(
    client: LlmClient, anthropic_server: FakeAnthropicServer, caplog: pytest.LogCaptureFixture
) -> None:
    words = "messages.0.content quotes: my private diary entry"
    anthropic_server.script(AnthropicErrorReply(400, "invalid_request_error", words))
    caplog.set_level("DEBUG", logger="gptlab_desktop")
    with pytest.raises(RequestRejected):
        await collect(client)
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("gptlab")]
    assert any("400" in line and "invalid_request_error" in line for line in ours)
    assert not any("diary" in line or "Say hello" in line for line in ours)


def test_the_key_is_not_in_the_clients_repr() -> None:
    settings = LlmSettings(base_url="http://127.0.0.1:1", api_key=KEY)
    assert KEY not in repr(AnthropicClient(settings))


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_rate_limit_is_retried_after_retry_after_and_succeeds(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(
        AnthropicErrorReply.rate_limited(retry_after_s=0.4), MessageReply(text="Done.")
    )
    seen: list[StreamEvent] = []
    started = time.monotonic()
    events = await collect(client, seen=seen)
    assert time.monotonic() - started >= 0.4
    assert text_of(events) == "Done."
    (notice,) = notices_in(seen)
    assert (notice.attempt, notice.wait_s, notice.is_rate_limit) == (1, 0.4, True)
    assert "too many requests" in notice.reason
    assert len(anthropic_server.requests_to("messages")) == 2


@pytest.mark.asyncio
async def test_overloaded_is_retried_with_backoff(anthropic_server: FakeAnthropicServer) -> None:
    llm = make_client(anthropic_server, max_retries=1)
    anthropic_server.script(AnthropicErrorReply.overloaded(), MessageReply(text="Recovered."))
    seen: list[StreamEvent] = []
    assert text_of(await collect(llm, seen=seen)) == "Recovered."
    (notice,) = notices_in(seen)
    assert (notice.attempt, notice.wait_s, notice.is_rate_limit) == (1, 1.0, False)
    assert "HTTP 529" in notice.reason
    await llm.aclose()


@pytest.mark.asyncio
async def test_retries_give_up_after_max_retries(anthropic_server: FakeAnthropicServer) -> None:
    llm = make_client(anthropic_server, max_retries=2)
    limited = AnthropicErrorReply.rate_limited(retry_after_s=0.05)
    anthropic_server.script(limited, limited, limited, MessageReply())
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimited) as caught:
        await collect(llm, seen=seen)
    assert caught.value.retry_after_s == 0.05
    assert [notice.attempt for notice in notices_in(seen)] == [1, 2]
    assert len(anthropic_server.requests_to("messages")) == 3
    await llm.aclose()


@pytest.mark.asyncio
async def test_a_rate_limit_asking_for_a_long_wait_fails_at_once(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.script(AnthropicErrorReply.rate_limited(retry_after_s=3600))
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimited) as caught:
        await collect(client, seen=seen)
    assert caught.value.retry_after_s == 3600
    assert notices_in(seen) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        AnthropicErrorReply.credit_too_low(),
        AnthropicErrorReply.prompt_too_long(9000, 8000),
        AnthropicErrorReply.invalid_api_key(),
    ],
    ids=["no-credit", "too-long", "key"],
)
async def test_a_request_refused_for_good_is_not_retried(
    client: LlmClient, anthropic_server: FakeAnthropicServer, reply: AnthropicErrorReply
) -> None:
    anthropic_server.script(reply, MessageReply())
    seen: list[StreamEvent] = []
    with pytest.raises(LlmError):
        await collect(client, seen=seen)
    assert notices_in(seen) == []
    assert len(anthropic_server.requests_to("messages")) == 1


# -- configuration and keys ----------------------------------------------------------------------


@pytest.mark.parametrize("configured", ["", OPENAI_BASE_URL, f" {ANTHROPIC_BASE_URL}/v1/ "])
def test_anthropics_own_server_is_the_default(configured: str) -> None:
    assert AnthropicClient(LlmSettings(base_url=configured)).base_url == ANTHROPIC_BASE_URL
    assert ANTHROPIC_BASE_URL == "https://api.anthropic.com"


@pytest.mark.asyncio
async def test_a_server_address_ending_in_v1_is_used_without_it(
    anthropic_server: FakeAnthropicServer,
) -> None:
    llm = AnthropicClient(LlmSettings(base_url=anthropic_server.base_url + "/v1/", api_key=KEY))
    assert text_of(await collect(llm)) == "Echo: Say hello."
    assert [request.path for request in anthropic_server.requests] == ["/v1/messages"]
    await llm.aclose()


def test_importing_the_module_does_not_import_anthropic() -> None:
    code = (
        "import sys\n"
        "from gptlab_desktop.services.anthropic_client import AnthropicClient\n"
        "from gptlab_desktop.services.llm_api import LlmSettings\n"
        "AnthropicClient(LlmSettings(base_url='http://127.0.0.1:1', api_key='k'))\n"
        "assert 'anthropic' not in sys.modules, 'anthropic imported'\n"
        "assert 'openai' not in sys.modules, 'openai imported'\n"
        "assert 'httpx2' not in sys.modules, 'httpx2 imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.asyncio
async def test_warm_up_imports_anthropic() -> None:
    await AnthropicClient(LlmSettings(base_url="http://127.0.0.1:1")).warm_up()
    assert "anthropic" in sys.modules


@pytest.mark.asyncio
async def test_a_key_saved_while_the_warm_up_builds_the_client_is_the_one_sent(
    client: AnthropicClient, anthropic_server: FakeAnthropicServer
) -> None:
    anthropic_server.api_key = "sk-ant-the-new-key"
    warming = asyncio.ensure_future(client.warm_up())
    # White-box: wait until the warm-up is building its client (with the old key) in a thread.
    while not client._clients.is_building:
        await asyncio.sleep(0)
    await client.use_api_key("sk-ant-the-new-key")
    await warming
    anthropic_server.script(MessageReply(text="ok"))
    assert await client.complete(TURNS, CONFIG) == "ok"
    (request,) = anthropic_server.requests_to("messages")
    assert request.headers["x-api-key"] == "sk-ant-the-new-key"


@pytest.mark.asyncio
async def test_a_request_waits_for_the_key_still_being_read(
    anthropic_server: FakeAnthropicServer,
) -> None:
    anthropic_server.api_key = KEY
    llm = AnthropicClient(LlmSettings(base_url=anthropic_server.base_url))
    reading: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
    llm.use_api_key_when_read(reading)
    asyncio.get_running_loop().call_later(0.05, reading.set_result, KEY)
    assert text_of(await collect(llm)) == "Echo: Say hello."
    assert llm.has_api_key
    await llm.aclose()


@pytest.mark.asyncio
async def test_a_new_key_is_used_for_the_next_request(
    anthropic_server: FakeAnthropicServer,
) -> None:
    anthropic_server.api_key = "sk-ant-new-key"
    llm = AnthropicClient(LlmSettings(base_url=anthropic_server.base_url, api_key="sk-ant-old"))
    try:
        with pytest.raises(InvalidApiKey):
            await llm.check_key()
        await llm.use_api_key("sk-ant-new-key")
        await llm.check_key()
        assert anthropic_server.requests[-1].headers["x-api-key"] == "sk-ant-new-key"
    finally:
        await llm.aclose()


@pytest.mark.asyncio
async def test_a_removed_key_makes_requests_raise_missing_api_key(
    client: AnthropicClient, anthropic_server: FakeAnthropicServer
) -> None:
    await client.check_key()
    await client.use_api_key(None)
    assert not client.has_api_key
    assert client.cached_models is None, "what the old key was told is forgotten"
    with pytest.raises(MissingApiKey):
        await collect(client)


# -- models and keys -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_models_are_listed_newest_first_with_their_context_windows(
    client: LlmClient,
) -> None:
    models = await client.list_models()
    assert models == ModelList(
        tuple(DEFAULT_ANTHROPIC_MODELS), context_windows=DEFAULT_ANTHROPIC_MODELS
    )


@pytest.mark.asyncio
async def test_models_are_listed_across_pages(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    ids = ("claude-e", "claude-d", "claude-c", "claude-b", "claude-a")
    anthropic_server.page_size_cap = 2
    anthropic_server.script(*[AnthropicModelsReply(ids)] * 3)
    models = await client.list_models()
    assert models.models == ids
    pages = anthropic_server.requests_to("models")
    assert [page.query.get("after_id") for page in pages] == [None, "claude-d", "claude-b"]


@pytest.mark.asyncio
async def test_the_model_list_is_asked_once_and_cached(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    assert client.cached_models is None
    first = await client.list_models()
    second = await client.list_models()
    assert first == second == client.cached_models
    assert not first.is_fallback
    assert len(anthropic_server.requests_to("models")) == 1


@pytest.mark.asyncio
async def test_an_unreachable_server_gives_the_flagged_built_in_model_list() -> None:
    llm = AnthropicClient(LlmSettings(base_url=unused_loopback_url(), api_key=KEY))
    models = await llm.list_models()
    assert models == ModelList(FALLBACK_MODELS, is_fallback=True)
    assert all(model.startswith("claude-") for model in models.models)
    assert llm.cached_models is None, "a fallback is not remembered: the next call asks again"
    await llm.aclose()


@pytest.mark.asyncio
async def test_check_key_accepts_the_right_key(client: LlmClient) -> None:
    await client.check_key()
    assert client.cached_models is not None


@pytest.mark.asyncio
async def test_check_key_rejects_a_wrong_key(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.api_key = "sk-ant-the-right-one-0000000000"
    llm = make_client(anthropic_server)
    with pytest.raises(InvalidApiKey, match="Anthropic did not accept"):
        await llm.check_key()
    await llm.aclose()


@pytest.mark.asyncio
async def test_moderation_is_not_offered(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    assert await client.moderate("some text") is None
    assert anthropic_server.requests == []


# -- the stand-in itself -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_stand_in_answers_a_request_without_a_stream_as_one_message(
    anthropic_server: FakeAnthropicServer,
) -> None:
    import anthropic

    sdk = anthropic.AsyncAnthropic(
        api_key=KEY,
        base_url=anthropic_server.base_url,
        max_retries=0,
        default_headers={"anthropic-version": ANTHROPIC_API_VERSION},
    )
    anthropic_server.script(MessageReply(text="Whole.", usage=(7, 2), stop_reason="max_tokens"))
    message = await sdk.messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
    )
    await sdk.close()
    assert [block.text for block in message.content] == ["Whole."]  # type: ignore[union-attr]
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == (
        "max_tokens",
        7,
        2,
    )
