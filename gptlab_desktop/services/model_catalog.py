"""What the app knows about chat models: context windows, output limits, tokenizers, prices.

The facts live in ``resources/models.json`` (data, not code). A versioned model name such as
``gpt-4o-2024-08-06`` takes the facts of its longest listed prefix; unknown models get
conservative defaults (GPT Lab's 4,096-token window).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """One model's limits, tokenizer and price (USD per million tokens), where known."""

    id: str | None
    context_window: int
    max_output_tokens: int | None
    encoding: str
    usd_per_million_input: float | None = None
    usd_per_million_output: float | None = None


@dataclass(frozen=True, slots=True)
class _Catalog:
    default: ModelFacts
    ranked: tuple[ModelFacts, ...]
    by_id: dict[str, ModelFacts]
    encoding_prefixes: dict[str, str]


@functools.cache
def _catalog() -> _Catalog:
    text = resources.files("gptlab_desktop.resources").joinpath("models.json").read_text("utf-8")
    data = json.loads(text)
    default = data["default"]
    ranked = tuple(
        ModelFacts(
            id=entry["id"],
            context_window=int(entry["context_window"]),
            max_output_tokens=entry.get("max_output_tokens"),
            encoding=entry.get("encoding", default["encoding"]),
            usd_per_million_input=(entry.get("usd_per_million") or [None, None])[0],
            usd_per_million_output=(entry.get("usd_per_million") or [None, None])[1],
        )
        for entry in data["models"]
    )
    return _Catalog(
        default=ModelFacts(
            id=None,
            context_window=int(default["context_window"]),
            max_output_tokens=default.get("max_output_tokens"),
            encoding=default["encoding"],
        ),
        ranked=ranked,
        by_id={facts.id: facts for facts in ranked if facts.id is not None},
        encoding_prefixes=dict(data.get("encoding_prefixes", {})),
    )


def _longest_prefix(model: str, prefixes: Iterable[str], boundaries: str) -> str | None:
    # Match at a separator only, so "gpt-4" never claims "gpt-4o" or "gpt-4.1".
    best: str | None = None
    for prefix in prefixes:
        is_match = model == prefix or (
            model.startswith(prefix) and model[len(prefix)] in boundaries
        )
        if is_match and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def model_facts(model: str) -> ModelFacts:
    """The facts of ``model`` (or of its listed base model), else the defaults."""
    catalog = _catalog()
    name = model.strip().lower()
    base = _longest_prefix(name, catalog.by_id, "-:")
    if base is not None:
        return catalog.by_id[base]
    family = _longest_prefix(name, catalog.encoding_prefixes, "-.:")
    if family is not None:
        return ModelFacts(
            id=None,
            context_window=catalog.default.context_window,
            max_output_tokens=catalog.default.max_output_tokens,
            encoding=catalog.encoding_prefixes[family],
        )
    return catalog.default


def ranked_model_ids() -> tuple[str, ...]:
    """The models GPT Lab offered, newest first (also the list shown when offline)."""
    return tuple(facts.id for facts in _catalog().ranked if facts.id is not None)


def context_window(model: str) -> int:
    """How many tokens ``model`` reads at once (prompt and reply together)."""
    return model_facts(model).context_window


def max_output_tokens(model: str) -> int | None:
    """The most tokens ``model`` writes in one reply, or None where unknown."""
    return model_facts(model).max_output_tokens


def encoding_name(model: str) -> str:
    """The tiktoken encoding of ``model`` (``cl100k_base`` where unknown)."""
    return model_facts(model).encoding


def estimate_cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What a request costs at list prices, or None for a model without a known price."""
    facts = model_facts(model)
    if facts.usd_per_million_input is None or facts.usd_per_million_output is None:
        return None
    return (
        prompt_tokens * facts.usd_per_million_input
        + completion_tokens * facts.usd_per_million_output
    ) / 1_000_000
