"""Every service of one run, each built once, on the configuration ``app.py`` resolved.

The window receives one ``Services`` and takes what it needs from it; it never sees the store.
Only the store and the lobby are built before the first paint: every other service is built on
first use, because their modules alone (the OpenAI client, cryptography, tokenisers) cost more
start-up time than painting the lobby.

The API key. Reading the saved key goes through the keyring, which can take seconds (a Secret
Service waking up, an unlock prompt). Nothing waits for it but the AI service: the LLM client
is handed the key *being read* (``LlmClient.use_api_key_when_read``), so only its first request
waits, never the store, the user or the window.

Qt-free; nothing here reads the environment.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gptlab_desktop.config import AppConfig, StorageSettings, write_storage_settings
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.lobby import Lobby

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from gptlab_desktop.config import LocalServer
    from gptlab_desktop.preferences import Preferences
    from gptlab_desktop.services.account import Account, KeyState
    from gptlab_desktop.services.assistant_lab import AssistantLab
    from gptlab_desktop.services.auth import AuthSettings, FirebaseAuth
    from gptlab_desktop.services.chat import SessionEngine
    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.services.llm_api import LlmClient
    from gptlab_desktop.services.providers import Providers
    from gptlab_desktop.services.secrets import SecretStore
    from gptlab_desktop.services.session_library import SessionLibrary
    from gptlab_desktop.services.store.base import Store
    from gptlab_desktop.services.tokens import TokenCounter
    from gptlab_desktop.services.vault import Vault

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Services:
    """The services of a run; cheap to build (nothing is opened or imported beyond the store).

    ``keyring_backend`` is where secrets go; None is the system keyring that ``keyring`` picks
    (looked up on first use). Tests pass an in-memory stand-in or the test Secret Service.
    """

    config: AppConfig
    store: Store
    keyring_backend: KeyringBackend | None = field(default=None, repr=False)
    _account_loading: asyncio.Task[KeyState] | None = field(default=None, init=False, repr=False)
    _auths: dict[AuthSettings, FirebaseAuth] = field(default_factory=dict, init=False, repr=False)

    @functools.cached_property
    def lobby(self) -> Lobby:
        """The lobby's data: opening the store, the showcase, the assistants, the user."""
        account = self.config.storage.signed_in_account
        return Lobby(
            self.store,
            publishing_enabled=account is not None,
            author_name=None
            if account is None
            else (account.display_name or account.email or None),
        )

    @functools.cached_property
    def providers(self) -> Providers:
        """The AI providers: the environment's and the user's profiles, a client for each."""
        from gptlab_desktop.preferences import write_preferences
        from gptlab_desktop.services.provider_keys import ProviderKeys
        from gptlab_desktop.services.providers import Providers

        preferences_file = self.config.paths.preferences_file

        async def save(preferences: Preferences) -> None:
            await run_blocking(write_preferences, preferences_file, preferences)

        return Providers(
            self.config.preferences,
            environment=self.config.environment_profile,
            environment_key=self.config.ai.env_api_key,
            account_key=self._key_in_use,
            keys=ProviderKeys(self.secrets),
            save=save,
        )

    @property
    def needs_account_key(self) -> bool:
        """Whether the provider new chats use needs the account's key (OpenAI's built-in
        profile, or the environment's pointing at OpenAI): the start asks for it only then."""
        from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID
        from gptlab_desktop.preferences import OPENAI_PROFILE_ID

        default = self.providers.default_profile
        return default.id in (OPENAI_PROFILE_ID, ENVIRONMENT_PROFILE_ID) and default.needs_key

    @property
    def local_servers(self) -> tuple[LocalServer, ...]:
        """Where the first run looks for local AI servers (``config.py``)."""
        return self.config.local_servers

    @property
    def llm(self) -> LlmClient:
        """The client of the provider new chats use (warmed up after the first paint)."""
        return self.providers.client(None)

    @functools.cached_property
    def tokens(self) -> TokenCounter:
        """Token counting, with tiktoken's files in the folder configuration chose."""
        from gptlab_desktop.services.tokens import TokenCounter

        return TokenCounter(self.config.tokenizer_cache_dir)

    @functools.cached_property
    def engine(self) -> SessionEngine:
        """Chat sessions: sending, streaming, storing."""
        from gptlab_desktop.services.chat import SessionEngine

        return SessionEngine(self.store, self.providers, self.tokens)

    @functools.cached_property
    def library(self) -> SessionLibrary:
        """Past sessions: listing, searching, renaming, exporting, deleting."""
        from gptlab_desktop.services.session_library import SessionLibrary

        return SessionLibrary(self.store, ender=self.engine)

    @functools.cached_property
    def lab(self) -> AssistantLab:
        """Writing assistants: create, version, try, import and export."""
        from gptlab_desktop.services.assistant_lab import AssistantLab

        return AssistantLab(self.store, self.providers)

    @functools.cached_property
    def secrets(self) -> SecretStore:
        """Named secrets in the keyring (looked up on first use)."""
        from gptlab_desktop.services.secrets import SecretStore

        return SecretStore(self.keyring_backend)

    @functools.cached_property
    def account(self) -> Account:
        """The API key in use (environment, keyring or memory) and the user's identity."""
        from gptlab_desktop.services.account import Account

        return Account(
            self.secrets,
            self.store,
            self.config.ai,
            records_user_hash=self.config.storage.signed_in_account is None,
        )

    @property
    def seeds_showcase(self) -> bool:
        """Whether the shipped showcase is written into the store at start: not for an account
        of a shared project, whose showcase an admin publishes (``scripts/publish-showcase``)
        and every member pulls."""
        return self.config.storage.signed_in_account is None

    def auth_for(self, settings: StorageSettings) -> FirebaseAuth:
        """The sign-in to ``settings``' shared project (one per project and key, kept)."""
        from gptlab_desktop.services.auth import FirebaseAuth
        from gptlab_desktop.services.shared_sign_in import auth_settings_for

        auth_settings = auth_settings_for(settings)
        auth = self._auths.get(auth_settings)
        if auth is None:
            auth = self._auths[auth_settings] = FirebaseAuth(auth_settings, self.secrets)
        return auth

    @functools.cached_property
    def vault(self) -> Vault:
        """The data key for the cloud, opened by the sync secret (``GPTLAB_RECOVERY_KIT``, if
        configured, instead of a new one); never by the API key."""
        from gptlab_desktop.services.vault import Vault

        return Vault(self.secrets, self.store, recovery_kit=self.config.recovery_kit)

    @functools.cached_property
    def sync(self) -> CloudSync:
        """The sync with the user's Firestore project (idle while the data is local only)."""
        from gptlab_desktop.services.cloud_sync import CloudSync
        from gptlab_desktop.services.store.cloud.synced import SyncedStore

        if not isinstance(self.store, SyncedStore):
            raise TypeError("Sync needs the synced store (app.build_services makes one).")
        storage_file = self.config.paths.storage_file

        async def save(settings: StorageSettings) -> None:
            await run_blocking(write_storage_settings, storage_file, settings)

        return CloudSync(
            self.store,
            lambda: self.vault,
            self.secrets,
            self.config.storage,
            save_settings=save,
            recovery_kit=self.config.recovery_kit,
            auth=self.auth_for,
        )

    # -- the key ----------------------------------------------------------------------------
    def load_account(self) -> asyncio.Task[KeyState]:
        """Read the saved key (once; every caller shares the one read)."""
        if self._account_loading is None:
            self._account_loading = asyncio.ensure_future(self.account.load())
        return self._account_loading

    async def _key_in_use(self) -> str | None:
        state = await asyncio.shield(self.load_account())
        return state.api_key.value if state.api_key is not None else None

    async def use_current_key(self) -> None:
        """Make the chat send the account's key in use now (one saved or removed in Settings)."""
        from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID
        from gptlab_desktop.preferences import OPENAI_PROFILE_ID

        key = self.account.api_key
        for profile_id in (OPENAI_PROFILE_ID, ENVIRONMENT_PROFILE_ID):
            await self.providers.use_key(profile_id, key.value if key is not None else None)

    # -- closing ----------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop reading the key, send what the sync can in a moment and stop it, close the AI
        service's connections, then the store."""
        loading = self._account_loading
        if loading is not None and not loading.done():
            loading.cancel()
            await asyncio.wait([loading])
        if "sync" in self.__dict__:  # built: it may have writes to send and a channel open
            try:
                await self.sync.close()
            except Exception:
                log.exception("Stopping the sync failed; its writes wait for the next start")
        for auth in self._auths.values():
            try:
                await auth.aclose()
            except Exception:
                log.exception("Closing the sign-in's connections failed")
        if "providers" in self.__dict__:  # built: there may be connections
            await self.providers.aclose()
        try:
            await self.store.close()
        except Exception:
            # Closing must finish whatever happens; the next start reports a damaged store.
            log.exception("Closing the store failed")
