"""The cloud store's tests: the user's data key (the emulator and a project per test come from
``tests/fakes/plugin.py``)."""

from __future__ import annotations

import pytest

from gptlab_desktop.models import new_id
from gptlab_desktop.services.crypto import DataKey
from gptlab_desktop.services.store.cloud.documents import RecordCipher


@pytest.fixture
def cipher() -> RecordCipher:
    """A user's data key, bound to a fresh user id."""
    return RecordCipher(DataKey.generate(), new_id())
