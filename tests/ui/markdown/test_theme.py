"""Rendering options: light or dark colours chosen from the palette, code that wraps or not."""

from __future__ import annotations

import re

import pytest

from gptlab_desktop.ui.markdown import MarkdownTheme, RenderOptions, render_markdown

CODE = "```python\ndef f(x):\n    return x  # a comment\n```"
LONG_LINE = "```\n" + "a_long_name_" * 30 + "\n```"


def _colours(html: str) -> set[str]:
    return {colour.lower() for colour in re.findall(r"#[0-9a-fA-F]{3,6}\b", html)}


@pytest.mark.parametrize(
    ("lightness", "theme"), [(0, "DARK"), (127, "DARK"), (128, "LIGHT"), (255, "LIGHT")]
)
def test_the_theme_follows_the_lightness_of_the_palettes_window_colour(lightness, theme):
    assert MarkdownTheme.for_window_lightness(lightness) is MarkdownTheme[theme]


def test_the_default_rendering_is_light():
    assert RenderOptions().theme is MarkdownTheme.LIGHT
    assert render_markdown(CODE) == render_markdown(
        CODE, options=RenderOptions(MarkdownTheme.LIGHT)
    )


def test_light_and_dark_code_blocks_differ_in_background_and_syntax_colours():
    light = render_markdown(CODE, options=RenderOptions(theme=MarkdownTheme.LIGHT)).html
    dark = render_markdown(CODE, options=RenderOptions(theme=MarkdownTheme.DARK)).html

    assert MarkdownTheme.LIGHT.colours.code_background in light
    assert MarkdownTheme.DARK.colours.code_background in dark
    assert MarkdownTheme.LIGHT.colours.code_background not in dark
    highlighted = re.compile(r'<span style="color: (#[0-9A-Fa-f]{3,6})')
    assert set(highlighted.findall(light)) != set(highlighted.findall(dark))


def test_a_dark_code_block_is_dark_and_a_light_one_light():
    def lightness(colour: str) -> int:
        red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
        return (max(red, green, blue) + min(red, green, blue)) // 2

    assert lightness(MarkdownTheme.DARK.colours.code_background) < 64
    assert lightness(MarkdownTheme.LIGHT.colours.code_background) > 192


def test_quotes_tables_and_inline_code_take_the_themes_colours():
    text = "> quoted\n\n| a |\n|---|\n| 1 |\n\nsome `code`"

    light = _colours(render_markdown(text, options=RenderOptions(theme=MarkdownTheme.LIGHT)).html)
    dark = _colours(render_markdown(text, options=RenderOptions(theme=MarkdownTheme.DARK)).html)

    assert light.isdisjoint(dark)


def test_wrapped_code_wraps_and_unwrapped_code_keeps_its_lines(shown):
    wrapped = render_markdown(LONG_LINE, options=RenderOptions(wrap_code=True))
    unwrapped = render_markdown(LONG_LINE, options=RenderOptions(wrap_code=False))

    assert "white-space: pre-wrap;" in wrapped.html
    assert "white-space: pre;" in unwrapped.html
    assert shown(wrapped, width=300).size().width() <= 300
    assert shown(unwrapped, width=300).size().width() > 600  # wider than its view: it scrolls


def test_each_option_renders_again_rather_than_reusing_another_options_html():
    assert render_markdown(CODE, options=RenderOptions(wrap_code=False)) != render_markdown(CODE)
