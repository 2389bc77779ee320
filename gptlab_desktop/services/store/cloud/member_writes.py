"""A shared project's member's writes, shaped to what its security rules allow (firestore.rules).

In a team's shared project every write is checked by the rules, so the replayer sends only what
they let a member write, instead of collecting refusals:

* **another user's assistant** (published, or showcased): the member only counts the sessions
  started and ended with it, on its bot and its active prompt — a write of those counters alone,
  never of the document; on a showcased one (the admin's) not even that, so nothing is sent;
  anything else of theirs (a version, a config) is never the member's to write;
* **counters move by small steps**: at most ±2 a write on the member's own documents and +1 on
  another user's. An outbox row that gathered more while offline (five sessions started) is sent
  as several commits, each with a marker of its own (``step_marker``), so a replay after a crash
  between them counts each step once.

Qt-free; the bots are looked up in the local cache, never the cloud.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from gptlab_desktop.models import Assistant
from gptlab_desktop.services.store.cloud.documents import CloudDocument
from gptlab_desktop.services.store.cloud.writes import CloudWrite, WriteKind
from gptlab_desktop.services.store.outbox import DocumentKind, OutboxEntry

# The largest change of one counter in one write the rules allow, on one's own documents and on
# another user's published assistant.
OWN_STEP = 2
FOREIGN_STEP = 1

_BOT_KINDS = (DocumentKind.BOT, DocumentKind.PROMPT, DocumentKind.MODEL_CONFIG)


@dataclass(frozen=True, slots=True)
class ShapedWrite:
    """A write as the rules allow it (None: nothing of it is the member's to send), and the
    largest step a counter of it may move in one commit."""

    write: CloudWrite | None
    step: int = OWN_STEP

    @property
    def needs_steps(self) -> bool:
        """Whether its increments are larger than one commit may carry."""
        return self.write is not None and any(
            abs(delta) > self.step for delta in self.write.increments.values()
        )


class MemberWrites:
    """Shapes the writes of ``user_id``, a member of a shared project; ``bots`` gives the
    local cache's assistants by id (None for one not there)."""

    def __init__(
        self,
        user_id: str,
        bots: Callable[[Sequence[str]], Awaitable[Mapping[str, Assistant | None]]],
    ) -> None:
        self._user_id = user_id
        self._bots = bots

    async def shape(
        self, entries: Sequence[OutboxEntry], writes: Sequence[CloudWrite]
    ) -> list[ShapedWrite]:
        """Each entry's write (``writes`` in the same order) as the rules allow it."""
        bot_ids = sorted({bot_id for entry in entries if (bot_id := _bot_of(entry)) is not None})
        bots = await self._bots(bot_ids) if bot_ids else {}
        shaped = []
        for entry, write in zip(entries, writes, strict=True):
            bot_id = _bot_of(entry)
            bot = None if bot_id is None else bots.get(bot_id)
            if bot is None or bot.creator_user_id == self._user_id:
                shaped.append(ShapedWrite(write))
            else:
                shaped.append(ShapedWrite(_counting_only(entry, write, bot), FOREIGN_STEP))
        return shaped


def _bot_of(entry: OutboxEntry) -> str | None:
    if entry.kind is DocumentKind.BOT:
        return entry.doc_id
    if entry.kind in _BOT_KINDS:
        return entry.parent_id
    return None


def _counting_only(entry: OutboxEntry, write: CloudWrite, bot: Assistant) -> CloudWrite | None:
    """Another user's document: its sessions counted, if the rules let a member count them."""
    counts = {name: delta for name, delta in write.increments.items() if delta}
    if (
        bot.showcased
        or not counts
        or write.kind is WriteKind.DELETE
        or entry.kind not in (DocumentKind.BOT, DocumentKind.PROMPT)
    ):
        return None
    return CloudWrite.update(
        CloudDocument(write.path, {}), increments=counts, marker_id=write.marker_id
    )


def step_marker(marker_id: str, step: int) -> str:
    """The marker of one step of a write sent in steps."""
    return f"{marker_id}.{step}"


def in_steps(write: CloudWrite, step: int) -> list[CloudWrite]:
    """``write`` as commits whose counters move by at most ``step`` each: the first carries
    its fields, each a marker of its own (``step_marker``)."""
    remaining = dict(write.increments)
    parts: list[CloudWrite] = []
    while True:
        part = {name: max(-step, min(step, delta)) for name, delta in remaining.items() if delta}
        for name, delta in part.items():
            remaining[name] -= delta
        if not part and parts:
            return parts
        document = write.document if not parts else CloudDocument(write.path, {})
        marker = None if write.marker_id is None else step_marker(write.marker_id, len(parts))
        kind = write.kind if not parts or write.kind is not WriteKind.SET else WriteKind.MERGE
        parts.append(CloudWrite(kind, document, part, marker))
