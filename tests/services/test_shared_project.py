"""A team's shared project, end to end, as the app composes it (``build_services``): members
sign up from data directories of their own, the window "reopens" on each account's cache, the
sync reaches the Firestore emulator that enforces the shipped ``firestore.rules`` through the
TLS front with the member's real ID token (Auth emulator), and an admin publishes the showcase.
Nothing here goes around the rules: no ``FIRESTORE_EMULATOR_HOST``, no owner's token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from google.oauth2.credentials import Credentials

from gptlab_desktop.app import build_services
from gptlab_desktop.config import StorageMode, resolve_config
from gptlab_desktop.publish_showcase import main as publish_main
from gptlab_desktop.publish_showcase import publish
from gptlab_desktop.services.bundle import Services
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.errors import CloudRefused, ReadOnlyAssistant, ServiceError
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.cloud.documents import CloudDocument, RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.writes import CloudWrite
from gptlab_desktop.services.sync_status import SyncState
from tests.builders import make_draft, make_message, start_session
from tests.fakes.auth_emulator import AuthEmulator, unique_email
from tests.fakes.firestore_emulator import unique_project_id
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.plugin import FirestoreTls
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.firestore, pytest.mark.auth_emulator, pytest.mark.asyncio]

PASSWORD = "correct horse battery"
API_KEY = "team-web-api-key"


@dataclass
class Project:
    """The team's project: its id, and the environment a member's app runs in."""

    project_id: str
    environ: dict[str, str]
    tls: FirestoreTls


@pytest.fixture
def team_project(signed_in_firestore: FirestoreTls, auth_emulator: AuthEmulator) -> Project:
    project_id = unique_project_id("team")
    return Project(
        project_id,
        {
            "GPTLAB_STORAGE": "shared",
            "GPTLAB_FIRESTORE_PROJECT": project_id,
            "GPTLAB_FIREBASE_API_KEY": API_KEY,
            "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host,
            "GPTLAB_FIRESTORE_ENDPOINT": signed_in_firestore.endpoint,
        },
        signed_in_firestore,
    )


@dataclass
class Member:
    """One person's computer: a data directory, its keyring, and the app's services on it."""

    folder: Path
    project: Project
    keyring: MemoryKeyring = field(default_factory=MemoryKeyring)
    services: Services | None = None

    async def start(self) -> Services:
        """Start the app's services, as ``app.main`` does (the showcase only where seeded)."""
        config = resolve_config(str(self.folder), self.project.environ)
        services = build_services(config, keyring_backend=self.keyring)
        seed = load_showcase_entries() if services.seeds_showcase else []
        data = await services.lobby.open(seed)
        assert data.is_usable
        services.sync.start()
        self.services = services
        return services

    async def sign_up(self, name: str) -> str:
        """Create an account in Storage…, then reopen on its data (as the window does)."""
        services = await self.start()
        email = unique_email(name.lower())
        assert await services.sync.accounts.sign_up(services.sync.settings, email, PASSWORD, name)
        await self.stop()
        services = await self.start()
        account = services.config.storage.account
        assert account is not None and account.display_name == name
        assert services.config.database_file.parent.name == self.project.project_id
        await until(lambda: services.sync.status.state is SyncState.ONLINE)
        return account.uid

    async def stop(self) -> None:
        if self.services is not None:
            await self.services.close()
            self.services = None

    @property
    def app(self) -> Services:
        assert self.services is not None
        return self.services


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


async def drained(member: Member, timeout_s: float = 30.0) -> None:
    """Until the member's outbox is empty: everything sent, or refused (``dead``)."""
    async with asyncio.timeout(timeout_s):
        while (await member.app.store.outbox_counts()).pending:
            await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def ada(tmp_path: Path, team_project: Project) -> AsyncIterator[Member]:
    member = Member(tmp_path / "ada", team_project)
    yield member
    await member.stop()


@pytest_asyncio.fixture
async def bob(tmp_path: Path, team_project: Project) -> AsyncIterator[Member]:
    member = Member(tmp_path / "bob", team_project)
    yield member
    await member.stop()


@pytest_asyncio.fixture
async def showcase(team_project: Project, auth_emulator: AuthEmulator) -> int:
    """The showcase, published by an admin with ``scripts/publish-showcase``'s code."""
    admin = auth_emulator.sign_up(unique_email("admin"), PASSWORD)
    auth_emulator.set_claims(admin, {"admin": True})
    config = resolve_config(None, {**team_project.environ, "GPTLAB_DATA_DIR": "/nonexistent"})
    return await publish(config.storage, admin.email, PASSWORD)


def cloud_as(member_uid: str, token: str, project: Project) -> FirestoreStore:
    """The app's Firestore client as one member (to look at what the rules let them read)."""
    settings = FirestoreSettings(
        project_id=project.project_id,
        credentials=Credentials(token=token),
        api_endpoint=project.tls.endpoint,
    )
    return FirestoreStore(settings, RecordCipher(DataKey.generate(), member_uid))


async def test_members_see_the_showcase_and_keep_their_sessions_to_themselves(
    ada: Member, bob: Member, showcase: int, team_project: Project
) -> None:
    assert showcase == len(load_showcase_entries())
    ada_uid = await ada.sign_up("Ada")
    bob_uid = await bob.sign_up("Bob")
    assert ada_uid != bob_uid

    # The showcase arrives by the pull; no member wrote it.
    await bob.app.sync.sync_now()
    lobby = await bob.app.store.list_assistants()
    showcased = [a for a in lobby if a.showcased]
    assert len(showcased) == showcase

    # Bob chats with a showcased assistant: his session goes up, the showcase's counters are
    # not his to write, and nothing is refused.
    me = await bob.app.store.local_user()
    assert me.id == bob_uid and me.user_hash is None
    session = await start_session(bob.app.store, me, showcased[0].id)
    await bob.app.store.add_messages([make_message(session.id, "What is virtue?")])
    await drained(bob)
    assert (await bob.app.store.outbox_counts()).dead == 0

    # Ada, with her own token, cannot read Bob's session.
    ada_token = await ada.app.auth_for(ada.app.sync.settings).id_token()
    ada_cloud = cloud_as(ada_uid, ada_token, team_project)
    assert (await ada_cloud.open()).is_usable
    try:
        with pytest.raises(CloudRefused):
            await ada_cloud.get_session(session.id)
    finally:
        await ada_cloud.close()
    # ... and her own computer never received it.
    assert await ada.app.store.get_session(session.id) is None


async def test_an_assistant_of_ones_own_goes_up_and_stays_private(
    ada: Member, bob: Member, team_project: Project
) -> None:
    ada_uid = await ada.sign_up("Ada")
    await bob.sign_up("Bob")
    mine = await ada.app.store.create_assistant(make_draft(name="Gardener"), ada_uid)
    await drained(ada)
    assert (await ada.app.store.outbox_counts()).dead == 0

    await bob.app.sync.sync_now()
    assert await bob.app.store.get_assistant(mine.id) is None  # not published: hers alone


async def test_signing_out_opens_the_local_data_again(ada: Member) -> None:
    await ada.sign_up("Ada")
    assert await ada.app.sync.accounts.sign_out(ada.app.sync.settings)
    await ada.stop()

    services = await ada.start()

    assert services.config.storage.mode is StorageMode.SHARED
    assert services.config.storage.account is None
    assert services.config.database_file == services.config.paths.database_file
    assert services.sync.status.state is not SyncState.ONLINE  # asks to sign in
    assert ada.keyring.secrets.get(("gptlab-desktop", "firebase_sign_in")) is None


async def test_only_an_admin_publishes_the_showcase(
    team_project: Project, auth_emulator: AuthEmulator
) -> None:
    member = auth_emulator.sign_up(unique_email("member"), PASSWORD)
    config = resolve_config(None, {**team_project.environ, "GPTLAB_DATA_DIR": "/nonexistent"})

    with pytest.raises(ServiceError, match="Only an admin publishes it"):
        await publish(config.storage, member.email, PASSWORD)


@pytest.mark.filterwarnings("ignore")
def test_the_publish_command_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert publish_main(["--email", "admin@example.com"], environ={}) == 2
    assert "project id and its Web API key" in capsys.readouterr().err


async def test_two_members_share_published_assistants_and_nothing_else(
    ada: Member, bob: Member, showcase: int, team_project: Project, auth_emulator: AuthEmulator
) -> None:
    """The issue's "done when": two users from two data dirs each see the showcase and the
    other's published assistant, chat with it, and neither can read or change the other's
    sessions, assistants or counters."""
    ada_uid = await ada.sign_up("Ada")
    bob_uid = await bob.sign_up("Bob")
    gardener = await ada.app.store.create_assistant(make_draft(name="Gardener"), ada_uid)
    secret = await ada.app.store.create_assistant(make_draft(name="Diary"), ada_uid)
    assert ada.app.lobby.publishing_enabled and ada.app.lobby.author_name == "Ada"
    await ada.app.lobby.publish(gardener.id)
    ada_session = await start_session(ada.app.store, await ada.app.store.local_user(), secret.id)
    await ada.app.store.add_messages([make_message(ada_session.id, "Dear diary")])
    await drained(ada)

    # Bob sees the showcase and Ada's published assistant, by her name; not her private one.
    await bob.app.sync.sync_now()
    lobby = {a.id: a for a in await bob.app.store.list_assistants()}
    assert sum(a.showcased for a in lobby.values()) == showcase
    assert gardener.id in lobby and secret.id not in lobby
    assert lobby[gardener.id].creator_display_name == "Ada"
    assert lobby[gardener.id].is_read_only_for(bob_uid)

    # He chats with it: his session is his, and it counts once on Ada's assistant.
    bob_user = await bob.app.store.local_user()
    bob_session = await start_session(bob.app.store, bob_user, gardener.id)
    await bob.app.store.add_messages([make_message(bob_session.id, "Which roses?")])
    await drained(bob)
    assert (await bob.app.store.outbox_counts()).dead == 0
    with pytest.raises(ReadOnlyAssistant):
        await bob.app.store.update_assistant(gardener.id, make_draft(name="Bob's garden"))

    # Ada's next pull sees Bob's session counted on her assistant and its active version.
    await ada.app.sync.sync_now()
    counted = await ada.app.store.get_assistant_details(gardener.id)
    assert counted is not None
    assert counted.assistant.sessions_started == 1
    assert counted.initial_prompt.sessions_started == 1
    assert await ada.app.store.get_session(bob_session.id) is None

    # Through the rules, neither reads nor changes the other's sessions, assistants, counters.
    bob_cloud = cloud_as(
        bob_uid, auth_emulator.sign_in(bob_user_email(bob), PASSWORD).id_token, team_project
    )
    assert (await bob_cloud.open()).is_usable
    try:
        with pytest.raises(CloudRefused):
            await bob_cloud.get_session(ada_session.id)
        with pytest.raises(CloudRefused):
            await bob_cloud.get_assistant(secret.id)
        with pytest.raises(ReadOnlyAssistant):  # the app's client refuses before the rules
            await bob_cloud.update_assistant(gardener.id, make_draft(name="Bob's garden"))
        bot = documents.bot_path(gardener.id)
        for forged in (
            CloudWrite.merge(CloudDocument(bot, {"name": "Bob's garden"})),
            CloudWrite.update(CloudDocument(bot, {}), increments={"sessions_started": 5}),
            CloudWrite.update(
                CloudDocument(documents.user_path(ada_uid), {}), increments={"bots_created": 1}
            ),
        ):
            with pytest.raises(CloudRefused):
                await bob_cloud.commit([forged])
    finally:
        await bob_cloud.close()

    # A new version of the published assistant reaches Bob's lobby at his next pull.
    await ada.app.store.update_assistant(
        gardener.id, make_draft(name="Gardener", initial_prompt="You grow roses.")
    )
    await drained(ada)
    await bob.app.sync.sync_now()
    details = await bob.app.store.get_assistant_details(gardener.id)
    assert details is not None and details.initial_prompt.message == "You grow roses."

    # Ada takes it back: at Bob's next start it leaves his lobby; his session stays.
    await ada.app.lobby.unpublish(gardener.id)
    await drained(ada)
    await bob.stop()
    await bob.start()
    try:
        await until(lambda: bob.app.sync.status.state is SyncState.ONLINE)
    except TimeoutError:
        raise AssertionError(bob.app.sync.status) from None
    await bob.app.sync.sync_now()
    assert await bob.app.store.get_assistant(gardener.id) is None
    kept = await bob.app.store.get_session(bob_session.id)
    assert kept is not None and kept.bot_initial_prompt_msg  # its copy of the prompt


def bob_user_email(member: Member) -> str:
    account = member.app.config.storage.account
    assert account is not None
    return account.email


LOCKED_RULES = """
rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} { allow read, write: if false; }
  }
}
"""


async def test_a_pull_the_rules_refuse_is_reported_not_silent(
    ada: Member, team_project: Project
) -> None:
    await ada.sign_up("Ada")
    # The team's admin deploys rules that shut members out.
    reply = httpx.put(
        f"http://{team_project.tls.emulator.host_port}/emulator/v1/projects/"
        f"{team_project.project_id}:securityRules",
        json={"rules": {"files": [{"name": "firestore.rules", "content": LOCKED_RULES}]}},
        timeout=10,
    )
    reply.raise_for_status()

    with pytest.raises(CloudRefused):  # "Sync now" says so at once ...
        await ada.app.sync.sync_now()

    # ... and the status bar keeps saying it.
    assert ada.app.sync.status.state is SyncState.PROBLEM

    assert "could not be read" in ada.app.sync.status.reason
    assert "permission denied" in ada.app.sync.status.reason


async def test_offline_at_start_the_cache_works_and_sync_connects_when_back(
    tmp_path: Path, team_project: Project, auth_emulator: AuthEmulator
) -> None:
    host, port = auth_emulator.host.rsplit(":", 1)
    with TcpProxy(host, int(port)) as line:
        environ = {**team_project.environ, "FIREBASE_AUTH_EMULATOR_HOST": line.host_port}
        ada = Member(tmp_path / "ada", replace(team_project, environ=environ))
        try:
            uid = await ada.sign_up("Ada")
            mine = await ada.app.store.create_assistant(make_draft(name="Gardener"), uid)
            await drained(ada)
            await ada.stop()
            line.cut()  # no network: the sign-in cannot renew its token

            await ada.start()
            await until(lambda: bool(ada.app.sync.status.reason))
            assert ada.app.sync.status.state is SyncState.OFFLINE
            assert "could not be reached" in ada.app.sync.status.reason
            assert await ada.app.store.get_assistant(mine.id) is not None  # the cache works

            line.restore()
            await until(lambda: ada.app.sync.status.state is SyncState.ONLINE)
        finally:
            await ada.stop()
