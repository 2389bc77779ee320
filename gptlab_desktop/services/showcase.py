"""The showcased assistants shipped as data in resources/showcase/."""

from __future__ import annotations

import json
from importlib import resources

from gptlab_desktop.services.assistant_format import (
    MalformedAssistantDocument,
    draft_from_document,
)
from gptlab_desktop.services.store.base import ShowcaseEntry


def load_showcase_entries() -> list[ShowcaseEntry]:
    """Every shipped showcased assistant, in file-name order; a bad file is a packaging bug."""
    folder = resources.files("gptlab_desktop.resources").joinpath("showcase")
    entries: list[ShowcaseEntry] = []
    for item in sorted(folder.iterdir(), key=lambda path: path.name):
        if not item.name.endswith(".json"):
            continue
        source = f"showcase/{item.name}"
        key, draft = draft_from_document(json.loads(item.read_text("utf-8")), source=source)
        if key is None:
            raise MalformedAssistantDocument(f'{source}: a showcased assistant needs a "key".')
        entries.append(ShowcaseEntry(key=key, draft=draft))
    return entries
