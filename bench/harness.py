"""What every benchmark shares: figures with targets and same-run baselines, and Qt waits.

A benchmark script builds ``Figure`` values and calls ``report``: it prints a table for people
and one ``BENCH-JSON`` line per figure for ``bench/run_all.py``. Benchmarks never assert: a
missed target is printed as MISSED, and the cause is to be fixed in the app.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gptlab_desktop.models import Assistant, ModelConfig, User
    from gptlab_desktop.services.store.sqlite import SqliteStore

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Figure:
    """One measured figure, its target and, where there is one, its same-run baseline."""

    name: str
    value: float
    unit: str
    target: float | None = None  # the figure must be <= target
    baseline: float | None = None  # the same quantity for the baseline, same unit
    baseline_name: str = ""
    ratio_target: float | None = None  # value / baseline must be <= ratio_target
    # Where the figure and its baseline were measured in pairs: the median of the pairs' ratios
    # (steadier than the ratio of the two medians when the machine's speed drifts).
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.value / self.baseline if self.baseline else None

    @property
    def is_met(self) -> bool | None:
        checks: list[bool] = []
        if self.target is not None:
            checks.append(self.value <= self.target)
        if self.ratio_target is not None and self.ratio is not None:
            checks.append(self.ratio <= self.ratio_target)
        return all(checks) if checks else None


def report(title: str, figures: Sequence[Figure]) -> None:
    """Print the figures as a table and as machine-readable lines."""
    print(f"\n== {title}")
    for figure in figures:
        parts = [f"{figure.name}: {figure.value:,.2f} {figure.unit}"]
        if figure.target is not None:
            parts.append(f"target <= {figure.target:g} {figure.unit}")
        if figure.baseline is not None:
            ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "n/a"
            parts.append(
                f"baseline {figure.baseline_name} {figure.baseline:,.2f} {figure.unit} "
                f"(ratio {ratio}"
                + (f", target <= {figure.ratio_target:g}x)" if figure.ratio_target else ")")
            )
        verdict = {True: "met", False: "MISSED", None: "info"}[figure.is_met]
        print(f"  [{verdict:>6}] " + " | ".join(parts))
    for figure in figures:
        record = asdict(figure) | {"ratio": figure.ratio, "is_met": figure.is_met, "suite": title}
        print("BENCH-JSON " + json.dumps(record))
    sys.stdout.flush()


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_qt_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> float:
    """Run Qt's event loop until ``predicate`` holds (polled every 2 ms); seconds taken.

    One nested QEventLoop instead of many processEvents() calls (DESIGN.md's pitfall).
    """
    from PySide6.QtCore import QEventLoop, QTimer

    start = time.perf_counter()
    if predicate():
        return 0.0
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(2)
    poll.timeout.connect(lambda: loop.quit() if predicate() else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start(int(timeout_s * 1000))
    loop.exec()
    poll.stop()
    deadline.stop()
    if not predicate():
        raise TimeoutError("the condition did not hold in time")
    return time.perf_counter() - start


class StallMeter:
    """The longest gap between ticks of a 5 ms timer: how long the event loop was blocked."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.longest_s = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest_s = max(self.longest_s, now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.longest_s = 0.0
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        self._tick()
        return self.longest_s


async def open_store_with_assistant(
    path: Path, *, initial_prompt: str = "p", config: ModelConfig | None = None
) -> tuple[SqliteStore, User, Assistant]:
    """A store at ``path``, opened, with a user and one assistant of theirs."""
    from gptlab_desktop.models import AssistantDraft, ModelConfig
    from gptlab_desktop.services.store.sqlite import SqliteStore

    store = SqliteStore(path)
    await store.open()
    user = await store.local_user()
    draft = AssistantDraft(
        name="Bench",
        tag_line="t",
        description="d",
        initial_prompt=initial_prompt,
        summary_prompt="s",
        model_config=config or ModelConfig(model="gpt-4o-mini"),
    )
    return store, user, await store.create_assistant(draft, user.id)
