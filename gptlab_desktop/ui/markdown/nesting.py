"""Nested list items indented by two spaces, as models write them, made to nest.

CommonMark nests a list item only when it starts at its parent's content column: two spaces
under ``- a``, but three under ``1. a`` and four under ``10. a``. Models indent sub-items by
two spaces whatever the parent, so ``1. a`` followed by ``  - b`` would end the ordered list
and start another. This pre-pass moves such a line (and the lines that belong to it) to its
parent's content column before the text is parsed; text that CommonMark already nests is
left as it is. Lines inside a fenced code block move with the fence, so the code is unchanged.

Known limit: list items inside a block quote are left to CommonMark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gptlab_desktop.ui.markdown.fences import closes_fence, opened_fence

# A list item: its indent (spaces only), its marker, and the gap to its content.
_ITEM = re.compile(r"(?P<indent> *)(?P<marker>[-*+]|\d{1,9}[.)])(?P<gap> +|$)")
# Only a marker wider than two columns ("1. ", "-  ") lets a two-space child fall short.
_WIDE_MARKER = re.compile(r"^ *(?:\d{1,9}[.)] |[-*+]  )", re.MULTILINE)
# A child starts at least this far right of its parent's marker.
_CHILD_INDENT = 2


@dataclass(frozen=True, slots=True)
class _Item:
    """An open list item: where its marker and content stood, and where its content moved."""

    indent: int
    content: int
    moved_content: int

    def moved(self, indent: int) -> int:
        """Where a line of this item indented by ``indent`` goes."""
        if indent >= self.content:
            return indent + self.moved_content - self.content
        return self.moved_content  # a two-space child: to the content column


def nest_two_space_lists(text: str) -> str:
    """The text with two-space nested list items moved to where CommonMark nests them."""
    if _WIDE_MARKER.search(text) is None:
        return text  # nothing can fall short: the common case costs one search
    lines = text.split("\n")
    items: list[_Item] = []
    fence = ""  # the open fence's characters
    fence_shift = 0
    after_blank = False
    for number, line in enumerate(lines):
        if fence:
            if closes_fence(line, fence):
                fence = ""
            lines[number] = _shifted(line, fence_shift)
            continue
        if not line.strip():
            after_blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if line[indent : indent + 1] == "\t":
            after_blank = False
            continue  # tab stops would move: left to CommonMark
        item = _ITEM.match(line)
        if item is not None or after_blank:
            # A new item, or a line after a blank one, leaves the items it is not inside.
            while items and indent < items[-1].indent + _CHILD_INDENT:
                items.pop()
        after_blank = False
        is_child = bool(items) and indent >= items[-1].indent + _CHILD_INDENT
        moved = items[-1].moved(indent) if is_child else indent
        rest = line
        if item is not None:
            gap = len(item["gap"])
            content = indent + len(item["marker"]) + (gap if 1 <= gap <= 4 else 1)
            items.append(_Item(indent, content, moved + content - indent))
            rest = line[item.end() :]
        if (opened := opened_fence(rest)) is not None:
            fence, fence_shift = opened, moved - indent
        lines[number] = _shifted(line, moved - indent)
    return "\n".join(lines)


def _shifted(line: str, shift: int) -> str:
    return " " * shift + line if shift > 0 and line.strip() else line
