"""A process killed (SIGKILL) while it sends its outbox loses nothing and counts nothing twice.

A first process queues a session of many messages for the real Firestore emulator and starts
sending it in small batches; the test kills it with SIGKILL once part has landed — wherever it
is: between a commit and forgetting the rows it sent, mid-commit, or between batches. A second
run on the same data directory sends the rest, and the emulator then holds every message once,
with the counters as they should be.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from google.cloud import firestore

from gptlab_desktop.models import new_id
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.store.cloud import documents as docs
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from tests.builders import DB_NAME, make_message, start_session

pytestmark = [pytest.mark.firestore, pytest.mark.asyncio]

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 400

# The sender: the same composition as the app's sync, sending 20 rows a commit, forever.
_SENDER = """
import asyncio, base64, sys
from pathlib import Path
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.store.cloud.documents import RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.synced import SyncedStore

path, project, user_id, key = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

async def main():
    store = SyncedStore(path)
    await store.open()
    cipher = RecordCipher(DataKey(base64.b64decode(key)), user_id)
    cloud = FirestoreStore(FirestoreSettings(project_id=project), cipher)
    await cloud.open()
    async def the_cipher():
        return cipher
    async def no_key():
        return None
    replayer = OutboxReplayer(store, cloud, the_cipher, no_key, batch_rows=20, gather_s=0)
    print("SENDING", flush=True)
    while True:
        await replayer.replay_ready()
        await asyncio.sleep(0.01)

asyncio.run(main())
"""


def waiting_rows(path: Path) -> int:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


async def test_a_sender_killed_mid_replay_loses_and_duplicates_nothing(
    tmp_path: Path, emulator_project: str
) -> None:
    path = tmp_path / DB_NAME
    key = DataKey.generate()
    user_id = new_id()
    store = SyncedStore(path)
    await store.open()
    await store.adopt_local_user(user_id)
    await store.journal_for(f"firestore:{emulator_project}/(default)")
    me = await store.local_user()
    session = await start_session(store, me, None)
    for start in range(0, MESSAGES, 50):
        await store.add_messages(
            [make_message(session.id, f"m{i}") for i in range(start, start + 50)]
        )
    await store.close()
    queued = waiting_rows(path)

    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SENDER,
            str(path),
            emulator_project,
            user_id,
            base64.b64encode(key._key).decode(),
        ],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while waiting_rows(path) > queued // 2:  # let part of it land, then kill
            assert sender.poll() is None, sender.stderr.read().decode() if sender.stderr else ""
            assert time.monotonic() < deadline, "the sender sent nothing"
            await asyncio.sleep(0.005)
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert waiting_rows(path) > 0  # killed with work left

    # The next start sends the rest.
    again = SyncedStore(path)
    await again.open()
    cipher = RecordCipher(key, user_id)
    cloud = FirestoreStore(FirestoreSettings(project_id=emulator_project), cipher)
    await cloud.open()
    try:

        async def the_cipher() -> RecordCipher:
            return cipher

        async def no_key() -> None:
            return None

        await OutboxReplayer(again, cloud, the_cipher, no_key, gather_s=0).replay_now()
        assert (await again.outbox_counts()).pending == 0
    finally:
        await cloud.close()
        await again.close()

    client = firestore.AsyncClient(project=emulator_project)
    try:
        stored = (await client.document(docs.session_path(session.id)).get()).to_dict()
        messages = [
            s async for s in client.collection(f"{docs.session_path(session.id)}/messages").stream()
        ]
        user = (await client.document(docs.user_path(user_id)).get()).to_dict()
    finally:
        await client._transport.close()
    assert stored is not None and stored["message_count"] == MESSAGES
    assert len(messages) == MESSAGES
    assert user is not None and user["sessions_started"] == 1
