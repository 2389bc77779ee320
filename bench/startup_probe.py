"""One start-up, measured from inside: run by bench_startup.py and bench_memory.py, never alone.

``python bench/startup_probe.py bare`` shows a QMainWindow with a label; ``... app DATA_DIR``
starts GPT Lab Desktop through the same composition functions ``app.main`` uses and waits for
the lobby to be painted filled. Each prints ``PAINTED <peak RSS MB>`` at that moment; the app
then prints ``CHAT_READY`` once its chat services are warmed up, and with ``--open SESSION_ID``
opens that session and prints ``SESSION_PAINTED <peak RSS MB>`` once it is on screen. With
``--start-session`` it instead starts a session with the first assistant the moment the lobby
paints, prints ``SESSION_STARTED`` once the session exists (stored, shown, its user known; the
greeting not included) and closes. The parent times the lines from the moment it started the
process.
"""

from __future__ import annotations

import os
import resource
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A user whose key is already known (no dialog), a keyring that never touches the developer's,
# and a server address on this machine: start-up must not depend on the network anyway.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
os.environ.setdefault("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _say(line: str) -> None:
    print(line, flush=True)


def bare() -> None:
    """The baseline: the least a PySide6 window can be."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication([])
    window = QMainWindow()
    window.setCentralWidget(QLabel("Hello"))

    class OnPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                _say(f"PAINTED {_rss_mb():.1f}")
                QTimer.singleShot(0, app.quit)
            return False

    paint = OnPaint()
    window.installEventFilter(paint)
    window.show()
    app.exec()


def gptlab(data_dir: str, session_id: str | None, *, start_session: bool = False) -> None:
    """GPT Lab Desktop, started as ``app.main`` starts it."""
    import asyncio
    import gc

    gc.disable()  # as app.main does, until resume_collecting_after_start
    from collections.abc import Callable

    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from gptlab_desktop.ui.pyside_imports import scan_sources_cheaply

    scan_sources_cheaply()  # as app.main does, before anything else is imported
    from gptlab_desktop.app import (
        AppRun,
        build_services,
        configure_logging,
        launch,
        resume_collecting_after_start,
    )
    from gptlab_desktop.config import apply_to_libraries, resolve_config
    from gptlab_desktop.paths import ensure_created
    from gptlab_desktop.services.aio import run_blocking
    from gptlab_desktop.services.showcase import load_showcase_entries
    from gptlab_desktop.ui.event_loop import qt_event_loop

    config = resolve_config(data_dir)
    ensure_created(config.paths)
    configure_logging(config.paths)
    apply_to_libraries(config)
    app = QApplication([])

    class PaintSeen(QObject):
        """Set once the watched widget paints while ``condition`` holds."""

        def __init__(self, condition: Callable[[], bool] = lambda: True) -> None:
            super().__init__()
            self.event = asyncio.Event()
            self.condition = condition

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and self.condition():
                self.event.set()
            return False

    async def run(app_run: AppRun) -> None:
        window = app_run.window
        lobby_painted = PaintSeen(lambda: window.lobby_model.rowCount() > 0)
        window.lobby_list.viewport().installEventFilter(lobby_painted)
        window.show()
        started = app_run.start(await run_blocking(load_showcase_entries))
        collecting = asyncio.ensure_future(resume_collecting_after_start(app_run, started))
        await lobby_painted.event.wait()
        _say(f"PAINTED {_rss_mb():.1f}")
        if start_session:
            first = window.lobby_filter.index(0, 0)
            window.lobby_list.setCurrentIndex(first)
            window.lobby_list.activated.emit(first)  # Enter on the first row
            while window.chat_pane.session is None:
                await asyncio.sleep(0.001)
            _say("SESSION_STARTED")
            collecting.cancel()
            closed = asyncio.Event()
            window.closed.connect(closed.set)
            window.close()
            await closed.wait()
            return
        # The warm-up begins once the start-up work is done; the chat is usable when it ends.
        await started
        if app_run.warm_up_task is None:
            raise RuntimeError("the run started no warm-up of its chat services")
        await app_run.warm_up_task
        await collecting
        _say(f"CHAT_READY {_rss_mb():.1f}")
        if session_id is not None:
            chat_painted = PaintSeen(lambda: window.chat_view.model().rowCount() > 0)
            window.chat_view.viewport().installEventFilter(chat_painted)
            await window.open_session(session_id)
            window.chat_view.viewport().update()
            await chat_painted.event.wait()
            _say(f"SESSION_PAINTED {_rss_mb():.1f}")
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        window.close()
        await closed.wait()

    with qt_event_loop(app) as loop:
        app_run = launch(build_services(config))
        loop.run_until_complete(run(app_run))
        del app_run  # freed on this thread, never in a collection on a worker thread
        gc.collect()


if __name__ == "__main__":
    if sys.argv[1] == "bare":
        bare()
    else:
        open_id = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--open" else None
        gptlab(sys.argv[2], open_id, start_session="--start-session" in sys.argv[3:])
