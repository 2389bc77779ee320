"""One start-up, measured from inside: run by bench_startup.py and bench_memory.py, never alone.

``python bench/startup_probe.py bare`` shows a QMainWindow with a label; ``... app DATA_DIR``
starts GPT Lab Desktop through the same composition functions ``app.main`` uses and waits for
the lobby to be painted filled. Each prints ``PAINTED <peak RSS MB>`` at that moment; the app
then prints ``CHAT_READY`` once its chat services are warmed up, and with ``--open SESSION_ID``
opens that session and prints ``SESSION_PAINTED <peak RSS MB>`` once it is on screen. The
parent times the lines from the moment it started the process.
"""

from __future__ import annotations

import os
import resource
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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


def gptlab(data_dir: str, session_id: str | None) -> None:
    """GPT Lab Desktop, started as ``app.main`` starts it."""
    import asyncio

    import qasync
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from gptlab_desktop.app import build_main_window, build_services
    from gptlab_desktop.paths import app_paths, ensure_created
    from gptlab_desktop.services.showcase import load_showcase_entries

    paths = app_paths(data_dir)
    ensure_created(paths)
    app = QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
    )
    window = build_main_window(build_services(paths))

    class PaintSeen(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.event = asyncio.Event()

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.event.set()
            return False

    async def run() -> None:
        lobby_painted = PaintSeen()
        window.lobby_list.viewport().installEventFilter(lobby_painted)
        window.show()
        await asyncio.sleep(0)
        started = window.start(load_showcase_entries())
        await started
        while window.lobby_model.rowCount() == 0:
            await asyncio.sleep(0.001)
        lobby_painted.event.clear()
        await lobby_painted.event.wait()
        _say(f"PAINTED {_rss_mb():.1f}")
        if window.warm_up_task is not None:
            await window.warm_up_task
        _say("CHAT_READY")
        if session_id is not None:
            chat_painted = PaintSeen()
            window.chat_view.viewport().installEventFilter(chat_painted)
            await window.open_session(session_id)
            chat_painted.event.clear()
            await chat_painted.event.wait()
            _say(f"SESSION_PAINTED {_rss_mb():.1f}")
        window.close()

    loop.run_until_complete(run())


if __name__ == "__main__":
    if sys.argv[1] == "bare":
        bare()
    else:
        open_id = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--open" else None
        gptlab(sys.argv[2], open_id)
