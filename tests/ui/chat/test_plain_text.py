"""A rendered message's text as it is copied: the words shown, without the renderer's chrome."""

from __future__ import annotations

from gptlab_desktop.ui.chat.plain_text import plain_text
from tests.ui.chat.conftest import message


def copied(view, text: str) -> str:
    view.transcript().set_messages([message(text)])
    return plain_text(view.message_document(0))


def test_emphasis_and_code_spans_copy_as_their_words(view):
    assert copied(view, "**Bold**, *slanted* and `code`") == "Bold, slanted and code"


def test_a_code_block_copies_as_its_code_without_its_label_or_copy_link(view):
    text = copied(view, "Run:\n\n```python\nprint(1)\nx = 2\n```\n\nDone.")

    assert text.split("\n") == ["Run:", "print(1)", "x = 2", "", "Done."]


def test_a_table_copies_a_row_a_line_its_cells_between_tabs(view):
    text = copied(view, "| a | b |\n|---|---|\n| 1 | 2 |")

    assert text == "a\tb\n1\t2"


def test_list_items_keep_their_markers_and_nesting(view):
    text = copied(view, "- one\n  - nested\n- two\n\n1. first\n2. second")

    assert text.split("\n") == ["- one", "  - nested", "- two", "1. first", "2. second"]


def test_a_quote_copies_after_a_quote_mark_without_its_bar(view):
    assert copied(view, "> quoted words") == "> quoted words"


def test_a_formula_drawn_as_an_image_copies_as_its_source(view):
    assert copied(view, "Area $\\pi r^2$ here") == "Area $\\pi r^2$ here"


def test_a_range_copies_only_the_characters_in_it(view):
    view.transcript().set_messages([message("The **quick** brown fox")])
    document = view.message_document(0)

    assert plain_text(document, 4, 15) == "quick brown"
    assert plain_text(document, 15, 4) == ""
