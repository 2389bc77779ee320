"""The Anthropic client against a real loopback server speaking the Messages API, with the real
anthropic SDK: what it alone does (what every client does is in test_llm_clients.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

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
    ContextTooLong,
    InvalidApiKey,
    MissingApiKey,
    RequestRejected,
    ServerError,
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
)
from tests.fakes import (
    AnthropicErrorReply,
    AnthropicModelsReply,
    FakeAnthropicServer,
    MessageReply,
)
from tests.fakes.anthropic_server import DEFAULT_ANTHROPIC_MODELS
from tests.services.llm_helpers import ANTHROPIC_KEY as KEY
from tests.services.llm_helpers import TURNS, ReplyReader, notices_in, quick_settings, text_of

MODEL = "claude-sonnet-4-6"
CONFIG = ModelConfig(model=MODEL, max_tokens=300, temperature=0.5)
collect = ReplyReader(TURNS, CONFIG)


def make_client(server: FakeAnthropicServer, **settings: object) -> AnthropicClient:
    """A client of the loopback server with short timeouts (nothing here should be slow)."""
    return AnthropicClient(quick_settings(server.base_url, KEY, **settings))


@pytest_asyncio.fixture
async def client(anthropic_server: FakeAnthropicServer) -> AsyncIterator[AnthropicClient]:
    anthropic_server.api_key = KEY
    async with contextlib.aclosing(make_client(anthropic_server)) as llm:
        yield llm


def sent(server: FakeAnthropicServer) -> dict[str, object]:
    """The body of the one Messages request the server received."""
    (request,) = server.requests_to("messages")
    return request.body


def sent_headers(server: FakeAnthropicServer) -> Mapping[str, str]:
    """The headers (lower-case) of the one Messages request the server received."""
    (request,) = server.requests_to("messages")
    return request.headers


# -- stop reasons --------------------------------------------------------------------------------


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


# -- the request ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("turns", "system", "messages"),
    [
        pytest.param(
            TURNS,
            "You are a helpful assistant.",
            [{"role": "user", "content": "Say hello."}],
            id="the-system-prompt-is-sent-as-system-and-the-turns-as-messages",
        ),
        pytest.param(
            (
                ChatTurn(Role.SYSTEM, "Be brief."),
                ChatTurn(Role.USER, "First."),
                ChatTurn(Role.SYSTEM, "Answer in French."),
                ChatTurn(Role.USER, "Second."),
                ChatTurn(Role.ASSISTANT, "Bonjour."),
                ChatTurn(Role.ASSISTANT, "  "),
                ChatTurn(Role.ASSISTANT, "Encore."),
                ChatTurn(Role.USER, "Third."),
            ),
            "Be brief.\n\nAnswer in French.",
            [
                {"role": "user", "content": "First.\n\nSecond."},
                {"role": "assistant", "content": "Bonjour.\n\nEncore."},
                {"role": "user", "content": "Third."},
            ],
            id="system-turns-joined-and-same-role-turns-merged",
        ),
        pytest.param(
            (ChatTurn(Role.SYSTEM, "You are a tutor. Greet the user."),),
            "You are a tutor. Greet the user.",
            [{"role": "user", "content": GREET_TURN}],
            id="the-greet-asks-the-assistant-to-begin-in-one-user-turn",
        ),
        pytest.param(
            (
                ChatTurn(Role.SYSTEM, "You are a tutor."),
                ChatTurn(Role.ASSISTANT, "Welcome!"),
                ChatTurn(Role.USER, "Teach me."),
            ),
            "You are a tutor.",
            [
                {"role": "user", "content": GREET_TURN},
                {"role": "assistant", "content": "Welcome!"},
                {"role": "user", "content": "Teach me."},
            ],
            id="a-conversation-the-assistant-opened-starts-with-the-greet-turn",
        ),
    ],
)
async def test_the_turns_become_anthropics_system_text_and_messages(
    client: LlmClient,
    anthropic_server: FakeAnthropicServer,
    turns: tuple[ChatTurn, ...],
    system: str,
    messages: list[dict[str, str]],
) -> None:
    anthropic_server.script(MessageReply(text="Welcome! I am your tutor."))
    events = await collect(client, turns)
    assert text_of(events) == "Welcome! I am your tutor."
    body = sent(anthropic_server)
    assert body["system"] == system
    assert body["messages"] == messages
    assert body["model"] == MODEL
    assert body["max_tokens"] == 300
    assert body["stream"] is True


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
    headers = sent_headers(anthropic_server)
    assert headers["x-api-key"] == KEY
    assert "authorization" not in headers, "anthropic 2.x would send a bearer token"


@pytest.mark.asyncio
async def test_requests_name_the_api_version_that_takes_a_temperature(
    client: LlmClient, anthropic_server: FakeAnthropicServer
) -> None:
    # The SDK's own default (2026-10-21) refuses temperature; the stand-in refuses it too.
    anthropic_server.script(MessageReply(text="Warm."))
    assert text_of(await collect(client)) == "Warm."
    assert sent_headers(anthropic_server)["anthropic-version"] == ANTHROPIC_API_VERSION
    assert ANTHROPIC_API_VERSION == "2023-06-01"


# -- interrupted streams -------------------------------------------------------------------------


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


# -- errors --------------------------------------------------------------------------------------


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


def test_the_built_in_model_list_is_claudes() -> None:
    # Offered when the server cannot be asked (test_llm_clients.py).
    assert all(model.startswith("claude-") for model in FALLBACK_MODELS)


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
