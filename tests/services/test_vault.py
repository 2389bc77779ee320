"""The vault: the data key opened by a sync secret that never leaves the machine.

Each simulated machine is a real SQLite store in its own data directory and its own keyring:
an in-memory backend kept across restarts, or the real Secret Service (gnome-keyring on a
private bus) where the keyring itself is what is tested.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from keyring.backends import SecretService

from gptlab_desktop.models import MessageState, Role
from gptlab_desktop.services.crypto import (
    KDF_MEMORY_KIB_RANGE,
    DataKey,
    KdfParams,
    WrappedKey,
    associated_data_for,
)
from gptlab_desktop.services.errors import (
    DecryptionFailed,
    EncryptionAlreadySetUp,
    EncryptionNotSetUp,
    InvalidRecoveryKit,
    PassphraseRequired,
    RecoveryKitRequired,
    WrongPassphrase,
    WrongRecoveryKit,
)
from gptlab_desktop.services.identity import user_hash
from gptlab_desktop.services.recovery_kit import RecoveryKit
from gptlab_desktop.services.secrets import SERVICE_NAME, SecretName, SecretStore
from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.vault import WRAPPED_DATA_KEY_SETTING, Vault, VaultState
from tests.builders import DB_NAME
from tests.fakes.keyring_daemon import SecretServiceDaemon
from tests.fakes.memory_keyring import MemoryKeyring

pytestmark = pytest.mark.asyncio

FAST = KdfParams(memory_kib=KDF_MEMORY_KIB_RANGE[0], iterations=1, lanes=1)
PASSPHRASE = "a long walk by the river in May"
TEXT = "What we said last week"
WHEN = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@dataclass
class Machine:
    """One computer: a data directory's store and that computer's keyring."""

    store: SqliteStore
    keyring: MemoryKeyring

    def vault(self, kit: RecoveryKit | None = None) -> Vault:
        """The vault of a (re)start of the app on this machine."""
        return Vault(SecretStore(self.keyring), self.store, recovery_kit=kit, kdf=FAST)

    async def record(self) -> str | None:
        return await self.store.get_setting(WRAPPED_DATA_KEY_SETTING)


async def open_store(path: Path) -> SqliteStore:
    path.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(path / DB_NAME)
    assert (await store.open()).is_usable
    return store


@pytest_asyncio.fixture
async def first(store: SqliteStore) -> Machine:
    return Machine(store, MemoryKeyring())


@pytest_asyncio.fixture
async def second(tmp_path: Path) -> AsyncIterator[Machine]:
    """Another computer: its own data directory (a second SQLite store) and keyring."""
    store = await open_store(tmp_path / "second-machine")
    yield Machine(store, MemoryKeyring())
    await store.close()


def message_aad(user_id: str) -> bytes:
    return associated_data_for(
        user_id,
        "sessions/s1/messages/m1",
        "message",
        role=Role.USER,
        state=MessageState.COMPLETE,
        created_date=WHEN,
        revision=1,
    )


async def cloud_record(machine: Machine, vault: Vault) -> WrappedKey:
    """The wrapped record as the cloud gets it and gives it back (users/{id}.data_key)."""
    user = await machine.store.local_user()
    uploaded = documents.user_document(user, await vault.wrapped_data_key())
    pulled = documents.CloudDocument.from_json(uploaded.path, uploaded.to_json())
    record = documents.wrapped_key_from_document(pulled)
    assert record is not None
    return record


# -- one machine -------------------------------------------------------------------------------


async def test_the_first_use_sets_up_a_data_key_that_the_next_start_opens(first: Machine) -> None:
    vault = first.vault()
    assert await vault.state() is VaultState.NOT_SET_UP

    key = await vault.data_key()

    again = first.vault()
    assert await again.state() is VaultState.READY
    assert await again.data_key() == key
    assert again.user_id == (await first.store.local_user()).id


async def test_asking_for_the_data_key_twice_at_once_sets_up_one(first: Machine) -> None:
    vault = first.vault()

    one, two = await asyncio.gather(vault.data_key(), vault.data_key())

    assert one == two
    assert await first.vault().data_key() == one


async def test_set_up_gives_the_recovery_kit_of_the_local_user(first: Machine) -> None:
    kit = await first.vault().set_up()

    assert kit.user_id == (await first.store.local_user()).id
    assert RecoveryKit.parse(kit.text) == kit


async def test_setting_up_twice_is_refused(first: Machine) -> None:
    await first.vault().set_up()

    with pytest.raises(EncryptionAlreadySetUp):
        await first.vault().set_up(PASSPHRASE)


async def test_the_record_is_stored_only_wrapped_and_the_secret_key_only_in_the_keyring(
    first: Machine,
) -> None:
    vault = first.vault()
    kit = await vault.set_up(PASSPHRASE)
    key = await vault.data_key()

    record = await first.record()
    keyring = " ".join(first.keyring.secrets.values())

    assert record is not None
    for raw in (key._key, kit.secret_key):
        for form in (raw.hex(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            assert (form if isinstance(form, str) else form.decode()).rstrip("=") not in record
    assert PASSPHRASE not in record and PASSPHRASE not in keyring
    assert key._key.hex() not in keyring
    assert base64.urlsafe_b64encode(key._key).decode() not in keyring
    assert list(first.keyring.secrets) == [(SERVICE_NAME, SecretName.SYNC_SECRET.value)]


async def test_two_data_directories_on_one_machine_keep_both_secret_keys(
    first: Machine, tmp_path: Path
) -> None:
    other_store = await open_store(tmp_path / "other-data-dir")
    try:
        other = Machine(other_store, first.keyring)  # same computer, same keyring
        key = await first.vault().data_key()
        other_key = await other.vault().data_key()

        assert await first.vault().data_key() == key
        assert await other.vault().data_key() == other_key != key
    finally:
        await other_store.close()


# -- the passphrase ----------------------------------------------------------------------------


async def test_with_a_passphrase_the_next_start_needs_it(first: Machine) -> None:
    await first.vault().set_up(PASSPHRASE)
    vault = first.vault()

    assert await vault.state() is VaultState.NEEDS_PASSPHRASE
    with pytest.raises(PassphraseRequired, match="protected by a passphrase"):
        await vault.data_key()
    opened = await vault.unlock(PASSPHRASE)
    assert await vault.state() is VaultState.UNLOCKED
    assert await vault.data_key() == opened


async def test_a_wrong_passphrase_is_refused_with_a_clear_sentence(first: Machine) -> None:
    await first.vault().set_up(PASSPHRASE)

    with pytest.raises(WrongPassphrase, match="That passphrase does not unlock your encrypted"):
        await first.vault().unlock(PASSPHRASE.upper())


async def test_changing_the_passphrase_rewraps_and_the_old_one_no_longer_opens(
    first: Machine,
) -> None:
    vault = first.vault()
    await vault.set_up(PASSPHRASE)
    key = await vault.unlock(PASSPHRASE)
    token = key.encrypt(TEXT, message_aad(vault.user_id or ""))
    before = await first.record()

    await vault.change_passphrase(PASSPHRASE, "a new passphrase")

    restarted = first.vault()
    with pytest.raises(WrongPassphrase):
        await restarted.unlock(PASSPHRASE)
    reopened = await restarted.unlock("a new passphrase")
    assert reopened == key  # the same data key: no message was re-encrypted
    assert reopened.decrypt(token, message_aad(vault.user_id or "")) == TEXT
    assert await first.record() != before


async def test_changing_the_passphrase_needs_the_old_one(first: Machine) -> None:
    await first.vault().set_up(PASSPHRASE)

    with pytest.raises(WrongPassphrase):
        await first.vault().change_passphrase("not it", "a new passphrase")

    assert await first.vault().unlock(PASSPHRASE)


async def test_a_passphrase_can_be_added_to_history_set_up_without_one(first: Machine) -> None:
    key = await first.vault().data_key()

    await first.vault().change_passphrase("", PASSPHRASE)

    assert await first.vault().state() is VaultState.NEEDS_PASSPHRASE
    assert await first.vault().unlock(PASSPHRASE) == key


async def test_the_kit_is_shown_again_only_with_the_passphrase(first: Machine) -> None:
    kit = await first.vault().set_up(PASSPHRASE)

    assert await first.vault().recovery_kit(PASSPHRASE) == kit
    with pytest.raises(WrongPassphrase):
        await first.vault().recovery_kit("guess")


async def test_without_history_there_is_nothing_to_unlock_or_show(first: Machine) -> None:
    for attempt in (first.vault().unlock(), first.vault().recovery_kit()):
        with pytest.raises(EncryptionNotSetUp, match="no encrypted history yet"):
            await attempt


# -- a second machine --------------------------------------------------------------------------


async def test_a_second_data_dir_joined_with_the_kit_decrypts_what_the_first_wrote(
    first: Machine, second: Machine
) -> None:
    vault = first.vault()
    kit = await vault.set_up(PASSPHRASE)
    token = (await vault.unlock(PASSPHRASE)).encrypt(TEXT, message_aad(kit.user_id))
    printed = kit.text

    joined = second.vault()
    key = await joined.join(
        RecoveryKit.parse(printed), PASSPHRASE, wrapped=await cloud_record(first, vault)
    )

    assert key.decrypt(token, message_aad(kit.user_id)) == TEXT
    assert joined.user_id == kit.user_id
    # Joined for good: the next start there needs only the passphrase, not the kit again.
    restarted = second.vault()
    assert await restarted.state() is VaultState.NEEDS_PASSPHRASE
    assert (await restarted.unlock(PASSPHRASE)).decrypt(token, message_aad(kit.user_id)) == TEXT


async def test_without_the_kit_a_second_machine_knows_history_exists_but_cannot_read_it(
    first: Machine, second: Machine
) -> None:
    vault = first.vault()
    await vault.data_key()
    record = await cloud_record(first, vault)
    await second.store.set_setting(WRAPPED_DATA_KEY_SETTING, json.dumps(record.to_dict()))

    stranger = second.vault()

    assert await stranger.state() is VaultState.NEEDS_RECOVERY_KIT
    with pytest.raises(RecoveryKitRequired, match="encrypted, and this computer does not have"):
        await stranger.data_key()
    assert await second.record() == json.dumps(record.to_dict())  # nothing replaced


async def test_joining_with_a_wrong_passphrase_saves_nothing(
    first: Machine, second: Machine
) -> None:
    vault = first.vault()
    kit = await vault.set_up(PASSPHRASE)
    record = await cloud_record(first, vault)

    with pytest.raises(WrongPassphrase):
        await second.vault().join(kit, "wrong", wrapped=record)
    with pytest.raises(PassphraseRequired):
        await second.vault().join(kit, wrapped=record)

    assert second.keyring.secrets == {}
    assert await second.record() is None


async def test_a_typo_in_the_kit_is_caught_before_anything_is_tried(first: Machine) -> None:
    kit = await first.vault().set_up()
    code = kit.code
    typo = kit.text.replace(code, code[:-1] + ("A" if code[-1] != "A" else "B"))

    with pytest.raises(InvalidRecoveryKit, match="has a typo"):
        RecoveryKit.parse(typo)


async def test_a_kit_of_another_history_is_refused_with_the_reason(
    first: Machine, second: Machine
) -> None:
    vault = first.vault()
    kit = await vault.set_up()
    record = await cloud_record(first, vault)

    with pytest.raises(WrongRecoveryKit, match="another user's history"):
        await second.vault().join(RecoveryKit.generate("SomeoneElse123456789"), wrapped=record)
    with pytest.raises(WrongRecoveryKit, match="its secret key is different"):
        await second.vault().join(RecoveryKit.generate(kit.user_id), wrapped=record)


async def test_joining_needs_a_record(second: Machine) -> None:
    with pytest.raises(EncryptionNotSetUp):
        await second.vault().join(RecoveryKit.generate("Ab3dEfGh1jKlMnOpQr5t"))


# -- GPTLAB_RECOVERY_KIT (the configured kit) ----------------------------------------------------


async def test_a_configured_kit_is_used_instead_of_a_new_secret_on_a_first_machine(
    first: Machine,
) -> None:
    kit = RecoveryKit.generate("HeadlessUser12345678")

    vault = first.vault(kit)
    await vault.data_key()

    assert vault.user_id == kit.user_id
    assert await first.vault().recovery_kit() == kit


async def test_a_configured_kit_joins_a_second_machine_on_first_use(
    first: Machine, second: Machine
) -> None:
    vault = first.vault()
    kit = await vault.set_up()
    key = await vault.data_key()
    record = await cloud_record(first, vault)
    await second.store.set_setting(WRAPPED_DATA_KEY_SETTING, json.dumps(record.to_dict()))

    configured = second.vault(RecoveryKit.parse(kit.one_line))
    assert await configured.state() is VaultState.READY
    assert await configured.data_key() == key
    assert await second.vault().data_key() == key  # the secret key is in its keyring now


# -- the API key is no key ---------------------------------------------------------------------


@pytest.mark.parametrize("api_key", ["EMPTY", "ollama", "lm-studio", "sk-test-" + "7f3c" * 10])
async def test_the_api_key_alone_opens_nothing(
    first: Machine, second: Machine, api_key: str
) -> None:
    vault = first.vault()
    kit = await vault.set_up()
    record = await cloud_record(first, vault)
    stored = (await first.record() or "") + " ".join(first.keyring.secrets.values())
    raw = api_key.encode()

    # Kits one might make of the API key (or of GPT Lab's hash of it) open nothing.
    for made_up in (
        hashlib.sha256(raw).digest()[:20],
        bytes.fromhex(user_hash(api_key))[:20],
        raw.ljust(20, b"\0")[:20],
    ):
        with pytest.raises(DecryptionFailed):
            await second.vault().join(RecoveryKit(kit.user_id, made_up), wrapped=record)
        with pytest.raises(DecryptionFailed):
            await second.vault().join(RecoveryKit(kit.user_id, made_up), api_key, wrapped=record)
    assert api_key not in stored and user_hash(api_key) not in stored


# -- damage ------------------------------------------------------------------------------------


async def test_a_record_with_tampered_kdf_parameters_fails_to_open(first: Machine) -> None:
    await first.vault().data_key()
    data = json.loads(await first.record() or "{}")
    await first.store.set_setting(
        WRAPPED_DATA_KEY_SETTING, json.dumps(data | {"memory_kib": FAST.memory_kib * 2})
    )

    with pytest.raises(DecryptionFailed, match="damaged"):
        await first.vault().data_key()


async def test_a_record_demanding_gigabytes_is_refused_without_trying(first: Machine) -> None:
    await first.vault().data_key()
    data = json.loads(await first.record() or "{}")
    await first.store.set_setting(
        WRAPPED_DATA_KEY_SETTING, json.dumps(data | {"memory_kib": 8 * 1024 * 1024})
    )

    with pytest.raises(DecryptionFailed, match="damaged"):
        await asyncio.wait_for(first.vault().data_key(), timeout=2)


@pytest.mark.parametrize(
    "damage",
    ["{not json", '{"version": 1, "keys": []}', "USER-SHORT-KEY"],
    ids=["not-json", "not-a-map", "short-key"],
)
async def test_a_damaged_secret_in_the_keyring_is_reported_and_left_alone(
    first: Machine, damage: str
) -> None:
    vault = first.vault()
    await vault.data_key()
    entry = (SERVICE_NAME, SecretName.SYNC_SECRET.value)
    if damage == "USER-SHORT-KEY":
        damage = json.dumps({"version": 1, "keys": {vault.user_id: "c2hvcnQ="}})
    first.keyring.secrets[entry] = damage

    with pytest.raises(DecryptionFailed, match="keyring is damaged"):
        await first.vault().data_key()
    assert first.keyring.secrets[entry] == damage


# -- migration from the API-key wrap --------------------------------------------------------------


def api_key_wrapped_record(key: DataKey, api_key: str) -> dict[str, object]:
    """A record as earlier versions stored it: scrypt of the API key (their v1 format)."""
    salt, nonce, n, r, p = os.urandom(16), os.urandom(12), 2**14, 8, 1
    kek = Scrypt(salt=b"gptlab-desktop/kek/v1\x00" + salt, length=32, n=n, r=r, p=p)
    aad = b"gptlab-desktop/aad/v1" + b"".join(
        len(part).to_bytes(4, "big") + part
        for part in (b"wrapped-data-key", b"1", b"scrypt", str(n).encode(), b"8", b"1")
    )
    sealed = AESGCM(kek.derive(api_key.encode())).encrypt(nonce, key._key, aad)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "version": 1,
        "kdf": "scrypt",
        "n": n,
        "r": r,
        "p": p,
        "salt": b64(salt),
        "nonce": b64(nonce),
        "ciphertext": b64(sealed),
    }


async def test_a_data_key_wrapped_by_the_api_key_is_replaced_not_carried_over(
    first: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api_key = "sk-test-" + "5a6b" * 10
    old_key = DataKey.generate()
    legacy = api_key_wrapped_record(old_key, api_key)
    await first.store.set_setting(WRAPPED_DATA_KEY_SETTING, json.dumps(legacy))
    vault = first.vault()

    assert await vault.state() is VaultState.NOT_SET_UP
    new_key = await vault.data_key()

    assert new_key != old_key
    stored = json.loads(await first.record() or "{}")
    assert stored["version"] == 2 and stored["kdf"] == "argon2id"
    assert await first.vault().data_key() == new_key
    assert [r.getMessage() for r in caplog.records].count(
        "Found a data key wrapped by the API key (from an earlier version); it protected nothing "
        "and is replaced by one under the sync secret"
    ) == 1
    assert api_key not in caplog.text and old_key._key.hex() not in caplog.text


# -- nothing leaks -----------------------------------------------------------------------------


async def test_no_secret_in_a_repr_a_log_line_or_an_error(
    first: Machine, second: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault = first.vault()
    kit = await vault.set_up(PASSPHRASE)
    key = await vault.unlock(PASSPHRASE)
    await vault.change_passphrase(PASSPHRASE, PASSPHRASE + "!")
    errors: list[BaseException] = []
    for attempt in (
        second.vault().join(kit, PASSPHRASE, wrapped=await cloud_record(first, vault)),
        first.vault().unlock(PASSPHRASE),
        first.vault().data_key(),
    ):
        try:
            await attempt
        except DecryptionFailed as error:
            errors.append(error)
    await second.vault().join(kit, PASSPHRASE + "!", wrapped=await cloud_record(first, vault))

    shown = " ".join(
        [caplog.text, repr(vault), repr(kit), repr(key)] + [f"{e} {e!r}" for e in errors]
    )
    assert len(errors) == 3 and caplog.records
    assert PASSPHRASE not in shown
    assert not any(group in shown for group in kit.code.split("-")[1:])
    for raw in (kit.secret_key, key._key):
        assert raw.hex() not in shown
        assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() not in shown


# -- the real keyring ----------------------------------------------------------------------------


@pytest.mark.keyring_daemon
async def test_the_secret_key_lives_in_the_secret_service_and_nowhere_in_the_data_dir(
    secret_service: SecretServiceDaemon, first: Machine, data_dir: Path
) -> None:
    def vault() -> Vault:
        return Vault(SecretStore(SecretService.Keyring()), first.store, kdf=FAST)

    kit = await vault().set_up()
    key = await vault().data_key()  # a restart: read back from the Secret Service

    assert await vault().recovery_kit() == kit
    [stored] = secret_service.stored_secrets()
    assert base64.urlsafe_b64encode(kit.secret_key).decode() in stored
    assert key._key.hex() not in stored
    await first.store.close()
    files = [path.read_bytes() for path in data_dir.rglob("*") if path.is_file()]
    for content in files:
        assert kit.secret_key not in content and key._key not in content
        assert base64.urlsafe_b64encode(kit.secret_key) not in content


async def test_joining_replaces_a_set_up_of_this_machines_own_and_says_so(
    first: Machine, second: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    vault = first.vault()
    kit = await vault.set_up()
    key = await vault.data_key()
    await second.vault().data_key()  # the second machine had started a history of its own

    joined = await second.vault().join(kit, wrapped=await cloud_record(first, vault))

    assert joined == key
    assert await second.vault().data_key() == key
    assert "replaced by the joined history" in caplog.text


async def test_the_default_key_derivation_runs_off_the_event_loop(first: Machine) -> None:
    vault = Vault(SecretStore(first.keyring), first.store)  # the real cost: ~0.2 s of Argon2id
    loop = asyncio.get_running_loop()
    longest = 0.0

    async def tick() -> None:
        nonlocal longest
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            longest = max(longest, loop.time() - before)

    ticker = asyncio.ensure_future(tick())
    try:
        await vault.set_up(PASSPHRASE)
        await Vault(SecretStore(first.keyring), first.store).unlock(PASSPHRASE)
    finally:
        ticker.cancel()

    assert longest < 0.15  # the loop kept turning (a derivation on it would stall ~0.2 s)
