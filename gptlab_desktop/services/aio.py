"""The asyncio vocabulary of the app, in one small place.

UI code and services use these instead of touching loop internals: ``run_blocking`` moves
CPU-heavy work off the event loop, ``SerialExecutor`` confines blocking IO (SQLite) to one
worker thread, and ``TaskGroupByName`` keeps references to background tasks (qasync keeps none)
and cancels the previous task of the same name when a new one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking callable in the default executor and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


class SerialExecutor:
    """One worker thread for blocking work that must not run concurrently (a SQLite writer)."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the worker thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the worker thread and wait for it (only where no loop runs)."""
        return self._pool.submit(functools.partial(fn, *args, **kwargs)).result()

    def shutdown(self) -> None:
        """Finish queued work and stop the thread."""
        self._pool.shutdown(wait=True)


class TaskGroupByName:
    """Background tasks by name: a new task cancels the running one of the same name."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def start(self, name: str, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start ``coro`` as the task called ``name``, cancelling the previous one."""
        previous = self._tasks.get(name)
        if previous is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(coro)
        self._tasks[name] = task
        task.add_done_callback(functools.partial(self._forget, name))
        return task

    def _forget(self, name: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("Background task %s failed", name, exc_info=task.exception())

    def running(self, name: str) -> asyncio.Task[Any] | None:
        """The running task called ``name``, if any."""
        task = self._tasks.get(name)
        return task if task is not None and not task.done() else None

    async def cancel_all(self) -> None:
        """Cancel every task and wait until they have finished."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
