"""Typed errors raised by services; each carries the sentence a user should read.

The UI turns them into messages in one place (``ui/messages.py``); services never show anything.
Messages never contain secrets or message bodies.
"""

from __future__ import annotations

from gptlab_desktop.models import FailureKind


class ServiceError(Exception):
    """Base of every error a service raises on purpose; ``str(error)`` is for the user."""

    title = "Something went wrong"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreError(ServiceError):
    """The store could not do what was asked."""

    title = "Storage problem"


class StoreUnavailable(StoreError):
    """The store cannot be used at all this run (the app still starts, read-only or empty)."""

    title = "Your data could not be opened"


class StoreCorrupt(StoreUnavailable):
    """The database file is damaged; it is left untouched for the user to recover."""


class StoreTooNew(StoreUnavailable):
    """The database was written by a newer version of the app; it is left untouched."""


class NotFound(StoreError):
    """An id that names nothing (perhaps deleted meanwhile)."""

    title = "Not found"


class ReadOnlyAssistant(StoreError):
    """Showcased assistants cannot be changed, only duplicated."""

    title = "Showcased assistant"


# -- The AI service (services/llm.py) ------------------------------------------------------------


class LlmError(ServiceError):
    """The AI service could not answer; ``status`` and ``code`` are the server's, when known."""

    title = "The AI service could not answer"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class InvalidApiKey(LlmError):
    """The server refused the API key (401); ``said`` is the server's own reason, redacted."""

    title = "API key not accepted"

    def __init__(
        self, message: str | None = None, *, status: int | None = 401, said: str = ""
    ) -> None:
        text = (
            message
            or "The AI service did not accept your API key. Check it in Settings → Providers, "
            "or create a new one in your account."
        )
        super().__init__(
            f"{text} It said: {said}" if said else text, status=status, code="invalid_api_key"
        )


class MissingApiKey(InvalidApiKey):
    """No API key is configured for a server that needs one."""

    title = "API key needed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No API key is set. Add one in Settings → Providers, or choose a provider that "
            "needs none (a server on this computer, such as Ollama).",
            status=None,
        )


class ModelNotAvailable(LlmError):
    """The model does not exist on the server, or this key may not use it (403/404)."""

    title = "Model not available"

    def __init__(self, model: str, *, status: int | None = None) -> None:
        super().__init__(
            f"The model “{model}” is not available with your API key on this server. "
            "Choose another model.",
            status=status,
            code="model_not_found",
        )
        self.model = model


class RateLimited(LlmError):
    """Too many requests for now (429 rate limit); worth trying again after ``retry_after_s``."""

    title = "Too many requests"

    def __init__(self, retry_after_s: float, *, is_server_hint: bool = True) -> None:
        super().__init__(
            "The AI service is busy with too many requests from your key. "
            f"Try again in about {max(1, round(retry_after_s))} s.",
            status=429,
            code="rate_limit_exceeded",
        )
        self.retry_after_s = retry_after_s
        # False when the server named no wait and ``retry_after_s`` is our own guess.
        self.is_server_hint = is_server_hint


class QuotaExhausted(LlmError):
    """The key's quota or credit is used up (429 insufficient_quota): retrying cannot help."""

    title = "Quota used up"

    def __init__(self) -> None:
        super().__init__(
            "Your API key has run out of quota or credit. Check your plan and billing details "
            "with your provider.",
            status=429,
            code="insufficient_quota",
        )


class ContextTooLong(LlmError):
    """The conversation no longer fits in the model's context window (400)."""

    title = "Conversation too long"

    def __init__(self, model: str | None = None, *, limit: int | None = None) -> None:
        which = f"“{model}”" if model else "the model"
        size = f" ({limit:,} tokens)" if limit else ""
        super().__init__(
            f"The conversation is longer than {which} can read at once{size}. Start a new "
            "session, or choose a model with a larger context window.",
            status=400,
            code="context_length_exceeded",
        )
        self.model = model
        # The context window the server said it has, where its error tells (learned by the
        # session engine, per provider and model, to fit the next requests).
        self.limit = limit


class RequestRejected(LlmError):
    """The server refused the request for another reason (4xx); ``detail`` is its own words."""

    title = "Request refused"

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None) -> None:
        message = "The AI service refused the request"
        super().__init__(
            f"{message}: {detail}" if detail else f"{message}.", status=status, code=code
        )


class ServerError(LlmError):
    """The server failed (5xx) or sent something that is not a valid answer."""

    title = "The AI service failed"

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        message = "The AI service had a problem on its side"
        if status is not None:
            message += f" (HTTP {status})"
        super().__init__(
            f"{message}. Try again in a moment." + (f" It said: {detail}" if detail else ""),
            status=status,
        )


class LlmTimeout(LlmError):
    """The server took longer than the configured timeout."""

    title = "The AI service is not answering"

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            f"The AI service did not answer within {timeout_s:g} s. Try again in a moment."
        )
        self.timeout_s = timeout_s


class ConnectionLost(LlmError):
    """The connection broke, or the stream ended before the reply was complete."""

    title = "Reply interrupted"

    def __init__(self) -> None:
        super().__init__(
            "The connection to the AI service was lost before the reply was complete. "
            "What arrived is kept; you can regenerate the reply."
        )


class ServerUnreachable(LlmError):
    """No connection to the server at all (refused, unknown host, no network)."""

    title = "Cannot reach the AI service"

    def __init__(self, base_url: str) -> None:
        super().__init__(
            f"Cannot connect to the AI service at {base_url}. Check your network connection "
            "and the server address in Settings → Providers."
        )
        self.base_url = base_url


# -- Encryption (services/crypto.py) --------------------------------------------------------------


class DecryptionFailed(ServiceError):
    """Encrypted data could not be opened: wrong key, wrong context, or damaged data."""

    title = "Could not decrypt"


def failure_kind(error: ServiceError) -> FailureKind:
    """What kind of failure ``error`` is, as a reply's details keep it."""
    for kind, cls in _FAILURE_KINDS:
        if isinstance(error, cls):
            return kind
    return FailureKind.STORAGE if isinstance(error, StoreError) else FailureKind.AI_SERVICE


# Subclasses before their bases.
_FAILURE_KINDS: tuple[tuple[FailureKind, type[ServiceError]], ...] = (
    (FailureKind.MISSING_API_KEY, MissingApiKey),
    (FailureKind.INVALID_API_KEY, InvalidApiKey),
    (FailureKind.MODEL_NOT_AVAILABLE, ModelNotAvailable),
    (FailureKind.RATE_LIMITED, RateLimited),
    (FailureKind.QUOTA_EXHAUSTED, QuotaExhausted),
    (FailureKind.CONTEXT_TOO_LONG, ContextTooLong),
    (FailureKind.REQUEST_REJECTED, RequestRejected),
    (FailureKind.SERVER_ERROR, ServerError),
    (FailureKind.TIMEOUT, LlmTimeout),
    (FailureKind.CONNECTION_LOST, ConnectionLost),
    (FailureKind.SERVER_UNREACHABLE, ServerUnreachable),
)


# -- Signing in to a shared project (services/auth.py) --------------------------------------------


class AuthError(ServiceError):
    """Signing in, or keeping the sign-in fresh, did not work; ``code`` is Firebase's, if any."""

    title = "Sign-in problem"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class WrongEmailOrPassword(AuthError):
    """No account has this email, or its password is another (Firebase does not say which)."""

    title = "Sign-in not accepted"

    def __init__(self, code: str | None = None) -> None:
        super().__init__("The email or password is not right. Check them and try again.", code=code)


class EmailAlreadyUsed(AuthError):
    """An account with this email exists already."""

    title = "Email already used"

    def __init__(self) -> None:
        super().__init__(
            "An account with this email already exists. Sign in instead, or reset its password "
            "if you have forgotten it.",
            code="EMAIL_EXISTS",
        )


class WeakPassword(AuthError):
    """The project does not accept this password (too short, or missing required characters)."""

    title = "Password too weak"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "That password is too weak"
            + (f": {detail.rstrip('.')}." if detail else " (use at least 6 characters).")
            + " Choose a longer one.",
            code="WEAK_PASSWORD",
        )


class InvalidEmail(AuthError):
    """What was given as the email is not an email address."""

    title = "Not an email address"

    def __init__(self) -> None:
        super().__init__(
            "That is not a valid email address. Check it and try again.", code="INVALID_EMAIL"
        )


class AccountDisabled(AuthError):
    """The project's administrator has disabled the account."""

    title = "Account disabled"

    def __init__(self) -> None:
        super().__init__(
            "This account has been disabled by the shared project's administrator. Ask them to "
            "enable it again.",
            code="USER_DISABLED",
        )


class TooManyAttempts(AuthError):
    """Firebase is blocking sign-in from here for a while, after many failed attempts."""

    title = "Too many attempts"

    def __init__(self) -> None:
        super().__init__(
            "There have been too many attempts to sign in. Wait a few minutes and try again, or "
            "reset the password.",
            code="TOO_MANY_ATTEMPTS_TRY_LATER",
        )


class SignInMethodDisabled(AuthError):
    """The shared project does not allow this way of signing in (e.g. anonymous sign-in)."""

    title = "Sign-in method not allowed"


class AuthMisconfigured(AuthError):
    """The shared project's sign-in settings are wrong (an API key it does not accept, no such
    project): retrying cannot help, the settings must change."""

    title = "Sign-in settings not right"


class SignInRequired(AuthError):
    """The saved sign-in no longer works (expired, revoked, the account deleted or disabled):
    the user must sign in again. The saved sign-in has been forgotten."""

    title = "Please sign in again"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(
            message
            or "You have been signed out of the shared project. Sign in again to keep working "
            "with it.",
            code=code,
        )


class AuthUnavailable(AuthError):
    """Firebase Authentication could not be reached or did not answer in time (offline, a
    server problem): the saved sign-in is kept, and trying later may work."""

    title = "Sign-in service not reachable"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "The sign-in service could not be reached. Check your network connection and "
            "try again; you stay signed in meanwhile."
        )


class AuthRefused(AuthError):
    """Firebase refused the request for another reason; ``code`` is its own word for it."""

    title = "Sign-in refused"

    def __init__(self, code: str) -> None:
        super().__init__(f"The sign-in service refused the request ({code}).", code=code)


# -- The sync secret (services/vault.py, services/recovery_kit.py) ---------------------------------


class InvalidRecoveryKit(ServiceError, ValueError):
    """A recovery kit's text could not be read: something is missing, or a character is wrong.

    Also a ``ValueError``, so parsing code can treat it like any other bad value. The sentence
    never quotes the kit (it holds the secret key).
    """

    title = "Recovery kit not accepted"


class RecoveryKitRequired(DecryptionFailed):
    """Encrypted history exists, but this computer does not have the secret key that opens it."""

    title = "Recovery kit needed"

    def __init__(self) -> None:
        super().__init__(
            "Your history is encrypted, and this computer does not have its secret key, so it "
            "cannot be read here. Enter your recovery kit (and your passphrase, if you set one) "
            "to read it on this computer."
        )


class WrongRecoveryKit(DecryptionFailed):
    """The recovery kit given is not the one the encrypted history was locked with."""

    title = "Wrong recovery kit"


class PassphraseRequired(DecryptionFailed):
    """The encrypted history is protected by a passphrase, and none was given."""

    title = "Passphrase needed"

    def __init__(self) -> None:
        super().__init__(
            "Your encrypted history is protected by a passphrase. Enter it to read your history."
        )


class WrongPassphrase(DecryptionFailed):
    """The passphrase given does not open the encrypted history."""

    title = "Wrong passphrase"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "That passphrase does not unlock your encrypted history. Check it and try again "
            "(passphrases are case-sensitive)."
        )


class EncryptionAlreadySetUp(ServiceError):
    """Set-up was asked for while encrypted history already has its key."""

    title = "Encryption already set up"

    def __init__(self) -> None:
        super().__init__(
            "Encryption is already set up for this history. To use it on this computer, enter "
            "its recovery kit; to protect it differently, change the passphrase."
        )


class EncryptionNotSetUp(ServiceError):
    """Something only an existing encrypted history has was asked for before there is one."""

    title = "Encryption not set up"

    def __init__(self) -> None:
        super().__init__(
            "There is no encrypted history yet: nothing has been encrypted, so there is nothing "
            "to unlock and no recovery kit to show."
        )


# -- The cloud store (services/store/cloud/) ------------------------------------------------------


class CloudError(StoreError):
    """The user's Firestore project could not do what was asked."""

    title = "Cloud storage problem"


class CloudUnavailable(CloudError):
    """Firestore did not answer in time (no network, wrong address, service down)."""

    title = "Cloud storage not reachable"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Your Firestore project could not be reached. Check your network connection; "
            "your changes are kept on this computer until it can be reached again."
        )


class CloudRefused(CloudError):
    """Firestore refused a request (permission, invalid data, missing database); ``reason`` is
    a short sentence of why, retrying the same request cannot help."""

    title = "Cloud storage refused a change"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Your Firestore project refused the request: {reason}")
        self.reason = reason


class AlreadyApplied(CloudError):
    """A batch of writes was not sent again because (part of) it reached Firestore before;
    ``marker_ids`` are the markers of the batch, some of which already exist."""

    title = "Already saved"

    def __init__(self, marker_ids: tuple[str, ...]) -> None:
        super().__init__("These changes had already reached your Firestore project.")
        self.marker_ids = marker_ids


class CloudSearchUnsupported(CloudError):
    """Firestore cannot search message bodies: they are stored encrypted."""

    title = "Search not available"

    def __init__(self) -> None:
        super().__init__(
            "Messages are stored encrypted in your Firestore project, so it cannot search "
            "them; search runs over the copy kept on this computer."
        )
