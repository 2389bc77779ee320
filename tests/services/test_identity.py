"""The user hash (GPT Lab's construction, unchanged) and GPT Lab's legacy Fernet key."""

from __future__ import annotations

import base64
import binascii
import hashlib

import pytest
from cryptography.fernet import Fernet

from gptlab_desktop.services.identity import (
    USER_HASH_ITERATIONS,
    is_openai_key,
    legacy_fernet_key,
    user_hash,
    user_hash_async,
)

API_KEY = "sk-test-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b"


def gptlab_hash_user_string(user_string: str) -> str:
    """GPT Lab's hash_user_string, restated from its description (GPTLAB.md)."""
    salt = user_string.encode()
    key = hashlib.pbkdf2_hmac("sha256", user_string.encode(), salt, 200000)
    return binascii.hexlify(key).decode()


def test_user_hash_is_gptlabs_pbkdf2_with_the_key_as_salt() -> None:
    assert user_hash(API_KEY) == gptlab_hash_user_string(API_KEY)


def test_user_hash_uses_200000_iterations() -> None:
    assert USER_HASH_ITERATIONS == 200_000


def test_user_hash_of_a_non_ascii_key_hashes_its_utf8_bytes() -> None:
    assert user_hash("sk-clé-✓") == gptlab_hash_user_string("sk-clé-✓")


def test_user_hash_is_the_same_every_time_as_gpt_labs_was() -> None:
    assert user_hash(API_KEY) == user_hash(API_KEY)


def test_different_keys_have_different_hashes() -> None:
    assert user_hash(API_KEY) != user_hash(API_KEY + "x")


def test_user_hash_is_64_hex_characters() -> None:
    value = user_hash(API_KEY)

    assert len(value) == 64
    assert bytes.fromhex(value)


def test_an_empty_key_has_no_hash() -> None:
    with pytest.raises(ValueError):
        user_hash("")


@pytest.mark.asyncio
async def test_user_hash_async_gives_the_same_hash() -> None:
    assert await user_hash_async(API_KEY) == gptlab_hash_user_string(API_KEY)


def test_legacy_fernet_key_is_the_hash_bytes_in_urlsafe_base64() -> None:
    hashed = user_hash(API_KEY)

    assert legacy_fernet_key(hashed) == base64.urlsafe_b64encode(bytes.fromhex(hashed))


def test_legacy_fernet_key_is_a_valid_fernet_key() -> None:
    Fernet(legacy_fernet_key(user_hash(API_KEY)))


def test_legacy_fernet_key_refuses_something_that_is_not_a_user_hash() -> None:
    with pytest.raises(ValueError, match="hexadecimal"):
        legacy_fernet_key("not-a-hash")


@pytest.mark.parametrize(
    "key", ["sk-proj-" + "a1" * 40, "sk-" + "Z" * 48, "sk-svcacct-" + "x9" * 30, " sk-" + "k" * 30]
)
def test_keys_of_openais_kind_are_recognised(key: str) -> None:
    assert is_openai_key(key)


@pytest.mark.parametrize("key", ["EMPTY", "ollama", "lm-studio", "sk-no", "", "not-sk-" + "a" * 40])
def test_placeholders_and_other_keys_are_not_openai_keys(key: str) -> None:
    assert not is_openai_key(key)
