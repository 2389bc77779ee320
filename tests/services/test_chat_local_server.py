"""A chat with a server like llama.cpp's (as measured, DESIGN.md): a small context window it
enforces with an empty streamed answer, no usage in its streams, file paths for model names,
and one request slot. The chat goes on past the window without breaking, and a title request
never cuts a reply short.

Real parts: a real SQLite file, the real openai client, a loopback server with llama.cpp's
personality (tests/fakes/openai_server.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.preferences import ProviderProfile
from gptlab_desktop.services.chat import NothingToDo
from gptlab_desktop.services.chat_events import ReplyFinished
from tests.fakes.openai_server import SMOLLM2_PATH, FakeOpenAIServer, LlamaCpp, Reply
from tests.services.conftest import ProviderChat
from tests.services.test_chat import collect

pytestmark = pytest.mark.asyncio

# Ordinary prose: about four characters a token for the app's tokenizer and for the server's.
SENTENCE = "The gardener waters the young tomatoes early, before the sun is high. "


def prose(sentences: int) -> str:
    return SENTENCE * sentences


@pytest.fixture
def llama() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(personality=LlamaCpp(n_ctx=2048)) as server:
        yield server


@pytest.fixture
def chat(chat_on: Callable[..., ProviderChat], llama: FakeOpenAIServer) -> ProviderChat:
    return chat_on(ProviderProfile("home", "llama.cpp", "llamacpp", llama.base_url))


async def chat_for(chat: ProviderChat, llama: FakeOpenAIServer, **assistant: str) -> list[object]:
    """Eight turns of some 150 tokens each way: twice the server's window in all."""
    session = await chat.start(**assistant)
    ends: list[object] = []
    for turn in range(8):
        llama.script(Reply(f"Reply {turn}. " + prose(8), usage=False))
        events = await collect(chat.engine.send(session.id, f"Question {turn}. " + prose(8)))
        ends.append(events[-1])
    assert all(isinstance(end, ReplyFinished) for end in ends), ends
    messages = await chat.store.list_messages(session.id)
    # The transcript keeps everything; no empty or interrupted reply was left behind.
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT] * 8
    assert all(m.state is MessageState.COMPLETE and m.message for m in messages)
    # Usage the server did not send is counted here, and said to be an estimate.
    assert all(m.meta.usage_estimated for m in messages if m.role is Role.ASSISTANT)
    return ends


async def test_a_chat_goes_on_past_the_servers_context_window(
    chat: ProviderChat, llama: FakeOpenAIServer
) -> None:
    # The app does not know this model's window (4,096 tokens assumed) until the server says.
    await chat_for(chat, llama)
    learned = chat.providers.preferences.learned_context_windows["home"]
    assert 0 < learned["gpt-4o-mini"] <= 2048
    assert len(llama.requests_to("chat")) > 8  # some were refused, and planned again


async def test_a_listed_window_is_planned_for_before_anything_overflows(
    chat: ProviderChat, llama: FakeOpenAIServer
) -> None:
    listed = await chat.providers.list_models("home")
    assert listed.models == (SMOLLM2_PATH,)
    assert listed.context_windows[SMOLLM2_PATH] == 2048
    await chat_for(chat, llama, model=SMOLLM2_PATH)
    # Each request fitted: the server never had to refuse one.
    assert len(llama.requests_to("chat")) == 8
    assert "home" not in chat.providers.preferences.learned_context_windows


async def test_a_title_never_cuts_a_reply_on_a_one_slot_server(
    chat: ProviderChat, llama: FakeOpenAIServer
) -> None:
    session, _ = await chat.exchange(llama, Reply("Tomatoes", usage=False), "What do they like?")
    # The window asks for a title after the first exchange; the user sends again at once.
    titled = asyncio.ensure_future(chat.engine.suggest_title(session.id))
    llama.script(Reply("Water them early. " + prose(4), delay_s=0.02, usage=False))
    llama.script(Reply("Tomato care"))
    events = await collect(chat.engine.send(session.id, "And water?"))
    assert isinstance(events[-1], ReplyFinished), events[-1]
    assert await asyncio.wait_for(titled, 10) == "Tomato care"
    assert llama.interrupted_requests == []


async def test_a_message_too_long_for_the_window_the_server_named_is_refused_in_words(
    chat: ProviderChat,
) -> None:
    # Over the window even alone: not "the connection was lost", but how long it is, and what
    # the window leaves room for; the question is kept.
    session = await chat.start()
    with pytest.raises(NothingToDo) as refused:
        await collect(chat.engine.send(session.id, prose(200)))
    assert "tokens" in refused.value.message and "Shorten it" in refused.value.message
    [question] = await chat.store.list_messages(session.id)
    assert question.role is Role.USER and question.message == prose(200).strip()
