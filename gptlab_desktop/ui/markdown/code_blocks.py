"""A fenced code block as HTML: a header with its language and a Copy link, then the code.

Pygments colours the code with inline styles (QTextDocument has no stylesheet classes), in
the style the theme names; it is imported with the first highlighted block, never before.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from gptlab_desktop.ui.markdown.theme import RenderOptions

# The scheme of a code block's Copy link: ``copy:N`` copies ``code_blocks[N]``.
COPY_SCHEME = "copy"

CODE_FONT = "monospace"


def code_source(content: str) -> str:
    """A fence's code as it is copied: without the last line break or a line still blank.

    A fence still open (a reply being streamed) runs to the end, and the line being typed
    there may be empty so far.
    """
    lines = content.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def code_block_html(index: int, language: str, code: str, options: RenderOptions) -> str:
    """The table a fenced code block is shown as; its Copy link is ``copy:index``."""
    colours = options.theme.colours
    label = html.escape(language or "code")
    return (
        '<table width="100%" cellspacing="0" cellpadding="6" border="0" '
        f'style="background-color: {colours.code_background}; '
        'margin-top: 4px; margin-bottom: 4px;">'
        f'<tr><td style="background-color: {colours.code_header_background}; '
        f'color: {colours.code_header_text};">{label}</td>'
        f'<td align="right" style="background-color: {colours.code_header_background};">'
        f'<a href="{COPY_SCHEME}:{index}" style="color: {colours.copy_link};">Copy</a></td></tr>'
        f'<tr><td colspan="2"><pre style="color: {colours.code_text}; '
        f'white-space: {_white_space(options)}; font-family: {CODE_FONT}; margin: 0px;">'
        f"{_highlighted(language, code, colours.pygments_style)}</pre></td></tr>"
        "</table>"
    )


def indented_code_html(code: str, options: RenderOptions) -> str:
    """An indented (not fenced) code block: the same colours, without a header."""
    colours = options.theme.colours
    return (
        f'<pre style="background-color: {colours.code_background}; color: {colours.code_text}; '
        f'white-space: {_white_space(options)}; font-family: {CODE_FONT};">'
        f"{html.escape(code_source(code))}</pre>\n"
    )


def inline_code_html(code: str, options: RenderOptions) -> str:
    """A code span."""
    background = options.theme.colours.inline_code_background
    return (
        f'<code style="background-color: {background}; font-family: {CODE_FONT};">'
        f"{html.escape(code)}</code>"
    )


def _white_space(options: RenderOptions) -> str:
    # "pre" keeps long lines whole, so the document grows wider than its view.
    return "pre-wrap" if options.wrap_code else "pre"


def _highlighted(language: str, code: str, style: str) -> str:
    """The code as HTML with inline colour styles, or plainly escaped for unknown languages."""
    lexer = _lexer(language.lower())
    if lexer is None:
        return html.escape(code)
    from pygments import highlight  # lazily: start-up never pays for it

    # Pygments ends its output with a newline; inside <pre> it would add an empty line.
    return str(highlight(code, lexer, _formatter(style))).rstrip("\n")


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


@lru_cache(maxsize=4)
def _formatter(style: str) -> Any:
    from pygments.formatters import HtmlFormatter

    # noclasses: inline style="" attributes, because QTextDocument has no stylesheet classes.
    return HtmlFormatter(noclasses=True, nowrap=True, style=style)
