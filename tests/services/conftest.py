"""The services' tests: a real SQLite store per test, its local user, and a client of the
OpenAI-compatible loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.models import User
from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmClient, LlmSettings
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.builders import DB_NAME
from tests.fakes.openai_server import FakeOpenAIServer


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
