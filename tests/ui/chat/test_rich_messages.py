"""Messages in the chat view with what the Markdown renderer gives beyond text: formulas as
images the document holds (it loads nothing itself), while streaming and once complete."""

from __future__ import annotations

import re

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument

from gptlab_desktop.models import MessageState
from gptlab_desktop.ui.markdown import MATH_SCHEME
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
