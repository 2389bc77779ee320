"""Messages in the chat view with what the Markdown renderer gives beyond text: formulas as
images the document holds (it loads nothing itself), while streaming and once complete; a
finished reply kept as streamed rather than rendered whole again."""

from __future__ import annotations

import re
import threading
from dataclasses import replace

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument

from gptlab_desktop.models import MessageState
from gptlab_desktop.ui.markdown import MATH_SCHEME, formulas, render_cache_info
from tests.ui.chat.conftest import message

REPLY = "The area is $\\pi r^2$, and\n\n$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$\n\nDone."


def formula_images(document: QTextDocument) -> list[object]:
    names = re.findall(rf'src="({MATH_SCHEME}:[^"]+)"', document.toHtml())
    assert names, "no formula in the document"
    return [
        document.resource(QTextDocument.ResourceType.ImageResource, QUrl(name)) for name in names
    ]


def test_a_complete_message_shows_its_formulas_as_images(view) -> None:
    view.transcript().set_messages([message(REPLY)])
    images = formula_images(view.message_document(0))
    assert len(images) == 2 and all(image is not None for image in images)


def test_a_streaming_reply_shows_its_formulas_as_they_arrive(view) -> None:
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])
    view.set_streaming_text(reply.id, REPLY)
    view.flush_streaming()
    images = formula_images(view.message_document(0))
    assert all(image is not None for image in images)


def finish(view, reply, text: str) -> None:
    view.transcript().replace(replace(reply, message=text, state=MessageState.COMPLETE))


def test_a_reply_that_finished_streaming_is_not_rendered_whole_again(view) -> None:
    reply = message("", state=MessageState.STREAMING)
    view.transcript().set_messages([reply])
    text = "A long reply. " * 2000
    view.set_streaming_text(reply.id, text)
    view.flush_streaming()
    misses = render_cache_info().misses

    finish(view, reply, text)

    assert view.message_document(0).toPlainText().split() == text.split()
    assert render_cache_info().misses == misses  # only the tail was rendered again


def test_formulas_shown_as_source_during_the_import_are_drawn_once_complete(view) -> None:
    # The import of ziamath "in progress": a real worker thread, held until released (this
    # test's process imported ziamath already, so the wait is simulated by this thread).
    release = threading.Event()
    holder = threading.Thread(target=release.wait, daemon=True)
    holder.start()
    previous, formulas._preparing = formulas._preparing, holder
    try:
        reply = message("", state=MessageState.STREAMING)
        view.transcript().set_messages([reply])
        text = "While importing: $y_{k} = 3k + 7$ and\n\n$$\\sqrt{y_{k}^{3}}$$\n\nEnd."
        view.set_streaming_text(reply.id, text)
        view.flush_streaming()
        assert MATH_SCHEME not in view.message_document(0).toHtml()  # source for now
        release.set()
        holder.join()

        finish(view, reply, text)

        assert all(image is not None for image in formula_images(view.message_document(0)))
    finally:
        release.set()
        formulas._preparing = previous
