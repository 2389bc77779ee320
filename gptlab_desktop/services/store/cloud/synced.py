"""The SQLite store of a user who syncs, or may: SQLite for every read, every write journalled.

``SyncedStore`` is the SQLite store (the local cache: browsing, search and export work with the
cloud unreachable) that, once sync has been switched on (``journal_for``), journals every
change into the outbox in the change's own transaction (``sqlite_outbox``) — at every open from
then on, so a write made while the cloud is off still reaches it later. Before that it is
exactly the local store, at the cost of one settings read at open. It tells whoever listens
when an operation changed rows (``on_change``), so the replayer (``cloud/replayer``) sends soon
after a write, not on a timer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from gptlab_desktop.services.store.base import StoreHealth
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.store.sqlite_pull import PullTables

P = ParamSpec("P")
T = TypeVar("T")


class SyncedStore(PullTables, SqliteStore):
    """The SQLite store, journalling every change into its outbox for the replayer."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._listeners: list[Callable[[], None]] = []
        self._changes_seen = 0

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the event loop) after every operation that changed rows."""
        self._listeners.append(listener)

    def _do_open(self) -> StoreHealth:
        health = super()._do_open()
        if health.is_usable:
            self._install_journal_if_kept(self._db)
        return health

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        result, changes = await super()._run(self._counting_changes, fn, *args, **kwargs)
        if changes != self._changes_seen:
            self._changes_seen = changes
            for listener in self._listeners:
                listener()
        return result

    def _counting_changes(
        self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> tuple[T, int]:
        """``fn``'s result and the connection's change count after it (on the store's thread)."""
        result = fn(*args, **kwargs)
        return result, self._db.total_changes
