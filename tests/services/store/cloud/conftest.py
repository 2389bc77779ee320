"""The cloud store's tests: one official Firestore emulator for the whole run, a project of its
own per test, and the user's data key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gptlab_desktop.models import new_id
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from tests.fakes.firestore_emulator import (
    EMULATOR_HOST_ENV,
    FirestoreEmulator,
    missing_reason,
    unique_project_id,
)


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


@pytest.fixture
def cipher() -> RecordCipher:
    """A user's data key, bound to a fresh user id."""
    return RecordCipher(DataKey.generate(), new_id())
