"""Named secrets (the API key, Firestore credentials) kept in the OS keyring, and only there.

Every secret lives in the system keyring (the Secret Service on Linux, the Keychain on macOS,
the Credential Manager on Windows) under the service name ``gptlab-desktop``. When no usable
keyring exists — none is running, it is locked and cannot ask to be unlocked, it fails, or the
only one on offer writes secrets to a file — the store keeps secrets in memory for this run and
says so through ``SecretStore.status``. It never writes a secret to a file of its own.

Keyring calls block (D-Bus round trips, sometimes an unlock prompt), so the public methods are
coroutines that run them on a worker thread: the Qt event loop never waits for the keyring.
Secret values appear in no log line, no ``repr`` and no exception message.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from gptlab_desktop.services.aio import run_blocking

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SERVICE_NAME = "gptlab-desktop"
DEFAULT_TIMEOUT_S = 10.0

# Said after every reason the keyring cannot be used, so the user knows what happens instead.
_IN_MEMORY = "Your API key will be kept in memory for this run only."


class SecretName(StrEnum):
    """The secrets the app keeps; the value is the keyring entry's user name."""

    OPENAI_API_KEY = "openai_api_key"
    FIRESTORE_CREDENTIALS = "firestore_credentials"
    # The secret keys of the sync secrets (services/vault.py), by user id, as JSON.
    SYNC_SECRET = "sync_secret"
    # The saved Firebase sign-ins of shared projects (services/auth.py), by project id, as JSON.
    FIREBASE_SIGN_IN = "firebase_sign_in"
    # The API keys of provider profiles other than the built-in OpenAI one
    # (services/provider_keys.py), by profile id, as JSON.
    PROVIDER_API_KEYS = "provider_api_keys"


class KeyringState(StrEnum):
    """Whether secrets reach the OS keyring."""

    NOT_CHECKED = "not_checked"
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class KeyringStatus:
    """Where secrets go this run; ``reason`` is a sentence for the user when not the keyring."""

    state: KeyringState
    reason: str = ""
    backend: str = ""

    @property
    def is_available(self) -> bool:
        """True when secrets are stored in (and read from) the OS keyring."""
        return self.state is KeyringState.AVAILABLE


class SecretStore:
    """Get, set and delete named secrets in the OS keyring, or in memory when it is unusable.

    ``backend`` is a keyring backend object; by default the one ``keyring`` picks for this
    system, looked up on first use (the lookup itself talks to D-Bus). Operations that have not
    finished after ``timeout_s`` (a keyring waiting on an unlock prompt nobody can see) give up
    on the keyring for the rest of the run.
    """

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        service: str = SERVICE_NAME,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._service = service
        self._timeout_s = timeout_s
        self._given_backend = backend
        self._backend: KeyringBackend | None = None
        self._status = KeyringStatus(KeyringState.NOT_CHECKED)
        self._memory: dict[SecretName, str] = {}
        # One keyring call at a time: D-Bus connections are not shared safely across threads,
        # and the switch to memory must not race a call still in flight.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretStore(service={self._service!r}, status={self._status.state.value})"

    @property
    def status(self) -> KeyringStatus:
        """Where secrets go: the keyring, memory (with the reason), or not yet checked."""
        return self._status

    @property
    def is_memory_only(self) -> bool:
        """True once the keyring has been given up for this run."""
        return self._status.state is KeyringState.UNAVAILABLE

    # -- the async API ------------------------------------------------------------------------

    async def check(self) -> KeyringStatus:
        """Find the keyring and read from it once, so ``status`` is known before a secret is."""
        await self._call(self._check_blocking)
        return self._status

    async def get(self, name: SecretName) -> str | None:
        """The secret called ``name``, or None when none is stored."""
        name = _secret_name(name)
        return await self._call(self._get_blocking, name)

    async def set(self, name: SecretName, value: str) -> None:
        """Store ``value`` as the secret called ``name``, replacing any previous one."""
        name = _secret_name(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"The secret {name.value} must be a non-empty string.")
        await self._call(self._set_blocking, name, value)

    async def delete(self, name: SecretName) -> None:
        """Forget the secret called ``name``; nothing happens when none is stored."""
        name = _secret_name(name)
        await self._call(self._delete_blocking, name)

    async def _call(self, fn: Callable[..., str | None], *args: SecretName | str) -> str | None:
        if self.is_memory_only:
            return fn(*args)
        try:
            return await asyncio.wait_for(run_blocking(fn, *args), self._timeout_s)
        except TimeoutError:
            # The worker thread may stay stuck in the backend; from now on nothing waits for it.
            self._give_up(
                f"The system keyring did not answer within {self._timeout_s:g} s "
                f"(it may be waiting to be unlocked). {_IN_MEMORY}",
                cause="timeout",
            )
            return fn(*args)

    # -- the blocking operations (on a worker thread) ------------------------------------------

    # Each first checks for memory-only without the lock: after a timeout, the stuck worker
    # thread still holds it.

    def _check_blocking(self) -> None:
        if self.is_memory_only:
            return
        with self._lock:
            backend = self._usable_backend()
            if backend is None:
                return
            try:
                # Reading an entry that never exists still unlocks the collection, which is
                # where a locked keyring without a prompt fails.
                backend.get_password(self._service, "__gptlab_desktop_check__")
            except _backend_errors() as exc:
                self._give_up(_reason_for_error(exc), cause=type(exc).__name__)

    def _get_blocking(self, name: SecretName) -> str | None:
        if self.is_memory_only:
            return self._memory.get(name)
        with self._lock:
            backend = self._usable_backend()
            if backend is not None:
                try:
                    return backend.get_password(self._service, name.value)
                except _backend_errors() as exc:
                    self._give_up(_reason_for_error(exc), cause=type(exc).__name__)
            return self._memory.get(name)

    def _set_blocking(self, name: SecretName, value: str) -> None:
        if not self.is_memory_only:
            with self._lock:
                backend = self._usable_backend()
                if backend is not None:
                    try:
                        backend.set_password(self._service, name.value, value)
                        log.info("Stored the secret %s in the system keyring", name.value)
                        return
                    except _backend_errors() as exc:
                        self._give_up(_reason_for_error(exc), cause=type(exc).__name__)
        self._memory[name] = value
        log.info("Kept the secret %s in memory for this run", name.value)

    def _delete_blocking(self, name: SecretName) -> None:
        from keyring.errors import PasswordDeleteError

        self._memory.pop(name, None)
        if self.is_memory_only:
            return
        with self._lock:
            backend = self._usable_backend()
            if backend is not None:
                try:
                    backend.delete_password(self._service, name.value)
                    log.info("Deleted the secret %s from the system keyring", name.value)
                except PasswordDeleteError:
                    pass  # nothing was stored: deleting is idempotent
                except _backend_errors() as exc:
                    self._give_up(_reason_for_error(exc), cause=type(exc).__name__)

    # -- choosing the backend -----------------------------------------------------------------

    def _usable_backend(self) -> KeyringBackend | None:
        """The backend to use, or None once secrets live in memory (called under the lock)."""
        if self.is_memory_only:
            return None
        if self._backend is None:
            backend = self._given_backend
            if backend is None:
                import keyring

                backend = keyring.get_keyring()
            chosen, reason = _acceptable(backend)
            if chosen is None:
                self._give_up(reason, cause=_backend_name(backend))
                return None
            self._backend = chosen
            self._status = KeyringStatus(KeyringState.AVAILABLE, backend=_backend_name(chosen))
            log.info("Secrets are stored in the system keyring (%s)", self._status.backend)
        return self._backend

    def _give_up(self, reason: str, *, cause: str) -> None:
        """Keep secrets in memory for the rest of the run, and say why."""
        if self.is_memory_only:
            return
        self._status = KeyringStatus(KeyringState.UNAVAILABLE, reason=reason)
        log.warning("System keyring not used (%s): %s", cause, reason)


def _secret_name(name: SecretName) -> SecretName:
    """``name`` as a ``SecretName``; the error never echoes it (it might be a misplaced value)."""
    try:
        return SecretName(name)
    except ValueError:
        raise ValueError("Unknown secret name.") from None


def _backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _stores_in_a_file(backend: object) -> bool:
    # keyrings.alt's backends (PlaintextKeyring, EncryptedKeyring, …) are "less secure"
    # alternatives, and any backend that keeps a file (``file_path``) is the plaintext fallback
    # this store promises never to use.
    module = type(backend).__module__
    return (
        module == "keyrings.alt"
        or module.startswith("keyrings.alt.")
        or hasattr(backend, "file_path")
        or "plaintext" in type(backend).__name__.lower()
    )


def _acceptable(backend: KeyringBackend) -> tuple[KeyringBackend | None, str]:
    """The backend itself, the best acceptable backend it chains, or None and the reason."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring):
        return None, f"No system keyring is available (no Secret Service is running). {_IN_MEMORY}"
    if isinstance(backend, null.Keyring):
        return None, f"The system keyring is turned off in the keyring settings. {_IN_MEMORY}"
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        good = [each for each in chained if _acceptable(each)[0] is not None]
        if not good:
            return None, f"No usable system keyring was found. {_IN_MEMORY}"
        # Chaining would fall through to an unacceptable backend on a failure; use the best
        # acceptable one alone instead (``backends`` is sorted by priority, highest first).
        return (backend if len(good) == len(chained) else good[0]), ""
    if _stores_in_a_file(backend):
        return None, (
            "The only keyring available stores secrets in a plain file, which GPT Lab Desktop "
            f"does not use. {_IN_MEMORY}"
        )
    return backend, ""


def _backend_errors() -> tuple[type[BaseException], ...]:
    """What a keyring backend raises when it cannot work (keyring's, D-Bus's and the OS's)."""
    from keyring.errors import KeyringError

    errors: list[type[BaseException]] = [KeyringError, OSError]
    try:  # Linux only: the Secret Service stack
        from jeepney.wrappers import DBusErrorResponse
        from secretstorage.exceptions import SecretStorageException
    except ImportError:
        pass
    else:
        errors += [SecretStorageException, DBusErrorResponse]
    return tuple(errors)


def _reason_for_error(exc: BaseException) -> str:
    """A sentence for the user about a failing keyring.

    The backend's own message is not repeated (here or in the log): it may quote what it was
    given, and that can be the secret.
    """
    from keyring.errors import KeyringLocked

    if isinstance(exc, KeyringLocked):
        return (
            "The system keyring is locked and could not be unlocked (no unlock prompt could be "
            f"shown). {_IN_MEMORY}"
        )
    return f"The system keyring failed ({type(exc).__name__}). {_IN_MEMORY}"


@dataclass(frozen=True, slots=True, repr=False)
class ApiKey:
    """An API key and where it came from; its ``repr`` never shows the key."""

    value: str
    from_environment: bool

    def __repr__(self) -> str:
        return f"ApiKey(from_environment={self.from_environment}, value=<hidden>)"


class ApiKeySource:
    """The OpenAI API key: ``OPENAI_API_KEY`` from the environment when set, else the keyring.

    A key from the environment is never copied into the keyring; only ``save`` stores a key.
    """

    def __init__(self, store: SecretStore, *, env_key: str | None = None) -> None:
        self._store = store
        # OPENAI_API_KEY as configuration resolved it (``config.py``); blank counts as unset.
        cleaned = env_key.strip() if env_key else ""
        self._env_key = ApiKey(cleaned, from_environment=True) if cleaned else None

    def __repr__(self) -> str:
        return f"ApiKeySource(from_environment={self._env_key is not None}, store={self._store!r})"

    def environment_key(self) -> ApiKey | None:
        """The key the environment gives (``OPENAI_API_KEY``), if any."""
        return self._env_key

    async def load(self) -> ApiKey | None:
        """The key to use: the environment's, else the keyring's, else None."""
        from_env = self.environment_key()
        if from_env is not None:
            return from_env
        stored = await self._store.get(SecretName.OPENAI_API_KEY)
        return ApiKey(stored, from_environment=False) if stored else None

    async def save(self, value: str) -> None:
        """Remember ``value`` in the keyring (an explicit choice, e.g. from the key dialog)."""
        await self._store.set(SecretName.OPENAI_API_KEY, value.strip())

    async def forget(self) -> None:
        """Remove the stored key (the environment's, if set, still applies)."""
        await self._store.delete(SecretName.OPENAI_API_KEY)
