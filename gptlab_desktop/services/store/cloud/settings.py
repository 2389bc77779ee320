"""Where a user's Firestore data lives and how long a call may wait: plain values, no google
library imported, so the configuration can be built before the first paint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

DEFAULT_DATABASE = "(default)"


@dataclass(frozen=True, slots=True)
class FirestoreSettings:
    """The user's Firestore project and the bounds on every call to it.

    ``credentials`` is a ``google.auth`` credentials object (a service account's, say); None
    means Application Default Credentials, or none at all against an emulator (the google
    library itself reads ``FIRESTORE_EMULATOR_HOST``; ``config.py`` decides it for the app).
    """

    project_id: str
    database_id: str = DEFAULT_DATABASE
    credentials: Credentials | None = field(default=None, repr=False)
    # ``host:port`` the client connects to over TLS instead of Google's (its ``api_endpoint``).
    api_endpoint: str | None = None
    # Renews ``credentials`` after the server rejected them (a signed-in user's ID token that
    # expired early, or was revoked); the call is then tried once more. None: nothing to renew.
    refresh_credentials: Callable[[], Awaitable[object]] | None = field(
        default=None, repr=False, compare=False
    )
    # One attempt of one call.
    rpc_timeout_s: float = 4.0
    # All attempts of one call together (the retry's deadline).
    retry_deadline_s: float = 4.0

    def __post_init__(self) -> None:
        if not self.project_id.strip():
            raise ValueError("A Firestore project id is not empty.")
        if self.rpc_timeout_s <= 0 or self.retry_deadline_s <= 0:
            raise ValueError("Firestore calls need positive time limits.")

    @property
    def overall_deadline_s(self) -> float:
        """The most one store call waits on the network, retries included."""
        return self.rpc_timeout_s + self.retry_deadline_s + 1.0
