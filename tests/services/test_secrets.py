"""The secret store: the OS keyring (a real Secret Service here), or memory, never a file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, chainer, fail, null
from keyring.errors import KeyringError

from gptlab_desktop.services.secrets import (
    SERVICE_NAME,
    ApiKey,
    ApiKeySource,
    KeyringState,
    SecretName,
    SecretStore,
)
from tests.fakes.keyring_daemon import SecretServiceDaemon

API_KEY = "sk-test-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b"
OTHER_KEY = "sk-test-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"

keyring_daemon = pytest.mark.keyring_daemon


def secret_service_store() -> SecretStore:
    """A store on the real Secret Service backend, chosen explicitly (not by keyring's guess)."""
    return SecretStore(SecretService.Keyring())


# -- the real Secret Service ---------------------------------------------------------------------


@keyring_daemon
@pytest.mark.asyncio
async def test_a_stored_secret_reads_back_from_the_secret_service(
    secret_service: SecretServiceDaemon,
) -> None:
    await secret_service_store().set(SecretName.OPENAI_API_KEY, API_KEY)

    # A new store (as on the next start of the app) finds it in the keyring, not in memory.
    assert await secret_service_store().get(SecretName.OPENAI_API_KEY) == API_KEY


@keyring_daemon
@pytest.mark.asyncio
async def test_secrets_are_stored_under_the_gptlab_desktop_service_name(
    secret_service: SecretServiceDaemon,
) -> None:
    await secret_service_store().set(SecretName.OPENAI_API_KEY, API_KEY)

    [attributes] = secret_service.stored_attributes()
    assert attributes["service"] == SERVICE_NAME == "gptlab-desktop"
    assert attributes["username"] == SecretName.OPENAI_API_KEY.value


@keyring_daemon
@pytest.mark.asyncio
async def test_setting_a_secret_again_replaces_it(secret_service: SecretServiceDaemon) -> None:
    store = secret_service_store()
    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    await store.set(SecretName.OPENAI_API_KEY, OTHER_KEY)

    assert await store.get(SecretName.OPENAI_API_KEY) == OTHER_KEY
    assert secret_service.stored_secrets() == [OTHER_KEY]


@keyring_daemon
@pytest.mark.asyncio
async def test_deleting_a_secret_removes_it_from_the_keyring(
    secret_service: SecretServiceDaemon,
) -> None:
    store = secret_service_store()
    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    await store.delete(SecretName.OPENAI_API_KEY)

    assert await store.get(SecretName.OPENAI_API_KEY) is None
    assert secret_service.stored_attributes() == []


@keyring_daemon
@pytest.mark.asyncio
async def test_deleting_a_secret_that_was_never_stored_is_not_an_error(
    secret_service: SecretServiceDaemon,
) -> None:
    store = secret_service_store()

    await store.delete(SecretName.FIRESTORE_CREDENTIALS)

    assert store.status.is_available


@keyring_daemon
@pytest.mark.asyncio
async def test_each_name_is_a_separate_secret(secret_service: SecretServiceDaemon) -> None:
    store = secret_service_store()
    await store.set(SecretName.OPENAI_API_KEY, API_KEY)
    await store.set(SecretName.FIRESTORE_CREDENTIALS, '{"type": "service_account"}')

    await store.delete(SecretName.FIRESTORE_CREDENTIALS)

    assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY
    assert await store.get(SecretName.FIRESTORE_CREDENTIALS) is None


@keyring_daemon
@pytest.mark.asyncio
async def test_status_is_available_once_checked_against_a_running_secret_service(
    secret_service: SecretServiceDaemon,
) -> None:
    store = secret_service_store()
    assert store.status.state is KeyringState.NOT_CHECKED

    status = await store.check()

    assert status.is_available
    assert status.reason == ""
    assert status.backend == "keyring.backends.SecretService.Keyring"


@pytest.fixture
def locked_secret_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretServiceDaemon]:
    """A Secret Service of its own whose login keyring is locked, with no way to prompt."""
    daemon = SecretServiceDaemon(tmp_path / "locked")
    daemon.start()
    try:
        daemon.lock_default_collection()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", daemon.address)
        yield daemon
    finally:
        daemon.stop()


@keyring_daemon
@pytest.mark.asyncio
async def test_a_locked_keyring_that_cannot_prompt_leaves_secrets_in_memory(
    locked_secret_service: SecretServiceDaemon,
) -> None:
    store = secret_service_store()

    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    assert store.status.state is KeyringState.UNAVAILABLE
    assert "locked" in store.status.reason
    assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY


@keyring_daemon
@pytest.mark.asyncio
async def test_a_locked_keyring_is_reported_by_check(
    locked_secret_service: SecretServiceDaemon,
) -> None:
    status = await secret_service_store().check()

    assert not status.is_available
    assert "could not be unlocked" in status.reason


@pytest.mark.asyncio
async def test_an_unreachable_secret_service_leaves_secrets_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real backend, pointed at a bus socket where nothing listens: its D-Bus error is real.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    store = secret_service_store()

    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    assert store.status.state is KeyringState.UNAVAILABLE
    assert "memory for this run only" in store.status.reason
    assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY


# -- no usable keyring ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_no_keyring_at_all_keeps_secrets_in_memory_and_says_why() -> None:
    store = SecretStore(fail.Keyring())

    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY
    assert store.status.state is KeyringState.UNAVAILABLE
    assert store.status.reason == (
        "No system keyring is available (no Secret Service is running). "
        "Your API key will be kept in memory for this run only."
    )


@pytest.mark.asyncio
async def test_secrets_in_memory_are_gone_for_the_next_run() -> None:
    await SecretStore(fail.Keyring()).set(SecretName.OPENAI_API_KEY, API_KEY)

    assert await SecretStore(fail.Keyring()).get(SecretName.OPENAI_API_KEY) is None


@pytest.mark.asyncio
async def test_deleting_a_secret_kept_in_memory_forgets_it() -> None:
    store = SecretStore(fail.Keyring())
    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    await store.delete(SecretName.OPENAI_API_KEY)

    assert await store.get(SecretName.OPENAI_API_KEY) is None


@pytest.mark.asyncio
async def test_the_null_keyring_counts_as_no_keyring() -> None:
    status = await SecretStore(null.Keyring()).check()

    assert status.state is KeyringState.UNAVAILABLE
    assert "turned off" in status.reason


class _NoBackendsChainer(chainer.ChainerBackend):
    """keyring's chainer as it is built on a machine where no backend is viable.

    Its real ``backends`` depends on what this machine offers (and is cached per process), so
    the list is fixed to empty here.
    """

    backends: ClassVar[tuple[KeyringBackend, ...]] = ()  # type: ignore[misc]


@pytest.mark.asyncio
async def test_a_chainer_with_nothing_to_chain_counts_as_no_keyring() -> None:
    status = await SecretStore(_NoBackendsChainer()).check()

    assert status.state is KeyringState.UNAVAILABLE
    assert "No usable system keyring" in status.reason


class PlaintextKeyring(KeyringBackend):
    """A stand-in for keyrings.alt.file.PlaintextKeyring (keyrings.alt is not installed here).

    Same class name, module and ``file_path`` attribute, and it really writes secrets to that
    file, so the test can see that nothing was written.
    """

    priority = 0.5  # type: ignore[assignment]

    def __init__(self, file_path: Path) -> None:
        super().__init__()
        self.file_path = str(file_path)

    def get_password(self, service: str, username: str) -> str | None:
        path = Path(self.file_path)
        return path.read_text() if path.exists() else None

    def set_password(self, service: str, username: str, password: str) -> None:
        Path(self.file_path).write_text(password)

    def delete_password(self, service: str, username: str) -> None:
        Path(self.file_path).unlink(missing_ok=True)


PlaintextKeyring.__module__ = "keyrings.alt.file"


@pytest.mark.asyncio
async def test_a_plaintext_file_keyring_is_refused(tmp_path: Path) -> None:
    secrets_file = tmp_path / "keyring_pass.cfg"
    store = SecretStore(PlaintextKeyring(secrets_file))

    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    assert not secrets_file.exists()
    assert store.status.state is KeyringState.UNAVAILABLE
    assert "plain file" in store.status.reason
    assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY


class _FailingKeyring(KeyringBackend):
    """A backend whose every call fails, quoting what it was given (as a careless one might)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError(f"cannot read {service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError(f"cannot store {password!r}")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringError("cannot delete")


@pytest.mark.asyncio
async def test_a_failing_backend_switches_to_memory_for_the_rest_of_the_run() -> None:
    store = SecretStore(_FailingKeyring())

    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    assert store.status.state is KeyringState.UNAVAILABLE
    assert store.status.reason.startswith("The system keyring failed (KeyringError).")
    assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY


@pytest.mark.asyncio
async def test_a_backend_error_quoting_the_secret_is_not_repeated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store = SecretStore(_FailingKeyring())

    await store.set(SecretName.OPENAI_API_KEY, API_KEY)

    assert API_KEY not in store.status.reason
    assert API_KEY not in caplog.text


class _StuckKeyring(KeyringBackend):
    """A backend that never answers until released, like one waiting on an unseen prompt.

    A real unlock prompt needs a desktop session, which this machine does not have.
    """

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(10)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(10)

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait(10)


@pytest.mark.asyncio
async def test_a_keyring_that_does_not_answer_is_given_up_after_the_timeout() -> None:
    backend = _StuckKeyring()
    store = SecretStore(backend, timeout_s=0.2)
    try:
        await store.set(SecretName.OPENAI_API_KEY, API_KEY)

        assert store.status.state is KeyringState.UNAVAILABLE
        assert "did not answer within 0.2 s" in store.status.reason
        # Later calls go straight to memory, without waiting on the stuck thread again.
        assert await store.get(SecretName.OPENAI_API_KEY) == API_KEY
    finally:
        backend.release.set()


@pytest.mark.asyncio
async def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await SecretStore(fail.Keyring()).set(SecretName.OPENAI_API_KEY, "")


@pytest.mark.asyncio
async def test_an_unknown_secret_name_is_refused_without_echoing_it() -> None:
    # A value passed where the name belongs must not end up in an error message.
    with pytest.raises(ValueError, match="Unknown secret name") as caught:
        await SecretStore(fail.Keyring()).get(API_KEY)  # type: ignore[arg-type]

    assert API_KEY not in str(caught.value)


# -- the API key and the environment -------------------------------------------------------------


@keyring_daemon
@pytest.mark.asyncio
async def test_the_environment_key_wins_and_is_flagged_as_such(
    secret_service: SecretServiceDaemon,
) -> None:
    await secret_service_store().set(SecretName.OPENAI_API_KEY, OTHER_KEY)

    key = await ApiKeySource(secret_service_store(), env_key=API_KEY).load()

    assert key == ApiKey(API_KEY, from_environment=True)


@keyring_daemon
@pytest.mark.asyncio
async def test_the_environment_key_is_not_copied_into_the_keyring(
    secret_service: SecretServiceDaemon,
) -> None:
    await ApiKeySource(secret_service_store(), env_key=API_KEY).load()

    assert secret_service.stored_attributes() == []


@keyring_daemon
@pytest.mark.asyncio
async def test_without_an_environment_key_the_keyring_key_is_used(
    secret_service: SecretServiceDaemon,
) -> None:
    source = ApiKeySource(secret_service_store())
    await source.save(API_KEY)

    key = await ApiKeySource(secret_service_store()).load()

    assert key == ApiKey(API_KEY, from_environment=False)


@keyring_daemon
@pytest.mark.asyncio
async def test_saving_the_environment_key_explicitly_stores_it(
    secret_service: SecretServiceDaemon,
) -> None:
    source = ApiKeySource(secret_service_store(), env_key=API_KEY)
    key = await source.load()
    assert key is not None

    await source.save(key.value)

    assert secret_service.stored_secrets() == [API_KEY]


@pytest.mark.asyncio
async def test_a_blank_environment_variable_counts_as_unset() -> None:
    source = ApiKeySource(SecretStore(fail.Keyring()), env_key="  ")

    assert await source.load() is None


@keyring_daemon
@pytest.mark.asyncio
async def test_forgetting_the_key_removes_it_from_the_keyring(
    secret_service: SecretServiceDaemon,
) -> None:
    source = ApiKeySource(secret_service_store())
    await source.save(API_KEY)

    await source.forget()

    assert await source.load() is None


# -- secrets stay secret -------------------------------------------------------------------------


@keyring_daemon
@pytest.mark.asyncio
async def test_secret_values_never_reach_the_logs(
    secret_service: SecretServiceDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = secret_service_store()
    source = ApiKeySource(store)

    await source.save(API_KEY)
    await source.load()
    await store.delete(SecretName.OPENAI_API_KEY)

    assert "openai_api_key" in caplog.text  # the name is logged, so the log was captured
    assert API_KEY not in caplog.text


@pytest.mark.asyncio
async def test_secret_values_never_appear_in_reprs() -> None:
    store = SecretStore(fail.Keyring())
    source = ApiKeySource(store, env_key=API_KEY)
    key = await source.load()

    shown = " ".join(repr(each) for each in (store, source, key, store.status))

    assert "from_environment=True" in shown
    assert API_KEY not in shown
