"""Math in a message: formulas drawn as images the document is given, prices left alone, and a
formula that cannot be drawn shown as its source."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument, QTextImageFormat

from gptlab_desktop.ui.markdown import MarkdownTheme, RenderOptions, render_markdown
from tests.ui.conftest import modules_loaded_by


def _image_formats(document: QTextDocument) -> list[QTextImageFormat]:
    formats = []
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            char_format = iterator.fragment().charFormat()
            if char_format.isImageFormat():
                formats.append(char_format.toImageFormat())
            iterator += 1
        block = block.next()
    return formats


def _shown_image(document: QTextDocument, image_format: QTextImageFormat) -> QImage:
    resource = document.resource(
        QTextDocument.ResourceType.ImageResource, QUrl(image_format.name())
    )
    image = QImage()
    image.loadFromData(resource)
    return image


@pytest.mark.parametrize(
    "text",
    [
        "Energy is $E = mc^2$ here.",
        "Energy is \\(E = mc^2\\) here.",
        "$$\nE = mc^2\n$$",
        "\\[\nE = mc^2\n\\]",
        "Energy is:\n$$E = mc^2$$",
        "Energy is:\n\\[ E = mc^2 \\]",
    ],
    ids=[
        "dollar",
        "parenthesis",
        "dollar-block",
        "bracket-block",
        "dollars-in-a-line",
        "brackets-in-a-line",
    ],
)
def test_a_formula_is_an_image_the_document_is_given(shown, text):
    rendered = render_markdown(text)

    document = shown(rendered)

    (image_format,) = _image_formats(document)
    assert image_format.name() in rendered.images
    assert image_format.width() > 0 and image_format.height() > 0
    image = _shown_image(document, image_format)
    assert image.width() > 0 and image.height() > 0
    assert "mc^2" not in document.toPlainText()


def test_an_inline_formula_sits_on_the_line_and_a_display_one_is_centred():
    inline = render_markdown("so $x^2$ holds").html
    display = render_markdown("$$\nx^2\n$$").html

    assert 'style="vertical-align: middle;"' in inline
    assert display.startswith('<p align="center"><img ')


def test_formulas_are_drawn_at_the_fonts_size():
    small = render_markdown("$x$", options=RenderOptions(font_pixel_size=10))
    large = render_markdown("$x$", options=RenderOptions(font_pixel_size=30))

    def height(rendered) -> int:
        return int(rendered.html.split('height="')[1].split('"')[0])

    assert height(large) > 2 * height(small)


def test_formulas_are_drawn_in_the_themes_text_colour():
    dark = render_markdown("$x$", options=RenderOptions(theme=MarkdownTheme.DARK))

    (svg,) = dark.images.values()
    assert MarkdownTheme.DARK.colours.text.encode() in svg


def test_the_same_formula_twice_is_one_image():
    rendered = render_markdown("$a+b$ and again $a+b$")

    assert len(rendered.images) == 1
    assert rendered.html.count("<img") == 2


def test_a_labelled_display_formula_shows_its_label(qapp):
    document = QTextDocument()
    document.setHtml(render_markdown("$$a = b$$ (1)").html)

    assert "(1)" in document.toPlainText()


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("broken $\\frac{a$ here", "$\\frac{a$"),
        ("broken \\(\\sqrt[\\) here", "\\(\\sqrt[\\)"),
        ("$$\\frac{$$", "$$\\frac{$$"),
    ],
)
def test_a_formula_that_cannot_be_drawn_is_shown_as_its_source_in_code_style(qapp, text, source):
    rendered = render_markdown(text)

    assert rendered.images == {}
    assert "font-family: monospace;" in rendered.html
    document = QTextDocument()
    document.setHtml(rendered.html)
    assert source in document.toPlainText()


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "It costs $5, or $10 with delivery.",
        "Between $5-$10 a month.",
        "Prices: $5/$10.",
        "A $ sign alone, and another $ here.",
        "Escaped \\$x\\$ stays text.",
    ],
)
def test_dollar_prices_are_not_math(qapp, text):
    rendered = render_markdown(text)

    assert rendered.images == {}
    assert "<img" not in rendered.html
    document = QTextDocument()
    document.setHtml(rendered.html)
    assert document.toPlainText() == text.replace("\\$", "$")


def test_dollars_in_code_are_code_not_math():
    rendered = render_markdown("Use `$x$` or\n\n```sh\necho $HOME$x\n```")

    assert rendered.images == {}
    assert rendered.code_blocks == ("echo $HOME$x",)


def test_text_without_math_never_imports_the_math_library():
    loaded = modules_loaded_by(
        "from gptlab_desktop.ui.markdown import render_markdown as r; r('It costs $5 and $10.')",
        {"ziamath"},
    )

    assert loaded == []


def test_the_first_formula_imports_the_math_library():
    loaded = modules_loaded_by(
        "from gptlab_desktop.ui.markdown import render_markdown as r; r('so $x^2$')", {"ziamath"}
    )

    assert loaded == ["ziamath"]
