"""A rendered message's text as it is pasted: the words the user sees, without the chrome.

QTextDocument's own plain text puts every table cell on a line of its own, keeps a code
block's label and its Copy link, drops list markers and leaves an object character where a
formula is drawn. Copying a message, or the part of it selected, gives instead: table cells
separated by tabs, a row a line; a code block's code alone; a quote's lines after "> ";
list items with their markers; a formula as its source (the image's tooltip).
"""

from __future__ import annotations

import enum

from PySide6.QtGui import QTextBlock, QTextCursor, QTextDocument, QTextListFormat, QTextTable

from gptlab_desktop.ui.markdown import COPY_SCHEME

_OBJECT = "\ufffc"
_BULLETS = frozenset(
    {
        QTextListFormat.Style.ListDisc,
        QTextListFormat.Style.ListCircle,
        QTextListFormat.Style.ListSquare,
    }
)
# A cell: its table's first position (tables are not hashable), row and column.
_Cell = tuple[int, int, int]


class _TableKind(enum.Enum):
    """What the renderer drew a table for (markdown/engine.py)."""

    DATA = enum.auto()  # a Markdown table
    CODE = enum.auto()  # a fenced code block: a header row (label, Copy), then the code
    QUOTE = enum.auto()  # a quote: a narrow empty cell drawn as its bar, then the quote


def plain_text(document: QTextDocument, start: int = 0, end: int | None = None) -> str:
    """The text between two positions of a rendered message (all of it by default)."""
    last = document.characterCount() - 1
    end = last if end is None else min(end, last)
    if end <= start:
        return ""
    parts: list[str] = []
    kinds: dict[int, _TableKind] = {}
    previous: _Cell | None = None
    block = document.findBlock(start)
    while block.isValid() and block.position() < end:
        table, cell = _cell_of(block)
        kind = None
        if table is not None and cell is not None:
            kind = kinds.setdefault(cell[0], _kind_of(table))
            is_chrome = (kind is _TableKind.CODE and cell[1] == 0) or (
                kind is _TableKind.QUOTE and cell[2] == 0
            )
            if is_chrome:
                block = block.next()
                continue
        if any(parts):  # blocks with nothing before them (a table's first) add no line
            is_next_cell = (
                kind is _TableKind.DATA
                and cell is not None
                and previous is not None
                and cell[:2] == previous[:2]
                and cell[2] != previous[2]
            )
            parts.append("\t" if is_next_cell else "\n")
        if block.position() >= start:
            parts.append("> " if kind is _TableKind.QUOTE else "")
            parts.append(_list_marker(block))
        text = _block_text(block, start, end)
        is_whole_end = block.position() + block.length() - 1 <= end
        parts.append(text.rstrip(" ") if is_whole_end else text)
        previous = cell
        block = block.next()
    text = "".join(parts)
    # The empty block a document ends with after a table is no line of the message.
    return text.rstrip("\n") if end == last else text


def _cell_of(block: QTextBlock) -> tuple[QTextTable | None, _Cell | None]:
    cursor = QTextCursor(block)
    table = cursor.currentTable()
    if table is None:
        return None, None
    cell = table.cellAt(cursor)
    return table, (table.firstPosition(), cell.row(), cell.column())


def _kind_of(table: QTextTable) -> _TableKind:
    if table.columns() != 2:
        return _TableKind.DATA
    if table.rows() == 1:
        bar = table.cellAt(0, 0)
        if bar.firstPosition() == bar.lastPosition():
            return _TableKind.QUOTE
        return _TableKind.DATA
    block = table.cellAt(0, 1).firstCursorPosition().block()
    is_copy_link = any(
        part.fragment().charFormat().anchorHref().startswith(f"{COPY_SCHEME}:") for part in block
    )
    return _TableKind.CODE if is_copy_link else _TableKind.DATA


def _list_marker(block: QTextBlock) -> str:
    text_list = block.textList()
    if text_list is None:
        return ""
    list_format = text_list.format()
    indent = "  " * max(0, list_format.indent() - 1)
    if list_format.style() in _BULLETS:
        return f"{indent}- "
    return f"{indent}{text_list.itemText(block)} "


def _block_text(block: QTextBlock, start: int, end: int) -> str:
    pieces: list[str] = []
    for part in block:
        fragment = part.fragment()
        first = max(start, fragment.position())
        last = min(end, fragment.position() + fragment.length())
        if first >= last:
            continue
        text = fragment.text()[first - fragment.position() : last - fragment.position()]
        char_format = fragment.charFormat()
        if char_format.isImageFormat():
            text = text.replace(_OBJECT, char_format.toolTip())
        pieces.append(text)
    return "".join(pieces).replace("\u00a0", " ").replace("\u2028", "\n")
