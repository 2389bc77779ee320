"""The SQLite store's messages: adding, updating, order, and full-text search.

Every test uses a real SQLite file in its own data directory.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlab_desktop.models import (
    ContextMessage,
    MessageDetails,
    MessageState,
    Role,
    Session,
    User,
    utcnow,
)
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.store.base import SNIPPET_CLOSE, SNIPPET_OPEN
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.builders import DB_NAME, make_message, start_session

# -- messages -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_message_round_trips_with_its_details(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    message = make_message(
        session.id,
        "Reply with **Markdown** and ünïcødé",
        role=Role.ASSISTANT,
        state=MessageState.INTERRUPTED,
        meta=MessageDetails(model="gpt-4o", prompt_tokens=40, completion_tokens=2),
    )

    await store.add_message(message)

    (stored,) = await store.list_messages(session.id)
    assert stored == message and stored.meta == message.meta
    assert stored.role is Role.ASSISTANT and stored.state is MessageState.INTERRUPTED


@pytest.mark.asyncio
async def test_adding_and_deleting_messages_counts_message_count(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    first = make_message(session.id, "one")
    await store.add_message(first)
    await store.add_message(make_message(session.id, "two"))
    await store.add_message(first)  # a replayed write counts nothing

    counted = await store.get_session(session.id)
    await store.delete_message(first.id)
    after_delete = await store.get_session(session.id)

    assert counted is not None and counted.message_count == 2
    assert after_delete is not None and after_delete.message_count == 1
    assert [m.message for m in await store.list_messages(session.id)] == ["two"]


@pytest.mark.asyncio
async def test_messages_added_together_are_stored_and_counted_with_their_context(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    question = make_message(session.id, "What is a half?")
    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    context = (ContextMessage(Role.USER, question.message, question.created_date),)

    await store.add_messages((question, reply), context=context)
    await store.add_messages((question, reply))  # a replayed write counts nothing

    stored = await store.get_session(session.id)
    assert stored is not None and stored.message_count == 2 and stored.context == context
    assert await store.list_messages(session.id) == [question, reply]


@pytest.mark.asyncio
async def test_a_refused_batch_of_messages_stores_none_of_them(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    kept = make_message(session.id, "kept")
    await store.add_message(kept)
    with pytest.raises(ValueError, match="one session"):
        await store.add_messages((make_message(session.id, "a"), make_message("other", "b")))
    with pytest.raises(NotFound):
        await store.add_messages((make_message("missing", "lost"), make_message("missing", "x")))
    assert await store.list_messages(session.id) == [kept]
    stored = await store.get_session(session.id)
    assert stored is not None and stored.message_count == 1


@pytest.mark.asyncio
async def test_a_message_for_an_unknown_session_is_not_stored(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.add_message(make_message("missing", "lost"))


@pytest.mark.asyncio
async def test_updating_a_message_replaces_text_and_state_and_keeps_meta_unless_given(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    reply = make_message(
        session.id,
        "",
        role=Role.ASSISTANT,
        state=MessageState.STREAMING,
        meta=MessageDetails(model="m"),
    )
    await store.add_message(reply)

    await store.update_message(reply.id, text="Partial", state=MessageState.STREAMING)
    (streaming,) = await store.list_messages(session.id)
    await store.update_message(
        reply.id,
        text="Partial answer.",
        state=MessageState.COMPLETE,
        meta=MessageDetails(completion_tokens=3),
    )
    (complete,) = await store.list_messages(session.id)

    assert (streaming.message, streaming.state, streaming.meta) == (
        "Partial",
        MessageState.STREAMING,
        MessageDetails(model="m"),
    )
    assert (complete.message, complete.state, complete.meta) == (
        "Partial answer.",
        MessageState.COMPLETE,
        MessageDetails(completion_tokens=3),
    )


@pytest.mark.asyncio
async def test_changing_an_unknown_message_raises_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.update_message("missing", text="x", state=MessageState.COMPLETE)
    with pytest.raises(NotFound):
        await store.delete_message("missing")


@pytest.mark.asyncio
async def test_messages_list_in_created_date_order(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    start = utcnow()
    for offset, text in ((2, "third"), (0, "first"), (1, "second")):
        await store.add_message(
            make_message(session.id, text, created_date=start + timedelta(seconds=offset))
        )

    listed = await store.list_messages(session.id)

    assert [m.message for m in listed] == ["first", "second", "third"]


@pytest.mark.asyncio
async def test_messages_with_the_same_date_keep_insertion_order(
    store: SqliteStore, user: User
) -> None:
    session = await start_session(store, user, None)
    same = utcnow()
    texts = [f"message {i}" for i in range(20)]
    for text in texts:
        await store.add_message(make_message(session.id, text, created_date=same))

    listed = await store.list_messages(session.id)

    assert [m.message for m in listed] == texts


# -- search ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def searchable(store: SqliteStore, user: User) -> Session:
    session = await start_session(store, user, None)
    await store.rename_session(session.id, "Zoo trip")
    for text in (
        "The giraffe ate leaves from the tallest tree.",
        "Giraffe, giraffe, giraffe: the children could not stop saying it.",
        "Penguins waddled past the aquarium window.",
        "Nothing about animals here at all.",
    ):
        await store.add_message(make_message(session.id, text))
    return session


@pytest.mark.asyncio
async def test_search_finds_messages_by_word_with_a_marked_snippet(
    store: SqliteStore, searchable: Session
) -> None:
    hits = await store.search_messages("penguins")

    (hit,) = hits
    assert hit.session_id == searchable.id and hit.session_title == "Zoo trip"
    assert f"{SNIPPET_OPEN}Penguins{SNIPPET_CLOSE}" in hit.snippet
    (message,) = [m for m in await store.list_messages(searchable.id) if m.id == hit.message_id]
    assert hit.created_date == message.created_date


@pytest.mark.asyncio
async def test_search_ranks_the_best_match_first(store: SqliteStore, searchable: Session) -> None:
    hits = await store.search_messages("giraffe")

    assert [h.snippet.count(SNIPPET_OPEN) for h in hits] == [3, 1]


@pytest.mark.asyncio
async def test_search_matches_the_last_word_as_a_prefix_and_needs_every_word(
    store: SqliteStore, searchable: Session
) -> None:
    assert len(await store.search_messages("aqua")) == 1
    assert len(await store.search_messages("giraffe tall")) == 1
    assert await store.search_messages("giraffe penguins") == []


@pytest.mark.asyncio
async def test_search_ignores_case_and_accents(store: SqliteStore, searchable: Session) -> None:
    assert len(await store.search_messages("PENGUÏNS")) == 1


@pytest.mark.asyncio
async def test_search_follows_message_edits_and_deletes(
    store: SqliteStore, user: User, searchable: Session
) -> None:
    (penguin,) = await store.search_messages("penguins")

    await store.update_message(penguin.message_id, text="Seals now.", state=MessageState.COMPLETE)
    assert await store.search_messages("penguins") == []
    assert len(await store.search_messages("seals")) == 1

    await store.delete_message(penguin.message_id)
    assert await store.search_messages("seals") == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query",
    ["", "   ", '"', '"giraffe', "(giraffe", "giraffe)", "AND", "giraffe AND", "OR NOT", "*",
     "gir*", "NEAR(a b)", "^giraffe", "col:giraffe", "-giraffe", "'; DROP TABLE messages; --",
     "\x00", "🦒", "giraffe\x00penguins", "a" * 10_000],
)  # fmt: skip
async def test_hostile_search_text_never_raises(
    store: SqliteStore, searchable: Session, query: str
) -> None:
    hits = await store.search_messages(query)

    assert isinstance(hits, list)


@pytest.mark.asyncio
async def test_operator_words_are_searched_as_plain_words(store: SqliteStore, user: User) -> None:
    session = await start_session(store, user, None)
    await store.add_message(make_message(session.id, "Cats AND dogs, NOT birds"))

    assert len(await store.search_messages('"cats" AND (dogs')) == 1
    assert len(await store.search_messages("NOT")) == 1


@pytest.mark.asyncio
async def test_an_empty_search_returns_nothing(store: SqliteStore, searchable: Session) -> None:
    assert await store.search_messages("") == []
    assert await store.search_messages("?!") == []


def test_any_text_is_a_search_that_never_raises(data_dir: Path) -> None:
    loop = asyncio.new_event_loop()
    store = SqliteStore(data_dir / DB_NAME)

    async def seed() -> None:
        assert (await store.open()).is_usable
        user = await store.local_user()
        session = await start_session(store, user, None)
        await store.add_message(make_message(session.id, "Ein Bäcker backt Brötchen 123 _x_"))

    @settings(max_examples=300, deadline=None)
    @given(query=st.text())
    def search_survives(query: str) -> None:
        hits = loop.run_until_complete(store.search_messages(query))
        assert isinstance(hits, list)

    try:
        loop.run_until_complete(seed())
        search_survives()
    finally:
        loop.run_until_complete(store.close())
        loop.close()
