"""The Auth emulator stand-in: it answers once started, stopping it frees its port, and where
firebase-tools is missing the skip says how to install it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import auth_emulator as stand_in
from tests.fakes.auth_emulator import AuthEmulator, token_claims, unique_email
from tests.fakes.loopback import stopping_frees_its_port

pytestmark = pytest.mark.auth_emulator


def test_its_project_is_a_demo_project(auth_emulator: AuthEmulator) -> None:
    assert auth_emulator.project_id.startswith("demo-")
    assert auth_emulator.host == f"127.0.0.1:{auth_emulator.port}"


def test_custom_claims_reach_the_next_token(auth_emulator: AuthEmulator) -> None:
    user = auth_emulator.sign_up(unique_email(), "correct horse battery", "Ada")

    admin = auth_emulator.set_claims(user, {"admin": True})

    assert token_claims(admin.id_token)["admin"] is True
    assert token_claims(admin.id_token)["name"] == "Ada"


def test_clear_deletes_every_account(auth_emulator: AuthEmulator) -> None:
    email = unique_email()
    auth_emulator.sign_up(email, "correct horse battery")

    auth_emulator.clear()

    with pytest.raises(RuntimeError, match="EMAIL_NOT_FOUND"):
        auth_emulator.sign_in(email, "correct horse battery")


def test_stopping_the_emulator_frees_its_port() -> None:
    reason = stand_in.missing_reason()
    if reason is not None:
        pytest.skip(reason)
    assert stopping_frees_its_port(AuthEmulator)


def test_without_firebase_tools_the_reason_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(stand_in, "FIREBASE_TOOLS_DIR", tmp_path / "missing")

    reason = stand_in.missing_reason()

    assert reason is not None
    assert "scripts/run-tests" in reason
    assert "npm install --no-save --no-package-lock --prefix .tools/firebase-tools" in reason
    assert f"firebase-tools@{stand_in.FIREBASE_TOOLS_VERSION}" in reason
