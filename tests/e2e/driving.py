"""What the app scripts of the end-to-end tests share: they run in a process of their own
(``python -c`` from the repository's root), so they import this module rather than copy it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Let the event loop run until ``predicate()`` holds; TimeoutError after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the window never got there")
        await asyncio.sleep(0.01)
