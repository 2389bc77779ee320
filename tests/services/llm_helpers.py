"""Driving an ``LlmClient`` against a loopback stand-in: what the client tests share.

``quick_settings`` gives a client of a stand-in short timeouts; a ``ReplyReader`` reads every
event of a reply (each test module makes its own ``collect`` with its conversation and model);
``text_of`` and ``notices_in`` pick the events apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gptlab_desktop.models import ModelConfig, Role
from gptlab_desktop.services.llm_api import (
    ChatTurn,
    LlmClient,
    LlmSettings,
    RetryNotice,
    StreamEvent,
    TextDelta,
)

OPENAI_KEY = "sk-proj-Secret0123456789abcdefXYZ"
ANTHROPIC_KEY = "sk-ant-api03-Secret0123456789abcdefXYZ-uvw"
TURNS = (
    ChatTurn(Role.SYSTEM, "You are a helpful assistant."),
    ChatTurn(Role.USER, "Say hello."),
)
LONG_TEXT = (
    "Hello, wörld! 👋🏽 Here is **Markdown**:\n\n- one\n- two\n\n```py\nprint('x')\n```\n" * 20
)


def quick_settings(base_url: str, api_key: str | None, **settings: Any) -> LlmSettings:
    """Settings for a client of a loopback server, with short timeouts (nothing there should be
    slow); ``settings`` override any of them."""
    options: dict[str, Any] = {"timeout_s": 5.0, "connect_timeout_s": 2.0, **settings}
    return LlmSettings(base_url=base_url, api_key=api_key, **options)


class ReplyReader:
    """Reads every event of a reply: to ``turns`` with ``config`` unless a call names others."""

    def __init__(self, turns: Sequence[ChatTurn], config: ModelConfig) -> None:
        self.turns = tuple(turns)
        self.config = config

    async def __call__(
        self,
        llm: LlmClient,
        turns: Sequence[ChatTurn] | None = None,
        config: ModelConfig | None = None,
        *,
        seen: list[StreamEvent] | None = None,
    ) -> list[StreamEvent]:
        """Every event of a reply; each also goes into ``seen`` as it comes (kept if it fails)."""
        events = [] if seen is None else seen
        turns = self.turns if turns is None else turns
        async for event in llm.stream_chat(turns, self.config if config is None else config):
            events.append(event)
        return events


def notices_in(events: Sequence[StreamEvent]) -> list[RetryNotice]:
    """The retry notices among ``events``, in order."""
    return [event for event in events if isinstance(event, RetryNotice)]


def text_of(events: Sequence[StreamEvent]) -> str:
    """The reply's text in ``events``."""
    return "".join(event.text for event in events if isinstance(event, TextDelta))
