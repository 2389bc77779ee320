"""List items indented by two spaces nest, whatever their parent's marker; the rest is left be."""

from __future__ import annotations

import re

import pytest

from gptlab_desktop.ui.markdown import render_markdown
from gptlab_desktop.ui.markdown.nesting import nest_two_space_lists


def _shape(text: str) -> str:
    """The rendered list structure alone: tags and words, no white space."""
    return re.sub(r"\s", "", render_markdown(text).html)


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("- a\n  - b", "<ul><li>a<ul><li>b</li></ul></li></ul>"),
        ("1. a\n  - b", "<ol><li>a<ul><li>b</li></ul></li></ol>"),
        ("1. a\n  1. b\n2. c", "<ol><li>a<ol><li>b</li></ol></li><li>c</li></ol>"),
        ("10. a\n  - b", '<olstart="10"><li>a<ul><li>b</li></ul></li></ol>'),
        ("-   a\n  - b", "<ul><li>a<ul><li>b</li></ul></li></ul>"),
        (
            "1. a\n  - b\n    - c\n  - d\n2. e",
            "<ol><li>a<ul><li>b<ul><li>c</li></ul></li><li>d</li></ul></li><li>e</li></ol>",
        ),
    ],
    ids=["bullet", "bullet-under-number", "number-under-number", "wide-number", "wide-gap", "deep"],
)
def test_a_two_space_child_nests_under_its_parent(text, shape):
    assert _shape(text) == shape


def test_a_one_space_indent_stays_a_sibling():
    assert _shape("- a\n - b") == "<ul><li>a</li><li>b</li></ul>"


def test_a_paragraph_after_a_blank_line_joins_the_item_it_is_indented_under():
    assert _shape("1. a\n\n  more about a\n2. b") == (
        "<ol><li><p>a</p><p>moreabouta</p></li><li><p>b</p></li></ol>"
    )


def test_a_line_back_at_the_margin_ends_the_list():
    assert _shape("1. a\n\nafter\n\n  - b") == "<ol><li>a</li></ol><p>after</p><ul><li>b</li></ul>"


def test_a_fence_under_a_numbered_item_moves_with_it_and_keeps_its_code():
    code = "make\n  - not an item\n    indented"
    text = (
        "1. Run:\n  ```sh\n"
        + "\n".join(f"  {line}" for line in code.split("\n"))
        + "\n  ```\n2. Done"
    )

    rendered = render_markdown(text)

    assert rendered.code_blocks == (code,)
    assert re.sub(r"\s", "", rendered.html).endswith("</table></li><li>Done</li></ol>")


def test_lines_inside_a_fence_are_never_taken_for_items():
    text = "```\n1. a\n  - b\n```"

    assert nest_two_space_lists(text) == text


def test_text_that_commonmark_nests_already_is_left_unchanged():
    text = "1. a\n   - b\n\n- c\n  - d\n\nplain  text\n  indented"

    assert nest_two_space_lists(text) == text


def test_tab_indented_lines_are_left_to_commonmark():
    text = "1. a\n\t- b"

    assert nest_two_space_lists(text) == text
