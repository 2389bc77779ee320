"""The cloud half of a run: the user's Firestore project, the outbox replayer and the puller.

``CloudSync`` is built by the composition root for every run and does nothing while the data is
local only. With a Firestore project configured it connects in the background (never before the
first paint, never blocking anyone): it opens the encrypted history (``Vault``: set up on a first
machine, joined with the recovery kit on another), keeps the store's journal for that project
(``SyncedStore.journal_for``: the first time, everything already stored is queued, so a local
user's history moves to the cloud resumably), then runs the replayer (``cloud/replayer``) and
pulls other machines' changes at start, every ``pull_interval_s`` and on ``sync_now``. Its
``SyncStatus`` — local, online, syncing with N waiting, offline, or a problem with its reason — is
what the status bar shows.

Switching storage never loses a write: the journal outlives a switch to local only, and the
outbox is sent when the cloud comes back. Qt-free; nothing here reads the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gptlab_desktop.config import CloudCredentials, StorageSettings
from gptlab_desktop.services.aio import TaskGroupByName, run_blocking
from gptlab_desktop.services.cloud_credentials import (
    import_service_account,
    import_service_account_file,
    service_account_credentials,
    signed_in_credentials,
)
from gptlab_desktop.services.errors import (
    AuthUnavailable,
    CloudRefused,
    CloudUnavailable,
    ServiceError,
)
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.outbox import DeadLetter
from gptlab_desktop.services.sync_status import SyncState, SyncStatus

if TYPE_CHECKING:
    from gptlab_desktop.models import Assistant
    from gptlab_desktop.services.auth import FirebaseAuth
    from gptlab_desktop.services.crypto import DataKey, WrappedKey
    from gptlab_desktop.services.recovery_kit import RecoveryKit
    from gptlab_desktop.services.secrets import SecretStore
    from gptlab_desktop.services.shared_sign_in import SharedSignIn
    from gptlab_desktop.services.store.cloud.documents import RecordCipher
    from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
    from gptlab_desktop.services.store.cloud.puller import CloudPuller, PullReport
    from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer
    from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
    from gptlab_desktop.services.vault import Vault

log = logging.getLogger(__name__)

PULL_INTERVAL_S = 30.0
# On quit, how long the outbox may still be sent before the app closes (the rest goes next start).
FLUSH_ON_CLOSE_S = 1.0

HISTORY_ELSEWHERE = (
    "This Firestore project already holds encrypted history from another computer. To read it "
    "here, join it with your recovery kit in Settings → Storage…; nothing is sent until then."
)
ACCOUNT_HISTORY_ELSEWHERE = (
    "Your account's history in this shared project is encrypted with a key from another "
    "computer. To read it here, join it with your recovery kit in Settings → Storage…"
)
SIGN_IN_NEEDED = (
    "You are not signed in to the shared project: sign in in Settings → Storage…. Your data "
    "on this computer works as before."
)
REOPEN_NEEDED = "The storage you chose opens other data: it is used once GPT Lab Desktop reopens."
PASSPHRASE_NEEDED = (
    "Your cloud history is protected by a passphrase: enter it in Settings → Storage… to sync."
)


class JoinRequired(ServiceError):
    """The project's history cannot be opened here yet: it needs the recovery kit, or the
    passphrase (the sentence says which)."""

    title = "Your cloud history is locked"


class CloudSync:
    """The run's sync with the user's Firestore project (see the module docstring); ``vault``
    gives the run's vault when it is first needed."""

    def __init__(
        self,
        store: SyncedStore,
        vault: Callable[[], Vault],
        secrets: SecretStore,
        settings: StorageSettings,
        *,
        save_settings: Callable[[StorageSettings], Awaitable[None]],
        recovery_kit: RecoveryKit | None = None,
        pull_interval_s: float = PULL_INTERVAL_S,
        auth: Callable[[StorageSettings], FirebaseAuth] | None = None,
    ) -> None:
        self._store = store
        self._auth_for = auth
        # The account whose data the store holds (a shared project's), fixed for the run: an
        # account or project chosen later opens its own data after a reopen (``needs_reopen``).
        self._opened_account = _account_key(settings)
        self._signed_in_uid = ""
        self._vault_source = vault
        self._secrets = secrets
        self._settings = settings
        self._save_settings = save_settings
        self._pull_interval_s = pull_interval_s
        self._tasks = TaskGroupByName()
        self._cloud: FirestoreStore | None = None
        self._replayer: OutboxReplayer | None = None
        self._puller: CloudPuller | None = None
        self._pull_now = asyncio.Event()
        self._connected = asyncio.Event()
        self._status_listeners: list[Callable[[SyncStatus], None]] = []
        self._pulled_listeners: list[Callable[[PullReport], None]] = []
        self._status: SyncStatus | None = None
        self._configured_kit = recovery_kit
        self._kit_listeners: list[Callable[[RecoveryKit], None]] = []

    @functools.cached_property
    def _vault(self) -> Vault:
        # Built on first use: the vault brings the cryptography library, which a run whose
        # data stays local never needs (and which would stall the window just after it paints).
        return self._vault_source()

    @functools.cached_property
    def accounts(self) -> SharedSignIn:
        """Signing in to a shared project, up and out (each applied here when it succeeds)."""
        from gptlab_desktop.services.shared_sign_in import SharedSignIn

        return SharedSignIn(self._shared_auth_for, self.apply)

    def _shared_auth_for(self, settings: StorageSettings) -> FirebaseAuth:
        if self._auth_for is None:
            raise ServiceError("Signing in to a shared project is not available in this run.")
        return self._auth_for(self.with_environment(settings))

    # -- what the user sees -----------------------------------------------------------------
    @property
    def settings(self) -> StorageSettings:
        """Where the data is kept now."""
        return self._settings

    @property
    def status(self) -> SyncStatus:
        """The sync's state now (``SyncState.LOCAL`` when the data is local only)."""
        if self._status is None:
            state = SyncState.OFFLINE if self._settings.is_cloud else SyncState.LOCAL
            return SyncStatus(state)
        return self._status

    def on_status(self, listener: Callable[[SyncStatus], None]) -> None:
        """Call ``listener`` with every new status."""
        self._status_listeners.append(listener)

    def on_pulled(self, listener: Callable[[PullReport], None]) -> None:
        """Call ``listener`` after each pull that changed the cache (views refresh)."""
        self._pulled_listeners.append(listener)

    def on_new_recovery_kit(self, listener: Callable[[RecoveryKit], None]) -> None:
        """Call ``listener`` with the kit made when encryption is set up on this machine: the
        one moment it must be given to the user (it is shown again only after the passphrase)."""
        self._kit_listeners.append(listener)

    def _publish(self, status: SyncStatus) -> None:
        self._status = status
        for listener in self._status_listeners:
            listener(status)

    def _problem(self, reason: str) -> None:
        self._publish(replace(self.status, state=SyncState.PROBLEM, reason=reason))

    async def dead_letters(self) -> list[DeadLetter]:
        """The writes the cloud refused, with why."""
        return await self._store.dead_letters()

    async def retry_refused(self) -> int:
        """Send the refused writes again (the user fixed the cause)."""
        count = await self._store.retry_dead_letters()
        if self._replayer is not None:
            self._replayer.nudge()
        return count

    # -- life -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background when a cloud is configured (returns at once)."""
        if self._settings.is_cloud:
            self._tasks.start("sync", self._run())
        else:
            self._publish(SyncStatus(SyncState.LOCAL))

    async def close(self, flush_s: float = FLUSH_ON_CLOSE_S) -> None:
        """Send what can be sent in ``flush_s``, then stop; what is left goes next start."""
        if self._replayer is not None and self._connected.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(flush_s):
                    await self._replayer.replay_ready()
        await self._tasks.cancel_all()
        await self._disconnect()

    def needs_reopen(self, settings: StorageSettings) -> bool:
        """Whether ``settings`` keep their data in another file than the one open: a shared
        project's account signed in, signed out or changed. Those apply after the window
        reopens (``MainWindow.reopen``); this run's store never syncs with them."""
        return _account_key(settings) != self._opened_account

    async def apply(self, settings: StorageSettings) -> bool:
        """Switch to ``settings`` (saved for the next runs too); nothing written is lost.

        Returns True when they open other data (``needs_reopen``): saved, but not synced with
        this run's store; sync stops until the app reopens.
        """
        await self._save_settings(settings)
        await self._tasks.cancel_all()
        await self._disconnect()
        self._settings = replace(
            settings,
            emulator_host=self._settings.emulator_host,
            auth_emulator_host=self._settings.auth_emulator_host,
            firestore_endpoint=self._settings.firestore_endpoint,
        )
        self._status = None
        if self.needs_reopen(self._settings):
            self._publish(SyncStatus(SyncState.LOCAL, reason=REOPEN_NEEDED))
            return True
        self.start()
        return False

    def with_environment(self, settings: StorageSettings) -> StorageSettings:
        """``settings`` (the Storage dialog's choice) with this run's emulators and endpoint,
        which come from the environment and are never saved."""
        return replace(
            settings,
            emulator_host=self._settings.emulator_host,
            auth_emulator_host=self._settings.auth_emulator_host,
            firestore_endpoint=self._settings.firestore_endpoint,
        )

    async def sync_now(self) -> PullReport:
        """Pull other machines' changes and send this one's, now (for "Sync now")."""
        await self._wait_connected()
        assert self._puller is not None and self._replayer is not None
        report = await self._pull()
        await self._replayer.replay_now()
        return report

    async def _wait_connected(self, timeout_s: float = 10.0) -> None:
        if not self._settings.is_cloud:
            raise ServiceError("Your data is kept on this computer only: there is nothing to sync.")
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError:
            raise ServiceError(
                self.status.reason or "The cloud could not be reached; your changes wait here."
            ) from None

    # -- connecting -------------------------------------------------------------------------
    async def _run(self) -> None:
        attempts = 0
        while True:
            try:
                await self._connect()
                break
            except (AuthUnavailable, CloudUnavailable) as error:
                # Offline at start (a shared project's sign-in needs the network to renew
                # its token): the cached data works meanwhile, and connecting is tried again.
                from gptlab_desktop.services.store.cloud.replayer import backoff_s

                delay = backoff_s(attempts)
                attempts += 1
                log.info("Sync not connected (%s); trying again in %.0f s", error.message, delay)
                self._publish(SyncStatus(SyncState.OFFLINE, reason=error.message))
                await asyncio.sleep(delay)
            except ServiceError as error:
                log.warning("Sync could not start: %s", error.message)
                self._problem(error.message)
                return
        assert self._replayer is not None
        self._tasks.start("replay", self._replayer.run())
        await self._pull_loop()

    async def _connect(self) -> None:
        from gptlab_desktop.services.store.cloud.documents import RecordCipher
        from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
        from gptlab_desktop.services.store.cloud.puller import CloudPuller
        from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer

        firestore_settings = await self._firestore_settings()
        if self._settings.is_shared:
            # The signed-in account is the user (its own file: nothing else is in it).
            user_id = self._signed_in_uid
            await self._store.adopt_local_user(user_id)
            key = await self._open_shared_history(firestore_settings, user_id)
        else:
            key = await self._open_history(firestore_settings)
            user = await self._store.local_user()
            user_id = self._vault.user_id or user.id
            if user.id != user_id:  # joined, or set up from a configured kit: that is the user
                await self._store.adopt_local_user(user_id)
        cipher = RecordCipher(key, user_id)
        cloud = FirestoreStore(firestore_settings, cipher)
        health = await cloud.open()
        if not health.is_usable:
            raise ServiceError(health.problem or "Your Firestore project could not be opened.")
        self._cloud = cloud
        queued = await self._store.journal_for(self._target)
        if queued:
            log.info("%d stored records queued for the cloud", queued)

        async def cipher_now() -> RecordCipher:
            return cipher

        member = None
        if self._settings.is_shared:
            from gptlab_desktop.services.store.cloud.member_writes import MemberWrites

            member = MemberWrites(user_id, self._cached_bots)
        replayer = OutboxReplayer(
            self._store, cloud, cipher_now, self._vault.wrapped_data_key, member=member
        )
        replayer.on_status(self._publish)
        self._replayer = replayer
        self._puller = CloudPuller(self._store, cloud, cipher_now)
        self._connected.set()

    async def _firestore_settings(self) -> FirestoreSettings:
        """How to reach the project: its ids, the credentials, the endpoint, the token refresh."""
        from gptlab_desktop.services.store.cloud.settings import FirestoreSettings

        if not self._settings.is_shared:
            return FirestoreSettings(
                project_id=self._settings.project_id,
                database_id=self._settings.database_id,
                credentials=await self._credentials(),
                api_endpoint=self._settings.firestore_endpoint,
            )
        if self._opened_account is None or self.needs_reopen(self._settings):
            raise ServiceError(SIGN_IN_NEEDED)
        auth = self._shared_auth()
        session = await auth.restore()
        if session is None or session.uid != self._opened_account[1]:
            raise ServiceError(SIGN_IN_NEEDED)
        self._signed_in_uid = session.uid
        credentials, renew = signed_in_credentials(auth, on_sign_in_lost=self._problem)
        return FirestoreSettings(
            project_id=self._settings.project_id,
            database_id=self._settings.database_id,
            credentials=credentials,
            api_endpoint=self._settings.firestore_endpoint,
            refresh_credentials=renew,
        )

    async def _cached_bots(self, bot_ids: Sequence[str]) -> dict[str, Assistant | None]:
        return {bot_id: await self._store.get_assistant(bot_id) for bot_id in bot_ids}

    def _shared_auth(self) -> FirebaseAuth:
        return self._shared_auth_for(self._settings)

    async def _open_shared_history(self, settings: FirestoreSettings, uid: str) -> DataKey:
        """The data key of the signed-in account: unlocked, set up on its first computer, or
        joined from a configured kit; another computer's history needs the recovery kit."""
        from gptlab_desktop.services.vault import VaultState

        state = await self._vault.state()
        if state is VaultState.NOT_SET_UP:
            record = await read_wrapped_key(settings, uid)
            kit = self._configured_kit
            if record is not None:
                if kit is None or kit.user_id != uid:
                    raise JoinRequired(ACCOUNT_HISTORY_ELSEWHERE)
                return await self._vault.join(kit, "", wrapped=record)
            new_kit = await self._vault.set_up()
            if kit is None:
                for listener in self._kit_listeners:
                    listener(new_kit)
        elif state is VaultState.NEEDS_PASSPHRASE:
            raise JoinRequired(PASSPHRASE_NEEDED)
        return await self._vault.data_key()

    async def _open_history(self, settings: FirestoreSettings) -> DataKey:
        """The data key: unlocked; joined with a configured kit whose history the cloud holds;
        or set up on a first machine, its new kit handed to whoever shows it."""
        from gptlab_desktop.services.store.cloud.firestore import holds_encrypted_history
        from gptlab_desktop.services.vault import VaultState

        state = await self._vault.state()
        if state is VaultState.NOT_SET_UP:
            kit = self._configured_kit
            record = None if kit is None else await read_wrapped_key(settings, kit.user_id)
            if kit is not None and record is not None:
                return await self._vault.join(kit, "", wrapped=record)
            if kit is None and await holds_encrypted_history(settings):
                raise JoinRequired(HISTORY_ELSEWHERE)
            new_kit = await self._vault.set_up()
            if kit is None:
                for listener in self._kit_listeners:
                    listener(new_kit)
        elif state is VaultState.NEEDS_PASSPHRASE:
            raise JoinRequired(PASSPHRASE_NEEDED)
        return await self._vault.data_key()

    @property
    def _target(self) -> str:
        return f"firestore:{self._settings.project_id}/{self._settings.database_id}"

    async def _credentials(self) -> Any:
        """The project's credentials: the keyring's service account, or None (Application
        Default Credentials, or an emulator's)."""
        if self._settings.emulator_host or (
            self._settings.credentials is CloudCredentials.APPLICATION_DEFAULT
        ):
            return None
        return await service_account_credentials(self._secrets)

    async def _disconnect(self) -> None:
        self._connected.clear()
        self._replayer = None
        self._puller = None
        cloud, self._cloud = self._cloud, None
        if cloud is not None:
            await cloud.close()

    # -- pulling ----------------------------------------------------------------------------
    async def _pull_loop(self) -> None:
        while True:
            try:
                await self._pull()
            except ServiceError as error:  # reported by _pull; offline: tried again later
                log.info("Pull failed: %s", error.message)
            self._pull_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pull_now.wait(), timeout=self._pull_interval_s)

    async def _pull(self) -> PullReport:
        assert self._puller is not None
        try:
            report = await self._puller.pull_once()
        except CloudRefused as error:
            # Never silent: what others changed stops arriving until the cause is fixed.
            log.warning("The cloud refused a pull: %s", error.reason)
            self._problem(f"Changes from the cloud could not be read: {error.reason}")
            raise
        if not report.changes.is_empty:
            for listener in self._pulled_listeners:
                listener(report)
        if report.unreadable:
            self._problem(
                f"{report.unreadable:,} records in the cloud are encrypted with a key this "
                "computer does not have: join with your recovery kit in Settings → Storage…"
            )
        elif self.status.state is SyncState.OFFLINE and self._replayer is not None:
            # The cloud answered: online, even when the outbox has had nothing to send (the
            # replayer speaks only when its state changes).
            self._publish(replace(self._replayer.status, state=SyncState.ONLINE, reason=""))
        return report

    # -- credentials ------------------------------------------------------------------------
    async def import_service_account(self, text: str) -> str:
        """Keep a service-account key (its file's JSON text) in the keyring, never on disk;
        returns its project id (``cloud_credentials.import_service_account``)."""
        return await import_service_account(self._secrets, text)

    async def import_service_account_file(self, path: Path) -> str:
        """Import the service-account key file at ``path``."""
        return await import_service_account_file(self._secrets, path)

    async def recovery_kit_text(self, passphrase: str = "") -> str:
        """The recovery kit's text again, once ``passphrase`` has opened the history."""
        return (await self._vault.recovery_kit(passphrase)).text

    async def save_recovery_kit(self, text: str, path: Path) -> None:
        """Write a kit's text to ``path``, readable by the user alone (it opens the history)."""
        from gptlab_desktop.services.recovery_kit import RecoveryKit

        RecoveryKit.parse(text)  # only a kit: never a typo'd one the user would trust later
        try:
            await run_blocking(_write_private_text, path, text)
        except OSError as error:
            raise ServiceError(
                f"The kit could not be saved to {path} ({error.strerror})."
            ) from None

    async def join(self, kit_text: str, passphrase: str = "") -> None:
        """Open the history another machine set up, with its recovery kit (and passphrase),
        make its user this machine's, and sync it."""
        from gptlab_desktop.services.recovery_kit import RecoveryKit

        kit = RecoveryKit.parse(kit_text)
        if not self._settings.is_cloud:
            raise ServiceError("Choose your Firestore project first: the kit opens what it holds.")
        settings = await self._firestore_settings()
        if self._settings.is_shared and kit.user_id != self._signed_in_uid:
            raise ServiceError(
                "This recovery kit belongs to another account: sign in with the account it "
                "was made for."
            )
        record = await read_wrapped_key(settings, kit.user_id)
        if record is None:
            raise ServiceError(
                "This project holds no history for this recovery kit: check the project id."
            )
        await self._vault.join(kit, passphrase, wrapped=record)
        await self._store.adopt_local_user(kit.user_id)
        await self.apply(self._settings)  # reconnect as the joined user

    async def unlock(self, passphrase: str) -> None:
        """Open the history with its passphrase (set on another machine), then sync."""
        await self._vault.unlock(passphrase)
        await self.apply(self._settings)

    async def change_passphrase(self, old: str, new: str) -> None:
        """Re-wrap the data key under ``new``; the cloud's copy follows with the user record."""
        await self._vault.change_passphrase(old, new)
        user = await self._store.local_user()
        await self._store.touch_user(user.id)  # the user document carries the wrapped key


def _write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` created readable by its owner alone (replacing a file)."""
    import os

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text if text.endswith("\n") else text + "\n")


async def read_wrapped_key(settings: FirestoreSettings, user_id: str) -> WrappedKey | None:
    """The wrapped data key the cloud holds for ``user_id`` (``users/{id}.data_key``), if any:
    what a machine joining with a recovery kit opens."""
    from gptlab_desktop.services.store.cloud.documents import wrapped_key_from_document
    from gptlab_desktop.services.store.cloud.firestore import read_user_document

    document = await read_user_document(settings, user_id)
    return None if document is None else wrapped_key_from_document(document)


def _account_key(settings: StorageSettings) -> tuple[str, str] | None:
    """Which data ``settings`` open: a shared project's account (project, uid), or None (the
    local data, which the own-project mode syncs too)."""
    account = settings.signed_in_account
    return None if account is None else (settings.project_id, account.uid)
