"""Row heights and tops kept in step with insertions and removals (no Qt)."""

from __future__ import annotations

import itertools

from gptlab_desktop.ui.chat.row_geometry import RowGeometry


def expected_tops(heights: list[int]) -> list[int]:
    return list(itertools.accumulate(heights[:-1], initial=0)) if heights else []


def test_tops_follow_removals_at_the_end_and_in_the_middle() -> None:
    rows = RowGeometry()
    rows.reset([10, 20, 30, 40], width=100)
    assert rows.tops() == [0, 10, 30, 60]
    # Two rows leaving one after the other, the second then being the last (an edit forking
    # the conversation removes a question and its reply), with no repaint between.
    rows.remove(2, 2)
    rows.remove(2, 2)
    assert rows.tops() == expected_tops(rows.heights) == [0, 10]
    rows.remove(1, 1)
    assert rows.tops() == [0]
    rows.insert(1, [5, 6])
    rows.set_height(0, 7)
    assert rows.tops() == expected_tops(rows.heights) == [0, 7, 12]
    rows.remove(0, 2)
    assert rows.tops() == [] and rows.content_height() == 0
