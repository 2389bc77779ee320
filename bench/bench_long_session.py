"""Opening a long stored session: time to first paint, and stalls while scrolling it.

Run: ``python bench/bench_long_session.py``. A session of 2,000 stored messages (mixed lengths,
some with code blocks) is opened the way the window opens one: the engine reads it from the
store and the chat view shows it. Targets (issue 6): first paint <= 200 ms; scrolling to the
top and back keeps the longest event-loop stall <= 50 ms. Baseline: the same 2,000 texts shown
as plain strings in a bare QListView. A 200-message session shows how the cost grows.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from harness import Figure, StallMeter, open_store_with_assistant, report, run_qt_until

from gptlab_desktop.models import Message, Role, new_id, utcnow
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.event_loop import qt_event_loop

CODE = "Here is how:\n\n```python\ndef total(items):\n    return sum(i.price for i in items)\n```\n"


def _text(rng: random.Random, i: int) -> str:
    words = " ".join(
        rng.choice(["fraction", "half", "**bold**", "list", "note"])
        for _ in range(rng.choice([5, 20, 80, 200]))
    )
    return (CODE if i % 10 == 0 else "") + f"Message {i}: {words}\n\n- one\n- two\n"


async def _seed(path: Path, count: int) -> tuple[SqliteStore, SessionEngine, str, list[str]]:
    store, user, assistant = await open_store_with_assistant(path)
    # The engine only reads here; its LLM client is never asked anything.
    engine = SessionEngine(
        store,
        Providers.of_client(OpenAIClient(LlmSettings(base_url="http://127.0.0.1:9", api_key="x"))),
        TokenCounter(path.parent / "tiktoken"),
    )
    session = await engine.start_session(assistant.id, user.id)
    rng = random.Random(7)
    start = utcnow() - timedelta(days=1)
    texts = []
    for i in range(count):
        text = _text(rng, i)
        texts.append(text)
        role = Role.USER if i % 2 else Role.ASSISTANT
        await store.add_message(
            Message(new_id(), session.id, role, text, start + timedelta(seconds=i))
        )
    return store, engine, session.id, texts


def _figures(app: object, count: int) -> list[Figure]:
    from PySide6.QtCore import QEvent, QObject, QStringListModel
    from PySide6.QtWidgets import QListView

    from gptlab_desktop.ui.chat.view import ChatStreamView
    from gptlab_desktop.ui.markdown import render_markdown

    # The app imports the Markdown and highlighting libraries in the background after its
    # first paint; do the same before measuring.
    render_markdown(CODE + "warm-up", cache=False)

    class PaintSeen(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.seen = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.seen = True
            return False

    with tempfile.TemporaryDirectory() as tmp, qt_event_loop(app) as loop:
        store, engine, session_id, texts = loop.run_until_complete(
            _seed(Path(tmp) / "bench.sqlite3", count)
        )

        # baseline: plain strings in a bare list view
        bare = QListView()
        bare.resize(700, 800)
        bare.show()
        bare_paint = PaintSeen()
        bare.viewport().installEventFilter(bare_paint)
        run_qt_until(lambda: bare_paint.seen)
        bare_paint.seen = False
        start = time.perf_counter()
        bare.setModel(QStringListModel(texts))
        bare.scrollToBottom()
        run_qt_until(lambda: bare_paint.seen)
        bare_s = time.perf_counter() - start
        bare.close()

        view = ChatStreamView()
        view.resize(700, 800)
        view.show()
        painted = PaintSeen()
        view.viewport().installEventFilter(painted)
        run_qt_until(lambda: painted.seen)
        painted.seen = False

        start = time.perf_counter()
        _, messages = loop.run_until_complete(engine.open_session(session_id))
        view.transcript().set_messages(messages)
        run_qt_until(lambda: painted.seen)
        first_paint_s = time.perf_counter() - start

        meter = StallMeter()
        meter.start()
        for _ in range(2):
            painted.seen = False
            view.scrollToTop()
            run_qt_until(lambda: painted.seen)
            painted.seen = False
            view.scroll_to_end()
            run_qt_until(lambda: painted.seen)
        stall_s = meter.stop()
        view.close()
        loop.run_until_complete(store.close())
    return [
        Figure(
            f"open a {count:,}-message session, to first paint",
            first_paint_s * 1000,
            "ms",
            target=200 if count == 2_000 else None,
            baseline=bare_s * 1000,
            baseline_name="bare QListView of strings",
        ),
        Figure(
            f"longest stall scrolling {count:,} messages to the top and back",
            stall_s * 1000,
            "ms",
            target=50 if count == 2_000 else None,
        ),
    ]


def main() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    figures: list[Figure] = []
    for count in (200, 2_000):
        figures += _figures(app, count)
    report("Long session", figures)


if __name__ == "__main__":
    main()
