"""A streamed reply's document, grown in place, shows what a full render shows."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QGuiApplication, QTextBlock, QTextDocument

from gptlab_desktop.models import Message, MessageState
from gptlab_desktop.ui.chat.view import ChatStreamView
from gptlab_desktop.ui.markdown import render_markdown
from tests.ui.chat.conftest import CODE, blocks, click_link, conversation, message


def test_streaming_update_leaves_other_rows_documents_untouched(view):
    messages = [*conversation(6), message("", state=MessageState.STREAMING)]
    view.transcript().set_messages(messages)
    others = [view.message_document(row) for row in range(6)]
    revisions = [document.revision() for document in others]

    view.set_streaming_text(messages[-1].id, "A growing reply")
    view.flush_streaming()

    assert [view.message_document(row) for row in range(6)] == others
    assert [document.revision() for document in others] == revisions
    assert "A growing reply" in view.message_document(6).toPlainText()


STREAMED_REPLY = (
    "# Plan\n\nFirst paragraph with **bold**\nand a second line.\n\n"
    "```python\n" + CODE + "\nmore = 2\n```\n\n- one\n- two\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nsecond block\n```\n\nLast words"
)


def _stream_by_characters(view: ChatStreamView, reply: Message, text: str) -> None:
    for end in range(1, len(text) + 1):
        view.set_streaming_text(reply.id, text[:end])
        view.flush_streaming()


def _look(block: QTextBlock) -> tuple[object, ...]:
    """How a block is shown: its text, spacing, heading level, list style and weight."""
    layout = block.blockFormat()
    listed = block.textList()
    return (
        block.text(),
        layout.topMargin(),
        layout.bottomMargin(),
        layout.leftMargin(),
        layout.headingLevel(),
        listed.format().style() if listed is not None else None,
        block.charFormat().fontWeight(),
    )


def _full_render(view: ChatStreamView, text: str) -> QTextDocument:
    document = QTextDocument()
    document.setDefaultFont(view.font())
    document.setDocumentMargin(0)
    document.setHtml(render_markdown(text).html)
    return document


def test_a_reply_streamed_across_paragraphs_and_fences_shows_the_full_renders_text(view):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])

    _stream_by_characters(view, reply, STREAMED_REPLY)

    expected = _full_render(view, STREAMED_REPLY)
    assert view.message_document(0).toPlainText() == expected.toPlainText()
    assert [_look(block) for block in blocks(view.message_document(0))] == [
        _look(block) for block in blocks(expected)
    ]


def test_copy_on_a_code_block_of_a_reply_still_streaming_copies_its_code(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])
    _stream_by_characters(view, reply, STREAMED_REPLY + "\n\n```\nthird")

    with qtbot.waitSignal(view.copyRequested):
        click_link(qtbot, view, 0, "copy:1")
    assert QGuiApplication.clipboard().text() == "second block"

    with qtbot.waitSignal(view.copyRequested):
        click_link(qtbot, view, 0, "copy:2")
    assert QGuiApplication.clipboard().text() == "third"


def test_a_long_streamed_paragraph_shows_all_its_text(view):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])
    text = ""

    for number in range(3_000):
        text += f"tok{number} "
        if number % 50 == 0:
            view.set_streaming_text(reply.id, text)
            view.flush_streaming()
    view.set_streaming_text(reply.id, text)
    view.flush_streaming()

    shown = view.message_document(0).toPlainText()
    assert shown.split() == text.split()


def test_the_completed_reply_is_the_exact_full_render(view):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])
    _stream_by_characters(view, reply, STREAMED_REPLY)

    view.transcript().replace(replace(reply, message=STREAMED_REPLY, state=MessageState.COMPLETE))

    document = view.message_document(0)
    expected = _full_render(view, STREAMED_REPLY)
    expected.setTextWidth(document.textWidth())
    assert document.toHtml() == expected.toHtml()


def test_streamed_text_that_was_rewritten_is_shown_afresh(view):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])
    _stream_by_characters(view, reply, "First version.\n\nIts second paragraph")

    view.set_streaming_text(reply.id, "Another start.\n\nAnd more")
    view.flush_streaming()

    assert view.message_document(0).toPlainText() == "Another start.\nAnd more"
