"""The cloud half, on the real Firestore emulator: what each operation costs on the wire, how
fast a backlog of 1,000 writes goes out and whether the window stalls meanwhile, and how soon a
second computer sees a new message.

Run: ``python bench/bench_sync.py`` (the emulator is started and stopped here, as the tests do;
without gcloud the benchmark says so and prints nothing else). Costs are counted where the
Firestore store calls the wire: reads are documents returned (a query that returns none costs
one read in Firestore's pricing, counted as one), writes are the documents a commit writes
(the outbox markers included). GPT Lab, measured on the same emulator (issue 21): 9 reads + 5
writes per chat turn, 23 reads + 6 writes per session start. Targets (issue 21): a turn 0 reads
and 1 commit; a session start <= 1 read + 1 commit; 1,000 queued writes replayed in <= 5 s with
no event-loop stall over 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness import ROOT, Figure, StallMeter, report

sys.path.insert(0, str(ROOT))

from gptlab_desktop.models import MessageState, Role, new_id
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.cloud.documents import CloudDocument, RecordCipher
from gptlab_desktop.services.store.cloud.firestore import FirestoreStore
from gptlab_desktop.services.store.cloud.puller import CloudPuller
from gptlab_desktop.services.store.cloud.replayer import OutboxReplayer
from gptlab_desktop.services.store.cloud.settings import FirestoreSettings
from gptlab_desktop.services.store.cloud.synced import SyncedStore
from gptlab_desktop.services.store.cloud.writes import CloudWrite, WriteKind
from tests.builders import make_message, start_session
from tests.fakes.firestore_emulator import (
    EMULATOR_HOST_ENV,
    FirestoreEmulator,
    missing_reason,
    unique_project_id,
)

PULL_INTERVAL_S = 2.0  # the second computer's pull interval here (the app's: 30 s)


class WireCounter(FirestoreStore):
    """The real store, counting documents read, commits and documents written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset()

    def reset(self) -> None:
        self.reads = self.commits = self.writes = 0

    async def _get_all(self, paths: Iterable[str]) -> dict[str, CloudDocument]:
        found = await super()._get_all(paths)
        self.reads += max(1, len(found))
        return found

    async def _query(self, query: Any) -> list[CloudDocument]:
        found = await super()._query(query)
        self.reads += max(1, len(found))
        return found

    async def _send(self, writes: Sequence[CloudWrite]) -> None:
        await super()._send(writes)
        if writes:
            self.commits += 1
            markers = {w.marker_id for w in writes if w.marker_id is not None}
            tombstones = sum(1 for w in writes if w.kind is WriteKind.DELETE and w.leaves_tombstone)
            self.writes += len(writes) + len(markers) + tombstones


class Computer:
    """A data directory synced with the project: cache, cloud store, replayer, puller."""

    def __init__(self, folder: Path, project: str, cipher: RecordCipher) -> None:
        folder.mkdir(parents=True)
        self.store = SyncedStore(folder / "gptlab.sqlite3")
        self.cloud = WireCounter(FirestoreSettings(project_id=project), cipher)
        self._cipher = cipher
        self._project = project

    async def open(self) -> None:
        await self.store.open()
        await self.store.adopt_local_user(self._cipher.user_id)
        await self.store.journal_for(f"firestore:{self._project}/(default)")
        await self.cloud.open()

        async def cipher() -> RecordCipher:
            return self._cipher

        async def no_key() -> None:
            return None

        self.replayer = OutboxReplayer(self.store, self.cloud, cipher, no_key, gather_s=0)
        self.puller = CloudPuller(self.store, self.cloud, cipher)

    async def close(self) -> None:
        await self.cloud.close()
        await self.store.close()


async def a_turn(computer: Computer, session_id: str) -> None:
    """A chat turn as the engine stores it: the question and the reply's row, five flushes
    while it streams, then the finished reply."""
    reply = make_message(session_id, "", role=Role.ASSISTANT, state=MessageState.STREAMING)
    await computer.store.add_messages([make_message(session_id, "A question?"), reply])
    text = ""
    for word in ("Here", " is", " the", " answer", " you"):
        text += word
        await computer.store.update_message(reply.id, text=text, state=MessageState.STREAMING)
        await computer.replayer.replay_ready()  # what the replayer sees meanwhile
    await computer.store.update_message(reply.id, text=text + ".", state=MessageState.COMPLETE)
    await computer.replayer.replay_ready()


async def costs(folder: Path, project: str, cipher: RecordCipher) -> list[Figure]:
    laptop = Computer(folder / "costs", project, cipher)
    await laptop.open()
    try:
        me = await laptop.store.local_user()
        await laptop.store.sync_showcase(load_showcase_entries())
        await laptop.replayer.replay_ready()
        starts: list[tuple[int, int, int]] = []
        turns: list[tuple[int, int, int]] = []
        for _ in range(10):
            laptop.cloud.reset()
            session = await start_session(laptop.store, me, None)
            await laptop.replayer.replay_ready()
            starts.append((laptop.cloud.reads, laptop.cloud.commits, laptop.cloud.writes))
            for _ in range(3):
                laptop.cloud.reset()
                await a_turn(laptop, session.id)
                turns.append((laptop.cloud.reads, laptop.cloud.commits, laptop.cloud.writes))
        await laptop.puller.pull_once()  # the first pull brings this computer's own writes back
        # A start of the app with nothing new: the showcase in step, one pull.
        laptop.cloud.reset()
        await laptop.store.sync_showcase(load_showcase_entries())
        await laptop.replayer.replay_ready()
        await laptop.puller.pull_once()
        app_start = (laptop.cloud.reads, laptop.cloud.commits, laptop.cloud.writes)
    finally:
        await laptop.close()

    def median(samples: list[tuple[int, int, int]], at: int) -> float:
        return statistics.median(sample[at] for sample in samples)

    return [
        Figure(
            "reads per chat turn (median of 30)",
            median(turns, 0),
            "documents",
            target=0,
            baseline=9,
            baseline_name="GPT Lab",
        ),
        Figure("commits per chat turn", median(turns, 1), "commits", target=1),
        Figure(
            "documents written per chat turn (markers included)",
            median(turns, 2),
            "documents",
            baseline=5,
            baseline_name="GPT Lab",
        ),
        Figure(
            "reads per session start (median of 10)",
            median(starts, 0),
            "documents",
            target=1,
            baseline=23,
            baseline_name="GPT Lab",
        ),
        Figure("commits per session start", median(starts, 1), "commits", target=1),
        Figure(
            "documents written per session start (markers included)",
            median(starts, 2),
            "documents",
            baseline=6,
            baseline_name="GPT Lab",
        ),
        Figure(
            "reads per app start with nothing new (showcase in step, one pull)",
            app_start[0],
            "documents",
        ),
        Figure("commits per app start with nothing new", app_start[1], "commits"),
    ]


async def backlog(folder: Path, project: str, cipher: RecordCipher) -> list[Figure]:
    """1,000 writes queued offline (10 sessions of 100 messages), then replayed at once."""
    laptop = Computer(folder / "backlog", project, cipher)
    await laptop.open()
    try:
        me = await laptop.store.local_user()
        for _ in range(10):
            session = await start_session(laptop.store, me, None)
            for start in range(0, 100, 25):
                await laptop.store.add_messages(
                    [make_message(session.id, f"message {start + i} " * 8) for i in range(25)]
                )
        queued = (await laptop.store.outbox_counts()).pending
        meter = StallMeter()
        meter.start()
        began = time.perf_counter()
        await laptop.replayer.replay_now()
        took = time.perf_counter() - began
        stall = meter.stop()
        left = (await laptop.store.outbox_counts()).pending
    finally:
        await laptop.close()
    return [
        Figure(f"replay {queued:,} queued writes (left: {left})", took * 1000, "ms", target=5000),
        Figure("longest event-loop stall while they replay", stall * 1000, "ms", target=50),
    ]


async def second_computer(folder: Path, project: str, cipher: RecordCipher) -> list[Figure]:
    """A message written on one computer, until the other's pull loop has it in its cache."""
    laptop = Computer(folder / "laptop", project, cipher)
    desktop = Computer(folder / "desktop", project, cipher)
    await laptop.open()
    await desktop.open()
    try:
        me = await laptop.store.local_user()
        session = await start_session(laptop.store, me, None)
        await laptop.replayer.replay_ready()
        await desktop.puller.pull_once()

        async def pull_loop() -> None:
            while True:
                await desktop.puller.pull_once()
                await asyncio.sleep(PULL_INTERVAL_S)

        puller = asyncio.ensure_future(pull_loop())
        delays: list[float] = []
        try:
            for _ in range(5):
                message = make_message(session.id, f"hello {new_id()}")
                began = time.perf_counter()
                await laptop.store.add_messages([message])
                await laptop.replayer.replay_ready()
                while not any(
                    m.id == message.id for m in await desktop.store.list_messages(session.id)
                ):
                    await asyncio.sleep(0.02)
                delays.append(time.perf_counter() - began)
                await asyncio.sleep(0.37)  # not in step with the pull interval
        finally:
            puller.cancel()
    finally:
        await laptop.close()
        await desktop.close()
    return [
        Figure(
            f"a new message seen on a second computer, pulling every {PULL_INTERVAL_S:g} s "
            "(median of 5)",
            statistics.median(delays) * 1000,
            "ms",
        ),
        Figure("the same, worst of 5", max(delays) * 1000, "ms"),
    ]


def main() -> None:
    reason = missing_reason()
    if reason is not None:
        print(f"bench_sync skipped: {reason}")
        return
    from PySide6.QtWidgets import QApplication

    from gptlab_desktop.ui.event_loop import qt_event_loop

    app = QApplication.instance() or QApplication([])
    figures: list[Figure] = []
    with FirestoreEmulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        os.environ[EMULATOR_HOST_ENV] = emulator.host_port
        for measure in (costs, backlog, second_computer):
            cipher = RecordCipher(DataKey.generate(), new_id())
            with qt_event_loop(app) as loop:
                figures += loop.run_until_complete(
                    measure(Path(tmp) / measure.__name__, unique_project_id(), cipher)
                )
    report("Cloud sync (Firestore emulator)", figures)


if __name__ == "__main__":
    main()
