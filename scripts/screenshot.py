"""Take the README's screenshot: the real main window on an X server (run under Xvfb).

Run through ``scripts/take-screenshot`` (which installs Xvfb where missing). It fills a fresh
data directory with the showcase and one short demo session, shows the window at a fixed size,
opens the session and grabs the screen to docs/screenshot.png.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = [
    ("assistant", "Hello! I'm your code reviewer. Paste some code and tell me what it should do."),
    (
        "user",
        "Why does this return the wrong total?\n\n```python\ndef total(items):\n"
        "    for item in items:\n        sum = 0\n        sum += item.price\n"
        "    return sum\n```",
    ),
    (
        "assistant",
        "It resets the running total on every pass:\n\n**Bug** — `sum = 0` sits "
        "inside the loop, so only the last price survives. It also shadows the "
        "built-in `sum`.\n\n```python\ndef total(items):\n"
        "    return sum(item.price for item in items)\n```\n\n"
        "Does `items` ever hold `None` prices? If so, decide how to treat them.",
    ),
]


def _memory_keyring() -> object:
    """A keyring that keeps nothing: the screenshot must not touch the user's real one."""
    from keyring.backends.fail import Keyring

    return Keyring()


async def _seed(data_dir: Path) -> str:
    from gptlab_desktop.models import Message, Role, new_id, utcnow
    from gptlab_desktop.paths import app_paths, ensure_created
    from gptlab_desktop.services.showcase import load_showcase_entries
    from gptlab_desktop.services.store.sqlite import SqliteStore

    paths = app_paths(str(data_dir))
    ensure_created(paths)
    store = SqliteStore(paths.database_file)
    await store.open()
    await store.sync_showcase(load_showcase_entries())
    reviewer = next(a for a in await store.list_assistants() if a.showcase_key == "code-reviewer")
    from gptlab_desktop.services.chat import SessionEngine
    from gptlab_desktop.services.llm import LlmClient, LlmSettings
    from gptlab_desktop.services.tokens import TokenCounter

    # Only starts the session (a snapshot of the assistant): no request is ever made.
    engine = SessionEngine(
        store,
        LlmClient(LlmSettings(base_url="http://127.0.0.1:9/v1", api_key="unused")),
        TokenCounter(paths.cache_dir / "tiktoken"),
    )
    user = await store.local_user()
    session = await engine.start_session(reviewer.id, user.id)
    await store.rename_session(session.id, "Fixing a running total")
    start = utcnow() - timedelta(minutes=5)
    for i, (role, text) in enumerate(DEMO):
        await store.add_message(
            Message(new_id(), session.id, Role(role), text, start + timedelta(minutes=i))
        )
    await store.close()
    return session.id


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from gptlab_desktop.app import build_services, launch
    from gptlab_desktop.config import resolve_config
    from gptlab_desktop.services.showcase import load_showcase_entries
    from gptlab_desktop.ui.event_loop import qt_event_loop

    out = ROOT / "docs" / "screenshot.png"
    with tempfile.TemporaryDirectory() as tmp:
        session_id = asyncio.run(_seed(Path(tmp)))
        app = QApplication([])
        app.setQuitOnLastWindowClosed(False)
        env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "not-needed"}
        config = resolve_config(tmp, env)
        app_run = launch(build_services(config, keyring_backend=_memory_keyring()))
        window = app_run.window

        async def run() -> None:
            window.resize(1280, 800)
            window.move(0, 0)
            window.show()
            await asyncio.sleep(0)
            await app_run.start(load_showcase_entries())
            window.lobby_list.setCurrentIndex(window.lobby_list.model().index(2, 0))
            await asyncio.sleep(0.5)
            await window.open_session(session_id)
            await asyncio.sleep(1.5)
            screen = app.primaryScreen()
            picture = screen.grabWindow(0, 0, 0, 1280, 800)
            out.parent.mkdir(exist_ok=True)
            picture.save(str(out))
            print(f"saved {out}")
            closed = asyncio.Event()
            window.closed.connect(closed.set)
            window.close()
            await closed.wait()

        with qt_event_loop(app) as loop:
            loop.run_until_complete(run())


if __name__ == "__main__":
    main()
