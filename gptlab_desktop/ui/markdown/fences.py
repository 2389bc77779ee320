"""Where fenced code blocks open and close, for the passes that read Markdown line by line."""

from __future__ import annotations

import re

_FENCE = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def opened_fence(line: str) -> str | None:
    """The characters of the fence a line opens (such as ``````` or ``~~~~``), or None."""
    opening = _FENCE.match(line)
    if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
        return None  # triple backticks inside a line are a code span
    return opening["fence"]


def closes_fence(line: str, fence: str) -> bool:
    """Whether a line closes the fence opened with ``fence``: as many characters or more."""
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])
