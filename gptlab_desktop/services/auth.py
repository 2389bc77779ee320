"""Signing in to a shared project: Firebase Authentication over its REST endpoints.

A shared project's Firestore is reached as the signed-in user, so its security rules decide
what each person may read and write. This module signs in (email and password, or anonymously)
through the Identity Toolkit endpoint, keeps the ID token fresh through the Secure Token
endpoint, and remembers the sign-in between runs: only the refresh token (with the uid, email
and display name it belongs to) goes to the keyring, under one entry keyed by project id, so two
projects never clash. ID tokens live in memory only.

Every call is bounded by a timeout. Failures are typed: ``SignInRequired`` when the saved
sign-in no longer works (it is then forgotten), ``AuthUnavailable`` when Firebase cannot be
reached (the saved sign-in is kept; try again later), and one error per mistake a person can
make while signing in. Tokens and passwords appear in no log line, ``repr`` or message.

Nothing here reads the environment: ``config.py`` decides the API key, the project and whether
the Auth emulator is used, and passes ``AuthSettings`` in.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from gptlab_desktop.services.errors import (
    AccountDisabled,
    AuthError,
    AuthMisconfigured,
    AuthRefused,
    AuthUnavailable,
    EmailAlreadyUsed,
    InvalidEmail,
    SignInMethodDisabled,
    SignInRequired,
    TooManyAttempts,
    WeakPassword,
    WrongEmailOrPassword,
)
from gptlab_desktop.services.secrets import SecretName, SecretStore

if TYPE_CHECKING:
    import httpx
    from google.auth.transport import Request as GoogleRequest
    from google.oauth2.credentials import Credentials

log = logging.getLogger(__name__)

PRODUCTION_IDENTITY_URL = "https://identitytoolkit.googleapis.com/v1"
PRODUCTION_TOKEN_URL = "https://securetoken.googleapis.com/v1"
DEFAULT_TIMEOUT_S = 10.0
# An ID token is renewed when it has less than this left, so a call made with it does not run
# into its expiry on the way (Firebase's own SDKs use five minutes too).
REFRESH_MARGIN = timedelta(minutes=5)

_SAVED_VERSION = 1

Clock = Callable[[], datetime]
SessionListener = Callable[["AuthSession | None"], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Where a shared project's sign-in happens: its Web API key and project id, and the two
    REST endpoints (production's, or the Auth emulator's)."""

    api_key: str = field(repr=False)
    project_id: str
    identity_url: str = PRODUCTION_IDENTITY_URL
    token_url: str = PRODUCTION_TOKEN_URL
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def for_emulator(
        cls,
        host: str,
        *,
        project_id: str,
        api_key: str = "fake-api-key",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> AuthSettings:
        """Settings for the Auth emulator at ``host`` (``host:port``, as
        ``FIREBASE_AUTH_EMULATOR_HOST`` gives it), mapped as Firebase's own SDKs map it."""
        base = f"http://{host.strip().removeprefix('http://').rstrip('/')}"
        return cls(
            api_key=api_key,
            project_id=project_id,
            identity_url=f"{base}/identitytoolkit.googleapis.com/v1",
            token_url=f"{base}/securetoken.googleapis.com/v1",
            timeout_s=timeout_s,
        )

    @property
    def secure_token_uri(self) -> str:
        """The Secure Token endpoint that exchanges a refresh token for a new ID token."""
        return f"{self.token_url}/token?key={self.api_key}"


@dataclass(frozen=True, slots=True)
class AuthSession:
    """Who is signed in, with their current tokens; ``repr`` never shows the tokens."""

    uid: str
    email: str | None
    display_name: str | None
    is_anonymous: bool
    expires_at: datetime
    id_token: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def expires_within(self, margin: timedelta, now: datetime) -> bool:
        """True when the ID token has less than ``margin`` left at ``now``."""
        return self.expires_at - now < margin

    def saved(self) -> SavedSignIn:
        """What the keyring keeps of this session."""
        return SavedSignIn(
            self.uid, self.refresh_token, self.email, self.display_name, self.is_anonymous
        )


@dataclass(frozen=True, slots=True)
class SavedSignIn:
    """A sign-in remembered between runs: the refresh token and whom it belongs to."""

    uid: str
    refresh_token: str = field(repr=False)
    email: str | None = None
    display_name: str | None = None
    is_anonymous: bool = False

    def to_json(self) -> dict[str, Any]:
        """The keyring entry's record for one project."""
        return {
            "uid": self.uid,
            "refresh_token": self.refresh_token,
            "email": self.email,
            "display_name": self.display_name,
            "anonymous": self.is_anonymous,
        }

    @classmethod
    def from_json(cls, record: object) -> SavedSignIn | None:
        """The record read back, or None when it is not one (damaged, another version)."""
        if not isinstance(record, dict):
            return None
        uid, token = record.get("uid"), record.get("refresh_token")
        if not isinstance(uid, str) or not isinstance(token, str) or not uid or not token:
            return None
        email, name = record.get("email"), record.get("display_name")
        return cls(
            uid,
            token,
            email if isinstance(email, str) else None,
            name if isinstance(name, str) else None,
            record.get("anonymous") is True,
        )


class FirebaseAuth:
    """Sign-in to one shared project: sign up, sign in, keep the ID token fresh, sign out.

    One instance per project, built by the composition root; ``aclose`` releases its HTTP
    connections. ``clock`` is for tests that need time to pass.
    """

    def __init__(
        self, settings: AuthSettings, secrets: SecretStore, *, clock: Clock = _utc_now
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._clock = clock
        self._session: AuthSession | None = None
        # A saved sign-in that could not be refreshed yet (offline): retried by id_token().
        self._pending: SavedSignIn | None = None
        self._listeners: list[SessionListener] = []
        self._refreshing = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        state = f"uid={self._session.uid!r}" if self._session else "signed out"
        return f"FirebaseAuth(project_id={self._settings.project_id!r}, {state})"

    @property
    def settings(self) -> AuthSettings:
        """Where sign-in happens."""
        return self._settings

    @property
    def session(self) -> AuthSession | None:
        """Who is signed in now, or None."""
        return self._session

    @property
    def is_signed_in(self) -> bool:
        """True while a session is held (its ID token may still need a refresh)."""
        return self._session is not None

    def on_change(self, listener: SessionListener) -> Callable[[], None]:
        """Call ``listener`` with the new session (None when signed out) whenever who is signed
        in changes, or their name; returns a function that stops the calls. Token refreshes
        are no change."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- signing in and out ---------------------------------------------------------------------

    async def sign_up(
        self, email: str, password: str, display_name: str | None = None
    ) -> AuthSession:
        """Create an email-and-password account and sign in to it.

        The account exists (and is signed in) before its display name is set: should setting
        the name fail, the session is returned without it rather than lost.
        """
        reply = await self._identity(
            "accounts:signUp",
            {"email": email.strip(), "password": password, "returnSecureToken": True},
        )
        session = self._session_from_sign_in(reply, is_anonymous=False)
        await self._adopt(session)
        log.info("Signed up to the shared project %s", self._settings.project_id)
        name = (display_name or "").strip()
        if name:
            try:
                session = await self._set_display_name(session, name)
            except AuthError as error:
                log.warning("The new account's display name was not set (%s)", error.code)
        return session

    async def _set_display_name(self, session: AuthSession, name: str) -> AuthSession:
        await self._identity("accounts:update", {"idToken": session.id_token, "displayName": name})
        # The ID token names the user only once it is issued after the update.
        reply = await self._post(
            f"{self._settings.token_url}/token",
            form={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
        )
        named = replace(self._session_from_refresh(reply, session.saved()), display_name=name)
        self._session = named
        await self._save(named.saved())
        self._notify()  # the same user, now with a name to show
        return named

    async def sign_in(self, email: str, password: str) -> AuthSession:
        """Sign in with an email and its password."""
        reply = await self._identity(
            "accounts:signInWithPassword",
            {"email": email.strip(), "password": password, "returnSecureToken": True},
        )
        session = self._session_from_sign_in(reply, is_anonymous=False)
        await self._adopt(session)
        log.info("Signed in to the shared project %s", self._settings.project_id)
        return session

    async def sign_in_anonymously(self) -> AuthSession:
        """Sign in as a new anonymous user (when the project allows it)."""
        reply = await self._identity("accounts:signUp", {"returnSecureToken": True})
        session = self._session_from_sign_in(reply, is_anonymous=True)
        await self._adopt(session)
        log.info("Signed in anonymously to the shared project %s", self._settings.project_id)
        return session

    async def send_password_reset(self, email: str) -> None:
        """Have Firebase email a password-reset link to ``email``."""
        await self._identity(
            "accounts:sendOobCode", {"requestType": "PASSWORD_RESET", "email": email.strip()}
        )

    async def restore(self) -> AuthSession | None:
        """Sign in again with the sign-in saved in the keyring; None when none is saved.

        Raises ``SignInRequired`` (and forgets it) when the saved sign-in no longer works, and
        ``AuthUnavailable`` when Firebase cannot be reached: the saved sign-in is kept then, and
        ``id_token`` tries it again.
        """
        saved = await self.saved_sign_in()
        if saved is None:
            return None
        self._pending = saved
        return await self._refresh_saved(saved)

    async def saved_sign_in(self) -> SavedSignIn | None:
        """The sign-in saved for this project, without contacting Firebase (who was signed in
        last, e.g. to show it while offline)."""
        return (await self._read_saved()).get(self._settings.project_id)

    async def sign_out(self) -> None:
        """Forget the sign-in: the tokens in memory and the saved one in the keyring."""
        had_session = self._session is not None or self._pending is not None
        self._session = None
        self._pending = None
        await self._forget_saved()
        if had_session:
            log.info("Signed out of the shared project %s", self._settings.project_id)
            self._notify()

    # -- tokens --------------------------------------------------------------------------------

    async def id_token(self) -> str:
        """An ID token with at least five minutes left, refreshed first when needed.

        Raises ``SignInRequired`` when nobody is signed in or the sign-in no longer works.
        """
        session = self._session
        if session is not None and not session.expires_within(REFRESH_MARGIN, self._clock()):
            return session.id_token
        async with self._refreshing:
            # Another caller may have refreshed while this one waited.
            session = self._session
            if session is not None and not session.expires_within(REFRESH_MARGIN, self._clock()):
                return session.id_token
            return (await self._refresh_locked()).id_token

    async def refresh(self) -> AuthSession:
        """Get a new ID token now (after a call was refused with the current one)."""
        async with self._refreshing:
            return await self._refresh_locked()

    def credentials(self) -> Credentials:
        """Google credentials carrying the current ID token, for Firestore's client.

        google-auth renews the token itself when it nears expiry, through the Secure Token
        endpoint (it speaks the same refresh-token grant); a renewed token is handed back here.
        Raises ``SignInRequired`` when nobody is signed in.
        """
        session = self._session
        if session is None:
            raise SignInRequired("Sign in to the shared project first.")
        return _firebase_credentials(self, session)

    async def aclose(self) -> None:
        """Release the HTTP connections (the sign-in itself is kept)."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    # -- inside --------------------------------------------------------------------------------

    async def _refresh_locked(self) -> AuthSession:
        session = self._session
        if session is not None:
            return await self._refresh_saved(session.saved())
        if self._pending is not None:
            return await self._refresh_saved(self._pending)
        raise SignInRequired("Sign in to the shared project first.")

    async def _refresh_saved(self, saved: SavedSignIn) -> AuthSession:
        try:
            reply = await self._post(
                f"{self._settings.token_url}/token",
                form={"grant_type": "refresh_token", "refresh_token": saved.refresh_token},
                refreshing=True,
            )
        except SignInRequired:
            await self._signed_out_by_firebase()
            raise
        session = self._session_from_refresh(reply, saved)
        if self._session is None or self._session.uid != session.uid:
            await self._adopt(session)
        else:
            await self._replace(session)
        return session

    def _session_from_sign_in(self, reply: dict[str, Any], *, is_anonymous: bool) -> AuthSession:
        try:
            id_token = str(reply["idToken"])
            return AuthSession(
                uid=str(reply["localId"]),
                email=reply.get("email") or None,
                display_name=reply.get("displayName") or None,
                is_anonymous=is_anonymous,
                expires_at=self._clock() + timedelta(seconds=int(reply.get("expiresIn", 3600))),
                id_token=id_token,
                refresh_token=str(reply["refreshToken"]),
            )
        except (KeyError, TypeError, ValueError):
            raise AuthUnavailable(
                "The sign-in service sent an answer that could not be read. Try again later."
            ) from None

    def _session_from_refresh(self, reply: dict[str, Any], saved: SavedSignIn) -> AuthSession:
        try:
            id_token = str(reply["id_token"])
            claims = _claims(id_token)
            firebase = claims.get("firebase")
            provider = firebase.get("sign_in_provider") if isinstance(firebase, dict) else None
            return AuthSession(
                uid=str(reply.get("user_id") or saved.uid),
                email=claims.get("email") or saved.email,
                display_name=claims.get("name") or saved.display_name,
                is_anonymous=(provider == "anonymous") if provider else saved.is_anonymous,
                expires_at=self._clock() + timedelta(seconds=int(reply.get("expires_in", 3600))),
                id_token=id_token,
                refresh_token=str(reply.get("refresh_token") or saved.refresh_token),
            )
        except (KeyError, TypeError, ValueError):
            raise AuthUnavailable(
                "The sign-in service sent an answer that could not be read. Try again later."
            ) from None

    async def _adopt(self, session: AuthSession) -> None:
        """Make ``session`` the current one (a new sign-in), save it, tell the listeners."""
        self._session = session
        self._pending = None
        await self._save(session.saved())
        self._notify()

    async def _replace(self, session: AuthSession) -> None:
        """New tokens for the same user; saved again only when the refresh token changed."""
        previous, self._session = self._session, session
        self._pending = None
        if previous is None or previous.refresh_token != session.refresh_token:
            await self._save(session.saved())

    def _adopt_renewed(self, id_token: str, refresh_token: str | None, expiry: datetime) -> None:
        """Take the token google-auth renewed (called on whichever thread it ran on)."""
        session = self._session
        if session is None:
            return
        self._session = replace(
            session,
            id_token=id_token,
            refresh_token=refresh_token or session.refresh_token,
            expires_at=expiry.replace(tzinfo=UTC) if expiry.tzinfo is None else expiry,
        )
        # A rotated refresh token is saved by the next refresh on the event loop; Firebase
        # keeps the same one in practice.

    async def _signed_out_by_firebase(self) -> None:
        had_session = self._session is not None
        self._session = None
        self._pending = None
        await self._forget_saved()
        log.info("The saved sign-in to %s no longer works", self._settings.project_id)
        if had_session:
            self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self._session)
            except Exception:  # one broken listener must not stop the others or the sign-in
                log.exception("A sign-in listener failed")

    # -- the keyring entry -----------------------------------------------------------------------

    async def _read_saved(self) -> dict[str, SavedSignIn]:
        text = await self._secrets.get(SecretName.FIREBASE_SIGN_IN)
        if not text:
            return {}
        try:
            entry = json.loads(text)
        except ValueError:
            log.warning("The saved sign-ins could not be read; they are ignored")
            return {}
        projects = entry.get("projects") if isinstance(entry, dict) else None
        if entry.get("version") != _SAVED_VERSION or not isinstance(projects, dict):
            return {}
        saved = {key: SavedSignIn.from_json(value) for key, value in projects.items()}
        return {key: value for key, value in saved.items() if value is not None}

    async def _write_saved(self, saved: dict[str, SavedSignIn]) -> None:
        if not saved:
            await self._secrets.delete(SecretName.FIREBASE_SIGN_IN)
            return
        entry = {
            "version": _SAVED_VERSION,
            "projects": {key: value.to_json() for key, value in sorted(saved.items())},
        }
        await self._secrets.set(SecretName.FIREBASE_SIGN_IN, json.dumps(entry))

    async def _save(self, sign_in: SavedSignIn) -> None:
        saved = await self._read_saved()
        saved[self._settings.project_id] = sign_in
        await self._write_saved(saved)

    async def _forget_saved(self) -> None:
        saved = await self._read_saved()
        if saved.pop(self._settings.project_id, None) is not None:
            await self._write_saved(saved)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _identity(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post(f"{self._settings.identity_url}/{method}", json_body=body)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx  # not on the start-up path: only a shared project signs in

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._settings.timeout_s), follow_redirects=False
            )
        return self._http

    async def _post(
        self,
        url: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        refreshing: bool = False,
    ) -> dict[str, Any]:
        import httpx

        client = self._client()
        try:
            # The key goes as a parameter (as Firebase's SDKs send it): it is no secret, but
            # passing it this way keeps it out of every URL this module formats.
            response = await asyncio.wait_for(
                client.post(url, params={"key": self._settings.api_key}, json=json_body, data=form),
                # httpx's timeout is per phase; this bounds the whole call.
                self._settings.timeout_s * 2,
            )
        except (httpx.TimeoutException, TimeoutError):
            log.info("The sign-in service did not answer within %g s", self._settings.timeout_s)
            raise AuthUnavailable(
                f"The sign-in service did not answer within {self._settings.timeout_s:g} s. "
                "Check your network connection and try again."
            ) from None
        except httpx.HTTPError as error:
            # The exception may carry the request; only its kind is logged.
            log.info("The sign-in service could not be reached (%s)", type(error).__name__)
            raise AuthUnavailable() from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and isinstance(payload, dict):
            return payload
        raise _error_for(response.status_code, payload, refreshing=refreshing)


def _firebase_credentials(auth: FirebaseAuth, session: AuthSession) -> Credentials:
    """google-auth credentials for ``session`` that report renewed tokens to ``auth``."""
    credentials = _credentials_class()(
        token=session.id_token,
        refresh_token=session.refresh_token,
        token_uri=auth.settings.secure_token_uri,
        # The Secure Token endpoint needs no OAuth client; google-auth insists on the fields.
        client_id="",
        client_secret="",
        # google-auth compares naive UTC datetimes.
        expiry=session.expires_at.astimezone(UTC).replace(tzinfo=None),
    )
    credentials.on_renewed = auth._adopt_renewed
    return credentials


@cache
def _credentials_class() -> type[Credentials]:
    """The credentials class, made at first use (google-auth is not imported before)."""
    from google.oauth2.credentials import Credentials

    class FirebaseCredentials(Credentials):
        """The user's ID token as an OAuth access token; renewed by google-auth through the
        Secure Token endpoint (the same refresh-token grant), the new token handed back."""

        on_renewed: Callable[[str, str | None, datetime], None] | None = None

        def refresh(self, request: GoogleRequest) -> None:
            super().refresh(request)
            if self.on_renewed is not None and self.token and self.expiry is not None:
                self.on_renewed(self.token, self.refresh_token, self.expiry)

    return FirebaseCredentials


def _claims(id_token: str) -> dict[str, Any]:
    """The claims of an ID token, unverified: only read to describe who is signed in (the
    server verifies tokens; this side never trusts them for anything)."""
    try:
        payload = id_token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _firebase_code(payload: object) -> tuple[str, str]:
    """Firebase's error code and its detail: ``"WEAK_PASSWORD : Password should be …"``."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
    elif isinstance(error, str):  # the Secure Token endpoint's OAuth-style errors
        message = error
    else:
        return "", ""
    code, _, detail = message.partition(" : ")
    return code.strip(), detail.strip()


_CODES_OF_WRONG_CREDENTIALS = {"EMAIL_NOT_FOUND", "INVALID_PASSWORD", "INVALID_LOGIN_CREDENTIALS"}
_CODES_OF_SIGNED_OUT = {
    "TOKEN_EXPIRED",
    "INVALID_REFRESH_TOKEN",
    "USER_NOT_FOUND",
    "USER_DISABLED",
    "INVALID_GRANT_TYPE",
    "MISSING_REFRESH_TOKEN",
    "invalid_grant",
}
_CODES_OF_METHOD_DISABLED = {
    "OPERATION_NOT_ALLOWED",
    "ADMIN_ONLY_OPERATION",
    "PASSWORD_LOGIN_DISABLED",
}
_CODES_OF_MISCONFIGURATION = {"CONFIGURATION_NOT_FOUND", "PROJECT_NOT_FOUND", "INVALID_API_KEY"}


def _error_for(status: int, payload: object, *, refreshing: bool) -> AuthError:
    """The typed error for a refused call; never quotes what was sent."""
    code, detail = _firebase_code(payload)
    if status >= 500 or status == 408:
        return AuthUnavailable(
            f"The sign-in service had a problem on its side (HTTP {status}). Try again later; "
            "you stay signed in meanwhile."
        )
    if "API key" in code or code in _CODES_OF_MISCONFIGURATION or code.startswith("API_KEY"):
        return AuthMisconfigured(
            "The shared project's sign-in settings are not right: its Web API key or project "
            "was not accepted. Check the shared project's settings.",
            code=code or None,
        )
    if refreshing and code in _CODES_OF_SIGNED_OUT:
        if code == "USER_DISABLED":
            return SignInRequired(
                "Your account has been disabled by the shared project's administrator, so you "
                "have been signed out.",
                code=code,
            )
        if code == "USER_NOT_FOUND":
            return SignInRequired(
                "Your account no longer exists in the shared project, so you have been signed "
                "out. Sign up again, or ask its administrator.",
                code=code,
            )
        return SignInRequired(code=code)
    if code in _CODES_OF_WRONG_CREDENTIALS:
        return WrongEmailOrPassword(code)
    if code == "EMAIL_EXISTS":
        return EmailAlreadyUsed()
    if code == "WEAK_PASSWORD":
        return WeakPassword(detail)
    if code in {"INVALID_EMAIL", "MISSING_EMAIL"}:
        return InvalidEmail()
    if code == "USER_DISABLED":
        return AccountDisabled()
    if code.startswith("TOO_MANY_ATTEMPTS_TRY_LATER"):
        return TooManyAttempts()
    if code in _CODES_OF_METHOD_DISABLED:
        return SignInMethodDisabled(
            "The shared project does not allow this way of signing in. Ask its administrator, "
            "or sign in another way.",
            code=code,
        )
    if status == 429:
        return TooManyAttempts()
    return AuthRefused(code or f"HTTP {status}")
