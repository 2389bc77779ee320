"""A signed-in member's credentials for Firestore, and their renewal after a rejection: against
the real Auth emulator (a disabled account's renewal refuses the write, with words to read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from google.api_core import exceptions as google_errors

from gptlab_desktop.services.auth import AuthSettings, FirebaseAuth
from gptlab_desktop.services.cloud_credentials import signed_in_credentials
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.errors import CloudRefused
from gptlab_desktop.services.secrets import SecretStore
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from tests.fakes.auth_emulator import AuthEmulator, unique_email
from tests.fakes.memory_keyring import MemoryKeyring

pytestmark = [pytest.mark.auth_emulator, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def auth(auth_emulator: AuthEmulator) -> AsyncIterator[FirebaseAuth]:
    signed_in = FirebaseAuth(
        AuthSettings.for_emulator(auth_emulator.host, project_id=auth_emulator.project_id),
        SecretStore(MemoryKeyring()),
    )
    await signed_in.sign_up(unique_email(), "correct horse battery")
    yield signed_in
    await signed_in.aclose()


async def test_a_renewal_gives_the_clients_credentials_the_new_token(
    auth: FirebaseAuth,
) -> None:
    lost: list[str] = []
    credentials, renew = signed_in_credentials(auth, on_sign_in_lost=lost.append)
    first = credentials.token
    await asyncio.sleep(1.1)  # the emulator's tokens differ only by their second of issue

    await renew()

    assert credentials.token != first
    assert auth.session is not None and credentials.token == auth.session.id_token
    assert not credentials.expired and lost == []


async def test_a_disabled_accounts_renewal_refuses_the_write_in_words(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    lost: list[str] = []
    _credentials, renew = signed_in_credentials(auth, on_sign_in_lost=lost.append)
    assert auth.session is not None
    auth_emulator.disable(auth.session.uid)

    with pytest.raises(CloudRefused, match=r"sign-in is no longer accepted.*Sign in again"):
        await renew()
    assert len(lost) == 1 and "disabled" in lost[0]


async def test_a_rejected_call_renews_once_and_is_tried_again(auth: FirebaseAuth) -> None:
    # The emulator never answers UNAUTHENTICATED (it verifies no token), so the rejection is
    # made here; the renewal is the real one, against the Auth emulator.
    credentials, renew = signed_in_credentials(auth, on_sign_in_lost=lambda _: None)
    renewals = 0

    async def counting_renew() -> None:
        nonlocal renewals
        renewals += 1
        await renew()

    store = FirestoreStore(
        FirestoreSettings("demo-x", credentials=credentials, refresh_credentials=counting_renew),
        RecordCipher(DataKey.generate(), "u"),
    )
    calls = 0

    async def rejected_once() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise google_errors.Unauthenticated("token expired")
        return "done"

    assert await store._call(rejected_once) == "done"
    assert (calls, renewals) == (2, 1)
