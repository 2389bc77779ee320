"""Importing assistants from JSON files: round trips, all-or-nothing, and hostile files.

A real SQLite file per test. The property tests throw arbitrary bytes and arbitrary JSON at the
importer: it either creates every assistant in the file or none, and any refusal is a
``MalformedAssistantDocument`` whose message names the file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptlab_desktop.models import ModelConfig, SessionType, User
from gptlab_desktop.services.assistant_format import (
    BUNDLE_FORMAT,
    MAX_BUNDLE_ASSISTANTS,
    MAX_IMPORT_BYTES,
    MAX_NESTING,
    MalformedAssistantDocument,
    bundle_document,
    document_from_draft,
    drafts_from_bytes,
    encode_document,
)
from gptlab_desktop.services.assistant_lab import AssistantLab
from gptlab_desktop.services.errors import NotFound
from gptlab_desktop.services.store.sqlite import SqliteStore
from tests.builders import DB_NAME, count_rows, make_draft


def as_bytes(doc: Any) -> bytes:
    return json.dumps(doc).encode("utf-8")


def three_drafts_doc() -> dict[str, Any]:
    return bundle_document(
        [
            make_draft(),
            make_draft(name="Plato", session_type=SessionType.BRAINSTORMING),
            make_draft(name="Aristotle", model_config=ModelConfig("gpt-4o", temperature=1.1)),
        ]
    )


# -- the store's batch -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_assistants_creates_all_and_counts_them_on_the_user(
    store: SqliteStore, user: User
) -> None:
    created = await store.create_assistants([make_draft(), make_draft(name="Plato")], user.id)
    assert [a.name for a in created] == ["Socrates", "Plato"]
    assert (await store.get_user(user.id)).bots_created == 2  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_create_assistants_for_an_unknown_user_creates_nothing(
    store: SqliteStore, data_dir: Path
) -> None:
    with pytest.raises(NotFound):
        await store.create_assistants([make_draft()], "nobody")
    assert count_rows(data_dir, "bots") == 0


@pytest.mark.asyncio
async def test_create_assistants_failing_midway_rolls_back_every_one(
    store: SqliteStore, user: User, data_dir: Path
) -> None:
    # A lone surrogate cannot be encoded for SQLite: the second insert fails inside the batch.
    unstorable = make_draft(name="Bad \ud800")
    with pytest.raises(UnicodeEncodeError):
        await store.create_assistants([make_draft(), unstorable], user.id)
    assert count_rows(data_dir, "bots") == 0
    assert count_rows(data_dir, "prompts") == 0
    assert (await store.get_user(user.id)).bots_created == 0  # type: ignore[union-attr]


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_one_assistant_round_trips_through_export_and_import(
    lab: AssistantLab, user: User
) -> None:
    original = await lab.save(make_draft(guards_prompt_leak=True), creator_user_id=user.id)
    data = await lab.export_bytes([original.id])
    [imported] = await lab.import_bytes(data, user.id)
    assert imported.id != original.id
    assert (await lab.details(imported.id)).to_draft() == make_draft(guards_prompt_leak=True)


@pytest.mark.asyncio
async def test_many_assistants_round_trip_through_a_bundle_file(
    lab: AssistantLab, user: User, tmp_path: Path
) -> None:
    drafts = [make_draft(), make_draft(name="Plato", tag_line="Ideas first")]
    originals = [await lab.save(d, creator_user_id=user.id) for d in drafts]
    path = tmp_path / "two.json"
    await lab.export_file([a.id for a in originals], path)
    imported = await lab.import_file(path, user.id)
    assert [(await lab.details(a.id)).to_draft() for a in imported] == drafts


@pytest.mark.asyncio
async def test_imported_assistants_are_own_even_from_a_showcase_document(
    lab: AssistantLab, user: User
) -> None:
    doc = document_from_draft(make_draft(), key="socrates")
    [imported] = await lab.import_bytes(as_bytes(doc), user.id)
    assert not imported.showcased
    assert imported.creator_user_id == user.id


@pytest.mark.asyncio
async def test_a_byte_order_mark_is_accepted(lab: AssistantLab, user: User) -> None:
    data = b"\xef\xbb\xbf" + encode_document(document_from_draft(make_draft()))
    assert len(await lab.import_bytes(data, user.id)) == 1


# -- all or nothing --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_bad_entry_in_a_bundle_imports_nothing_and_names_the_entry(
    lab: AssistantLab, user: User, data_dir: Path
) -> None:
    doc = three_drafts_doc()
    doc["assistants"][2]["model_config"]["temperature"] = 3
    with pytest.raises(MalformedAssistantDocument) as raised:
        await lab.import_bytes(as_bytes(doc), user.id, source="team.json")
    assert str(raised.value).startswith("team.json, assistant 3 (“Aristotle”): ")
    assert "between 0 and 2" in str(raised.value)
    assert count_rows(data_dir, "bots") == 0


@pytest.mark.asyncio
async def test_an_entry_without_a_name_is_named_by_its_number(
    lab: AssistantLab, user: User
) -> None:
    doc = three_drafts_doc()
    del doc["assistants"][1]["name"]
    with pytest.raises(MalformedAssistantDocument, match=r"assistant 2: \"name\" must be text"):
        await lab.import_bytes(as_bytes(doc), user.id, source="team.json")


@pytest.mark.asyncio
async def test_a_response_limit_beyond_the_model_is_refused(lab: AssistantLab, user: User) -> None:
    doc = document_from_draft(make_draft(model_config=ModelConfig("gpt-4", max_tokens=9000)))
    with pytest.raises(MalformedAssistantDocument, match="at most 8,192 tokens"):
        await lab.import_bytes(as_bytes(doc), user.id)


# -- hostile files ---------------------------------------------------------------------------


def valid_single() -> dict[str, Any]:
    return document_from_draft(make_draft())


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b'{"format": "something-else"}', '"format" must be'),
        (
            b'{"format": "gptlab-desktop.assistant", "format": "gptlab-desktop.assistant"}',
            'the key "format" appears twice',
        ),
        (
            json.dumps({**valid_single(), "model_config": {"model": "x", "temperature": 1}})
            .replace('"temperature": 1', '"temperature": NaN')
            .encode(),
            "not valid JSON",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * (MAX_NESTING + 1) + b"1" + b"}" * (MAX_NESTING + 1), "nested too deeply"),
        (b'{"format": "gptlab-desktop.assistant", "version": true}', "unsupported version"),
        (b'{"format": "gptlab-desktop.assistants", "version": 2}', "unsupported version"),
        (b'{"format": "gptlab-desktop.assistants", "version": 1}', '"assistants" must be'),
        (
            b'{"format": "gptlab-desktop.assistants", "version": 1, "assistants": []}',
            "contains no assistants",
        ),
        (
            json.dumps({**valid_single(), "name": "\ud800"}).encode(),
            "not valid Unicode",
        ),
        (
            json.dumps(
                {**valid_single(), "model_config": {"model": "gpt-4o", "temperature": 10**400}}
            ).encode(),
            "far out of range",
        ),
        (
            json.dumps(
                {**valid_single(), "model_config": {"model": "m", "max_tokens": 10**9}}
            ).encode(),
            "at most 1,000,000",
        ),
        (b'{"a": 1' + b"0" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_hostile_file_is_refused_with_a_clear_message(data: bytes, words: str) -> None:
    with pytest.raises(MalformedAssistantDocument) as raised:
        drafts_from_bytes(data, source="x.json")
    assert str(raised.value).startswith("x.json: ")
    assert words in str(raised.value)


def test_a_file_over_the_size_cap_is_refused_before_parsing() -> None:
    data = b" " * (MAX_IMPORT_BYTES + 1)
    with pytest.raises(MalformedAssistantDocument, match="at most 5 MB"):
        drafts_from_bytes(data, source="huge.json")


def test_a_bundle_over_the_entry_cap_is_refused() -> None:
    doc = {"format": BUNDLE_FORMAT, "version": 1, "assistants": [{}] * (MAX_BUNDLE_ASSISTANTS + 1)}
    with pytest.raises(MalformedAssistantDocument, match="at most 1,000"):
        drafts_from_bytes(as_bytes(doc), source="many.json")


@pytest.mark.asyncio
async def test_an_oversized_file_on_disk_is_refused_without_importing(
    lab: AssistantLab, user: User, tmp_path: Path, data_dir: Path
) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * (MAX_IMPORT_BYTES + 10))
    with pytest.raises(MalformedAssistantDocument, match=r"huge\.json"):
        await lab.import_file(path, user.id)
    assert count_rows(data_dir, "bots") == 0


@pytest.mark.asyncio
async def test_a_missing_file_is_reported_as_unreadable(
    lab: AssistantLab, user: User, tmp_path: Path
) -> None:
    with pytest.raises(MalformedAssistantDocument, match="could not be read"):
        await lab.import_file(tmp_path / "gone.json", user.id)


# -- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# Documents that look almost right: a valid one with one field replaced by anything.
_FIELDS = [
    "format",
    "version",
    "name",
    "tag_line",
    "description",
    "session_type",
    "guards_prompt_leak",
    "initial_prompt",
    "summary_prompt",
    "model_config",
]
_CONFIG_FIELDS = [
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
]


@st.composite
def nearly_valid_bundles(draw: st.DrawFn) -> dict[str, Any]:
    doc = three_drafts_doc()
    entry = doc["assistants"][draw(st.integers(0, 2))]
    if draw(st.booleans()):
        entry[draw(st.sampled_from(_FIELDS))] = draw(json_values)
    else:
        entry["model_config"][draw(st.sampled_from(_CONFIG_FIELDS))] = draw(json_values)
    return doc


def import_and_count(store_dir: Path, data: bytes) -> tuple[int, int, str | None]:
    """Import ``data`` into a fresh store: (entries expected, bots created, error message)."""

    async def run() -> tuple[int, int, str | None]:
        store = SqliteStore(store_dir / DB_NAME)
        await store.open()
        try:
            user = await store.local_user()
            before = len(await store.list_assistants(include_archived=True))
            try:
                created = await AssistantLab(store).import_bytes(data, user.id, source="p.json")
            except MalformedAssistantDocument as error:
                after = len(await store.list_assistants(include_archived=True))
                return 0, after - before, str(error)
            after = len(await store.list_assistants(include_archived=True))
            return len(created), after - before, None
        finally:
            await store.close()

    return asyncio.run(run())


PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_import_all_or_nothing(tmp_path_factory: Any, data: bytes) -> None:
    expected, created, error = import_and_count(tmp_path_factory.mktemp("db"), data)
    assert created == expected
    assert error is None or error.startswith("p.json")


@PROPERTY_SETTINGS
@given(doc=json_values)
def test_arbitrary_json_import_all_or_nothing(tmp_path_factory: Any, doc: Any) -> None:
    expected, created, error = import_and_count(tmp_path_factory.mktemp("db"), as_bytes(doc))
    assert created == expected
    assert error is None or error.startswith("p.json")


@PROPERTY_SETTINGS
@given(doc=nearly_valid_bundles())
def test_nearly_valid_bundles_import_all_three_or_none(tmp_path_factory: Any, doc: Any) -> None:
    expected, created, error = import_and_count(tmp_path_factory.mktemp("db"), as_bytes(doc))
    assert created == expected
    if error is None:
        assert created == 3
    else:
        assert created == 0
        assert error.startswith("p.json, assistant ")


@settings(max_examples=200, deadline=None)
@given(doc=st.one_of(json_values, nearly_valid_bundles()))
def test_parsing_anything_returns_drafts_or_raises_malformed(doc: Any) -> None:
    try:
        entries = drafts_from_bytes(as_bytes(doc), source="q.json")
    except MalformedAssistantDocument:
        return
    assert entries
    for _key, draft in entries:
        assert not draft.problems()
