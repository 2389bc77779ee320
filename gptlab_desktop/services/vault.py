"""The user's data key, opened by a sync secret that never leaves the machine: the one owner.

What is kept where:

* the **secret key** (160 random bits, ``recovery_kit.py``) in the OS keyring under
  ``SecretName.SYNC_SECRET`` — a small JSON object of secret keys by user id, so two data
  directories of one person on one machine never overwrite each other's;
* the optional **passphrase** nowhere: the user types it to unlock, to change it, or to see
  the recovery kit again;
* the **wrapped data key** (``crypto.WrappedKey``) in the store's settings under
  ``WRAPPED_DATA_KEY_SETTING``, as JSON; it is safe to upload, and is what the cloud's
  ``users/{id}`` document holds in its ``data_key`` field (``documents.user_document``);
* the **data key** itself in memory, for this run, once unlocked.

The first machine sets encryption up (``set_up``, or implicitly the first time ``data_key``
is asked for): a new secret key — or the one in ``GPTLAB_RECOVERY_KIT``, which configuration
hands in — and a new data key wrapped under both. The recovery kit it returns is the user's
only way to open the history anywhere else: the UI shows it then, and again after the
passphrase is re-entered (``recovery_kit``). Another machine ``join``s with the kit (and the
passphrase, if one was set) and the record the cloud holds; without the kit it can tell that
encrypted history exists (``state`` is ``NEEDS_RECOVERY_KIT``) and says so with a typed error.

The API key is none of this: the vault never sees it (``crypto.py`` explains why).

Migration. Earlier versions kept, under the same setting, a data key wrapped by a key derived
from the API key. Nothing was ever encrypted with it (the local store keeps plaintext, and no
cloud store existed), and that wrap was readable by anyone who saw the API key — the provider,
a proxy, or the guess ``EMPTY`` — so the key inside cannot be trusted to be secret. Such a
record is therefore not unwrapped and carried over: it is treated as absent, and replaced by a
new data key under the sync secret the next time one is needed (logged, without any secret).

Qt-free; the key derivation and the keyring run off the event loop. No secret appears in a log
line, a ``repr`` or an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from enum import StrEnum

from gptlab_desktop.services import crypto
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.crypto import (
    DEFAULT_KDF,
    MIN_SECRET_KEY_BYTES,
    DataKey,
    KdfParams,
    SyncSecret,
    WrappedKey,
)
from gptlab_desktop.services.errors import (
    DecryptionFailed,
    EncryptionAlreadySetUp,
    EncryptionNotSetUp,
    RecoveryKitRequired,
    WrongRecoveryKit,
)
from gptlab_desktop.services.recovery_kit import RecoveryKit
from gptlab_desktop.services.secrets import SecretName, SecretStore
from gptlab_desktop.services.store.base import Store

log = logging.getLogger(__name__)

# The name is the one the retired API-key record used: a new record replaces it in place.
WRAPPED_DATA_KEY_SETTING = "account.wrapped_data_key"
# The field of the cloud's users/{id} document that holds the same record.
CLOUD_DATA_KEY_FIELD = "data_key"
_KEYRING_FORMAT = 1

_DAMAGED_RECORD = "Your stored encryption key is damaged, so your encrypted history cannot be read."
_DAMAGED_KEYRING = (
    "The secret key in your system keyring is damaged. Enter your recovery kit to read your "
    "history."
)
_KIT_OF_ANOTHER_USER = (
    "This recovery kit belongs to another user's history (its user ID is different), so it "
    "cannot open this one."
)


class VaultState(StrEnum):
    """How far the encrypted history is from readable on this machine."""

    NOT_SET_UP = "not_set_up"  # nothing encrypted yet; the first data_key() sets it up
    NEEDS_RECOVERY_KIT = "needs_recovery_kit"  # encrypted history exists; no secret key here
    NEEDS_PASSPHRASE = "needs_passphrase"  # the secret key is here; the passphrase is not
    READY = "ready"  # data_key() opens it without asking anything
    UNLOCKED = "unlocked"  # the data key is in memory


class Vault:
    """The data key of the user's encrypted history, and the sync secret that opens it.

    ``recovery_kit`` is the kit configuration found in ``GPTLAB_RECOVERY_KIT``: used instead of
    a new secret key on a first machine, and to join on another. ``kdf`` is the cost of new
    wraps (tests pass a cheap one; records carry their own).
    """

    def __init__(
        self,
        secrets: SecretStore,
        store: Store,
        *,
        recovery_kit: RecoveryKit | None = None,
        kdf: KdfParams = DEFAULT_KDF,
    ) -> None:
        self._secrets = secrets
        self._store = store
        self._configured_kit = recovery_kit
        self._kdf = kdf
        self._data_key: DataKey | None = None
        self._user_id: str | None = None
        self._has_reported_retired_record = False
        # One change at a time: set-up, joining and re-wrapping must not interleave.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"Vault(unlocked={self.is_unlocked}, configured_kit={self._configured_kit is not None})"
        )

    @property
    def is_unlocked(self) -> bool:
        """Whether the data key is in memory this run."""
        return self._data_key is not None

    @property
    def user_id(self) -> str | None:
        """The user the unlocked history belongs to (the kit's user id), once unlocked."""
        return self._user_id

    # -- what the machine has ----------------------------------------------------------------

    async def state(self) -> VaultState:
        """Whether there is encrypted history, and what opening it still needs."""
        if self._data_key is not None:
            return VaultState.UNLOCKED
        record = await self._record()
        if record is None:
            return VaultState.NOT_SET_UP
        if await self._secret_key_for(record.user_id) is None and not self._kit_fits(record):
            return VaultState.NEEDS_RECOVERY_KIT
        return VaultState.NEEDS_PASSPHRASE if record.has_passphrase else VaultState.READY

    async def wrapped_data_key(self) -> WrappedKey | None:
        """The stored (wrapped) data key record, if any: safe to upload (users/{id}.data_key)."""
        return await self._record()

    # -- setting up, unlocking, joining --------------------------------------------------------

    async def set_up(self, passphrase: str = "") -> RecoveryKit:
        """Create the secret key (or take the configured kit's) and a new data key wrapped
        under it and ``passphrase``; the recovery kit to give the user.

        ``EncryptionAlreadySetUp`` when a record exists (join or change the passphrase instead).
        """
        async with self._lock:
            if await self._record() is not None:
                raise EncryptionAlreadySetUp()
            return await self._set_up_locked(passphrase)

    async def data_key(self) -> DataKey:
        """The data key for this run: unlocked without asking, or set up if there is none.

        Raises ``RecoveryKitRequired`` when encrypted history exists but this machine has no
        secret key for it, ``PassphraseRequired`` when it needs the passphrase (``unlock``),
        ``DecryptionFailed`` for a damaged record, ``StoreError`` when the store cannot be used.
        """
        if self._data_key is not None:
            return self._data_key
        async with self._lock:
            if self._data_key is not None:  # opened while this call waited
                return self._data_key
            record = await self._record()
            if record is None:
                await self._set_up_locked("")
            else:
                await self._open_locked(record, "")
            assert self._data_key is not None
            return self._data_key

    async def unlock(self, passphrase: str = "") -> DataKey:
        """The data key, opened with ``passphrase``; ``EncryptionNotSetUp`` without history,
        ``WrongPassphrase``/``PassphraseRequired``/``RecoveryKitRequired`` as they apply."""
        async with self._lock:
            record = await self._record()
            if record is None:
                raise EncryptionNotSetUp()
            await self._open_locked(record, passphrase)
            assert self._data_key is not None
            return self._data_key

    async def join(
        self, kit: RecoveryKit, passphrase: str = "", *, wrapped: WrappedKey | None = None
    ) -> DataKey:
        """Open the history another machine set up, with its recovery kit and passphrase.

        ``wrapped`` is the record from the cloud (users/{id}.data_key); None: the one stored
        here (e.g. already pulled). Only once the kit has opened it are the secret key saved to
        the keyring and the record stored here. ``WrongRecoveryKit``, ``PassphraseRequired``
        and ``WrongPassphrase`` say what did not fit; ``EncryptionNotSetUp`` without a record.
        """
        async with self._lock:
            record = wrapped if wrapped is not None else await self._record()
            if record is None:
                raise EncryptionNotSetUp()
            if kit.user_id != record.user_id:
                raise WrongRecoveryKit(_KIT_OF_ANOTHER_USER)
            secret = SyncSecret(kit.secret_key, passphrase)
            key = await crypto.unwrap_data_key_async(record, secret)
            await self._save_secret_key(record.user_id, kit.secret_key)
            if wrapped is not None:
                here = await self._record()
                if here is not None and here.key_id != record.key_id:
                    # This machine had set up a history of its own; the joined one wins.
                    log.warning(
                        "This machine's own encryption set-up is replaced by the joined history"
                    )
                await self._store_record(wrapped)
            self._data_key, self._user_id = key, record.user_id
            log.info("Joined the encrypted history with its recovery kit")
            return key

    def lock(self) -> None:
        """Forget the data key in memory (the next use unlocks again)."""
        self._data_key = None

    # -- the passphrase and the kit ----------------------------------------------------------

    async def change_passphrase(self, old: str, new: str) -> WrappedKey:
        """Re-wrap the data key under ``new`` (``""``: no passphrase); no message changes.

        Needs ``old`` (``WrongPassphrase`` otherwise). Returns the new record, to upload in
        place of the old one; from now on ``old`` opens nothing.
        """
        async with self._lock:
            record = await self._record()
            if record is None:
                raise EncryptionNotSetUp()
            secret_key, from_kit = await self._secret_key_to_open(record)
            key = await crypto.unwrap_data_key_async(record, SyncSecret(secret_key, old))
            if from_kit:
                await self._save_secret_key(record.user_id, secret_key)
            rewrapped = await run_blocking(
                crypto.wrap_data_key,
                key,
                SyncSecret(secret_key, new),
                user_id=record.user_id,
                kdf=self._kdf,
            )
            await self._store_record(rewrapped)
            self._data_key, self._user_id = key, record.user_id
            log.info("Passphrase %s; the data key was re-wrapped", "set" if new else "removed")
            return rewrapped

    async def recovery_kit(self, passphrase: str = "") -> RecoveryKit:
        """The recovery kit again, once ``passphrase`` has proved to open the history."""
        async with self._lock:
            record = await self._record()
            if record is None:
                raise EncryptionNotSetUp()
            secret_key, _from_kit = await self._secret_key_to_open(record)
            # The same check as unlocking, so the kit is never shown to someone who cannot.
            await crypto.unwrap_data_key_async(record, SyncSecret(secret_key, passphrase))
            return RecoveryKit(record.user_id, secret_key)

    # -- inside the lock ----------------------------------------------------------------------

    async def _set_up_locked(self, passphrase: str) -> RecoveryKit:
        if self._configured_kit is not None:
            kit = self._configured_kit
            log.info("Setting up encryption with the configured recovery kit")
        else:
            kit = RecoveryKit.generate((await self._store.local_user()).id)
        key, wrapped = await crypto.create_data_key_async(
            SyncSecret(kit.secret_key, passphrase), user_id=kit.user_id, kdf=self._kdf
        )
        # The secret key first: a record without its key would be history nobody can open.
        await self._save_secret_key(kit.user_id, kit.secret_key)
        await self._store_record(wrapped)
        self._data_key, self._user_id = key, kit.user_id
        if self._secrets.is_memory_only:
            log.warning(
                "Encryption set up, but the secret key is kept in memory for this run only: "
                "the recovery kit is the only way to open the history after quitting"
            )
        else:
            log.info("Encryption set up with a new data key")
        return kit

    async def _open_locked(self, record: WrappedKey, passphrase: str) -> None:
        secret_key, from_kit = await self._secret_key_to_open(record)
        key = await crypto.unwrap_data_key_async(record, SyncSecret(secret_key, passphrase))
        if from_kit:
            await self._save_secret_key(record.user_id, secret_key)
            log.info("Joined the encrypted history with the configured recovery kit")
        self._data_key, self._user_id = key, record.user_id

    async def _secret_key_to_open(self, record: WrappedKey) -> tuple[bytes, bool]:
        """The keyring's secret key for ``record``, else the configured kit's (True: from the
        kit, to be saved once it has opened the record); ``RecoveryKitRequired`` if neither."""
        secret_key = await self._secret_key_for(record.user_id)
        if secret_key is not None:
            return secret_key, False
        kit = self._configured_kit
        if kit is None:
            raise RecoveryKitRequired()
        if kit.user_id != record.user_id:
            raise WrongRecoveryKit(_KIT_OF_ANOTHER_USER)
        return kit.secret_key, True

    def _kit_fits(self, record: WrappedKey) -> bool:
        kit = self._configured_kit
        return kit is not None and kit.user_id == record.user_id

    # -- the record ---------------------------------------------------------------------------

    async def _record(self) -> WrappedKey | None:
        text = await self._store.get_setting(WRAPPED_DATA_KEY_SETTING)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise DecryptionFailed(_DAMAGED_RECORD) from None
        if not isinstance(data, dict):
            raise DecryptionFailed(_DAMAGED_RECORD)
        if crypto.is_api_key_wrapped(data):
            # See the module docstring: retired, never unwrapped; the next set-up replaces it.
            if not self._has_reported_retired_record:
                self._has_reported_retired_record = True
                log.warning(
                    "Found a data key wrapped by the API key (from an earlier version); it "
                    "protected nothing and is replaced by one under the sync secret"
                )
            return None
        return WrappedKey.from_dict(data)

    async def _store_record(self, wrapped: WrappedKey) -> None:
        await self._store.set_setting(WRAPPED_DATA_KEY_SETTING, json.dumps(wrapped.to_dict()))

    # -- the secret keys in the keyring -------------------------------------------------------

    async def _secret_keys(self) -> dict[str, str]:
        text = await self._secrets.get(SecretName.SYNC_SECRET)
        if not text:
            return {}
        try:
            data = json.loads(text)
            keys = data["keys"]
            if data.get("version") != _KEYRING_FORMAT or not isinstance(keys, dict):
                raise ValueError("unknown format")
        except (ValueError, KeyError, TypeError):
            # Never quoted: it is the secret. Left in place, not overwritten, for the user.
            log.warning("The sync secret in the keyring is unreadable; it is left as it is")
            raise DecryptionFailed(_DAMAGED_KEYRING) from None
        return {str(user): str(value) for user, value in keys.items()}

    async def _secret_key_for(self, user_id: str) -> bytes | None:
        encoded = (await self._secret_keys()).get(user_id)
        if encoded is None:
            return None
        try:
            secret_key = base64.urlsafe_b64decode(encoded.encode("ascii"))
        except (binascii.Error, ValueError):
            secret_key = b""
        if len(secret_key) < MIN_SECRET_KEY_BYTES:
            raise DecryptionFailed(_DAMAGED_KEYRING)
        return secret_key

    async def _save_secret_key(self, user_id: str, secret_key: bytes) -> None:
        keys = await self._secret_keys()
        keys[user_id] = base64.urlsafe_b64encode(secret_key).decode("ascii")
        await self._secrets.set(
            SecretName.SYNC_SECRET, json.dumps({"version": _KEYRING_FORMAT, "keys": keys})
        )


__all__ = [
    "CLOUD_DATA_KEY_FIELD",
    "WRAPPED_DATA_KEY_SETTING",
    "Vault",
    "VaultState",
]
