"""The lobby: every assistant as a list model, its filter, and the delegate that draws a card.

Assistants come in sections (``services.lobby.LobbySection``): *Showcased*, *Published by
others* (a shared project's other members' assistants, with their author's name and how many
sessions their active version started) and *Yours*, in the order the store gives (each by
name), and keep that order through refreshes and filtering: a lobby that reshuffles under the
pointer is hard to use. The delegate draws a section's header above its first visible row, so
one list view shows every section.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from gptlab_desktop.models import Assistant
from gptlab_desktop.services.lobby import LobbySection, in_sections

AnyIndex = QModelIndex | QPersistentModelIndex

# The lobby's groups are the service's sections (the value is the header shown).
LobbyGroup = LobbySection


class LobbyRole(IntEnum):
    """Data roles beyond Qt's own."""

    ASSISTANT = Qt.ItemDataRole.UserRole + 1
    ASSISTANT_ID = Qt.ItemDataRole.UserRole + 2
    GROUP = Qt.ItemDataRole.UserRole + 3
    TAG_LINE = Qt.ItemDataRole.UserRole + 4
    DESCRIPTION = Qt.ItemDataRole.UserRole + 5
    SESSIONS_STARTED = Qt.ItemDataRole.UserRole + 6
    # Whether the row is the first shown of its group (it carries the group's header).
    STARTS_GROUP = Qt.ItemDataRole.UserRole + 7
    # The card's third line: who published it and how much it is used.
    USAGE = Qt.ItemDataRole.UserRole + 8


def sessions_started_text(count: int) -> str:
    """The secondary line about how much an assistant is used."""
    return "No sessions yet" if count == 0 else f"{count:,} session{'s' if count != 1 else ''}"


def usage_text(assistant: Assistant, section: LobbySection) -> str:
    """The card's third line: the author of another's published assistant and the sessions
    its active version started; a "Published" mark on one's own; else the sessions count."""
    if section is LobbySection.PUBLISHED_BY_OTHERS:
        author = assistant.creator_display_name or "another member"
        sessions = sessions_started_text(assistant.version_sessions_started)
        return f"By {author} · {sessions} with this version"
    sessions = sessions_started_text(assistant.sessions_started)
    if section is LobbySection.YOURS and assistant.published:
        return f"Published · {sessions}"
    return sessions


class LobbyModel(QAbstractListModel):
    """Assistants section by section (showcased, others' published, the user's), each in the
    order given."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._assistants: list[Assistant] = []
        # Whose lobby it is: their own assistants are "Yours", other users' published ones not.
        self._user_id: str | None = None
        # Per row, precomputed so filtering 10,000 rows per keystroke stays in plain Python.
        self._haystacks: list[str] = []
        self._groups: list[LobbyGroup] = []

    def set_user(self, user_id: str | None) -> None:
        """Whose lobby this is (rows are placed in sections for them from the next fill)."""
        self._user_id = user_id

    def _index_rows(self, groups: list[LobbyGroup] | None = None) -> None:
        # The author's name is searchable too: "ada" finds what Ada published.
        self._haystacks = [
            f"{a.name}\n{a.tag_line}\n{a.description}\n{a.creator_display_name or ''}".casefold()
            for a in self._assistants
        ]
        self._groups = (
            groups
            if groups is not None
            else [LobbyGroup.of(a, self._user_id) for a in self._assistants]
        )

    def matches(self, row: int, needle: str) -> bool:
        """Whether the row's name, tag line or description contain ``needle`` (casefolded)."""
        return needle in self._haystacks[row]

    def group_of_row(self, row: int) -> LobbyGroup:
        """The group of the assistant at ``row``."""
        return self._groups[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Number of assistants (a list has no children)."""
        return 0 if parent.isValid() else len(self._assistants)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The assistant at ``index`` as text or one of ``LobbyRole``."""
        if not index.isValid() or not 0 <= index.row() < len(self._assistants):
            return None
        assistant = self._assistants[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return assistant.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return assistant.description or assistant.tag_line or None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{assistant.name}. {assistant.tag_line}"
        if role in (Qt.ItemDataRole.AccessibleDescriptionRole, LobbyRole.USAGE):
            return usage_text(assistant, self._groups[index.row()])
        if role == LobbyRole.ASSISTANT:
            return assistant
        if role == LobbyRole.ASSISTANT_ID:
            return assistant.id
        if role == LobbyRole.GROUP:
            return self._groups[index.row()]
        if role == LobbyRole.TAG_LINE:
            return assistant.tag_line
        if role == LobbyRole.DESCRIPTION:
            return assistant.description
        if role == LobbyRole.SESSIONS_STARTED:
            return assistant.sessions_started
        if role == LobbyRole.STARTS_GROUP:
            row = index.row()
            return row == 0 or self._groups[row - 1] is not self._groups[row]
        return None

    def set_assistants(self, assistants: Sequence[Assistant]) -> None:
        """Show ``assistants`` section by section, each in the given order."""
        placed = in_sections(assistants, self._user_id)
        ordered = [assistant for _section, assistant in placed]
        groups = [section for section, _assistant in placed]
        if [a.id for a in ordered] == [a.id for a in self._assistants]:
            # Same rows: update them in place so the selection and scroll position survive.
            self._assistants = ordered
            self._index_rows(groups)
            if ordered:
                self.dataChanged.emit(self.index(0), self.index(len(ordered) - 1))
            return
        self.beginResetModel()
        self._assistants = ordered
        self._index_rows(groups)
        self.endResetModel()

    def update_assistant(self, assistant: Assistant) -> None:
        """Replace one assistant's row in place (its counters or text changed)."""
        row = self.row_of(assistant.id)
        if row is None:
            return
        self._assistants[row] = assistant
        self._index_rows()
        self.dataChanged.emit(self.index(row), self.index(row))

    def row_of(self, assistant_id: str) -> int | None:
        """The row of the assistant with this id, if shown."""
        for row, assistant in enumerate(self._assistants):
            if assistant.id == assistant_id:
                return row
        return None

    def assistants(self) -> list[Assistant]:
        """Every assistant, in display order."""
        return list(self._assistants)


class LobbyFilterModel(QSortFilterProxyModel):
    """Narrows the lobby by name, tag line and description, ignoring case, keeping the order.

    Which rows match, and which shown row starts a group, are computed once per change in
    plain Python over the source model's precomputed text; Qt then only asks cheap questions.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._lobby: LobbyModel | None = None
        self._starts_group: list[bool] | None = None
        # No sorting: the source order is the display order.
        self.setDynamicSortFilter(False)
        # Group starts depend on which rows are shown: recomputed lazily after any change.
        for signal in (
            self.modelAboutToBeReset,
            self.layoutAboutToBeChanged,
            self.rowsAboutToBeInserted,
            self.rowsAboutToBeRemoved,
            self.dataChanged,
        ):
            signal.connect(self._forget_group_starts)

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        """Filter ``model``, which must be a ``LobbyModel``."""
        if not isinstance(model, LobbyModel):
            raise TypeError("LobbyFilterModel filters a LobbyModel")
        self._lobby = model
        super().setSourceModel(model)

    def _forget_group_starts(self, *_: object) -> None:
        self._starts_group = None

    def filter_text(self) -> str:
        """The text rows are filtered by."""
        return self._needle

    def set_filter_text(self, text: str) -> None:
        """Keep only assistants whose name, tag line or description contain ``text``."""
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+, where invalidateFilter is deprecated
            self.beginFilterChange()
            self._needle = needle
            self.endFilterChange()
        else:
            self._needle = needle
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        """Whether the row's text contains the filter text."""
        return not self._needle or (
            self._lobby is not None and self._lobby.matches(source_row, self._needle)
        )

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The source's data, except group starts, which depend on what is shown."""
        if role != LobbyRole.STARTS_GROUP:
            return super().data(index, role)
        if self._starts_group is None:
            self._starts_group = self._group_starts()
        row = index.row()
        return self._starts_group[row] if 0 <= row < len(self._starts_group) else False

    def _group_starts(self) -> list[bool]:
        lobby = self._lobby
        if lobby is None:
            return []
        needle = self._needle
        groups = [
            lobby.group_of_row(row)
            for row in range(lobby.rowCount())
            if not needle or lobby.matches(row, needle)
        ]
        return [i == 0 or groups[i - 1] is not groups[i] for i in range(len(groups))]


class LobbyDelegate(QStyledItemDelegate):
    """Draws an assistant card: name, tag line, usage (author, sessions, a "Published" mark);
    a section's header above its first row."""

    _PADDING = 8
    _HEADER_GAP = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Every card has one of two heights; the list asks for each row's size on layout.
        self._fonts_by_key: dict[str, tuple[QFont, QFont, QFont]] = {}
        self._heights_by_key: dict[str, tuple[int, int]] = {}

    @staticmethod
    def starts_group(index: AnyIndex) -> bool:
        """Whether ``index`` is the first visible row of its group (it carries the header)."""
        return bool(index.data(LobbyRole.STARTS_GROUP))

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont, QFont]:
        key = option.font.key()
        fonts = self._fonts_by_key.get(key)
        if fonts is None:
            fonts = self._fonts_by_key[key] = self._make_fonts(option)
        return fonts

    @staticmethod
    def _make_fonts(option: QStyleOptionViewItem) -> tuple[QFont, QFont, QFont]:
        name_font = QFont(option.font)
        name_font.setBold(True)
        small_font = QFont(option.font)
        small_font.setPointSizeF(max(6.0, option.font.pointSizeF() * 0.9))
        header_font = QFont(option.font)
        header_font.setBold(True)
        header_font.setCapitalization(QFont.Capitalization.AllUppercase)
        header_font.setPointSizeF(max(6.0, option.font.pointSizeF() * 0.85))
        return name_font, small_font, header_font

    def _header_height(self, header_font: QFont) -> int:
        return QFontMetrics(header_font).height() + 2 * self._HEADER_GAP

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """Three lines of text, plus a header line for the first row of a group."""
        key = option.font.key()
        heights = self._heights_by_key.get(key)
        if heights is None:
            name_font, small_font, header_font = self._fonts(option)
            card = (
                QFontMetrics(name_font).height()
                + 2 * QFontMetrics(small_font).height()
                + 2 * self._PADDING
            )
            heights = self._heights_by_key[key] = (card, card + self._header_height(header_font))
        height = heights[1] if index.data(LobbyRole.STARTS_GROUP) else heights[0]
        return QSize(max(option.rect.width(), 200), height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """Paint the header (if any) and the card's three lines."""
        name_font, small_font, header_font = self._fonts(option)
        palette: QPalette = option.palette
        rect = QRect(option.rect)
        painter.save()
        if self.starts_group(index):
            header_height = self._header_height(header_font)
            header_rect = QRect(rect.left(), rect.top(), rect.width(), header_height)
            painter.setFont(header_font)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            group = index.data(LobbyRole.GROUP)
            painter.drawText(
                header_rect.adjusted(self._PADDING, 0, -self._PADDING, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                group.label if isinstance(group, LobbySection) else "",
            )
            rect.setTop(rect.top() + header_height)

        card = QStyleOptionViewItem(option)
        card.rect = rect
        card.text = ""
        style = option.widget.style() if option.widget is not None else None
        if style is not None:
            # The selection and hover background, drawn by the style, without its text.
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, card, painter, option.widget
            )
        is_selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if is_selected else QPalette.ColorRole.Text
        inner = rect.adjusted(self._PADDING, self._PADDING, -self._PADDING, -self._PADDING)
        lines = (
            (name_font, str(index.data(Qt.ItemDataRole.DisplayRole) or ""), text_role),
            (small_font, str(index.data(LobbyRole.TAG_LINE) or ""), text_role),
            (
                small_font,
                str(index.data(LobbyRole.USAGE) or ""),
                QPalette.ColorRole.HighlightedText
                if is_selected
                else QPalette.ColorRole.PlaceholderText,
            ),
        )
        top = inner.top()
        for font, text, color_role in lines:
            metrics = QFontMetrics(font)
            painter.setFont(font)
            painter.setPen(palette.color(color_role))
            line_rect = QRect(inner.left(), top, inner.width(), metrics.height())
            painter.drawText(
                line_rect,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, inner.width()),
            )
            top += metrics.height()
        painter.restore()
