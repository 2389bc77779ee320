"""The cloud half of a run against the real Firestore emulator: a local user switches to their
Firestore project and everything already stored goes up, encrypted, with a recovery kit given
once; a second computer sees that encrypted history exists and joins it with the kit; a kit in
the configuration joins at start; switching back to local only loses nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from google.cloud import firestore

from gptlab_desktop.config import StorageMode, StorageSettings, read_storage_settings
from gptlab_desktop.services.cloud_credentials import InvalidServiceAccount
from gptlab_desktop.services.cloud_sync import HISTORY_ELSEWHERE, CloudSync
from gptlab_desktop.services.crypto import KDF_MEMORY_KIB_RANGE, KdfParams
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.recovery_kit import RecoveryKit
from gptlab_desktop.services.secrets import SecretName, SecretStore
from gptlab_desktop.services.store.cloud import documents as docs
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.sync_status import SyncState
from gptlab_desktop.services.vault import Vault
from tests.builders import DB_NAME, make_draft, make_message, start_session
from tests.fakes.memory_keyring import MemoryKeyring

pytestmark = [pytest.mark.firestore, pytest.mark.asyncio]

FAST = KdfParams(memory_kib=KDF_MEMORY_KIB_RANGE[0], iterations=1, lanes=1)
SECRET = "the spare key is under the blue pot"


@dataclass
class Computer:
    """One computer: a data directory, its keyring, and the sync of the run on them."""

    folder: Path
    store: SyncedStore
    keyring: MemoryKeyring = field(default_factory=MemoryKeyring)
    kits: list[RecoveryKit] = field(default_factory=list)
    sync: CloudSync | None = None

    def start_sync(self, settings: StorageSettings, kit: RecoveryKit | None = None) -> CloudSync:
        secrets = SecretStore(self.keyring)
        vault = Vault(secrets, self.store, recovery_kit=kit, kdf=FAST)
        storage_file = self.folder / "storage.json"

        async def save(saved: StorageSettings) -> None:
            storage_file.write_text(saved.to_json(), "utf-8")

        sync = CloudSync(
            self.store, lambda: vault, secrets, settings, save_settings=save, recovery_kit=kit
        )
        sync.on_new_recovery_kit(self.kits.append)
        sync.start()
        self.sync = sync
        return sync

    async def close(self) -> None:
        if self.sync is not None:
            await self.sync.close()
        await self.store.close()


async def a_computer(folder: Path) -> Computer:
    folder.mkdir(parents=True)
    store = SyncedStore(folder / DB_NAME)
    assert (await store.open()).is_usable
    return Computer(folder, store)


@pytest_asyncio.fixture
async def laptop(tmp_path: Path) -> AsyncIterator[Computer]:
    computer = await a_computer(tmp_path / "laptop")
    yield computer
    await computer.close()


@pytest_asyncio.fixture
async def desktop(tmp_path: Path) -> AsyncIterator[Computer]:
    computer = await a_computer(tmp_path / "desktop")
    yield computer
    await computer.close()


@pytest.fixture
def project(emulator_project: str) -> StorageSettings:
    return StorageSettings(StorageMode.FIRESTORE, emulator_project)


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


def synced(sync: CloudSync) -> Callable[[], bool]:
    return lambda: sync.status.state is SyncState.ONLINE and sync.status.pending == 0


async def cloud_session(project: str, session_id: str) -> dict[str, object] | None:
    client = firestore.AsyncClient(project=project)
    try:
        snapshot = await client.document(docs.session_path(session_id)).get()
        return snapshot.to_dict() if snapshot.exists else None
    finally:
        await client._transport.close()


async def test_a_local_user_switching_to_firestore_sends_everything_encrypted_with_a_kit(
    laptop: Computer, project: StorageSettings
) -> None:
    me = await laptop.store.local_user()
    await laptop.store.create_assistant(make_draft(name="Gardener"), me.id)
    session = await start_session(laptop.store, me, None)
    await laptop.store.add_messages([make_message(session.id, SECRET)])
    sync = laptop.start_sync(StorageSettings())  # local only, as before
    assert sync.status.state is SyncState.LOCAL

    await sync.apply(project)
    await until(synced(sync))

    assert len(laptop.kits) == 1  # given once, at set-up
    assert laptop.kits[0].user_id == (await laptop.store.local_user()).id == me.id
    stored = await cloud_session(project.project_id, session.id)
    assert stored is not None and stored["message_count"] == 1
    assert "blue pot" not in json.dumps(stored, default=str)
    saved = read_storage_settings(laptop.folder / "storage.json")
    assert (saved.mode, saved.project_id) == (StorageMode.FIRESTORE, project.project_id)


async def test_another_computer_says_encrypted_history_exists_then_joins_it_with_the_kit(
    laptop: Computer, desktop: Computer, project: StorageSettings
) -> None:
    me = await laptop.store.local_user()
    session = await start_session(laptop.store, me, None)
    await laptop.store.add_messages([make_message(session.id, SECRET)])
    await until(synced(laptop.start_sync(project)))
    [kit] = laptop.kits

    sync = desktop.start_sync(project)
    await until(lambda: sync.status.state is SyncState.PROBLEM)
    assert sync.status.reason == HISTORY_ELSEWHERE  # said, and nothing of its own set up
    assert desktop.kits == []

    await sync.join(kit.text)
    await until(synced(sync))
    await sync.sync_now()

    assert (await desktop.store.local_user()).id == me.id
    assert [m.message for m in await desktop.store.list_messages(session.id)] == [SECRET]


async def test_a_kit_in_the_configuration_joins_at_start(
    laptop: Computer, desktop: Computer, project: StorageSettings
) -> None:
    me = await laptop.store.local_user()
    session = await start_session(laptop.store, me, None)
    await until(synced(laptop.start_sync(project)))
    [kit] = laptop.kits

    sync = desktop.start_sync(project, kit=RecoveryKit.parse(kit.text))  # GPTLAB_RECOVERY_KIT
    await until(synced(sync))
    await sync.sync_now()

    assert await desktop.store.get_session(session.id) is not None
    assert desktop.kits == []  # a configured kit is the user's already


async def test_switching_back_to_local_only_keeps_writes_for_when_the_cloud_returns(
    laptop: Computer, project: StorageSettings
) -> None:
    me = await laptop.store.local_user()
    sync = laptop.start_sync(project)
    await until(synced(sync))

    await sync.apply(StorageSettings())  # local only for a while
    session = await start_session(laptop.store, me, None)
    assert (await laptop.store.outbox_counts()).pending > 0
    assert await cloud_session(project.project_id, session.id) is None

    await sync.apply(project)  # and back
    await until(synced(sync))
    assert await cloud_session(project.project_id, session.id) is not None


async def test_a_service_account_key_goes_to_the_keyring_and_nothing_else_does(
    laptop: Computer, tmp_path: Path
) -> None:
    sync = laptop.start_sync(StorageSettings())
    key_file = tmp_path / "key.json"
    key = {
        "type": "service_account",
        "project_id": "team-x",
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot a real one\n-----END PRIVATE KEY-----\n",
        "client_email": "sync@team-x.example",
    }
    key_file.write_text(json.dumps(key), "utf-8")

    assert await sync.import_service_account_file(key_file) == "team-x"
    stored = [
        v
        for (_, name), v in laptop.keyring.secrets.items()
        if name == SecretName.FIRESTORE_CREDENTIALS
    ]
    assert json.loads(stored[0]) == key

    key_file.write_text('{"type": "authorized_user"}', "utf-8")
    with pytest.raises(InvalidServiceAccount, match="not a service-account key"):
        await sync.import_service_account_file(key_file)


async def test_a_new_passphrase_reaches_the_cloud_and_another_computer_needs_it_to_join(
    laptop: Computer, desktop: Computer, project: StorageSettings
) -> None:
    me = await laptop.store.local_user()
    session = await start_session(laptop.store, me, None)
    sync = laptop.start_sync(project)
    await until(synced(sync))
    [kit] = laptop.kits

    await sync.change_passphrase("", "a walk by the river")
    await sync.sync_now()

    other = desktop.start_sync(project)
    await until(lambda: other.status.state is SyncState.PROBLEM)
    with pytest.raises(ServiceError):  # the kit alone no longer opens it
        await other.join(kit.text)
    await other.join(kit.text, "a walk by the river")
    await until(synced(other))
    await other.sync_now()
    assert await desktop.store.get_session(session.id) is not None
