"""The store's small named settings (``get_setting`` / ``set_setting``) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptlab_desktop.services.store.sqlite import SqliteStore

pytestmark = pytest.mark.asyncio


async def open_store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    return store


async def test_a_setting_never_set_is_none(data_dir: Path) -> None:
    store = await open_store(data_dir / "gptlab.sqlite3")
    try:
        assert await store.get_setting("account.example") is None
    finally:
        await store.close()


async def test_a_setting_reads_back_what_was_set(data_dir: Path) -> None:
    store = await open_store(data_dir / "gptlab.sqlite3")
    try:
        await store.set_setting("account.example", '{"a": 1}')

        assert await store.get_setting("account.example") == '{"a": 1}'
    finally:
        await store.close()


async def test_setting_again_replaces_the_value(data_dir: Path) -> None:
    store = await open_store(data_dir / "gptlab.sqlite3")
    try:
        await store.set_setting("account.example", "first")

        await store.set_setting("account.example", "second")

        assert await store.get_setting("account.example") == "second"
    finally:
        await store.close()


async def test_a_setting_survives_reopening_the_store(data_dir: Path) -> None:
    path = data_dir / "gptlab.sqlite3"
    store = await open_store(path)
    await store.set_setting("account.example", "kept")
    await store.close()

    reopened = await open_store(path)
    try:
        assert await reopened.get_setting("account.example") == "kept"
    finally:
        await reopened.close()
