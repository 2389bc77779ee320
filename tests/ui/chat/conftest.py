"""The chat's tests: messages and transcripts to show, a shown view, and how to look at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QRegion, QTextDocument
from PySide6.QtWidgets import QToolButton, QWidget

from gptlab_desktop.models import Message, MessageDetails, MessageState, Role, new_id
from gptlab_desktop.paths import AppPaths
from gptlab_desktop.preferences import Preferences, ProviderProfile, write_preferences
from gptlab_desktop.ui.chat.view import ChatStreamView
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.openai_server import FakeOpenAIServer
from tests.ui.chat.chatting import API_KEY
from tests.ui.conftest import OpenWindow

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


def save_profiles(data_dir: Path, *profiles: ProviderProfile) -> None:
    """The user's providers in ``preferences.json``, as Settings saves them, and no others.

    OpenAI's own profile is left out: the model picker asks every provider for its models
    when a session opens, and a test never reaches a real endpoint.
    """
    preferences = Preferences(profiles=profiles, looked_for_local_servers=True)
    write_preferences(AppPaths(data_dir).preferences_file, preferences)


@pytest.fixture
def window(open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path) -> MainWindow:
    """The app's window, its chat pointed at the loopback server (its only provider)."""
    save_profiles(data_dir)
    return open_window(
        data_dir, {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": API_KEY}
    )


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


def text_point(view: ChatStreamView, row: int, offset: int) -> QPoint:
    """The viewport point in the middle of the line at a character of a row's text, just
    before that character."""
    document = view.message_document(row)
    block = document.findBlock(offset)
    rect = document.documentLayout().blockBoundingRect(block)
    local = offset - block.position()
    line = block.layout().lineForTextPosition(local)
    x, _ = line.cursorToX(local)
    inside = QPointF(rect.x() + x, rect.y() + line.y() + line.height() / 2)
    return view.document_origin(row) + inside.toPoint()


def drag(qtbot, view: ChatStreamView, start: QPoint, end: QPoint) -> None:
    """Press the left button at one viewport point, move to another, release there."""
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def hover(qtbot, view: ChatStreamView, row: int) -> None:
    """Move the pointer onto a row (from off its middle first: a move to where the pointer
    already is moves nothing)."""
    rect = view.visualRect(view.transcript().index(row))
    qtbot.mouseMove(view.viewport(), rect.center() + QPoint(0, 7))
    qtbot.mouseMove(view.viewport(), rect.center())


def toolbar_button(view: ChatStreamView, name: str) -> QToolButton:
    """A button of the message toolbar, by objectName."""
    found = view.toolbar().findChild(QToolButton, name)
    assert found is not None, name
    return found


def click_link(qtbot, view: ChatStreamView, row: int, href: str) -> None:
    view.scrollTo(view.transcript().index(row))
    point = anchor_position(view.message_document(row), href)
    target = view.document_origin(row) + point.toPoint()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=target)


def blocks(document: QTextDocument) -> Iterator:
    block = document.begin()
    while block.isValid():
        yield block
        block = block.next()


def settled(view: ChatStreamView, qtbot) -> None:
    """Wait until rows are refined and every pending paint is done."""
    qtbot.waitUntil(lambda: not view.is_refining(), timeout=10_000)
    qtbot.wait(50)


def row_image(view: ChatStreamView, row: int) -> QImage:
    """A row as the view paints it, without the toolbar or selector laid over it."""
    rect = view.visualRect(view.transcript().index(row))
    image = QImage(rect.size(), QImage.Format.Format_RGB32)
    image.fill(0)
    view.viewport().render(image, QPoint(), QRegion(rect), QWidget.RenderFlag.DrawWindowBackground)
    return image
