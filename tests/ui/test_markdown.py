"""Markdown for the chat: HTML QTextDocument shows well, code blocks to copy, nothing unsafe."""

from __future__ import annotations

from gptlab_desktop.ui.markdown import (
    STREAM_PIECE_CHARS,
    StreamingMarkdown,
    StreamingUpdate,
    render_cache_info,
    render_markdown,
)
from tests.ui.conftest import RENDERING_LIBRARIES, modules_loaded_by


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


def test_tables_get_visible_borders():
    rendered = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |")

    assert '<table border="1"' in rendered.html
    assert "<td>2</td>" in rendered.html


def test_fenced_code_keeps_its_exact_source_for_copying():
    code = 'if a < b and c > "d":\n    print(a & b)'
    rendered = render_markdown(f"Look:\n\n```python\n{code}\n```\n\nDone.")

    assert rendered.code_blocks == (code,)


def test_a_code_block_has_a_header_with_its_language_and_a_copy_link():
    rendered = render_markdown("```python\nx = 1\n```")

    assert ">python</td>" in rendered.html
    assert '<a href="copy:0">Copy</a>' in rendered.html


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


def test_triple_backticks_inside_a_line_are_not_a_fence():
    rendered = render_markdown("Write ```code``` inline.")

    assert rendered.code_blocks == ()


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


def test_importing_the_renderer_does_not_import_markdown_or_pygments():
    loaded = modules_loaded_by("import gptlab_desktop.ui.markdown", RENDERING_LIBRARIES)

    assert loaded == []


# Streaming: settled blocks once, the tail on every update ----------------------------------

REPLY = (
    "# Plan\n\nFirst paragraph with **bold**\nand a second line.\n\n"
    "```python\nx = 1\n\ny = 2\n```\n\n- one\n- two\n\nThen `code` inline.\n\n"
    "~~~\nsecond block\n~~~\n\nLast words"
)


def _stream(text: str, step: int = 1) -> tuple[StreamingMarkdown, list[StreamingUpdate]]:
    streaming = StreamingMarkdown()
    ends = [*range(step, len(text), step), len(text)]
    updates = [streaming.update(text[:end]) for end in ends]
    return streaming, updates


def _streamed_html(updates: list[StreamingUpdate]) -> str:
    settled = "".join(piece.html for update in updates for piece in update.settled)
    return settled + updates[-1].tail.html


def test_a_streamed_reply_has_the_code_blocks_of_the_full_render():
    _, updates = _stream(REPLY)

    assert updates[-1].code_blocks == render_markdown(REPLY).code_blocks


def test_streamed_code_blocks_keep_their_copy_anchors_in_order():
    _, updates = _stream(REPLY)

    html = _streamed_html(updates)
    assert html.index('href="copy:0"') < html.index('href="copy:1"')
    assert 'href="copy:2"' not in html


def test_a_streamed_reply_renders_blocks_like_the_full_render():
    _, updates = _stream(REPLY)

    def between_blocks(html: str) -> str:
        return html.replace(">\n<", "><")

    assert between_blocks(_streamed_html(updates)) == between_blocks(render_markdown(REPLY).html)


def test_each_block_settles_once_and_the_tail_holds_only_the_last_block():
    _, updates = _stream(REPLY)

    settled = [piece for update in updates for piece in update.settled]
    assert len(settled) == 6  # heading, paragraph, code, list, paragraph, code
    assert "Last words" in updates[-1].tail.html
    assert "Plan" not in updates[-1].tail.html


def test_a_blank_line_inside_a_code_fence_does_not_settle_the_block():
    _, updates = _stream("```python\nx = 1\n\ny = 2\n\nz = 3\n")

    assert all(update.settled == () for update in updates)
    assert updates[-1].code_blocks == ("x = 1\n\ny = 2\n\nz = 3",)


def test_a_long_paragraph_is_cut_into_pieces_while_it_streams():
    text = "tok " * 5_000 + "end"

    _, updates = _stream(text, step=40)

    assert sum(len(update.settled) for update in updates) >= 5
    assert len(updates[-1].tail.html) < 2 * STREAM_PIECE_CHARS
    assert 'style="margin-top: 0px;"' in updates[-1].tail.html


def test_a_paragraph_is_not_cut_inside_a_code_span():
    text = "word " * 450 + "`a code span " + "inside " * 200 + "closed` " + "word " * 20

    _, updates = _stream(text, step=7)

    for piece in (piece for update in updates for piece in update.settled):
        assert piece.html.count("<code") == piece.html.count("</code>")
        assert "`" not in piece.html


def test_text_that_did_not_grow_restarts_the_rendering():
    streaming = StreamingMarkdown()
    streaming.update("First paragraph.\n\nSecond")

    update = streaming.update("Other paragraph.\n\nMore")

    assert update.restart
    assert [piece.html for piece in update.settled] == ["<p>Other paragraph.</p>"]


def test_warm_up_imports_markdown_and_pygments():
    loaded = modules_loaded_by(
        "import gptlab_desktop.ui.markdown as m; m.warm_up()", RENDERING_LIBRARIES
    )

    assert loaded == ["markdown", "pygments"]
