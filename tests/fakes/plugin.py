"""Pytest fixtures for the fakes; registered in tests/conftest.py through ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.firestore_emulator import (
    EMULATOR_HOST_ENV,
    FirestoreEmulator,
    missing_reason,
    unique_project_id,
)
from tests.fakes.openai_server import FakeOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A running OpenAI-compatible loopback server, stopped after the test."""
    server = FakeOpenAIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


# A real Secret Service (gnome-keyring on a private D-Bus bus): secret_service_daemon,
# secret_service.
pytest_plugins = ["tests.fakes.keyring_daemon"]
