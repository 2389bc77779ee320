"""How rendered Markdown looks: a light or dark set of colours, and the render options.

The colours are data (``resources/markdown_themes.json``). QTextDocument has no stylesheet
classes, so every colour is written into the HTML; a change of theme therefore renders a
message again, which the options being part of every cache key takes care of.
"""

from __future__ import annotations

import enum
import functools
import json
from dataclasses import dataclass
from importlib import resources

# Below this lightness (0-255, as QColor.lightness() gives it) a window counts as dark.
_DARK_BELOW_LIGHTNESS = 128


class MarkdownTheme(enum.Enum):
    """Which set of colours a message is rendered with; light unless the palette is dark."""

    LIGHT = "light"
    DARK = "dark"

    @classmethod
    def for_window_lightness(cls, lightness: int) -> MarkdownTheme:
        """The theme that suits a palette whose window colour has this lightness (0-255)."""
        return cls.DARK if lightness < _DARK_BELOW_LIGHTNESS else cls.LIGHT

    @property
    def colours(self) -> ThemeColours:
        """This theme's colours, read once from the resources."""
        return _theme_colours()[self]


@dataclass(frozen=True, slots=True)
class ThemeColours:
    """The colours a theme gives rendered Markdown, as CSS colour strings."""

    pygments_style: str
    text: str  # what a formula is drawn in: images cannot take the text colour by themselves
    muted_text: str  # quotes and footnotes
    code_background: str
    code_header_background: str
    code_header_text: str
    code_text: str
    copy_link: str
    inline_code_background: str
    quote_bar: str
    table_border: str


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How a message is rendered: part of every cache key, so a change renders it again.

    ``wrap_code``: long code lines wrap; otherwise they keep their layout and the document
    grows wider than its view, for a view that scrolls sideways. ``font_pixel_size``: the
    message font's size in pixels, which math formulas are drawn at.
    """

    theme: MarkdownTheme = MarkdownTheme.LIGHT
    wrap_code: bool = True
    font_pixel_size: float = 14.0


@functools.cache
def _theme_colours() -> dict[MarkdownTheme, ThemeColours]:
    path = resources.files("gptlab_desktop.resources").joinpath("markdown_themes.json")
    data = json.loads(path.read_text("utf-8"))
    return {theme: ThemeColours(**data[theme.value]) for theme in MarkdownTheme}
