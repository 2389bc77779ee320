"""Real stand-ins for the app's network edges, usable from tests and benchmarks."""

from __future__ import annotations

from tests.fakes.openai_server import (
    ErrorReply,
    FakeOpenAIServer,
    ModelsReply,
    ModerationReply,
    RecordedRequest,
    Reply,
    unused_loopback_url,
)

__all__ = [
    "ErrorReply",
    "FakeOpenAIServer",
    "ModelsReply",
    "ModerationReply",
    "RecordedRequest",
    "Reply",
    "unused_loopback_url",
]
