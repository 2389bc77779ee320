"""Write ``schema9.sqlite3``: a database as the app wrote it before conversations were trees.

Kept as the recipe of the committed fixture, not run by the suite. It was run once with the
code of commit 3eed6ff, the last before branches (schema 9, messages without ``parent_id``):

    git worktree add /tmp/schema9 3eed6ff
    PYTHONPATH=/tmp/schema9 python scripts/make-schema9-fixture.py tests/fixtures/schema9.sqlite3

It drives that code's own engine against the loopback server: a session that greets, takes
three questions, regenerates a reply (which that version deleted and replaced) and edits the
last question (likewise), so the file holds one linear transcript of seven messages.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from gptlab_desktop.models import AssistantDraft, ModelConfig
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.fakes.openai_server import FakeOpenAIServer, Reply


async def write(path: Path) -> None:
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    user = await store.local_user()
    draft = AssistantDraft(
        name="Gardener",
        tag_line="Vegetables",
        description="Helps with a vegetable garden.",
        initial_prompt="You are a patient gardener.",
        summary_prompt="Summarise the advice so far.",
        model_config=ModelConfig(model="gpt-4o-mini", max_tokens=200),
    )
    assistant = await store.create_assistant(draft, user.id)
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as cache:
        client = OpenAIClient(LlmSettings(base_url=server.base_url, api_key="sk-fixture"))
        engine = SessionEngine(store, Providers.of_client(client), TokenCounter(Path(cache)))
        session = await engine.start_session(assistant.id, user.id)
        server.script(
            Reply("Hello! What are you growing?"),
            Reply("Tomatoes like sun."),
            Reply("Water them early."),
            Reply("Water them early in the morning."),
            Reply("Carrots want loose soil."),
            Reply("Beans climb; give them a pole."),
        )
        for operation in (
            engine.greet(session.id),
            engine.send(session.id, "What do tomatoes like?"),
            engine.send(session.id, "And water?"),
            engine.regenerate(session.id),
            engine.send(session.id, "What about carrots?"),
            engine.edit_last_user_message(session.id, "What about beans?"),
        ):
            async for _ in operation:
                pass
        await client.aclose()
    await store.close()


if __name__ == "__main__":
    asyncio.run(write(Path(sys.argv[1])))
