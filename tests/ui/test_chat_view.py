"""The chat transcript: its model, how messages look, copying, actions and scrolling."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import (
    QContextMenuEvent,
    QGuiApplication,
    QImage,
    QRegion,
    QTextBlock,
    QTextDocument,
)
from PySide6.QtWidgets import QMenu, QScrollBar

from gptlab_desktop.models import (
    FailureKind,
    Message,
    MessageDetails,
    MessageKind,
    MessageState,
    Role,
    new_id,
)
from gptlab_desktop.ui.chat_view import (
    STREAM_RENDER_INTERVAL_MS,
    ChatStreamView,
    ChatTranscriptModel,
    MessageRole,
    QuietScrollBar,
)
from gptlab_desktop.ui.markdown import render_markdown

CODE = 'def greet(name):\n    return f"<b>{name}</b> & co"  # not HTML\n'


def message(
    text: str,
    role: Role = Role.ASSISTANT,
    state: MessageState = MessageState.COMPLETE,
    meta: MessageDetails | None = None,
) -> Message:
    return Message(
        id=new_id(),
        session_id="session",
        role=role,
        message=text,
        created_date=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        state=state,
        meta=meta or MessageDetails(),
    )


def conversation(turns: int) -> list[Message]:
    """Alternating user and assistant messages of varied lengths."""
    return [
        message(
            f"Message {number}. " + "Some words to wrap across lines. " * (number % 7),
            role=Role.USER if number % 2 == 0 else Role.ASSISTANT,
        )
        for number in range(turns)
    ]


@pytest.fixture
def view(qtbot) -> ChatStreamView:
    widget = ChatStreamView()
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def anchor_position(document: QTextDocument, href: str) -> QPointF:
    """The middle of the first link to ``href`` in a laid-out document, in its coordinates."""
    block = document.begin()
    while block.isValid():
        for part in block:
            fragment = part.fragment()
            if fragment.charFormat().anchorHref() == href:
                # Asking for the rect first makes sure the block is laid out.
                rect = document.documentLayout().blockBoundingRect(block)
                offset = fragment.position() - block.position() + fragment.length() // 2
                line = block.layout().lineForTextPosition(offset)
                x, _ = line.cursorToX(offset)
                return QPointF(rect.x() + x, rect.y() + line.y() + line.height() / 2)
        block = block.next()
    raise AssertionError(f"no link to {href!r} in the document")


def click_link(qtbot, view: ChatStreamView, row: int, href: str) -> None:
    view.scrollTo(view.transcript().index(row))
    point = anchor_position(view.message_document(row), href)
    target = view.document_origin(row) + point.toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=target)


def action_texts(menu: QMenu) -> list[str]:
    return [action.text() for action in menu.actions() if not action.isSeparator()]


def trigger(menu: QMenu, text: str) -> None:
    next(action for action in menu.actions() if action.text() == text).trigger()


# The model --------------------------------------------------------------------------------


def test_model_satisfies_the_model_tester_through_every_change(qtmodeltester):
    model = ChatTranscriptModel()
    qtmodeltester.check(model)
    first, second, third = message("a", Role.USER), message("b"), message("c", Role.USER)
    model.set_messages([first])
    model.append(second)
    model.append(third)
    model.update_text(second.id, "b, longer")
    model.replace(replace(second, state=MessageState.INTERRUPTED))
    model.remove(first.id)
    model.set_messages([])

    assert model.rowCount() == 0


def test_update_text_signals_that_row_only_and_never_a_reset():
    model = ChatTranscriptModel()
    messages = conversation(5)
    model.set_messages(messages)
    changed: list[tuple[int, int]] = []
    resets: list[bool] = []
    model.dataChanged.connect(lambda top, bottom, _roles: changed.append((top.row(), bottom.row())))
    model.modelReset.connect(lambda: resets.append(True))

    model.update_text(messages[3].id, "new text")

    assert changed == [(3, 3)]
    assert resets == []
    assert model.message_at(3).message == "new text"


def test_messages_are_found_by_id_after_a_removal():
    model = ChatTranscriptModel()
    messages = conversation(4)
    model.set_messages(messages)

    model.remove(messages[1].id)

    assert model.row_of(messages[3].id) == 2
    assert model.index(2).data(MessageRole) == messages[3]


def test_updating_an_unknown_message_changes_nothing():
    model = ChatTranscriptModel()
    model.set_messages(conversation(2))

    assert model.update_text("missing", "text") is False
    assert model.replace(message("x")) is False
    assert model.remove("missing") is False


# How messages look ---------------------------------------------------------------------


def test_interrupted_reply_shows_the_marker_and_the_error(view):
    cut = message(
        "Half an answ",
        state=MessageState.INTERRUPTED,
        meta=MessageDetails(failure=FailureKind.CONNECTION_LOST),
    )
    view.transcript().set_messages([cut])

    text = view.message_document(0).toPlainText()

    assert "Interrupted" in text
    # Worded when shown, from the kind stored.
    assert "the connection to the AI service was lost" in text


def test_complete_reply_has_no_interrupted_marker(view):
    view.transcript().set_messages([message("All done.")])

    assert "Interrupted" not in view.message_document(0).toPlainText()


def test_streaming_reply_header_shows_it_is_still_arriving(view):
    streaming = message("Partial", state=MessageState.STREAMING)
    view.set_assistant_name("Coach")
    view.transcript().set_messages([streaming])

    header = view.message_delegate().header_text(streaming)

    assert header.startswith("Coach …")


def test_user_and_assistant_headers_name_who_wrote(view):
    view.set_assistant_name("Coach")
    delegate = view.message_delegate()

    assert delegate.header_text(message("hi", Role.USER)).startswith("You ·")
    assert delegate.header_text(message("hello")).startswith("Coach ·")


def test_context_summary_is_announced_and_its_summary_is_readable(view):
    summary = message(
        "The user is training for a marathon.",
        role=Role.SYSTEM,
        meta=MessageDetails(kind=MessageKind.CONTEXT_SUMMARY, summarised_messages=12),
    )
    view.transcript().set_messages([summary])

    assert (
        view.message_delegate().header_text(summary).startswith("Earlier messages were summarised")
    )
    assert "training for a marathon" in view.message_document(0).toPlainText()


def test_unclosed_code_fence_while_streaming_renders_as_a_code_block(view):
    streaming = message(
        "Here:\n\n```python\nfor i in range(3):\n    pri", state=MessageState.STREAMING
    )
    view.transcript().set_messages([streaming])

    document = view.message_document(0)

    assert "for i in range(3):" in document.toPlainText()
    assert anchor_position(document, "copy:0") is not None


def test_hostile_markdown_is_shown_as_text_and_nothing_is_fetched(view, qtbot, web_server):
    hostile = message(
        f"<script>alert('x')</script> <img src={web_server.url}/raw.png> "
        f"![tracker]({web_server.url}/md.png)"
    )
    view.transcript().set_messages([hostile])
    view.viewport().grab()  # paint it
    qtbot.wait(50)

    document = view.message_document(0)
    text = document.toPlainText()
    assert "<script>alert('x')</script>" in text
    assert f"<img src={web_server.url}/raw.png>" in text
    assert not any(
        part.fragment().charFormat().isImageFormat()
        for block in _blocks(document)
        for part in block
    )
    assert web_server.requests == []


def _blocks(document: QTextDocument) -> Iterator:
    block = document.begin()
    while block.isValid():
        yield block
        block = block.next()


class _RecordingServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def web_server() -> Iterator[_RecordingServer]:
    """A real loopback web server that records every request it gets."""
    with _RecordingServer() as server:
        yield server


# Copying ---------------------------------------------------------------------------------


def test_clicking_copy_on_a_code_block_copies_exactly_its_code(view, qtbot):
    view.transcript().set_messages(
        [message("Try this:\n\n```python\n" + CODE + "```\n\nand\n\n```\nsecond\n```")]
    )

    with qtbot.waitSignal(view.copyRequested):
        click_link(qtbot, view, 0, "copy:0")

    assert QGuiApplication.clipboard().text() == CODE.rstrip("\n")


def test_clicking_copy_on_the_second_code_block_copies_the_second(view, qtbot):
    view.transcript().set_messages(
        [message("```python\n" + CODE + "```\n\nand\n\n```\nsecond block\n```")]
    )

    click_link(qtbot, view, 0, "copy:1")

    assert QGuiApplication.clipboard().text() == "second block"


def test_clicking_a_web_link_announces_it(view, qtbot):
    view.transcript().set_messages([message("See [the docs](https://example.org/docs).")])

    with qtbot.waitSignal(view.linkActivated) as clicked:
        click_link(qtbot, view, 0, "https://example.org/docs")

    assert clicked.args[0].toString() == "https://example.org/docs"


def test_copy_message_puts_the_raw_markdown_on_the_clipboard(view):
    raw = "**Bold** and `code`\n\n- a list"
    view.transcript().set_messages([message("hi", Role.USER), message(raw)])

    trigger(view.context_menu_for(1), "Copy message")

    assert QGuiApplication.clipboard().text() == raw


def test_ctrl_c_copies_the_selected_message(view, qtbot):
    view.transcript().set_messages([message("first", Role.USER), message("second *reply*")])
    view.setCurrentIndex(view.transcript().index(1))

    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)

    assert QGuiApplication.clipboard().text() == "second *reply*"


# Actions on messages ---------------------------------------------------------------------


def test_regenerate_is_offered_only_on_the_last_assistant_message(view):
    messages = [message("q1", Role.USER), message("a1"), message("q2", Role.USER), message("a2")]
    view.transcript().set_messages(messages)

    assert "Regenerate" in action_texts(view.context_menu_for(3))
    assert "Regenerate" not in action_texts(view.context_menu_for(1))
    assert "Regenerate" not in action_texts(view.context_menu_for(2))


def test_continue_is_offered_only_when_the_last_reply_was_interrupted(view):
    view.transcript().set_messages([message("q", Role.USER), message("a")])
    assert "Continue" not in action_texts(view.context_menu_for(1))

    view.transcript().set_messages(
        [message("q", Role.USER), message("a", state=MessageState.INTERRUPTED)]
    )
    assert "Continue" in action_texts(view.context_menu_for(1))


def test_edit_and_resend_is_offered_only_on_the_last_user_message(view):
    view.transcript().set_messages(
        [message("q1", Role.USER), message("a1"), message("q2", Role.USER), message("a2")]
    )

    assert "Edit and resend" in action_texts(view.context_menu_for(2))
    assert "Edit and resend" not in action_texts(view.context_menu_for(0))
    assert "Edit and resend" not in action_texts(view.context_menu_for(3))


def test_menu_actions_emit_the_message_id(view, qtbot):
    question = message("q", Role.USER)
    reply = message("a", state=MessageState.INTERRUPTED)
    view.transcript().set_messages([question, reply])

    with qtbot.waitSignal(view.regenerateRequested) as regenerate:
        trigger(view.context_menu_for(1), "Regenerate")
    with qtbot.waitSignal(view.continueRequested) as cont:
        trigger(view.context_menu_for(1), "Continue")
    with qtbot.waitSignal(view.editRequested) as edit:
        trigger(view.context_menu_for(0), "Edit and resend")

    assert regenerate.args == [reply.id]
    assert cont.args == [reply.id]
    assert edit.args == [question.id]


# Streaming and scrolling -----------------------------------------------------------------


def test_streamed_text_is_shown_in_one_update_after_the_interval(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([message("q", Role.USER), reply])
    changes: list[int] = []
    view.transcript().dataChanged.connect(lambda top, _bottom, _roles: changes.append(top.row()))

    for count in range(1, 30):
        view.set_streaming_text(reply.id, "word " * count)

    assert changes == []
    assert view.streaming_text(reply.id) == "word " * 29
    qtbot.waitUntil(lambda: changes == [1], timeout=5 * STREAM_RENDER_INTERVAL_MS)
    assert view.transcript().message_at(1).message == "word " * 29


def test_final_message_wins_over_streamed_text_not_yet_shown(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])

    view.set_streaming_text(reply.id, "partial")
    view.transcript().replace(replace(reply, message="Final answer."))
    qtbot.wait(2 * STREAM_RENDER_INTERVAL_MS)

    assert view.transcript().message_at(0).message == "Final answer."
    assert view.streaming_text(reply.id) == "Final answer."


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
    assert [_look(block) for block in _blocks(view.message_document(0))] == [
        _look(block) for block in _blocks(expected)
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


def _stream(view: ChatStreamView, qtbot, reply: Message, lines: int) -> None:
    text = view.streaming_text(reply.id) or ""
    for number in range(lines):
        text += f"\n\nStreamed paragraph {number} with enough words to take a line."
        view.set_streaming_text(reply.id, text)
        view.flush_streaming()
    qtbot.wait(20)  # let the delayed layout run


def test_view_stays_pinned_to_the_bottom_while_streaming(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([*conversation(40), reply])
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    before = bar.maximum()

    _stream(view, qtbot, reply, 10)

    qtbot.waitUntil(lambda: bar.maximum() > before and bar.value() == bar.maximum())
    assert view.is_pinned_to_bottom()


def test_view_stays_put_after_the_user_scrolls_up_to_read(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([*conversation(40), reply])
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    qtbot.waitUntil(lambda: not view.is_refining())

    bar.setValue(bar.maximum() // 2)
    reading = bar.value()
    _stream(view, qtbot, reply, 10)

    assert not view.is_pinned_to_bottom()
    assert bar.value() == reading
    assert bar.maximum() > reading


def test_scrolling_back_to_the_bottom_follows_the_stream_again(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([*conversation(40), reply])
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    bar.setValue(0)

    bar.setValue(bar.maximum())
    before = bar.maximum()
    _stream(view, qtbot, reply, 5)

    qtbot.waitUntil(lambda: bar.maximum() > before and bar.value() == bar.maximum())


def test_opening_a_long_transcript_shows_its_end(view, qtbot):
    messages = conversation(300)
    view.transcript().set_messages(messages)

    last = view.transcript().index(len(messages) - 1)
    qtbot.waitUntil(lambda: view.viewport().rect().contains(view.visualRect(last).bottomLeft()))


def test_rows_get_exact_heights_in_idle_time(view, qtbot):
    view.transcript().set_messages(conversation(300))

    qtbot.waitUntil(lambda: not view.is_refining(), timeout=10_000)

    delegate = view.message_delegate()
    assert all(
        delegate.is_exact(model_message, view.row_width())
        for model_message in view.transcript().messages()
    )


# Painting: only what changed, rows blitted from a bounded cache ---------------------------


class PaintedRegions(QObject):
    """Collects the regions the viewport is asked to paint (a real paint, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.region = QRegion()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.region += event.region()
            self.count += 1
        return False


def settled(view: ChatStreamView, qtbot) -> None:
    """Wait until rows are refined and every pending paint is done."""
    qtbot.waitUntil(lambda: not view.is_refining(), timeout=10_000)
    qtbot.wait(50)


def watch_paints(view: ChatStreamView) -> PaintedRegions:
    spy = PaintedRegions()
    view.viewport().installEventFilter(spy)
    return spy


def on_screen(view: ChatStreamView) -> QImage:
    """What the window system was last given for the view (its backing store)."""
    return view.screen().grabWindow(view.winId()).toImage()


def row_image(view: ChatStreamView, row: int) -> QImage:
    return view.viewport().grab(view.visualRect(view.transcript().index(row))).toImage()


def test_a_row_whose_text_changes_at_the_same_height_repaints_only_its_rect(view, qtbot):
    messages = conversation(6)
    view.transcript().set_messages(messages)
    settled(view, qtbot)
    spy = watch_paints(view)
    rect = view.visualRect(view.transcript().index(2))

    view.transcript().update_text(
        messages[2].id, messages[2].message.replace("Message 2", "Message X")
    )

    qtbot.waitUntil(lambda: spy.count > 0)
    assert view.visualRect(view.transcript().index(2)) == rect
    assert QRegion(rect).contains(spy.region.boundingRect())


def test_a_row_that_grows_repaints_from_its_top_down_only(view, qtbot):
    messages = conversation(6)
    view.transcript().set_messages(messages)
    settled(view, qtbot)
    spy = watch_paints(view)
    first_rows = view.visualRect(view.transcript().index(0)).united(
        view.visualRect(view.transcript().index(1))
    )

    view.transcript().update_text(messages[2].id, messages[2].message + "\n\nA new paragraph.")

    qtbot.waitUntil(lambda: spy.count > 0)
    assert spy.region.boundingRect().top() == view.visualRect(view.transcript().index(2)).top()
    assert not spy.region.intersects(first_rows)


def test_appending_a_message_paints_only_the_new_row_afresh(view, qtbot):
    messages = conversation(30)
    view.transcript().set_messages(messages)
    settled(view, qtbot)
    view.viewport().repaint()  # painted again, the rows in view are kept as pixmaps
    cache = view.message_delegate().pixmap_cache()
    shown = [m.id for m in messages if m.id in cache]
    before = {message_id: cache.pixmap_of(message_id).cacheKey() for message_id in shown}
    spy = watch_paints(view)
    new = message("One more question?", Role.USER)

    view.transcript().append(new)
    qtbot.waitUntil(lambda: spy.count > 0)

    assert shown
    new_row = view.visualRect(view.transcript().index(len(messages)))
    assert spy.region.boundingRect().top() >= new_row.top()
    assert {message_id: cache.pixmap_of(message_id).cacheKey() for message_id in shown} == before
    assert new.id not in cache  # drawn once, directly


def test_a_row_is_kept_as_a_pixmap_once_painted_again_and_looks_the_same(view, qtbot):
    messages = conversation(3)
    view.transcript().set_messages(messages)
    cache = view.message_delegate().pixmap_cache()

    drawn = row_image(view, 1)
    assert messages[1].id not in cache
    kept = row_image(view, 1)
    assert messages[1].id in cache
    blitted = row_image(view, 1)

    assert drawn == kept == blitted


def test_what_is_on_screen_after_scrolling_and_appending_matches_a_full_repaint(view, qtbot):
    view.transcript().set_messages(conversation(40))
    settled(view, qtbot)
    bar = view.verticalScrollBar()

    bar.setValue(bar.value() - 70)
    view.transcript().append(message("Appended while scrolled up", Role.USER))
    bar.setValue(bar.maximum())
    view.transcript().append(message("Appended at the end", Role.USER))
    qtbot.wait(50)
    shown = on_screen(view)
    view.viewport().repaint()

    assert shown == on_screen(view)


def test_a_streamed_row_is_painted_from_its_new_text_never_a_stale_pixmap(view, qtbot):
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([message("q", Role.USER), reply])
    view.set_streaming_text(reply.id, "First words")
    view.flush_streaming()
    before = row_image(view, 1)

    view.set_streaming_text(reply.id, "First words and then some more")
    view.flush_streaming()

    assert row_image(view, 1) != before
    assert "and then some more" in view.message_document(1).toPlainText()
    assert reply.id not in view.message_delegate().pixmap_cache()


def test_a_cached_row_is_painted_afresh_when_its_text_changes(view, qtbot):
    messages = conversation(2)
    view.transcript().set_messages(messages)
    row_image(view, 1)
    before = row_image(view, 1)  # painted again: kept
    cache = view.message_delegate().pixmap_cache()
    cached = cache.pixmap_of(messages[1].id)

    view.transcript().update_text(messages[1].id, "Quite different words now.")
    after = row_image(view, 1)

    assert after != before
    assert cached is not None
    assert messages[1].id not in cache  # the stale pixmap is gone, the row drawn afresh
    assert row_image(view, 1) == after
    assert cache.pixmap_of(messages[1].id).cacheKey() != cached.cacheKey()


def test_selecting_a_row_repaints_it_highlighted_and_deselecting_restores_it(view, qtbot):
    view.transcript().set_messages(conversation(3))
    plain = row_image(view, 1)

    view.setCurrentIndex(view.transcript().index(1))
    selected = row_image(view, 1)
    view.clearSelection()

    assert selected != plain
    assert row_image(view, 1) == plain


def test_the_pixmap_cache_stays_within_its_limit(view, qtbot):
    messages = conversation(60)
    view.transcript().set_messages(messages)
    cache = view.message_delegate().pixmap_cache()
    row = view.visualRect(view.transcript().index(len(messages) - 1))
    cache.limit_bytes = 3 * row.width() * row.height() * 4
    bar = view.verticalScrollBar()

    for value in range(0, bar.maximum() + 1, 200):
        bar.setValue(value)
        view.viewport().repaint()

    assert 0 < cache.bytes_used() <= cache.limit_bytes
    assert 0 < len(cache) < len(messages)


def test_a_row_taller_than_two_screens_is_drawn_directly_not_cached(view, qtbot):
    long_reply = message("\n\n".join(f"Paragraph {number}." for number in range(200)))
    view.transcript().set_messages([message("q", Role.USER), long_reply])

    view.viewport().repaint()

    assert long_reply.id not in view.message_delegate().pixmap_cache()
    assert "Paragraph 199." in view.message_document(1).toPlainText()


def test_rows_are_cached_at_the_device_pixel_ratio_they_are_painted_for(view):
    messages = conversation(2)
    view.transcript().set_messages(messages)
    image = QImage(view.viewport().size() * 2, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(2)

    view.viewport().render(image)
    view.viewport().render(image)  # painted again: kept

    pixmap = view.message_delegate().pixmap_cache().pixmap_of(messages[0].id)
    assert pixmap is not None
    assert pixmap.devicePixelRatio() == 2
    assert pixmap.width() == 2 * view.row_width()


# Row geometry ------------------------------------------------------------------------------


def _largest_channel_difference(first: QImage, second: QImage) -> int:
    assert first.size() == second.size()
    first = first.convertToFormat(QImage.Format.Format_RGB32)
    second = second.convertToFormat(QImage.Format.Format_RGB32)
    return (
        max(
            abs(((a >> shift) & 0xFF) - ((b >> shift) & 0xFF))
            for y in range(first.height())
            for x in range(first.width())
            if (a := first.pixel(x, y)) != (b := second.pixel(x, y))
            for shift in (0, 8, 16)
        )
        if first != second
        else 0
    )


@pytest.mark.parametrize(
    ("maximum", "page", "value"),
    [(0, 100, 0), (100, 10, 0), (100, 10, 57), (100, 10, 100), (20_000, 480, 20_000)],
)
def test_the_scroll_bar_looks_as_qts_own_does(qtbot, maximum, page, value):
    bars = [QScrollBar(Qt.Orientation.Vertical), QuietScrollBar(Qt.Orientation.Vertical)]
    for bar in bars:
        qtbot.addWidget(bar)
        bar.resize(14, 480)
        bar.setRange(0, maximum)
        bar.setPageStep(page)
        bar.setValue(value)
    plain, quiet = (bar.grab().toImage() for bar in bars)

    # Its groove is drawn from a cached pixmap: blending may round a border pixel by a level.
    assert _largest_channel_difference(plain, quiet) <= 2


class Paints(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_new_row_that_does_not_move_the_slider_does_not_repaint_the_scroll_bar(view, qtbot):
    view.transcript().set_messages(conversation(2_000))
    settled(view, qtbot)
    bar = view.verticalScrollBar()
    assert isinstance(bar, QuietScrollBar)
    paints = Paints()
    bar.installEventFilter(paints)
    look = bar.look()

    view.transcript().append(message("One more.", Role.USER))
    new_row = view.visualRect(view.transcript().index(2_000))
    qtbot.waitUntil(lambda: view.viewport().rect().contains(new_row))
    qtbot.wait(50)

    assert bar.look() == look  # pinned to the bottom of a long transcript: no visible change
    assert bar.value() == bar.maximum()
    assert paints.count == 0


def test_a_new_row_that_moves_the_slider_repaints_the_scroll_bar(view, qtbot):
    view.transcript().set_messages(conversation(8))
    settled(view, qtbot)
    bar = view.verticalScrollBar()
    paints = Paints()
    bar.installEventFilter(paints)
    look = bar.look()

    view.transcript().append(message("A longer answer. " * 40))

    qtbot.waitUntil(lambda: paints.count > 0)
    assert bar.look() != look
    assert bar.value() == bar.maximum()


def test_each_row_is_found_where_it_is_placed_one_under_another(view):
    view.transcript().set_messages(conversation(8))
    transcript = view.transcript()

    rects = [view.visualRect(transcript.index(row)) for row in range(8)]

    assert all(upper.bottom() + 1 == lower.top() for upper, lower in itertools.pairwise(rects))
    for row, rect in enumerate(rects):
        if view.viewport().rect().contains(rect.center()):
            assert view.indexAt(rect.center()).row() == row


def test_arrow_keys_move_from_message_to_message(view, qtbot):
    view.transcript().set_messages(conversation(5))
    view.setFocus()
    view.setCurrentIndex(view.transcript().index(3))

    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.currentIndex().row() == 2
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 4


def test_clicking_a_message_selects_it(view, qtbot):
    view.transcript().set_messages(conversation(4))
    point = view.visualRect(view.transcript().index(2)).center()

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)

    assert [index.row() for index in view.selectionModel().selectedIndexes()] == [2]


def test_removing_a_message_moves_the_rows_below_it_up(view, qtbot):
    messages = conversation(4)
    view.transcript().set_messages(messages)
    view.scrollToTop()
    top_of_second = view.visualRect(view.transcript().index(1)).top()

    view.transcript().remove(messages[1].id)

    assert view.visualRect(view.transcript().index(1)).top() == top_of_second
    assert view.transcript().message_at(1).id == messages[2].id


def test_the_scroll_range_is_the_height_of_every_row(view):
    view.transcript().set_messages(conversation(40))
    transcript = view.transcript()
    last = view.visualRect(transcript.index(transcript.rowCount() - 1))
    bar = view.verticalScrollBar()

    assert bar.maximum() == view.content_height() - view.viewport().height()
    assert last.bottom() == view.viewport().height() - 1


# Identity and start-up -------------------------------------------------------------------


def test_view_is_named_for_tests_and_assistive_technology(view):
    assert view.objectName() == "chatView"
    assert view.accessibleName()


def test_importing_the_chat_view_does_not_import_markdown_or_pygments():
    probe = (
        "import sys, gptlab_desktop.ui.chat_view; "
        "print(sorted({'markdown', 'pygments'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# The offscreen platform cannot raise a window or grab the keyboard for a popup menu.
@pytest.mark.qt_log_ignore(
    "This plugin does not support raise\\(\\)",
    "This plugin does not support grabbing the keyboard",
)
def test_a_right_click_pops_up_the_menu_without_blocking(view, qtbot):
    view.transcript().set_messages([message("hello")])
    centre = view.visualRect(view.transcript().index(0)).center()

    view.contextMenuEvent(
        QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, centre, view.viewport().mapToGlobal(centre)
        )
    )

    menu = view.findChild(QMenu, "chatMessageMenu")
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    menu.close()
