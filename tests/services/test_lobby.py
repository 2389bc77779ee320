"""Opening the data for the lobby: the store, the shipped showcase, the assistants, the user.

Real SQLite files; no keyring is involved at all (the user is the store's own).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.services.errors import ReadOnlyAssistant
from gptlab_desktop.services.lobby import (
    SHOWCASE_PREVIEW_PREFIX,
    Lobby,
    LobbySection,
    PublishingUnavailable,
    in_sections,
    showcase_preview,
)
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.builders import DB_NAME, cache_published_assistant, make_draft


@pytest.mark.asyncio
async def test_opening_brings_the_showcase_in_and_finds_the_local_user(data_dir: Path) -> None:
    store = SqliteStore(data_dir / DB_NAME)
    entries = load_showcase_entries()
    try:
        data = await Lobby(store).open(entries)
        assert data.is_usable and data.problems == []
        assert data.user is not None and data.user == await store.local_user()
        showcased = sorted(a.showcase_key for a in data.assistants if a.showcased)
        assert showcased == sorted(entry.key for entry in entries)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_an_unusable_store_gives_the_shipped_showcase_read_only_and_no_user(
    data_dir: Path,
) -> None:
    path = data_dir / DB_NAME
    with sqlite3.connect(path) as conn:  # written by a newer version of the app
        conn.execute("PRAGMA user_version = 999")
    entries = load_showcase_entries()
    store = SqliteStore(path)
    try:
        data = await Lobby(store).open(entries)
    finally:
        await store.close()
    assert not data.is_usable and data.health.problem
    assert data.user is None
    assert all(a.id.startswith(SHOWCASE_PREVIEW_PREFIX) for a in data.assistants)
    assert len(data.assistants) == len(entries)


def test_showcase_preview_is_every_shipped_assistant_read_only_by_name() -> None:
    entries = load_showcase_entries()
    preview = showcase_preview(entries)
    assert [a.name for a in preview] == sorted((e.draft.name for e in entries), key=str.casefold)
    assert all(a.showcased and a.showcase_key for a in preview)


# -- sections and publishing ------------------------------------------------------------------


@pytest_asyncio.fixture
async def store(data_dir: Path) -> AsyncIterator[SyncedStore]:
    """A store that may cache a shared project's assistants (opened by ``lobby``)."""
    made = SyncedStore(data_dir / DB_NAME)
    yield made
    await made.close()


@pytest_asyncio.fixture
async def lobby(store: SyncedStore) -> Lobby:
    """The lobby on ``store``, opened (without a showcase)."""
    opened = Lobby(store)
    await opened.open([])
    return opened


@pytest.mark.asyncio
async def test_the_lobby_is_showcased_then_published_by_others_then_yours(
    lobby: Lobby, store: SyncedStore
) -> None:
    user = await store.local_user()
    await store.create_assistant(make_draft(name="Abacus"), user.id)
    await cache_published_assistant(store, "Zeno")
    shown = showcase_preview(load_showcase_entries()[:1])

    placed = in_sections([*await lobby.assistants(), *shown], user.id)

    assert [(section.label, a.name) for section, a in placed] == [
        ("Showcased", shown[0].name),
        ("Published by others", "Zeno"),
        ("Yours", "Abacus"),
    ]


@pytest.mark.asyncio
async def test_publishing_is_refused_until_the_storage_is_a_shared_project(
    lobby: Lobby, store: SyncedStore
) -> None:
    user = await store.local_user()
    mine = await store.create_assistant(make_draft(), user.id)
    with pytest.raises(PublishingUnavailable):
        await lobby.publish(mine.id)

    lobby.publishing_enabled, lobby.author_name = True, "Ada Lovelace"
    published = await lobby.publish(mine.id)

    assert (published.published, published.creator_display_name) == (True, "Ada Lovelace")
    assert LobbySection.of(published, user.id) is LobbySection.YOURS
    assert not (await lobby.unpublish(mine.id)).published


@pytest.mark.asyncio
async def test_another_users_published_assistant_cannot_be_unpublished_here(
    lobby: Lobby, store: SyncedStore
) -> None:
    theirs = await cache_published_assistant(store)
    lobby.publishing_enabled = True
    with pytest.raises(ReadOnlyAssistant):
        await lobby.unpublish(theirs.id)
