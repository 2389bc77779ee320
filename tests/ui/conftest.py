"""UI test set-up: a qasync loop on pytest-qt's QApplication, and real windows on real files.

Async work is driven by Qt's event processing: tests wait with ``qtbot.waitUntil`` (which
processes events, and so runs the loop's callbacks), never with a blocking wait inside an
``async def`` test.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from keyring.backends import fail
from PySide6.QtCore import QModelIndex, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from gptlab_desktop.app import AppRun, build_services, launch
from gptlab_desktop.config import LOCAL_SERVERS_ENV, TIKTOKEN_CACHE_ENV, resolve_config
from gptlab_desktop.models import Message, ModelConfig, Role, new_id, utcnow
from gptlab_desktop.paths import AppPaths, ensure_created
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.event_loop import qt_event_loop
from gptlab_desktop.ui.main_window import MainWindow
from tests.builders import make_draft, make_session
from tests.fakes.openai_server import FakeOpenAIServer

T = TypeVar("T")
OpenWindow = Callable[..., MainWindow]

# Generous: a slow CI machine, and the store's first open runs its migrations.
WAIT_MS = 10_000
# What the loopback server says to a system prompt alone: how a new session greets.
GREETING = "Hello! How can I help?"


@pytest.fixture(autouse=True)
def collect_closed_loops_on_the_main_thread() -> Iterator[None]:
    """Destroy each test's closed qasync loop, windows and dialogs here, on the main thread.

    Otherwise a garbage collection that happens to run on a worker thread (the store's, or the
    token counter's) can destroy Qt objects of an earlier test there, and Qt crashes. Autouse
    and set up first, so it is torn down after ``qt_loop``. While the test runs, no automatic
    collection starts at all (one would run on whichever thread allocates), as the app keeps
    its collections to the GUI thread.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture
def qt_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync event loop bound to the test's QApplication, current and running for the test.

    Qt's event processing (qtbot's waits) is what runs it, so it is registered as this
    thread's running loop (``qt_event_loop(running=True)``).
    """
    with qt_event_loop(qapp, running=True) as loop:
        yield loop


def run_in_fresh_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a plain asyncio loop in another thread (to prepare data on disk).

    The test thread's qasync loop counts as running, so ``asyncio.run`` cannot be used there.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@dataclass(frozen=True)
class SeededChats:
    """What ``seed_chats`` stored: the assistant, and each chat with its messages' ids."""

    assistant_id: str
    session_ids: list[str]
    message_ids: list[list[str]]


def seed_chats(
    data_dir: Path, assistant_name: str, chats: Sequence[tuple[str, Sequence[str]]]
) -> SeededChats:
    """Store, before a window opens, one assistant and its chats: each a title and its
    messages' texts (user and assistant in turn), in the order given (the last is newest)."""

    async def seed() -> SeededChats:
        store = SqliteStore(AppPaths(data_dir).database_file)
        assert (await store.open()).is_usable
        try:
            user = await store.local_user()
            draft = make_draft(name=assistant_name, initial_prompt=f"You are {assistant_name}.")
            assistant = await store.create_assistant(draft, user.id)
            sessions: list[str] = []
            messages: list[list[str]] = []
            for title, texts in chats:
                session = await store.create_session(
                    make_session(
                        user.id,
                        assistant.id,
                        bot_initial_prompt_msg=draft.initial_prompt,
                        bot_model_config=ModelConfig("gpt-4o-mini"),
                        title=title,
                    )
                )
                sessions.append(session.id)
                messages.append([])
                for number, text in enumerate(texts):
                    role = Role.USER if number % 2 == 0 else Role.ASSISTANT
                    message = Message(new_id(), session.id, role, text, utcnow())
                    await store.add_message(message)
                    messages[-1].append(message.id)
            return SeededChats(assistant.id, sessions, messages)
        finally:
            await store.close()

    return run_in_fresh_loop(seed)


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
def open_run(
    qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path
) -> Iterator[Callable[..., AppRun]]:
    """Builds a run as the app does (``app.launch``) on a real SQLite store: its window shown,
    started, with its lobby filled.

    Call it with another directory to use that instead of the test's data directory, and with
    ``environ`` (resolved by ``config.resolve_config``, as the app resolves the process's) to
    point the chat at a server (``OPENAI_BASE_URL``); without, the chat has no server it may
    reach (OpenAI's address, with no key: the API key dialog opens). Secrets are kept in
    memory, never in the developer's keyring; ``keyring_backend`` brings another. Every window
    is closed (and its store with it) at teardown.
    """
    runs: list[AppRun] = []

    def build(
        directory: Path = data_dir,
        environ: dict[str, str] | None = None,
        keyring_backend: Any = None,
        *,
        wait: bool = True,
    ) -> AppRun:
        # No local AI server is looked for unless the test names where (the machine's own
        # ports are not the test's business).
        # tiktoken's folder is the run's (the app names it to tiktoken at start-up).
        base = {LOCAL_SERVERS_ENV: "none", TIKTOKEN_CACHE_ENV: os.environ[TIKTOKEN_CACHE_ENV]}
        config = resolve_config(str(directory), {**base, **(environ or {})})
        ensure_created(config.paths)
        # Never the developer's keyring: keyring's "no keyring" backend keeps secrets in memory
        # unless the test brings its own (the test Secret Service).
        backend = keyring_backend if keyring_backend is not None else fail.Keyring()
        run = launch(build_services(config, keyring_backend=backend))
        runs.append(run)
        run.window.show()
        started = run.start(load_showcase_entries())
        if wait:
            qtbot.waitUntil(started.done, timeout=WAIT_MS)
            assert started.exception() is None
        return run

    yield build
    for run in runs:
        close_window(qtbot, run.window)


@pytest.fixture
def open_window(open_run: Callable[..., AppRun]) -> Callable[..., MainWindow]:
    """Like ``open_run``, giving the run's window."""

    def build(*args: Any, **kwargs: Any) -> MainWindow:
        return open_run(*args, **kwargs).window

    return build


def at_server(server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    """The environment of a run whose chat goes to the loopback server."""
    return {"OPENAI_BASE_URL": server.base_url, **extra}


# -- looking at a window ---------------------------------------------------------------------
def lobby_names(window: MainWindow) -> list[str]:
    """The names the lobby shows, top to bottom (after the filter)."""
    model = window.lobby_list.model()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def showcase_names() -> list[str]:
    """The shipped assistants' names, in the lobby's order."""
    return sorted((entry.draft.name for entry in load_showcase_entries()), key=str.casefold)


def lobby_index_of(window: MainWindow, name: str) -> QModelIndex:
    """The lobby's row of the assistant called ``name``."""
    model = window.lobby_list.model()
    for row in range(model.rowCount()):
        if model.index(row, 0).data() == name:
            return model.index(row, 0)
    raise AssertionError(f"{name} is not in the lobby")


def select_in_lobby(window: MainWindow, name: str) -> None:
    """Make the assistant called ``name`` the lobby's current row."""
    window.lobby_list.setCurrentIndex(lobby_index_of(window, name))


def trigger(window: MainWindow, name: str) -> None:
    """Trigger the window's action called ``name``, which must be enabled."""
    action = window.findChild(QAction, name)
    assert action is not None, name
    assert action.isEnabled(), name
    action.trigger()


def is_idle(window: MainWindow) -> bool:
    """Whether the chat pane has nothing under way (no reply, no session opening)."""
    return not window.chat_pane.is_busy and window.chat_pane.reply_task() is None


def wait_for_greeting(qtbot: Any, window: MainWindow) -> None:
    """Wait until the chat pane is idle and shows one message: a new session's greeting."""
    qtbot.waitUntil(
        lambda: is_idle(window) and window.chat_view.transcript().rowCount() == 1,
        timeout=WAIT_MS,
    )


# -- a fresh interpreter ---------------------------------------------------------------------
# What renders Markdown: heavy to import, so imported only once a message is rendered (the
# math library only once a formula is).
RENDERING_LIBRARIES = {"markdown_it", "pygments", "ziamath"}


def modules_loaded_by(code: str, names: set[str]) -> list[str]:
    """Which of ``names`` are imported once ``code`` has run in a fresh interpreter, sorted."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted({names!r} & set(sys.modules))))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)
