"""Past sessions as a list model: title and date, then model and message count."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from gptlab_desktop.models import Session, SessionStatus

AnyIndex = QModelIndex | QPersistentModelIndex

_STATUS_WORDS = {
    SessionStatus.STARTED: "open",
    SessionStatus.COMPLETED: "concluded",
    SessionStatus.ABANDONED_BY_USER: "ended",
    SessionStatus.ABANDONED_STORAGE_ERROR: "ended by a storage error",
    SessionStatus.ABANDONED_LLM_ERROR: "ended by a model error",
}


class SessionRole(IntEnum):
    """Data roles beyond Qt's own."""

    SESSION = Qt.ItemDataRole.UserRole + 1
    SESSION_ID = Qt.ItemDataRole.UserRole + 2


def session_title(session: Session) -> str:
    """A session's title, or a name made from its start time."""
    if session.title.strip():
        return session.title
    return f"Session of {session.created_date.astimezone():%Y-%m-%d %H:%M}"


def session_details(session: Session) -> str:
    """The secondary line: model, message count and status."""
    count = session.message_count
    messages = f"{count:,} message{'s' if count != 1 else ''}"
    return f"{session.bot_model_config.model} · {messages} · {_STATUS_WORDS[session.status]}"


class SessionListModel(QAbstractListModel):
    """Sessions in the order given (the store lists newest-modified first)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sessions: list[Session] = []

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Number of sessions (a list has no children)."""
        return 0 if parent.isValid() else len(self._sessions)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The session at ``index`` as two lines of text or one of ``SessionRole``."""
        if not index.isValid() or not 0 <= index.row() < len(self._sessions):
            return None
        session = self._sessions[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{session_title(session)}\n{session_details(session)}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{session_title(session)}. {session_details(session)}"
        if role == SessionRole.SESSION:
            return session
        if role == SessionRole.SESSION_ID:
            return session.id
        return None

    def set_sessions(self, sessions: Sequence[Session]) -> None:
        """Show ``sessions`` instead of the current ones."""
        self.beginResetModel()
        self._sessions = list(sessions)
        self.endResetModel()

    def sessions(self) -> list[Session]:
        """Every session shown, in order."""
        return list(self._sessions)
