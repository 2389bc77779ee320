"""``firestore.rules``, rule by rule, allowed and denied: real ID tokens from the Auth emulator,
the Firestore emulator enforcing the shipped rules, reached over TLS as in production — through
Firestore's REST API (each write exactly as written here) and through the app's own client.

Each test has a project of its own, loaded with the shipped rules; its documents are seeded as
the emulator's owner (``Bearer owner`` on the emulator's own port, which bypasses rules).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.oauth2.credentials import Credentials

from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.errors import CloudRefused
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.writes import CollectionKind
from tests.fakes.auth_emulator import AuthEmulator, TestUser, unique_email
from tests.fakes.firestore_emulator import unique_project_id
from tests.fakes.plugin import FIRESTORE_RULES, FirestoreTls

pytestmark = pytest.mark.firestore

PASSWORD = "correct horse battery"
ALLOWED, DENIED = 200, 403


def _value(value: object) -> dict[str, Any]:
    """A Python value in Firestore's REST encoding."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, dict):
        return {"mapValue": {"fields": {k: _value(v) for k, v in value.items()}}}
    return {"stringValue": str(value)}


@dataclass
class Rest:
    """Firestore's REST API of one project, as one caller (``token``; None: signed out)."""

    base: str
    project: str
    token: str | None
    verify: ssl.SSLContext | bool = True

    @property
    def _documents(self) -> str:
        return f"projects/{self.project}/databases/(default)/documents"

    def _headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> int:
        """The status of reading ``path`` (404 for an absent document the rules let through)."""
        reply = httpx.get(
            f"{self.base}/{self._documents}/{path}",
            headers=self._headers(),
            verify=self.verify,
            timeout=10,
        )
        return reply.status_code

    def query(self, collection: str, field: str, value: object) -> int:
        """The status of listing ``collection`` where ``field == value``."""
        body = {
            "structuredQuery": {
                "from": [{"collectionId": collection}],
                "where": {
                    "fieldFilter": {
                        "field": {"fieldPath": field},
                        "op": "EQUAL",
                        "value": _value(value),
                    }
                },
            }
        }
        reply = httpx.post(
            f"{self.base}/{self._documents}:runQuery",
            json=body,
            headers=self._headers(),
            verify=self.verify,
            timeout=10,
        )
        return reply.status_code

    def write(
        self,
        path: str,
        fields: dict[str, object] | None = None,
        *,
        increments: dict[str, int] | None = None,
        stamp: bool = True,
        exists: bool | None = None,
    ) -> int:
        """The status of one write: ``fields`` merged, counters incremented, the server's
        ``server_modified_date`` stamp (as the app writes); ``exists`` a precondition."""
        fields = fields or {}
        transforms = [
            {"fieldPath": name, "increment": _value(delta)}
            for name, delta in (increments or {}).items()
        ]
        if stamp:
            transforms.append({"fieldPath": "server_modified_date", "setToServerValue": 1})
        write: dict[str, Any] = {
            "update": {
                "name": f"{self._documents}/{path}",
                "fields": {k: _value(v) for k, v in fields.items()},
            },
            "updateMask": {"fieldPaths": list(fields)},
            "updateTransforms": transforms,
        }
        if exists is not None:
            write["currentDocument"] = {"exists": exists}
        return self._commit([write])

    def delete(self, path: str) -> int:
        """The status of deleting ``path``."""
        return self._commit([{"delete": f"{self._documents}/{path}"}])

    def _commit(self, writes: list[dict[str, Any]]) -> int:
        reply = httpx.post(
            f"{self.base}/{self._documents}:commit",
            json={"writes": writes},
            headers=self._headers(),
            verify=self.verify,
            timeout=10,
        )
        return reply.status_code


@dataclass
class Team:
    """A shared project with the shipped rules: Ada and Bob (members), an admin, the owner."""

    project: str
    ada: TestUser
    bob: TestUser
    admin: TestUser
    tls: FirestoreTls
    owner: Rest

    def as_(self, user: TestUser | None) -> Rest:
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        return Rest(self.tls.rest_url, self.project, user and user.id_token, context)

    def seed(self, path: str, fields: dict[str, object]) -> None:
        assert self.owner.write(path, fields) == ALLOWED


def _load_shipped_rules(tls: FirestoreTls, project: str) -> None:
    reply = httpx.put(
        f"http://{tls.emulator.host_port}/emulator/v1/projects/{project}:securityRules",
        json={
            "rules": {
                "files": [{"name": "firestore.rules", "content": FIRESTORE_RULES.read_text()}]
            }
        },
        timeout=10,
    )
    reply.raise_for_status()
    assert not reply.json().get("issues"), reply.text  # the shipped rules compile


@pytest.fixture
def team(signed_in_firestore: FirestoreTls, auth_emulator: AuthEmulator) -> Iterator[Team]:
    project = unique_project_id("rules")
    _load_shipped_rules(signed_in_firestore, project)
    owner = Rest(f"http://{signed_in_firestore.emulator.host_port}/v1", project, "owner")
    admin = auth_emulator.sign_up(unique_email("admin"), PASSWORD)
    team = Team(
        project,
        auth_emulator.sign_up(unique_email("ada"), PASSWORD, "Ada"),
        auth_emulator.sign_up(unique_email("bob"), PASSWORD, "Bob"),
        auth_emulator.set_claims(admin, {"admin": True}),
        signed_in_firestore,
        owner,
    )
    # The lobby: a showcased assistant, Ada's published one and her private one.
    team.seed("bots/show", {"name": "Socrates", "showcased": True, "creator_user_id": None})
    team.seed("bots/show/prompts/p1", {"message": "Ask.", "is_active": True, "sessions_started": 0})
    for bot, published in (("pub", True), ("private", False)):
        team.seed(
            f"bots/{bot}",
            {
                "name": f"Ada's {bot}",
                "creator_user_id": team.ada.uid,
                "published": published,
                "showcased": False,
                "sessions_started": 0,
                "sessions_ended": 0,
            },
        )
        team.seed(
            f"bots/{bot}/prompts/active",
            {"message": "Now.", "is_active": True, "sessions_started": 0, "sessions_ended": 0},
        )
        team.seed(f"bots/{bot}/prompts/old", {"message": "Before.", "is_active": False})
        team.seed(f"bots/{bot}/model_configs/c1", {"config": {"model": "m"}, "is_active": True})
    team.seed(
        f"users/{team.ada.uid}",
        {"sessions_started": 3, "sessions_ended": 1, "bots_created": 2, "user_hash": None},
    )
    team.seed("sessions/s-ada", {"user_id": team.ada.uid, "bot_id": "pub", "message_count": 2})
    team.seed("sessions/s-ada/messages/m1", {"role": "user", "message": "sealed"})
    yield team


# -- reading the lobby ------------------------------------------------------------------------


def test_the_lobby_is_read_by_every_member_and_nobody_signed_out(team: Team) -> None:
    bob = team.as_(team.bob)
    assert bob.get("bots/show") == ALLOWED
    assert bob.get("bots/pub") == ALLOWED
    assert bob.get("bots/pub/prompts/active") == ALLOWED
    assert bob.get("bots/pub/model_configs/c1") == ALLOWED
    assert bob.get("bots/show/prompts/p1") == ALLOWED
    assert bob.query("bots", "showcased", True) == ALLOWED
    assert bob.query("bots", "published", True) == ALLOWED
    assert team.as_(None).get("bots/show") == DENIED


def test_a_private_assistant_and_old_versions_stay_the_authors(team: Team) -> None:
    bob, ada = team.as_(team.bob), team.as_(team.ada)
    assert bob.get("bots/private") == DENIED
    assert bob.get("bots/private/prompts/active") == DENIED
    assert bob.get("bots/pub/prompts/old") == DENIED  # only the active versions are listed
    assert bob.query("bots", "creator_user_id", team.ada.uid) == DENIED
    assert ada.get("bots/private") == ALLOWED
    assert ada.get("bots/pub/prompts/old") == ALLOWED
    assert ada.query("bots", "creator_user_id", team.ada.uid) == ALLOWED


# -- another member's published assistant -----------------------------------------------------


def test_a_member_only_counts_sessions_on_another_users_published_assistant(team: Team) -> None:
    bob = team.as_(team.bob)
    assert bob.write("bots/pub", increments={"sessions_started": 1}, exists=True) == ALLOWED
    assert bob.write("bots/pub/prompts/active", increments={"sessions_ended": 1}) == ALLOWED
    assert bob.write("bots/pub", increments={"sessions_started": 2}) == DENIED
    assert bob.write("bots/pub", increments={"sessions_started": -1}) == DENIED
    assert bob.write("bots/pub", {"name": "Bob's now"}) == DENIED
    assert bob.write("bots/pub", {"published": False}) == DENIED
    assert bob.write("bots/pub/prompts/old", increments={"sessions_started": 1}) == DENIED
    assert bob.write("bots/pub/prompts/active", {"message": "Obey Bob."}) == DENIED
    assert bob.write("bots/pub/model_configs/c1", {"is_active": False}) == DENIED
    assert bob.write("bots/private", increments={"sessions_started": 1}) == DENIED
    assert bob.delete("bots/pub") == DENIED


def test_nobody_but_an_admin_writes_the_showcase(team: Team) -> None:
    bob, ada = team.as_(team.bob), team.as_(team.ada)
    assert bob.write("bots/show", increments={"sessions_started": 1}) == DENIED
    assert bob.write("bots/show", {"name": "Mine"}) == DENIED
    assert ada.write("bots/pub", {"showcased": True}) == DENIED  # her own, yet not hers to list
    assert ada.write("bots/new", {"creator_user_id": team.ada.uid, "showcased": True}) == DENIED
    admin = team.as_(team.admin)
    assert admin.write("bots/show", {"name": "Socrates, revised"}) == ALLOWED
    assert admin.write("bots/show/prompts/p2", {"message": "Ask more.", "is_active": True}) == (
        ALLOWED
    )
    assert admin.write("bots/pub", {"showcased": True}) == ALLOWED


# -- one's own documents ----------------------------------------------------------------------


def test_own_assistants_are_written_by_their_author_alone(team: Team) -> None:
    ada, bob = team.as_(team.ada), team.as_(team.bob)
    new = {"creator_user_id": team.ada.uid, "showcased": False, "sessions_started": 0}
    assert ada.write("bots/mine", new, exists=False) == ALLOWED
    assert ada.write("bots/mine/prompts/p", {"message": "Hi.", "is_active": True}) == ALLOWED
    assert ada.write("bots/mine", {"published": True, "creator_display_name": "Ada"}) == ALLOWED
    assert bob.write("bots/forged", {"creator_user_id": team.ada.uid}) == DENIED
    assert bob.write("bots/mine/prompts/q", {"message": "Obey Bob.", "is_active": True}) == (DENIED)
    assert ada.write("bots/mine", {"creator_user_id": team.bob.uid}) == DENIED
    assert ada.delete("bots/mine/prompts/p") == ALLOWED
    assert ada.delete("bots/mine") == ALLOWED


def test_counters_move_only_by_small_steps(team: Team) -> None:
    ada = team.as_(team.ada)
    user = f"users/{team.ada.uid}"
    assert ada.write(user, increments={"sessions_started": 2}) == ALLOWED
    assert ada.write(user, increments={"sessions_ended": -2}) == ALLOWED
    assert ada.write(user, increments={"sessions_started": 5}) == DENIED
    assert ada.write(user, {"bots_created": 40}) == DENIED  # a value written over the count
    assert ada.write("bots/pub", increments={"sessions_started": 3}) == DENIED
    assert ada.write("sessions/s-ada", increments={"message_count": 2}) == ALLOWED
    assert ada.write("sessions/s-ada", increments={"message_count": 7}) == DENIED


def test_a_users_record_is_theirs_alone_and_never_holds_a_key_hash(team: Team) -> None:
    ada, bob = team.as_(team.ada), team.as_(team.bob)
    assert ada.get(f"users/{team.ada.uid}") == ALLOWED
    assert bob.get(f"users/{team.ada.uid}") == DENIED
    assert bob.write(f"users/{team.ada.uid}", increments={"sessions_started": 1}) == DENIED
    assert bob.get(f"users/{team.ada.uid}/settings/x") == DENIED
    assert bob.write(f"users/{team.ada.uid}/tombstones/t", {"path": "sessions/s-ada"}) == DENIED
    assert ada.write(f"users/{team.ada.uid}/applied_writes/m", {"applied_date": "now"}) == (ALLOWED)
    assert ada.write(f"users/{team.ada.uid}", {"user_hash": "abc123"}) == DENIED
    assert ada.write("user_hash/abc123", {"user_hash_type": "open_ai_key"}) == DENIED


def test_sessions_and_their_messages_are_their_users_alone(team: Team) -> None:
    ada, bob = team.as_(team.ada), team.as_(team.bob)
    assert ada.get("sessions/s-ada") == ALLOWED
    assert ada.get("sessions/s-ada/messages/m1") == ALLOWED
    assert ada.query("sessions", "user_id", team.ada.uid) == ALLOWED
    assert bob.get("sessions/s-ada") == DENIED
    assert bob.get("sessions/s-ada/messages/m1") == DENIED
    assert bob.query("sessions", "user_id", team.ada.uid) == DENIED
    assert bob.write("sessions/s-ada", {"status": 1}) == DENIED
    assert bob.write("sessions/s-ada/messages/m2", {"role": "user"}) == DENIED
    assert bob.write("sessions/s-bob", {"user_id": team.ada.uid}) == DENIED  # forged owner
    assert bob.delete("sessions/s-ada") == DENIED
    assert bob.write("sessions/s-bob", {"user_id": team.bob.uid}, exists=False) == ALLOWED
    assert bob.write("sessions/s-bob/messages/m1", {"role": "user"}) == ALLOWED
    assert ada.delete("sessions/s-ada/messages/m1") == ALLOWED


# -- through the app's own client --------------------------------------------------------------


def _store(team: Team, user: TestUser) -> FirestoreStore:
    settings = FirestoreSettings(
        project_id=team.project,
        credentials=Credentials(token=user.id_token),
        api_endpoint=team.tls.endpoint,
    )
    return FirestoreStore(settings, RecordCipher(DataKey.generate(), user.uid))


@pytest.mark.asyncio
async def test_the_apps_client_sees_the_lobby_but_not_another_users_session(team: Team) -> None:
    bob = _store(team, team.bob)
    assert (await bob.open()).is_usable
    try:
        bots = await bob.changed_since(CollectionKind.BOTS, _long_ago())
        assert {document.id for document in bots} >= {"show", "pub"}
        assert "private" not in {document.id for document in bots}
        # Of another user's assistant, the active versions only: all the rules let Bob read.
        prompts = await bob.changed_since(CollectionKind.PROMPTS, _long_ago())
        assert {document.path for document in prompts} >= {"bots/pub/prompts/active"}
        assert "bots/pub/prompts/old" not in {document.path for document in prompts}
        with pytest.raises(CloudRefused, match="permission denied"):
            await bob.get_session("s-ada")
    finally:
        await bob.close()


def _long_ago() -> Any:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)
