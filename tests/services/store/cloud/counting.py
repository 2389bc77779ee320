"""The real Firestore store, counting what it asks of the wire (for the cost tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gptlab_desktop.services.store.cloud.documents import CloudDocument
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.writes import CloudWrite


class CountingStore(FirestoreStore):
    """The real store, counting its read calls and its commits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.commits = 0

    def reset(self) -> None:
        self.reads = self.commits = 0

    async def _get_all(self, paths: Iterable[str]) -> dict[str, CloudDocument]:
        self.reads += 1
        return await super()._get_all(paths)

    async def _query(self, query: Any) -> list[CloudDocument]:
        self.reads += 1
        return await super()._query(query)

    async def _send(self, writes: Sequence[CloudWrite]) -> None:
        if writes:
            self.commits += 1
        await super()._send(writes)
