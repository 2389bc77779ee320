"""The OpenAI-compatible client against a real loopback server, with the real openai client:
what it alone does (what every client does is in test_llm_clients.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.config import resolve_ai_endpoint
from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.errors import (
    ContextTooLong,
    MissingApiKey,
    ServerError,
    ServerUnreachable,
)
from gptlab_desktop.services.llm import (
    OpenAIClient,
    context_window,
    estimate_cost_usd,
    max_output_tokens,
    rank_models,
)
from gptlab_desktop.services.llm_api import (
    LlmClient,
    LlmSettings,
    ModelList,
    ModerationResult,
    StreamEnd,
    StreamEvent,
)
from gptlab_desktop.services.model_catalog import ranked_model_ids
from tests.fakes import (
    ErrorReply,
    FakeOpenAIServer,
    ModelsReply,
    ModerationReply,
    Reply,
    unused_loopback_url,
)
from tests.services.llm_helpers import OPENAI_KEY as KEY
from tests.services.llm_helpers import TURNS, ReplyReader, notices_in, quick_settings, text_of

CONFIG = ModelConfig(model="gpt-4o-mini", max_tokens=300, temperature=0.5)
collect = ReplyReader(TURNS, CONFIG)


def make_client(server: FakeOpenAIServer, **settings: object) -> OpenAIClient:
    """A client of the loopback server with short timeouts (nothing here should be slow)."""
    return OpenAIClient(quick_settings(server.base_url, KEY, **settings))


@pytest_asyncio.fixture
async def client(openai_server: FakeOpenAIServer) -> AsyncIterator[LlmClient]:
    async with contextlib.aclosing(make_client(openai_server)) as llm:
        yield llm


# -- the request and its reply -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_request_carries_the_conversation_and_model_parameters(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    await collect(client)
    (request,) = openai_server.requests_to("chat")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Say hello."},
    ]
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["max_tokens"] == 300
    assert request.body["temperature"] == 0.5
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


@pytest.mark.asyncio
async def test_usage_is_none_when_the_server_reports_none(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(Reply(text="Hi!", usage=False))
    events = await collect(client)
    assert events[-1] == StreamEnd(finish_reason="stop", usage=None, model="gpt-4o-mini")


@pytest.mark.asyncio
async def test_server_refusing_stream_options_is_asked_again_without_them(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.stream_options_rejected(), Reply(text="Fine."), Reply())
    assert text_of(await collect(client)) == "Fine."
    await collect(client)
    first, second, third = openai_server.requests_to("chat")
    assert "stream_options" in first.body
    assert "stream_options" not in second.body
    assert "stream_options" not in third.body, "the refusal is remembered"


@pytest.mark.asyncio
async def test_unscripted_reply_echoes_the_last_user_message(client: LlmClient) -> None:
    assert text_of(await collect(client)) == "Echo: Say hello."


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_context_too_long_names_the_model(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.context_length_exceeded())
    with pytest.raises(ContextTooLong, match="gpt-4o-mini") as caught:
        await collect(client)
    assert caught.value.limit == 8192, "the limit OpenAI names in its words"


@pytest.mark.asyncio
async def test_server_error_message_carries_the_servers_words(
    openai_server: FakeOpenAIServer,
) -> None:
    llm = make_client(openai_server, max_retries=0)
    body = {"error": {"message": "The engine is overloaded.", "type": "server_error"}}
    openai_server.script(ErrorReply(503, body))
    with pytest.raises(ServerError, match="overloaded") as caught:
        await collect(llm)
    assert "HTTP 503" in str(caught.value)
    await llm.aclose()


@pytest.mark.asyncio
async def test_missing_key_for_openai_raises_missing_api_key_without_a_request() -> None:
    llm = OpenAIClient(LlmSettings())
    assert llm.is_openai
    assert not llm.has_api_key
    with pytest.raises(MissingApiKey):
        await collect(llm)


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_retry_after_ms_is_preferred_to_retry_after(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.rate_limited(retry_after_s=30, retry_after_ms=150), Reply())
    seen: list[StreamEvent] = []
    await collect(client, seen=seen)
    assert [notice.wait_s for notice in notices_in(seen)] == [0.15]


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_base_url_and_key_come_from_the_resolved_environment(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.api_key = KEY
    endpoint = resolve_ai_endpoint(
        {"OPENAI_BASE_URL": openai_server.base_url + "/", "OPENAI_API_KEY": f" {KEY} "}
    )
    llm = OpenAIClient(LlmSettings(base_url=endpoint.base_url, api_key=endpoint.env_api_key))
    assert llm.base_url == openai_server.base_url
    await llm.check_key()
    await llm.aclose()


@pytest.mark.asyncio
async def test_settings_win_over_the_environment(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", unused_loopback_url())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    llm = OpenAIClient(LlmSettings(base_url=openai_server.base_url, api_key=KEY))
    await collect(llm)
    assert openai_server.requests_to("chat")[0].headers["authorization"] == f"Bearer {KEY}"
    await llm.aclose()


def test_openai_is_the_default_server() -> None:
    assert OpenAIClient(LlmSettings()).base_url == "https://api.openai.com/v1"


@pytest.mark.asyncio
async def test_compatible_server_without_a_key_gets_a_placeholder_key(
    openai_server: FakeOpenAIServer,
) -> None:
    llm = OpenAIClient(LlmSettings(base_url=openai_server.base_url))
    await collect(llm)
    assert openai_server.requests_to("chat")[0].headers["authorization"] == "Bearer not-needed"
    await llm.aclose()


# -- models and keys -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_compatible_server_models_are_all_kept_sorted(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ModelsReply(("mistral:7b", "Llama3:8b", "gpt-4o", "codellama")))
    models = await client.list_models()
    assert models == ModelList(("codellama", "gpt-4o", "Llama3:8b", "mistral:7b"))


@pytest.mark.asyncio
async def test_a_model_list_that_is_not_one_gives_the_flagged_built_in_list(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    # An ErrorReply sends whatever body it is given, with whatever status.
    openai_server.script(ErrorReply(200, {"models": "none here"}), endpoint="models")
    models = await client.list_models()
    assert models.is_fallback


def test_openai_models_are_filtered_and_ranked_newest_first() -> None:
    available = ["whisper-1", "gpt-3.5-turbo", "dall-e-3", "gpt-4", "gpt-4o-mini", "gpt-4o"]
    assert rank_models(available, openai_only=True) == (
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4",
        "gpt-3.5-turbo",
    )


def test_openai_models_unknown_to_the_app_are_all_offered_rather_than_none() -> None:
    assert rank_models(["gpt-9", "gpt-8"], openai_only=True) == ("gpt-8", "gpt-9")


def test_the_built_in_model_list_begins_with_gpt_labs_newest_models() -> None:
    # Offered when the server cannot be asked (test_llm_clients.py).
    assert ranked_model_ids()[:5] == ("gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-4", "gpt-4-32k")


@pytest.mark.asyncio
async def test_check_key_on_an_unreachable_server_raises_server_unreachable() -> None:
    llm = OpenAIClient(LlmSettings(base_url=unused_loopback_url(), api_key=KEY))
    with pytest.raises(ServerUnreachable):
        await llm.check_key()
    await llm.aclose()


# -- moderation ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_moderation_reports_flagged_categories(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ModerationReply(flagged=True, categories=("harassment",)))
    result = await client.moderate("some text")
    assert result == ModerationResult(flagged=True, categories=("harassment",))
    assert openai_server.requests_to("moderations")[0].body["input"] == "some text"


@pytest.mark.asyncio
async def test_moderation_of_harmless_text_is_not_flagged(client: LlmClient) -> None:
    assert await client.moderate("hello") == ModerationResult(flagged=False, categories=())


@pytest.mark.asyncio
async def test_server_without_moderation_gives_none_and_is_not_asked_again(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.moderation_available = False
    assert await client.moderate("hello") is None
    assert await client.moderate("hello again") is None
    assert len(openai_server.requests_to("moderations")) == 1


@pytest.mark.asyncio
async def test_moderation_on_an_unreachable_server_gives_none() -> None:
    llm = OpenAIClient(LlmSettings(base_url=unused_loopback_url(), api_key=KEY))
    assert await llm.moderate("hello") is None
    await llm.aclose()


# -- model facts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-mini", 128_000),
        ("gpt-4-turbo", 128_000),
        ("gpt-4-32k", 32_768),
        ("gpt-4", 8_192),
        ("gpt-3.5-turbo", 16_384),
        ("gpt-3.5-turbo-16k", 16_384),
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4-0613", 8_192),
        ("llama3:8b", 4_096),
        ("gpt-4.1", 4_096),
    ],
)
def test_context_windows_are_gpt_labs(model: str, window: int) -> None:
    assert context_window(model) == window


@pytest.mark.parametrize(
    ("model", "limit"),
    [
        ("gpt-4o", 16_384),
        ("gpt-4o-mini", 16_384),
        ("gpt-4-turbo", 4_096),
        ("gpt-4", 8_192),
        ("gpt-3.5-turbo", 4_096),
        ("mistral", None),
    ],
)
def test_max_output_tokens_per_model(model: str, limit: int | None) -> None:
    assert max_output_tokens(model) == limit


def test_cost_estimate_uses_list_prices() -> None:
    assert estimate_cost_usd("gpt-4o", 1_000_000, 100_000) == pytest.approx(2.5 + 1.0)
    assert estimate_cost_usd("gpt-4o-mini-2024-07-18", 2_000, 1_000) == pytest.approx(0.0009)


def test_cost_of_an_unknown_model_is_unknown() -> None:
    assert estimate_cost_usd("llama3:8b", 1_000, 1_000) is None
