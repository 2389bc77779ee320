"""Closing the window while a reply streams and a deletion waits loses nothing and ends fast.

A separate Python process runs the app's own composition (``app.launch``) on a real SQLite
file, against the loopback server trickling a long reply. With that reply half streamed and a
deleted session still inside its undo window, the window is closed: the process must exit 0
within 5 s, the reply must be stored as interrupted with the text received so far, the
deletion must have been carried out, and the store must have been closed cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.paths import AppPaths, ensure_created
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.fakes.openai_server import FakeOpenAIServer, Reply

REPO = Path(__file__).resolve().parents[2]
# Once told the window is closing, the process has this long to be gone.
EXIT_DEADLINE_S = 5.0
LONG_REPLY = "A long and careful answer. " * 200

_RUN = """
import asyncio, gc, json, sys

from PySide6.QtWidgets import QApplication

from gptlab_desktop.app import build_services, launch
from gptlab_desktop.config import resolve_config
from gptlab_desktop.models import MessageState
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.ui.event_loop import qt_event_loop
from tests.e2e.driving import until


def shown_so_far(window):
    return "".join(m.message for m in window.chat_view.transcript().messages()
                   if m.state is MessageState.STREAMING)


async def drive(run):
    window = run.window
    window.show()
    await run.start(load_showcase_entries())
    assistant = window.lobby_model.assistants()[0]
    await window.start_session(assistant.id)
    await until(lambda: not window.chat_pane.is_busy)
    deleted = window.chat_pane.session.id
    window.session_panel.delete_session(deleted)  # hidden, undoable: the write waits
    window.start_session(assistant.id)
    await until(lambda: len(shown_so_far(window)) > 60)
    closed = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))
    print(json.dumps({"deleted": deleted, "streaming": window.chat_pane.session.id,
                      "shown": shown_so_far(window)}), flush=True)
    window.close()
    await closed


app = QApplication(["gptlab-desktop"])
with qt_event_loop(app) as loop:
    app_run = launch(build_services(resolve_config(sys.argv[1])))
    loop.run_until_complete(drive(app_run))
    del app_run  # freed on this thread, never in a collection on a worker thread
    gc.collect()
"""


def test_closing_while_a_reply_streams_stores_it_interrupted_and_exits_within_5_s(
    data_dir: Path,
) -> None:
    ensure_created(AppPaths(data_dir))
    with FakeOpenAIServer() as server:
        # The first session's greeting at once; the second's trickles for a minute.
        server.script(
            Reply(text="Hello there."),
            Reply(text=LONG_REPLY, chunk_size=4, delay_s=0.05),
        )
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "OPENAI_BASE_URL": server.base_url,
            # Never the developer's keyring (keyring honours this variable).
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        process = subprocess.Popen(
            [sys.executable, "-c", _RUN, str(data_dir)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # written just before the window closes
            assert line, process.stderr.read() if process.stderr else ""
            ids = json.loads(line)
            status = process.wait(timeout=EXIT_DEADLINE_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr = process.stderr.read() if process.stderr else ""
    assert status == 0, stderr

    database = AppPaths(data_dir).database_file
    # Closed cleanly: the last connection's close folds the write-ahead log back in.
    assert not Path(f"{database}-wal").exists()

    async def read() -> tuple[object, list]:
        store = SqliteStore(database)
        assert (await store.open()).is_usable
        try:
            return await store.get_session(ids["deleted"]), await store.list_messages(
                ids["streaming"]
            )
        finally:
            await store.close()

    deleted, messages = asyncio.run(read())
    assert deleted is None
    [reply] = [m for m in messages if m.role is Role.ASSISTANT]
    assert reply.state is MessageState.INTERRUPTED
    # Every word received is kept: at least what the window showed, and nothing made up.
    assert reply.message.startswith(ids["shown"])
    assert LONG_REPLY.startswith(reply.message)
