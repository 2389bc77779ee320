"""Test-wide set-up: no screen, no network, no real user data.

Qt is told to render offscreen before anything imports it, so the suite runs on a machine
without a display (CI). Every test gets its own data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Shared fixtures of the real stand-ins (the OpenAI-compatible loopback server).
pytest_plugins = ["tests.fakes.plugin"]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch a real OpenAI endpoint or a real key from a test.
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty, private data directory for one test."""
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path
