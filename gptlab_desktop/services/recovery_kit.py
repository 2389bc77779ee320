"""The recovery kit: the user id and the secret key, as text a person can print, save and type.

The secret key is the half of the sync secret that lives in the OS keyring (``vault.py``); the
other half, the optional passphrase, is never in the kit. The kit is given once at set-up (and
again after re-entering the passphrase), so that another computer, or this one after a
reinstall, can open the same encrypted history. It reads::

    GPT Lab Desktop recovery kit (version 1)
    With your passphrase, if you set one, ... (one line of explanation)
    User ID: Xy12...
    Secret key: GL1-8ZQ4-…-K7M2

The secret key is 160 random bits in Crockford's base32 (digits and capitals without I, L, O,
U, so nothing reads as something else), in groups of four after a version prefix, with a last
group of four check characters: 20 bits of SHA-256 over the version, the user id and the key.
A mistyped character (or a user id copied wrong) is caught with a sentence saying so, instead
of opening nothing and blaming the passphrase.

``RecoveryKit.parse`` accepts the whole kit or just its two labelled lines, on one line or
several (``GPTLAB_RECOVERY_KIT`` holds it in the environment), in any case for the secret key,
with any spacing and grouping; the user id is case-sensitive (ids are). Standard library only,
so ``config.py`` can read the kit before the first paint.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from gptlab_desktop.services.errors import InvalidRecoveryKit

KIT_VERSION = 1
SECRET_KEY_BYTES = 20  # 160 bits: 32 base32 characters exactly
_PREFIX = "GL"
_GROUP = 4
_KEY_CHARS = SECRET_KEY_BYTES * 8 // 5
_CHECK_CHARS = 4
_CODE_CHARS = _KEY_CHARS + _CHECK_CHARS
_CHECK_LABEL = b"gptlab-desktop/recovery-kit/check"

# Crockford's base32; what a reader may write for the letters it leaves out.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READS_AS = {"O": "0", "I": "1", "L": "1"}
_VALUES = {char: index for index, char in enumerate(_ALPHABET)}

_USER_LABEL = re.compile(r"user\s*id\s*:", re.IGNORECASE)
_SECRET_LABEL = re.compile(r"secret\s*key\s*:", re.IGNORECASE)
_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_TOKEN = re.compile(r"[0-9A-Za-z]+")

HEADING = f"GPT Lab Desktop recovery kit (version {KIT_VERSION})"
EXPLANATION = (
    "With your passphrase, if you set one, this kit opens your encrypted history on another "
    "computer. It does not contain the passphrase. Keep it private and safe: nobody, not even "
    "GPT Lab Desktop, can recover your history without it."
)

_LENGTH_WRONG = (
    f"The secret key in this recovery kit should have {_CODE_CHARS} characters after "
    f"{_PREFIX}{KIT_VERSION}- ({_CODE_CHARS // _GROUP} groups of {_GROUP}), and this one has a "
    "different number. Check for a missing or an extra character."
)
_DOES_NOT_CHECK_OUT = (
    "This recovery kit does not check out: its user ID or its secret key has a typo. Compare "
    "them with the printed kit character by character."
)


@dataclass(frozen=True, slots=True, repr=False)
class RecoveryKit:
    """A user id and the secret key of their sync secret; ``repr`` never shows the key."""

    user_id: str
    secret_key: bytes

    def __post_init__(self) -> None:
        if not _USER_ID.fullmatch(self.user_id or ""):
            raise InvalidRecoveryKit("A recovery kit needs the user ID of the history it opens.")
        if len(self.secret_key) != SECRET_KEY_BYTES:
            raise InvalidRecoveryKit(f"A recovery kit's secret key is {SECRET_KEY_BYTES} bytes.")

    def __repr__(self) -> str:
        return f"RecoveryKit(user_id={self.user_id!r}, secret_key=<hidden>)"

    @classmethod
    def generate(cls, user_id: str) -> RecoveryKit:
        """A new random secret key for ``user_id``."""
        return cls(user_id, secrets.token_bytes(SECRET_KEY_BYTES))

    @property
    def code(self) -> str:
        """The secret key as typed: ``GL1-XXXX-…-CCCC`` (key groups, then check characters)."""
        chars = _encode(self.secret_key) + _check_chars(self.user_id, self.secret_key)
        groups = [chars[i : i + _GROUP] for i in range(0, len(chars), _GROUP)]
        return "-".join([f"{_PREFIX}{KIT_VERSION}", *groups])

    @property
    def text(self) -> str:
        """The kit to print or save: heading, explanation, user id and secret key."""
        return "\n".join(
            [HEADING, EXPLANATION, f"User ID: {self.user_id}", f"Secret key: {self.code}", ""]
        )

    @property
    def one_line(self) -> str:
        """The kit's two labelled parts on one line, e.g. for ``GPTLAB_RECOVERY_KIT``."""
        return f"User ID: {self.user_id} Secret key: {self.code}"

    @classmethod
    def parse(cls, text: str) -> RecoveryKit:
        """The kit in ``text``; ``InvalidRecoveryKit`` (a ``ValueError``) with a sentence saying
        what is wrong. Whitespace, line breaks, grouping and the secret key's case do not matter;
        the check characters must match."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidRecoveryKit("The recovery kit is empty.")
        user_label = _USER_LABEL.search(text)
        secret_label = _SECRET_LABEL.search(text)
        if user_label is None:
            raise InvalidRecoveryKit(
                'This recovery kit has no user ID (the line "User ID: …"). Copy the whole kit.'
            )
        if secret_label is None:
            raise InvalidRecoveryKit(
                'This recovery kit has no secret key (the line "Secret key: GL1-…"). Copy the '
                "whole kit."
            )
        user_match = _USER_ID.match(text[user_label.end() :].lstrip())
        if user_match is None:
            raise InvalidRecoveryKit("The user ID in this recovery kit is missing or unreadable.")
        after_secret = text[secret_label.end() :]
        if secret_label.start() < user_label.start():
            # The key comes first: it ends where the user id's label begins.
            after_secret = text[secret_label.end() : user_label.start()]
        chars = _code_chars(after_secret)
        secret_key = _decode(chars[:_KEY_CHARS])
        kit = cls(user_match.group(), secret_key)
        if _check_chars(kit.user_id, secret_key) != chars[_KEY_CHARS:]:
            raise InvalidRecoveryKit(_DOES_NOT_CHECK_OUT)
        return kit


def _code_chars(text: str) -> str:
    """The key and check characters after the ``GL1`` prefix, normalised; errors say why not."""
    tokens = [token.upper() for token in _TOKEN.findall(text)]
    if not tokens:
        raise InvalidRecoveryKit("The secret key in this recovery kit is missing.")
    first = tokens[0]
    if not first.startswith(_PREFIX) or not first[len(_PREFIX) :].isdigit():
        raise InvalidRecoveryKit(
            f"The secret key in this recovery kit should start with {_PREFIX}{KIT_VERSION}-."
        )
    if int(first[len(_PREFIX) :]) != KIT_VERSION:
        raise InvalidRecoveryKit(
            "This recovery kit was made by a newer version of GPT Lab Desktop. Update the app "
            "to use it."
        )
    chars = ""
    # Groups up to the code's length; anything after it (a footer, a signature) is not the key.
    for token in tokens[1:]:
        if len(chars) >= _CODE_CHARS:
            break
        chars += token
    if len(chars) != _CODE_CHARS:
        raise InvalidRecoveryKit(_LENGTH_WRONG)
    normalised = "".join(_READS_AS.get(char, char) for char in chars)
    for position, char in enumerate(normalised, start=1):
        if char not in _VALUES:
            raise InvalidRecoveryKit(
                f"The secret key in this recovery kit has a character that is never used in "
                f"one (character {position} after {_PREFIX}{KIT_VERSION}-). Check for a typo."
            )
    return normalised


def _encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    width = len(raw) * 8 // 5
    return "".join(_ALPHABET[(number >> (5 * (width - 1 - i))) & 31] for i in range(width))


def _decode(chars: str) -> bytes:
    number = 0
    for char in chars:
        number = (number << 5) | _VALUES[char]
    return number.to_bytes(len(chars) * 5 // 8, "big")


def _check_chars(user_id: str, secret_key: bytes) -> str:
    digest = hashlib.sha256(
        b"\x00".join([_CHECK_LABEL, str(KIT_VERSION).encode(), user_id.encode(), secret_key])
    ).digest()
    bits = int.from_bytes(digest[:3], "big") >> 4  # 20 bits: four characters
    return "".join(_ALPHABET[(bits >> (5 * (_CHECK_CHARS - 1 - i))) & 31] for i in range(4))
