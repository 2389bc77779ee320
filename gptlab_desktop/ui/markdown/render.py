"""A whole message rendered: its HTML, the code of its code blocks, its formula images.

The parser is imported with the first render (or by ``warm_up``), never at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gptlab_desktop.ui.markdown.theme import RenderOptions

DEFAULT_OPTIONS = RenderOptions()


@dataclass(frozen=True, slots=True)
class RenderedMarkdown:
    """The HTML of one message, the raw source of each code block in order, and its images.

    ``images`` maps each formula image's name (as the HTML's ``<img src>`` gives it) to its
    SVG; the caller adds them to the document with ``add_images`` before setting the HTML.
    """

    html: str
    code_blocks: tuple[str, ...]
    images: Mapping[str, bytes] = field(default_factory=dict)


def render_markdown(
    text: str, *, cache: bool = True, options: RenderOptions = DEFAULT_OPTIONS
) -> RenderedMarkdown:
    """Render a message's Markdown; ``cache=False`` for text that is still growing.

    A streaming reply changes with every token, so caching each version would only push
    finished messages out of the cache.
    """
    if cache:
        return _render_cached(text, options)
    return render_part(text, options)


def render_cache_info() -> Any:
    """Hits, misses and size of the render cache (``functools`` ``CacheInfo``)."""
    return _render_cached.cache_info()


def warm_up() -> None:
    """Import the parser and Pygments and prime their caches, so a first reply renders fast.

    Safe from any thread (the app runs it in the background after its first paint); the
    thread that renders later still builds its own parser, which then takes about 1 ms.
    Math is not warmed up: its library is imported only for a message that has a formula.
    """
    render_part(
        "*warm* `up` ~~x~~ https://a.example\n\n- [x] a\n  1. b\n\n> q\n\n| a |\n|---|\n| 1 |\n\n"
        "```python\nwarm = 1\n```",
        DEFAULT_OPTIONS,
    )


def render_part(text: str, options: RenderOptions, first_code_index: int = 0) -> RenderedMarkdown:
    """Render Markdown whose code blocks are numbered from ``first_code_index`` on."""
    from gptlab_desktop.ui.markdown.engine import render_html  # lazily: heavy to import

    body, code_blocks, images = render_html(text, options, first_code_index)
    # A line break after the last block would become a space when parts are joined.
    return RenderedMarkdown(html=body.rstrip("\n"), code_blocks=code_blocks, images=images)


# Chat transcripts repeat: a session reopened renders the same texts again.
_render_cached = lru_cache(maxsize=4096)(render_part)
