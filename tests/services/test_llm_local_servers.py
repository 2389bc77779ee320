"""The OpenAI-compatible client against local servers as measured (llama.cpp, Ollama, LM Studio,
OpenRouter): the fake server's personalities, driven by the real openai SDK."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.models import ModelConfig, Role
from gptlab_desktop.services import llm as llm_module
from gptlab_desktop.services.errors import (
    ConnectionLost,
    ContextTooLong,
    LlmError,
    ModelNotAvailable,
    RequestRejected,
    ServerError,
)
from gptlab_desktop.services.llm import OpenAIClient, server_root
from gptlab_desktop.services.llm_api import (
    ChatTurn,
    ModelList,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from gptlab_desktop.services.llm_errors import named_context_limit, server_words
from tests.fakes import (
    SMOLLM2_PATH,
    EmptyStream,
    ErrorReply,
    FakeOpenAIServer,
    LmStudio,
    Ollama,
    OpenRouter,
    Reply,
    Vllm,
    count_prompt_tokens,
    cut_to_words,
)
from tests.services.llm_helpers import OPENAI_KEY as KEY
from tests.services.llm_helpers import ReplyReader, quick_settings, text_of

CONFIG = ModelConfig(model="gpt-4o-mini", max_tokens=300, temperature=0.5)
# Words that may be in a request or an answer, never in a log line.
PRIVATE = "marmalade-7731"
TURNS = (
    ChatTurn(Role.SYSTEM, "You are a helpful assistant."),
    ChatTurn(Role.USER, f"Tell me about {PRIVATE}."),
)
# 2,100 fake tokens of conversation (count_prompt_tokens: four characters each).
TOO_LONG = (ChatTurn(Role.USER, "x" * 8_400),)
collect = ReplyReader(TURNS, CONFIG)


def make_client(server: FakeOpenAIServer, **settings: object) -> OpenAIClient:
    """A client of the loopback server with short timeouts and no retries."""
    return OpenAIClient(quick_settings(server.base_url, KEY, **{"max_retries": 0, **settings}))


@pytest_asyncio.fixture
async def client(openai_server: FakeOpenAIServer) -> AsyncIterator[OpenAIClient]:
    """A client of the OpenAI-compatible loopback server."""
    async with contextlib.aclosing(make_client(openai_server)) as llm:
        yield llm


async def listed_models(server: FakeOpenAIServer, preset: str = "") -> ModelList:
    """The model list a client of ``server`` is given, knowing its ``preset`` ("": none)."""
    async with contextlib.aclosing(make_client(server, preset=preset)) as llm:
        return await llm.list_models()


@pytest_asyncio.fixture
async def llama_client(llama_cpp: FakeOpenAIServer) -> AsyncIterator[OpenAIClient]:
    """A client of ``llama_cpp`` that knows its preset."""
    async with contextlib.aclosing(make_client(llama_cpp, preset="llamacpp")) as llm:
        yield llm


# -- a stream with no event at all ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_llama_cpp_overflow_with_an_empty_stream_is_context_too_long_with_its_limit(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(ContextTooLong) as caught:
        await collect(llama_client, TOO_LONG, seen=seen)
    assert caught.value.limit == 2048
    assert "2,048 tokens" in str(caught.value)
    assert seen == [], "nothing arrived, so nothing is said to be kept"


@pytest.mark.asyncio
async def test_an_empty_stream_is_asked_once_more_with_the_same_request_unstreamed(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    with pytest.raises(ContextTooLong):
        await collect(llama_client, TOO_LONG)
    streamed, unstreamed = llama_cpp.requests_to("chat")
    assert streamed.body["stream"] is True
    assert unstreamed.body["stream"] is False
    assert "stream_options" not in unstreamed.body
    same = {key: value for key, value in streamed.body.items() if key != "stream_options"}
    assert unstreamed.body == {**same, "stream": False}


@pytest.mark.asyncio
async def test_openai_style_words_after_an_empty_stream_give_the_limit_too(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(EmptyStream(), ErrorReply.context_length_exceeded())
    with pytest.raises(ContextTooLong) as caught:
        await collect(client)
    assert caught.value.limit == 8192


@pytest.mark.asyncio
async def test_a_server_that_streams_nothing_but_answers_unstreamed_gives_that_reply(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(EmptyStream(), Reply(text="The whole answer.", usage=(9, 4)))
    events = await collect(client)
    assert events == [
        TextDelta("The whole answer."),
        StreamEnd(finish_reason="stop", usage=Usage(9, 4, 13), model="gpt-4o-mini"),
    ]


@pytest.mark.asyncio
async def test_a_stream_with_events_but_no_finish_reason_stays_connection_lost(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(Reply(text="abc", finish_reason=None, omit_done=True))
    with pytest.raises(ConnectionLost):
        await collect(client)
    assert len(openai_server.requests_to("chat")) == 1, "no second request for a cut stream"


@pytest.mark.asyncio
async def test_empty_both_streamed_and_unstreamed_is_a_server_error(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(EmptyStream(), EmptyStream())
    with pytest.raises(LlmError) as caught:
        await collect(client)
    assert isinstance(caught.value, ServerError)


@pytest.mark.asyncio
async def test_a_context_limit_on_an_openai_style_server_refuses_streams_at_once(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.context_limit = 1000
    with pytest.raises(ContextTooLong) as caught:
        await collect(client, TOO_LONG)
    assert caught.value.limit == 1000
    assert len(openai_server.requests_to("chat")) == 1


@pytest.mark.asyncio
async def test_a_prompt_within_the_context_is_answered(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    fits = (ChatTurn(Role.USER, "x" * 8_192),)
    assert count_prompt_tokens([{"role": "user", "content": fits[0].content}]) == 2048
    events = await collect(llama_client, fits, ModelConfig(model="any", max_tokens=50))
    assert isinstance(events[-1], StreamEnd)
    assert len(llama_cpp.requests_to("chat")) == 1


# -- the context limit named in an error ---------------------------------------------------------

LLAMA_CPP_OVERFLOW = {
    "code": 400,
    "message": "the request exceeds the available context size, try increasing it",
    "type": "exceed_context_size_error",
    "n_prompt_tokens": 2100,
    "n_ctx": 2048,
}


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        pytest.param(LLAMA_CPP_OVERFLOW, 2048, id="llama.cpp-as-the-sdk-keeps-it"),
        pytest.param({"error": LLAMA_CPP_OVERFLOW}, 2048, id="llama.cpp-whole-body"),
        pytest.param(
            {
                "message": "This model's maximum context length is 8192 tokens. However, your "
                "messages resulted in 9000 tokens.",
                "code": "context_length_exceeded",
            },
            8192,
            id="openai",
        ),
        pytest.param(
            {
                "detail": "This model's maximum context length is 4096 tokens. However, you "
                "requested 5000 tokens (4000 in the messages, 1000 in the completion)."
            },
            4096,
            id="vllm",
        ),
        pytest.param(
            "Trying to keep the first 2100 tokens when context the overflows. However, the "
            "model is loaded with context length of only 2,048 tokens, which is not enough.",
            2048,
            id="lm-studio",
        ),
        pytest.param({"error": "prompt is longer than the context size (4096)"}, 4096, id="size"),
        pytest.param({"message": "the request exceeds the available context size"}, None),
        pytest.param("Bad request", None, id="none"),
    ],
)
def test_named_context_limit_reads_each_servers_wording(body: object, limit: int | None) -> None:
    assert named_context_limit(body) == limit


# -- error bodies of any shape -------------------------------------------------------------------


# The server's words in most shapes below; "zebra-17" marks them, so the log can be searched.
WORDS = "temperature zebra-17 is out of range"
VALIDATION_ERROR = {
    "loc": ["body", "temperature"],
    "msg": "zebra-17 should be less than or equal to 2",
    "type": "less_than_equal",
    "input": 5,
}
BAD_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title><style>p{}</style></head><body>"
    "<center><h1>zebra-17 Bad Gateway</h1></center><hr><center>nginx</center>"
    "</body></html>"
)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "words"),
    [
        pytest.param(ErrorReply(400, {"error": {"message": WORDS}}), WORDS, id="error-message"),
        pytest.param(ErrorReply(400, {"error": WORDS}), WORDS, id="error-text"),
        pytest.param(ErrorReply(400, {"detail": WORDS}), WORDS, id="detail-text"),
        pytest.param(
            ErrorReply(422, {"detail": [VALIDATION_ERROR]}),
            "temperature: zebra-17 should be less than or equal to 2",
            id="detail-validation-list",
        ),
        pytest.param(ErrorReply(400, {"message": WORDS}), WORDS, id="message"),
        pytest.param(
            ErrorReply(400, f"Bad request: {WORDS}"), f"Bad request: {WORDS}", id="plain-text"
        ),
        pytest.param(ErrorReply(502, BAD_GATEWAY_PAGE), "zebra-17 Bad Gateway nginx", id="html"),
    ],
)
async def test_error_bodies_of_any_shape_keep_the_servers_words_out_of_the_log(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
    reply: ErrorReply,
    words: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_server.script(reply)
    caplog.set_level("INFO")
    caplog.set_level("DEBUG", logger="gptlab_desktop")
    with pytest.raises(LlmError) as caught:
        await collect(client)
    assert words in str(caught.value)
    assert "<" not in str(caught.value)
    assert "zebra-17" not in caplog.text, "the server's words may quote the request"
    assert PRIVATE not in caplog.text
    assert type(caught.value).__name__ in caplog.text
    assert f"HTTP {reply.status}" in caplog.text


@pytest.mark.asyncio
async def test_a_long_error_page_is_cut_to_a_bounded_length(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(ErrorReply(400, "<html><body>" + "<p>word</p>" * 2000 + "</body></html>"))
    with pytest.raises(RequestRejected) as caught:
        await collect(client)
    assert len(str(caught.value)) < 400


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{"detail": f"Bad key {KEY}"}, {"error": f"Bad key {KEY}"}, f"Bad key Bearer {KEY}"],
    ids=["detail", "error-text", "plain-text"],
)
async def test_keys_are_redacted_from_every_shape(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
    body: object,
) -> None:
    openai_server.script(ErrorReply(400, body))  # type: ignore[arg-type]
    with pytest.raises(RequestRejected) as caught:
        await collect(client)
    assert KEY not in str(caught.value)
    assert KEY[-10:] not in str(caught.value)
    assert "Bad key" in str(caught.value)


@pytest.mark.asyncio
async def test_a_404_not_found_does_not_blame_a_model_it_does_not_name(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.script(ErrorReply(404, {"detail": "Not Found"}))
    with pytest.raises(RequestRejected) as caught:
        await collect(llama_client)
    assert "no such endpoint" in str(caught.value)
    assert "Not Found" in str(caught.value)
    assert "gpt-4o-mini" not in str(caught.value)


@pytest.mark.asyncio
async def test_a_404_naming_the_model_is_model_not_available(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.script(ErrorReply(404, {"detail": "Model gpt-4o-mini is not loaded"}))
    with pytest.raises(ModelNotAvailable):
        await collect(llama_client)


def test_server_words_of_nothing_are_empty() -> None:
    assert server_words(None) == ""
    assert server_words({"code": 500}) == ""


# -- llama.cpp's streams -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_reply_stopped_at_max_tokens_ends_with_length(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.script(Reply(text="one two three four five six seven", chunk_size=3))
    events = await collect(llama_client, config=ModelConfig(model="smol", max_tokens=4))
    assert text_of(events) == "one two three four"
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.finish_reason == "length"


@pytest.mark.asyncio
async def test_llama_cpp_streams_report_no_usage_even_when_asked(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    events = await collect(llama_client)
    assert llama_cpp.requests_to("chat")[0].body["stream_options"] == {"include_usage": True}
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.usage is None


@pytest.mark.asyncio
async def test_llama_cpp_serves_any_model_name_and_echoes_it(
    llama_client: OpenAIClient,
) -> None:
    events = await collect(llama_client, config=ModelConfig(model="my-favourite-model"))
    assert events[-1] == StreamEnd(finish_reason="stop", usage=None, model="my-favourite-model")


@pytest.mark.asyncio
async def test_llama_cpp_lists_its_models_file(llama_client: OpenAIClient) -> None:
    models = await llama_client.list_models()
    assert models.models == (SMOLLM2_PATH,)
    assert not models.is_fallback


@pytest.mark.asyncio
async def test_llama_cpp_has_no_moderation_and_is_asked_once(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    assert await llama_client.moderate("hello") is None
    assert await llama_client.moderate("hello again") is None
    assert len(llama_cpp.requests_to("moderations")) == 1


# -- one request slot ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_one_slot_interrupts_the_older_of_two_overlapping_requests(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.script(
        Reply(text="a slow and long reply " * 20, chunk_size=4, delay_s=0.02),
        Reply(text="A title"),
    )
    older = llama_client.stream_chat(TURNS, CONFIG)
    first = await anext(older)
    assert isinstance(first, TextDelta)
    title = await llama_client.complete((ChatTurn(Role.USER, "Name this chat."),), CONFIG)
    assert title == "A title"
    with pytest.raises(ConnectionLost):
        async for _event in older:
            pass
    reply_request, title_request = llama_cpp.requests_to("chat")
    assert llama_cpp.interrupted_requests == [reply_request]
    assert title_request not in llama_cpp.interrupted_requests


@pytest.mark.asyncio
async def test_one_slot_interrupts_nothing_when_requests_take_turns(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    for _ in range(5):
        await collect(llama_client)
        await llama_client.complete(TURNS, CONFIG)
    assert len(llama_cpp.requests_to("chat")) == 10
    assert llama_cpp.interrupted_requests == []


@pytest.mark.asyncio
async def test_a_server_with_many_slots_interrupts_nothing(
    client: OpenAIClient,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.script(Reply(text="slow " * 20, chunk_size=5, delay_s=0.01), Reply(text="ok"))
    older = client.stream_chat(TURNS, CONFIG)
    await anext(older)
    assert await client.complete(TURNS, CONFIG) == "ok"
    assert text_of([event async for event in older]) == ("slow " * 20)[5:]
    assert openai_server.interrupted_requests == []


# -- context windows -----------------------------------------------------------------------------


def test_the_server_root_is_the_base_url_without_v1() -> None:
    assert server_root("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080"
    assert server_root("http://host:11434/v1") == "http://host:11434"
    assert server_root("http://proxy/llama") == "http://proxy/llama"


@pytest.mark.asyncio
async def test_llama_cpp_tells_its_running_context_in_props(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    models = await llama_client.list_models()
    assert models.context_windows == {SMOLLM2_PATH: 2048}, "running, not trained (8,192)"
    (props,) = llama_cpp.requests_to("props")
    assert props.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.asyncio
async def test_without_props_the_trained_context_is_the_last_resort(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.script(ErrorReply(500), endpoint="props")
    models = await llama_client.list_models()
    assert models.context_windows == {SMOLLM2_PATH: 8192}
    assert not models.is_fallback


@pytest.mark.asyncio
async def test_a_server_of_no_known_preset_is_not_asked_where_it_does_not_say(
    llama_cpp: FakeOpenAIServer,
) -> None:
    models = await listed_models(llama_cpp)
    assert models.context_windows == {SMOLLM2_PATH: 8192}
    assert llama_cpp.requests_to("props") == []


@pytest.mark.asyncio
async def test_a_slow_props_never_holds_up_the_model_list(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm_module, "CONTEXT_WINDOW_TIMEOUT_S", 0.2)
    llama_cpp.script(ErrorReply(500, delay_s=3), endpoint="props")
    started = time.monotonic()
    models = await llama_client.list_models()
    assert time.monotonic() - started < 1.5
    assert models.models == (SMOLLM2_PATH,)
    assert models.context_windows == {SMOLLM2_PATH: 8192}


@pytest.mark.asyncio
async def test_ollama_tells_each_models_context_in_api_show() -> None:
    ollama = Ollama(
        models={"llama3.2:3b": 131_072, "qwen2.5:0.5b": 32_768, "phi3:mini": 4_096},
        num_ctx={"qwen2.5:0.5b": 8_192},
    )
    with FakeOpenAIServer(personality=ollama) as server:
        models = await listed_models(server, "ollama")
        shown = sorted(request.body["model"] for request in server.requests_to("show"))
    assert models.context_windows == {
        "llama3.2:3b": 131_072,
        "qwen2.5:0.5b": 8_192,  # the num_ctx it runs with
        "phi3:mini": 4_096,
    }
    assert shown == ["llama3.2:3b", "phi3:mini", "qwen2.5:0.5b"]


@pytest.mark.asyncio
async def test_ollama_is_asked_about_twenty_models_at_most() -> None:
    ollama = Ollama(models={f"model-{number:02}:latest": 4_096 for number in range(25)})
    with FakeOpenAIServer(personality=ollama) as server:
        models = await listed_models(server, "ollama")
        asked = len(server.requests_to("show"))
    assert len(models.models) == 25
    assert asked == 20
    assert len(models.context_windows) == 20


@pytest.mark.asyncio
async def test_an_ollama_model_it_cannot_show_has_no_context_window() -> None:
    with FakeOpenAIServer(personality=Ollama(models={"llama3.2:3b": 131_072})) as server:
        server.models = ("llama3.2:3b", "gone:latest")
        models = await listed_models(server, "ollama")
    assert models.models == ("gone:latest", "llama3.2:3b")
    assert models.context_windows == {"llama3.2:3b": 131_072}


@pytest.mark.asyncio
async def test_openrouter_lists_context_lengths_with_its_models() -> None:
    with FakeOpenAIServer(personality=OpenRouter()) as server:
        models = await listed_models(server, "openrouter")
        requests = server.requests
    assert models.context_windows == {
        "meta-llama/llama-3.1-8b-instruct": 131_072,
        "mistralai/mistral-7b-instruct": 32_768,
    }
    assert [request.path for request in requests] == ["/v1/models"], "nothing else asked"


@pytest.mark.asyncio
async def test_lm_studio_tells_loaded_and_maximum_contexts() -> None:
    studio = LmStudio(
        models={"qwen2.5-7b-instruct": 32_768, "phi-3-mini-4k-instruct": 4_096},
        loaded={"qwen2.5-7b-instruct": 8_192},
    )
    with FakeOpenAIServer(personality=studio) as server:
        models = await listed_models(server, "lmstudio")
    assert models.context_windows == {
        "qwen2.5-7b-instruct": 8_192,
        "phi-3-mini-4k-instruct": 4_096,
    }


@pytest.mark.asyncio
async def test_vllm_lists_the_length_it_serves_with_its_models() -> None:
    with FakeOpenAIServer(personality=Vllm()) as server:
        models = await listed_models(server, "vllm")
    assert models.context_windows == {"Qwen/Qwen2.5-1.5B-Instruct": 32_768}


@pytest.mark.asyncio
async def test_an_openai_style_list_tells_no_context_windows(
    openai_server: FakeOpenAIServer,
) -> None:
    models = await listed_models(openai_server, "openai")
    assert models.context_windows == {}
    assert [request.path for request in openai_server.requests] == ["/v1/models"]


# -- the fake's own rules ------------------------------------------------------------------------


def test_prompt_tokens_are_four_characters_each_rounded_up() -> None:
    messages = [{"role": "system", "content": "abcde"}, {"role": "user", "content": "abc"}]
    assert count_prompt_tokens(messages) == 2
    assert count_prompt_tokens([]) == 0


def test_replies_are_cut_after_max_tokens_words() -> None:
    assert cut_to_words("one two  three", 2) == ("one two", True)
    assert cut_to_words("one two", 2) == ("one two", False)
    assert cut_to_words("one two", None) == ("one two", False)


@pytest.mark.asyncio
async def test_unknown_paths_on_llama_cpp_answer_in_its_detail_shape(
    llama_cpp: FakeOpenAIServer,
) -> None:
    llm = make_client(llama_cpp)
    client = await llm._clients.client()
    import openai

    with pytest.raises(openai.NotFoundError) as caught:
        await client.get("/embeddings", cast_to=object)
    assert caught.value.body == {"detail": "Not Found"}
    await llm.aclose()


@pytest.mark.asyncio
async def test_a_reply_its_client_left_is_not_counted_as_interrupted(
    llama_client: OpenAIClient, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.script(Reply(text="a slow reply " * 20, chunk_size=4, delay_s=0.05))
    stream = llama_client.stream_chat(TURNS, CONFIG)
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    assert text_of(await collect(llama_client)) == f"Echo: Tell me about {PRIVATE}."
    assert llama_cpp.interrupted_requests == []
