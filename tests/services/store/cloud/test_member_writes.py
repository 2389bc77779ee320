"""A shared project's member's writes shaped to the rules: others' documents only counted,
counters in small steps, each step with a marker of its own (no emulator: plain values)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from gptlab_desktop.models import Assistant
from gptlab_desktop.services.store.cloud import documents
from gptlab_desktop.services.store.cloud.documents import CloudDocument
from gptlab_desktop.services.store.cloud.member_writes import (
    FOREIGN_STEP,
    OWN_STEP,
    MemberWrites,
    in_steps,
    step_marker,
)
from gptlab_desktop.services.store.cloud.writes import CloudWrite, WriteKind
from gptlab_desktop.services.store.outbox import DocumentKind, Operation, OutboxEntry
from tests.builders import make_assistant

ME = "me"


def entry(kind: DocumentKind, doc_id: str, parent: str | None = None) -> OutboxEntry:
    return OutboxEntry(1, f"m-{doc_id}", kind, doc_id, parent, Operation.UPSERT)


def member(*bots: Assistant) -> MemberWrites:
    async def lookup(ids: Sequence[str]) -> Mapping[str, Assistant | None]:
        known = {bot.id: bot for bot in bots}
        return {bot_id: known.get(bot_id) for bot_id in ids}

    return MemberWrites(ME, lookup)


def counter_write(path: str, **increments: int) -> CloudWrite:
    return CloudWrite.merge(
        CloudDocument(path, {"name": "theirs"}), increments=increments, marker_id="m"
    )


@pytest.mark.asyncio
async def test_another_users_published_assistant_is_only_counted() -> None:
    theirs = make_assistant(creator_user_id="ada")
    bot = counter_write(documents.bot_path(theirs.id), sessions_started=1, sessions_ended=0)
    prompt = counter_write(documents.prompt_path(theirs.id, "p"), sessions_started=1)
    config = CloudWrite.merge(CloudDocument(documents.model_config_path(theirs.id, "c"), {}))

    shaped = await member(theirs).shape(
        [
            entry(DocumentKind.BOT, theirs.id),
            entry(DocumentKind.PROMPT, "p", theirs.id),
            entry(DocumentKind.MODEL_CONFIG, "c", theirs.id),
        ],
        [bot, prompt, config],
    )

    assert shaped[0].write is not None and shaped[0].step == FOREIGN_STEP
    assert shaped[0].write.kind is WriteKind.UPDATE
    assert shaped[0].write.document.data == {}  # none of its fields: only the count
    assert dict(shaped[0].write.increments) == {"sessions_started": 1}
    assert shaped[1].write is not None and dict(shaped[1].write.increments) == {
        "sessions_started": 1
    }
    assert shaped[2].write is None  # a version of theirs is never the member's to write


@pytest.mark.asyncio
async def test_a_showcased_assistant_is_the_admins_and_gets_nothing() -> None:
    showcased = make_assistant(creator_user_id="gptlab", showcased=True)
    write = counter_write(documents.bot_path(showcased.id), sessions_started=1)

    shaped = await member(showcased).shape([entry(DocumentKind.BOT, showcased.id)], [write])

    assert shaped[0].write is None


@pytest.mark.asyncio
async def test_own_documents_go_as_they_are() -> None:
    mine = make_assistant(creator_user_id=ME)
    write = counter_write(documents.bot_path(mine.id), sessions_started=1)
    session = counter_write(documents.session_path("s"), message_count=2)

    shaped = await member(mine).shape(
        [entry(DocumentKind.BOT, mine.id), entry(DocumentKind.SESSION, "s")], [write, session]
    )

    assert [s.write for s in shaped] == [write, session]
    assert {s.step for s in shaped} == {OWN_STEP}
    assert not any(s.needs_steps for s in shaped)


@pytest.mark.parametrize(
    ("delta", "step", "parts"),
    [(5, 2, [2, 2, 1]), (-3, 2, [-2, -1]), (3, 1, [1, 1, 1]), (2, 2, [2]), (0, 2, [])],
)
def test_a_far_moved_counter_goes_in_steps_each_with_its_marker(
    delta: int, step: int, parts: list[int]
) -> None:
    write = counter_write(documents.session_path("s"), message_count=delta)

    steps = in_steps(write, step)

    assert [dict(s.increments).get("message_count", 0) for s in steps] == (parts or [0])
    assert sum(dict(s.increments).get("message_count", 0) for s in steps) == delta
    assert steps[0].document == write.document  # the fields travel once, first
    assert all(s.document.data == {} for s in steps[1:])
    assert [s.marker_id for s in steps] == [step_marker("m", k) for k in range(len(steps))]
