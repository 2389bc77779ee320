"""A chat with a server like llama.cpp's (as measured, DESIGN.md): a small context window it
enforces with an empty streamed answer, no usage in its streams, file paths for model names,
and one request slot. The chat goes on past the window without breaking, and a title request
never cuts a reply short.

Real parts: a real SQLite file, the real openai client, a loopback server with llama.cpp's
personality (tests/fakes/openai_server.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.models import MessageState, Role, User
from gptlab_desktop.preferences import Preferences, ProviderProfile
from gptlab_desktop.services.chat import NothingToDo, SessionEngine
from gptlab_desktop.services.chat_events import ReplyFinished
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.fakes.openai_server import SMOLLM2_PATH, FakeOpenAIServer, LlamaCpp, Reply
from tests.services.test_chat import collect, make_assistant

pytestmark = pytest.mark.asyncio

# Ordinary prose: about four characters a token for the app's tokenizer and for the server's.
SENTENCE = "The gardener waters the young tomatoes early, before the sun is high. "


def prose(sentences: int) -> str:
    return SENTENCE * sentences


@pytest.fixture
def llama() -> AsyncIterator[FakeOpenAIServer]:
    with FakeOpenAIServer(personality=LlamaCpp(n_ctx=2048)) as server:
        yield server  # type: ignore[misc]


@pytest_asyncio.fixture
async def providers(llama: FakeOpenAIServer) -> AsyncIterator[Providers]:
    built = Providers(
        Preferences(
            profiles=(ProviderProfile("home", "llama.cpp", "llamacpp", llama.base_url),),
            default_profile_id="home",
        )
    )
    yield built
    await built.aclose()


@pytest.fixture
def engine(store: SqliteStore, providers: Providers, tokens: TokenCounter) -> SessionEngine:
    return SessionEngine(store, providers, tokens, flush_interval_s=0.05)


async def chat_for(
    engine: SessionEngine, llama: FakeOpenAIServer, session_id: str, turns: int
) -> list[object]:
    ends: list[object] = []
    for turn in range(turns):
        llama.script(Reply(f"Reply {turn}. " + prose(8), usage=False))
        events = await collect(engine.send(session_id, f"Question {turn}. " + prose(8)))
        ends.append(events[-1])
    return ends


async def test_a_chat_goes_on_past_the_servers_context_window(
    engine: SessionEngine,
    store: SqliteStore,
    user: User,
    providers: Providers,
    llama: FakeOpenAIServer,
) -> None:
    # The app does not know this model's window (4,096 tokens assumed) until the server says.
    session = await engine.start_session(await make_assistant(store, user), user.id)
    ends = await chat_for(engine, llama, session.id, turns=8)

    assert all(isinstance(end, ReplyFinished) for end in ends), ends
    learned = providers.preferences.learned_context_windows["home"]
    assert 0 < learned["gpt-4o-mini"] <= 2048
    messages = await store.list_messages(session.id)
    # The transcript keeps everything; no empty or interrupted reply was left behind.
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT] * 8
    assert all(m.state is MessageState.COMPLETE and m.message for m in messages)
    # Usage the server did not send is counted here, and said to be an estimate.
    assert all(m.meta.usage_estimated for m in messages if m.role is Role.ASSISTANT)


async def test_a_listed_window_is_planned_for_before_anything_overflows(
    engine: SessionEngine,
    store: SqliteStore,
    user: User,
    providers: Providers,
    llama: FakeOpenAIServer,
) -> None:
    listed = await providers.list_models("home")
    assert listed.models == (SMOLLM2_PATH,)
    assert listed.context_windows[SMOLLM2_PATH] == 2048
    session = await engine.start_session(
        await make_assistant(store, user, model=SMOLLM2_PATH), user.id
    )
    ends = await chat_for(engine, llama, session.id, turns=8)
    assert all(isinstance(end, ReplyFinished) for end in ends)
    # Each request fitted: the server never had to refuse one.
    assert len(llama.requests_to("chat")) == 8
    assert "home" not in providers.preferences.learned_context_windows


async def test_a_title_never_cuts_a_reply_on_a_one_slot_server(
    engine: SessionEngine, store: SqliteStore, user: User, llama: FakeOpenAIServer
) -> None:
    session = await engine.start_session(await make_assistant(store, user), user.id)
    llama.script(Reply("Tomatoes like sun.", usage=False))
    await collect(engine.send(session.id, "What do tomatoes like?"))
    # The window asks for a title after the first exchange; the user sends again at once.
    titled = asyncio.ensure_future(engine.suggest_title(session.id))
    llama.script(Reply("Water them early. " + prose(4), delay_s=0.02, usage=False))
    llama.script(Reply("Tomato care"))
    events = await collect(engine.send(session.id, "And water?"))
    assert isinstance(events[-1], ReplyFinished), events[-1]
    assert await asyncio.wait_for(titled, 10) == "Tomato care"
    assert llama.interrupted_requests == []


async def test_a_message_too_long_for_the_window_the_server_named_is_refused_in_words(
    engine: SessionEngine, store: SqliteStore, user: User, llama: FakeOpenAIServer
) -> None:
    # Over the window even alone: not "the connection was lost", but how long it is, and what
    # the window leaves room for; the question is kept.
    session = await engine.start_session(await make_assistant(store, user), user.id)
    with pytest.raises(NothingToDo) as refused:
        await collect(engine.send(session.id, prose(200)))
    assert "tokens" in refused.value.message and "Shorten it" in refused.value.message
    [question] = await store.list_messages(session.id)
    assert question.role is Role.USER and question.message == prose(200).strip()
