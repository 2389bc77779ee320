"""Sessions panel test set-up: three seeded sessions in a real SQLite store, and shown panels.

The panel is driven by objectName; async work runs on the qasync loop of ``qt_loop``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QLineEdit, QListView

from gptlab_desktop.models import (
    Message,
    Role,
    Session,
    SessionSummary,
    SessionType,
    new_id,
    utcnow,
)
from gptlab_desktop.services.session_library import SessionEntry, SessionLibrary
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.sessions.model import PanelRole, RowKind
from gptlab_desktop.ui.sessions.panel import SessionPanel
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.builders import DB_NAME, make_draft, make_session
from tests.ui.conftest import WAIT_MS, run_in_fresh_loop

T = TypeVar("T")
LONG_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the test data holds: ids of two assistants' sessions and one message."""

    assistant_id: str
    pasta_session: str
    pasta_message: str
    chess_session: str
    other_session: str


async def seed(path: Path) -> Seeded:
    """Three sessions: two with Socrates (pasta, chess), one with Muse."""
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        user = await store.local_user()
        socrates = await store.create_assistant(make_draft(name="Socrates"), user.id)
        muse = await store.create_assistant(
            make_draft(name="Muse", initial_prompt="You are Muse."), user.id
        )
        ids: dict[str, str] = {}
        for key, assistant_id, title, texts in (
            ("other", muse.id, "Poems", ("Write a poem", "Roses are red")),
            ("chess", socrates.id, "Chess", ("Best opening?", "Ask yourself why", "Ok")),
            ("pasta", socrates.id, "Dinner", ("A pasta recipe please", "Boil water", "Thanks")),
        ):
            session = await store.create_session(make_session(user.id, assistant_id, title=title))
            ids[key] = session.id
            for number, text in enumerate(texts):
                role = Role.USER if number % 2 == 0 else Role.ASSISTANT
                message = Message(new_id(), session.id, role, text, utcnow())
                await store.add_message(message)
                if text.startswith("A pasta"):
                    ids["pasta_message"] = message.id
        return Seeded(socrates.id, ids["pasta"], ids["pasta_message"], ids["chess"], ids["other"])
    finally:
        await store.close()


def run(qtbot: Any, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the test's qasync loop by processing Qt events until it is done."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    return task.result()


@dataclass
class PanelWorld:
    """A shown panel over an open store, with the seeded ids."""

    panel: SessionPanel
    library: SessionLibrary
    store: SqliteStore
    ids: Seeded

    @property
    def view(self) -> QListView:
        return self.panel.findChild(QListView, "sessionList")

    @property
    def search(self) -> QLineEdit:
        return self.panel.findChild(QLineEdit, "sessionSearch")

    def row_of(self, session_id: str) -> QModelIndex:
        model = self.view.model()
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if (
                index.data(SessionRole.SESSION_ID) == session_id
                and index.data(PanelRole.ROW_KIND) is RowKind.SESSION
            ):
                return index
        raise AssertionError(f"{session_id} is not listed")

    def press_on(self, qtbot: Any, session_id: str, key: Qt.Key) -> None:
        """Make a session's row current and press ``key`` in the list."""
        self.view.setCurrentIndex(self.row_of(session_id))
        qtbot.keyClick(self.view, key)

    def listed(self) -> list[str]:
        model = self.view.model()
        return [
            model.index(row, 0).data(SessionRole.SESSION_ID)
            for row in range(model.rowCount())
            if model.index(row, 0).data(PanelRole.ROW_KIND) is RowKind.SESSION
        ]


MakePanel = Callable[..., PanelWorld]


@pytest.fixture
def make_panel(qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path) -> Iterator[MakePanel]:
    """Builds a shown, loaded ``SessionPanel`` on a real store (its library on ``clock`` if
    given); shuts both down afterwards. Build it again for a second panel on the same file."""
    path = data_dir / DB_NAME
    ids = run_in_fresh_loop(lambda: seed(path))
    worlds: list[PanelWorld] = []

    def build(
        *,
        undo_window_s: float = LONG_WINDOW_S,
        assistant: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> PanelWorld:
        store = SqliteStore(path)
        assert run(qtbot, store.open()).is_usable
        library = SessionLibrary(
            store, undo_window_s=undo_window_s, **({} if clock is None else {"clock": clock})
        )
        # Not handed to qtbot, which would delete it before the store is flushed and closed.
        panel = SessionPanel(library, search_delay_ms=10)
        panel.resize(420, 600)
        panel.show()
        # Shortcuts only reach the focused widget of the active window.
        panel.activateWindow()
        qtbot.waitUntil(panel.isActiveWindow, timeout=WAIT_MS)
        panel.findChild(QListView, "sessionList").setFocus()
        world = PanelWorld(panel, library, store, ids)
        worlds.append(world)
        qtbot.waitUntil(
            panel.set_assistant(ids.assistant_id if assistant else None).done, timeout=WAIT_MS
        )
        return world

    yield build
    for world in worlds:
        run(qtbot, world.panel.shut_down())
        run(qtbot, world.store.close())
        world.panel.close()
        world.panel.deleteLater()


def stored_session(qtbot: Any, world: PanelWorld, session_id: str) -> Session | None:
    return run(qtbot, world.store.get_session(session_id))


def entry(title: str) -> SessionEntry:
    """An unstored session titled ``title``, with Socrates as its assistant."""
    session = make_session(bot_session_type=SessionType.COACHING, title=title, message_count=2)
    return SessionEntry(SessionSummary.of(session), "Socrates")
