"""Domain values: ids, enums with GPT Lab's codes, and validation users can read."""

from __future__ import annotations

import json

import pytest

from gptlab_desktop.models import (
    FailureKind,
    MessageDetails,
    ModelConfig,
    SessionStatus,
    SessionType,
    UserLiked,
    ValidationError,
    new_id,
    stable_id,
)
from tests.builders import make_draft


def test_ids_are_firestore_style_and_unique() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 20 and i.isalnum() for i in ids)


def test_enums_keep_gpt_labs_numeric_codes() -> None:
    assert (SessionType.BRAINSTORMING, SessionType.COACHING) == (2, 3)
    assert [s.value for s in SessionStatus] == [0, 1, 2, 3, 4]
    assert (UserLiked.DISLIKED, UserLiked.LIKED) == (0, 1)


def test_default_model_config_is_valid() -> None:
    assert ModelConfig(model="gpt-4o").problems() == {}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"temperature": 2.5}, "temperature", "between 0 and 2"),
        ({"temperature": -0.1}, "temperature", "between 0 and 2"),
        ({"top_p": 1.5}, "top_p", "between 0 and 1"),
        ({"frequency_penalty": -2.5}, "frequency_penalty", "between -2 and 2"),
        ({"presence_penalty": 3.0}, "presence_penalty", "between -2 and 2"),
        ({"max_tokens": 0}, "max_tokens", "at least 1"),
        ({"model": "  "}, "model", "Choose a model"),
    ],
)
def test_out_of_range_parameter_is_named_with_its_range(
    change: dict[str, object], field: str, words: str
) -> None:
    config = ModelConfig(**{"model": "gpt-4o", **change})  # type: ignore[arg-type]
    problems = config.problems()
    assert set(problems) == {field}
    assert words in problems[field]


def test_boundary_values_are_valid() -> None:
    config = ModelConfig(
        model="m",
        max_tokens=1,
        temperature=2.0,
        top_p=0.0,
        frequency_penalty=-2.0,
        presence_penalty=2.0,
    )
    assert config.problems() == {}


def test_max_tokens_beyond_the_models_limit_says_the_limit() -> None:
    problems = ModelConfig(model="gpt-4", max_tokens=9000).problems(max_output_tokens=8192)
    assert "8,192" in problems["max_tokens"]


def test_validated_raises_with_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        ModelConfig(model="m", temperature=5, top_p=-1).validated()
    assert set(caught.value.problems) == {"temperature", "top_p"}


def test_model_config_round_trips_through_gpt_labs_dict() -> None:
    config = ModelConfig("gpt-4o", 300, 0.5, 0.9, 0.3, 0.2)
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("name", 30),
        ("tag_line", 25),
        ("description", 250),
        ("summary_prompt", 500),
        ("initial_prompt", 2000),
    ],
)
def test_text_fields_over_gpt_labs_limits_are_refused(field: str, limit: int) -> None:
    assert field not in make_draft(**{field: "x" * limit}).problems()
    problem = make_draft(**{field: "x" * (limit + 1)}).problems()[field]
    assert f"{limit:,}" in problem


def test_a_draft_needs_a_name_and_an_initial_prompt() -> None:
    problems = make_draft(name=" ", initial_prompt="").problems()
    assert set(problems) == {"name", "initial_prompt"}


def test_draft_problems_include_model_parameters() -> None:
    problems = make_draft(model_config=ModelConfig(model="m", temperature=9)).problems()
    assert set(problems) == {"temperature"}


# -- message details -----------------------------------------------------------------------------


def test_message_details_store_only_what_is_set_and_read_back_the_same() -> None:
    details = MessageDetails(
        model="gpt-4o-mini",
        finish_reason="stop",
        prompt_tokens=16,
        completion_tokens=6,
        failure=FailureKind.RATE_LIMITED,
        stopped=True,
    )
    stored = details.to_dict()
    assert stored == {
        "model": "gpt-4o-mini",
        "finish_reason": "stop",
        "prompt_tokens": 16,
        "completion_tokens": 6,
        "failure": "rate_limited",
        "stopped": True,
    }
    assert MessageDetails.from_dict(json.loads(json.dumps(stored))) == details
    assert MessageDetails().to_dict() == {}


@pytest.mark.parametrize(
    ("stored", "failure"),
    [
        (
            {"failure": "llm", "error": "The AI service did not accept your API key. Check it"},
            FailureKind.INVALID_API_KEY,
        ),
        (
            {"failure": "llm", "error": "The connection to the AI service was lost before"},
            FailureKind.CONNECTION_LOST,
        ),
        ({"failure": "llm", "error": "Something nobody wrote down"}, FailureKind.AI_SERVICE),
        ({"failure": "storage", "error": "The database is locked."}, FailureKind.STORAGE),
        ({"stopped": 1}, None),
    ],
)
def test_schema_3_details_with_sentences_read_as_kinds(
    stored: dict[str, object], failure: FailureKind | None
) -> None:
    details = MessageDetails.from_dict(stored)
    assert details.failure is failure
    assert "error" not in details.to_dict()


def test_malformed_details_are_left_out() -> None:
    details = MessageDetails.from_dict(
        {"model": 3, "kind": "nonsense", "prompt_tokens": "12", "completion_tokens": True}
    )
    assert details == MessageDetails()
    assert MessageDetails.from_dict(["not", "a", "dict"]) == MessageDetails()


def test_stable_ids_are_the_same_for_the_same_parts_and_look_like_new_ids() -> None:
    first = stable_id("showcase", "socrates")
    assert first == stable_id("showcase", "socrates")
    assert len(first) == len(new_id()) == 20 and first.isalnum()
    assert first != stable_id("showcase", "plato")
    assert stable_id("a", "bc") != stable_id("ab", "c")  # parts are separated, not joined
