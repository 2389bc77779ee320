"""How the sign-in words Firebase's refusals that the Auth emulator cannot be made to give
(production's wording, throttling, a sign-in method switched off, server failures): a loopback
server answers as production does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptlab_desktop.services.auth import AuthSettings, FirebaseAuth
from gptlab_desktop.services.errors import (
    AuthMisconfigured,
    AuthRefused,
    AuthUnavailable,
    SignInMethodDisabled,
    SignInRequired,
    TooManyAttempts,
    WrongEmailOrPassword,
)
from gptlab_desktop.services.secrets import SERVICE_NAME, SecretName, SecretStore
from tests.fakes.memory_keyring import MemoryKeyring

PASSWORD = "correct horse battery"
EMAIL = "ada@example.com"
ENTRY = (SERVICE_NAME, SecretName.FIREBASE_SIGN_IN.value)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def keyring() -> MemoryKeyring:
    """The machine's keyring."""
    return MemoryKeyring()


def _firebase_error(status: int, message: str) -> bytes:
    body = json.dumps({"error": {"code": status, "message": message, "errors": []}}).encode()
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many", 503: "Unavailable"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


@pytest_asyncio.fixture
async def answering() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A loopback server that answers every request with the next of ``answers``."""
    answers: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(answers.pop(0))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}", answers
    server.close()


@pytest.mark.parametrize(
    ("status", "message", "error", "words"),
    [
        (400, "INVALID_LOGIN_CREDENTIALS", WrongEmailOrPassword, "email or password is not right"),
        (400, "TOO_MANY_ATTEMPTS_TRY_LATER : Access disabled", TooManyAttempts, "Wait a few"),
        (400, "OPERATION_NOT_ALLOWED", SignInMethodDisabled, "does not allow"),
        (400, "ADMIN_ONLY_OPERATION", SignInMethodDisabled, "does not allow"),
        (400, "API key not valid. Please pass a valid API key.", AuthMisconfigured, "API key"),
        (400, "CONFIGURATION_NOT_FOUND", AuthMisconfigured, "settings are not right"),
        (503, "UNAVAILABLE", AuthUnavailable, "HTTP 503"),
        (400, "SOMETHING_NEW", AuthRefused, "SOMETHING_NEW"),
    ],
)
async def test_production_s_refusals_become_sentences(
    answering: tuple[str, list[bytes]],
    keyring: MemoryKeyring,
    status: int,
    message: str,
    error: type[Exception],
    words: str,
) -> None:
    host, answers = answering
    answers.append(_firebase_error(status, message))
    firebase = FirebaseAuth(
        AuthSettings.for_emulator(host, project_id="demo-x", timeout_s=2), SecretStore(keyring)
    )

    with pytest.raises(error, match=words):
        await firebase.sign_in(EMAIL, PASSWORD)
    await firebase.aclose()


@pytest.mark.parametrize("code", ["TOKEN_EXPIRED", "INVALID_REFRESH_TOKEN", "USER_NOT_FOUND"])
async def test_a_refresh_refused_for_good_signs_out(
    answering: tuple[str, list[bytes]], keyring: MemoryKeyring, code: str
) -> None:
    host, answers = answering
    answers.append(_firebase_error(400, code))
    keyring.secrets[ENTRY] = json.dumps(
        {"version": 1, "projects": {"demo-x": {"uid": "u1", "refresh_token": "r1"}}}
    )
    firebase = FirebaseAuth(
        AuthSettings.for_emulator(host, project_id="demo-x", timeout_s=2), SecretStore(keyring)
    )

    with pytest.raises(SignInRequired, match=r"(?i)signed out"):
        await firebase.restore()
    assert ENTRY not in keyring.secrets
    await firebase.aclose()


async def test_a_refresh_failing_on_the_server_s_side_keeps_the_sign_in(
    answering: tuple[str, list[bytes]], keyring: MemoryKeyring
) -> None:
    host, answers = answering
    answers.append(_firebase_error(503, "UNAVAILABLE"))
    keyring.secrets[ENTRY] = json.dumps(
        {"version": 1, "projects": {"demo-x": {"uid": "u1", "refresh_token": "r1"}}}
    )
    firebase = FirebaseAuth(
        AuthSettings.for_emulator(host, project_id="demo-x", timeout_s=2), SecretStore(keyring)
    )

    with pytest.raises(AuthUnavailable):
        await firebase.restore()
    assert ENTRY in keyring.secrets
    await firebase.aclose()
