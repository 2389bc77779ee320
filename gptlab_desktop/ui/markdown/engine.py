"""The Markdown parser and the HTML it writes for QTextDocument.

markdown-it-py parses CommonMark with GitHub's extensions (tables, strikethrough, task lists,
bare links, footnotes, alerts) and, through mdit-py-plugins, math between ``$``, ``$$``,
``\\(…\\)`` and ``\\[…\\]``. The renderer writes only the HTML subset QTextDocument shows well,
with inline styles from the theme. This module costs about 0.1 s to import, so the package
imports it with the first render (or ``warm_up``), never at start-up.

Message text is untrusted: raw HTML is shown as text, an image becomes a link to it, and only
http, https and mailto links become links. Footnotes are shown where they are defined, with
the label the text gives them, so every block of a reply renders on its own (as a streamed
reply's blocks are).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partialmethod

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.gfm_autolink import gfm_autolink_plugin
from mdit_py_plugins.texmath import texmath_plugin

from gptlab_desktop.ui.markdown.code_blocks import (
    code_block_html,
    code_source,
    indented_code_html,
    inline_code_html,
)
from gptlab_desktop.ui.markdown.formulas import formula_image
from gptlab_desktop.ui.markdown.nesting import nest_two_space_lists
from gptlab_desktop.ui.markdown.theme import RenderOptions

_LINK_SCHEMES = ("http:", "https:", "mailto:")
# The bare-link plugin drops the word "xmpp" from the text if its link is refused, so the
# parser accepts it; the renderer then shows such a link as its text.
_PARSED_SCHEMES = (*_LINK_SCHEMES, "xmpp:")
_CLOSING = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}
_UNCHECKED, _CHECKED = "\u2610", "\u2611"  # ☐ ☑: a QTextDocument has no check boxes
_QUOTE_BAR_PX = 4
_KEY = "gptlab"  # where the render state lives in markdown-it's env

_local = threading.local()


@dataclass(slots=True)
class _RenderState:
    """What one render collects besides its HTML: code to copy and formula images."""

    options: RenderOptions
    first_code_index: int
    code_blocks: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    shown_links: list[bool] = field(default_factory=list)
    footnote_depth: int = 0
    footnote_label: str | None = None


def render_html(
    text: str, options: RenderOptions, first_code_index: int
) -> tuple[str, tuple[str, ...], dict[str, bytes]]:
    """A message's HTML, the source of its code blocks, and the formula images it shows."""
    state = _RenderState(options, first_code_index)
    body = _engine().render(nest_two_space_lists(text), {_KEY: state})
    return body, tuple(state.code_blocks), state.images


def _engine() -> MarkdownIt:
    """This thread's parser: a parser keeps state while it works, so threads do not share."""
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = _new_engine()
    return engine


class _ChatMarkdown(MarkdownIt):
    """markdown-it that accepts only the link schemes a chat message may open."""

    def validateLink(self, url: str) -> bool:
        """Whether a link (or an image, shown as a link) may point there."""
        return url.lower().startswith(_PARSED_SCHEMES)


def _new_engine() -> MarkdownIt:
    engine = _ChatMarkdown(
        "commonmark",
        # Untrusted text: raw HTML, block or inline, is shown as text rather than interpreted.
        # A single line break breaks the line, as the author typed it.
        {"html": False, "breaks": True, "tasklists": True, "alerts": True},
        renderer_cls=_ChatRenderer,
    )
    engine.enable(["table", "strikethrough"])
    engine.use(gfm_autolink_plugin)
    # Footnotes stay where they are defined, so a block renders the same alone as in the whole.
    engine.use(footnote_plugin, inline=False, move_to_end=False, always_match_refs=True)
    # No space inside the dollars and no digit outside them: "$5 and $10" stays prices.
    # $$ inside a paragraph is display math too (models write it right after a line of text).
    engine.use(
        dollarmath_plugin,
        allow_space=False,
        allow_digits=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    engine.use(texmath_plugin, delimiters="brackets")
    engine.inline.ruler.before("escape", "math_display_brackets", _display_brackets_inline)
    engine.core.ruler.push("task_boxes", _task_boxes)
    # The plugins add render rules of their own; ours win.
    for name in _ChatRenderer.OWN_RULES:
        engine.add_render_rule(name, getattr(_ChatRenderer, name))
    return engine


def _display_brackets_inline(state: StateInline, silent: bool) -> bool:
    """``\\[…\\]`` inside a paragraph, as models write it right after a line of text."""
    start = state.pos
    if not state.src.startswith("\\[", start):
        return False
    end = state.src.find("\\]", start + 2, state.posMax)
    if end < 0 or not state.src[start + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline_double", "math", 0)
        token.content = state.src[start + 2 : end]
        token.markup = "\\["
    state.pos = end + 2
    return True


def _task_boxes(state: StateCore) -> None:
    """Start each task item's text with a box, and drop the bullets of a list of tasks only."""
    tokens = state.tokens
    if not any(_is_task(token) for token in tokens):
        return
    for index, token in enumerate(tokens):
        if _is_task(token):
            inline = _next_inline(tokens, index)
            if inline is not None and inline.children is not None:
                mark = Token("text", "", 0)
                mark.content = f"{_CHECKED if token.meta['checked'] else _UNCHECKED} "
                inline.children.insert(0, mark)
        elif token.type == "bullet_list_open":
            items = _direct_items(tokens, index)
            token.meta["tasks_only"] = bool(items) and all(_is_task(item) for item in items)


def _is_task(token: Token) -> bool:
    return token.type == "list_item_open" and "checked" in (token.meta or {})


def _next_inline(tokens: Sequence[Token], index: int) -> Token | None:
    for position in range(index + 1, len(tokens)):
        if tokens[position].type == "inline":
            return tokens[position]
    return None


def _direct_items(tokens: Sequence[Token], index: int) -> list[Token]:
    """The items of the list that opens at ``index``, not those of lists inside it."""
    level = tokens[index].level + 1
    items = []
    for position in range(index + 1, len(tokens)):
        token = tokens[position]
        if token.level < level:
            break
        if token.level == level and token.type == "list_item_open":
            items.append(token)
    return items


def _state(env: EnvType) -> _RenderState:
    state = env[_KEY]
    assert isinstance(state, _RenderState)
    return state


class _ChatRenderer(RendererHTML):
    """HTML for QTextDocument: inline styles, no classes or ids, tables where CSS falls short."""

    OWN_RULES = (
        "fence",
        "code_block",
        "code_inline",
        "image",
        "link_open",
        "link_close",
        "table_open",
        "th_open",
        "td_open",
        "blockquote_open",
        "blockquote_close",
        "alert_open",
        "alert_close",
        "alert_title_open",
        "alert_title_close",
        "bullet_list_open",
        "list_item_open",
        "paragraph_open",
        "footnote_ref",
        "footnote_reference_open",
        "footnote_reference_close",
        "math_inline",
        "math_inline_double",
        "math_block",
        "math_block_label",
        "math_block_eqno",
    )

    @staticmethod
    def renderAttrs(token: Token) -> str:
        """Attributes other than class, id and style (QTextDocument would ignore them)."""
        return "".join(
            f' {html.escape(key)}="{html.escape(str(value))}"'
            for key, value in token.attrItems()
            if key not in ("class", "id", "style")
        )

    # Code ---------------------------------------------------------------------------------

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """A fenced code block: a header with its language and Copy link, then the code."""
        state = _state(env)
        token = tokens[idx]
        language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
        code = code_source(token.content)
        index = state.first_code_index + len(state.code_blocks)
        state.code_blocks.append(code)
        return code_block_html(index, html.unescape(language), code, state.options)

    def code_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """An indented code block: shown like code, without a header."""
        return indented_code_html(tokens[idx].content, _state(env).options)

    def code_inline(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A code span."""
        return inline_code_html(tokens[idx].content, _state(env).options)

    # Links and images ---------------------------------------------------------------------

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """An image as a link to it: a QTextDocument must never fetch anything."""
        token = tokens[idx]
        source = str(token.attrGet("src") or "")
        label = self.renderInlineAsText(token.children, options, env) or "image"
        if not source.lower().startswith(_LINK_SCHEMES):
            return html.escape(f"[{label}]")
        return f'<a href="{html.escape(source)}">{html.escape(f"[{label}]")}</a>'

    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A link, if it goes to a web page or an email address; its text alone otherwise."""
        href = str(tokens[idx].attrGet("href") or "")
        is_shown = href.lower().startswith(_LINK_SCHEMES)
        _state(env).shown_links.append(is_shown)
        return self.renderToken(tokens, idx, options, env) if is_shown else ""

    def link_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """The end of a link opened by ``link_open``."""
        shown = _state(env).shown_links
        is_shown = shown.pop() if shown else True
        return self.renderToken(tokens, idx, options, env) if is_shown else ""

    # Tables and quotes --------------------------------------------------------------------

    def table_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A table with visible borders (QTextDocument draws none by default)."""
        border = _state(env).options.theme.colours.table_border
        return (
            '<table border="1" cellspacing="0" cellpadding="4" '
            f'style="border-collapse: collapse; border-color: {border};">\n'
        )

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """A header cell, aligned as its column asks."""
        return _cell_open("th", tokens[idx])

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """A cell, aligned as its column asks."""
        return _cell_open("td", tokens[idx])

    def blockquote_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A quote: a table whose narrow first column is the bar (QTextDocument ignores
        border-left), the quoted blocks in the second."""
        colours = _state(env).options.theme.colours
        return (
            '<table width="100%" cellspacing="0" cellpadding="0" border="0" '
            'style="margin-top: 4px; margin-bottom: 4px;"><tr>'
            f'<td width="{_QUOTE_BAR_PX}" style="background-color: {colours.quote_bar};"></td>'
            f'<td style="padding-left: 10px; color: {colours.muted_text};">\n'
        )

    def blockquote_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """The end of a quote's table."""
        return "</td></tr></table>\n"

    # A GitHub alert (``> [!NOTE]``) is a quote whose first line names its kind.
    alert_open = blockquote_open
    alert_close = blockquote_close

    def alert_title_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """An alert's kind, in bold."""
        return "<p><b>"

    def alert_title_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """The end of an alert's kind."""
        return "</b></p>\n"

    # Lists and footnotes ------------------------------------------------------------------

    def bullet_list_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A bullet list; a list of tasks only shows its boxes instead of bullets."""
        if tokens[idx].meta.get("tasks_only"):
            return '<ul style="list-style-type: none;">\n'
        return self.renderToken(tokens, idx, options, env)

    def list_item_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A list item; a task's box is text at the start of its content (see _task_boxes)."""
        return self.renderToken(tokens, idx, options, env)

    def paragraph_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A paragraph; inside a footnote small and muted, the first one led by its label."""
        state = _state(env)
        if state.footnote_depth == 0 or tokens[idx].hidden:
            return self.renderToken(tokens, idx, options, env)
        label, state.footnote_label = state.footnote_label, None
        muted = state.options.theme.colours.muted_text
        start = f'<p style="font-size: small; color: {muted};">'
        return start + (_footnote_mark(label) + " " if label else "")

    def footnote_ref(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A footnote reference, with the label the text gives it."""
        return _footnote_mark(str(tokens[idx].meta["label"]))

    def footnote_reference_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A footnote's definition begins: its paragraphs follow, where it is written."""
        state = _state(env)
        state.footnote_depth += 1
        state.footnote_label = str(tokens[idx].meta["label"])
        return ""

    def footnote_reference_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A footnote's definition ends (one with no paragraph still shows its label)."""
        state = _state(env)
        state.footnote_depth -= 1
        label, state.footnote_label = state.footnote_label, None
        return f'<p style="font-size: small;">{_footnote_mark(label)}</p>\n' if label else ""

    # Math ---------------------------------------------------------------------------------

    def _formula(
        self,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
        *,
        display: bool,
        is_block: bool,
        labelled: bool = False,
    ) -> str:
        return _formula_html(
            tokens[idx], _state(env), display=display, is_block=is_block, labelled=labelled
        )

    # $…$ or \(…\): a formula in the line of text.
    math_inline = partialmethod(_formula, display=False, is_block=False)
    # $$…$$ or \[…\] inside a paragraph: a display formula on its line.
    math_inline_double = partialmethod(_formula, display=True, is_block=False)
    # $$…$$ or \[…\] on lines of its own: a centred display formula, its label beside it.
    math_block = partialmethod(_formula, display=True, is_block=True)
    math_block_label = partialmethod(_formula, display=True, is_block=True, labelled=True)
    math_block_eqno = math_block_label


def _cell_open(tag: str, token: Token) -> str:
    style = str(token.attrGet("style") or "")
    for align in ("left", "center", "right"):
        if f"text-align:{align}" in style.replace(" ", ""):
            return f'<{tag} align="{align}">'
    return f"<{tag}>"


def _footnote_mark(label: str) -> str:
    return f"<sup>[{html.escape(label)}]</sup>"


def _formula_html(
    token: Token, state: _RenderState, *, display: bool, is_block: bool, labelled: bool
) -> str:
    """A formula's image, or its source in code style where it cannot be drawn."""
    options = state.options
    image = formula_image(
        token.content,
        display=display,
        pixel_size=options.font_pixel_size,
        colour=options.theme.colours.text,
    )
    number = f" ({html.escape(token.info)})" if labelled and token.info else ""
    opening = token.markup or "$"
    source = f"{opening}{token.content}{_CLOSING.get(opening, opening)}"
    if image is None:
        if is_block:
            return indented_code_html(source, options)
        return inline_code_html(source, options)
    state.images[image.name] = image.svg
    # The title is the image's tooltip, which is what copying the formula gives.
    size = (
        f'width="{round(image.width)}" height="{round(image.height)}" '
        f'title="{html.escape(source, quote=True)}"'
    )
    if not is_block:
        align = "" if display else ' style="vertical-align: middle;"'
        return f'<img src="{image.name}" {size}{align} />'
    return f'<p align="center"><img src="{image.name}" {size} />{number}</p>\n'
