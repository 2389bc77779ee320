"""The emulator stand-in: it answers once started, and stopping it frees its port (Java too)."""

from __future__ import annotations

import urllib.request

import pytest

from tests.fakes.firestore_emulator import FirestoreEmulator, missing_reason
from tests.fakes.loopback import stopping_frees_its_port

pytestmark = pytest.mark.firestore


def test_the_emulator_answers_once_started(firestore_emulator: FirestoreEmulator) -> None:
    with urllib.request.urlopen(f"http://{firestore_emulator.host_port}/", timeout=2) as reply:
        assert reply.read().strip() == b"Ok"


def test_stopping_the_emulator_frees_its_port() -> None:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    assert stopping_frees_its_port(FirestoreEmulator)


def test_without_gcloud_the_reason_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    reason = missing_reason()

    assert reason is not None
    assert "apt-get install google-cloud-cli-firestore-emulator" in reason
    assert "gcloud components install cloud-firestore-emulator" in reason
