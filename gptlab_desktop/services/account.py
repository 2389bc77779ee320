"""Who the user is and which API key the app uses: the one owner of the API key.

The key. ``OPENAI_API_KEY`` from the environment wins whenever it is set, and is never copied
into the keyring unasked. Otherwise the key is the one saved in the OS keyring (``SecretStore``)
— or, when no usable keyring exists, kept in memory for this run only, which the state says.
A key is saved only after the configured server has accepted it (``verify_and_save``), so a
typo never replaces a working key.

The data key is not here: it is the vault's (``services/vault.py``), opened by a sync secret
that never leaves the machine. The API key is sent to the AI provider with every request, so it
is never key material, and replacing or removing it changes nothing about encrypted history.

Identity. The user is the store's local user, a random id (``Store.local_user``), whatever the
key. While a real OpenAI key is in use its hash (``services/identity.py``) is recorded on that
user as GPT Lab's ``user_hash`` field, never used to find the user. ``user_hash`` gives
``LOCAL_USER_HASH`` without any key: it is not a hex string, so it can never equal a real key's
hash. The hash is recorded only for a key of OpenAI's kind used with OpenAI's API
(``identity.is_openai_key``): a compatible server's placeholder (``EMPTY``, ``ollama``) is no
identity worth GPT Lab's field.

Secrets stay secret: no key material appears in a log line, a ``repr`` or an exception message.
Qt-free; every blocking step (keyring, hashing, SQLite) runs off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from gptlab_desktop.config import API_KEY_ENV, AiEndpoint
from gptlab_desktop.models import User
from gptlab_desktop.services.errors import LlmTimeout
from gptlab_desktop.services.identity import is_openai_key, user_hash_async
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.secrets import (
    ApiKey,
    ApiKeySource,
    KeyringStatus,
    SecretName,
    SecretStore,
)
from gptlab_desktop.services.store.base import Store

log = logging.getLogger(__name__)

# The identity of the one local user when no API key is in use (see the module docstring).
LOCAL_USER_HASH = "local-user-without-api-key"
# How long a key check may take in all; a server that does not answer is not a verdict.
CHECK_TIMEOUT_S = 20.0
_CHECK_CONNECT_TIMEOUT_S = 10.0


class KeyLocation(StrEnum):
    """Where the API key in use comes from."""

    NONE = "none"
    ENVIRONMENT = "environment"
    KEYRING = "keyring"
    MEMORY = "memory"


@dataclass(frozen=True, slots=True)
class KeyState:
    """The API key in use, where it lives, and whether secrets reach the keyring this run.

    ``has_saved_key`` is True when a key is saved (keyring or memory), even while the
    environment's key overrides it: that saved key is what ``remove`` removes.
    """

    api_key: ApiKey | None
    location: KeyLocation
    keyring: KeyringStatus
    has_saved_key: bool = False

    @property
    def has_key(self) -> bool:
        """Whether any API key is in use."""
        return self.api_key is not None


class Account:
    """The current user's API key (environment, keyring or memory) and identity."""

    def __init__(
        self,
        secrets: SecretStore,
        store: Store,
        endpoint: AiEndpoint | None = None,
        *,
        check_timeout_s: float = CHECK_TIMEOUT_S,
        records_user_hash: bool = True,
    ) -> None:
        self._secrets = secrets
        self._store = store
        # False for an account of a shared project: its identity is the sign-in, and a key's
        # hash would only tell the team's project which key a user has.
        self._records_user_hash = records_user_hash
        # The AI server of this run and the environment's key (``config.resolve_ai_endpoint``).
        self.endpoint = endpoint or AiEndpoint()
        self._source = ApiKeySource(secrets, env_key=self.endpoint.env_api_key)
        self._check_timeout_s = check_timeout_s
        self._saved: ApiKey | None = None
        self._is_loaded = False
        self._user_hashes: dict[str, str] = {}
        self._commits: set[asyncio.Future[KeyState]] = set()
        # One change at a time: a save must not interleave with a removal.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Account(location={self.state.location.value}, loaded={self._is_loaded})"

    # -- the key --------------------------------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        """Whether ``load`` has run (before it, the state knows only the environment)."""
        return self._is_loaded

    @property
    def state(self) -> KeyState:
        """The key in use and where it lives, as last loaded or changed."""
        from_env = self._source.environment_key()
        status = self._secrets.status
        if from_env is not None:
            location, key = KeyLocation.ENVIRONMENT, from_env
        elif self._saved is not None:
            location = KeyLocation.KEYRING if status.is_available else KeyLocation.MEMORY
            key = self._saved
        else:
            location, key = KeyLocation.NONE, None
        return KeyState(key, location, status, has_saved_key=self._saved is not None)

    @property
    def api_key(self) -> ApiKey | None:
        """The key to use for requests, or None."""
        return self.state.api_key

    async def load(self) -> KeyState:
        """Find the keyring and read the saved key; the environment's key still wins."""
        await self._secrets.check()
        stored = await self._secrets.get(SecretName.OPENAI_API_KEY)
        self._saved = ApiKey(stored, from_environment=False) if stored else None
        self._is_loaded = True
        state = self.state
        log.info("API key: %s (keyring %s)", state.location.value, state.keyring.state.value)
        return state

    def effective_base_url(self, base_url: str | None = None) -> str:
        """The server a check goes to: ``base_url``, else this run's (``OPENAI_BASE_URL``)."""
        return (base_url or self.endpoint.base_url).strip().rstrip("/")

    async def check_key(self, key: str, base_url: str | None = None) -> None:
        """Ask the server at ``base_url`` whether it accepts ``key``; raises a typed ``LlmError``.

        A throwaway client with no retries and a bounded time: ``InvalidApiKey`` for a refused
        key, ``LlmTimeout`` when the server does not answer in time.
        """
        settings = LlmSettings(
            base_url=self.effective_base_url(base_url),
            api_key=key,
            timeout_s=self._check_timeout_s,
            max_retries=0,
            connect_timeout_s=min(_CHECK_CONNECT_TIMEOUT_S, self._check_timeout_s),
        )
        client = OpenAIClient(settings)
        try:
            async with asyncio.timeout(self._check_timeout_s):
                await client.check_key()
        except TimeoutError:
            raise LlmTimeout(self._check_timeout_s) from None
        finally:
            await client.aclose()

    async def verify_and_save(self, key: str, base_url: str | None = None) -> KeyState:
        """Check ``key`` against the server, and only if accepted save it (see ``replace``).

        Raises the check's typed error (``InvalidApiKey``, ``ServerUnreachable``, …) with
        nothing saved. Once the check has passed, cancelling no longer stops the save.
        """
        key = _clean(key)
        await self.check_key(key, base_url)
        log.info("The server accepted the API key")
        # Shielded: a dialog closed during the keyring write must not leave half a change. The
        # task is kept until done (asyncio holds only a weak reference to it).
        commit = asyncio.ensure_future(self.replace(key))
        self._commits.add(commit)
        commit.add_done_callback(self._commits.discard)
        return await asyncio.shield(commit)

    async def replace(self, new_key: str) -> KeyState:
        """Make ``new_key`` the saved key (encrypted history is not the API key's business).

        Does not ask the server (``verify_and_save`` does, then calls this). The key is saved in
        the keyring, or in memory for this run when no keyring is usable. While
        ``OPENAI_API_KEY`` is set it stays the key in use.
        """
        new_key = _clean(new_key)
        async with self._lock:
            await self._source.save(new_key)
            self._saved = ApiKey(new_key, from_environment=False)
        state = self.state
        log.info("API key saved (%s)", state.location.value)
        return state

    async def remove(self) -> KeyState:
        """Forget the saved key (keyring and memory); an environment key still applies."""
        async with self._lock:
            await self._source.forget()
            self._saved = None
        state = self.state
        log.info("Saved API key removed (now %s)", state.location.value)
        return state

    # -- identity ----------------------------------------------------------------------------

    async def user_hash(self) -> str:
        """The hash of the key in use, or ``LOCAL_USER_HASH`` when there is none."""
        key = self.api_key
        if key is None:
            return LOCAL_USER_HASH
        # Keyed by the hash itself would need the hash first; one entry per key, never logged.
        cached = self._user_hashes.get(key.value)
        if cached is None:
            cached = await user_hash_async(key.value)
            self._user_hashes = {key.value: cached}
        return cached

    async def current_user(self) -> User:
        """The store's local user; with a real OpenAI key in use, its hash recorded on it
        (never for an account of a shared project)."""
        user = await self._store.local_user()
        key = self.api_key
        if not self._records_user_hash:
            return user
        if key is not None and self.endpoint.is_openai and is_openai_key(key.value):
            user_hash = await self.user_hash()
            if user.user_hash != user_hash:
                user = await self._store.record_user_hash(user.id, user_hash)
        return user


def _clean(key: str) -> str:
    """``key`` without surrounding whitespace; ``ValueError`` (never echoing it) when empty."""
    cleaned = key.strip() if isinstance(key, str) else ""
    if not cleaned:
        raise ValueError("The API key is empty.")
    return cleaned


__all__ = [
    "API_KEY_ENV",
    "LOCAL_USER_HASH",
    "Account",
    "KeyLocation",
    "KeyState",
]
