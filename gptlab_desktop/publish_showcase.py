"""``scripts/publish-showcase``: an admin publishes the shipped showcase to a shared project.

In a shared project no member writes the showcase (the rules let only an admin: an account
whose ID token carries the custom claim ``admin: true``), so it is published once, and again
after an update of ``resources/showcase``, by an admin with this command. It signs in with the
admin's email and password (the password from ``GPTLAB_ADMIN_PASSWORD``, else asked for), and
writes each showcased assistant with the ids every machine derives from the resources
(``documents.showcase_ids``): a second run changes only what changed.

The project comes from ``--project`` / ``--api-key``, else ``GPTLAB_FIRESTORE_PROJECT`` /
``GPTLAB_FIREBASE_API_KEY``; ``FIREBASE_AUTH_EMULATOR_HOST`` and ``GPTLAB_FIRESTORE_ENDPOINT``
are honoured as by the app (``config.py``). Nothing is kept: the sign-in is forgotten at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

from gptlab_desktop.config import StorageMode, StorageSettings, resolve_storage
from gptlab_desktop.services.errors import ServiceError

PROGRAM = "publish-showcase"
PASSWORD_ENV = "GPTLAB_ADMIN_PASSWORD"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Publish GPT Lab Desktop's showcase to a shared project."
    )
    parser.add_argument("--project", help="the project id (default: $GPTLAB_FIRESTORE_PROJECT)")
    parser.add_argument("--api-key", help="its Web API key (default: $GPTLAB_FIREBASE_API_KEY)")
    parser.add_argument("--email", required=True, help="the admin's email address")
    return parser


def resolve_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> StorageSettings:
    """The shared project to publish to: the command line over the environment."""
    settings = resolve_storage(StorageSettings(StorageMode.SHARED), environ)
    settings = replace(settings, mode=StorageMode.SHARED)
    if args.project:
        settings = replace(settings, project_id=args.project.strip())
    if args.api_key:
        settings = replace(settings, firebase_api_key=args.api_key.strip())
    return settings


async def publish(settings: StorageSettings, email: str, password: str) -> int:
    """Sign in as the admin and publish the showcase; the number of assistants added or
    changed. ``ServiceError`` with the reason when the sign-in or a write is refused."""
    from keyring.backends import fail

    from gptlab_desktop.services.auth import FirebaseAuth
    from gptlab_desktop.services.crypto import DataKey
    from gptlab_desktop.services.errors import CloudRefused
    from gptlab_desktop.services.secrets import SecretStore
    from gptlab_desktop.services.shared_sign_in import auth_settings_for
    from gptlab_desktop.services.showcase import load_showcase_entries
    from gptlab_desktop.services.store.cloud.documents import RecordCipher
    from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
    from gptlab_desktop.services.store.cloud.settings import FirestoreSettings

    # The sign-in is held in memory only: an admin's token is never left in a keyring.
    auth = FirebaseAuth(
        auth_settings_for(settings),
        SecretStore(fail.Keyring()),
    )
    try:
        session = await auth.sign_in(email, password)
        store = FirestoreStore(
            FirestoreSettings(
                project_id=settings.project_id,
                database_id=settings.database_id,
                credentials=auth.credentials(),
                api_endpoint=settings.firestore_endpoint,
            ),
            # Showcased assistants hold nothing sealed; the key is never used.
            RecordCipher(DataKey.generate(), session.uid),
        )
        health = await store.open()
        if not health.is_usable:
            raise ServiceError(health.problem or "The project could not be opened.")
        try:
            return await store.sync_showcase(load_showcase_entries())
        except CloudRefused as error:
            raise ServiceError(
                f"The project refused the showcase ({error.reason}). Only an admin publishes "
                "it: the account needs the custom claim admin: true (docs/firestore.md)."
            ) from None
        finally:
            await store.close()
    finally:
        await auth.sign_out()
        await auth.aclose()


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command; its exit status."""
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    settings = resolve_settings(args, env)
    if not settings.project_id or not settings.firebase_api_key:
        print(f"{PROGRAM}: give the project id and its Web API key", file=sys.stderr)
        return 2
    password = env.get(PASSWORD_ENV) or getpass.getpass(f"Password for {args.email}: ")
    try:
        changed = asyncio.run(publish(settings, args.email, password))
    except ServiceError as error:
        print(f"{PROGRAM}: {error.message}", file=sys.stderr)
        return 1
    print(f"{changed} showcased assistants added or updated in {settings.project_id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
