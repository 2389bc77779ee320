"""What every AI provider's client offers the app: one interface, its values and events.

``LlmClient`` is the one interface the session engine, the lab and the key checks talk to;
``services/llm.py`` implements it for OpenAI and every OpenAI-compatible server (Ollama,
LM Studio, llama.cpp, vLLM, OpenRouter, Gemini), ``services/anthropic_client.py`` for
Anthropic. Which one serves a session is the provider registry's business
(``services/providers.py``); the engine never knows.

Qt-free, and cheap to import: no SDK is loaded here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gptlab_desktop.config import OPENAI_BASE_URL
from gptlab_desktop.models import ModelConfig, Role

# How long a connection may take to open; the read timeout is the settings'.
CONNECT_TIMEOUT_S = 10.0
# How long reading a reply stream may keep the event loop before letting the window paint.
YIELD_EVERY_S = 0.005


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Where the AI service is, the key it gets, and how patient to be with it."""

    base_url: str = OPENAI_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    # Which kind of server this is, where known (a provider preset: "ollama", "llamacpp",
    # "lmstudio", "vllm", "openrouter", "gemini", "openai", "anthropic"; "" for any other):
    # it tells the client where the server reports its models' context windows.
    preset: str = ""
    timeout_s: float = 60.0
    max_retries: int = 3
    connect_timeout_s: float = CONNECT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message of the conversation as sent to the model."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts the server reported for one request."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The reply is complete: why it stopped, what it cost (if reported), which model wrote it."""

    finish_reason: str
    usage: Usage | None
    model: str


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """The client waits ``wait_s`` seconds before attempt number ``attempt + 1``."""

    attempt: int
    wait_s: float
    reason: str
    # Whether the server asked us to slow down (429), rather than failing (5xx).
    is_rate_limit: bool = False


@dataclass(frozen=True, slots=True)
class ModelList:
    """Models to offer; ``is_fallback`` when the server could not be asked (a built-in list).

    ``context_windows`` holds the context window of each model whose server reports one
    (Ollama's ``/api/show``, llama.cpp's ``/props``, OpenRouter's model list, Anthropic's).
    """

    models: tuple[str, ...]
    is_fallback: bool = False
    context_windows: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModerationResult:
    """The moderation verdict on a text: a warning to show, never a block."""

    flagged: bool
    categories: tuple[str, ...] = ()


# What a reply stream yields: retry notices (before any text), the text, then its end.
StreamEvent = RetryNotice | TextDelta | StreamEnd


class LlmClient(Protocol):
    """One AI provider's client: streamed chat, model lists, key checks, moderation.

    Every failure is a typed ``LlmError`` (``services/errors.py``) whose message a user can
    read and which never contains the API key.
    """

    @property
    def has_api_key(self) -> bool:
        """Whether a key is configured (or not needed)."""
        ...

    @property
    def cached_models(self) -> ModelList | None:
        """The model list fetched earlier in this client's life, if any."""
        ...

    async def warm_up(self) -> None:
        """Load the SDK and build its client off the event loop."""
        ...

    async def use_api_key(self, api_key: str | None) -> None:
        """Send ``api_key`` from now on."""
        ...

    def use_api_key_when_read(self, api_key: Awaitable[str | None]) -> None:
        """Send the key ``api_key`` gives once read; requests wait for it till then."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        ...

    def stream_chat(
        self, messages: Sequence[ChatTurn], config: ModelConfig
    ) -> AsyncIterator[StreamEvent]:
        """Retry notices (before any text), the reply's text, then one ``StreamEnd``."""
        ...

    async def complete(self, messages: Sequence[ChatTurn], config: ModelConfig) -> str:
        """The whole reply as one string (titles, summaries)."""
        ...

    async def list_models(self) -> ModelList:
        """The models to offer (a flagged built-in list when the server cannot be asked)."""
        ...

    async def check_key(self) -> None:
        """Raise ``InvalidApiKey`` (or another ``LlmError``) unless the server accepts the key."""
        ...

    async def moderate(self, text: str) -> ModerationResult | None:
        """The moderation verdict, or None where the provider offers none: advisory."""
        ...
