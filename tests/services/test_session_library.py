"""The session library: listing, search, rename, end, export, and delete with undo.

Every test uses a real SQLite file in its own data directory.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.models import (
    Assistant,
    AssistantDraft,
    FailureKind,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    Role,
    Session,
    SessionStatus,
    SessionType,
    User,
    new_id,
    utcnow,
)
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.session_library import (
    DeletionOutcome,
    ExportFailed,
    ExportFormat,
    InvalidTitle,
    SessionLibrary,
    export_file_name,
)
from gptlab_desktop.services.store.base import SNIPPET_CLOSE, SNIPPET_OPEN
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.fakes.openai_server import FakeOpenAIServer

DB_NAME = "gptlab.sqlite3"
LONG_WINDOW_S = 60.0


@pytest_asyncio.fixture
async def assistant(store: SqliteStore, user: User) -> Assistant:
    return await store.create_assistant(draft("Socrates"), user.id)


@pytest.fixture
def library(store: SqliteStore) -> SessionLibrary:
    return SessionLibrary(store, undo_window_s=LONG_WINDOW_S)


def draft(name: str) -> AssistantDraft:
    return AssistantDraft(
        name=name,
        tag_line="Asks, never tells",
        description="A tutor.",
        initial_prompt=f"You are {name}.",
        summary_prompt="Summarise.",
        model_config=ModelConfig("gpt-4o-mini"),
        session_type=SessionType.COACHING,
    )


async def make_session(
    store: SqliteStore,
    user: User,
    assistant: Assistant | None,
    texts: tuple[str, ...] = (),
    *,
    title: str = "",
) -> Session:
    """A stored session with one message per text, alternating user and assistant."""
    now = utcnow()
    session = await store.create_session(
        Session(
            id=new_id(),
            user_id=user.id,
            bot_id=assistant.id if assistant else None,
            bot_initial_prompt_msg="Be helpful.",
            bot_model_config=ModelConfig("gpt-4o"),
            bot_session_type=SessionType.BRAINSTORMING,
            bot_summary_prompt_msg="Summarise.",
            created_date=now,
            last_modified_date=now,
            title=title,
        )
    )
    for number, text in enumerate(texts):
        role = Role.USER if number % 2 == 0 else Role.ASSISTANT
        await store.add_message(message(session.id, text, role))
    return session


def message(session_id: str, text: str, role: Role = Role.USER, **changes: object) -> Message:
    values: dict[str, object] = {
        "id": new_id(),
        "session_id": session_id,
        "role": role,
        "message": text,
        "created_date": utcnow(),
    }
    values.update(changes)
    return Message(**values)  # type: ignore[arg-type]


def raw_rows(data_dir: Path, session_id: str) -> tuple[list[tuple], list[tuple]]:
    """The session's row and its message rows exactly as stored, through a second connection."""
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        session_rows = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchall()
        message_rows = conn.execute(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()
    finally:
        conn.close()
    return session_rows, message_rows


async def listed_ids(library: SessionLibrary, assistant_id: str | None = None) -> list[str]:
    return [entry.session_id for entry in await library.list_sessions(assistant_id)]


# -- listing ---------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_lists_sessions_newest_modified_first_with_the_assistant_name(
    library, store, user, assistant
) -> None:
    older = await make_session(store, user, assistant, ("one",))
    newer = await make_session(store, user, None, ("two",))
    entries = await library.list_sessions()
    assert [e.session_id for e in entries] == [newer.id, older.id]
    assert [e.assistant_name for e in entries] == ["", "Socrates"]


@pytest.mark.asyncio
async def test_lists_only_one_assistants_sessions_when_asked(
    library, store, user, assistant
) -> None:
    own = await make_session(store, user, assistant)
    await make_session(store, user, None)
    assert await listed_ids(library, assistant.id) == [own.id]


@pytest.mark.asyncio
async def test_min_messages_leaves_out_shorter_sessions(library, store, user, assistant) -> None:
    long = await make_session(store, user, assistant, ("a", "b", "c"))
    await make_session(store, user, assistant, ("a", "b"))
    entries = await library.list_sessions(min_messages=3)
    assert [e.session_id for e in entries] == [long.id]


@pytest.mark.asyncio
async def test_limit_is_filled_from_sessions_that_pass_the_filter(
    library, store, user, assistant
) -> None:
    long = await make_session(store, user, assistant, ("a", "b", "c"))
    for _ in range(3):
        await make_session(store, user, assistant, ("short",))
    entries = await library.list_sessions(limit=1, min_messages=3)
    assert [e.session_id for e in entries] == [long.id]


# -- deleting with undo ----------------------------------------------------------------------
@pytest.mark.asyncio
async def test_delete_hides_the_session_at_once_but_keeps_it_in_the_store(
    library, store, user, assistant
) -> None:
    session = await make_session(store, user, assistant, ("keep me",))
    library.delete(session.id)
    assert await listed_ids(library) == []
    assert await store.get_session(session.id) is not None
    await library.flush()


@pytest.mark.asyncio
async def test_a_deleted_session_is_left_out_of_search(library, store, user, assistant) -> None:
    session = await make_session(store, user, assistant, ("unmistakable walrus",))
    library.delete(session.id)
    assert await library.search("walrus") == []
    await library.flush()


@pytest.mark.asyncio
async def test_a_listing_limit_is_still_filled_while_a_deletion_is_pending(
    library, store, user, assistant
) -> None:
    older = await make_session(store, user, assistant)
    newer = await make_session(store, user, assistant)
    library.delete(newer.id)
    assert [e.session_id for e in await library.list_sessions(limit=1)] == [older.id]
    await library.flush()


@pytest.mark.asyncio
async def test_undo_brings_back_the_session_and_its_messages_byte_identical(
    library, store, user, assistant, data_dir
) -> None:
    session = await make_session(store, user, assistant, ("question", "answer"), title="Kept")
    before = raw_rows(data_dir, session.id)
    task = library.delete(session.id)
    assert library.undo(session.id) is True
    assert (await task).outcome is DeletionOutcome.UNDONE
    assert await listed_ids(library) == [session.id]
    assert raw_rows(data_dir, session.id) == before


@pytest.mark.asyncio
async def test_deletion_reaches_the_store_when_the_undo_window_passes(
    store, user, assistant
) -> None:
    library = SessionLibrary(store, undo_window_s=0.05)
    session = await make_session(store, user, assistant, ("bye",))
    deletion = await library.delete(session.id)
    assert deletion.outcome is DeletionOutcome.DELETED
    assert await store.get_session(session.id) is None
    assert await store.list_messages(session.id) == []


@pytest.mark.asyncio
async def test_undo_after_the_window_has_passed_is_refused(store, user, assistant) -> None:
    library = SessionLibrary(store, undo_window_s=0.01)
    session = await make_session(store, user, assistant)
    await library.delete(session.id)
    assert library.undo(session.id) is False
    assert await store.get_session(session.id) is None


@pytest.mark.asyncio
async def test_flush_deletes_every_pending_session_without_waiting_for_the_window(
    library, store, user, assistant
) -> None:
    first = await make_session(store, user, assistant, ("one",))
    second = await make_session(store, user, assistant, ("two",))
    library.delete(first.id)
    library.delete(second.id)
    started = time.monotonic()
    outcomes = await library.flush()
    assert time.monotonic() - started < LONG_WINDOW_S / 10
    assert {d.outcome for d in outcomes} == {DeletionOutcome.DELETED}
    assert await store.get_session(first.id) is None
    assert await store.get_session(second.id) is None
    assert library.pending_deletions == []


@pytest.mark.asyncio
async def test_flush_leaves_an_undone_session_alone(library, store, user, assistant) -> None:
    session = await make_session(store, user, assistant)
    library.delete(session.id)
    library.undo(session.id)
    assert await library.flush() == []
    assert await store.get_session(session.id) is not None


@pytest.mark.asyncio
async def test_deleting_a_session_twice_schedules_one_deletion(
    library, store, user, assistant
) -> None:
    session = await make_session(store, user, assistant)
    assert library.delete(session.id) is library.delete(session.id)
    await library.flush()


@pytest.mark.asyncio
async def test_a_failed_deletion_is_reported_and_the_session_reappears(
    data_dir, user, assistant, store
) -> None:
    session = await make_session(store, user, assistant)
    library = SessionLibrary(store, undo_window_s=LONG_WINDOW_S)
    task = library.delete(session.id)
    # A store that has gone away (closed mid-window) cannot delete.
    await store.close()
    deletion = await asyncio.wait_for(library.flush(), 5)
    assert deletion[0].outcome is DeletionOutcome.FAILED
    assert deletion[0].error is not None
    assert task.done()
    assert not library.is_pending(session.id)
    reopened = SqliteStore(data_dir / DB_NAME)
    await reopened.open()
    try:
        assert await reopened.get_session(session.id) is not None
    finally:
        await reopened.close()


# -- renaming --------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_rename_stores_the_title_trimmed(library, store, user, assistant) -> None:
    session = await make_session(store, user, assistant)
    assert await library.rename(session.id, "  Plans \n for   spring  ") == "Plans for spring"
    stored = await store.get_session(session.id)
    assert stored is not None and stored.title == "Plans for spring"


@pytest.mark.asyncio
async def test_rename_refuses_a_blank_title(library, store, user, assistant) -> None:
    session = await make_session(store, user, assistant, title="Before")
    with pytest.raises(InvalidTitle):
        await library.rename(session.id, " \t ")
    stored = await store.get_session(session.id)
    assert stored is not None and stored.title == "Before"


@pytest.mark.asyncio
async def test_rename_of_a_deleted_session_is_refused(library, store, user, assistant) -> None:
    session = await make_session(store, user, assistant)
    library.delete(session.id)
    with pytest.raises(NotFound):
        await library.rename(session.id, "Too late")
    await library.flush()


# -- search ----------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_search_groups_hits_by_session_with_snippets(library, store, user, assistant) -> None:
    pasta = await make_session(
        store, user, assistant, ("A pasta recipe?", "Boil the pasta.", "Thanks"), title="Dinner"
    )
    other = await make_session(store, user, None, ("More pasta tomorrow",))
    await make_session(store, user, assistant, ("Nothing to see",))
    results = await library.search("pasta")
    assert {r.entry.session_id for r in results} == {pasta.id, other.id}
    by_id = {r.entry.session_id: r for r in results}
    assert len(by_id[pasta.id].hits) == 2
    assert by_id[pasta.id].entry.assistant_name == "Socrates"
    assert all(f"{SNIPPET_OPEN}pasta{SNIPPET_CLOSE}" in h.snippet for h in by_id[pasta.id].hits)


@pytest.mark.asyncio
async def test_search_with_no_words_finds_nothing(library, store, user, assistant) -> None:
    await make_session(store, user, assistant, ("words",))
    assert await library.search("  ") == []


# -- ending ----------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_end_marks_an_open_session_abandoned_by_the_user(
    library, store, user, assistant
) -> None:
    session = await make_session(store, user, assistant)
    ended = await library.end(session.id)
    assert ended.status is SessionStatus.ABANDONED_BY_USER
    refreshed = await store.get_assistant(assistant.id)
    assert refreshed is not None and refreshed.sessions_ended == 1


@pytest.mark.asyncio
async def test_end_leaves_a_concluded_session_as_it_is(library, store, user, assistant) -> None:
    session = await make_session(store, user, assistant)
    await store.end_session(session.id, SessionStatus.COMPLETED)
    assert (await library.end(session.id)).status is SessionStatus.COMPLETED


@pytest.mark.asyncio
async def test_end_through_the_engine_records_a_model_failure(
    store, user, assistant, openai_server: FakeOpenAIServer, tiktoken_cache_dir
) -> None:
    llm = OpenAIClient(LlmSettings(base_url=openai_server.base_url, api_key="sk-test-key"))
    engine = SessionEngine(store, Providers.of_client(llm), TokenCounter(tiktoken_cache_dir))
    library = SessionLibrary(store, ender=engine)
    session = await make_session(store, user, assistant, ("Hello",))
    cut = message(session.id, "Half a rep", Role.ASSISTANT, state=MessageState.INTERRUPTED)
    await store.add_message(cut)
    await store.update_message(
        cut.id,
        text="Half a rep",
        state=MessageState.INTERRUPTED,
        meta=MessageDetails(failure=FailureKind.CONNECTION_LOST),
    )
    try:
        assert (await library.end(session.id)).status is SessionStatus.ABANDONED_LLM_ERROR
    finally:
        await llm.aclose()


# -- export ----------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_json_export_round_trips_every_message(
    library, store, user, assistant, tmp_path
) -> None:
    texts = ("Question with “quotes”", "Answer\nwith lines", "Thanks!")
    session = await make_session(store, user, assistant, texts, title="Round trip")
    path = tmp_path / "out.json"
    assert await library.export(session.id, path, ExportFormat.JSON) == path
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["session"]["id"] == session.id
    assert doc["session"]["title"] == "Round trip"
    assert [m["message"] for m in doc["messages"]] == list(texts)


@pytest.mark.asyncio
async def test_markdown_export_holds_every_message_and_the_assistant_name(
    library, store, user, assistant, tmp_path
) -> None:
    texts = ("First question", "First answer", "Second question")
    session = await make_session(store, user, assistant, texts)
    path = tmp_path / "out.md"
    await library.export(session.id, path, ExportFormat.MARKDOWN)
    text = path.read_text(encoding="utf-8")
    assert all(t in text for t in texts)
    assert "## Socrates ·" in text


@pytest.mark.asyncio
async def test_export_replaces_an_existing_file_and_leaves_no_temp_file(
    library, store, user, assistant, tmp_path
) -> None:
    session = await make_session(store, user, assistant, ("New content",))
    exports = tmp_path / "exports"
    exports.mkdir()
    path = exports / "out.md"
    path.write_text("old content " * 1000, encoding="utf-8")
    await library.export(session.id, path, ExportFormat.MARKDOWN)
    assert "old content" not in path.read_text(encoding="utf-8")
    assert [p.name for p in exports.iterdir()] == ["out.md"]


@pytest.mark.asyncio
async def test_export_into_a_missing_folder_fails_with_a_sentence(
    library, store, user, assistant, tmp_path
) -> None:
    session = await make_session(store, user, assistant, ("x",))
    with pytest.raises(ExportFailed, match="could not be saved"):
        await library.export(session.id, tmp_path / "missing" / "out.md", ExportFormat.MARKDOWN)


@pytest.mark.asyncio
async def test_export_of_a_deleted_session_is_refused(
    library, store, user, assistant, tmp_path
) -> None:
    session = await make_session(store, user, assistant, ("x",))
    library.delete(session.id)
    with pytest.raises(NotFound):
        await library.export(session.id, tmp_path / "out.json", ExportFormat.JSON)
    assert not (tmp_path / "out.json").exists()
    await library.flush()


def test_export_file_name_is_the_title_made_safe_with_date_and_suffix() -> None:
    now = utcnow()
    session = Session(
        id="s",
        user_id="u",
        bot_id=None,
        bot_initial_prompt_msg="p",
        bot_model_config=ModelConfig("gpt-4o"),
        bot_session_type=SessionType.BRAINSTORMING,
        bot_summary_prompt_msg="s",
        created_date=now,
        last_modified_date=now,
        title="What/is: love?",
    )
    name = export_file_name(session, ExportFormat.JSON)
    assert name == f"What is love {now.astimezone():%Y-%m-%d}.json"
    untitled = export_file_name(session.with_changes(title="///"), ExportFormat.MARKDOWN)
    assert untitled.startswith("Session ") and untitled.endswith(".md")
