"""Sessions survive a restart: a second process shows them with the AI service gone.

Phase one talks to the loopback server through the services the app composes
(``app.build_services``) and closes everything. Phase two is a new Python process that builds
the app's real main window with the same composition, on the same data directory, with the
chat pointed at a port where nothing listens; it opens the session from the sessions panel and
prints what the chat view shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends import fail

from gptlab_desktop.app import build_services
from gptlab_desktop.config import resolve_config
from gptlab_desktop.paths import AppPaths, ensure_created
from gptlab_desktop.services.chat_events import ChatEvent, ReplyFinished
from gptlab_desktop.services.showcase import load_showcase_entries
from tests.fakes.openai_server import FakeOpenAIServer, Reply, unused_loopback_url

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sk-restart-test-0123456789"

# Phase two: the app's own window, driven until the session is shown, then closed cleanly.
_SECOND_RUN = """
import asyncio, gc, json, sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QListView

from gptlab_desktop.app import build_services, launch
from gptlab_desktop.config import resolve_config
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.ui.event_loop import qt_event_loop
from tests.e2e.driving import until
from gptlab_desktop.ui.sessions.roles import SessionRole

data_dir, session_id = Path(sys.argv[1]), sys.argv[2]


async def run(app_run):
    window = app_run.window
    window.show()
    await app_run.start(load_showcase_entries())
    sessions = window.findChild(QListView, "sessionList")
    model = sessions.model()
    listed = [model.index(row, 0).data(SessionRole.SESSION_ID) for row in range(model.rowCount())]
    row = model.index(listed.index(session_id), 0)
    sessions.setCurrentIndex(row)
    sessions.activated.emit(row)  # Enter or a double-click opens it
    pane = window.chat_pane
    await until(lambda: pane.session is not None and pane.session.id == session_id
                and not pane.is_busy)
    shown = [[str(m.role), m.message, str(m.state)]
             for m in window.chat_view.transcript().messages()]
    closed = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))
    window.close()
    await closed
    return {"listed": listed, "shown": shown, "notice": window.findChild(
        type(window.chat_pane.notice_label), "noticeLabel").text()}


app = QApplication(["gptlab-desktop"])
# The loop is closed on leaving: its worker threads stop before Qt goes away.
with qt_event_loop(app) as loop:
    app_run = launch(build_services(resolve_config(str(data_dir))))
    result = loop.run_until_complete(run(app_run))
    del app_run  # freed on this thread, never in a collection on a worker thread
    gc.collect()
print(json.dumps(result))
"""


async def _first_run(data_dir: Path, base_url: str) -> tuple[str, list[list[str]]]:
    """Start a session, get the greeting and one reply, then close everything."""
    config = resolve_config(str(data_dir), {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": API_KEY})
    services = build_services(config, keyring_backend=fail.Keyring())
    try:
        data = await services.lobby.open(load_showcase_entries())
        assert data.is_usable and data.user is not None
        user = data.user
        reviewer = next(a for a in data.assistants if a.showcased)
        session = await services.engine.start_session(reviewer.id, user.id)
        finished: list[ChatEvent] = []
        finished += [e async for e in services.engine.greet(session.id)]
        finished += [e async for e in services.engine.send(session.id, "Keep this for later")]
        assert sum(isinstance(e, ReplyFinished) for e in finished) == 2
        messages = await services.store.list_messages(session.id)
        return session.id, [[str(m.role), m.message, str(m.state)] for m in messages]
    finally:
        await services.close()


@pytest.fixture
def first_run(data_dir: Path) -> tuple[str, list[list[str]]]:
    ensure_created(AppPaths(data_dir))
    with FakeOpenAIServer() as server:
        server.script(Reply(text="Welcome back any time."), Reply(text="Noted for later."))
        return asyncio.run(_first_run(data_dir, server.base_url))


def _second_run(data_dir: Path, session_id: str) -> dict[str, object]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "OPENAI_BASE_URL": unused_loopback_url(),
        "OPENAI_API_KEY": API_KEY,
        # Never the developer's keyring (keyring honours this variable).
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    result = subprocess.run(
        [sys.executable, "-c", _SECOND_RUN, str(data_dir), session_id],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_session_is_listed_after_a_restart_without_the_server(
    first_run: tuple[str, list[list[str]]], data_dir: Path
) -> None:
    session_id, _ = first_run
    assert session_id in _second_run(data_dir, session_id)["listed"]


def test_a_sessions_messages_are_readable_after_a_restart_without_the_server(
    first_run: tuple[str, list[list[str]]], data_dir: Path
) -> None:
    session_id, stored = first_run
    second = _second_run(data_dir, session_id)
    assert second["shown"] == stored
    assert [text for _, text, _ in stored] == [
        "Welcome back any time.",
        "Keep this for later",
        "Noted for later.",
    ]
    assert second["notice"] == ""
