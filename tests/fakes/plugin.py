"""Pytest fixtures for the fakes; registered in tests/conftest.py through ``pytest_plugins``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import auth_emulator as auth_emulator_module
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.auth_emulator import REPO_ROOT, AuthEmulator
from tests.fakes.firestore_emulator import (
    EMULATOR_HOST_ENV,
    FirestoreEmulator,
    missing_reason,
    unique_project_id,
)
from tests.fakes.openai_server import FakeOpenAIServer, LlamaCpp
from tests.fakes.tls_front import GRPC_ROOTS_ENV, Certificates, TlsFront, make_certificates

# The shared project's security rules, as deployed.
FIRESTORE_RULES = REPO_ROOT / "firestore.rules"


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A running OpenAI-compatible loopback server, stopped after the test."""
    server = FakeOpenAIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llama_cpp() -> Iterator[FakeOpenAIServer]:
    """llama.cpp's server as measured, running: SmolLM2 with a 2,048-token context, one slot."""
    with FakeOpenAIServer(personality=LlamaCpp(n_ctx=2048)) as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    """A running Anthropic Messages API loopback server, stopped after the test."""
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[FirestoreEmulator]:
    """The run's emulator, started at first use and stopped (process group) at the end."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"Firestore emulator tests skipped: {reason}")
    with FirestoreEmulator() as emulator:
        yield emulator


@pytest.fixture
def emulator_project(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh project id on the emulator, with the client pointed at it (the google library
    reads ``FIRESTORE_EMULATOR_HOST`` itself; the app's services never do)."""
    monkeypatch.setenv(EMULATOR_HOST_ENV, firestore_emulator.host_port)
    return unique_project_id()


@pytest.fixture(scope="session")
def auth_emulator() -> Iterator[AuthEmulator]:
    """The run's Firebase Authentication emulator (firebase-tools), started at first use and
    stopped (process group) at the end; ``project_id`` is a ``demo-`` project."""
    reason = auth_emulator_module.missing_reason()
    if reason is not None:
        pytest.skip(f"Auth emulator tests skipped: {reason}")
    with AuthEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def rules_emulator() -> Iterator[FirestoreEmulator]:
    """A second Firestore emulator of the run, enforcing ``firestore.rules`` (the first one,
    reached through ``FIRESTORE_EMULATOR_HOST``, is always an administrator's)."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"Firestore emulator tests skipped: {reason}")
    with FirestoreEmulator(rules=FIRESTORE_RULES) as emulator:
        yield emulator


@dataclass(frozen=True)
class FirestoreTls:
    """Where a production-built client reaches the rules emulator: ``endpoint`` for
    ``client_options={"api_endpoint": ...}``, ``ca_file`` the certificate gRPC trusts (and an
    HTTP client's ``verify``)."""

    endpoint: str
    ca_file: Path
    emulator: FirestoreEmulator
    front: TlsFront

    @property
    def rest_url(self) -> str:
        """``https://127.0.0.1:PORT/v1``: Firestore's REST API through the front."""
        return f"https://{self.endpoint}/v1"


def pytest_configure(config: pytest.Config) -> None:
    """Make the run's TLS certificates and have gRPC trust them, before any test runs.

    gRPC reads ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` once per process, when the first TLS channel
    is made: set any later (say, in a fixture after another test's client has connected
    somewhere over TLS), it is silently ignored and every handshake with the front fails.
    Nothing in the tests reaches a real TLS server, so trusting only this CA costs nothing.
    """
    folder = Path(tempfile.mkdtemp(prefix="gptlab-tls-"))
    config.stash[_TLS_FOLDER] = folder
    config.stash[_CERTIFICATES] = make_certificates(folder)
    os.environ[GRPC_ROOTS_ENV] = str(config.stash[_CERTIFICATES].ca_file)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's certificates."""
    folder = config.stash.get(_TLS_FOLDER, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


_TLS_FOLDER = pytest.StashKey[Path]()
_CERTIFICATES = pytest.StashKey[Certificates]()


@pytest.fixture(scope="session")
def firestore_tls(
    rules_emulator: FirestoreEmulator, pytestconfig: pytest.Config
) -> Iterator[FirestoreTls]:
    """The rules emulator behind a TLS front whose certificate gRPC trusts (see
    ``pytest_configure``), started at first use and stopped at the end of the run."""
    certificates = pytestconfig.stash[_CERTIFICATES]
    with TlsFront("127.0.0.1", rules_emulator.port, certificates) as front:
        yield FirestoreTls(front.endpoint, certificates.ca_file, rules_emulator, front)


@pytest.fixture
def signed_in_firestore(
    firestore_tls: FirestoreTls, monkeypatch: pytest.MonkeyPatch
) -> FirestoreTls:
    """The TLS front, with ``FIRESTORE_EMULATOR_HOST`` unset for the test: the client then
    sends the credentials it is given instead of ``Bearer owner``."""
    monkeypatch.delenv(EMULATOR_HOST_ENV, raising=False)
    return firestore_tls


# A real Secret Service (gnome-keyring on a private D-Bus bus): secret_service_daemon,
# secret_service.
pytest_plugins = ["tests.fakes.keyring_daemon"]
