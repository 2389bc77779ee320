"""Signing in to a team's shared project: who the user is there, and which data a run opens.

A shared project is one Firestore that a team shares, as GPT Lab's was: its showcase and the
assistants its users publish are read by everyone signed in, and each user's own assistants and
sessions stay theirs, enforced by the project's security rules (``firestore.rules``). A user
signs in with Firebase Authentication (``services/auth.py``): email and password, or as a guest
(anonymous) to try the lobby. The signed-in account is the user there (``users/{uid}``): its
cache is a SQLite file of its own (``AppPaths.shared_database_file``), never the local data, so
nothing of the local history reaches a team's project, and two accounts never mix. Assistants
move between the two by export and import.

Signing in, up or out saves the storage settings with the account (``CloudSync.apply``), which
opens other data: the window reopens on it (``CloudSync.needs_reopen``). Qt-free; nothing here
reads the environment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from gptlab_desktop.config import SharedAccount, StorageMode, StorageSettings
from gptlab_desktop.services.errors import ServiceError

if TYPE_CHECKING:
    from gptlab_desktop.services.auth import AuthSession, AuthSettings, FirebaseAuth


def auth_settings_for(settings: StorageSettings) -> AuthSettings:
    """Where ``settings``' shared project signs in: Google's endpoints, or the Auth emulator
    the environment named (``FIREBASE_AUTH_EMULATOR_HOST``)."""
    from gptlab_desktop.services.auth import AuthSettings

    if settings.auth_emulator_host:
        return AuthSettings.for_emulator(
            settings.auth_emulator_host,
            project_id=settings.project_id,
            api_key=settings.firebase_api_key,
        )
    return AuthSettings(api_key=settings.firebase_api_key, project_id=settings.project_id)


class SharedProjectIncomplete(ServiceError):
    """The shared project's id or Web API key is missing."""

    title = "The shared project is not complete"


class SharedSignIn:
    """Sign in, up and out of a shared project; each success is applied with ``apply``
    (``CloudSync.apply``: saved, and True when the window must reopen on the account's data)."""

    def __init__(
        self,
        auth_for: Callable[[StorageSettings], FirebaseAuth],
        apply: Callable[[StorageSettings], Awaitable[bool]],
    ) -> None:
        self._auth_for = auth_for
        self._apply = apply

    async def sign_in(self, settings: StorageSettings, email: str, password: str) -> bool:
        """Sign in with email and password; True when the window must reopen."""
        auth = self._auth(settings)
        return await self._signed_in(settings, await auth.sign_in(email.strip(), password))

    async def sign_up(
        self, settings: StorageSettings, email: str, password: str, display_name: str = ""
    ) -> bool:
        """Make an account (its display name is what others see on what it publishes)."""
        auth = self._auth(settings)
        session = await auth.sign_up(email.strip(), password, display_name.strip() or None)
        return await self._signed_in(settings, session)

    async def sign_in_anonymously(self, settings: StorageSettings) -> bool:
        """Sign in as a guest, to try the shared lobby (its data stays on this account)."""
        auth = self._auth(settings)
        return await self._signed_in(settings, await auth.sign_in_anonymously())

    async def send_password_reset(self, settings: StorageSettings, email: str) -> None:
        """Have Firebase email a link to choose a new password."""
        if not email.strip():
            raise ServiceError("Enter your email address first: the link is sent there.")
        await self._auth(settings).send_password_reset(email.strip())

    async def sign_out(self, settings: StorageSettings) -> bool:
        """Forget the sign-in (the keyring's token too); the local data opens again. The
        account's cache stays on this computer, for the next sign-in."""
        await self._auth(settings).sign_out()
        return await self._apply(replace(settings, account=None))

    def _auth(self, settings: StorageSettings) -> FirebaseAuth:
        settings = replace(settings, mode=StorageMode.SHARED)
        if not settings.project_id or not settings.firebase_api_key:
            raise SharedProjectIncomplete(
                "Enter the shared project's id and its Web API key first (your team gives "
                "you both)."
            )
        return self._auth_for(settings)

    async def _signed_in(self, settings: StorageSettings, session: AuthSession) -> bool:
        account = SharedAccount(
            uid=session.uid,
            email=session.email or "",
            display_name=session.display_name or "",
        )
        return await self._apply(replace(settings, mode=StorageMode.SHARED, account=account))
