"""UI test set-up: a qasync loop on pytest-qt's QApplication, and real windows on real files.

Async work is driven by Qt's event processing: tests wait with ``qtbot.waitUntil`` (which
processes events, and so runs the loop's callbacks), never with a blocking wait inside an
``async def`` test.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from keyring.backends import fail
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from gptlab_desktop.app import build_main_window, build_services
from gptlab_desktop.paths import AppPaths, ensure_created
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.ui.main_window import MainWindow

T = TypeVar("T")

# Generous: a slow CI machine, and the store's first open runs its migrations.
WAIT_MS = 10_000


@pytest.fixture
def qt_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync event loop bound to the test's QApplication, current and running for the test.

    Qt's event processing (qtbot's waits) is what runs it, so it is registered as this
    thread's running loop by hand. Not with qasync's ``already_running=True``: stopping such a
    loop calls ``QApplication.exit()``, which in Qt 6 emits ``aboutToQuit`` and makes every
    later ``QEventLoop.exec()`` — and so every later qtbot wait — return at once.
    """
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    previous_hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,
        finalizer=loop._asyncgen_finalizer_hook,
    )
    try:
        yield loop
    finally:
        # Unregistered so that later tests (pytest-asyncio's) can run loops of their own.
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)
        sys.set_asyncgen_hooks(*previous_hooks)
        # qasync leaves the timers of cancelled call_later()s running; collected later on
        # a worker thread they make Qt warn "Timers cannot be stopped from another thread".
        del loop
        gc.collect()


def run_in_fresh_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a plain asyncio loop in another thread (to prepare data on disk).

    The test thread's qasync loop counts as running, so ``asyncio.run`` cannot be used there.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def settings_for(data_dir: Path) -> QSettings:
    """The app's INI settings in ``data_dir``, as ``app.py`` builds them."""
    return QSettings(str(AppPaths(data_dir).settings_file), QSettings.Format.IniFormat)


def close_window(qtbot: Any, window: MainWindow) -> None:
    """Close ``window`` and wait until it has released its store (once; later calls pass)."""
    if window.is_shut_down:
        return
    window.close()
    qtbot.waitUntil(lambda: window.is_shut_down and not window.isVisible(), timeout=WAIT_MS)
    window.deleteLater()


@pytest.fixture
def open_window(
    qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path
) -> Iterator[Callable[..., MainWindow]]:
    """Builds a shown ``MainWindow`` on a real SQLite store, started and with its lobby filled.

    The window is composed as the app composes it (``app.build_services``). Call it with
    another directory to use that instead of the test's data directory, and with
    ``environ`` to point the chat at a server (``OPENAI_BASE_URL``); without, the chat has no
    server it may reach (OpenAI's address, with no key: the API key dialog opens). Secrets are
    kept in memory, never in the developer's keyring; ``keyring_backend`` brings another. Every
    window is closed (and its store with it) at teardown.
    """
    windows: list[MainWindow] = []

    def build(
        directory: Path = data_dir,
        environ: dict[str, str] | None = None,
        keyring_backend: Any = None,
    ) -> MainWindow:
        paths = AppPaths(directory)
        ensure_created(paths)
        # Never the developer's keyring: keyring's "no keyring" backend keeps secrets in memory
        # unless the test brings its own (the test Secret Service).
        backend = keyring_backend if keyring_backend is not None else fail.Keyring()
        services = build_services(paths, environ or {}, keyring_backend=backend)
        window = build_main_window(services)
        windows.append(window)
        window.show()
        started = window.start(load_showcase_entries())
        qtbot.waitUntil(started.done, timeout=WAIT_MS)
        assert started.exception() is None
        return window

    yield build
    for window in windows:
        close_window(qtbot, window)
