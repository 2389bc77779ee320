"""The services' tests: a real SQLite store per test, its local user, and a client of the
OpenAI-compatible loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gptlab_desktop.models import Session, User
from gptlab_desktop.preferences import Preferences, ProviderProfile
from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.chat_events import ChatEvent
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmClient, LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.builders import DB_NAME
from tests.fakes.openai_server import FakeOpenAIServer, Reply


@pytest_asyncio.fixture
async def store(data_dir: Path) -> AsyncIterator[SqliteStore]:
    """The test's store, open (its file in the test's data directory), closed afterwards."""
    opened = SqliteStore(data_dir / DB_NAME)
    health = await opened.open()
    assert health.is_usable, health.problem
    yield opened
    await opened.close()


@pytest_asyncio.fixture
async def user(store: SqliteStore) -> User:
    """The store's local user."""
    return await store.local_user()


@pytest_asyncio.fixture
async def llm(openai_server: FakeOpenAIServer) -> AsyncIterator[LlmClient]:
    """A client of the loopback server."""
    client = OpenAIClient(
        LlmSettings(base_url=openai_server.base_url, api_key="sk-test-key", timeout_s=5.0)
    )
    yield client
    await client.aclose()


@pytest.fixture
def tokens(tiktoken_cache_dir: Path) -> TokenCounter:
    """Token counting on the run's tiktoken folder."""
    return TokenCounter(tiktoken_cache_dir)


@pytest.fixture
def lab(store: SqliteStore) -> AssistantLab:
    """The assistant lab on the test's store."""
    return AssistantLab(store)


@dataclass
class ProviderChat:
    """A session engine on its own providers, with the store and user it works on."""

    engine: SessionEngine
    store: SqliteStore
    user: User
    providers: Providers

    async def exchange(
        self, server: FakeOpenAIServer, reply: Reply, text: str, session: Session | None = None
    ) -> tuple[Session, list[ChatEvent]]:
        """Send ``text`` in ``session`` (a new one if None), ``server`` answering ``reply``."""
        if session is None:
            session = await self.start()
        server.script(reply)
        return session, [event async for event in self.engine.send(session.id, text)]

    async def start(self, **assistant: Any) -> Session:
        """A session with a new tutor assistant (``make_assistant``'s options)."""
        from tests.services.test_chat import make_assistant

        assistant_id = await make_assistant(self.store, self.user, **assistant)
        return await self.engine.start_session(assistant_id, self.user.id)


@pytest_asyncio.fixture
async def chat_on(
    store: SqliteStore, user: User, tokens: TokenCounter
) -> AsyncIterator[Callable[..., ProviderChat]]:
    """Builds a ``ProviderChat`` on these profiles (the first the default); closes them."""
    built: list[Providers] = []

    def make(*profiles: ProviderProfile) -> ProviderChat:
        preferences = Preferences(profiles=profiles, default_profile_id=profiles[0].id)
        providers = Providers(preferences)
        built.append(providers)
        engine = SessionEngine(store, providers, tokens, flush_interval_s=0.05)
        return ProviderChat(engine, store, user, providers)

    yield make
    for providers in built:
        await providers.aclose()
