"""A chat message's Markdown as HTML that QTextDocument shows well, with copyable code blocks.

Message text is untrusted: raw HTML is shown as text, images become links (a QTextDocument
must never fetch anything), only http, https and mailto links are links, and only the CSS
subset QTextDocument understands is emitted. The parser (markdown-it-py) and Pygments are
imported on the first render (or by ``warm_up``), the math library only for a formula, never
at start-up.

- ``render_markdown`` renders a whole message (cached); ``StreamingMarkdown`` a reply being
  streamed, in settled blocks and a tail.
- ``RenderOptions`` chooses the ``MarkdownTheme`` (light or dark, from the palette), whether
  code wraps, and the font size formulas are drawn at.
- A code block's Copy link is ``copy:N`` (``COPY_SCHEME``), for ``code_blocks[N]``.
- Formulas are SVG images named ``math:…`` (``MATH_SCHEME``): ``add_images`` gives them to
  the document before its HTML is set.
"""

from gptlab_desktop.ui.markdown.code_blocks import COPY_SCHEME
from gptlab_desktop.ui.markdown.formulas import (
    MATH_SCHEME,
    add_images,
    formulas_shown_as_source,
    prepare_math,
)
from gptlab_desktop.ui.markdown.render import (
    RenderedMarkdown,
    render_cache_info,
    render_markdown,
    warm_up,
)
from gptlab_desktop.ui.markdown.streaming import (
    STREAM_PIECE_CHARS,
    StreamingMarkdown,
    StreamingUpdate,
)
from gptlab_desktop.ui.markdown.theme import MarkdownTheme, RenderOptions, ThemeColours

__all__ = [
    "COPY_SCHEME",
    "MATH_SCHEME",
    "STREAM_PIECE_CHARS",
    "MarkdownTheme",
    "RenderOptions",
    "RenderedMarkdown",
    "StreamingMarkdown",
    "StreamingUpdate",
    "ThemeColours",
    "add_images",
    "formulas_shown_as_source",
    "prepare_math",
    "render_cache_info",
    "render_markdown",
    "warm_up",
]
