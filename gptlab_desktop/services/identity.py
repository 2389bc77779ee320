"""GPT Lab's ``user_hash``: a one-way hash of a real OpenAI API key, kept as GPT Lab's field.

The construction is GPT Lab's, kept so its ``users/{id}.user_hash`` values still match and its
data stays importable:

    user_hash = hex(PBKDF2-HMAC-SHA256(password=key, salt=key, iterations=200_000, dklen=32))

with the key encoded as UTF-8.

What it is for, and what not. The user is a random id (``Store.local_user``); the hash is only
a field written on that user while a real OpenAI key is in use (``is_openai_key``, with
OpenAI's own API: ``Account.current_user``). It is never used to find a user, and never to
derive a key: encryption is keyed by the sync secret (``crypto.py``, ``vault.py``), because the
API key is sent to the AI provider with every request. GPT Lab used the hash as its lookup key
and keyed its Fernet encryption by it; ``legacy_fernet_key`` rebuilds that key only to import
GPT Lab data.

Why it resists offline guessing. Someone who reads the database sees the hash and wants the
key. An OpenAI API key is a long random string (``sk-…`` followed by well over 150 bits of
randomness), so there is no dictionary to try and no feasible brute force, whatever the salt:
that entropy, not the salt, is what protects it. The 200,000 PBKDF2 iterations multiply the
cost of every guess on top of that. The key is its own salt, which makes the hash deterministic
(GPT Lab's choice, so one key gave one user on every machine): that gives up only protection
against precomputation across users, as impossible over a 150-bit space as brute force. For a
human-chosen password, or a local server's placeholder key (``EMPTY``, ``ollama``), it would be
unacceptable, which is why such keys get no hash.
"""

from __future__ import annotations

import base64
import hashlib

from gptlab_desktop.services.aio import run_blocking

USER_HASH_TYPE = "open_ai_key"
USER_HASH_ITERATIONS = 200_000
# Every kind of OpenAI secret key starts so (sk-, sk-proj-, sk-svcacct-, sk-admin-).
_OPENAI_KEY_PREFIX = "sk-"
_OPENAI_KEY_MIN_LENGTH = 20


def is_openai_key(api_key: str) -> bool:
    """Whether ``api_key`` has the shape of a real OpenAI secret key (not a placeholder)."""
    key = api_key.strip()
    return key.startswith(_OPENAI_KEY_PREFIX) and len(key) >= _OPENAI_KEY_MIN_LENGTH


def user_hash(api_key: str) -> str:
    """GPT Lab's user hash of ``api_key`` (hex, 64 characters); CPU-heavy, ~0.1-0.2 s."""
    if not api_key:
        raise ValueError("The API key is empty.")
    key = api_key.encode("utf-8")
    return hashlib.pbkdf2_hmac("sha256", key, key, USER_HASH_ITERATIONS).hex()


async def user_hash_async(api_key: str) -> str:
    """``user_hash`` on a worker thread, so the event loop keeps running."""
    return await run_blocking(user_hash, api_key)


def legacy_fernet_key(user_hash: str) -> bytes:
    """The Fernet key GPT Lab encrypted a user's messages with (for importing its data only)."""
    try:
        raw = bytes.fromhex(user_hash)
    except ValueError:
        raise ValueError("A user hash is a hexadecimal string.") from None
    if len(raw) != 32:
        raise ValueError("A user hash is 32 bytes (64 hexadecimal characters).")
    return base64.urlsafe_b64encode(raw)
