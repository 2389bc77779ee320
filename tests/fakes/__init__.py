"""Real stand-ins for the app's network edges, usable from tests and benchmarks."""

from __future__ import annotations

from tests.fakes.anthropic_server import (
    AnthropicErrorReply,
    AnthropicModelsReply,
    FakeAnthropicServer,
    MessageReply,
)
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
    "AnthropicErrorReply",
    "AnthropicModelsReply",
    "ErrorReply",
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "MessageReply",
    "ModelsReply",
    "ModerationReply",
    "RecordedRequest",
    "Reply",
    "unused_loopback_url",
]
