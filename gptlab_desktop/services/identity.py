"""Who a user is: a one-way hash of their API key, the same on every machine.

The construction is GPT Lab's, kept so its ``users/{id}.user_hash`` values still match:

    user_hash = hex(PBKDF2-HMAC-SHA256(password=key, salt=key, iterations=200_000, dklen=32))

with the key encoded as UTF-8.

Why it resists offline guessing. Someone who reads the database sees the hash and wants the
key. An OpenAI API key is a long random string (``sk-…`` followed by well over 150 bits of
randomness), so there is no dictionary to try and no feasible brute force, whatever the salt:
that entropy, not the salt, is what protects it. The 200,000 PBKDF2 iterations multiply the
cost of every guess on top of that (useful if a key is ever shorter than it should be).

The honest trade-off. A salt normally is random and stored per user, so equal passwords get
different hashes and one precomputed table cannot attack every user at once. Here the key is its
own salt, which makes the hash deterministic: that is the point, because it is the lookup key
that finds the same user from any machine with nothing else shared. Determinism gives up only
the protection against precomputation across users, and precomputing over a 150-bit space is as
impossible as brute force. For a human-chosen password this construction would be unacceptable
(a common password would have one well-known hash); it is acceptable only because the input is
a high-entropy random secret.

The hash is not a key: it sits in plaintext in the users record. Encryption keys are derived
from the API key by a different derivation (``services/crypto.py``). GPT Lab keyed its Fernet
encryption by this hash; ``legacy_fernet_key`` rebuilds that key only to import GPT Lab data.
"""

from __future__ import annotations

import base64
import hashlib

from gptlab_desktop.services.aio import run_blocking

USER_HASH_TYPE = "open_ai_key"
USER_HASH_ITERATIONS = 200_000


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
