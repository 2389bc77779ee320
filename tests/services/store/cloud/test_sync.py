"""The synced store, its outbox replayer and its puller against the real Firestore emulator:
a turn leaves as one commit, nothing is lost offline and nothing counts twice, a refused write is
set aside with its reason, and two machines see each other's work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from google.cloud import firestore

from gptlab_desktop.models import Assistant, MessageState, Role, Session, SessionStatus, new_id
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.errors import ReadOnlyAssistant
from gptlab_desktop.services.store.base import ShowcaseEntry
from gptlab_desktop.services.store.cloud import documents as docs
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.member_writes import MemberWrites
from gptlab_desktop.services.store.cloud.puller import CloudPuller
from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.outbox import DocumentKind
from gptlab_desktop.services.sync_status import SyncState
from tests.builders import DB_NAME, make_draft, make_message, start_session
from tests.fakes.firestore_emulator import EMULATOR_HOST_ENV, FirestoreEmulator
from tests.fakes.tcp_proxy import TcpProxy
from tests.services.store.cloud.counting import CountingStore

pytestmark = [pytest.mark.firestore, pytest.mark.asyncio]

SECRET = "the quokka hides behind the shed"
LATER = "9999-01-01T00:00:00.000000+00:00"


@dataclass
class Machine:
    """One data directory synced with the project: its cache, its cloud store, its sync."""

    store: SyncedStore
    cloud: CountingStore
    replayer: OutboxReplayer
    puller: CloudPuller

    async def close(self) -> None:
        await self.cloud.close()
        await self.store.close()


async def a_machine(
    folder: Path, project: str, cipher: RecordCipher, *, is_member: bool = False
) -> Machine:
    folder.mkdir(parents=True, exist_ok=True)
    store = SyncedStore(folder / DB_NAME)
    assert (await store.open()).is_usable
    await store.adopt_local_user(cipher.user_id)  # joined: the account's user is this one's
    await store.journal_for(f"firestore:{project}/(default)")
    cloud = CountingStore(FirestoreSettings(project_id=project), cipher)
    assert (await cloud.open()).is_usable

    async def the_cipher() -> RecordCipher:
        return cipher

    async def no_wrapped_key() -> None:
        return None

    async def cached_bots(bot_ids: Sequence[str]) -> dict[str, Assistant | None]:
        return {bot_id: await store.get_assistant(bot_id) for bot_id in bot_ids}

    # A shared project's member sends only what the rules let them write (as CloudSync does).
    member = MemberWrites(cipher.user_id, cached_bots) if is_member else None
    replayer = OutboxReplayer(store, cloud, the_cipher, no_wrapped_key, gather_s=0, member=member)
    return Machine(store, cloud, replayer, CloudPuller(store, cloud, the_cipher))


@pytest_asyncio.fixture
async def machine_named(
    tmp_path: Path, emulator_project: str, cipher: RecordCipher
) -> AsyncIterator[Callable[..., Awaitable[Machine]]]:
    """Makes computers of one account on the test's project (or, given another ``cipher``, of
    another member of it); closes them afterwards."""
    made: list[Machine] = []

    async def make(name: str, of: RecordCipher | None = None) -> Machine:
        account = cipher if of is None else of
        made.append(
            await a_machine(tmp_path / name, emulator_project, account, is_member=of is not None)
        )
        return made[-1]

    yield make
    for machine in made:
        await machine.close()


@pytest_asyncio.fixture
async def laptop(machine_named: Callable[[str], Awaitable[Machine]]) -> Machine:
    return await machine_named("laptop")


@pytest_asyncio.fixture
async def desktop(machine_named: Callable[[str], Awaitable[Machine]]) -> Machine:
    return await machine_named("desktop")


async def raw(project: str, path: str) -> dict[str, Any] | None:
    """A document as the emulator holds it, read with a client of its own."""
    client = firestore.AsyncClient(project=project)
    try:
        snapshot = await client.document(path).get()
        return snapshot.to_dict() if snapshot.exists else None
    finally:
        await client._transport.close()


async def a_sent_session(machine: Machine) -> Session:
    """A session started on ``machine`` and already in the cloud."""
    session = await start_session(machine.store, await machine.store.local_user(), None)
    await sent(machine)
    return session


async def sent(machine: Machine) -> None:
    await machine.replayer.replay_ready()
    assert (await machine.store.outbox_counts()).pending == 0


async def test_a_chat_turn_leaves_as_one_commit_once_the_reply_is_finished(
    laptop: Machine, emulator_project: str
) -> None:
    session = await a_sent_session(laptop)
    laptop.cloud.reset()
    reply = make_message(session.id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    await laptop.store.add_messages([make_message(session.id, SECRET), reply])
    for text in ("Behind", "Behind the", "Behind the shed."):  # the 500 ms flushes
        await laptop.store.update_message(reply.id, text=text, state=MessageState.STREAMING)
        await laptop.replayer.replay_ready()
    assert laptop.cloud.commits == 0  # nothing leaves while the reply streams

    await laptop.store.update_message(
        reply.id, text="Behind the shed.", state=MessageState.COMPLETE
    )
    await sent(laptop)

    assert (laptop.cloud.reads, laptop.cloud.commits) == (0, 1)
    stored = await raw(emulator_project, docs.session_path(session.id))
    assert stored is not None and stored["message_count"] == 2
    body = await raw(emulator_project, docs.message_path(session.id, reply.id))
    assert body is not None and body["state"] == "complete"
    assert "shed" not in str(body) and SECRET not in str(stored)


async def test_offline_writes_wait_and_arrive_exactly_once_when_the_line_is_back(
    tmp_path: Path,
    firestore_emulator: FirestoreEmulator,
    emulator_project: str,
    cipher: RecordCipher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, port = firestore_emulator.host_port.rsplit(":", 1)
    with TcpProxy(host, int(port)) as line:
        monkeypatch.setenv(EMULATOR_HOST_ENV, line.host_port)
        machine = await a_machine(tmp_path / "offline", emulator_project, cipher)
        try:
            me = await machine.store.local_user()
            first = await start_session(machine.store, me, None)
            await sent(machine)

            line.cut()  # the network goes
            await machine.store.add_messages(
                [make_message(first.id, f"offline {i}") for i in range(3)]
            )
            await machine.store.rename_session(first.id, "Written offline")
            await machine.store.end_session(first.id, SessionStatus.COMPLETED)
            second = await start_session(machine.store, me, None)
            await machine.replayer.replay_ready()
            assert machine.replayer.status.state is SyncState.OFFLINE
            waiting = (await machine.store.outbox_counts()).pending
            assert waiting > 0

            line.restore()  # and comes back
            await machine.replayer.replay_ready()  # backing off: not due yet, nothing lost
            assert (await machine.store.outbox_counts()).pending == waiting
            await machine.replayer.replay_now()  # "Sync now": what waits is due at once
            assert (await machine.store.outbox_counts()).pending == 0
            assert machine.replayer.status.state is SyncState.ONLINE
        finally:
            await machine.close()

    monkeypatch.setenv(EMULATOR_HOST_ENV, firestore_emulator.host_port)  # read it directly
    stored = await raw(emulator_project, docs.session_path(first.id))
    assert stored is not None
    assert stored["message_count"] == 3 and stored["status"] == int(SessionStatus.COMPLETED)
    user = await raw(emulator_project, docs.user_path(cipher.user_id))
    assert user is not None
    assert (user["sessions_started"], user["sessions_ended"]) == (2, 1)
    assert await raw(emulator_project, docs.session_path(second.id)) is not None


async def test_a_batch_whose_answer_was_lost_is_not_counted_again(
    laptop: Machine, emulator_project: str
) -> None:
    session = await a_sent_session(laptop)
    await laptop.store.add_messages([make_message(session.id, "counted once")])
    # The commit lands, but the app dies before it learns so: the rows are still there.
    entries = await laptop.store.claim_ready(LATER, 100)
    await laptop.cloud.commit(await laptop.replayer._writes(entries))

    await sent(laptop)  # the replay meets its markers: nothing is counted twice

    stored = await raw(emulator_project, docs.session_path(session.id))
    assert stored is not None and stored["message_count"] == 1


async def test_a_write_the_cloud_refuses_is_set_aside_with_its_reason_and_the_rest_go(
    laptop: Machine, emulator_project: str
) -> None:
    me = await laptop.store.local_user()
    fine = await start_session(laptop.store, me, None)
    too_big = await start_session(laptop.store, me, None)
    await laptop.store.rename_session(too_big.id, "x" * 1_100_000)  # over Firestore's 1 MiB

    await laptop.replayer.replay_ready()

    [letter] = await laptop.store.dead_letters()
    assert (letter.kind, letter.doc_id) == (DocumentKind.SESSION, too_big.id)
    assert letter.reason
    assert laptop.replayer.status.state is SyncState.PROBLEM
    assert laptop.replayer.status.refused == 1
    assert await raw(emulator_project, docs.session_path(fine.id)) is not None
    assert await raw(emulator_project, docs.session_path(too_big.id)) is None


async def test_two_machines_see_each_others_sessions_edits_and_deletions(
    laptop: Machine, desktop: Machine
) -> None:
    me = await laptop.store.local_user()
    assistant = await laptop.store.create_assistant(make_draft(name="Tutor"), me.id)
    session = await start_session(laptop.store, me, assistant.id)
    kept, removed = make_message(session.id, SECRET), make_message(session.id, "typo")
    await laptop.store.add_messages([kept, removed])
    await sent(laptop)

    await desktop.puller.pull_once()

    assert [a.name for a in await desktop.store.list_assistants()] == ["Tutor"]
    assert [m.message for m in await desktop.store.list_messages(session.id)] == [SECRET, "typo"]
    assert [hit.session_id for hit in await desktop.store.search_messages("quokka")] == [session.id]

    await desktop.store.rename_session(session.id, "Named on the desktop")
    await desktop.store.delete_message(removed.id)
    await sent(desktop)
    await laptop.puller.pull_once()

    back = await laptop.store.get_session(session.id)
    assert back is not None and back.title == "Named on the desktop"
    assert back.message_count == 1
    assert [m.id for m in await laptop.store.list_messages(session.id)] == [kept.id]

    await laptop.store.delete_session(session.id)
    await sent(laptop)
    await desktop.puller.pull_once()
    await desktop.puller.pull_once()  # again: a deleted session never returns
    assert await desktop.store.get_session(session.id) is None


async def test_the_showcase_exists_once_in_the_cloud_after_two_machines_start(
    laptop: Machine, desktop: Machine, emulator_project: str
) -> None:
    entries = [
        ShowcaseEntry("tutor", make_draft(name="Tutor")),
        ShowcaseEntry("critic", make_draft(name="Critic")),
    ]
    for machine in (laptop, desktop):
        await machine.store.sync_showcase(entries)
        await sent(machine)

    client = firestore.AsyncClient(project=emulator_project)
    try:
        bots = [s async for s in client.collection(docs.BOTS).stream()]
        prompts = [s async for s in client.collection_group(docs.PROMPTS).stream()]
    finally:
        await client._transport.close()
    assert sorted(s.to_dict()["name"] for s in bots) == ["Critic", "Tutor"]
    assert len(prompts) == 4  # an initial and a summary prompt each, once


async def test_a_machine_without_the_data_key_sees_encrypted_history_it_cannot_read(
    laptop: Machine, tmp_path: Path, emulator_project: str, cipher: RecordCipher
) -> None:
    me = await laptop.store.local_user()
    session = await start_session(laptop.store, me, None)
    await laptop.store.add_messages([make_message(session.id, SECRET)])
    await sent(laptop)
    # The same account on a machine that has not joined: another data key.
    stranger = await a_machine(
        tmp_path / "stranger", emulator_project, RecordCipher(DataKey.generate(), cipher.user_id)
    )
    try:
        report = await stranger.puller.pull_once()
        assert report.unreadable >= 2  # the session and its message, said, not applied
        assert await stranger.store.get_session(session.id) is None
    finally:
        await stranger.close()


async def test_a_published_assistant_and_its_new_versions_reach_another_members_lobby(
    machine_named: Callable[..., Awaitable[Machine]], emulator_project: str
) -> None:
    ada = await machine_named("ada")
    bob = await machine_named("bob", RecordCipher(DataKey.generate(), new_id()))
    author = await ada.store.local_user()
    tutor = await ada.store.create_assistant(make_draft(name="Tutor"), author.id)
    await ada.store.create_assistant(make_draft(name="Diary"), author.id)
    await ada.store.set_assistant_published(tutor.id, True, author_name="Ada")
    await sent(ada)

    await bob.puller.pull_once()

    [seen] = await bob.store.list_assistants()  # the private one stays Ada's
    assert (seen.id, seen.published, seen.creator_display_name) == (tutor.id, True, "Ada")
    with pytest.raises(ReadOnlyAssistant):
        await bob.store.update_assistant(tutor.id, make_draft(name="Bob's now"))
    with pytest.raises(ReadOnlyAssistant):
        await bob.store.set_assistant_published(tutor.id, False)

    await start_session(bob.store, await bob.store.local_user(), tutor.id)
    await sent(bob)
    counted = await raw(emulator_project, docs.bot_path(tutor.id))
    prompt = await raw(emulator_project, docs.prompt_path(tutor.id, tutor.active_initial_prompt_id))
    assert counted is not None and counted["sessions_started"] == 1
    assert counted["name"] == "Tutor"  # only counted: nothing else of Ada's was written
    assert prompt is not None and prompt["sessions_started"] == 1

    await ada.puller.pull_once()
    await ada.store.update_assistant(tutor.id, make_draft(name="Tutor", initial_prompt="Ask."))
    await sent(ada)
    await bob.puller.pull_once()

    details = await bob.store.get_assistant_details(tutor.id)
    assert details is not None and details.initial_prompt.message == "Ask."
    assert details.assistant.sessions_started == 1
    assert details.assistant.version_sessions_started == 0  # the new version has started none
