"""A chat message's Markdown as HTML that QTextDocument shows well, with copyable code blocks.

Message text is untrusted: raw HTML is shown as text, images become links (a QTextDocument
must never fetch anything), and only the CSS subset QTextDocument understands is emitted.
``markdown`` and ``pygments`` are imported on the first render, never at start-up.
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


def clear_render_cache() -> None:
    """Forget every cached render (a theme change would need this)."""
    _render_cached.cache_clear()


def _render(text: str) -> RenderedMarkdown:
    prose, blocks = _split_fences(text)
    body = _markdown_to_html(prose) if prose.strip() else ""
    body = _style_prose(body)
    formatted = [_code_block_html(index, block) for index, block in enumerate(blocks)]

    def substitute(match: re.Match[str]) -> str:
        index = int(match.group(1) or match.group(2))
        return formatted[index] if index < len(formatted) else ""

    body = _TOKEN_PARAGRAPH.sub(substitute, body)
    return RenderedMarkdown(html=body, code_blocks=tuple(block.code for block in blocks))


# Chat transcripts repeat: a session reopened renders the same texts again.
_render_cached = lru_cache(maxsize=4096)(_render)


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
