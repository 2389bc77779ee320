"""How messages look: headers, state markers, Markdown shown safely."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gptlab_desktop.models import FailureKind, MessageDetails, MessageKind, MessageState, Role
from gptlab_desktop.services.branches import Variant
from tests.ui.chat.conftest import anchor_position, blocks, message, row_image

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


def test_a_variant_is_shown_in_its_header_and_a_new_one_repaints_the_row(view, qtbot):
    question, reply = message("q", Role.USER), message("a")
    view.transcript().set_messages([question, reply], {reply.id: Variant(1, 2)})
    first = row_image(view, 1)
    assert " · 1 / 2 · " in view.message_delegate().header_text(reply, Variant(1, 2))

    view.transcript().show_branch([question, reply], {reply.id: Variant(2, 2)})
    second = row_image(view, 1)
    view.transcript().show_branch([question, reply], {})

    assert second != first
    assert row_image(view, 1) not in (first, second)


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
        part.fragment().charFormat().isImageFormat() for block in blocks(document) for part in block
    )
    assert web_server.requests == []


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
