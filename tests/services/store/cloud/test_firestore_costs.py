"""What each operation costs on the wire, counted where the store calls Firestore: a chat turn
is no read and one commit, starting a session likewise, a start with the showcase in place one
read and no commit (GPT Lab: 9 reads + 5 writes per turn, 23 + 6 per session start)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.models import ContextMessage, MessageState, Role, User, utcnow
from gptlab_desktop.services.store.base import ShowcaseEntry
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from tests.builders import make_draft, make_message, make_session
from tests.services.store.cloud.counting import CountingStore

pytestmark = [pytest.mark.firestore, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def counted(emulator_project: str, cipher: RecordCipher) -> AsyncIterator[CountingStore]:
    store = CountingStore(FirestoreSettings(project_id=emulator_project), cipher)
    await store.open()
    yield store
    await store.close()


@pytest_asyncio.fixture
async def me(counted: CountingStore) -> User:
    return await counted.local_user()


async def test_starting_a_session_is_no_read_and_one_commit(
    counted: CountingStore, me: User
) -> None:
    assistant = await counted.create_assistant(make_draft(), me.id)
    counted.reset()

    await counted.create_session(make_session(me.id, assistant.id))

    assert (counted.reads, counted.commits) == (0, 1)


async def test_a_chat_turn_is_no_read_and_one_commit_per_store_call(
    counted: CountingStore, me: User
) -> None:
    session = await counted.create_session(make_session(me.id, None))
    question = make_message(session.id, "question")
    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    counted.reset()

    await counted.add_messages([question, reply])
    await counted.update_message(
        reply.id,
        text="answer",
        state=MessageState.COMPLETE,
        context=(ContextMessage(Role.ASSISTANT, "answer", utcnow()),),
    )

    assert (counted.reads, counted.commits) == (0, 2)


async def test_a_start_with_the_showcase_in_place_is_one_read_and_no_commit(
    counted: CountingStore,
) -> None:
    entries = [ShowcaseEntry("socrates", make_draft()), ShowcaseEntry("plato", make_draft())]
    await counted.sync_showcase(entries)
    counted.reset()

    assert await counted.sync_showcase(entries) == 0

    assert (counted.reads, counted.commits) == (1, 0)
