"""Test-wide set-up: no screen, no network, no real user data.

Qt is told to render offscreen before anything imports it, so the suite runs on a machine
without a display (CI). Every test gets its own data directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gptlab_desktop.config import TIKTOKEN_CACHE_ENV

# Shared fixtures of the real stand-ins (the OpenAI-compatible loopback server).
pytest_plugins = ["tests.fakes.plugin"]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch a real OpenAI endpoint or a real key from a test.
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)


@pytest.fixture(scope="session", autouse=True)
def tiktoken_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder tiktoken reads its files from, named in TIKTOKEN_CACHE_DIR for the whole run
    as ``config.apply_to_libraries`` does for the app; a ``TokenCounter`` seeds it."""
    folder = tmp_path_factory.mktemp("tiktoken")
    previous = os.environ.get(TIKTOKEN_CACHE_ENV)
    os.environ[TIKTOKEN_CACHE_ENV] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(TIKTOKEN_CACHE_ENV, None)
    else:
        os.environ[TIKTOKEN_CACHE_ENV] = previous


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty, private data directory for one test."""
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path
