"""A reply being streamed, rendered in parts: settled blocks once each, the tail every update.

Its text is cut into settled blocks, each rendered once, and an unsettled tail, the only part
rendered again as the reply grows, so an update costs the same at the end of a long reply as
at its start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from gptlab_desktop.ui.markdown.fences import closes_fence, opened_fence
from gptlab_desktop.ui.markdown.render import DEFAULT_OPTIONS, RenderedMarkdown, render_part
from gptlab_desktop.ui.markdown.theme import RenderOptions

# A paragraph longer than this is shown in pieces while it streams, so that an update never
# re-renders more than about this much of it.
STREAM_PIECE_CHARS = 2000

_LIST_ITEM = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
# A block that is not a paragraph of prose, so never cut in pieces: a quote, a footnote,
# display math, or a line that may be a table's.
_NOT_PROSE = re.compile(r"[ \t>]|\[\^|\$\$|\\\[|.*\|")
# A "$" that may open a formula (not a price: "$5").
_MATH_DOLLAR = re.compile(r"(?<!\\)\$[^\s\d$]")
_SPLIT_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class StreamingUpdate:
    """A streamed reply's rendering after an update: new settled blocks and the tail.

    ``restart``: the text did not grow from the previous update's, so ``settled`` holds every
    settled block from the start rather than only the new ones. The settled blocks' HTML, then
    the tail's, is the reply's rendering while it streams; ``code_blocks`` numbers every code
    block so far as the ``copy:N`` anchors do.
    """

    restart: bool
    settled: tuple[RenderedMarkdown, ...]
    tail: RenderedMarkdown
    code_blocks: tuple[str, ...]

    @property
    def images(self) -> Mapping[str, bytes]:
        """The formula images the new settled blocks and the tail show, by name."""
        merged: dict[str, bytes] = {}
        for piece in (*self.settled, self.tail):
            merged.update(piece.images)
        return merged


class StreamingMarkdown:
    """Renders a growing reply in parts: settled blocks once each, the tail on every update.

    A block is settled once a blank line outside any code fence or display formula is followed
    by the start of the next block (a table, a list or a ``$$`` formula still open stays in
    the tail); a very long paragraph is also cut into pieces of about ``STREAM_PIECE_CHARS``
    at spaces or line breaks, shown without a gap between them. The result may differ slightly
    from ``render_markdown`` on the whole text (a link whose reference is defined in a later
    block, a long paragraph's pieces); the complete reply is rendered whole.
    """

    def __init__(self, options: RenderOptions = DEFAULT_OPTIONS) -> None:
        self._options = options
        self._settled_text = ""
        self._code_blocks: list[str] = []
        self._inside_paragraph = False  # the settled text ends in the middle of a paragraph

    def _restart(self) -> None:
        self._settled_text = ""
        self._code_blocks = []
        self._inside_paragraph = False

    def update(self, text: str) -> StreamingUpdate:
        """Render the reply's latest text, re-using every block settled before."""
        restart = not text.startswith(self._settled_text)
        if restart:
            self._restart()
        settled: list[RenderedMarkdown] = []
        start = len(self._settled_text)
        while (boundary := _next_boundary(text, start, self._inside_paragraph)) is not None:
            end, ends_inside = boundary
            piece = _render_piece_cached(
                text[start:end],
                self._options,
                len(self._code_blocks),
                self._inside_paragraph,
                ends_inside,
            )
            settled.append(piece)
            self._code_blocks.extend(piece.code_blocks)
            self._inside_paragraph = ends_inside
            start = end
        self._settled_text = text[:start]
        tail = _render_piece(
            text[start:], self._options, len(self._code_blocks), self._inside_paragraph, False
        )
        return StreamingUpdate(
            restart=restart,
            settled=tuple(settled),
            tail=tail,
            code_blocks=(*self._code_blocks, *tail.code_blocks),
        )


def _next_boundary(text: str, start: int, inside_paragraph: bool) -> tuple[int, bool] | None:
    """Where the first settled piece of ``text[start:]`` ends, and whether inside a paragraph.

    None while the piece may still change: the text after it has not begun yet.
    """
    fence = ""  # an open code fence's characters, or "\\]" while a display formula is open
    has_content = inside_paragraph
    after_blank = False
    is_prose = inside_paragraph
    is_list = False  # a list item after a blank line continues a list, not a new block
    position = start
    while position < len(text):
        newline = text.find("\n", position)
        is_complete = newline >= 0
        line_end = newline if is_complete else len(text)
        line = text[position:line_end]
        stripped = line.strip()
        if fence:
            if is_complete and ("\\]" in line if fence == "\\]" else closes_fence(stripped, fence)):
                fence = ""
        elif not stripped:
            after_blank = has_content and is_complete
        else:
            if (
                after_blank
                and (is_complete or len(line) >= 4)  # enough to tell a list item
                and line[0] not in " \t"
                and not (is_list and _LIST_ITEM.match(line))
            ):
                return position, False
            starts_item = _LIST_ITEM.match(line) is not None
            if not has_content:
                has_content = True
                is_prose = not starts_item
            # A list may start under a paragraph; a table too, which must never be cut.
            is_list = is_list or starts_item
            is_prose = is_prose and _NOT_PROSE.match(line) is None
            after_blank = False
            if (opened := opened_fence(line)) is not None:
                fence = opened
                is_prose = False
            elif stripped.startswith("\\[") and "\\]" not in stripped:
                fence = "\\]"  # a display formula may hold blank lines until it closes
                is_prose = False
            elif is_prose and line_end - start >= STREAM_PIECE_CHARS:
                cut = _paragraph_cut(text, start, line_end)
                if cut is not None:
                    return cut, True
        position = line_end + 1
    return None


def _paragraph_cut(text: str, start: int, end: int) -> int | None:
    """A place after a space or line break in ``text[start:end]`` where a paragraph can be cut
    without splitting a code span, emphasis, a link or a formula; None if none is near."""
    candidate = end
    for _ in range(_SPLIT_CANDIDATES):
        space = max(text.rfind(" ", start, candidate), text.rfind("\n", start, candidate))
        if space <= start:
            return None
        if _is_balanced(text[start : space + 1]):
            return space + 1
        candidate = space
    return None


def _is_balanced(piece: str) -> bool:
    """Whether every span the piece opens is closed in it (as far as counting can tell)."""
    return (
        piece.count("`") % 2 == 0
        and piece.count("**") % 2 == 0
        and piece.count("~~") % 2 == 0
        and piece.count("[") == piece.count("]")
        and piece.count("(") == piece.count(")")
        and piece.count("\\(") == piece.count("\\)")
        and (piece.count("$") % 2 == 0 or _MATH_DOLLAR.search(piece) is None)
    )


def _render_piece(
    text: str,
    options: RenderOptions,
    first_code_index: int,
    starts_inside: bool,
    ends_inside: bool,
) -> RenderedMarkdown:
    """A part of a streamed reply; a paragraph cut in pieces loses the gap between them."""
    rendered = render_part(text, options, first_code_index)
    body = rendered.html
    if ends_inside and body.rstrip().endswith("</p>"):
        last = body.rfind("<p>")
        if last >= 0:
            both = starts_inside and last == 0
            style = "margin-top: 0px; margin-bottom: 0px;" if both else "margin-bottom: 0px;"
            body = f'{body[:last]}<p style="{style}">{body[last + 3 :]}'
            starts_inside = starts_inside and not both
    if starts_inside and body.startswith("<p>"):
        body = f'<p style="margin-top: 0px;">{body[3:]}'
    return RenderedMarkdown(html=body, code_blocks=rendered.code_blocks, images=rendered.images)


# Settled pieces are rendered once per update sequence, and again only if a reply restarts.
_render_piece_cached = lru_cache(maxsize=1024)(_render_piece)
