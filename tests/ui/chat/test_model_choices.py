"""What the model picker offers, in words, and how it reads what the user typed."""

from __future__ import annotations

import pytest

from gptlab_desktop.preferences import BUILT_IN_OPENAI, ProviderProfile
from gptlab_desktop.services.llm_api import ModelList
from gptlab_desktop.services.providers import ProviderModels
from gptlab_desktop.ui.chat.model_choices import (
    model_choices,
    read_typed_choice,
    window_text,
)

OLLAMA = ProviderProfile("ollama-1", "Ollama", "ollama", "http://127.0.0.1:11434/v1")
LLAMA_CPP = ProviderProfile("llamacpp-1", "llama.cpp", "llamacpp", "http://127.0.0.1:8080/v1")
NAMES = [(OLLAMA.id, OLLAMA.name), (LLAMA_CPP.id, LLAMA_CPP.name)]


@pytest.mark.parametrize(
    ("tokens", "text"),
    [
        (512, "512"),
        (2048, "2k"),
        (8192, "8k"),
        (40_960, "40k"),
        (128_000, "128k"),
        (131_072, "128k"),
        (200_000, "200k"),
        (1_048_576, "1M"),
    ],
)
def test_a_context_window_is_written_in_few_characters(tokens: int, text: str) -> None:
    assert window_text(tokens) == text


def test_models_are_named_under_their_provider_with_the_window_a_server_listed() -> None:
    listing = ProviderModels(
        OLLAMA, ModelList(("llama3.2", "qwen2.5"), context_windows={"llama3.2": 8192})
    )

    labels = [choice.label for choice in model_choices([listing])]

    assert labels == ["Ollama · llama3.2 · 8k", "Ollama · qwen2.5"]


def test_openais_own_models_get_the_catalogs_window() -> None:
    listing = ProviderModels(BUILT_IN_OPENAI, ModelList(("gpt-4o",)))

    (choice,) = model_choices([listing])

    assert choice.label == "OpenAI · gpt-4o · 128k"


def test_a_model_file_is_named_by_its_file_name() -> None:
    path = "/models/SmolLM2-360M-Instruct-Q8_0.gguf"
    listing = ProviderModels(LLAMA_CPP, ModelList((path,), context_windows={path: 2048}))

    (choice,) = model_choices([listing])

    assert choice.label == "llama.cpp · SmolLM2-360M-Instruct-Q8_0.gguf · 2k"
    assert choice.model == path


def test_a_provider_that_could_not_list_its_models_says_why() -> None:
    failed = ProviderModels(OLLAMA, ModelList(("gpt-4o",), is_fallback=True), "no answer")

    (row,) = model_choices([failed])

    assert not row.is_choosable
    assert row.label == "Ollama — models could not be listed: no answer"


def test_a_rows_label_picks_that_row() -> None:
    choices = model_choices([ProviderModels(OLLAMA, ModelList(("llama3.2",)))])

    assert read_typed_choice("Ollama · llama3.2", choices, NAMES, LLAMA_CPP.id) == (
        OLLAMA.id,
        "llama3.2",
    )


def test_a_bare_name_is_a_model_of_the_chats_own_provider() -> None:
    assert read_typed_choice("mistral", [], NAMES, LLAMA_CPP.id) == (LLAMA_CPP.id, "mistral")


def test_a_provider_named_before_the_model_is_that_provider() -> None:
    assert read_typed_choice("ollama · phi4 · 16k", [], NAMES, LLAMA_CPP.id) == (
        OLLAMA.id,
        "phi4",
    )


def test_a_short_name_typed_is_the_listed_models_full_name() -> None:
    path = "/models/smollm2.gguf"
    choices = model_choices([ProviderModels(LLAMA_CPP, ModelList((path,)))])

    assert read_typed_choice("smollm2.gguf", choices, NAMES, LLAMA_CPP.id) == (
        LLAMA_CPP.id,
        path,
    )


def test_nothing_typed_is_no_choice() -> None:
    assert read_typed_choice("   ", [], NAMES, OLLAMA.id) is None
