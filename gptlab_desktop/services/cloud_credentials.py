"""How the app proves who it is to Firestore: a service account kept in the keyring (the user's
own project), or the signed-in member of a shared project (an ID token from Firebase
Authentication, which the security rules see as ``request.auth``).

A service-account key is imported from its file into the keyring and never kept on disk by the
app. A member's credentials are a ``google.oauth2.credentials.Credentials`` carrying the ID
token: google-auth renews it through the Secure Token endpoint before it expires, and when the
server rejects it anyway (revoked, or a clock far off) ``signed_in_credentials``' renewal asks
Firebase again, once, before the call is retried. Qt-free; nothing here reads the environment.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import (
    AuthUnavailable,
    CloudRefused,
    CloudUnavailable,
    ServiceError,
    SignInRequired,
)

if TYPE_CHECKING:
    from gptlab_desktop.services.auth import FirebaseAuth
    from gptlab_desktop.services.secrets import SecretStore

_SERVICE_ACCOUNT_FIELDS = ("type", "project_id", "private_key", "client_email")
# A service-account key file is a few kilobytes; anything far larger is not one.
_MAX_KEY_FILE_BYTES = 64 * 1024


class InvalidServiceAccount(ServiceError):
    """The file given is not a Google service-account key."""


async def import_service_account(secrets: SecretStore, text: str) -> str:
    """Keep a service-account key (the JSON text of its file) in the keyring, never on disk;
    returns its project id. ``InvalidServiceAccount`` for anything else."""
    try:
        info = json.loads(text)
    except ValueError:
        raise InvalidServiceAccount("This file is not a service-account key (not JSON).") from None
    missing = [
        name for name in _SERVICE_ACCOUNT_FIELDS if not isinstance(info, dict) or not info.get(name)
    ]
    if missing:
        raise InvalidServiceAccount(
            "This file is not a service-account key: it lacks " + ", ".join(missing) + "."
        )
    if info["type"] != "service_account":
        raise InvalidServiceAccount("This key is not a service account's.")
    from gptlab_desktop.services.secrets import SecretName

    await secrets.set(SecretName.FIRESTORE_CREDENTIALS, json.dumps(info))
    return str(info["project_id"])


async def import_service_account_file(secrets: SecretStore, path: Path) -> str:
    """Import the service-account key file at ``path`` (``import_service_account``)."""
    try:
        text = await run_blocking(_read_small_text, path)
    except OSError as error:
        raise InvalidServiceAccount(f"{path} could not be read ({error.strerror}).") from None
    return await import_service_account(secrets, text)


async def service_account_credentials(secrets: SecretStore) -> Any:
    """The keyring's service account as google-auth credentials."""
    from gptlab_desktop.services.secrets import SecretName

    text = await secrets.get(SecretName.FIRESTORE_CREDENTIALS)
    if text is None:
        raise ServiceError(
            "No service account is saved for your Firestore project: import its key file "
            "in Settings → Storage…"
        )
    from google.oauth2 import service_account

    try:
        return service_account.Credentials.from_service_account_info(json.loads(text))
    except (ValueError, KeyError) as error:
        raise ServiceError(
            f"The saved service account could not be used ({error}); import it again."
        ) from None


def signed_in_credentials(
    auth: FirebaseAuth, *, on_sign_in_lost: Callable[[str], None]
) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """The signed-in member's credentials for the Firestore client, and the renewal to run
    after the server rejected them (``FirestoreSettings.refresh_credentials``).

    A sign-in Firebase no longer accepts (the account disabled or deleted, the password
    changed elsewhere) refuses the write with words the user reads, and tells
    ``on_sign_in_lost``; Firebase out of reach leaves the write waiting, as offline.
    """
    credentials = auth.credentials()

    async def renew() -> None:
        try:
            session = await auth.refresh()
        except SignInRequired as error:
            on_sign_in_lost(error.message)
            raise CloudRefused(
                f"your sign-in is no longer accepted ({error.message}). Sign in again in "
                "Settings → Storage…, then send the refused writes again"
            ) from None
        except AuthUnavailable as error:
            raise CloudUnavailable(error.message) from None
        # The client keeps this object: it carries the new token from now on.
        credentials.token = session.id_token
        credentials.expiry = session.expires_at.astimezone(UTC).replace(tzinfo=None)

    return credentials, renew


def _read_small_text(path: Path) -> str:
    with path.open("rb") as file:
        raw = file.read(_MAX_KEY_FILE_BYTES + 1)
    if len(raw) > _MAX_KEY_FILE_BYTES:
        raise InvalidServiceAccount("This file is far too large to be a service-account key.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidServiceAccount("This file is not a service-account key (not text).") from None
