"""The sync's state as the user sees it: local, online, syncing, offline, or a problem.

Plain values in a module of their own, so the window can show them without loading the cloud
half (its libraries cost start-up time and are loaded only when a cloud is configured).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SyncState(StrEnum):
    """What the status bar says of the sync."""

    LOCAL = "local"  # the data is kept on this computer only
    ONLINE = "online"
    SYNCING = "syncing"
    OFFLINE = "offline"
    PROBLEM = "problem"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The sync's state, with how many writes wait, how many were refused, and why it is
    stuck, if it is."""

    state: SyncState = SyncState.ONLINE
    pending: int = 0
    refused: int = 0
    reason: str = ""
