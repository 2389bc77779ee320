"""Envelope encryption of message bodies, and reading GPT Lab's old Fernet tokens.

The scheme:

* Each user has one random 256-bit **data key** (``DataKey``). Every message body, and the
  session's ``messages_str`` context, is encrypted with it using AES-256-GCM: a fresh random
  96-bit nonce per message, and **associated data** naming where the ciphertext belongs (user
  id, document path, field; see ``associated_data_for``). GCM authenticates both, so a damaged
  ciphertext, a wrong key, or a ciphertext copied to another document fails to decrypt
  (``DecryptionFailed``) instead of yielding garbage. The result is a short text token:
  ``"v1." + base64url(nonce | ciphertext | tag)``.
* The data key is stored only **wrapped** (``WrappedKey``, e.g. in the users record): encrypted
  with AES-256-GCM under a **key-encryption key** derived from the user's API key with scrypt
  (n=2**15, r=8, p=1) and a random 128-bit salt kept in the record. Another machine with the
  same API key derives the same key-encryption key, unwraps the same data key, and reads the
  whole history. When the API key changes, ``rewrap`` re-encrypts that one small record;
  no message is re-encrypted.

Why not the user hash. GPT Lab keyed Fernet with ``user_hash``, which is stored in plaintext in
the same database, so reading the database meant reading every transcript. The key-encryption
key here comes from a different derivation — scrypt, a random salt of its own, and a domain
label — so knowing the user hash (PBKDF2 with the key as salt) gives nothing towards it; only
the API key, which the database never sees, opens the data key. scrypt rather than a bare HKDF
because an OpenAI-compatible server may accept a short, human-chosen key: the memory-hard
derivation makes each guess at such a key expensive.

The key derivation costs ~0.1 s of CPU and 32 MiB: from the event loop, use the ``*_async``
variants (they run it on a worker thread). Encrypting and decrypting messages is fast.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gptlab_desktop.models import ContextMessage, Role
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import DecryptionFailed
from gptlab_desktop.services.identity import legacy_fernet_key

TOKEN_PREFIX = "v1."
WRAPPED_KEY_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
_TAG_BYTES = 16

# scrypt's cost: ~0.1 s and 32 MiB (128 * r * n bytes) per derivation.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
# What a stored record may ask for; anything outside is damage (or an attempt to make the app
# spend minutes and gigabytes deriving a key).
_SCRYPT_N_RANGE = (2**14, 2**20)
_SCRYPT_R_MAX = 32
_SCRYPT_P_MAX = 16

_AAD_LABEL = b"gptlab-desktop/aad/v1"
_KEK_LABEL = b"gptlab-desktop/kek/v1\x00"

_DAMAGED = (
    "This encrypted text could not be decrypted: it is damaged, it was moved from where it "
    "was written, or it was encrypted with a different key."
)


def associated_data_for(*parts: str) -> bytes:
    """Associated data binding a ciphertext to its context, e.g. (user id, path, field).

    Each part is length-prefixed, so ("ab", "c") and ("a", "bc") never collide.
    """
    encoded = [_AAD_LABEL]
    for part in parts:
        raw = part.encode("utf-8")
        encoded.append(struct.pack(">I", len(raw)) + raw)
    return b"".join(encoded)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode unpadded base64url strictly; ``ValueError`` on anything else."""
    if not isinstance(text, str):
        raise ValueError("not text")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not base64url") from exc


class DataKey:
    """A user's 256-bit data key; encrypts and decrypts message bodies. Never shown in a repr."""

    __slots__ = ("_aead", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"A data key is {KEY_BYTES} bytes.")
        self._key = bytes(key)
        self._aead = AESGCM(self._key)

    @classmethod
    def generate(cls) -> DataKey:
        """A new random data key."""
        return cls(AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    def __repr__(self) -> str:
        return "DataKey(<hidden>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataKey) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def encrypt(self, plaintext: str, associated_data: bytes) -> str:
        """``plaintext`` as a ``v1.`` token, bound to ``associated_data``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _token_aad(associated_data))
        return TOKEN_PREFIX + _b64encode(nonce + sealed)

    def decrypt(self, token: str, associated_data: bytes) -> str:
        """The plaintext of a ``v1.`` token; ``DecryptionFailed`` unless key and context match."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise DecryptionFailed(
                "This encrypted text is not in a format this version of GPT Lab Desktop can read."
            )
        try:
            raw = _b64decode(token[len(TOKEN_PREFIX) :])
        except ValueError:
            raise DecryptionFailed(_DAMAGED) from None
        if len(raw) < NONCE_BYTES + _TAG_BYTES:
            raise DecryptionFailed(_DAMAGED)
        try:
            plain = self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _token_aad(associated_data)
            )
        except InvalidTag:
            raise DecryptionFailed(_DAMAGED) from None
        return plain.decode("utf-8")


def _token_aad(associated_data: bytes) -> bytes:
    # The format version is authenticated too, so a token cannot be read under another format.
    return TOKEN_PREFIX.encode("ascii") + associated_data


# -- the wrapped data key ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under a key derived from the user's secret; safe to store anywhere."""

    salt: bytes
    nonce: bytes
    ciphertext: bytes
    kdf: str = "scrypt"
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    version: int = WRAPPED_KEY_VERSION

    def to_dict(self) -> dict[str, str | int]:
        """The record as stored (e.g. the users record's ``data_key`` field)."""
        return {
            "version": self.version,
            "kdf": self.kdf,
            "n": self.n,
            "r": self.r,
            "p": self.p,
            "salt": _b64encode(self.salt),
            "nonce": _b64encode(self.nonce),
            "ciphertext": _b64encode(self.ciphertext),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> WrappedKey:
        """Read a stored record; ``DecryptionFailed`` when it is damaged or from a newer app."""
        version = data.get("version")
        if version != WRAPPED_KEY_VERSION or data.get("kdf") != "scrypt":
            raise DecryptionFailed(
                "Your encryption key was stored by a newer version of GPT Lab Desktop, or in a "
                "format it cannot read. Update the app to read your history."
            )
        try:
            n, r, p = (data[name] for name in ("n", "r", "p"))
            if not all(type(value) is int for value in (n, r, p)):
                raise ValueError("scrypt parameters are integers")
            wrapped = cls(
                salt=_b64decode(data["salt"]),  # type: ignore[arg-type]
                nonce=_b64decode(data["nonce"]),  # type: ignore[arg-type]
                ciphertext=_b64decode(data["ciphertext"]),  # type: ignore[arg-type]
                n=n,  # type: ignore[arg-type]
                r=r,  # type: ignore[arg-type]
                p=p,  # type: ignore[arg-type]
            )
            wrapped._check()
        except (KeyError, ValueError):
            raise DecryptionFailed(_DAMAGED_KEY) from None
        return wrapped

    def _check(self) -> None:
        """``ValueError`` unless the record is well formed and its parameters are sane."""
        low, high = _SCRYPT_N_RANGE
        if not (low <= self.n <= high and self.n & (self.n - 1) == 0):
            raise ValueError("scrypt n out of range")
        if not (1 <= self.r <= _SCRYPT_R_MAX and 1 <= self.p <= _SCRYPT_P_MAX):
            raise ValueError("scrypt r or p out of range")
        if len(self.salt) != SALT_BYTES or len(self.nonce) != NONCE_BYTES:
            raise ValueError("wrong salt or nonce size")
        if len(self.ciphertext) != KEY_BYTES + _TAG_BYTES:
            raise ValueError("wrong wrapped key size")

    def _associated_data(self) -> bytes:
        # The parameters are authenticated: a record edited to a cheaper KDF fails to unwrap.
        return associated_data_for(
            "wrapped-data-key", str(self.version), self.kdf, str(self.n), str(self.r), str(self.p)
        )


_DAMAGED_KEY = "Your stored encryption key is damaged, so your encrypted history cannot be read."
_WRONG_SECRET = (
    "Your encrypted history could not be unlocked with this API key. It was encrypted with a "
    "different key: sign in with that key once to move your history to the new one."
)


def _key_encryption_key(secret: str, salt: bytes, n: int, r: int, p: int) -> AESGCM:
    if not secret:
        raise ValueError("The secret is empty.")
    kdf = Scrypt(salt=_KEK_LABEL + salt, length=KEY_BYTES, n=n, r=r, p=p)
    return AESGCM(kdf.derive(secret.encode("utf-8")))


def wrap_data_key(key: DataKey, secret: str) -> WrappedKey:
    """``key`` wrapped under a key derived from ``secret`` (fresh salt and nonce)."""
    template = WrappedKey(
        salt=os.urandom(SALT_BYTES), nonce=os.urandom(NONCE_BYTES), ciphertext=b""
    )
    kek = _key_encryption_key(secret, template.salt, template.n, template.r, template.p)
    ciphertext = kek.encrypt(template.nonce, key._key, template._associated_data())
    return WrappedKey(salt=template.salt, nonce=template.nonce, ciphertext=ciphertext)


def unwrap_data_key(wrapped: WrappedKey, secret: str) -> DataKey:
    """The data key inside ``wrapped``; ``DecryptionFailed`` for another secret or damage."""
    try:
        wrapped._check()
    except ValueError:
        raise DecryptionFailed(_DAMAGED_KEY) from None
    kek = _key_encryption_key(secret, wrapped.salt, wrapped.n, wrapped.r, wrapped.p)
    try:
        raw = kek.decrypt(wrapped.nonce, wrapped.ciphertext, wrapped._associated_data())
    except InvalidTag:
        # A wrong secret and a damaged record look the same to GCM; the wrong secret is the
        # likely one (the API key was replaced), so the message says that.
        raise DecryptionFailed(_WRONG_SECRET) from None
    return DataKey(raw)


def create_data_key(secret: str) -> tuple[DataKey, WrappedKey]:
    """A new data key for a new user, and its wrapped record to store."""
    key = DataKey.generate()
    return key, wrap_data_key(key, secret)


def rewrap(wrapped: WrappedKey, old_secret: str, new_secret: str) -> WrappedKey:
    """The same data key wrapped under ``new_secret`` (the API key changed); messages stay."""
    return wrap_data_key(unwrap_data_key(wrapped, old_secret), new_secret)


async def create_data_key_async(secret: str) -> tuple[DataKey, WrappedKey]:
    """``create_data_key`` on a worker thread."""
    return await run_blocking(create_data_key, secret)


async def unwrap_data_key_async(wrapped: WrappedKey, secret: str) -> DataKey:
    """``unwrap_data_key`` on a worker thread."""
    return await run_blocking(unwrap_data_key, wrapped, secret)


async def rewrap_async(wrapped: WrappedKey, old_secret: str, new_secret: str) -> WrappedKey:
    """``rewrap`` on a worker thread."""
    return await run_blocking(rewrap, wrapped, old_secret, new_secret)


# -- the session context (messages_str) ----------------------------------------------------------


def context_to_json(messages: Sequence[ContextMessage]) -> str:
    """The context as GPT Lab's JSON: a list of ``{role, message, created_date}``."""
    return json.dumps(
        [
            {
                "role": entry.role.value,
                "message": entry.message,
                "created_date": entry.created_date.isoformat(),
            }
            for entry in messages
        ],
        ensure_ascii=False,
    )


def context_from_json(text: str) -> tuple[ContextMessage, ...]:
    """Parse a context written by ``context_to_json`` or by GPT Lab; ``ValueError`` if invalid."""
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError("A context is a JSON list.")
    parsed = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError("A context entry is a JSON object.")
        created = datetime.fromisoformat(str(entry["created_date"]))
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        parsed.append(
            ContextMessage(
                role=Role(entry["role"]), message=str(entry["message"]), created_date=created
            )
        )
    return tuple(parsed)


def encrypt_context(
    messages: Sequence[ContextMessage], key: DataKey, associated_data: bytes
) -> str:
    """The session's context encrypted as one token (the ``messages_str`` field)."""
    return key.encrypt(context_to_json(messages), associated_data)


def decrypt_context(token: str, key: DataKey, associated_data: bytes) -> tuple[ContextMessage, ...]:
    """The context inside a ``messages_str`` token; ``DecryptionFailed`` if it cannot be read."""
    text = key.decrypt(token, associated_data)
    try:
        return context_from_json(text)
    except (ValueError, KeyError, TypeError):
        raise DecryptionFailed(
            "The saved conversation context could not be read; the transcript is unaffected."
        ) from None


# -- GPT Lab's Fernet tokens (import only) -------------------------------------------------------


def legacy_decrypt(token: str | bytes, user_hash: str) -> str:
    """A message GPT Lab encrypted with Fernet keyed by the user hash (for importing its data)."""
    try:
        fernet = Fernet(legacy_fernet_key(user_hash))
        return fernet.decrypt(token).decode("utf-8")
    except (InvalidToken, ValueError, TypeError):
        raise DecryptionFailed(
            "A GPT Lab message could not be decrypted: it is damaged or belongs to another user."
        ) from None
