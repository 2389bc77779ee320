"""The account: which API key is used, where it is kept, and who the user is.

Against a real Secret Service (gnome-keyring on a private bus), the real openai client talking
to a loopback server that accepts exactly one key, and a real SQLite file; keyring's own
``fail.Keyring`` stands in for a machine without any keyring.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from keyring.backends import SecretService, fail

from gptlab_desktop.config import AiEndpoint
from gptlab_desktop.services.account import (
    LOCAL_USER_HASH,
    Account,
    KeyLocation,
)
from gptlab_desktop.services.errors import (
    InvalidApiKey,
    LlmTimeout,
    ServerUnreachable,
)
from gptlab_desktop.services.identity import user_hash
from gptlab_desktop.services.secrets import SecretStore
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.fakes.keyring_daemon import SecretServiceDaemon
from tests.fakes.openai_server import ErrorReply, FakeOpenAIServer, unused_loopback_url

GOOD_KEY = "sk-test-GoodKey4c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"
NEW_KEY = "sk-test-NewKey0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b"
WRONG_KEY = "sk-test-WrongKey99999999999999999999999999999999"
ENV_KEY = "sk-test-EnvKey77777777777777777777777777777777777"

pytestmark = pytest.mark.asyncio
keyring_daemon = pytest.mark.keyring_daemon


@pytest_asyncio.fixture
async def store(data_dir: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(data_dir / "gptlab.sqlite3")
    assert (await store.open()).is_usable
    yield store
    await store.close()


@pytest.fixture
def server(openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """The loopback server, accepting GOOD_KEY only (others get OpenAI's 401)."""
    openai_server.api_key = GOOD_KEY
    return openai_server


def keyring_account(store: SqliteStore, env_key: str | None = None) -> Account:
    """An account on the real Secret Service, as on a desktop with a keyring."""
    return Account(SecretStore(SecretService.Keyring()), store, AiEndpoint(env_api_key=env_key))


def memory_account(store: SqliteStore, env_key: str | None = None) -> Account:
    """An account on a machine without any keyring."""
    return Account(SecretStore(fail.Keyring()), store, AiEndpoint(env_api_key=env_key))


# -- saving a key ------------------------------------------------------------------------------


@keyring_daemon
async def test_a_key_the_server_accepts_is_saved_in_the_keyring(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = keyring_account(store)
    await account.load()

    state = await account.verify_and_save(GOOD_KEY, server.base_url)

    assert secret_service.stored_secrets() == [GOOD_KEY]
    assert state.location is KeyLocation.KEYRING
    assert state.api_key is not None and state.api_key.value == GOOD_KEY


@keyring_daemon
async def test_the_key_is_checked_against_the_server_before_it_is_saved(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = keyring_account(store)

    await account.verify_and_save(GOOD_KEY, server.base_url)

    [check] = server.requests_to("models")
    assert check.headers["authorization"] == f"Bearer {GOOD_KEY}"


@keyring_daemon
async def test_a_key_the_server_refuses_is_not_saved(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = keyring_account(store)
    await account.load()

    with pytest.raises(InvalidApiKey) as refused:
        await account.verify_and_save(WRONG_KEY, server.base_url)

    assert secret_service.stored_secrets() == []
    assert account.api_key is None
    assert WRONG_KEY not in str(refused.value)


@keyring_daemon
async def test_a_refused_key_leaves_the_working_key_in_place(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = keyring_account(store)
    await account.verify_and_save(GOOD_KEY, server.base_url)

    with pytest.raises(InvalidApiKey):
        await account.verify_and_save(WRONG_KEY, server.base_url)

    assert secret_service.stored_secrets() == [GOOD_KEY]
    assert account.api_key is not None and account.api_key.value == GOOD_KEY


async def test_a_key_cannot_be_saved_while_the_server_is_unreachable(store: SqliteStore) -> None:
    account = memory_account(store)

    with pytest.raises(ServerUnreachable):
        await account.verify_and_save(GOOD_KEY, unused_loopback_url())

    assert account.api_key is None


async def test_a_server_that_does_not_answer_in_time_saves_nothing(
    store: SqliteStore, server: FakeOpenAIServer
) -> None:
    server.script(ErrorReply(500, delay_s=10), endpoint="models")
    account = Account(SecretStore(fail.Keyring()), store, check_timeout_s=0.5)

    with pytest.raises(LlmTimeout):
        await account.verify_and_save(GOOD_KEY, server.base_url)

    assert account.api_key is None


async def test_an_empty_key_is_refused_without_asking_the_server(
    store: SqliteStore, server: FakeOpenAIServer
) -> None:
    with pytest.raises(ValueError):
        await memory_account(store).verify_and_save("   ", server.base_url)

    assert server.requests == []


async def test_surrounding_whitespace_of_a_pasted_key_is_dropped(
    store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = memory_account(store)

    await account.verify_and_save(f"  {GOOD_KEY}\n", server.base_url)

    assert account.api_key is not None and account.api_key.value == GOOD_KEY


async def test_cancelling_during_the_check_saves_nothing(
    store: SqliteStore, server: FakeOpenAIServer
) -> None:
    server.script(ErrorReply(500, delay_s=10), endpoint="models")
    account = memory_account(store)
    saving = asyncio.ensure_future(account.verify_and_save(GOOD_KEY, server.base_url))
    while not server.requests_to("models"):
        await asyncio.sleep(0.01)

    saving.cancel()

    with pytest.raises(asyncio.CancelledError):
        await saving
    assert account.api_key is None


@keyring_daemon
async def test_a_saved_key_is_found_on_the_next_start(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    await keyring_account(store).verify_and_save(GOOD_KEY, server.base_url)

    state = await keyring_account(store).load()

    assert state.location is KeyLocation.KEYRING
    assert state.api_key is not None and state.api_key.value == GOOD_KEY


# -- the environment's key ---------------------------------------------------------------------


@keyring_daemon
async def test_the_environment_key_is_used_and_not_copied_into_the_keyring(
    secret_service: SecretServiceDaemon, store: SqliteStore
) -> None:
    account = keyring_account(store, ENV_KEY)

    state = await account.load()

    assert state.location is KeyLocation.ENVIRONMENT
    assert state.api_key is not None and state.api_key.value == ENV_KEY
    assert state.api_key.from_environment
    assert secret_service.stored_secrets() == []


@keyring_daemon
async def test_the_environment_key_wins_over_a_saved_key(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    await keyring_account(store).verify_and_save(GOOD_KEY, server.base_url)

    state = await keyring_account(store, ENV_KEY).load()

    assert state.api_key is not None and state.api_key.value == ENV_KEY
    assert state.has_saved_key


# -- removing ----------------------------------------------------------------------------------


@keyring_daemon
async def test_remove_deletes_the_key_from_the_keyring(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = keyring_account(store)
    await account.verify_and_save(GOOD_KEY, server.base_url)

    state = await account.remove()

    assert secret_service.stored_secrets() == []
    assert state.location is KeyLocation.NONE
    assert (await keyring_account(store).load()).api_key is None


@keyring_daemon
async def test_after_removing_the_saved_key_the_environment_key_still_applies(
    secret_service: SecretServiceDaemon, store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = keyring_account(store, ENV_KEY)
    await account.verify_and_save(GOOD_KEY, server.base_url)

    state = await account.remove()

    assert state.location is KeyLocation.ENVIRONMENT
    assert not state.has_saved_key


# -- no keyring --------------------------------------------------------------------------------


async def test_without_a_keyring_the_key_is_kept_in_memory_and_the_state_says_so(
    store: SqliteStore, server: FakeOpenAIServer
) -> None:
    account = memory_account(store)
    await account.load()

    state = await account.verify_and_save(GOOD_KEY, server.base_url)

    assert state.location is KeyLocation.MEMORY
    assert not state.keyring.is_available
    assert "kept in memory for this run only" in state.keyring.reason


async def test_without_a_keyring_the_key_is_gone_on_the_next_start(
    store: SqliteStore, server: FakeOpenAIServer
) -> None:
    await memory_account(store).verify_and_save(GOOD_KEY, server.base_url)

    state = await memory_account(store).load()

    assert state.api_key is None
    assert state.location is KeyLocation.NONE


# -- identity ----------------------------------------------------------------------------------


async def test_the_user_hash_is_the_hash_of_the_key_in_use(store: SqliteStore) -> None:
    account = memory_account(store, ENV_KEY)

    assert await account.user_hash() == user_hash(ENV_KEY)


async def test_without_a_key_the_user_is_the_store_s_local_user_with_no_hash(
    store: SqliteStore,
) -> None:
    account = memory_account(store)
    await account.load()

    user = await account.current_user()

    assert await account.user_hash() == LOCAL_USER_HASH
    assert user == await store.local_user()
    assert user.user_hash is None


async def test_an_openai_key_s_hash_is_recorded_on_the_same_local_user(
    store: SqliteStore,
) -> None:
    before = await store.local_user()

    user = await memory_account(store, ENV_KEY).current_user()

    assert user.id == before.id
    assert user.user_hash == user_hash(ENV_KEY)


async def test_a_key_for_a_compatible_server_records_no_hash(store: SqliteStore) -> None:
    endpoint = AiEndpoint(base_url="http://127.0.0.1:9/v1", env_api_key=ENV_KEY)
    account = Account(SecretStore(fail.Keyring()), store, endpoint)

    user = await account.current_user()

    assert user == await store.local_user()
    assert user.user_hash is None


async def test_the_local_user_can_never_be_a_key_holder(store: SqliteStore) -> None:
    # A real hash is 64 hex digits; the local identity is not hex, so no key can produce it.
    with pytest.raises(ValueError):
        bytes.fromhex(LOCAL_USER_HASH)


@pytest.mark.parametrize("placeholder", ["EMPTY", "ollama", "lm-studio", "sk-short"])
async def test_a_placeholder_key_records_no_hash_even_with_openais_api(
    store: SqliteStore, placeholder: str
) -> None:
    user = await memory_account(store, placeholder).current_user()

    assert user == await store.local_user()
    assert user.user_hash is None


async def test_the_same_key_is_the_same_user_on_the_next_start(store: SqliteStore) -> None:
    first = await memory_account(store, ENV_KEY).current_user()

    again = await memory_account(store, ENV_KEY).current_user()

    assert again.id == first.id


# -- nothing leaks -----------------------------------------------------------------------------


async def test_no_repr_shows_the_key(store: SqliteStore, server: FakeOpenAIServer) -> None:
    account = memory_account(store)
    state = await account.verify_and_save(GOOD_KEY, server.base_url)

    shown = " ".join([repr(account), repr(state), str(state)])

    assert GOOD_KEY not in shown


async def test_no_log_line_mentions_the_key(
    store: SqliteStore, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    account = memory_account(store)
    with pytest.raises(InvalidApiKey):
        await account.verify_and_save(WRONG_KEY, server.base_url)
    await account.verify_and_save(GOOD_KEY, server.base_url)
    await account.current_user()
    await account.replace(NEW_KEY)
    await account.remove()

    assert caplog.records
    for key in (GOOD_KEY, WRONG_KEY, NEW_KEY):
        assert key not in caplog.text
