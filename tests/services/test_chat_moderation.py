"""The moderation beside each user message: a warning, never a block, asked once the reply runs.

Against a real SQLite file, the real openai client and a loopback server, as the engine's other
tests (test_chat_engine.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.models import ModelConfig, User
from gptlab_desktop.services.chat import NothingToDo, SessionEngine
from gptlab_desktop.services.chat_events import ModerationWarning, ReplyFinished
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.builders import make_draft
from tests.fakes.openai_server import FakeOpenAIServer, ModerationReply, Reply

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def engine(
    store: SqliteStore, openai_server: FakeOpenAIServer, tiktoken_cache_dir: Path
) -> AsyncIterator[SessionEngine]:
    llm = OpenAIClient(LlmSettings(base_url=openai_server.base_url, api_key="sk-test-key"))
    yield SessionEngine(store, Providers.of_client(llm), TokenCounter(tiktoken_cache_dir))
    await llm.aclose()


async def start(engine: SessionEngine, store: SqliteStore, user: User) -> str:
    draft = make_draft(model_config=ModelConfig(model="gpt-4o-mini", max_tokens=250))
    assistant = await store.create_assistant(draft, user.id)
    return (await engine.start_session(assistant.id, user.id)).id


async def test_the_reply_is_requested_before_the_moderation(
    engine: SessionEngine, store: SqliteStore, user: User, openai_server: FakeOpenAIServer
) -> None:
    session_id = await start(engine, store, user)

    events = [event async for event in engine.send(session_id, "What is a half?")]

    endpoints = [request.endpoint for request in openai_server.requests]
    assert endpoints == ["chat", "moderations"]
    assert isinstance(events[-1], ReplyFinished)


async def test_a_flagged_message_warns_after_its_reply(
    engine: SessionEngine, store: SqliteStore, user: User, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(
        Reply(text="Let us keep it kind."),
        ModerationReply(flagged=True, categories=("harassment", "violence")),
    )
    session_id = await start(engine, store, user)

    events = [event async for event in engine.send(session_id, "Something rude")]

    assert isinstance(events[-2], ReplyFinished)
    assert events[-2].message.message == "Let us keep it kind."
    assert events[-1] == ModerationWarning(("harassment", "violence"))


async def test_a_message_refused_before_it_is_stored_is_not_moderated(
    engine: SessionEngine, store: SqliteStore, user: User, openai_server: FakeOpenAIServer
) -> None:
    session_id = await start(engine, store, user)

    with pytest.raises(NothingToDo):
        _ = [event async for event in engine.send(session_id, "   ")]

    assert openai_server.requests_to("moderations") == []
