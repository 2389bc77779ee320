"""One reply as it streams from the AI service: the pipeline the chat and Try-it share.

``ReplyStream`` reads one reply: it yields the service's retry notices (``RetryNotice``, said
before each wait) and the text as it grows (``ReplyGrowth``, whose ``text`` is joined only when
read, so long replies stay linear), checks a guarded assistant's reply against its prompt as
it grows (first at ``LEAK_CHECK_CHARS``, then each time it has grown by a quarter — a leak
shows early, and long replies stay linear), and ends with a ``ReplyEnd``: complete or not, why,
what it cost, and the text to keep — the refusal when the reply revealed the prompt.

``stop`` ends the reply as the user asked: the stream stops reading (a read waiting on the
network is cancelled) and ends normally, with ``ReplyEnd.stopped``; nothing upstream sees a
cancellation. The session engine stores what the stream gives; Try-it keeps it in memory.

Qt-free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.leak_guard import REFUSAL, leaks_prompt
from gptlab_desktop.services.llm_api import (
    ChatTurn,
    LlmClient,
    RetryNotice,
    StreamEnd,
    TextDelta,
    Usage,
)

# A guarded reply is first compared with the prompt at this length, then each time it has
# grown by a quarter: each check scores the whole reply, so a fixed step would make long
# guarded replies quadratic on the event loop.
LEAK_CHECK_CHARS = 200
LEAK_CHECK_GROWTH = 1.25
# The finish reason of a reply cut short because it began to reveal the prompt.
WITHHELD = "withheld"


class ReplyText:
    """A reply growing piece by piece; joined only when read, so long replies stay linear."""

    __slots__ = ("_joined", "_parts")

    def __init__(self, prefix: str = "") -> None:
        self._parts: list[str] = [prefix] if prefix else []
        self._joined = prefix

    def append(self, piece: str) -> None:
        """Add the next piece."""
        self._parts.append(piece)

    def value(self) -> str:
        """The whole text so far."""
        if len(self._parts) != 1 or self._parts[0] is not self._joined:
            self._joined = "".join(self._parts)
            self._parts = [self._joined]
        return self._joined


@dataclass(frozen=True, slots=True)
class ReplyGrowth:
    """More text: the new ``delta``, and ``text``, the reply up to and including it."""

    delta: str
    _text: ReplyText = field(repr=False, compare=False)
    _length: int = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        """The whole reply up to and including this delta."""
        return self._text.value()[: self._length]


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    """How a reply ended, and the text to keep.

    ``is_complete``: the service finished it (or the guard cut it short, ``finish_reason``
    ``WITHHELD``). Otherwise it was ``stopped`` by the user, or failed with ``error``, or was
    cancelled (the window closed). ``withheld``: the text is the refusal, because the reply
    revealed a guarded prompt.
    """

    text: str
    is_complete: bool
    model: str
    finish_reason: str | None = None
    usage: Usage | None = None
    stopped: bool = False
    withheld: bool = False
    error: ServiceError | None = None
    # ``usage`` was counted here, the server having reported none.
    usage_estimated: bool = False


ReplyEvent = RetryNotice | ReplyGrowth


class ReplyStream:
    """One reply from ``llm`` to ``turns``; iterate ``events`` once, then read ``end``.

    ``prefix`` is text the reply continues (an interrupted reply being continued).
    ``guarded_prompt`` is the prompt a guarded assistant must not reveal (None: unguarded).
    """

    def __init__(
        self,
        llm: LlmClient,
        turns: Sequence[ChatTurn],
        config: ModelConfig,
        *,
        prefix: str = "",
        guarded_prompt: str | None = None,
    ) -> None:
        self._llm = llm
        self._turns = turns
        self._config = config
        self._guarded_prompt = guarded_prompt
        self._text = ReplyText(prefix)
        self._length = len(prefix)
        self._finish: StreamEnd | None = None
        self._cut_short = False
        self._stop_requested = False
        self._stopped = False
        self._reader: asyncio.Task[object] | None = None
        self._reading = False

    @property
    def text(self) -> str:
        """The reply so far."""
        return self._text.value()

    @property
    def stop_requested(self) -> bool:
        """Whether ``stop`` was called."""
        return self._stop_requested

    def stop(self) -> None:
        """End the reply now, keeping what arrived; ``events`` then ends without an error."""
        self._stop_requested = True
        reader = self._reader
        if self._reading and reader is not None and not reader.done():
            # Waiting on the network: only a cancellation ends that wait at once.
            reader.cancel()

    async def events(self) -> AsyncIterator[ReplyEvent]:
        """Retry notices and growth until the reply ends; raises the service's ``ServiceError``."""
        self._reader = asyncio.current_task()
        guarded = self._guarded_prompt
        next_check = self._length + LEAK_CHECK_CHARS if guarded is not None else None
        stream = aiter(self._llm.stream_chat(self._turns, self._config))
        try:
            while not self._stop_requested:
                self._reading = True
                try:
                    event = await anext(stream)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if self._ended_by_stop():
                        return
                    raise
                finally:
                    self._reading = False
                if isinstance(event, TextDelta):
                    self._text.append(event.text)
                    self._length += len(event.text)
                    yield ReplyGrowth(event.text, self._text, self._length)
                    if next_check is not None and self._length >= next_check:
                        next_check = max(
                            self._length + LEAK_CHECK_CHARS, int(self._length * LEAK_CHECK_GROWTH)
                        )
                        if leaks_prompt(self._text.value(), guarded):  # type: ignore[arg-type]
                            # Cut short: the rest would reveal the prompt too.
                            self._cut_short = True
                            return
                elif isinstance(event, StreamEnd):
                    self._finish = event
                else:
                    yield event
            self._stopped = True
        finally:
            await stream.aclose()

    def _ended_by_stop(self) -> bool:
        """Whether a cancellation was ``stop``'s own (and so is undone): the reply just ends."""
        if not self._stop_requested or self._reader is None:
            return False
        self._reader.uncancel()
        if self._reader.cancelling():
            return False  # cancelled from elsewhere too (the window closing)
        self._stopped = True
        return True

    def end(self, error: ServiceError | None = None, *, cancelled: bool = False) -> ReplyEnd:
        """The reply's end, once ``events`` is over (``error``: what it raised)."""
        text = self._text.value()
        withheld = self._guarded_prompt is not None and leaks_prompt(text, self._guarded_prompt)
        if withheld:
            text = REFUSAL
        finish = self._finish
        if self._cut_short:
            return ReplyEnd(text, True, self._config.model, WITHHELD, withheld=withheld)
        if finish is not None and error is None and not self._stopped and not cancelled:
            return ReplyEnd(
                text, True, finish.model, finish.finish_reason, finish.usage, withheld=withheld
            )
        return ReplyEnd(
            text,
            False,
            self._config.model,
            stopped=self._stopped or cancelled,
            withheld=withheld,
            error=error,
        )
