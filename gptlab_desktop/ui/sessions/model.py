"""The sessions panel's list model: the chat list in its groups, or search results with hits.

Browsing, rows are the library's sections (``ChatSection``: Pinned, Today, Yesterday, Previous
7 days, Older), the first row of each carrying its group's header (the delegate draws it, as
the lobby's does). Searching, rows are sessions each followed by their hits. The chat open in
the chat pane is marked (``set_open_session``). Rows answer Qt's roles, ``SessionRole`` (every
list of sessions) and ``PanelRole`` (this panel's). A row changed in place emits
``dataChanged`` for that row only.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, IntEnum
from typing import NamedTuple

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from gptlab_desktop.models import SessionStatus, SessionSummary
from gptlab_desktop.services.session_library import (
    ChatGroup,
    ChatSection,
    SessionEntry,
    SessionSearchResult,
)
from gptlab_desktop.ui.sessions.roles import SessionRole, session_title

AnyIndex = QModelIndex | QPersistentModelIndex

_ENDED_WORDS = {
    SessionStatus.COMPLETED: "concluded",
    SessionStatus.ABANDONED_BY_USER: "ended",
    SessionStatus.ABANDONED_STORAGE_ERROR: "ended by a storage error",
    SessionStatus.ABANDONED_LLM_ERROR: "ended by a model error",
}


class RowKind(Enum):
    """What a row of the panel's list shows."""

    SESSION = "session"
    HIT = "hit"


class PanelRole(IntEnum):
    """Data roles of the panel's model beyond ``SessionRole`` (SESSION, SESSION_ID)."""

    ROW_KIND = Qt.ItemDataRole.UserRole + 20
    MESSAGE_ID = Qt.ItemDataRole.UserRole + 21
    ASSISTANT_NAME = Qt.ItemDataRole.UserRole + 22
    ENTRY = Qt.ItemDataRole.UserRole + 23
    SNIPPET = Qt.ItemDataRole.UserRole + 24
    # The chat list's group of a session row (None in search results).
    GROUP = Qt.ItemDataRole.UserRole + 25
    # Whether the row is the first of its group (it carries the group's header).
    STARTS_GROUP = Qt.ItemDataRole.UserRole + 26
    # Whether the row's session is the one open in the chat pane.
    IS_OPEN = Qt.ItemDataRole.UserRole + 27
    IS_PINNED = Qt.ItemDataRole.UserRole + 28
    # A session row's two lines: its plain title, and its details.
    TITLE = Qt.ItemDataRole.UserRole + 29
    DETAILS = Qt.ItemDataRole.UserRole + 30


class _Row(NamedTuple):
    # A tuple, not a dataclass: ten thousand are made at each listing.
    kind: RowKind
    entry: SessionEntry
    hit_message_id: str = ""
    snippet: str = ""
    hit_count: int = 0
    group: ChatGroup | None = None
    starts_group: bool = False


def session_row_details(entry: SessionEntry, *, hit_count: int = 0) -> str:
    """The second line of a session row: assistant, date, model, messages, how it ended."""
    summary = entry.summary
    count = summary.message_count
    parts = [
        entry.assistant_name or "No assistant",
        f"{summary.last_modified_date.astimezone():%Y-%m-%d %H:%M}",
        summary.model,
        f"{count:,} message{'s' if count != 1 else ''}",
    ]
    if summary.status in _ENDED_WORDS:
        parts.append(_ENDED_WORDS[summary.status])
    if hit_count:
        parts.append(f"{hit_count} match{'es' if hit_count != 1 else ''}")
    return " · ".join(part for part in parts if part)


class SessionPanelModel(QAbstractListModel):
    """The panel's rows: the chat list by group when browsing; sessions each followed by their
    hits in search.

    A session row is editable (its title); an edit is emitted as ``titleEdited`` for the panel
    to store, and shown at once.
    """

    #: A session's title was edited in the view: session id, the trimmed new title.
    titleEdited = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._is_results = False
        self._open_id: str | None = None
        # Each session's own row (not its hits'), built when first asked after a change.
        self._row_of: dict[str, int] | None = None

    # -- Qt's model interface ---------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Number of rows (a list has no children)."""
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        """Session rows can be renamed in place; hit rows are read-only."""
        flags = super().flags(index)
        if index.isValid() and self._rows[index.row()].kind is RowKind.SESSION:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The row at ``index``: text for display, or one of ``SessionRole``/``PanelRole``."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        summary = row.entry.summary
        if role == Qt.ItemDataRole.DisplayRole:
            if row.kind is RowKind.HIT:
                return f"    “{row.snippet}”"
            details = session_row_details(row.entry, hit_count=row.hit_count)
            return f"{session_title(summary)}\n{details}"
        if role in (Qt.ItemDataRole.EditRole, PanelRole.TITLE):
            return session_title(summary) if row.kind is RowKind.SESSION else None
        if role == PanelRole.DETAILS:
            if row.kind is RowKind.HIT:
                return None
            return session_row_details(row.entry, hit_count=row.hit_count)
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            return self._spoken(row, role)
        if role == SessionRole.SESSION:
            return summary
        if role == SessionRole.SESSION_ID:
            return summary.id
        if role == PanelRole.ROW_KIND:
            return row.kind
        if role == PanelRole.MESSAGE_ID:
            return row.hit_message_id or None
        if role == PanelRole.ASSISTANT_NAME:
            return row.entry.assistant_name
        if role == PanelRole.ENTRY:
            return row.entry
        if role == PanelRole.SNIPPET:
            return row.snippet or None
        if role == PanelRole.GROUP:
            return row.group
        if role == PanelRole.STARTS_GROUP:
            return row.starts_group
        if role == PanelRole.IS_OPEN:
            return row.kind is RowKind.SESSION and summary.id == self._open_id
        if role == PanelRole.IS_PINNED:
            return summary.is_pinned
        return None

    def _spoken(self, row: _Row, role: int) -> str:
        """What a screen reader says of a row (and its tooltip): the group it opens, whether it
        is the open chat, its title and details."""
        title = session_title(row.entry.summary)
        if row.kind is RowKind.HIT:
            return f"Match in {title}: {row.snippet}"
        details = session_row_details(row.entry, hit_count=row.hit_count)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{title}. {details}"
        words = [title]
        if row.entry.summary.id == self._open_id:
            words.append("open")
        if row.entry.summary.is_pinned:
            words.append("pinned")
        spoken = ", ".join(words) + f". {details}"
        if row.starts_group and row.group is not None:
            spoken = f"{row.group.label}: {spoken}"
        return spoken

    def setData(self, index: AnyIndex, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Rename a session row; a blank or unchanged title changes nothing."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row = self._rows[index.row()]
        title = " ".join(str(value).split())
        if row.kind is not RowKind.SESSION or not title:
            return False
        if title == session_title(row.entry.summary):
            return False
        self.update_session(row.entry.summary.with_changes(title=title))
        self.titleEdited.emit(row.entry.session_id, title)
        return True

    # -- filling ----------------------------------------------------------------------------
    @property
    def is_results(self) -> bool:
        """Whether the rows are search results (else the chat list)."""
        return self._is_results

    def set_sections(self, sections: Sequence[ChatSection]) -> None:
        """Show the chat list: each section's chats in order, under the section's header."""
        rows: list[_Row] = []
        session = RowKind.SESSION
        for section in sections:
            group = section.group
            rows += [
                _Row(session, entry, group=group, starts_group=number == 0)
                for number, entry in enumerate(section.entries)
            ]
        self._reset(rows, is_results=False)

    def set_entries(self, entries: Sequence[SessionEntry]) -> None:
        """Show a listing of sessions in the order given, without groups."""
        self._reset([_Row(RowKind.SESSION, entry) for entry in entries], is_results=False)

    def set_matches(self, entries: Sequence[SessionEntry]) -> None:
        """Show chats found by their titles, as search results without hits (yet)."""
        self._reset([_Row(RowKind.SESSION, entry) for entry in entries], is_results=True)

    def set_results(self, results: Sequence[SessionSearchResult]) -> None:
        """Show search results: each session, then one row per hit with its snippet."""
        rows: list[_Row] = []
        for result in results:
            rows.append(_Row(RowKind.SESSION, result.entry, hit_count=len(result.hits)))
            rows += [
                _Row(RowKind.HIT, result.entry, hit.message_id, hit.snippet) for hit in result.hits
            ]
        self._reset(rows, is_results=True)

    def _reset(self, rows: list[_Row], *, is_results: bool) -> None:
        self.beginResetModel()
        self._rows = rows
        self._is_results = is_results
        self._row_of = None
        self.endResetModel()

    def update_session(self, summary: SessionSummary) -> None:
        """Show a changed session (renamed, ended) in every row of it, where they are."""
        for number, row in enumerate(self._rows):
            if row.entry.session_id == summary.id:
                self._rows[number] = row._replace(entry=row.entry.with_summary(summary))
                index = self.index(number, 0)
                self.dataChanged.emit(index, index)

    def update_in_place(self, summary: SessionSummary, group: ChatGroup) -> bool:
        """Show a session that changed (a message, a title) where it is, if it stays there: in
        the chat list, in the same group, first in it (it is the newest of its group again).
        Whether it was shown; if not, the list must be read again."""
        row = self.session_row(summary.id)
        if self._is_results or row < 0:
            return False
        current = self._rows[row]
        if current.group is not group or not current.starts_group:
            return False
        self._rows[row] = current._replace(entry=current.entry.with_summary(summary))
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)
        return True

    def remove_session(self, session_id: str) -> bool:
        """Take a session's rows (its hits too) out of the list; whether there were any.

        The group header moves to the next row when the first of a group goes.
        """
        numbers = [n for n, row in enumerate(self._rows) if row.entry.session_id == session_id]
        if not numbers:
            return False
        # A session's rows are adjacent: its row, then its hits.
        first, last = numbers[0], numbers[-1]
        removed = self._rows[first]
        self.beginRemoveRows(QModelIndex(), first, last)
        del self._rows[first : last + 1]
        self._row_of = None
        self.endRemoveRows()
        following = self._rows[first] if first < len(self._rows) else None
        if (
            removed.starts_group
            and following is not None
            and removed.group is not None
            and following.group is removed.group
        ):
            self._rows[first] = following._replace(starts_group=True)
            index = self.index(first, 0)
            self.dataChanged.emit(index, index)
        return True

    def set_open_session(self, session_id: str | None) -> None:
        """Mark the session open in the chat pane (None: none is); only the two rows that
        change are repainted."""
        if session_id == self._open_id:
            return
        previous, self._open_id = self._open_id, session_id
        for changed in (previous, session_id):
            if changed is None:
                continue
            row = self.session_row(changed)
            if row >= 0:
                index = self.index(row, 0)
                self.dataChanged.emit(index, index)

    @property
    def open_session_id(self) -> str | None:
        """The session marked open, listed or not."""
        return self._open_id

    # -- looking up -------------------------------------------------------------------------
    def session_row(self, session_id: str) -> int:
        """The row of a session (not of its hits), or -1 when it is not shown."""
        if self._row_of is None:
            self._row_of = {
                row.entry.session_id: number
                for number, row in enumerate(self._rows)
                if row.kind is RowKind.SESSION
            }
        return self._row_of.get(session_id, -1)

    def entry_at(self, row: int) -> SessionEntry | None:
        """The session a row belongs to."""
        return self._rows[row].entry if 0 <= row < len(self._rows) else None

    def session_ids(self) -> list[str]:
        """The sessions shown, in order, each once."""
        return [row.entry.session_id for row in self._rows if row.kind is RowKind.SESSION]
