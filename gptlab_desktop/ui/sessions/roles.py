"""What every list of sessions shares: its data roles and how a session's title is shown.

The sessions panel (``ui/sessions/panel.py``) is the one list of sessions; its model answers
these roles, so views and tests read a row's session the same way everywhere.
"""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import Qt

from gptlab_desktop.models import Session, SessionSummary
from gptlab_desktop.services.titles import plain_title


class SessionRole(IntEnum):
    """Data roles beyond Qt's own."""

    # The row's ``SessionSummary`` (what a list knows of a session).
    SESSION = Qt.ItemDataRole.UserRole + 1
    SESSION_ID = Qt.ItemDataRole.UserRole + 2


def session_title(session: Session | SessionSummary) -> str:
    """A session's title as plain text, or a name made from its start time."""
    title = plain_title(session.title)
    if title:
        return title
    return f"Session of {session.created_date.astimezone():%Y-%m-%d %H:%M}"
