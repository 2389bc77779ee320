"""The LLM client against a real OpenAI-compatible loopback server, with the real openai client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.config import resolve_ai_endpoint
from gptlab_desktop.models import ModelConfig, Role
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
from gptlab_desktop.services.llm import (
    OpenAIClient,
    context_window,
    estimate_cost_usd,
    max_output_tokens,
    rank_models,
)
from gptlab_desktop.services.llm_api import (
    ChatTurn,
    LlmClient,
    LlmSettings,
    ModelList,
    ModerationResult,
    RetryNotice,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
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

KEY = "sk-proj-Secret0123456789abcdefXYZ"
CONFIG = ModelConfig(model="gpt-4o-mini", max_tokens=300, temperature=0.5)
TURNS = (
    ChatTurn(Role.SYSTEM, "You are a helpful assistant."),
    ChatTurn(Role.USER, "Say hello."),
)
LONG_TEXT = (
    "Hello, wörld! 👋🏽 Here is **Markdown**:\n\n- one\n- two\n\n```py\nprint('x')\n```\n" * 20
)


def make_client(server: FakeOpenAIServer, **settings: object) -> LlmClient:
    """A client of the loopback server with short timeouts (nothing here should be slow)."""
    options: dict[str, object] = {"timeout_s": 5.0, "connect_timeout_s": 2.0}
    options.update(settings)
    return OpenAIClient(LlmSettings(base_url=server.base_url, api_key=KEY, **options))  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def client(openai_server: FakeOpenAIServer) -> AsyncIterator[LlmClient]:
    llm = make_client(openai_server)
    yield llm
    await llm.aclose()


async def collect(
    llm: LlmClient, turns: tuple[ChatTurn, ...] = TURNS, *, seen: list[StreamEvent] | None = None
) -> list[StreamEvent]:
    """Every event of a reply; each also goes into ``seen`` as it comes (kept if it fails)."""
    events = [] if seen is None else seen
    async for event in llm.stream_chat(turns, CONFIG):
        events.append(event)
    return events


def notices_in(events: list[StreamEvent]) -> list[RetryNotice]:
    return [event for event in events if isinstance(event, RetryNotice)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


# -- streaming -----------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
async def test_streamed_text_is_assembled_exactly(
    client: LlmClient, openai_server: FakeOpenAIServer, chunk_size: int
) -> None:
    openai_server.script(Reply(text=LONG_TEXT, chunk_size=chunk_size))
    events = await collect(client)
    assert text_of(events) == LONG_TEXT
    deltas = [event for event in events if isinstance(event, TextDelta)]
    assert len(deltas) == -(-len(LONG_TEXT) // chunk_size)


@pytest.mark.asyncio
async def test_stream_ends_with_finish_reason_usage_and_model(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(Reply(text="Hi!", usage=(12, 3), finish_reason="length"))
    events = await collect(client)
    assert events[-1] == StreamEnd(
        finish_reason="length", usage=Usage(12, 3, 15), model="gpt-4o-mini"
    )
    assert all(isinstance(event, TextDelta) for event in events[:-1])


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


@pytest.mark.asyncio
async def test_complete_returns_the_whole_reply(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(Reply(text="A short title", chunk_size=3))
    assert await client.complete(TURNS, CONFIG) == "A short title"


@pytest.mark.asyncio
async def test_leaving_a_stream_early_leaves_the_client_usable(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(Reply(text=LONG_TEXT, chunk_size=5, delay_s=0.01))
    stream = client.stream_chat(TURNS, CONFIG)
    async for _event in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    openai_server.script(Reply(text="Still here."))
    assert text_of(await collect(client)) == "Still here."


# -- interrupted streams -------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(Reply(text="abcdefghij", chunk_size=2, drop_after_chunks=3), id="dropped"),
        pytest.param(
            Reply(text="abcdef", chunk_size=2, finish_reason=None, omit_done=True),
            id="ended-without-done-or-finish-reason",
        ),
    ],
)
async def test_a_cut_stream_yields_the_partial_text_then_raises_connection_lost(
    client: LlmClient, openai_server: FakeOpenAIServer, cut: Reply
) -> None:
    openai_server.script(cut)
    received: list[str] = []
    with pytest.raises(ConnectionLost):
        async for event in client.stream_chat(TURNS, CONFIG):
            assert isinstance(event, TextDelta), "an interrupted reply never reports an end"
            received.append(event.text)
    assert "".join(received) == "abcdef"


@pytest.mark.asyncio
async def test_stream_with_finish_reason_but_no_done_marker_is_complete(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(Reply(text="abc", omit_done=True))
    events = await collect(client)
    assert isinstance(events[-1], StreamEnd)
    assert text_of(events) == "abc"


@pytest.mark.asyncio
async def test_unreachable_server_raises_server_unreachable_quickly() -> None:
    url = unused_loopback_url()
    llm = OpenAIClient(LlmSettings(base_url=url, api_key=KEY))
    started = time.monotonic()
    with pytest.raises(ServerUnreachable) as caught:
        await collect(llm)
    assert time.monotonic() - started < 3
    assert url in str(caught.value)
    await llm.aclose()


@pytest.mark.asyncio
async def test_server_silent_beyond_the_timeout_raises_llm_timeout(
    openai_server: FakeOpenAIServer,
) -> None:
    llm = make_client(openai_server, timeout_s=0.3)
    openai_server.script(Reply(text="late", delay_s=3))
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
        (ErrorReply.invalid_api_key(KEY), InvalidApiKey),
        (ErrorReply(403), ModelNotAvailable),
        (ErrorReply.model_not_found("gpt-4o-mini"), ModelNotAvailable),
        (ErrorReply.insufficient_quota(), QuotaExhausted),
        (ErrorReply.context_length_exceeded(), ContextTooLong),
        (ErrorReply(500), ServerError),
        (ErrorReply(503), ServerError),
        (ErrorReply(422), RequestRejected),
    ],
    ids=lambda value: getattr(value, "__name__", None) or str(getattr(value, "status", "")),
)
async def test_error_status_maps_to_its_typed_error(
    openai_server: FakeOpenAIServer, reply: ErrorReply, error_type: type[LlmError]
) -> None:
    llm = make_client(openai_server, max_retries=0)
    openai_server.script(reply)
    with pytest.raises(error_type) as caught:
        await collect(llm)
    assert type(caught.value) is error_type
    assert caught.value.status == reply.status
    assert caught.value.message.endswith((".", ")")), "a whole sentence for the user"
    await llm.aclose()


@pytest.mark.asyncio
async def test_model_not_available_names_the_model(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.model_not_found("gpt-4o-mini"))
    with pytest.raises(ModelNotAvailable) as caught:
        await collect(client)
    assert caught.value.model == "gpt-4o-mini"
    assert "gpt-4o-mini" in str(caught.value)


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
async def test_rate_limit_is_retried_after_retry_after_and_succeeds(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.rate_limited(retry_after_s=0.4), Reply(text="Done."))
    seen: list[StreamEvent] = []
    started = time.monotonic()
    events = await collect(client, seen=seen)
    assert time.monotonic() - started >= 0.4
    assert text_of(events) == "Done."
    assert [(notice.attempt, notice.wait_s) for notice in notices_in(seen)] == [(1, 0.4)]
    assert "too many requests" in notices_in(seen)[0].reason
    assert len(openai_server.requests_to("chat")) == 2


@pytest.mark.asyncio
async def test_retry_after_ms_is_preferred_to_retry_after(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.rate_limited(retry_after_s=30, retry_after_ms=150), Reply())
    seen: list[StreamEvent] = []
    await collect(client, seen=seen)
    assert [notice.wait_s for notice in notices_in(seen)] == [0.15]


@pytest.mark.asyncio
async def test_rate_limit_gives_up_after_max_retries(openai_server: FakeOpenAIServer) -> None:
    llm = make_client(openai_server, max_retries=2)
    openai_server.script(*[ErrorReply.rate_limited(retry_after_s=0.05)] * 3, Reply())
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimited) as caught:
        await collect(llm, seen=seen)
    assert caught.value.retry_after_s == 0.05
    assert [notice.attempt for notice in notices_in(seen)] == [1, 2]
    assert len(openai_server.requests_to("chat")) == 3
    await llm.aclose()


@pytest.mark.asyncio
async def test_rate_limit_asking_for_a_long_wait_fails_at_once(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.rate_limited(retry_after_s=3600))
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimited) as caught:
        await collect(client, seen=seen)
    assert caught.value.retry_after_s == 3600
    assert notices_in(seen) == []


@pytest.mark.asyncio
async def test_insufficient_quota_is_not_retried(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply.insufficient_quota(), Reply())
    seen: list[StreamEvent] = []
    with pytest.raises(QuotaExhausted):
        await collect(client, seen=seen)
    assert notices_in(seen) == []
    assert len(openai_server.requests_to("chat")) == 1


@pytest.mark.asyncio
async def test_server_error_is_retried_with_backoff(
    openai_server: FakeOpenAIServer,
) -> None:
    llm = make_client(openai_server, max_retries=1)
    openai_server.script(ErrorReply(502), Reply(text="Recovered."))
    seen: list[StreamEvent] = []
    assert text_of(await collect(llm, seen=seen)) == "Recovered."
    assert [(notice.attempt, notice.wait_s) for notice in notices_in(seen)] == [(1, 1.0)]
    await llm.aclose()


# -- the key never leaks -------------------------------------------------------------------------


def _key_fragments() -> list[str]:
    # OpenAI echoes the key's first and last characters; neither may surface anywhere.
    return [KEY, KEY[:12], KEY[6:20], KEY[-10:], KEY[-4:], f"{KEY[:6]}********"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        ErrorReply.invalid_api_key(KEY),
        ErrorReply(400, {"error": {"message": f"Bad key {KEY} in request", "code": None}}),
        ErrorReply(403, {"error": {"message": f"Key {KEY[:12]}*** may not use this model"}}),
        ErrorReply(500, {"error": {"message": f"Internal error for Bearer {KEY}"}}),
        ErrorReply(429, {"error": {"message": f"Slow down {KEY}", "code": "rate_limit"}}),
        ErrorReply(429, {"error": {"message": f"Quota of {KEY}", "code": "insufficient_quota"}}),
        ErrorReply(404, {"error": {"message": f"No route for {KEY}"}}),
    ],
    ids=["401-echo", "400", "403", "500", "429", "quota", "404"],
)
async def test_api_key_never_appears_in_an_error(
    openai_server: FakeOpenAIServer, reply: ErrorReply, caplog: pytest.LogCaptureFixture
) -> None:
    llm = make_client(openai_server, max_retries=0)
    openai_server.script(reply)
    caplog.set_level("DEBUG")
    with pytest.raises(LlmError) as caught:
        await collect(llm)
    error = caught.value
    shown = "\n".join(
        [str(error), repr(error), *map(str, error.args), *traceback.format_exception(error)]
    )
    logged = caplog.text
    for fragment in _key_fragments():
        assert fragment not in shown
        assert fragment not in logged
    await llm.aclose()


def test_api_key_is_not_in_the_settings_or_client_repr() -> None:
    settings = LlmSettings(base_url="http://127.0.0.1:1/v1", api_key=KEY)
    assert KEY not in repr(settings)
    assert KEY not in repr(OpenAIClient(settings))


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


def test_importing_the_llm_service_does_not_import_openai() -> None:
    code = (
        "import sys\n"
        "from gptlab_desktop.services.llm import OpenAIClient\n"
        "from gptlab_desktop.services.llm_api import LlmSettings\n"
        "import gptlab_desktop.services.tokens\n"
        "OpenAIClient(LlmSettings(base_url='http://127.0.0.1:1/v1'))\n"
        "assert 'openai' not in sys.modules, 'openai imported'\n"
        "assert 'httpx2' not in sys.modules, 'httpx2 imported'\n"
        "assert 'tiktoken' not in sys.modules, 'tiktoken imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.asyncio
async def test_warm_up_imports_openai() -> None:
    await OpenAIClient(LlmSettings(base_url="http://127.0.0.1:1/v1")).warm_up()
    assert "openai" in sys.modules


@pytest.mark.asyncio
async def test_a_key_saved_while_the_warm_up_builds_the_client_is_the_one_sent(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    warming = asyncio.ensure_future(client.warm_up())
    # White-box: wait until the warm-up is building its client (with the old key) in a thread.
    while not client._clients.is_building:
        await asyncio.sleep(0)
    await client.use_api_key("sk-the-new-key")
    await warming
    openai_server.script(Reply(text="ok"))
    assert await client.complete(TURNS, CONFIG) == "ok"
    assert openai_server.requests_to("chat")[0].headers["authorization"] == "Bearer sk-the-new-key"


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


@pytest.mark.asyncio
async def test_model_list_is_asked_once_and_cached(
    client: LlmClient, openai_server: FakeOpenAIServer
) -> None:
    assert client.cached_models is None
    first = await client.list_models()
    second = await client.list_models()
    assert first == second == client.cached_models
    assert not first.is_fallback
    assert len(openai_server.requests_to("models")) == 1


@pytest.mark.asyncio
async def test_unreachable_server_gives_the_flagged_built_in_model_list() -> None:
    llm = OpenAIClient(LlmSettings(base_url=unused_loopback_url(), api_key=KEY))
    models = await llm.list_models()
    assert models == ModelList(ranked_model_ids(), is_fallback=True)
    assert models.models[:5] == ("gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-4", "gpt-4-32k")
    assert llm.cached_models is None, "a fallback is not remembered: the next call asks again"
    await llm.aclose()


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


@pytest.mark.asyncio
async def test_check_key_accepts_the_right_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.api_key = KEY
    llm = make_client(openai_server)
    await llm.check_key()
    assert llm.cached_models is not None
    await llm.aclose()


@pytest.mark.asyncio
async def test_check_key_rejects_a_wrong_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.api_key = "sk-the-right-one-0000000000"
    llm = make_client(openai_server)
    with pytest.raises(InvalidApiKey):
        await llm.check_key()
    await llm.aclose()


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


@pytest.mark.asyncio
async def test_a_new_key_is_used_for_the_next_request(openai_server: FakeOpenAIServer) -> None:
    openai_server.api_key = "sk-new-key"
    client = OpenAIClient(LlmSettings(base_url=openai_server.base_url, api_key="sk-old-key"))
    try:
        with pytest.raises(InvalidApiKey):
            await client.check_key()
        await client.use_api_key("sk-new-key")
        await client.check_key()
        assert openai_server.requests[-1].headers["authorization"] == "Bearer sk-new-key"
    finally:
        await client.aclose()
