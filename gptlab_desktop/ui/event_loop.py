"""The asyncio event loop inside Qt's (qasync), set up in this one place.

Python 3.11 has no ``asyncio.run(loop_factory=...)``, so the loop is built by hand, and that
skips two things ``asyncio.run`` does which the app needs (DESIGN.md):

* the async-generator hooks — without them an async generator left early (a reply stream the
  user stopped) fails when it is finalised;
* on leaving, closing the suspended async generators and the loop, and un-setting it, so the
  next loop (a test's) starts clean.

``running=True`` also registers the loop as this thread's running loop, for code that runs the
loop through Qt's own event processing (the UI tests, whose waits process Qt events) instead of
``run_until_complete``. Not with qasync's ``already_running=True``: stopping such a loop calls
``QApplication.exit()``, which in Qt 6 emits ``aboutToQuit`` and makes every later
``QEventLoop.exec()`` return at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Iterator

import qasync
from PySide6.QtCore import QCoreApplication


@contextlib.contextmanager
def qt_event_loop(app: QCoreApplication, *, running: bool = False) -> Iterator[qasync.QEventLoop]:
    """A qasync loop on ``app``, current (and with ``running``, running) inside the block."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if running:
        asyncio.events._set_running_loop(loop)
    previous_hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,
        finalizer=loop._asyncgen_finalizer_hook,
    )
    try:
        yield loop
        if not running:
            # Async generators still suspended are closed while the loop can still run them.
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        if running:
            asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)
        sys.set_asyncgen_hooks(*previous_hooks)
        # qasync leaves the timers of cancelled call_later()s alive; collected later on a worker
        # thread they make Qt warn "Timers cannot be stopped from another thread".
        del loop
        gc.collect()
