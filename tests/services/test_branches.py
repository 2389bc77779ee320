"""Conversations as trees: editing an earlier message or regenerating forks the conversation,
variants are switched and remembered, deleting takes a subtree, the context and counters are
the shown branch's, exports follow it, and a session stored before branches opens unchanged.

Real parts: a real SQLite file (and one written by the release before branches), the real
openai client, a loopback server.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from gptlab_desktop.models import ROOT_PARENT, Message, Role, SessionType, utcnow
from gptlab_desktop.preferences import ProviderProfile
from gptlab_desktop.services.branches import ConversationTree, Variant, branch_context
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.chat_events import BranchShown, MessageRemoved
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.session_library import ExportFormat, SessionLibrary
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.builders import DB_NAME
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.services.conftest import ProviderChat
from tests.services.test_chat import chat_bodies, collect, roles_and_texts

pytestmark = pytest.mark.asyncio

FIXTURES = Path(__file__).parent.parent / "fixtures"


def texts(messages: list[Message]) -> list[str]:
    return [message.message for message in messages]


async def three_turns(chat: ProviderChat, server: FakeOpenAIServer) -> str:
    session = await chat.start()
    for turn in ("one", "two", "three"):
        await chat.exchange(server, Reply(f"Answer {turn}."), f"Question {turn}", session)
    return session.id


@pytest.fixture
def chat(chat_on: Callable[..., ProviderChat], openai_server: FakeOpenAIServer) -> ProviderChat:
    return chat_on(ProviderProfile("one", "One", "custom", openai_server.base_url))


# -- the tree ---------------------------------------------------------------------------------
async def test_messages_stored_before_branches_read_as_one_linear_branch() -> None:
    now = utcnow()
    linear = [Message(f"m{i}", "s", Role.USER, f"text {i}", now) for i in range(4)]
    tree = ConversationTree(linear)
    assert texts(tree.branch()) == texts(linear)
    assert all(tree.variant(m.id) == Variant(1, 1) for m in linear)
    # A fork after them: explicit parents from there on.
    fork = Message("f", "s", Role.USER, "fork", now, parent_id="m1")
    root = Message("r", "s", Role.USER, "new start", now, parent_id=ROOT_PARENT)
    tree = ConversationTree([*linear, fork, root])
    assert tree.variant("f") == Variant(2, 2) and tree.variant("m2") == Variant(1, 2)
    assert tree.variant("r") == Variant(2, 2)
    assert texts(tree.branch("m3")) == ["text 0", "text 1", "text 2", "text 3"]
    assert texts(tree.branch()) == ["new start"]  # the newest leaf
    assert tree.newest_leaf("m1") == fork
    assert tree.subtree("m2") == ["m2", "m3"]
    assert len(tree.all_branches()) == 3


async def test_the_context_of_a_branch_is_what_the_engine_keeps_turn_by_turn(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    session_id = await three_turns(chat, openai_server)
    stored = await chat.store.get_session(session_id)
    assert stored is not None
    shown = (await chat.engine.open_conversation(session_id)).shown
    assert branch_context(shown, SessionType.BRAINSTORMING) == stored.context


# -- forking ----------------------------------------------------------------------------------
async def test_editing_an_earlier_message_forks_and_sends_that_branch_only(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    session_id = await three_turns(chat, openai_server)
    conversation = await chat.engine.open_conversation(session_id)
    second_question = conversation.shown[2]
    assert second_question.message == "Question two"

    openai_server.script(Reply("Answer two, again."))
    events = await collect(chat.engine.edit_message(session_id, second_question.id, "Q2 again"))
    removed = [e.message_id for e in events if isinstance(e, MessageRemoved)]
    assert removed == [m.id for m in conversation.shown[2:]]
    [shown_event] = [e for e in events if isinstance(e, BranchShown)]
    assert texts(shown_event.conversation.shown) == [
        "Question one",
        "Answer one.",
        "Q2 again",
        "Answer two, again.",
    ]
    # The model saw the shown branch only.
    assert roles_and_texts(chat_bodies(openai_server)[-1])[1:] == [
        ("user", "Question one"),
        ("assistant", "Answer one."),
        ("user", "Q2 again"),
    ]
    session = await chat.store.get_session(session_id)
    assert session is not None and session.message_count == 4
    assert [c.message for c in session.context] == texts(shown_event.conversation.shown)
    assert shown_event.conversation.variant(shown_event.conversation.shown[2].id) == Variant(2, 2)


async def test_a_switched_variant_stays_shown_after_a_restart(
    chat: ProviderChat, openai_server: FakeOpenAIServer, store: SqliteStore, tokens: TokenCounter
) -> None:
    session_id = await three_turns(chat, openai_server)
    first = await chat.engine.open_conversation(session_id)
    await collect(chat.engine.regenerate(session_id))  # "Answer three." gets a variant
    old_reply = first.shown[-1]

    switched = await chat.engine.show_variant(session_id, old_reply.id)
    assert texts(switched.shown)[-1] == "Answer three."
    assert switched.variant(old_reply.id) == Variant(1, 2)

    # A new engine on the same file (a restart) shows the same branch.
    again = SessionEngine(store, Providers.of_client(chat.engine._llm(switched.session)), tokens)
    reopened = await again.open_conversation(session_id)
    assert texts(reopened.shown) == texts(switched.shown)
    session = await store.get_session(session_id)
    assert session is not None and session.message_count == 6
    assert session.context[-1].message == "Answer three."

    # Talking on goes on from the branch shown.
    openai_server.script(Reply("Answer four."))
    await collect(again.send(session_id, "Question four"))
    assert roles_and_texts(chat_bodies(openai_server)[-1])[-2:] == [
        ("assistant", "Answer three."),
        ("user", "Question four"),
    ]
    shown = (await again.open_conversation(session_id)).shown
    assert texts(shown)[-3:] == ["Answer three.", "Question four", "Answer four."]


async def test_deleting_a_message_deletes_what_followed_it(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    session_id = await three_turns(chat, openai_server)
    shown = (await chat.engine.open_conversation(session_id)).shown
    await collect(chat.engine.regenerate(session_id))
    conversation = await chat.engine.delete_message(session_id, shown[3].id)  # "Answer two."
    assert texts(conversation.shown) == ["Question one", "Answer one.", "Question two"]
    assert texts(await chat.store.list_messages(session_id)) == texts(conversation.shown)
    session = await chat.store.get_session(session_id)
    assert session is not None and session.message_count == 3


async def test_exports_follow_the_shown_branch_and_json_can_hold_every_branch(
    chat: ProviderChat, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    session_id = await three_turns(chat, openai_server)
    await collect(chat.engine.regenerate(session_id))
    library = SessionLibrary(chat.store, ender=chat.engine)
    markdown = await library.export(session_id, tmp_path / "s.md", ExportFormat.MARKDOWN)
    assert "Echo: Question three" in markdown.read_text("utf-8")  # the regenerated reply
    assert "Answer three." not in markdown.read_text("utf-8")
    path = await library.export(
        session_id, tmp_path / "s.json", ExportFormat.JSON, all_branches=True
    )
    document = json.loads(path.read_text("utf-8"))
    assert len(document["messages"]) == 6
    assert len(document["all_branches"]) == 7
    parents = {entry["id"]: entry["parent_id"] for entry in document["all_branches"]}
    siblings = [i for i, parent in parents.items() if parent == document["messages"][4]["id"]]
    assert len(siblings) == 2


# -- a session from before branches -----------------------------------------------------------
async def test_a_session_stored_before_branches_opens_unchanged(
    data_dir: Path, openai_server: FakeOpenAIServer, tokens: TokenCounter, llm: object
) -> None:
    path = data_dir / DB_NAME
    shutil.copyfile(FIXTURES / "schema9.sqlite3", path)
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        engine = SessionEngine(store, Providers.of_client(llm), tokens)  # type: ignore[arg-type]
        [entry] = await store.list_sessions()
        conversation = await engine.open_conversation(entry.id)
        assert texts(conversation.shown) == [
            "Hello! What are you growing?",
            "What do tomatoes like?",
            "Tomatoes like sun.",
            "And water?",
            "Water them early in the morning.",
            "What about beans?",
            "Beans climb; give them a pole.",
        ]
        assert all(conversation.variant(m.id) == Variant(1, 1) for m in conversation.shown)
        # Editing an old message forks it like any other.
        openai_server.script(Reply("Tomatoes need warmth."))
        await collect(engine.edit_message(entry.id, conversation.shown[1].id, "Tomatoes?"))
        forked = await engine.open_conversation(entry.id)
        assert texts(forked.shown) == [
            "Hello! What are you growing?",
            "Tomatoes?",
            "Tomatoes need warmth.",
        ]
        assert forked.variant(forked.shown[1].id) == Variant(2, 2)
        switched = await engine.show_variant(entry.id, conversation.shown[1].id)
        assert texts(switched.shown) == texts(conversation.shown)
    finally:
        await store.close()
