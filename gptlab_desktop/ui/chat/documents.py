"""A message's QTextDocument: a settled message rendered whole, a streamed reply grown in place.

Re-setting a whole reply's HTML per update costs time in proportion to its length
(DESIGN.md); while a reply streams, its settled Markdown blocks are appended once and only
the unsettled tail is replaced. Documents never load a resource: message text is untrusted.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QUrl
from PySide6.QtGui import (
    QFont,
    QFontInfo,
    QGuiApplication,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
)

from gptlab_desktop.models import Message, MessageState
from gptlab_desktop.ui.markdown import (
    MarkdownTheme,
    RenderOptions,
    StreamingMarkdown,
    add_images,
    formulas_shown_as_source,
    prepare_math,
    render_markdown,
)
from gptlab_desktop.ui.messages import interruption_text, reply_mark_text

# What a text holding math begins with (a reply streaming one starts ziamath's import).
_MATH_OPENERS = ("$", "\\(", "\\[")


class OfflineDocument(QTextDocument):
    """A QTextDocument that never loads a resource: message text is untrusted."""

    def loadResource(self, type: int, name: QUrl) -> object:
        """Refuse every image, stylesheet or other resource a document asks for."""
        return None


@dataclass(slots=True)
class _StreamedDocument:
    """A streaming reply's document, grown in place: settled blocks, then the tail."""

    document: QTextDocument
    markdown: StreamingMarkdown
    # ``formulas_shown_as_source()`` when the stream began: more by its end, and it is
    # rendered whole once complete (its formulas drawn then).
    formulas_as_source: int = 0
    # Where the tail begins in the document; None while nothing has settled (the document
    # then holds only the tail and is simply refilled).
    tail_start: int | None = None


class MessageDocuments:
    """Fills messages' documents, remembering how far each streaming reply's has settled."""

    def __init__(self) -> None:
        self._streams: dict[str, _StreamedDocument] = {}
        self._options_by_size: dict[int, RenderOptions] = {}
        self._math_prepared = False

    def _options(self, font: QFont) -> RenderOptions:
        """How messages in ``font`` render: the palette's theme (dark code blocks in a dark
        palette), formulas at the text's size."""
        size = QFontInfo(font).pixelSize()
        options = self._options_by_size.get(size)
        if options is None:
            lightness = QGuiApplication.palette().window().color().lightness()
            options = RenderOptions(
                theme=MarkdownTheme.for_window_lightness(lightness), font_pixel_size=float(size)
            )
            self._options_by_size[size] = options
        return options

    def follow_palette(self) -> None:
        """The palette changed (a theme switch): messages render again in its colours."""
        self._options_by_size.clear()

    @staticmethod
    def new_document() -> QTextDocument:
        """An empty document for one message: offline, no margin, no undo history."""
        document = OfflineDocument()
        document.setDocumentMargin(0)
        document.setUndoRedoEnabled(False)
        return document

    def fill(self, document: QTextDocument, message: Message, font: QFont) -> tuple[str, ...]:
        """Render a message into its document; the raw code of its code blocks."""
        if message.state is MessageState.STREAMING:
            return self._fill_streaming(document, message, font)
        stream = self._streams.pop(message.id, None)
        drawn = stream is not None and stream.formulas_as_source == formulas_shown_as_source()
        if stream is not None and stream.document is document and drawn:
            # A reply that just finished streaming: its document is current but for the tail
            # (rendering 20,000 tokens whole again would stall the window for tens of ms).
            self._streams[message.id] = stream
            code_blocks = self._fill_streaming(document, message, font)
            del self._streams[message.id]
            _append_html(document, _state_html(message))
            return code_blocks
        # A complete message is rendered whole, exactly.
        rendered = render_markdown(message.message, options=self._options(font))
        document.setDefaultFont(font)
        add_images(document, rendered.images)
        document.setHtml(rendered.html + _state_html(message))
        return rendered.code_blocks

    def _fill_streaming(
        self, document: QTextDocument, message: Message, font: QFont
    ) -> tuple[str, ...]:
        """Grow a streaming reply's document: append newly settled blocks, replace the tail.

        Re-rendering and re-setting the whole reply on every flush costs time in proportion
        to its length, which over a long reply adds up to far more than the reply is worth.
        """
        stream = self._streams.get(message.id)
        if stream is None or stream.document is not document:
            markdown = StreamingMarkdown(self._options(font))
            stream = self._streams[message.id] = _StreamedDocument(
                document, markdown, formulas_as_source=formulas_shown_as_source()
            )
            document.setDefaultFont(font)
            stream.tail_start = None
        if not self._math_prepared and any(mark in message.message for mark in _MATH_OPENERS):
            self._math_prepared = True
            prepare_math()
        update = stream.markdown.update(message.message)
        add_images(document, update.images)
        if update.restart:
            stream.tail_start = None
        settled_html = "".join(piece.html for piece in update.settled)
        if stream.tail_start is None:
            if not settled_html:
                document.setHtml(update.tail.html)
                return update.code_blocks
            document.setHtml(settled_html)
        else:
            cursor = QTextCursor(document)
            cursor.setPosition(stream.tail_start)
            # Removing the tail merges the last settled block with the tail's last block, whose
            # format it would take.
            block_format, char_format = cursor.blockFormat(), cursor.blockCharFormat()
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            cursor.setBlockFormat(block_format)
            cursor.setBlockCharFormat(char_format)
            _append_html(document, settled_html)
        stream.tail_start = document.characterCount() - 1
        _append_html(document, update.tail.html)
        return update.code_blocks

    def forget(self, message_id: str) -> None:
        """Drop what is known of one message's streamed document."""
        self._streams.pop(message_id, None)

    def clear(self) -> None:
        """Drop what is known of every streamed document."""
        self._streams.clear()


def _append_html(document: QTextDocument, body: str) -> None:
    """Add HTML blocks at the end of a document, each keeping its own block format.

    An inserted fragment's first block merges into the block at the cursor and loses its
    format (a heading or list item would become part of the paragraph before it). So the
    fragment is given an empty first block to merge away; a fragment starting with a table
    already has one, the block a table always follows.
    """
    if not body:
        return
    source = OfflineDocument()
    source.setHtml(body)
    frames = source.rootFrame().childFrames()
    starts_with_table = bool(frames) and frames[0].firstPosition() <= 1
    if not starts_with_table:
        QTextCursor(source).insertBlock()
    cursor = QTextCursor(document)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertFragment(QTextDocumentFragment(source))


def content_key(message: Message) -> tuple[str, MessageState, str]:
    """What a message's document shows: its text, its state and the note on that state."""
    return (message.message, message.state, _state_note(message))


def _state_note(message: Message) -> str:
    if message.state is MessageState.INTERRUPTED:
        return interruption_text(message.meta)
    if message.state is MessageState.COMPLETE:
        return reply_mark_text(message.meta)
    return ""


def has_state_mark(message: Message) -> bool:
    """Whether a line about how the message ended is drawn under it."""
    return message.state is MessageState.INTERRUPTED or bool(_state_note(message))


def state_mark_text(message: Message) -> str:
    """The words of the mark under a message that ended early, as shown (empty: none)."""
    note = _state_note(message)
    if message.state is MessageState.INTERRUPTED:
        return f"Interrupted — {note}" if note else "Interrupted"
    return note


def _state_html(message: Message) -> str:
    """The visible marker of a reply cut short, part of the message's document."""
    note = _state_note(message)
    if message.state is MessageState.INTERRUPTED:
        detail = f" — {html.escape(note)}" if note else ""
        return f'<p style="color: #b3261e;"><b>Interrupted</b>{detail}</p>'
    if note:
        # A complete reply that did not end on its own (the length limit, a filter).
        return f'<p style="color: #b3261e;"><b>{html.escape(note)}</b></p>'
    return ""
