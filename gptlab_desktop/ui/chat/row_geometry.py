"""Where a view's rows are: each row's height and top, in content pixels (no Qt).

QListView's own geometry placed every row again on each new row (a size query per row:
O(rows) per chat turn, bench/bench_turn.py). Here a change of height only marks the tops
from the changed row on as stale; they are recomputed, from there, when next asked for.
"""

from __future__ import annotations

import bisect
import itertools


class RowGeometry:
    """The heights of a list's rows, and their tops, valid for a leading run of rows only."""

    def __init__(self) -> None:
        self.heights: list[int] = []
        self._tops: list[int] = []
        self._tops_valid = 0
        # The row width the heights were measured at.
        self.width = 0

    def __len__(self) -> int:
        return len(self.heights)

    def reset(self, heights: list[int], width: int) -> None:
        """Every row measured again, at a width."""
        self.heights = heights
        self._tops_valid = 0
        self.width = width

    def tops(self) -> list[int]:
        """Every row's top in content coordinates, recomputed from the first stale one on."""
        heights = self.heights
        valid = min(self._tops_valid, len(heights))
        if valid < len(heights) or len(self._tops) != len(heights):
            tops = self._tops
            del tops[valid:]
            if valid < len(heights):  # rows removed from the end leave nothing to add
                top = tops[-1] + heights[valid - 1] if valid else 0
                tops.extend(itertools.accumulate(heights[valid:-1], initial=top))
            self._tops_valid = len(heights)
        return self._tops

    def content_height(self) -> int:
        """The height of every row together."""
        if not self.heights:
            return 0
        return self.tops()[-1] + self.heights[-1]

    def row_at(self, y: int) -> int:
        """The row at a content y (clamped to the rows there are; -1 when there are none)."""
        tops = self.tops()
        if not tops:
            return -1
        return min(len(tops) - 1, max(0, bisect.bisect_right(tops, y) - 1))

    def set_height(self, row: int, height: int) -> bool:
        """A row's new height; True when it changed (the rows after it then move)."""
        if self.heights[row] == height:
            return False
        self.heights[row] = height
        self._tops_valid = min(self._tops_valid, row + 1)
        return True

    def insert(self, first: int, heights: list[int]) -> None:
        """New rows from ``first`` on, with their heights."""
        self.heights[first:first] = heights
        self._tops_valid = min(self._tops_valid, first)

    def remove(self, first: int, last: int) -> None:
        """Rows ``first`` to ``last`` (inclusive) are gone."""
        del self.heights[first : last + 1]
        self._tops_valid = min(self._tops_valid, first)
