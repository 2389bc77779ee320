"""A chat message's Markdown as HTML that QTextDocument shows well, with copyable code blocks.

Message text is untrusted: raw HTML is shown as text, images become links (a QTextDocument
must never fetch anything), and only the CSS subset QTextDocument understands is emitted.
``markdown`` and ``pygments`` are imported on the first render (or by ``warm_up``), never at
start-up.

A reply being streamed is rendered by ``StreamingMarkdown``: its text is cut into settled blocks,
each rendered once, and an unsettled tail, the only part rendered again as the reply grows, so an
update costs the same at the end of a long reply as at its start.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The scheme of a code block's Copy link: ``copy:N`` copies ``code_blocks[N]``.
COPY_SCHEME = "copy"

# Colours stay fixed (not from the palette) because a code block keeps its own light
# background in every theme, so the highlighting style always stays readable.
_CODE_BACKGROUND = "#f6f8fa"
_CODE_HEADER_BACKGROUND = "#e8ebef"
_CODE_HEADER_TEXT = "#57606a"
_CODE_TEXT = "#1f2328"
_INLINE_CODE_BACKGROUND = "#eceff2"
_PYGMENTS_STYLE = "default"
_CODE_FONT = "monospace"

# Long enough that a user cannot type it by accident; a collision would only misplace a block.
_TOKEN = f"gptlabcodeblock{secrets.token_hex(6)}x"
_TOKEN_PARAGRAPH = re.compile(rf"<p>{_TOKEN}(\d+)</p>|{_TOKEN}(\d+)")
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")

_local = threading.local()


@dataclass(frozen=True, slots=True)
class RenderedMarkdown:
    """The HTML of one message and the raw source of each code block, in order."""

    html: str
    code_blocks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _CodeBlock:
    language: str
    code: str


def render_markdown(text: str, *, cache: bool = True) -> RenderedMarkdown:
    """Render a message's Markdown; ``cache=False`` for text that is still growing.

    A streaming reply changes with every token, so caching each version would only push
    finished messages out of the cache.
    """
    if cache:
        return _render_cached(text)
    return _render(text)


def render_cache_info() -> Any:
    """Hits, misses and size of the render cache (``functools`` ``CacheInfo``)."""
    return _render_cached.cache_info()


def warm_up() -> None:
    """Import ``markdown`` and ``pygments`` and prime their caches, so a first reply renders fast.

    Safe from any thread (the app runs it in the background after its first paint); the
    thread that renders later still builds its own converter, which then takes well under 1 ms.
    """
    _render("*warm* `up`\n\n| a |\n|---|\n| 1 |\n\n```python\nwarm = 1\n```")


def _render(text: str, first_code_index: int = 0) -> RenderedMarkdown:
    prose, blocks = _split_fences(text)
    body = _markdown_to_html(prose) if prose.strip() else ""
    body = _style_prose(body)
    formatted = [
        _code_block_html(first_code_index + index, block) for index, block in enumerate(blocks)
    ]

    def substitute(match: re.Match[str]) -> str:
        index = int(match.group(1) or match.group(2))
        return formatted[index] if index < len(formatted) else ""

    body = _TOKEN_PARAGRAPH.sub(substitute, body)
    return RenderedMarkdown(html=body, code_blocks=tuple(block.code for block in blocks))


# Chat transcripts repeat: a session reopened renders the same texts again.
_render_cached = lru_cache(maxsize=4096)(_render)


# A paragraph longer than this is shown in pieces while it streams, so that an update never
# re-renders more than about this much of it.
STREAM_PIECE_CHARS = 2000

_LIST_ITEM = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
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


class StreamingMarkdown:
    """Renders a growing reply in parts: settled blocks once each, the tail on every update.

    A block is settled once a blank line outside any code fence is followed by the start of
    the next block; a very long paragraph is also cut into pieces of about
    ``STREAM_PIECE_CHARS`` at spaces or line breaks, shown without a gap between them. The
    result may differ slightly from ``render_markdown`` on the whole text (a loose list split
    by a later block, say); the complete reply is rendered whole.
    """

    def __init__(self) -> None:
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
                text[start:end], len(self._code_blocks), self._inside_paragraph, ends_inside
            )
            settled.append(piece)
            self._code_blocks.extend(piece.code_blocks)
            self._inside_paragraph = ends_inside
            start = end
        self._settled_text = text[:start]
        tail = _render_piece(text[start:], len(self._code_blocks), self._inside_paragraph, False)
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
    fence = ""
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
            if is_complete and stripped.startswith(fence) and not stripped.strip(fence[0]):
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
            if not has_content:
                has_content = True
                is_list = _LIST_ITEM.match(line) is not None
                is_prose = line[0] not in " \t|>" and not is_list
            after_blank = False
            opening = _FENCE_OPEN.match(line)
            if opening is not None and not (opening["fence"][0] == "`" and "`" in opening["info"]):
                fence = opening["fence"][0] * len(opening["fence"])
                is_prose = False
            elif is_prose and line_end - start >= STREAM_PIECE_CHARS:
                cut = _paragraph_cut(text, start, line_end)
                if cut is not None:
                    return cut, True
        position = line_end + 1
    return None


def _paragraph_cut(text: str, start: int, end: int) -> int | None:
    """A place after a space or line break in ``text[start:end]`` where a paragraph can be cut
    without splitting a code span, strong emphasis or a link; None if none is found nearby."""
    candidate = end
    for _ in range(_SPLIT_CANDIDATES):
        space = max(text.rfind(" ", start, candidate), text.rfind("\n", start, candidate))
        if space <= start:
            return None
        piece = text[start : space + 1]
        if (
            piece.count("`") % 2 == 0
            and piece.count("**") % 2 == 0
            and piece.count("[") == piece.count("]")
            and piece.count("(") == piece.count(")")
        ):
            return space + 1
        candidate = space
    return None


def _render_piece(
    text: str, first_code_index: int, starts_inside: bool, ends_inside: bool
) -> RenderedMarkdown:
    """A part of a streamed reply; a paragraph cut in pieces loses the gap between them."""
    rendered = _render(text, first_code_index)
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
    return RenderedMarkdown(html=body, code_blocks=rendered.code_blocks)


# Settled pieces are rendered once per update sequence, and again only if a reply restarts.
_render_piece_cached = lru_cache(maxsize=1024)(_render_piece)


def _split_fences(text: str) -> tuple[str, list[_CodeBlock]]:
    """Take fenced code blocks out of the prose, leaving a placeholder paragraph for each.

    A fence still open at the end (a reply being streamed) runs to the end of the text.
    Fences indented inside list items are accepted too, because models write them.
    """
    lines = text.split("\n")
    prose: list[str] = []
    blocks: list[_CodeBlock] = []
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if opening is None or (
            opening["fence"][0] == "`" and "`" in opening["info"]  # an inline code span
        ):
            prose.append(lines[index])
            index += 1
            continue
        fence = opening["fence"]
        indent = len(opening["indent"].expandtabs(4))
        language = opening["info"].strip().split(" ")[0] if opening["info"].strip() else ""
        code_lines: list[str] = []
        is_closed = False
        index += 1
        while index < len(lines):
            stripped = lines[index].strip()
            index += 1
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                is_closed = True
                break
            code_lines.append(_dedent(lines[index - 1], indent))
        if not is_closed:
            # Still streaming: the line being typed may be empty so far.
            while code_lines and not code_lines[-1].strip():
                code_lines.pop()
        prose.extend(["", f"{_TOKEN}{len(blocks)}", ""])
        blocks.append(_CodeBlock(language=language, code="\n".join(code_lines)))
    return "\n".join(prose), blocks


def _dedent(line: str, indent: int) -> str:
    removable = len(line) - len(line.lstrip(" \t"))
    return line[min(indent, removable) :]


def _markdown_to_html(prose: str) -> str:
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = _new_engine()
    engine.reset()
    return str(engine.convert(prose))


def _new_engine() -> Any:
    """A Markdown converter that escapes raw HTML and turns images into links."""
    import markdown  # lazily: start-up never pays for it
    from markdown.treeprocessors import Treeprocessor

    class ImagesAsLinks(Treeprocessor):
        """Replace every image by a link to it, so nothing is ever loaded."""

        def run(self, root: Any) -> None:
            for image in root.iter("img"):
                source = image.get("src", "")
                label = image.get("alt") or "image"
                image.tag = "a"
                image.attrib.clear()
                image.set("href", source)
                image.text = f"[{label}]"

    engine = markdown.Markdown(extensions=["tables", "sane_lists", "nl2br"], output_format="html")
    # Untrusted text: raw HTML, block or inline, is shown as text rather than interpreted.
    engine.preprocessors.deregister("html_block")
    engine.inlinePatterns.deregister("html")
    engine.treeprocessors.register(ImagesAsLinks(engine), "images_as_links", 15)
    return engine


def _style_prose(body: str) -> str:
    """Add the inline styles QTextDocument needs (it has no user-agent styles for these)."""
    body = body.replace(
        "<table>",
        '<table border="1" cellspacing="0" cellpadding="4" style="border-collapse: collapse;">',
    )
    body = body.replace(
        "<code>",
        f'<code style="background-color: {_INLINE_CODE_BACKGROUND}; font-family: {_CODE_FONT};">',
    )
    # Indented (not fenced) code blocks: same look as fenced ones, without a header.
    return body.replace(
        "<pre>",
        f'<pre style="background-color: {_CODE_BACKGROUND}; color: {_CODE_TEXT}; '
        'white-space: pre-wrap;">',
    )


def _code_block_html(index: int, block: _CodeBlock) -> str:
    label = html.escape(block.language or "code")
    return (
        '<table width="100%" cellspacing="0" cellpadding="6" border="0" '
        f'style="background-color: {_CODE_BACKGROUND}; margin-top: 4px; margin-bottom: 4px;">'
        f'<tr><td style="background-color: {_CODE_HEADER_BACKGROUND}; color: {_CODE_HEADER_TEXT};">'
        f"{label}</td>"
        f'<td align="right" style="background-color: {_CODE_HEADER_BACKGROUND};">'
        f'<a href="{COPY_SCHEME}:{index}">Copy</a></td></tr>'
        f'<tr><td colspan="2"><pre style="color: {_CODE_TEXT}; white-space: pre-wrap; '
        f'font-family: {_CODE_FONT}; margin: 0px;">{_highlighted(block)}</pre></td></tr>'
        "</table>"
    )


def _highlighted(block: _CodeBlock) -> str:
    """The code as HTML with inline colour styles, or plainly escaped for unknown languages."""
    lexer = _lexer(block.language.lower())
    if lexer is None:
        return html.escape(block.code)
    from pygments import highlight  # lazily: start-up never pays for it

    # Pygments ends its output with a newline; inside <pre> it would add an empty line.
    return str(highlight(block.code, lexer, _formatter())).rstrip("\n")


@lru_cache(maxsize=64)
def _lexer(language: str) -> Any:
    if not language:
        return None
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        # No guessing from the content: it is slow and often wrong on short snippets.
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=1)
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    # noclasses: inline style="" attributes, because QTextDocument has no stylesheet classes.
    return HtmlFormatter(noclasses=True, nowrap=True, style=_PYGMENTS_STYLE)
