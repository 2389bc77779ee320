"""Keeping rows placed: pinned to the bottom while streaming, refined in idle time."""

from __future__ import annotations

from gptlab_desktop.models import Message, MessageState
from gptlab_desktop.ui.chat.view import ChatStreamView
from tests.ui.chat.conftest import conversation, message


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
