"""What every list of sessions shares: its data roles and how an untitled session is named.

The sessions panel (``ui/sessions/panel.py``) is the one list of sessions; its model answers
these roles, so views and tests read a row's session the same way everywhere.
"""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import Qt

from gptlab_desktop.models import Session


class SessionRole(IntEnum):
    """Data roles beyond Qt's own."""

    SESSION = Qt.ItemDataRole.UserRole + 1
    SESSION_ID = Qt.ItemDataRole.UserRole + 2


def session_title(session: Session) -> str:
    """A session's title, or a name made from its start time."""
    if session.title.strip():
        return session.title
    return f"Session of {session.created_date.astimezone():%Y-%m-%d %H:%M}"
