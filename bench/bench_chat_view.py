"""Speed check of the chat transcript view: prints figures, asserts nothing.

Run: ``python bench/bench_chat_view.py``. It builds a 2,000-message transcript and measures
the first paint, a streamed reply growing token by token, and scrolling to the top and back.
Waits run in a QEventLoop rather than thousands of processEvents() calls (DESIGN.md pitfall).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication

from gptlab_desktop.models import Message, MessageState, Role
from gptlab_desktop.ui.chat.view import ChatStreamView

MESSAGES = 2_000
TOKENS = 500
PROCESS_EVENTS_BUDGET = 800

_process_events_calls = 0


def process_events(app: QApplication) -> None:
    global _process_events_calls
    _process_events_calls += 1
    if _process_events_calls > PROCESS_EVENTS_BUDGET:
        raise RuntimeError("processEvents budget exceeded")
    app.processEvents()


def run_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> float:
    """Run the event loop until the predicate holds; the seconds it took."""
    start = time.perf_counter()
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(lambda: loop.quit() if predicate() else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start(int(timeout_s * 1000))
    if not predicate():
        loop.exec()
    poll.stop()
    return time.perf_counter() - start


class PaintWatcher(QObject):
    """Notes when a widget has been painted."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def transcript(count: int) -> list[Message]:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "models",
        "stream",
        "tokens",
    ]
    messages = []
    for number in range(count):
        role = Role.USER if number % 2 == 0 else Role.ASSISTANT
        paragraphs = []
        for _ in range(rng.choice((1, 1, 2, 3, 5))):
            paragraphs.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 80))))
        if role is Role.ASSISTANT and rng.random() < 0.25:
            code = "\n".join(f"    value_{line} = compute({line}) * 2" for line in range(8))
            paragraphs.append(f"```python\ndef example():\n{code}\n    return value_0\n```")
        if role is Role.ASSISTANT and rng.random() < 0.2:
            paragraphs.append("- **first** point\n- second `point`\n- third point")
        messages.append(
            Message(
                id=f"m{number:05d}",
                session_id="bench",
                role=role,
                message="\n\n".join(paragraphs),
                created_date=start + timedelta(minutes=number),
            )
        )
    return messages


def summary(samples_s: list[float]) -> str:
    ms = sorted(sample * 1000 for sample in samples_s)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return (
        f"median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, "
        f"max {ms[-1]:.2f} ms, mean {statistics.fmean(ms):.2f} ms"
    )


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    messages = transcript(MESSAGES)
    view = ChatStreamView()
    view.resize(900, 800)
    watcher = PaintWatcher()
    view.viewport().installEventFilter(watcher)

    started = time.perf_counter()
    view.transcript().set_messages(messages)
    filled = time.perf_counter() - started
    view.show()
    while watcher.paints == 0:
        process_events(app)
    first_paint = time.perf_counter() - started
    bar = view.verticalScrollBar()
    run_until(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), 10)
    at_bottom = time.perf_counter() - started
    print(
        f"{MESSAGES} messages: set_messages {filled * 1000:.1f} ms, "
        f"first paint {first_paint * 1000:.1f} ms, settled at the bottom "
        f"{at_bottom * 1000:.1f} ms"
    )

    # Scrolling before every row has its exact height (rows at the top are still estimates).
    cold = scroll_stall(view)
    print(
        f"scroll to top and back while refining: top {cold[0] * 1000:.1f} ms, "
        f"back {cold[1] * 1000:.1f} ms"
    )
    refined = run_until(lambda: not view.is_refining(), 60)
    print(
        f"idle refinement of every row finished {refined * 1000:.0f} ms later "
        f"({view.message_delegate().cached_layout_count()} layouts cached)"
    )
    warm = scroll_stall(view)
    print(
        f"scroll to top and back once refined: top {warm[0] * 1000:.1f} ms, "
        f"back {warm[1] * 1000:.1f} ms"
    )

    reply = Message(
        id="streaming",
        session_id="bench",
        role=Role.ASSISTANT,
        message="",
        created_date=messages[-1].created_date + timedelta(minutes=1),
        state=MessageState.STREAMING,
    )
    view.transcript().append(reply)
    run_until(lambda: bar.value() == bar.maximum(), 5)
    costs: list[float] = []
    same_height: list[float] = []
    grew: list[float] = []
    text = ""
    for token in range(TOKENS):
        text += stream_token(token)
        height = bar.maximum()
        begin = time.perf_counter()
        view.set_streaming_text(reply.id, text)
        view.flush_streaming()  # what the 100 ms timer does
        view.executeDelayedItemsLayout()
        view.viewport().repaint()
        costs.append(time.perf_counter() - begin)
        (same_height if bar.maximum() == height else grew).append(costs[-1])
    print(
        f"streaming {TOKENS} tokens ({len(text)} characters), each forced re-render, "
        f"layout and repaint: {summary(costs)}"
    )
    print(f"  first 50 tokens: {summary(costs[:50])}; last 50: {summary(costs[-50:])}")
    print(f"  {len(same_height)} updates within the row's height: {summary(same_height)}")
    print(f"  {len(grew)} updates that grew the row (all rows placed again): {summary(grew)}")
    print(
        f"  pinned to the bottom afterwards: {view.is_pinned_to_bottom()} "
        f"(value {bar.value()} of {bar.maximum()})"
    )

    coalesced_start = time.perf_counter()
    for token in range(TOKENS, TOKENS + 200):
        text += stream_token(token)
        view.set_streaming_text(reply.id, text)
    queued = time.perf_counter() - coalesced_start
    print(
        f"200 set_streaming_text calls without forcing: {queued * 1000:.2f} ms in all "
        "(shown by the next timer tick)"
    )
    print(f"processEvents calls: {_process_events_calls}")
    view.close()


def stream_token(number: int) -> str:
    if number == 120:
        return "\n\n```python\n"
    if number == 260:
        return "\n```\n\n"
    if 120 < number < 260 and number % 9 == 0:
        return "\n    "
    if number % 40 == 39:
        return "\n\n"
    return f" word{number}"


def scroll_stall(view: ChatStreamView) -> tuple[float, float]:
    """Seconds to scroll to the top and paint, then to the bottom and paint."""
    begin = time.perf_counter()
    view.scrollToTop()
    view.executeDelayedItemsLayout()
    view.viewport().repaint()
    top = time.perf_counter() - begin
    begin = time.perf_counter()
    view.scroll_to_end()
    view.executeDelayedItemsLayout()
    view.viewport().repaint()
    return top, time.perf_counter() - begin


if __name__ == "__main__":
    main()
