"""What a chat operation tells the window, event by event, as it happens.

Each ``SessionEngine`` operation is an async iterator of these ``ChatEvent`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gptlab_desktop.models import Message, Session
from gptlab_desktop.services.branches import Conversation
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.llm_api import RetryNotice
from gptlab_desktop.services.replies import ReplyText


@dataclass(frozen=True, slots=True)
class MessageStored:
    """A user message (or a condensing notice) was stored and belongs in the transcript."""

    message: Message


@dataclass(frozen=True, slots=True)
class ReplyStarted:
    """An empty assistant message was stored; deltas for it follow."""

    message: Message


@dataclass(frozen=True, slots=True)
class ReplyDelta:
    """More text of the streaming reply: the new ``delta``, and ``text``, the reply so far."""

    message_id: str
    delta: str
    _text: ReplyText = field(repr=False, compare=False)
    _length: int = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        """The whole reply up to and including this delta."""
        return self._text.value()[: self._length]


@dataclass(frozen=True, slots=True)
class ReplyFinished:
    """The reply is complete and stored."""

    message: Message


@dataclass(frozen=True, slots=True)
class ReplyInterrupted:
    """The reply stopped early and is stored as interrupted; ``error`` is None for Stop."""

    message: Message
    error: ServiceError | None


@dataclass(frozen=True, slots=True)
class MessageRemoved:
    """A message left the shown transcript: deleted (an empty reply planned again), or on
    another branch now (an edit or a regeneration forked the conversation before it)."""

    message_id: str


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """The server asked us to wait (rate limit); a retry follows after ``wait_s`` seconds."""

    notice: RetryNotice


@dataclass(frozen=True, slots=True)
class ModerationWarning:
    """The server's moderation flagged the user's message (a warning, never a block)."""

    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BranchShown:
    """The session now shows another branch of its conversation (after an edit or a
    regeneration forked it): the transcript to show is ``conversation.shown``."""

    conversation: Conversation


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    """The session's record changed (title, context, status)."""

    session: Session


ChatEvent = (
    MessageStored
    | ReplyStarted
    | ReplyDelta
    | ReplyFinished
    | ReplyInterrupted
    | MessageRemoved
    | RetryScheduled
    | ModerationWarning
    | SessionUpdated
    | BranchShown
)


# Events that show the model's answer has begun (or ended): the request is out.
_REPLY_UNDER_WAY = (ReplyDelta, ReplyFinished, ReplyInterrupted, RetryScheduled)
