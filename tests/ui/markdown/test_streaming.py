"""A streamed reply: settled blocks rendered once, the tail on every update, and at every
moment the same as rendering the text so far whole."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptlab_desktop.ui.markdown import (
    STREAM_PIECE_CHARS,
    MarkdownTheme,
    RenderOptions,
    StreamingMarkdown,
    StreamingUpdate,
    render_markdown,
)

REPLY = (
    "# Plan\n\nFirst paragraph with **bold**\nand a second line.\n\n"
    "```python\nx = 1\n\ny = 2\n```\n\n- one\n- two\n\nThen `code` inline.\n\n"
    "~~~\nsecond block\n~~~\n\nLast words"
)

# Every construct the renderer knows, in two orders and neighbourhoods.
EVERYTHING = (
    "# Heading\n"
    "Some **bold**, *soft*, ~~struck~~ and `code`, https://a.example and $5 and $10.\n"
    "Inline $E = mc^2$ and \\(a^2 + b^2\\) too.[^1]\n\n"
    "$$\n\\int_0^1 x\\,dx = \\frac{1}{2}\n$$\n\n"
    "1. First step\n  - detail one\n  - detail two\n2. Second step\n\n"
    "3. Third, after a blank line\n\n"
    "- [ ] open task\n- [x] done task\n\n"
    "> A quote\n>\n> > nested, with a [link](https://b.example)\n\n"
    "| Name | Value |\n|------|------:|\n| a | 1 |\n| b | 22 |\n\n"
    "```python\ndef f(x):\n\n    return x * 2\n```\n\n"
    "Broken $\\frac{a$ math, ![an image](http://198.51.100.7/i.png) and <b>raw</b>.\n\n"
    "[^1]: The footnote.\n"
)
EVERYTHING_AGAIN = (
    "Intro line\n- a list under it\n  1. nested number\n\n- after a blank\n\n"
    "Text then a table:\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    "1. Run:\n  ```sh\n  make\n\n  make test\n  ```\n2. Done[^n]\n\n"
    "\\[\nx = 1\n\n\\]\n\n"
    "The sum is:\n$$\\sum_i i$$\nand more.\n\n"
    "> [!NOTE]\n> Mind it.\n\n"
    "    indented code\n\n"
    "[^n]: A note\n    with a second line.\n\n"
    "---\n\nLast words"
)


def _stream(text: str, step: int = 1) -> tuple[StreamingMarkdown, list[StreamingUpdate]]:
    streaming = StreamingMarkdown()
    ends = [*range(step, len(text), step), len(text)]
    updates = [streaming.update(text[:end]) for end in ends]
    return streaming, updates


def _streamed_html(updates: list[StreamingUpdate]) -> str:
    settled = "".join(piece.html for update in updates for piece in update.settled)
    return settled + updates[-1].tail.html


def _between_blocks(html: str) -> str:
    return html.replace(">\n<", "><")


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

    assert _between_blocks(_streamed_html(updates)) == _between_blocks(render_markdown(REPLY).html)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.sampled_from([EVERYTHING, EVERYTHING_AGAIN]),
    cuts=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12),
)
def test_at_every_update_the_streamed_rendering_is_the_whole_rendering_so_far(text, cuts):
    streaming = StreamingMarkdown()
    settled = ""
    for end in [*sorted(round(cut * len(text)) for cut in cuts), len(text)]:
        update = streaming.update(text[:end])
        settled += "".join(piece.html for piece in update.settled)

        whole = render_markdown(text[:end], cache=False)
        assert _between_blocks(settled + update.tail.html) == _between_blocks(whole.html)
        assert update.code_blocks == whole.code_blocks


def test_every_construct_settles_into_several_blocks_not_one_tail():
    _, updates = _stream(EVERYTHING, step=5)

    assert sum(len(update.settled) for update in updates) >= 6


def test_the_images_of_a_streamed_reply_are_the_full_renders():
    _, updates = _stream(EVERYTHING, step=5)

    shown: dict[str, bytes] = {}
    for update in updates:
        shown.update(update.images)
    assert set(render_markdown(EVERYTHING).images) <= set(shown)


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


def test_a_table_still_growing_stays_in_the_tail():
    _, updates = _stream("| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 40)

    assert all(update.settled == () for update in updates)
    assert updates[-1].tail.html.count("<tr>") == 41


def test_a_list_whose_items_are_apart_stays_in_the_tail_until_it_ends():
    text = "1. one\n  - detail\n\n2. two\n\n3. three\n\nAfter."

    _, updates = _stream(text)

    first_settled = next(update.settled[0] for update in updates if update.settled)
    assert first_settled.html.count("<li>") == 4
    assert "After." in updates[-1].tail.html


def test_a_display_formula_still_open_stays_in_the_tail():
    _, updates = _stream("\\[\nx = 1\n\ny = 2\n\nz = 3")

    assert all(update.settled == () for update in updates)


def test_a_display_formula_settles_once_closed():
    _, updates = _stream("\\[\nx = 1\n\ny = 2\n\\]\n\nAfter.")

    (formula,) = [piece for update in updates for piece in update.settled]
    assert "<img" in formula.html


def test_a_streamed_reply_is_rendered_with_its_options():
    dark = RenderOptions(theme=MarkdownTheme.DARK, wrap_code=False)
    streaming = StreamingMarkdown(options=dark)

    update = streaming.update("```\ncode\n```\n\nnext")

    assert update.settled == (render_markdown("```\ncode\n```", options=dark),)


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


def test_a_paragraph_is_not_cut_inside_a_formula():
    text = "word " * 450 + "$x + " + "y + " * 200 + "z$ " + "word " * 20

    _, updates = _stream(text, step=7)

    for piece in (piece for update in updates for piece in update.settled):
        assert "$" not in piece.html


def test_prices_in_a_long_paragraph_do_not_stop_it_being_cut():
    text = "It costs $5 today. " + "word " * 3_000

    _, updates = _stream(text, step=40)

    assert sum(len(update.settled) for update in updates) >= 3


def test_a_long_table_is_never_cut_in_pieces():
    text = "a | b\n--|--\n" + "".join(f"{n} | {'cell ' * 10}\n" for n in range(200))

    _, updates = _stream(text, step=50)

    assert all(update.settled == () for update in updates)


def test_text_that_did_not_grow_restarts_the_rendering():
    streaming = StreamingMarkdown()
    streaming.update("First paragraph.\n\nSecond")

    update = streaming.update("Other paragraph.\n\nMore")

    assert update.restart
    assert [piece.html for piece in update.settled] == ["<p>Other paragraph.</p>"]
