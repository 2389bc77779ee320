"""The showcased assistants shipped in resources/ and the assistant document format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gptlab_desktop.models import SessionType
from gptlab_desktop.services.assistant_format import (
    MalformedAssistantDocument,
    document_from_draft,
    draft_from_document,
)
from gptlab_desktop.services.showcase import load_showcase_entries


def test_at_least_six_valid_showcased_assistants_ship() -> None:
    entries = load_showcase_entries()
    assert len(entries) >= 6
    assert len({entry.key for entry in entries}) == len(entries)
    assert len({entry.draft.name for entry in entries}) == len(entries)


def test_showcase_covers_both_session_types_and_real_prompts() -> None:
    entries = load_showcase_entries()
    assert {entry.draft.session_type for entry in entries} == set(SessionType)
    for entry in entries:
        assert len(entry.draft.initial_prompt) > 300, entry.key
        assert len(entry.draft.summary_prompt) > 80, entry.key
        assert entry.draft.guards_prompt_leak, "GPT Lab guards showcased prompts"


def test_document_round_trips() -> None:
    entry = load_showcase_entries()[0]
    key, draft = draft_from_document(
        json.loads(json.dumps(document_from_draft(entry.draft, key=entry.key))), source="t"
    )
    assert (key, draft) == (entry.key, entry.draft)


def _valid_doc() -> dict[str, Any]:
    entry = load_showcase_entries()[0]
    return document_from_draft(entry.draft, key=entry.key)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(format="other"), '"format"'),
        (lambda d: d.update(version=99), "unsupported version"),
        (lambda d: d.pop("name"), '"name" must be text'),
        (lambda d: d.update(session_type="party"), '"session_type"'),
        (lambda d: d["model_config"].update(temperature="hot"), "temperature"),
        (lambda d: d["model_config"].update(temperature=7), "between 0 and 2"),
        (lambda d: d.update(name="n" * 31), "limit is 30"),
        (lambda d: d.update(model_config=[]), '"model_config"'),
    ],
)
def test_malformed_documents_name_the_problem_and_the_source(mutate: Any, words: str) -> None:
    doc = _valid_doc()
    mutate(doc)
    with pytest.raises(MalformedAssistantDocument) as caught:
        draft_from_document(doc, source="my-file.json")
    assert "my-file.json" in str(caught.value)
    assert words in str(caught.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=20,
)


@given(_json)
def test_any_json_value_is_parsed_or_refused_with_a_clear_error(value: Any) -> None:
    try:
        draft_from_document(value, source="fuzz.json")
    except MalformedAssistantDocument as error:
        assert str(error).startswith("fuzz.json: ")


@given(st.dictionaries(st.sampled_from(list(_valid_doc())), _json, max_size=12))
def test_documents_with_wrong_field_types_are_refused_cleanly(fields: dict[str, Any]) -> None:
    doc = {**_valid_doc(), **fields}
    try:
        _, draft = draft_from_document(doc, source="fuzz.json")
    except MalformedAssistantDocument as error:
        assert str(error).startswith("fuzz.json: ")
    else:
        assert draft.problems() == {}
