"""Envelope encryption of what goes to the cloud, keyed by a sync secret no server ever sees.

The scheme:

* Each user has one random 256-bit **data key** (``DataKey``). Every message body, and the
  session's ``messages_str`` context, title and recap, is encrypted with it using AES-256-GCM:
  a fresh random 96-bit nonce per ciphertext, and **associated data** naming where the
  ciphertext belongs (user id, document path, field, and for a message its role, state, created
  date and revision; see ``associated_data_for``). GCM authenticates both, so a damaged
  ciphertext, a wrong key, or a ciphertext copied to another document or replayed over a newer
  one fails to decrypt (``DecryptionFailed``) instead of yielding garbage. The result is a short
  text token: ``"v1." + base64url(nonce | ciphertext | tag)``.
* The data key is stored only **wrapped** (``WrappedKey``: locally in a setting, in the cloud in
  the users record's ``data_key`` field): encrypted with AES-256-GCM under a **key-encryption
  key** derived with Argon2id from the user's **sync secret** (``SyncSecret``): a random 160-bit
  secret key that never leaves the machine except in the recovery kit the user keeps
  (``recovery_kit.py``; the key itself lives in the OS keyring, ``vault.py``), plus an optional
  passphrase. Argon2id takes the secret key as its secret input and the passphrase as its
  password, with a random 128-bit salt and the cost parameters kept in the record; the record's
  version, parameters, user id, secret-key id and whether it has a passphrase are the wrap's
  associated data, so a record edited to a cheaper derivation (or to another user) fails to
  unwrap, and parameters outside sane bounds are refused before any work is done. Changing the
  passphrase re-wraps that one small record (``rewrap``); no message is re-encrypted.

Why not the API key. The first design derived the key-encryption key from the API key, but the
API key is sent to the AI provider — and to any compatible server or proxy on the way — with
every request, and local servers share well-known placeholder keys (``EMPTY``, ``ollama``,
``lm-studio``): whoever saw one could unwrap every record. Nothing here takes the API key, and
nothing in a record is derived from it. Why not the user hash: it is GPT Lab's plaintext field
(``identity.py``), never key material.

Why Argon2id when the secret key alone has 160 bits: the cost protects the passphrase (and so
the history) if the secret key ever leaks from the keyring or a kit left lying around. The
default cost (64 MiB, 3 passes, 4 lanes, RFC 9106's second recommendation) is ~0.2 s: from the
event loop use the ``*_async`` variants (they run it on a worker thread). Encrypting and
decrypting messages is fast.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from gptlab_desktop.models import ContextMessage, Role
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import (
    DecryptionFailed,
    PassphraseRequired,
    WrongPassphrase,
    WrongRecoveryKit,
)
from gptlab_desktop.services.identity import legacy_fernet_key

TOKEN_PREFIX = "v1."
# Version 1 was the API-key scrypt wrap (retired; vault.py replaces such a record).
WRAPPED_KEY_VERSION = 2
LEGACY_API_KEY_WRAP_VERSION = 1
KDF_NAME = "argon2id"
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
MIN_SECRET_KEY_BYTES = 16  # 128 bits
_TAG_BYTES = 16
_KEY_ID_BYTES = 8

# What a stored record may ask Argon2id for; anything outside is damage (or an attempt to make
# the app spend minutes and gigabytes deriving a key). At the maximum: 256 MiB, a few seconds.
KDF_MEMORY_KIB_RANGE = (8 * 1024, 256 * 1024)
KDF_ITERATIONS_RANGE = (1, 10)
KDF_LANES_RANGE = (1, 8)

_AAD_LABEL = b"gptlab-desktop/aad/v2"
_KEK_LABEL = b"gptlab-desktop/kek/v2"
_KEY_ID_LABEL = b"gptlab-desktop/secret-key-id/v1\x00"
# Tags in the associated data: a positional part can never pass for a named one.
_PART = b"p"
_NAMED = b"n"

_DAMAGED = (
    "This encrypted text could not be decrypted: it is damaged, it was moved from where it "
    "was written, or it was encrypted with a different key."
)


def associated_data_for(
    *parts: str,
    role: str | None = None,
    state: str | int | None = None,
    created_date: datetime | None = None,
    revision: int | None = None,
) -> bytes:
    """Associated data binding a ciphertext to its context.

    The convention is ``(user id, document path, field)`` positionally, then what else the
    document says about the ciphertext by name: a message's ``role`` and ``state`` (enum values
    or their text; a session's ``status`` number as its state), its ``created_date``
    (timezone-aware; bound to the microsecond, in UTC) and a ``revision`` (the document's write
    counter, so an older version replayed over a newer one fails). A name left out is not
    bound. Each part is tagged and length-prefixed, so ("ab", "c") and ("a", "bc") never
    collide, nor a part with a named one.
    """
    encoded = [_AAD_LABEL]
    for part in parts:
        encoded.append(_tagged(_PART, part))
    named: list[tuple[str, str]] = []
    if role is not None:
        named.append(("role", str(getattr(role, "value", role))))
    if state is not None:
        named.append(("state", str(getattr(state, "value", state))))
    if created_date is not None:
        if created_date.tzinfo is None:
            raise ValueError("A created date in associated data must be timezone-aware.")
        named.append(("created_date", created_date.astimezone(UTC).isoformat("T", "microseconds")))
    if revision is not None:
        if type(revision) is not int or revision < 0:
            raise ValueError("A revision is a whole number, 0 or more.")
        named.append(("revision", str(revision)))
    for name, value in named:
        encoded.append(_tagged(_NAMED, name) + _tagged(_NAMED, value))
    return b"".join(encoded)


def _tagged(tag: bytes, text: str) -> bytes:
    raw = text.encode("utf-8")
    return tag + struct.pack(">I", len(raw)) + raw


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


# -- the sync secret and the wrapped data key ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id's cost, as a record stores it: memory in KiB, passes, lanes."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    def check(self) -> None:
        """``ValueError`` unless every parameter is an integer within the accepted bounds."""
        for value, (low, high) in (
            (self.memory_kib, KDF_MEMORY_KIB_RANGE),
            (self.iterations, KDF_ITERATIONS_RANGE),
            (self.lanes, KDF_LANES_RANGE),
        ):
            if type(value) is not int or not low <= value <= high:
                raise ValueError("Argon2id parameter out of bounds")


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True, slots=True, repr=False)
class SyncSecret:
    """What opens the data key: the secret key from the keyring (or the recovery kit) and the
    optional passphrase. Never shown in a repr; never made from the API key."""

    secret_key: bytes
    passphrase: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.secret_key, bytes) or len(self.secret_key) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"A secret key has at least {MIN_SECRET_KEY_BYTES * 8} bits.")
        if not isinstance(self.passphrase, str):
            raise ValueError("A passphrase is text.")
        # The same passphrase typed on another system may arrive composed differently.
        object.__setattr__(self, "passphrase", unicodedata.normalize("NFC", self.passphrase))

    def __repr__(self) -> str:
        return f"SyncSecret(secret_key=<hidden>, has_passphrase={self.has_passphrase})"

    @classmethod
    def generate(cls, passphrase: str = "", *, size: int = 20) -> SyncSecret:
        """A new random secret key (160 bits by default), with ``passphrase``."""
        return cls(os.urandom(size), passphrase)

    @property
    def has_passphrase(self) -> bool:
        """Whether a passphrase is part of this secret."""
        return bool(self.passphrase)

    @property
    def key_id(self) -> str:
        """A public name of the secret key (a one-way hash, no help in guessing it).

        Stored in the record so a recovery kit for another history is told apart from a wrong
        passphrase; it depends on the secret key only, so it says nothing about the passphrase.
        """
        digest = hashlib.sha256(_KEY_ID_LABEL + self.secret_key).digest()
        return _b64encode(digest[:_KEY_ID_BYTES])

    def with_passphrase(self, passphrase: str) -> SyncSecret:
        """The same secret key with another passphrase (``""``: none)."""
        return SyncSecret(self.secret_key, passphrase)


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under a key derived from the user's sync secret; safe to store
    anywhere (it is what the users record's ``data_key`` field holds)."""

    user_id: str
    key_id: str
    has_passphrase: bool
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    kdf: KdfParams = DEFAULT_KDF
    version: int = WRAPPED_KEY_VERSION

    def to_dict(self) -> dict[str, str | int | bool]:
        """The record as stored (a setting's JSON, the users record's ``data_key`` field)."""
        return {
            "version": self.version,
            "kdf": KDF_NAME,
            "memory_kib": self.kdf.memory_kib,
            "iterations": self.kdf.iterations,
            "lanes": self.kdf.lanes,
            "user_id": self.user_id,
            "key_id": self.key_id,
            "has_passphrase": self.has_passphrase,
            "salt": _b64encode(self.salt),
            "nonce": _b64encode(self.nonce),
            "ciphertext": _b64encode(self.ciphertext),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> WrappedKey:
        """Read a stored record; ``DecryptionFailed`` when it is damaged or from another app
        version (``is_api_key_wrapped`` tells the retired API-key records apart first)."""
        if data.get("version") != WRAPPED_KEY_VERSION or data.get("kdf") != KDF_NAME:
            raise DecryptionFailed(
                "Your encryption key was stored by another version of GPT Lab Desktop, in a "
                "format this one cannot read. Update the app to read your history."
            )
        try:
            kdf = KdfParams(
                memory_kib=data["memory_kib"],  # type: ignore[arg-type]
                iterations=data["iterations"],  # type: ignore[arg-type]
                lanes=data["lanes"],  # type: ignore[arg-type]
            )
            user_id, key_id, has_passphrase = (
                data["user_id"],
                data["key_id"],
                data["has_passphrase"],
            )
            if not (isinstance(user_id, str) and isinstance(key_id, str)):
                raise ValueError("ids are text")
            if type(has_passphrase) is not bool:
                raise ValueError("has_passphrase is a boolean")
            wrapped = cls(
                user_id=user_id,
                key_id=key_id,
                has_passphrase=has_passphrase,
                salt=_b64decode(data["salt"]),  # type: ignore[arg-type]
                nonce=_b64decode(data["nonce"]),  # type: ignore[arg-type]
                ciphertext=_b64decode(data["ciphertext"]),  # type: ignore[arg-type]
                kdf=kdf,
            )
            wrapped._check()
        except (KeyError, ValueError, TypeError):
            raise DecryptionFailed(_DAMAGED_KEY) from None
        return wrapped

    def _check(self) -> None:
        """``ValueError`` unless the record is well formed and its parameters are sane."""
        self.kdf.check()
        if not self.user_id or not self.key_id:
            raise ValueError("missing user id or key id")
        if len(self.salt) != SALT_BYTES or len(self.nonce) != NONCE_BYTES:
            raise ValueError("wrong salt or nonce size")
        if len(self.ciphertext) != KEY_BYTES + _TAG_BYTES:
            raise ValueError("wrong wrapped key size")

    def _associated_data(self) -> bytes:
        # Everything the record says is authenticated: edited to a cheaper derivation, to
        # another user, or to claim it has no passphrase, it fails to unwrap.
        return associated_data_for(
            "wrapped-data-key",
            str(self.version),
            KDF_NAME,
            str(self.kdf.memory_kib),
            str(self.kdf.iterations),
            str(self.kdf.lanes),
            self.user_id,
            self.key_id,
            "passphrase" if self.has_passphrase else "no-passphrase",
        )


def is_api_key_wrapped(data: Mapping[str, object]) -> bool:
    """Whether a stored record is the retired kind, wrapped by a key derived from the API key."""
    return data.get("version") == LEGACY_API_KEY_WRAP_VERSION and data.get("kdf") == "scrypt"


_DAMAGED_KEY = "Your stored encryption key is damaged, so your encrypted history cannot be read."
_OTHER_KIT = (
    "This recovery kit is not the one your encrypted history was locked with: its secret key is "
    "different. Use the kit you were given when encryption was set up."
)
_NO_PASSPHRASE_SET = (
    "Your encrypted history has no passphrase: leave the passphrase empty to unlock it."
)


def _key_encryption_key(secret: SyncSecret, salt: bytes, kdf: KdfParams) -> AESGCM:
    argon2 = Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_kib,
        secret=secret.secret_key,
        ad=_KEK_LABEL,
    )
    return AESGCM(argon2.derive(secret.passphrase.encode("utf-8")))


def wrap_data_key(
    key: DataKey, secret: SyncSecret, *, user_id: str, kdf: KdfParams = DEFAULT_KDF
) -> WrappedKey:
    """``key`` wrapped for ``user_id`` under a key derived from ``secret`` (fresh salt, nonce)."""
    kdf.check()
    template = WrappedKey(
        user_id=user_id,
        key_id=secret.key_id,
        has_passphrase=secret.has_passphrase,
        salt=os.urandom(SALT_BYTES),
        nonce=os.urandom(NONCE_BYTES),
        ciphertext=b"",
        kdf=kdf,
    )
    kek = _key_encryption_key(secret, template.salt, kdf)
    ciphertext = kek.encrypt(template.nonce, key._key, template._associated_data())
    wrapped = WrappedKey(
        user_id=user_id,
        key_id=template.key_id,
        has_passphrase=template.has_passphrase,
        salt=template.salt,
        nonce=template.nonce,
        ciphertext=ciphertext,
        kdf=kdf,
    )
    wrapped._check()
    return wrapped


def unwrap_data_key(wrapped: WrappedKey, secret: SyncSecret) -> DataKey:
    """The data key inside ``wrapped``. Typed ``DecryptionFailed`` errors say why not:
    ``WrongRecoveryKit`` (another secret key), ``PassphraseRequired``, ``WrongPassphrase``, or
    a damaged record."""
    try:
        wrapped._check()
    except ValueError:
        # Before any derivation: a hostile record's parameters cost nothing.
        raise DecryptionFailed(_DAMAGED_KEY) from None
    if secret.key_id != wrapped.key_id:
        raise WrongRecoveryKit(_OTHER_KIT)
    if wrapped.has_passphrase and not secret.has_passphrase:
        raise PassphraseRequired()
    if secret.has_passphrase and not wrapped.has_passphrase:
        raise WrongPassphrase(_NO_PASSPHRASE_SET)
    kek = _key_encryption_key(secret, wrapped.salt, wrapped.kdf)
    try:
        raw = kek.decrypt(wrapped.nonce, wrapped.ciphertext, wrapped._associated_data())
    except InvalidTag:
        # The secret key matched its id, so with a passphrase the passphrase is the likely
        # culprit; without one, the record was damaged or edited.
        if wrapped.has_passphrase:
            raise WrongPassphrase() from None
        raise DecryptionFailed(_DAMAGED_KEY) from None
    return DataKey(raw)


def create_data_key(
    secret: SyncSecret, *, user_id: str, kdf: KdfParams = DEFAULT_KDF
) -> tuple[DataKey, WrappedKey]:
    """A new data key for a new user, and its wrapped record to store."""
    key = DataKey.generate()
    return key, wrap_data_key(key, secret, user_id=user_id, kdf=kdf)


def rewrap(
    wrapped: WrappedKey, old: SyncSecret, new: SyncSecret, *, kdf: KdfParams | None = None
) -> WrappedKey:
    """The same data key wrapped under ``new`` (a changed passphrase); no message changes.

    Keeps the record's cost unless ``kdf`` is given; the salt and nonce are fresh.
    """
    key = unwrap_data_key(wrapped, old)
    return wrap_data_key(key, new, user_id=wrapped.user_id, kdf=kdf or wrapped.kdf)


async def create_data_key_async(
    secret: SyncSecret, *, user_id: str, kdf: KdfParams = DEFAULT_KDF
) -> tuple[DataKey, WrappedKey]:
    """``create_data_key`` on a worker thread."""
    return await run_blocking(create_data_key, secret, user_id=user_id, kdf=kdf)


async def unwrap_data_key_async(wrapped: WrappedKey, secret: SyncSecret) -> DataKey:
    """``unwrap_data_key`` on a worker thread."""
    return await run_blocking(unwrap_data_key, wrapped, secret)


async def rewrap_async(
    wrapped: WrappedKey, old: SyncSecret, new: SyncSecret, *, kdf: KdfParams | None = None
) -> WrappedKey:
    """``rewrap`` on a worker thread."""
    return await run_blocking(rewrap, wrapped, old, new, kdf=kdf)


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
