"""The production path to Firestore, for real: TLS, a signed-in user's ID token, security rules.

The client is built as the app builds it for a shared project (no ``FIRESTORE_EMULATOR_HOST``,
an ``api_endpoint``, the user's credentials), and reaches a Firestore emulator that enforces
``firestore.rules`` through the TLS front; the tokens come from the Auth emulator.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from google.api_core.exceptions import PermissionDenied
from google.auth.credentials import AnonymousCredentials
from google.auth.credentials import Credentials as BaseCredentials
from google.cloud import firestore
from google.oauth2.credentials import Credentials

from gptlab_desktop.services.auth import AuthSettings, FirebaseAuth
from gptlab_desktop.services.secrets import SecretStore
from tests.fakes.auth_emulator import AuthEmulator, TestUser, unique_email
from tests.fakes.firestore_emulator import unique_project_id
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.plugin import FirestoreTls

pytestmark = [pytest.mark.firestore, pytest.mark.auth_emulator]

# Each user may read and write only the documents of their own folder.
OWNER_ONLY_RULES = """
rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /people/{uid}/{document=**} {
      allow read, write: if request.auth != null && request.auth.uid == uid;
    }
  }
}
"""


@asynccontextmanager
async def _client(
    tls: FirestoreTls, project: str, credentials: BaseCredentials
) -> AsyncIterator[firestore.AsyncClient]:
    """A client built as for production, its channel closed afterwards."""
    client = firestore.AsyncClient(
        project=project, credentials=credentials, client_options={"api_endpoint": tls.endpoint}
    )
    try:
        yield client
    finally:
        transport = getattr(client, "_transport", None)
        if transport is not None:
            await transport.close()


def _load_rules(tls: FirestoreTls, project: str, rules: str) -> None:
    """Rules for ``project`` alone (the emulator's ``--rules`` file applies to the others)."""
    reply = httpx.put(
        f"http://{tls.emulator.host_port}/emulator/v1/projects/{project}:securityRules",
        json={"rules": {"files": [{"name": "firestore.rules", "content": rules}]}},
        timeout=10,
    )
    reply.raise_for_status()
    assert not reply.json().get("issues"), reply.text


@pytest.fixture
def project() -> str:
    """A project of the rules emulator for this test alone."""
    return unique_project_id("rules")


@pytest.fixture
def user(auth_emulator: AuthEmulator) -> TestUser:
    """A signed-up user of the Auth emulator."""
    return auth_emulator.sign_up(unique_email(), "correct horse battery")


@pytest_asyncio.fixture
async def signed_in(
    signed_in_firestore: FirestoreTls, project: str, user: TestUser
) -> AsyncIterator[firestore.AsyncClient]:
    """A client that is ``user``, over TLS, as in production."""
    async with _client(signed_in_firestore, project, Credentials(token=user.id_token)) as client:
        yield client


@pytest.mark.asyncio
async def test_a_signed_in_user_writes_and_reads_a_document(
    signed_in: firestore.AsyncClient,
    signed_in_firestore: FirestoreTls,
    project: str,
    user: TestUser,
) -> None:
    _load_rules(signed_in_firestore, project, OWNER_ONLY_RULES)
    document = signed_in.document(f"people/{user.uid}/notes/first")

    await document.set({"author": user.uid}, timeout=10)
    snapshot = await document.get(timeout=10)

    assert snapshot.to_dict() == {"author": user.uid}


@pytest.mark.asyncio
async def test_a_client_without_credentials_is_denied(
    signed_in_firestore: FirestoreTls, project: str
) -> None:
    async with _client(signed_in_firestore, project, AnonymousCredentials()) as client:
        with pytest.raises(PermissionDenied):
            await client.collection("notes").document("first").get(timeout=10)


def test_the_rest_api_without_a_token_is_denied_through_the_front(
    signed_in_firestore: FirestoreTls, project: str
) -> None:
    reply = httpx.get(
        f"{signed_in_firestore.rest_url}/projects/{project}/databases/(default)/documents/notes/x",
        verify=ssl.create_default_context(cafile=signed_in_firestore.ca_file),
        timeout=10,
    )

    assert reply.status_code == 403
    assert reply.json()["error"]["status"] == "PERMISSION_DENIED"


def test_the_front_negotiates_h2_for_grpc_and_http_1_1_for_rest(
    signed_in_firestore: FirestoreTls,
) -> None:
    context = ssl.create_default_context(cafile=str(signed_in_firestore.ca_file))
    offered = {}
    for protocols in (["h2", "http/1.1"], ["http/1.1"]):
        context.set_alpn_protocols(protocols)
        with (
            socket.create_connection(("127.0.0.1", signed_in_firestore.front.port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            offered[protocols[0]] = tls.selected_alpn_protocol()

    assert offered == {"h2": "h2", "http/1.1": "http/1.1"}


@pytest.mark.asyncio
async def test_rules_see_the_token_s_uid(
    signed_in_firestore: FirestoreTls,
    project: str,
    auth_emulator: AuthEmulator,
    user: TestUser,
) -> None:
    _load_rules(signed_in_firestore, project, OWNER_ONLY_RULES)
    other = auth_emulator.sign_up(unique_email(), "correct horse battery")
    async with (
        _client(signed_in_firestore, project, Credentials(token=user.id_token)) as mine,
        _client(signed_in_firestore, project, Credentials(token=other.id_token)) as theirs,
    ):
        await mine.document(f"people/{user.uid}/notes/a").set({"n": 1}, timeout=10)
        with pytest.raises(PermissionDenied):
            await theirs.document(f"people/{user.uid}/notes/a").get(timeout=10)
        with pytest.raises(PermissionDenied):
            await mine.document(f"people/{other.uid}/notes/a").set({"n": 2}, timeout=10)


@pytest.mark.asyncio
async def test_rules_see_custom_claims(
    signed_in_firestore: FirestoreTls,
    project: str,
    auth_emulator: AuthEmulator,
    user: TestUser,
) -> None:
    _load_rules(
        signed_in_firestore,
        project,
        OWNER_ONLY_RULES.replace(
            "request.auth.uid == uid", "request.auth.token.get('admin', false) == true"
        ),
    )
    admin = auth_emulator.set_claims(user, {"admin": True})
    plain = auth_emulator.sign_up(unique_email(), "correct horse battery")
    async with (
        _client(signed_in_firestore, project, Credentials(token=admin.id_token)) as as_admin,
        _client(signed_in_firestore, project, Credentials(token=plain.id_token)) as as_plain,
    ):
        await as_admin.document("people/anyone/notes/a").set({"n": 1}, timeout=10)
        with pytest.raises(PermissionDenied):
            await as_plain.document("people/anyone/notes/a").get(timeout=10)


@pytest.mark.asyncio
async def test_the_sign_in_s_credentials_reach_firestore_and_renew_themselves(
    signed_in_firestore: FirestoreTls, project: str, auth_emulator: AuthEmulator
) -> None:
    auth = FirebaseAuth(
        AuthSettings.for_emulator(auth_emulator.host, project_id=auth_emulator.project_id),
        SecretStore(MemoryKeyring()),
    )
    session = await auth.sign_up(unique_email(), "correct horse battery")
    credentials = auth.credentials()
    # As if the token were about to expire: google-auth renews it before the next call.
    credentials.expiry = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    await asyncio.sleep(1.1)  # the emulator's tokens differ only by their second of issue

    async with _client(signed_in_firestore, project, credentials) as client:
        # The shipped rules: the user's own settings, below their record.
        document = client.document(f"users/{session.uid}/settings/renewed")
        await document.set({"by": session.uid}, timeout=10)
        snapshot = await document.get(timeout=10)

    assert snapshot.to_dict() == {"by": session.uid}
    assert credentials.token != session.id_token
    assert auth.session is not None
    assert auth.session.id_token == credentials.token
    await auth.aclose()
