"""A message's Markdown as HTML QTextDocument shows well: GitHub's Markdown, code to copy,
nothing unsafe, and a parser loaded only when a message is rendered."""

from __future__ import annotations

import re

from PySide6.QtGui import QTextDocument

from gptlab_desktop.ui.markdown import render_cache_info, render_markdown
from tests.ui.conftest import RENDERING_LIBRARIES, modules_loaded_by


def _text_of(html: str) -> str:
    """What a document shows of the HTML, without the empty lines tables stand between."""
    document = QTextDocument()
    document.setHtml(html)
    return "\n".join(line for line in document.toPlainText().split("\n") if line.strip())


# CommonMark ---------------------------------------------------------------------------------


def test_emphasis_headings_lists_and_links_become_html():
    rendered = render_markdown(
        "# Plan\n\n**Bold** and *soft*\n\n1. one\n2. two\n\n[site](https://a.example)"
    )

    assert "<h1>Plan</h1>" in rendered.html
    assert "<strong>Bold</strong>" in rendered.html
    assert "<em>soft</em>" in rendered.html
    assert "<ol>" in rendered.html
    assert '<a href="https://a.example">site</a>' in rendered.html


def test_a_single_newline_breaks_the_line_as_typed():
    assert "first<br" in render_markdown("first\nsecond").html


def test_no_class_or_id_attributes_are_written(qapp):
    html = render_markdown(
        "- [ ] task\n\n```python\nx = 1\n```\n\nnote[^1]\n\n[^1]: the note\n\n> [!NOTE]\n> careful"
    ).html

    assert "class=" not in html
    assert " id=" not in html


# GitHub's extensions ------------------------------------------------------------------------


def test_tables_get_visible_borders(qapp):
    rendered = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |")

    assert '<table border="1"' in rendered.html
    assert "<td>2</td>" in rendered.html
    assert _text_of(rendered.html).split() == ["a", "b", "1", "2"]


def test_table_columns_keep_their_alignment():
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |").html

    assert '<td align="left">1</td>' in html
    assert '<td align="center">2</td>' in html
    assert '<td align="right">3</td>' in html


def test_double_tildes_strike_text_through(qapp):
    html = render_markdown("keep ~~drop~~ keep").html

    assert "<s>drop</s>" in html
    assert _text_of(html) == "keep drop keep"


def test_a_single_tilde_is_not_strikethrough():
    assert "<s>" not in render_markdown("about ~5 minutes or ~10").html


def test_task_list_items_show_boxes_as_text(qapp):
    html = render_markdown("- [ ] open\n- [x] done").html

    assert _text_of(html) == "☐ open\n☑ done"
    assert "<input" not in html
    assert "list-style-type: none;" in html  # the boxes stand in for the bullets


def test_a_list_mixing_tasks_and_points_keeps_its_bullets(qapp):
    html = render_markdown("- [x] done\n- a plain point").html

    assert "list-style-type" not in html
    assert _text_of(html) == "☑ done\na plain point"


def test_bare_web_addresses_and_emails_become_links():
    html = render_markdown("See https://a.example/x, www.b.example or mail c@d.example.").html

    assert '<a href="https://a.example/x">https://a.example/x</a>,' in html
    assert '<a href="http://www.b.example">www.b.example</a>' in html
    assert '<a href="mailto:c@d.example">c@d.example</a>.' in html


def test_only_web_and_mail_links_are_links(qapp):
    html = render_markdown(
        "[a](javascript:alert(1)) [b](file:///etc/passwd) [c](copy:0) [d](relative/page) "
        "xmpp:someone@chat.example <ftp://files.example>"
    ).html

    assert "<a" not in html
    assert "xmpp:someone@chat.example" in _text_of(html)


def test_footnotes_show_their_label_at_the_reference_and_the_note(qapp):
    html = render_markdown("A claim.[^1] Another.[^note]\n\n[^1]: The source.\n[^note]: More.").html

    assert "<sup>[1]</sup>" in html
    assert _text_of(html).split("\n") == [
        "A claim.[1] Another.[note]",
        "[1] The source.",
        "[note] More.",
    ]
    assert "font-size: small;" in html


def test_a_footnote_reference_without_a_note_is_still_a_reference():
    assert "<sup>[2]</sup>" in render_markdown("Said so.[^2]").html


def test_a_github_alert_is_a_quote_headed_by_its_kind(qapp):
    html = render_markdown("> [!WARNING]\n> Mind the step.").html

    assert _text_of(html) == "Warning\nMind the step."
    assert "<b>Warning</b>" in html


# Quotes -------------------------------------------------------------------------------------


def test_a_quote_has_a_bar_a_narrow_coloured_first_column(qapp):
    html = render_markdown("> quoted words").html

    assert re.search(r'<td width="4" style="background-color: #[0-9a-f]{6};"></td>', html)
    assert _text_of(html) == "quoted words"


def test_the_quote_bar_is_drawn_beside_the_quoted_text(shown):
    from PySide6.QtGui import QColor, QImage, QPainter

    document = shown(render_markdown("> quoted words\n> on two lines"), width=300)
    image = QImage(300, int(document.size().height()), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    document.drawContents(painter)
    painter.end()

    middle = image.height() // 2
    bar = [x for x in range(40) if QColor(image.pixel(x, middle)).name() == "#d0d7de"]
    assert bar and len(bar) <= 6  # a thin bar at the left edge
    assert bar[0] < 8


def test_quotes_nest_inside_quotes():
    html = render_markdown("> outer\n>\n> > inner").html

    assert html.count('<td width="4"') == 2


# Nested lists -------------------------------------------------------------------------------


def test_bullets_indented_by_two_spaces_nest(qapp):
    html = render_markdown("- a\n  - b\n    - c").html

    assert html.count("<ul>") == 3
    assert "- " not in _text_of(html)


def test_items_indented_by_two_spaces_nest_under_a_numbered_item(qapp):
    html = render_markdown("1. first\n  - detail\n  - more\n2. second").html

    assert re.sub(r"\s", "", html) == (
        "<ol><li>first<ul><li>detail</li><li>more</li></ul></li><li>second</li></ol>"
    )


# Code blocks --------------------------------------------------------------------------------


def test_fenced_code_keeps_its_exact_source_for_copying():
    code = 'if a < b and c > "d":\n    print(a & b)'
    rendered = render_markdown(f"Look:\n\n```python\n{code}\n```\n\nDone.")

    assert rendered.code_blocks == (code,)


def test_a_code_block_has_a_header_with_its_language_and_a_copy_link():
    rendered = render_markdown("```python\nx = 1\n```")

    assert ">python</td>" in rendered.html
    assert re.search(r'<a href="copy:0"[^>]*>Copy</a>', rendered.html)


def test_a_code_block_without_a_language_is_labelled_code(qapp):
    assert _text_of(render_markdown("```\nx\n```").html) == "code\nCopy\nx"


def test_code_blocks_are_numbered_in_order():
    rendered = render_markdown("```\nfirst\n```\n\ntext\n\n~~~js\nsecond\n~~~")

    assert rendered.code_blocks == ("first", "second")
    assert rendered.html.index('href="copy:0"') < rendered.html.index('href="copy:1"')


def test_code_is_highlighted_with_inline_styles_not_classes():
    html = render_markdown("```python\ndef f():\n    return 1\n```").html

    assert '<span style="color:' in html
    assert "class=" not in html


def test_code_in_an_unknown_language_is_escaped_plainly():
    rendered = render_markdown("```nosuchlanguage\n<b>not bold</b>\n```")

    assert "&lt;b&gt;not bold&lt;/b&gt;" in rendered.html
    assert rendered.code_blocks == ("<b>not bold</b>",)


def test_an_unclosed_fence_while_streaming_is_a_code_block_so_far():
    rendered = render_markdown("Here you go:\n\n```python\nfor i in range(3):\n    print(i)\n")

    assert rendered.code_blocks == ("for i in range(3):\n    print(i)",)
    assert 'href="copy:0"' in rendered.html


def test_a_longer_fence_can_contain_a_shorter_one():
    rendered = render_markdown("````markdown\n```python\nx\n```\n````")

    assert rendered.code_blocks == ("```python\nx\n```",)


def test_a_fence_indented_in_a_list_item_is_still_code():
    rendered = render_markdown("1. Run:\n\n   ```sh\n   make test\n   ```")

    assert rendered.code_blocks == ("make test",)


def test_a_fence_in_a_quote_is_code_too():
    assert render_markdown("> ```sh\n> ls -l\n> ```").code_blocks == ("ls -l",)


def test_triple_backticks_inside_a_line_are_not_a_fence():
    rendered = render_markdown("Write ```code``` inline.")

    assert rendered.code_blocks == ()


def test_inline_code_has_a_background_and_a_monospace_font():
    html = render_markdown("call `f(x)` now").html

    assert re.search(
        r'<code style="background-color: #[0-9a-f]{6}; font-family: monospace;">', html
    )


# Untrusted text -----------------------------------------------------------------------------


def test_raw_html_is_shown_as_text():
    html = render_markdown("<script>alert(1)</script>\n\n<div onclick='x()'>hi</div> <b>b</b>").html

    assert "<script" not in html
    assert "<div" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_images_become_links_and_are_never_embedded():
    html = render_markdown("![chart](http://198.51.100.7/chart.png)").html

    assert "<img" not in html
    assert '<a href="http://198.51.100.7/chart.png">[chart]</a>' in html


def test_a_document_showing_images_and_links_fetches_nothing(shown):
    document = shown(
        render_markdown(
            "![a](http://198.51.100.7/a.png) ![b](data:image/png;base64,iVBORw0KGgo=) "
            '<img src="http://198.51.100.7/c.png"> [d](http://198.51.100.7/d)'
        )
    )
    document.documentLayout()  # lays it out, as painting would

    assert document.requested == []


# Cache and imports --------------------------------------------------------------------------


def test_rendering_the_same_text_again_is_served_from_the_cache():
    text = "A message rendered twice, *unchanged*."
    render_markdown(text)
    before = render_cache_info()

    again = render_markdown(text)

    after = render_cache_info()
    assert after.hits == before.hits + 1
    assert after.misses == before.misses
    assert again == render_markdown(text)


def test_text_still_streaming_stays_out_of_the_cache():
    before = render_cache_info()

    render_markdown("A reply still grow", cache=False)

    assert render_cache_info().currsize == before.currsize


def test_importing_the_renderer_imports_no_parser_highlighter_or_math_library():
    loaded = modules_loaded_by("import gptlab_desktop.ui.markdown", RENDERING_LIBRARIES)

    assert loaded == []


def test_warm_up_imports_the_parser_and_pygments_but_not_the_math_library():
    loaded = modules_loaded_by(
        "import gptlab_desktop.ui.markdown as m; m.warm_up()", RENDERING_LIBRARIES
    )

    assert loaded == ["markdown_it", "pygments"]
