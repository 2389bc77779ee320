"""An in-memory keyring backend: one machine's keyring that outlives a ``SecretStore``.

``keyring``'s own ``fail.Keyring`` makes a ``SecretStore`` keep secrets in its own memory,
which a restart (a new ``SecretStore``) loses; this backend is the keyring of one simulated
machine, kept by the test across restarts, and accepted by ``SecretStore`` like a system one.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """Secrets in a dict, by (service, user name)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")
