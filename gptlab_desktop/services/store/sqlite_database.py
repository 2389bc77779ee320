"""The SQLite store's connection: opened once, used only on its own worker thread.

Every public method of the store is a coroutine that hands a ``_do_*`` function to that
thread through ``_run``, so no SQLite call ever runs on the event loop. Each operation that
touches several rows runs in one ``BEGIN IMMEDIATE`` transaction (``_transaction``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import ParamSpec, TypeVar

from gptlab_desktop.services.aio import SerialExecutor, run_blocking
from gptlab_desktop.services.errors import StoreError, StoreUnavailable
from gptlab_desktop.services.store.base import StoreHealth
from gptlab_desktop.services.store.sqlite_files import open_database

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class SqliteDatabase:
    """One SQLite file and its one connection, every call on one worker thread.

    The base of ``SqliteStore`` and of the parts it is made of: it opens and closes the file,
    and gives them ``_run`` (hand a ``_do_*`` function to the worker), ``_db`` and
    ``_transaction``.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = SerialExecutor("sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._unavailable: StoreUnavailable | None = None
        self._is_closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # -- plumbing ---------------------------------------------------------------------------
    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the store's thread, turning SQLite failures into ``StoreError``."""
        self._raise_if_unusable()
        try:
            return await self._executor.run(fn, *args, **kwargs)
        except sqlite3.Error as error:
            # SQLite's messages name constraints and files, never the values written.
            log.exception("Store operation %s failed", getattr(fn, "__name__", fn))
            raise StoreError(
                f"GPT Lab Desktop could not read or save its data ({error})."
            ) from error

    def _raise_if_unusable(self) -> None:
        if self._unavailable is not None:
            # A fresh instance each time, so tracebacks do not pile up on one object.
            raise type(self._unavailable)(self._unavailable.message)
        if self._conn is None or self._is_closed:
            raise StoreUnavailable("The data store is not open.")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable("The data store is not open.")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed if the block finishes, rolled back if it raises."""
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- life -------------------------------------------------------------------------------
    async def open(self) -> StoreHealth:
        """Open (creating or migrating as needed); never raises for a bad file, reports it."""
        if self._conn is not None:
            return StoreHealth(is_usable=True, path=str(self._path))
        if self._unavailable is not None:
            return StoreHealth(False, self._unavailable.message, str(self._path))
        try:
            return await self._executor.run(self._do_open)
        except Exception as error:  # open() reports, never raises
            log.exception("Opening the store failed")
            self._unavailable = StoreUnavailable(
                f"{self._path} could not be opened ({error}); it was left as it was."
            )
            return StoreHealth(False, self._unavailable.message, str(self._path))

    def _do_open(self) -> StoreHealth:
        try:
            conn = open_database(self._path)
        except StoreUnavailable as problem:
            log.warning("Store not usable: %s", problem.message)
            self._unavailable = problem.with_traceback(None)
            return StoreHealth(False, problem.message, str(self._path))
        self._conn = conn
        return StoreHealth(is_usable=True, path=str(self._path))

    async def close(self) -> None:
        """Finish pending writes and release the backend."""
        if self._is_closed:
            return
        self._is_closed = True
        # Always through the worker: an open() still running there is queued before this, so
        # the connection it makes is closed too, and the event loop never waits on a join.
        await self._executor.run(self._do_close)
        await run_blocking(self._executor.shutdown)

    def _do_close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            conn.close()
