"""Real stand-ins for the app's network edges, usable from tests and benchmarks."""

from __future__ import annotations

from tests.fakes.anthropic_server import (
    AnthropicErrorReply,
    AnthropicModelsReply,
    FakeAnthropicServer,
    MessageReply,
)
from tests.fakes.openai_server import (
    SMOLLM2_PATH,
    EmptyStream,
    ErrorReply,
    FakeOpenAIServer,
    LlamaCpp,
    LmStudio,
    ModelsReply,
    ModerationReply,
    Ollama,
    OpenRouter,
    Personality,
    RecordedRequest,
    Reply,
    Vllm,
    count_prompt_tokens,
    cut_to_words,
    unused_loopback_url,
)

__all__ = [
    "SMOLLM2_PATH",
    "AnthropicErrorReply",
    "AnthropicModelsReply",
    "EmptyStream",
    "ErrorReply",
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "LlamaCpp",
    "LmStudio",
    "MessageReply",
    "ModelsReply",
    "ModerationReply",
    "Ollama",
    "OpenRouter",
    "Personality",
    "RecordedRequest",
    "Reply",
    "Vllm",
    "count_prompt_tokens",
    "cut_to_words",
    "unused_loopback_url",
]
