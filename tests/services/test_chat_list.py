"""The chat list's service side: date groups on a fixed clock, pinned chats first (kept across
opens), summaries that match the sessions, and titles as plain text.

Grouping is pure and tested on its own; the library and store on a real SQLite file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.models import (
    Assistant,
    SessionStatus,
    SessionSummary,
    User,
)
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.session_library import (
    ChatGroup,
    SessionEntry,
    SessionLibrary,
    TitleIndex,
    assistant_for_new_chat,
    date_group,
    group_chats,
)
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.titles import first_line, plain_title
from tests.builders import (
    DB_NAME,
    make_assistant,
    make_draft,
    make_message,
    make_session,
    raw,
)

# A Wednesday afternoon in a zone two hours east of UTC.
ZONE = timezone(timedelta(hours=2))
NOW = datetime(2026, 3, 18, 15, 0, tzinfo=ZONE)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=ZONE)


def summary(title: str, modified: datetime, *, is_pinned: bool = False) -> SessionEntry:
    session = make_session(title=title, last_modified_date=modified, is_pinned=is_pinned)
    return SessionEntry(SessionSummary.of(session), "Socrates")


# -- date groups ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("modified", "group"),
    [
        (local(18, 14, 59), ChatGroup.TODAY),
        (local(18, 0, 0), ChatGroup.TODAY),
        (local(17, 23, 59), ChatGroup.YESTERDAY),
        (local(17, 0, 0), ChatGroup.YESTERDAY),
        (local(16, 23, 59), ChatGroup.PREVIOUS_7_DAYS),
        (local(11, 0, 0), ChatGroup.PREVIOUS_7_DAYS),
        (local(10, 23, 59), ChatGroup.OLDER),
        (datetime(2025, 12, 24, 9, 0, tzinfo=ZONE), ChatGroup.OLDER),
        # Another machine's clock a little ahead.
        (local(18, 16, 0), ChatGroup.TODAY),
    ],
)
def test_a_chat_falls_in_its_date_group_by_the_local_day(
    modified: datetime, group: ChatGroup
) -> None:
    assert date_group(modified, NOW) is group


def test_days_begin_at_the_clocks_midnight_not_at_utcs() -> None:
    # 23:30 UTC on the 17th is 01:30 on the 18th two hours east: today there.
    assert date_group(datetime(2026, 3, 17, 23, 30, tzinfo=UTC), NOW) is ChatGroup.TODAY
    assert date_group(datetime(2026, 3, 17, 21, 30, tzinfo=UTC), NOW) is ChatGroup.YESTERDAY


def test_chats_are_grouped_pinned_first_then_by_date_each_newest_first() -> None:
    entries = [
        summary("yesterday", local(17, 9)),
        summary("today early", local(18, 8)),
        summary("old but pinned", local(1, 9), is_pinned=True),
        summary("today late", local(18, 12)),
        summary("last month", datetime(2026, 2, 1, tzinfo=ZONE)),
        summary("pinned today", local(18, 10), is_pinned=True),
    ]

    sections = group_chats(entries, NOW)

    assert [(s.group, [e.summary.title for e in s.entries]) for s in sections] == [
        (ChatGroup.PINNED, ["pinned today", "old but pinned"]),
        (ChatGroup.TODAY, ["today late", "today early"]),
        (ChatGroup.YESTERDAY, ["yesterday"]),
        (ChatGroup.OLDER, ["last month"]),
    ]
    assert [s.group.label for s in sections] == ["Pinned", "Today", "Yesterday", "Older"]


def test_no_chats_make_no_groups() -> None:
    assert group_chats([], NOW) == []


# -- the library and the store ----------------------------------------------------------------
@pytest_asyncio.fixture
async def assistant(store: SqliteStore, user: User) -> Assistant:
    return await store.create_assistant(make_draft(), user.id)


@pytest.fixture
def library(store: SqliteStore) -> SessionLibrary:
    return SessionLibrary(store, clock=lambda: NOW)


async def stored(store: SqliteStore, user: User, assistant: Assistant, title: str) -> str:
    session = await store.create_session(make_session(user.id, assistant.id, title=title))
    return session.id


def set_modified(data_dir: Path, session_id: str, moment: datetime) -> None:
    with raw(data_dir) as conn:
        conn.execute(
            "UPDATE sessions SET last_modified_date = ? WHERE id = ?",
            (moment.astimezone(UTC).isoformat(timespec="microseconds"), session_id),
        )


@pytest.mark.asyncio
async def test_the_library_lists_chats_in_groups_by_its_clock(
    library: SessionLibrary, store: SqliteStore, user: User, assistant: Assistant, data_dir: Path
) -> None:
    today = await stored(store, user, assistant, "Today's")
    old = await stored(store, user, assistant, "Old")
    set_modified(data_dir, today, local(18, 9))
    set_modified(data_dir, old, local(2, 9))

    sections = await library.list_chats()

    assert [(s.group, [e.session_id for e in s.entries]) for s in sections] == [
        (ChatGroup.TODAY, [today]),
        (ChatGroup.OLDER, [old]),
    ]
    assert sections[0].entries[0].assistant_name == "Socrates"


@pytest.mark.asyncio
async def test_a_pinned_chat_lists_first_keeps_its_date_and_stays_pinned_after_reopening(
    library: SessionLibrary, store: SqliteStore, user: User, assistant: Assistant, data_dir: Path
) -> None:
    old = await stored(store, user, assistant, "Old")
    await stored(store, user, assistant, "Newer")
    set_modified(data_dir, old, local(2, 9))

    await library.pin(old)

    sections = await library.list_chats()
    assert sections[0].group is ChatGroup.PINNED
    assert [e.session_id for e in sections[0].entries] == [old]
    kept = await store.get_session(old)
    assert kept is not None and kept.is_pinned
    assert kept.last_modified_date == local(2, 9)
    await store.close()

    reopened = SqliteStore(data_dir / DB_NAME)
    assert (await reopened.open()).is_usable
    try:
        again = await SessionLibrary(reopened, clock=lambda: NOW).list_chats()
        assert again[0].group is ChatGroup.PINNED
        assert [e.session_id for e in again[0].entries] == [old]
        await SessionLibrary(reopened).pin(old, is_pinned=False)
        unpinned = await SessionLibrary(reopened, clock=lambda: NOW).list_chats()
        assert [s.group for s in unpinned] == [ChatGroup.TODAY, ChatGroup.OLDER]
    finally:
        await reopened.close()


@pytest.mark.asyncio
async def test_a_pinned_chat_is_listed_even_beyond_the_listing_limit(
    library: SessionLibrary, store: SqliteStore, user: User, assistant: Assistant, data_dir: Path
) -> None:
    oldest = await stored(store, user, assistant, "Oldest")
    for number in range(3):
        await stored(store, user, assistant, f"Chat {number}")
    set_modified(data_dir, oldest, local(1, 9))
    await library.pin(oldest)

    entries = await library.list_sessions(limit=2)

    assert entries[0].session_id == oldest


@pytest.mark.asyncio
async def test_pinning_a_session_that_is_gone_says_so(
    library: SessionLibrary, store: SqliteStore
) -> None:
    with pytest.raises(NotFound):
        await library.pin("no-such-session")


@pytest.mark.asyncio
async def test_a_summary_says_what_the_session_says(
    store: SqliteStore, user: User, assistant: Assistant
) -> None:
    session_id = await stored(store, user, assistant, "Plans")
    await store.end_session(session_id, SessionStatus.COMPLETED)
    await store.pin_session(session_id, True)
    session = await store.get_session(session_id)
    assert session is not None

    [listed] = await store.list_session_summaries()
    of_assistant = await store.list_session_summaries(bot_id=assistant.id)
    of_another = await store.list_session_summaries(bot_id="someone-else")

    assert listed == SessionSummary.of(session)
    assert listed.model == "gpt-4o" and listed.is_pinned
    assert of_assistant == [listed] and of_another == []


@pytest.mark.asyncio
async def test_renaming_takes_the_markdown_out_of_a_title(
    library: SessionLibrary, store: SqliteStore, user: User, assistant: Assistant
) -> None:
    session_id = await stored(store, user, assistant, "Before")

    assert await library.rename(session_id, "# **Spring** `plans`") == "Spring plans"

    kept = await store.get_session(session_id)
    assert kept is not None and kept.title == "Spring plans"


# -- plain titles -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("**Pasta** recipes", "Pasta recipes"),
        ("__Strong__ and _soft_ words", "Strong and soft words"),
        ("*Emphasis* and ***both***", "Emphasis and both"),
        ("# Planning a trip", "Planning a trip"),
        ("### Closed heading ###", "Closed heading"),
        ("Using `asyncio.gather` well", "Using asyncio.gather well"),
        ("``code with ` a tick``", "code with ` a tick"),
        ("See [the docs](https://example.org) first", "See the docs first"),
        ("![A chart](chart.png) explained", "A chart explained"),
        ("Read <https://example.org>", "Read https://example.org"),
        ("> A quoted _idea_", "A quoted idea"),
        ("- A list item", "A list item"),
        ("1. First step", "First step"),
        ("~~Old~~ new plan", "Old new plan"),
        (r"A \*literal\* star", "A *literal* star"),
        ("  Spaces   and\nlines  ", "Spaces and lines"),
    ],
)
def test_markdown_in_a_title_becomes_plain_text(written: str, shown: str) -> None:
    assert plain_title(written) == shown


@pytest.mark.parametrize(
    "plain",
    [
        "snake_case_name tips",
        "2*3*4 is 24",
        "C# and F# compared",
        "#1 priority",
        "What does <div> do?",
        "Plain words",
    ],
)
def test_a_plain_title_stays_as_written(plain: str) -> None:
    assert plain_title(plain) == plain


def test_a_suggestion_is_read_from_its_first_line() -> None:
    assert first_line("\n\n**Title**\nBecause it fits") == "**Title**"
    assert first_line(" \n ") == ""


@pytest.mark.asyncio
async def test_search_finds_chats_by_their_title_first_then_by_their_messages(
    library: SessionLibrary, store: SqliteStore, user: User, assistant: Assistant
) -> None:
    titled = await stored(store, user, assistant, "**Roses** in spring")
    written = await stored(store, user, assistant, "Garden")
    await store.add_message(make_message(written, "Roses are red"))

    results = await library.search("roses")

    assert [(r.entry.session_id, len(r.hits)) for r in results] == [(titled, 0), (written, 1)]


def test_the_title_index_finds_every_word_in_a_plain_title_ignoring_case() -> None:
    entries = [summary("**Pasta** night", NOW), summary("Pasta", NOW), summary("Night", NOW)]

    index = TitleIndex(entries)

    assert [e.summary.title for e in index.matching("NIGHT pasta")] == ["**Pasta** night"]
    assert [e.summary.title for e in index.matching("past")] == ["**Pasta** night", "Pasta"]
    assert index.matching("  ") == []


# -- New Chat's assistant -------------------------------------------------------------------------
def test_new_chat_talks_to_the_assistant_used_last_else_the_first_showcased() -> None:
    mine = make_assistant(name="Mine")
    shown = make_assistant(name="Shown", showcased=True)
    lobby = [shown, mine]

    assert assistant_for_new_chat(lobby, mine.id) == mine.id
    assert assistant_for_new_chat(lobby, "archived-since") == shown.id
    assert assistant_for_new_chat(lobby, None) == shown.id
    assert assistant_for_new_chat([mine], None) == mine.id
    assert assistant_for_new_chat([], "anything") is None
