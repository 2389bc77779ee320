"""Painted rows kept as pixmaps: reused only while they look the same, bounded."""

from __future__ import annotations

from PySide6.QtGui import QImage

from gptlab_desktop.models import MessageState, Role
from tests.ui.chat.conftest import conversation, message, row_image


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
