"""Envelope encryption: authenticated messages, a data key wrapped by the sync secret (never the
API key), passphrase changes, bounded KDF parameters, rich associated data, GPT Lab imports."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from gptlab_desktop.models import ContextMessage, MessageState, Role, SessionStatus
from gptlab_desktop.services.crypto import (
    KDF_MEMORY_KIB_RANGE,
    MIN_SECRET_KEY_BYTES,
    NONCE_BYTES,
    TOKEN_PREFIX,
    DataKey,
    KdfParams,
    SyncSecret,
    WrappedKey,
    associated_data_for,
    context_to_json,
    create_data_key,
    create_data_key_async,
    decrypt_context,
    encrypt_context,
    is_api_key_wrapped,
    legacy_decrypt,
    rewrap,
    rewrap_async,
    unwrap_data_key,
    unwrap_data_key_async,
)
from gptlab_desktop.services.errors import (
    DecryptionFailed,
    PassphraseRequired,
    ServiceError,
    WrongPassphrase,
    WrongRecoveryKit,
)
from gptlab_desktop.services.identity import user_hash

API_KEY = "sk-test-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b"
NEW_API_KEY = "sk-test-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"
MESSAGE_AAD = associated_data_for("user-1", "sessions/s1/messages/m1", "message")
TEXT = "I'd like to practise for a job interview on Thursday."


def flip_byte(token: str, index: int) -> str:
    """``token`` with one bit changed in byte ``index`` of its decoded body."""
    body = token[len(TOKEN_PREFIX) :]
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 0x01
    return TOKEN_PREFIX + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


# -- messages ------------------------------------------------------------------------------------


def test_a_message_decrypts_to_what_was_encrypted() -> None:
    key = DataKey.generate()

    assert key.decrypt(key.encrypt(TEXT, MESSAGE_AAD), MESSAGE_AAD) == TEXT


def test_a_token_is_versioned_compact_text() -> None:
    token = DataKey.generate().encrypt(TEXT, MESSAGE_AAD)

    assert token.startswith("v1.")
    assert token.isascii()
    assert TEXT not in token


def test_encrypting_the_same_text_twice_gives_different_tokens() -> None:
    key = DataKey.generate()

    assert key.encrypt(TEXT, MESSAGE_AAD) != key.encrypt(TEXT, MESSAGE_AAD)


@pytest.mark.parametrize(
    "index", [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + 5, -1], ids=lambda i: f"byte{i}"
)
def test_a_changed_byte_anywhere_in_nonce_ciphertext_or_tag_is_detected(index: int) -> None:
    key = DataKey.generate()
    token = key.encrypt(TEXT, MESSAGE_AAD)

    with pytest.raises(DecryptionFailed, match="could not be decrypted"):
        key.decrypt(flip_byte(token, index), MESSAGE_AAD)


def test_a_token_moved_to_another_document_does_not_decrypt() -> None:
    key = DataKey.generate()
    token = key.encrypt(TEXT, MESSAGE_AAD)
    elsewhere = associated_data_for("user-1", "sessions/s1/messages/m2", "message")

    with pytest.raises(DecryptionFailed, match="moved from where it was written"):
        key.decrypt(token, elsewhere)


def test_a_token_does_not_decrypt_with_another_users_key() -> None:
    token = DataKey.generate().encrypt(TEXT, MESSAGE_AAD)

    with pytest.raises(DecryptionFailed, match="different key"):
        DataKey.generate().decrypt(token, MESSAGE_AAD)


def test_a_truncated_token_is_refused() -> None:
    key = DataKey.generate()

    with pytest.raises(DecryptionFailed):
        key.decrypt(key.encrypt(TEXT, MESSAGE_AAD)[:20], MESSAGE_AAD)


def test_a_token_of_an_unknown_format_is_refused_with_its_own_message() -> None:
    key = DataKey.generate()
    token = key.encrypt(TEXT, MESSAGE_AAD)

    with pytest.raises(DecryptionFailed, match="not in a format"):
        key.decrypt("v2." + token[len(TOKEN_PREFIX) :], MESSAGE_AAD)


def test_a_token_that_is_not_base64_is_refused() -> None:
    with pytest.raises(DecryptionFailed):
        DataKey.generate().decrypt("v1.not base64!", MESSAGE_AAD)


def test_decryption_failed_is_a_service_error_without_the_plaintext() -> None:
    key = DataKey.generate()
    token = key.encrypt(TEXT, MESSAGE_AAD)

    with pytest.raises(ServiceError) as caught:
        DataKey.generate().decrypt(token, MESSAGE_AAD)

    assert TEXT not in str(caught.value)


def test_associated_data_parts_cannot_run_into_each_other() -> None:
    assert associated_data_for("ab", "c") != associated_data_for("a", "bc")


def test_a_data_key_is_never_shown_in_its_repr() -> None:
    assert repr(DataKey(b"\x07" * 32)) == "DataKey(<hidden>)"


@given(text=st.text(), parts=st.lists(st.text(), max_size=4))
def test_any_text_round_trips_under_any_context(text: str, parts: list[str]) -> None:
    key = DataKey(b"\x42" * 32)
    aad = associated_data_for(*parts)

    assert key.decrypt(key.encrypt(text, aad), aad) == text


# -- the wrapped data key ------------------------------------------------------------------------


# Cheap enough for tests (the smallest cost a record may ask for); the default is tested once.
FAST = KdfParams(memory_kib=KDF_MEMORY_KIB_RANGE[0], iterations=1, lanes=1)
USER = "Ab3dEfGh1jKlMnOpQr5t"
PASSPHRASE = "correct horse battery staple"


def new_record(secret: SyncSecret | None = None) -> tuple[DataKey, WrappedKey, SyncSecret]:
    secret = secret or SyncSecret.generate()
    key, wrapped = create_data_key(secret, user_id=USER, kdf=FAST)
    return key, wrapped, secret


def test_the_same_sync_secret_unwraps_the_same_data_key() -> None:
    key, wrapped, secret = new_record()

    assert unwrap_data_key(wrapped, secret) == key


def test_the_default_cost_is_argon2id_at_64_mib_and_round_trips() -> None:
    secret = SyncSecret.generate(PASSPHRASE)
    key, wrapped = create_data_key(secret, user_id=USER)

    assert wrapped.to_dict()["kdf"] == "argon2id"
    assert (wrapped.kdf.memory_kib, wrapped.kdf.iterations, wrapped.kdf.lanes) == (65536, 3, 4)
    assert unwrap_data_key(wrapped, SyncSecret(secret.secret_key, PASSPHRASE)) == key


def test_a_second_machine_with_the_same_secret_reads_the_history() -> None:
    key, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))
    tokens = [key.encrypt(f"message {n}", MESSAGE_AAD) for n in range(3)]
    stored = json.loads(json.dumps(wrapped.to_dict()))  # as it comes back from the cloud

    other = unwrap_data_key(WrappedKey.from_dict(stored), SyncSecret(secret.secret_key, PASSPHRASE))

    assert [other.decrypt(t, MESSAGE_AAD) for t in tokens] == [f"message {n}" for n in range(3)]


def test_another_secret_key_is_told_apart_as_another_recovery_kit() -> None:
    _, wrapped, _ = new_record()

    with pytest.raises(WrongRecoveryKit, match="not the one your encrypted history was locked"):
        unwrap_data_key(wrapped, SyncSecret.generate())


def test_a_wrong_passphrase_says_so() -> None:
    _, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))

    with pytest.raises(WrongPassphrase, match="That passphrase does not unlock"):
        unwrap_data_key(wrapped, secret.with_passphrase("correct horse battery stapler"))


def test_a_missing_passphrase_is_asked_for() -> None:
    _, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))

    with pytest.raises(PassphraseRequired, match="protected by a passphrase"):
        unwrap_data_key(wrapped, secret.with_passphrase(""))


def test_a_passphrase_for_a_record_without_one_is_refused_with_the_reason() -> None:
    _, wrapped, secret = new_record()

    with pytest.raises(WrongPassphrase, match="has no passphrase"):
        unwrap_data_key(wrapped, secret.with_passphrase(PASSPHRASE))


def test_a_passphrase_composed_differently_still_opens() -> None:
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    key, wrapped, secret = new_record(SyncSecret.generate(composed))

    assert unwrap_data_key(wrapped, secret.with_passphrase(decomposed)) == key


@pytest.mark.parametrize("api_key", ["EMPTY", "ollama", "lm-studio", API_KEY])
def test_the_api_key_alone_opens_nothing(api_key: str) -> None:
    _, wrapped, secret = new_record()
    raw = api_key.encode()
    # Every way one might try to make key material of an API key (or of its user hash).
    guesses = [
        SyncSecret(raw.ljust(MIN_SECRET_KEY_BYTES, b"\0")),
        SyncSecret(hashlib.sha256(raw).digest()),
        SyncSecret(bytes.fromhex(user_hash(api_key))),
        SyncSecret(hashlib.sha256(raw).digest(), api_key),
        secret.with_passphrase(api_key),
    ]
    record = json.dumps(wrapped.to_dict())

    for guess in guesses:
        with pytest.raises(DecryptionFailed):
            unwrap_data_key(wrapped, guess)
    assert api_key not in record and user_hash(api_key) not in record


def test_changing_the_passphrase_keeps_the_data_key_and_old_messages_readable() -> None:
    key, wrapped, secret = new_record()
    old_token = key.encrypt(TEXT, MESSAGE_AAD)

    rewrapped = rewrap(wrapped, secret, secret.with_passphrase(PASSPHRASE))

    opened = unwrap_data_key(rewrapped, secret.with_passphrase(PASSPHRASE))
    assert opened.decrypt(old_token, MESSAGE_AAD) == TEXT
    assert rewrapped.salt != wrapped.salt and rewrapped.has_passphrase


def test_after_a_passphrase_change_the_old_passphrase_no_longer_opens() -> None:
    _, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))

    rewrapped = rewrap(wrapped, secret, secret.with_passphrase("a new passphrase"))

    with pytest.raises(WrongPassphrase):
        unwrap_data_key(rewrapped, secret)


def test_rewrapping_needs_the_old_passphrase() -> None:
    _, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))

    with pytest.raises(WrongPassphrase):
        rewrap(wrapped, secret.with_passphrase("guess"), secret.with_passphrase("new one"))


@pytest.mark.parametrize(
    "change",
    [
        {"memory_kib": KDF_MEMORY_KIB_RANGE[0] * 2},
        {"iterations": 2},
        {"lanes": 2},
        {"user_id": "SomeoneElse123456789"},
    ],
    ids=["memory", "iterations", "lanes", "user"],
)
def test_a_record_with_changed_parameters_does_not_unwrap(change: dict[str, object]) -> None:
    _, wrapped, secret = new_record()

    with pytest.raises(DecryptionFailed, match="damaged"):
        unwrap_data_key(WrappedKey.from_dict(wrapped.to_dict() | change), secret)


def test_a_record_edited_to_claim_no_passphrase_does_not_unwrap() -> None:
    _, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))
    edited = WrappedKey.from_dict(wrapped.to_dict() | {"has_passphrase": False})

    with pytest.raises(DecryptionFailed, match="damaged"):
        unwrap_data_key(edited, secret.with_passphrase(""))


@pytest.mark.parametrize(
    "change",
    [
        {"memory_kib": 4 * 1024 * 1024},  # 4 GiB
        {"iterations": 1_000},
        {"lanes": 64},
        {"memory_kib": 1},
        {"iterations": "3"},
    ],
    ids=["gigabytes", "minutes", "lanes", "tiny", "text"],
)
def test_a_record_asking_for_an_absurd_cost_is_refused_at_once(change: dict[str, object]) -> None:
    _, wrapped, _ = new_record()
    started = time.perf_counter()

    with pytest.raises(DecryptionFailed, match="damaged"):
        WrappedKey.from_dict(wrapped.to_dict() | change)

    assert time.perf_counter() - started < 0.5


def test_a_hostile_record_built_in_code_is_refused_before_any_derivation() -> None:
    _, wrapped, secret = new_record()
    hostile = dataclasses.replace(wrapped, kdf=KdfParams(memory_kib=2**22, iterations=1000))

    with pytest.raises(DecryptionFailed, match="damaged"):
        unwrap_data_key(hostile, secret)


def test_a_record_of_another_version_is_refused() -> None:
    _, wrapped, _ = new_record()

    with pytest.raises(DecryptionFailed, match="another version"):
        WrappedKey.from_dict(wrapped.to_dict() | {"version": 3})


def test_the_retired_api_key_record_is_recognised_and_not_read() -> None:
    legacy = {"version": 1, "kdf": "scrypt", "n": 2**15, "r": 8, "p": 1, "salt": "", "nonce": ""}

    assert is_api_key_wrapped(legacy)
    assert not is_api_key_wrapped(new_record()[1].to_dict())
    with pytest.raises(DecryptionFailed):
        WrappedKey.from_dict(legacy)


def test_a_record_missing_a_field_is_refused_as_damaged() -> None:
    record = new_record()[1].to_dict()
    del record["salt"]

    with pytest.raises(DecryptionFailed, match="damaged"):
        WrappedKey.from_dict(record)


def test_a_record_holds_no_secret_material_in_the_clear() -> None:
    key, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))
    record = json.dumps(wrapped.to_dict())

    for raw in (key._key, secret.secret_key):
        assert raw.hex() not in record
        assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() not in record
    assert PASSPHRASE not in record


def test_no_repr_or_error_shows_the_sync_secret() -> None:
    _, wrapped, secret = new_record(SyncSecret.generate(PASSPHRASE))
    with pytest.raises(WrongPassphrase) as caught:
        unwrap_data_key(wrapped, secret.with_passphrase("wrong guess"))

    shown = repr(secret) + str(secret) + repr(wrapped) + str(caught.value)
    assert PASSPHRASE not in shown and "wrong guess" not in shown
    assert secret.secret_key.hex() not in shown and str(secret.secret_key) not in shown


def test_a_secret_key_shorter_than_128_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        SyncSecret(b"\x01" * 15)


@pytest.mark.asyncio
async def test_the_async_variants_create_unwrap_and_rewrap() -> None:
    secret = SyncSecret.generate()
    key, wrapped = await create_data_key_async(secret, user_id=USER, kdf=FAST)

    rewrapped = await rewrap_async(wrapped, secret, secret.with_passphrase(PASSPHRASE))

    assert await unwrap_data_key_async(rewrapped, secret.with_passphrase(PASSPHRASE)) == key


# -- associated data ---------------------------------------------------------------------------

WHEN = datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)


def message_aad(**context: object) -> bytes:
    base: dict[str, object] = {
        "role": Role.USER,
        "state": MessageState.COMPLETE,
        "created_date": WHEN,
        "revision": 3,
    }
    return associated_data_for(USER, "sessions/s1/messages/m1", "message", **(base | context))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"role": Role.ASSISTANT},
        {"state": MessageState.INTERRUPTED},
        {"created_date": WHEN + timedelta(microseconds=1)},
        {"revision": 2},
    ],
    ids=["role", "state", "created", "revision"],
)
def test_a_message_token_is_bound_to_its_role_state_date_and_revision(
    change: dict[str, object],
) -> None:
    key = DataKey.generate()
    token = key.encrypt(TEXT, message_aad())

    assert key.decrypt(token, message_aad()) == TEXT
    with pytest.raises(DecryptionFailed):
        key.decrypt(token, message_aad(**change))


def test_the_same_instant_in_another_timezone_is_the_same_context() -> None:
    paris = WHEN.astimezone(timezone(timedelta(hours=1)))

    assert message_aad(created_date=paris) == message_aad()
    assert message_aad(role="user", state="complete") == message_aad()


def test_a_named_part_cannot_pass_for_a_positional_one() -> None:
    assert associated_data_for("u", "p", "f", role="user") != associated_data_for(
        "u", "p", "f", "role", "user"
    )


def test_a_naive_created_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        associated_data_for("u", "p", "f", created_date=datetime(2026, 1, 5))


# -- the session context (messages_str) ----------------------------------------------------------

CONTEXT = (
    ContextMessage(
        Role.ASSISTANT, "Hello! What shall we work on?", datetime(2026, 1, 5, tzinfo=UTC)
    ),
    ContextMessage(Role.USER, "My interview answers.", datetime(2026, 1, 5, 0, 1, tzinfo=UTC)),
)
CONTEXT_AAD = associated_data_for("user-1", "sessions/s1", "messages_str")


def test_the_context_round_trips_through_one_token() -> None:
    key = DataKey.generate()

    assert decrypt_context(encrypt_context(CONTEXT, key, CONTEXT_AAD), key, CONTEXT_AAD) == CONTEXT


def test_the_context_json_is_gptlabs_list_of_role_message_created_date() -> None:
    assert json.loads(context_to_json(CONTEXT)) == [
        {
            "role": "assistant",
            "message": "Hello! What shall we work on?",
            "created_date": "2026-01-05T00:00:00+00:00",
        },
        {
            "role": "user",
            "message": "My interview answers.",
            "created_date": "2026-01-05T00:01:00+00:00",
        },
    ]


def test_a_context_keeps_the_timezone_of_its_dates() -> None:
    key = DataKey.generate()
    pacific = datetime(2023, 5, 1, 2, 30, tzinfo=timezone(timedelta(hours=-7)))
    context = (ContextMessage(Role.USER, "hi", pacific),)

    [entry] = decrypt_context(encrypt_context(context, key, CONTEXT_AAD), key, CONTEXT_AAD)

    assert entry.created_date == pacific
    assert entry.created_date.utcoffset() == timedelta(hours=-7)


def test_a_token_that_holds_no_context_is_refused() -> None:
    key = DataKey.generate()
    token = key.encrypt("just a message", CONTEXT_AAD)

    with pytest.raises(DecryptionFailed, match="context"):
        decrypt_context(token, key, CONTEXT_AAD)


# -- GPT Lab imports -----------------------------------------------------------------------------


def gptlab_encrypt(hashed: str, message: str) -> bytes:
    """GPT Lab's encrypt_user_message, restated: Fernet keyed by the hex hash as base64url."""
    return Fernet(base64.urlsafe_b64encode(bytes.fromhex(hashed))).encrypt(message.encode())


def test_a_gptlab_message_decrypts_with_its_users_hash() -> None:
    hashed = user_hash(API_KEY)

    assert legacy_decrypt(gptlab_encrypt(hashed, TEXT), hashed) == TEXT


def test_a_gptlab_message_given_as_text_decrypts_too() -> None:
    hashed = user_hash(API_KEY)

    assert legacy_decrypt(gptlab_encrypt(hashed, TEXT).decode(), hashed) == TEXT


def test_a_gptlab_message_does_not_decrypt_with_another_users_hash() -> None:
    token = gptlab_encrypt(user_hash(API_KEY), TEXT)

    with pytest.raises(DecryptionFailed, match="GPT Lab message"):
        legacy_decrypt(token, user_hash(NEW_API_KEY))


def test_a_sessions_status_number_binds_as_its_state() -> None:
    started = associated_data_for("u", "sessions/s1", "title", state=SessionStatus.STARTED)

    assert started == associated_data_for(
        "u", "sessions/s1", "title", state=int(SessionStatus.STARTED)
    )
    assert started != associated_data_for(
        "u", "sessions/s1", "title", state=SessionStatus.COMPLETED
    )
