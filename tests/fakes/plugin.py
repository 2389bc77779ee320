"""Pytest fixtures for the fakes; registered in tests/conftest.py through ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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


# A real Secret Service (gnome-keyring on a private D-Bus bus): secret_service_daemon,
# secret_service.
pytest_plugins = ["tests.fakes.keyring_daemon"]
