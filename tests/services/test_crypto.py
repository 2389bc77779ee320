"""Envelope encryption: authenticated messages, a wrapped data key, rotation, GPT Lab imports."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from gptlab_desktop.models import ContextMessage, Role
from gptlab_desktop.services.crypto import (
    NONCE_BYTES,
    TOKEN_PREFIX,
    DataKey,
    WrappedKey,
    associated_data_for,
    context_to_json,
    create_data_key,
    create_data_key_async,
    decrypt_context,
    encrypt_context,
    legacy_decrypt,
    rewrap,
    rewrap_async,
    unwrap_data_key,
    unwrap_data_key_async,
)
from gptlab_desktop.services.errors import DecryptionFailed, ServiceError
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


def test_the_same_secret_unwraps_the_same_data_key() -> None:
    key, wrapped = create_data_key(API_KEY)

    assert unwrap_data_key(wrapped, API_KEY) == key


def test_a_second_machine_with_the_same_secret_reads_the_history() -> None:
    key, wrapped = create_data_key(API_KEY)
    tokens = [key.encrypt(f"message {n}", MESSAGE_AAD) for n in range(3)]
    stored = json.loads(json.dumps(wrapped.to_dict()))  # as it comes back from the database

    other_machine_key = unwrap_data_key(WrappedKey.from_dict(stored), API_KEY)

    assert [other_machine_key.decrypt(t, MESSAGE_AAD) for t in tokens] == [
        "message 0",
        "message 1",
        "message 2",
    ]


def test_another_secret_cannot_unwrap_the_data_key() -> None:
    _, wrapped = create_data_key(API_KEY)

    with pytest.raises(DecryptionFailed, match="different key"):
        unwrap_data_key(wrapped, NEW_API_KEY)


def test_the_user_hash_stored_beside_the_data_does_not_unwrap_the_data_key() -> None:
    _, wrapped = create_data_key(API_KEY)

    with pytest.raises(DecryptionFailed):
        unwrap_data_key(wrapped, user_hash(API_KEY))


def test_after_rewrapping_the_new_secret_reads_the_old_messages() -> None:
    key, wrapped = create_data_key(API_KEY)
    old_token = key.encrypt(TEXT, MESSAGE_AAD)

    rewrapped = rewrap(wrapped, API_KEY, NEW_API_KEY)

    assert unwrap_data_key(rewrapped, NEW_API_KEY).decrypt(old_token, MESSAGE_AAD) == TEXT


def test_after_rewrapping_the_old_secret_no_longer_unwraps() -> None:
    _, wrapped = create_data_key(API_KEY)

    rewrapped = rewrap(wrapped, API_KEY, NEW_API_KEY)

    with pytest.raises(DecryptionFailed):
        unwrap_data_key(rewrapped, API_KEY)


def test_rewrapping_needs_the_old_secret() -> None:
    _, wrapped = create_data_key(API_KEY)

    with pytest.raises(DecryptionFailed):
        rewrap(wrapped, "sk-guess", NEW_API_KEY)


def test_a_wrapped_key_record_with_changed_kdf_parameters_does_not_unwrap() -> None:
    _, wrapped = create_data_key(API_KEY)
    record = wrapped.to_dict() | {"n": 2**14}

    with pytest.raises(DecryptionFailed):
        unwrap_data_key(WrappedKey.from_dict(record), API_KEY)


def test_a_wrapped_key_record_asking_for_an_absurd_kdf_cost_is_refused_as_damaged() -> None:
    _, wrapped = create_data_key(API_KEY)

    with pytest.raises(DecryptionFailed, match="damaged"):
        WrappedKey.from_dict(wrapped.to_dict() | {"n": 2**30})


def test_a_wrapped_key_record_from_a_newer_version_is_refused() -> None:
    _, wrapped = create_data_key(API_KEY)

    with pytest.raises(DecryptionFailed, match="newer version"):
        WrappedKey.from_dict(wrapped.to_dict() | {"version": 2})


def test_a_wrapped_key_record_missing_a_field_is_refused_as_damaged() -> None:
    record = create_data_key(API_KEY)[1].to_dict()
    del record["salt"]

    with pytest.raises(DecryptionFailed, match="damaged"):
        WrappedKey.from_dict(record)


def test_a_wrapped_key_record_holds_no_secret_material_in_the_clear() -> None:
    key, wrapped = create_data_key(API_KEY)
    record = json.dumps(wrapped.to_dict())

    assert API_KEY not in record
    assert user_hash(API_KEY) not in record
    assert base64.urlsafe_b64encode(key._key).rstrip(b"=").decode() not in record


@pytest.mark.asyncio
async def test_the_async_variants_create_unwrap_and_rewrap() -> None:
    key, wrapped = await create_data_key_async(API_KEY)

    rewrapped = await rewrap_async(wrapped, API_KEY, NEW_API_KEY)

    assert await unwrap_data_key_async(rewrapped, NEW_API_KEY) == key


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
