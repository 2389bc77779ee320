"""The sessions panel's list model: sessions when browsing, sessions and their hits in search.

Rows answer Qt's roles, ``SessionRole`` (every list of sessions) and ``PanelRole`` (this
panel's). A row changed in place emits ``dataChanged`` for that row only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum, IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from gptlab_desktop.models import Session, SessionStatus
from gptlab_desktop.services.session_library import SessionEntry, SessionSearchResult
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


@dataclass(frozen=True, slots=True)
class _Row:
    kind: RowKind
    entry: SessionEntry
    hit_message_id: str = ""
    snippet: str = ""
    hit_count: int = 0


def session_row_details(entry: SessionEntry, *, hit_count: int = 0) -> str:
    """The second line of a session row: assistant, date, model, messages, how it ended."""
    session = entry.session
    count = session.message_count
    parts = [
        entry.assistant_name or "No assistant",
        f"{session.last_modified_date.astimezone():%Y-%m-%d %H:%M}",
        session.bot_model_config.model,
        f"{count:,} message{'s' if count != 1 else ''}",
    ]
    if session.status in _ENDED_WORDS:
        parts.append(_ENDED_WORDS[session.status])
    if hit_count:
        parts.append(f"{hit_count} match{'es' if hit_count != 1 else ''}")
    return " · ".join(parts)


class SessionPanelModel(QAbstractListModel):
    """The panel's rows: sessions when browsing; sessions each followed by their hits in search.

    A session row is editable (its title); an edit is emitted as ``titleEdited`` for the panel
    to store, and shown at once.
    """

    #: A session's title was edited in the view: session id, the trimmed new title.
    titleEdited = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._is_results = False

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
        session = row.entry.session
        if role == Qt.ItemDataRole.DisplayRole:
            if row.kind is RowKind.HIT:
                return f"    “{row.snippet}”"
            details = session_row_details(row.entry, hit_count=row.hit_count)
            return f"{session_title(session)}\n{details}"
        if role == Qt.ItemDataRole.EditRole:
            return session_title(session) if row.kind is RowKind.SESSION else None
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            if row.kind is RowKind.HIT:
                return f"Match in {session_title(session)}: {row.snippet}"
            details = session_row_details(row.entry, hit_count=row.hit_count)
            return f"{session_title(session)}. {details}"
        if role == SessionRole.SESSION:
            return session
        if role == SessionRole.SESSION_ID:
            return session.id
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
        return None

    def setData(self, index: AnyIndex, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Rename a session row; a blank or unchanged title changes nothing."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row = self._rows[index.row()]
        title = " ".join(str(value).split())
        if row.kind is not RowKind.SESSION or not title:
            return False
        if title == session_title(row.entry.session):
            return False
        self.update_session(row.entry.session.with_changes(title=title))
        self.titleEdited.emit(row.entry.session_id, title)
        return True

    # -- filling ----------------------------------------------------------------------------
    @property
    def is_results(self) -> bool:
        """Whether the rows are search results (else a listing)."""
        return self._is_results

    def set_entries(self, entries: Sequence[SessionEntry]) -> None:
        """Show a listing of sessions, in the order given."""
        self.beginResetModel()
        self._rows = [_Row(RowKind.SESSION, entry) for entry in entries]
        self._is_results = False
        self.endResetModel()

    def set_results(self, results: Sequence[SessionSearchResult]) -> None:
        """Show search results: each session, then one row per hit with its snippet."""
        rows: list[_Row] = []
        for result in results:
            rows.append(_Row(RowKind.SESSION, result.entry, hit_count=len(result.hits)))
            rows += [
                _Row(RowKind.HIT, result.entry, hit.message_id, hit.snippet) for hit in result.hits
            ]
        self.beginResetModel()
        self._rows = rows
        self._is_results = True
        self.endResetModel()

    def update_session(self, session: Session) -> None:
        """Show a changed session (renamed, ended) in every row of it."""
        for number, row in enumerate(self._rows):
            if row.entry.session_id == session.id:
                self._rows[number] = replace(row, entry=replace(row.entry, session=session))
                index = self.index(number, 0)
                self.dataChanged.emit(index, index)

    def remove_session(self, session_id: str) -> bool:
        """Take a session's rows (its hits too) out of the list; whether there were any."""
        numbers = [n for n, row in enumerate(self._rows) if row.entry.session_id == session_id]
        if not numbers:
            return False
        # A session's rows are adjacent: its row, then its hits.
        first, last = numbers[0], numbers[-1]
        self.beginRemoveRows(QModelIndex(), first, last)
        del self._rows[first : last + 1]
        self.endRemoveRows()
        return True

    # -- looking up -------------------------------------------------------------------------
    def session_row(self, session_id: str) -> int:
        """The row of a session (not of its hits), or -1 when it is not shown."""
        for number, row in enumerate(self._rows):
            if row.kind is RowKind.SESSION and row.entry.session_id == session_id:
                return number
        return -1

    def entry_at(self, row: int) -> SessionEntry | None:
        """The session a row belongs to."""
        return self._rows[row].entry if 0 <= row < len(self._rows) else None

    def session_ids(self) -> list[str]:
        """The sessions shown, in order, each once."""
        return [row.entry.session_id for row in self._rows if row.kind is RowKind.SESSION]
