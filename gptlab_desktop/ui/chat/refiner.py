"""Exact heights for rows never shown, found a few milliseconds at a time in idle time.

Rows not yet painted are placed at an estimated height (delegate.py). Laying every row out
exactly at once would delay the first paint of a long transcript; so, a little after it, the
rows are laid out bottom first in slices of a few milliseconds, and the view places the rows
whose height changed again at most a few times a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer

_REFINE_SLICE_S = 0.008
_REFINE_DELAY_MS = 150
_REFINE_RELAYOUT_INTERVAL_S = 0.25


class IdleRowRefiner(QObject):
    """Lays a view's rows out exactly in idle time, bottom first, and reports the changed ones."""

    def __init__(
        self,
        row_count: Callable[[], int],
        refine: Callable[[int, int], bool],
        row_width: Callable[[], int],
        heights_changed: Callable[[Iterable[int]], None],
        parent: QObject | None = None,
    ) -> None:
        """``refine(row, width)`` lays a row out exactly and says whether its height changed;
        ``heights_changed`` is given the rows whose height did."""
        super().__init__(parent)
        self._row_count = row_count
        self._refine = refine
        self._row_width = row_width
        self._heights_changed = heights_changed
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._refine_some_rows)
        # Refining starts a little later, so that it never delays the first paint.
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.setInterval(_REFINE_DELAY_MS)
        self._delay.timeout.connect(self._timer.start)
        self._row = -1
        self._changed: list[int] = []
        self._last_layout = 0.0

    def start(self) -> None:
        """Refine every row again, from the last one up (a new transcript or width)."""
        self._row = self._row_count() - 1
        if self._row >= 0 and not self._timer.isActive():
            self._delay.start()

    def is_refining(self) -> bool:
        """Whether rows are still being laid out exactly in idle time."""
        return self._timer.isActive() or self._delay.isActive()

    def _refine_some_rows(self) -> None:
        width = self._row_width()
        deadline = time.perf_counter() + _REFINE_SLICE_S
        self._row = min(self._row, self._row_count() - 1)
        while self._row >= 0 and time.perf_counter() < deadline:
            if self._refine(self._row, width):
                self._changed.append(self._row)
            self._row -= 1
        is_done = self._row < 0
        if is_done:
            self._timer.stop()
        now = time.perf_counter()
        if self._changed and (is_done or now - self._last_layout > _REFINE_RELAYOUT_INTERVAL_S):
            rows, self._changed = self._changed, []
            self._last_layout = now
            count = self._row_count()
            self._heights_changed(row for row in rows if row < count)
