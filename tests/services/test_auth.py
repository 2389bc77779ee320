"""Signing in to a shared project, against the real Firebase Auth emulator and a keyring that
outlives each ``FirebaseAuth`` (one simulated machine)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from gptlab_desktop.services.auth import AuthSession, AuthSettings, FirebaseAuth, SavedSignIn
from gptlab_desktop.services.errors import (
    AccountDisabled,
    AuthMisconfigured,
    AuthUnavailable,
    EmailAlreadyUsed,
    InvalidEmail,
    SignInRequired,
    WeakPassword,
    WrongEmailOrPassword,
)
from gptlab_desktop.services.secrets import SERVICE_NAME, SecretName, SecretStore
from tests.fakes.auth_emulator import AuthEmulator, token_claims, unique_email
from tests.fakes.firestore_emulator import free_port
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.tcp_proxy import TcpProxy

PASSWORD = "correct horse battery"
ENTRY = (SERVICE_NAME, SecretName.FIREBASE_SIGN_IN.value)

pytestmark = [pytest.mark.asyncio, pytest.mark.auth_emulator]


class Clock:
    """Time that tests move forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def keyring() -> MemoryKeyring:
    """The machine's keyring."""
    return MemoryKeyring()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(auth_emulator: AuthEmulator) -> AuthSettings:
    return AuthSettings.for_emulator(auth_emulator.host, project_id=auth_emulator.project_id)


async def _a_run(
    settings: AuthSettings, keyring: MemoryKeyring, clock: Clock
) -> AsyncIterator[FirebaseAuth]:
    firebase = FirebaseAuth(settings, SecretStore(keyring), clock=clock)
    yield firebase
    await firebase.aclose()


# The sign-in of one run of the app, and of its next run on the same machine (same keyring).
auth = pytest_asyncio.fixture(_a_run, name="auth")
next_run = pytest_asyncio.fixture(_a_run, name="next_run")


def _saved(keyring: MemoryKeyring) -> dict:
    text = keyring.secrets.get(ENTRY)
    return json.loads(text) if text else {}


# -- signing up and in --------------------------------------------------------------------------


async def test_sign_up_creates_the_account_and_signs_in(auth: FirebaseAuth) -> None:
    email = unique_email()

    session = await auth.sign_up(email, PASSWORD, "Ada")

    assert auth.session == session
    assert session.email == email
    assert session.display_name == "Ada"
    assert not session.is_anonymous
    claims = token_claims(session.id_token)
    assert claims["user_id"] == session.uid
    assert claims["name"] == "Ada"


async def test_sign_in_with_the_right_password(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    email = unique_email()
    user = auth_emulator.sign_up(email, PASSWORD)

    session = await auth.sign_in(email, PASSWORD)

    assert session.uid == user.uid
    assert token_claims(session.id_token)["email"] == email


async def test_a_wrong_password_is_wrong_email_or_password(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    email = unique_email()
    auth_emulator.sign_up(email, PASSWORD)

    with pytest.raises(WrongEmailOrPassword, match="The email or password is not right"):
        await auth.sign_in(email, "not the password")
    assert auth.session is None


async def test_an_unknown_email_is_wrong_email_or_password(auth: FirebaseAuth) -> None:
    with pytest.raises(WrongEmailOrPassword):
        await auth.sign_in(unique_email(), PASSWORD)


async def test_a_weak_password_is_refused_with_the_reason(auth: FirebaseAuth) -> None:
    with pytest.raises(WeakPassword, match="at least 6 characters"):
        await auth.sign_up(unique_email(), "12345")


async def test_signing_up_with_a_used_email_says_so(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    email = unique_email()
    auth_emulator.sign_up(email, PASSWORD)

    with pytest.raises(EmailAlreadyUsed):
        await auth.sign_up(email, PASSWORD)


async def test_a_malformed_email_is_invalid(auth: FirebaseAuth) -> None:
    with pytest.raises(InvalidEmail):
        await auth.sign_up("not an email", PASSWORD)


async def test_a_disabled_account_cannot_sign_in(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    email = unique_email()
    auth_emulator.disable(auth_emulator.sign_up(email, PASSWORD).uid)

    with pytest.raises(AccountDisabled):
        await auth.sign_in(email, PASSWORD)


async def test_anonymous_sign_in_gives_an_anonymous_session(auth: FirebaseAuth) -> None:
    session = await auth.sign_in_anonymously()

    assert session.is_anonymous
    assert session.email is None
    assert token_claims(session.id_token)["firebase"]["sign_in_provider"] == "anonymous"


async def test_a_password_reset_email_is_sent(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    email = unique_email()
    auth_emulator.sign_up(email, PASSWORD)

    await auth.send_password_reset(email)

    sent = [code for code in auth_emulator.oob_codes() if code["email"] == email]
    assert [code["requestType"] for code in sent] == ["PASSWORD_RESET"]


async def test_a_password_reset_for_an_unknown_email_is_wrong_email(auth: FirebaseAuth) -> None:
    with pytest.raises(WrongEmailOrPassword):
        await auth.send_password_reset(unique_email())


async def test_listeners_hear_sign_in_and_sign_out(auth: FirebaseAuth) -> None:
    heard: list[AuthSession | None] = []
    auth.on_change(heard.append)

    session = await auth.sign_up(unique_email(), PASSWORD)
    await auth.sign_out()

    assert heard == [session, None]


# -- tokens -------------------------------------------------------------------------------------


async def test_a_fresh_id_token_is_returned_as_it_is(auth: FirebaseAuth) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD)

    assert await auth.id_token() == session.id_token


async def test_an_id_token_near_its_expiry_is_refreshed(auth: FirebaseAuth, clock: Clock) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD)
    time.sleep(1.1)  # the emulator's tokens differ only by their second of issue
    clock.advance(timedelta(minutes=56))

    token = await auth.id_token()

    assert token != session.id_token
    assert token_claims(token)["user_id"] == session.uid
    assert auth.session is not None
    assert auth.session.expires_at > clock.now + timedelta(minutes=30)


async def test_concurrent_callers_share_one_refresh(auth: FirebaseAuth, clock: Clock) -> None:
    await auth.sign_up(unique_email(), PASSWORD)
    clock.advance(timedelta(hours=2))

    tokens = await asyncio.gather(*(auth.id_token() for _ in range(5)))

    assert len(set(tokens)) == 1


async def test_a_disabled_account_is_signed_out_at_the_next_refresh(
    auth: FirebaseAuth, auth_emulator: AuthEmulator, keyring: MemoryKeyring, clock: Clock
) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD)
    heard: list[AuthSession | None] = []
    auth.on_change(heard.append)
    auth_emulator.disable(session.uid)
    clock.advance(timedelta(hours=2))

    with pytest.raises(SignInRequired, match="disabled"):
        await auth.id_token()
    assert auth.session is None
    assert heard == [None]
    assert ENTRY not in keyring.secrets


async def test_a_deleted_account_is_signed_out_at_a_forced_refresh(
    auth: FirebaseAuth, auth_emulator: AuthEmulator
) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD)
    auth_emulator.delete(session.uid)

    with pytest.raises(SignInRequired):
        await auth.refresh()
    assert auth.session is None


async def test_without_a_sign_in_an_id_token_needs_one(auth: FirebaseAuth) -> None:
    with pytest.raises(SignInRequired):
        await auth.id_token()


# -- the keyring --------------------------------------------------------------------------------


async def test_the_sign_in_is_saved_by_project_without_the_id_token(
    auth: FirebaseAuth, keyring: MemoryKeyring, settings: AuthSettings
) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD, "Ada")

    saved = _saved(keyring)

    assert saved == {
        "version": 1,
        "projects": {
            settings.project_id: {
                "uid": session.uid,
                "refresh_token": session.refresh_token,
                "email": session.email,
                "display_name": "Ada",
                "anonymous": False,
            }
        },
    }
    assert session.id_token not in keyring.secrets[ENTRY]


async def test_the_next_run_restores_the_sign_in(
    auth: FirebaseAuth, next_run: FirebaseAuth
) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD, "Ada")

    restored = await next_run.restore()

    assert restored is not None
    assert (restored.uid, restored.email, restored.display_name) == (
        session.uid,
        session.email,
        "Ada",
    )
    assert not restored.is_anonymous
    assert next_run.session == restored


async def test_an_anonymous_sign_in_is_restored_as_anonymous(
    auth: FirebaseAuth, next_run: FirebaseAuth
) -> None:
    session = await auth.sign_in_anonymously()

    restored = await next_run.restore()

    assert restored is not None
    assert restored.uid == session.uid
    assert restored.is_anonymous


async def test_nothing_to_restore_without_a_saved_sign_in(auth: FirebaseAuth) -> None:
    assert await auth.restore() is None


async def test_sign_out_forgets_the_saved_sign_in(
    auth: FirebaseAuth, next_run: FirebaseAuth, keyring: MemoryKeyring
) -> None:
    await auth.sign_up(unique_email(), PASSWORD)

    await auth.sign_out()

    assert auth.session is None
    assert ENTRY not in keyring.secrets
    assert await next_run.restore() is None


async def test_two_projects_keep_their_own_sign_ins(
    auth: FirebaseAuth, auth_emulator: AuthEmulator, keyring: MemoryKeyring, clock: Clock
) -> None:
    other = FirebaseAuth(
        AuthSettings.for_emulator(auth_emulator.host, project_id="demo-another-project"),
        SecretStore(keyring),
        clock=clock,
    )
    await auth.sign_up(unique_email(), PASSWORD)
    # Another project's sign-in, as a run of the app on that project saved it.
    await other._save(SavedSignIn("someone", "their-refresh-token"))

    await auth.sign_out()

    assert list(_saved(keyring)["projects"]) == ["demo-another-project"]
    await other.aclose()


async def test_a_saved_sign_in_that_no_longer_works_is_forgotten(
    auth: FirebaseAuth, next_run: FirebaseAuth, auth_emulator: AuthEmulator, keyring: MemoryKeyring
) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD)
    auth_emulator.disable(session.uid)

    with pytest.raises(SignInRequired):
        await next_run.restore()
    assert ENTRY not in keyring.secrets


async def test_offline_at_start_keeps_the_saved_sign_in_and_retries_later(
    auth: FirebaseAuth, auth_emulator: AuthEmulator, keyring: MemoryKeyring, clock: Clock
) -> None:
    session = await auth.sign_up(unique_email(), PASSWORD)
    with TcpProxy("127.0.0.1", auth_emulator.port) as line:
        later = FirebaseAuth(
            AuthSettings.for_emulator(
                line.host_port, project_id=auth_emulator.project_id, timeout_s=2
            ),
            SecretStore(keyring),
            clock=clock,
        )
        line.cut()

        with pytest.raises(AuthUnavailable):
            await later.restore()
        saved = await later.saved_sign_in()
        assert saved is not None
        assert saved.uid == session.uid
        line.restore()

        assert token_claims(await later.id_token())["user_id"] == session.uid
        assert later.session is not None
        await later.aclose()


# -- google-auth credentials --------------------------------------------------------------------


async def test_credentials_carry_the_id_token_and_google_auth_refreshes_them(
    auth: FirebaseAuth,
) -> None:
    from google.auth.transport.requests import Request

    session = await auth.sign_up(unique_email(), PASSWORD)
    credentials = auth.credentials()
    assert credentials.token == session.id_token
    assert credentials.valid
    time.sleep(1.1)

    await asyncio.to_thread(credentials.refresh, Request())

    assert credentials.token != session.id_token
    assert token_claims(credentials.token)["user_id"] == session.uid
    assert auth.session is not None
    assert auth.session.id_token == credentials.token


async def test_credentials_need_a_sign_in(auth: FirebaseAuth) -> None:
    with pytest.raises(SignInRequired):
        auth.credentials()


# -- failures that are not the user's -----------------------------------------------------------


async def test_an_unreachable_service_is_unavailable_quickly(keyring: MemoryKeyring) -> None:
    nowhere = FirebaseAuth(
        AuthSettings.for_emulator(f"127.0.0.1:{free_port()}", project_id="demo-x", timeout_s=2),
        SecretStore(keyring),
    )
    started = time.monotonic()

    with pytest.raises(AuthUnavailable):
        await nowhere.sign_in(unique_email(), PASSWORD)

    assert time.monotonic() - started < 3
    await nowhere.aclose()


async def test_a_server_that_never_answers_times_out(keyring: MemoryKeyring) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hanging = FirebaseAuth(
        AuthSettings.for_emulator(f"127.0.0.1:{port}", project_id="demo-x", timeout_s=0.5),
        SecretStore(keyring),
    )
    started = time.monotonic()

    with pytest.raises(AuthUnavailable, match=r"did not answer within 0\.5 s"):
        await hanging.sign_in(unique_email(), PASSWORD)

    assert time.monotonic() - started < 2
    await hanging.aclose()
    server.close()


async def test_failures_never_show_the_password_or_tokens(
    auth: FirebaseAuth, keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await auth.sign_up(unique_email(), PASSWORD)
    broken = FirebaseAuth(
        AuthSettings.for_emulator(f"127.0.0.1:{free_port()}", project_id="demo-x", timeout_s=1),
        SecretStore(keyring),
        clock=clock,
    )
    messages: list[str] = []
    for attempt in (broken.sign_in("a@example.com", PASSWORD), auth.sign_in("x", PASSWORD)):
        try:
            await attempt
        except Exception as error:
            messages += [str(error), repr(error)]
    await broken.aclose()

    shown = "\n".join([*messages, caplog.text, repr(auth), repr(auth.session)])
    for secret in (PASSWORD, session.id_token, session.refresh_token):
        assert secret not in shown


async def test_an_api_key_the_service_refuses_is_a_settings_problem(
    auth_emulator: AuthEmulator, keyring: MemoryKeyring
) -> None:
    keyless = FirebaseAuth(
        AuthSettings.for_emulator(auth_emulator.host, project_id="demo-x", api_key=""),
        SecretStore(keyring),
    )

    with pytest.raises(AuthMisconfigured, match="Web API key"):
        await keyless.sign_in(unique_email(), PASSWORD)
    await keyless.aclose()


async def test_emulator_settings_map_the_host_as_firebase_sdks_do() -> None:
    settings = AuthSettings.for_emulator("127.0.0.1:9099", project_id="demo-p", api_key="k")

    assert settings.identity_url == "http://127.0.0.1:9099/identitytoolkit.googleapis.com/v1"
    assert settings.token_url == "http://127.0.0.1:9099/securetoken.googleapis.com/v1"
    assert settings.secure_token_uri.endswith("/securetoken.googleapis.com/v1/token?key=k")
    assert "secret-ish-key" not in repr(AuthSettings("secret-ish-key", "p"))


async def test_listeners_hear_the_new_account_s_name(auth: FirebaseAuth) -> None:
    heard: list[AuthSession | None] = []
    auth.on_change(heard.append)

    await auth.sign_up(unique_email(), PASSWORD, "Ada")

    assert [each.display_name for each in heard if each is not None] == [None, "Ada"]
