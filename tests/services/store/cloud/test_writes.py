"""The writes a replayer hands the Firestore store: values that refuse what Firestore would
do surprisingly (a counter both written and counted, an increment on a non-counter)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gptlab_desktop.services.store.cloud import documents as docs
from gptlab_desktop.services.store.cloud.documents import CloudDocument
from gptlab_desktop.services.store.cloud.writes import CloudWrite, WriteKind

WHEN = datetime(2026, 3, 4, tzinfo=UTC)
USER = docs.user_path("U" * 20)
SESSION = docs.session_path("S" * 20)


def test_an_increment_is_an_update_of_counters_only() -> None:
    write = CloudWrite.increment(SESSION, {"message_count": 2}, marker_id="m1")

    assert write.kind is WriteKind.UPDATE
    assert dict(write.increments) == {"message_count": 2}
    assert write.document.data == {}
    assert write.marker_id == "m1"


@pytest.mark.parametrize(
    "increments",
    [{"title": 1}, {"message_count": True}, {"message_count": 1.5}],
)
def test_only_counters_are_incremented_by_whole_numbers(increments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CloudWrite.increment(SESSION, increments)  # type: ignore[arg-type]


def test_a_field_is_not_both_written_and_incremented() -> None:
    document = CloudDocument(USER, {"bots_created": 3})

    with pytest.raises(ValueError):
        CloudWrite.merge(document, increments={"bots_created": 1})


def test_a_delete_of_a_session_leaves_a_tombstone_and_of_a_setting_none() -> None:
    assert CloudWrite.delete(SESSION).leaves_tombstone
    assert not CloudWrite.delete(docs.setting_path("U" * 20, "x")).leaves_tombstone
    assert not CloudWrite.delete(SESSION, tombstone=False).leaves_tombstone


def test_a_write_is_frozen_and_keeps_no_reference_to_the_callers_counts() -> None:
    counts = {"message_count": 1}
    write = CloudWrite.increment(SESSION, counts)
    counts["message_count"] = 5

    assert dict(write.increments) == {"message_count": 1}
    with pytest.raises(TypeError):
        write.increments["message_count"] = 2  # type: ignore[index]


def test_a_path_that_is_not_a_document_is_refused() -> None:
    with pytest.raises(ValueError):
        CloudWrite.delete("sessions")
