"""Streaming one reply into the store: the row first, flushed while it grows, then final.

Nothing is lost: the user's question and the reply's empty row are one write; the reply is
rewritten at least every ``flush_interval_s`` while it streams and completed at the end; a
reply cut short (an error, Stop, the window closing) stays stored, marked interrupted, with
the kind of failure (never its wording). ``stop`` ends a streaming reply through its
``ReplyStream``, which yields the interrupted end to whoever reads the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from gptlab_desktop.models import (
    NO_DETAILS,
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    Role,
    Session,
    new_id,
    utcnow,
)
from gptlab_desktop.services.chat_events import (
    ChatEvent,
    MessageStored,
    ReplyDelta,
    ReplyFinished,
    ReplyInterrupted,
    ReplyStarted,
    RetryScheduled,
    SessionUpdated,
)
from gptlab_desktop.services.errors import ServiceError, failure_kind
from gptlab_desktop.services.llm_api import ChatTurn, LlmClient, RetryNotice, Usage
from gptlab_desktop.services.replies import ReplyEnd, ReplyStream
from gptlab_desktop.services.store.base import Store

log = logging.getLogger(__name__)


# Counts a reply's tokens where the server reported none: (turns, reply text, model) -> usage.
EstimateUsage = Callable[[Sequence[ChatTurn], str, str], Awaitable[Usage]]


@dataclass(slots=True)
class ReplyRequest:
    """One request to the model: what to send, to which provider, and how to store the
    answer."""

    session: Session
    llm: LlmClient
    turns: list[ChatTurn]
    config: ModelConfig
    # continue an interrupted reply: the stored message to extend, and its text so far
    extend: Message | None = None
    # send: the user's message, stored with the reply's first row in one write
    question: Message | None = None
    # what the reply is beyond its role (a recap)
    details: MessageDetails = NO_DETAILS
    # the message the reply follows in the conversation's tree (``ROOT_PARENT``: none)
    parent_id: str | None = None


class ReplyRecorder:
    """Streams replies into the store, one per session at a time, and stops them on request."""

    def __init__(
        self,
        store: Store,
        *,
        flush_interval_s: float,
        with_context_entry: Callable[[Session, Message], Session],
        estimate_usage: EstimateUsage | None = None,
    ) -> None:
        self._store = store
        self._flush_interval_s = flush_interval_s
        self._with_context_entry = with_context_entry
        self._estimate_usage = estimate_usage
        # Messages streaming in this process, so a crash's leftovers can be told apart.
        self._streaming: set[str] = set()
        # The reply streaming in each session, for ``stop``.
        self._replies: dict[str, ReplyStream] = {}

    def is_streaming(self, message_id: str) -> bool:
        """Whether this process is streaming (or finishing) that message now."""
        return message_id in self._streaming

    async def record(
        self, request: ReplyRequest, *, add_to_context: bool = True
    ) -> AsyncIterator[ChatEvent]:
        """Stream one reply into the store: started, flushed while streaming, then final."""
        session = request.session
        if request.extend is not None:
            message = replace(request.extend, state=MessageState.STREAMING)
            prefix = request.extend.message
            begin = self._store.update_message(
                message.id, text=prefix, state=MessageState.STREAMING
            )
        else:
            prefix = ""
            message = Message(
                id=new_id(),
                session_id=session.id,
                role=Role.ASSISTANT,
                message="",
                created_date=utcnow(),
                state=MessageState.STREAMING,
                meta=request.details.with_changes(model=request.config.model),
                parent_id=request.parent_id,
            )
            # The question and the reply's row in one write: one trip to the store, and one
            # repaint showing both.
            first = () if request.question is None else (request.question,)
            begin = self._store.add_messages(
                (*first, message), context=session.context if first else None
            )
        # Registered before the first write: Stop works from the first moment on.
        reply = ReplyStream(
            request.llm,
            request.turns,
            request.config,
            prefix=prefix,
            guarded_prompt=session.bot_initial_prompt_msg if session.guards_prompt_leak else None,
        )
        self._replies[session.id] = reply
        self._streaming.add(message.id)
        begun = asyncio.ensure_future(begin)
        try:
            await asyncio.shield(begun)
        except asyncio.CancelledError:
            # Cancelled just as the reply began: the row is written all the same, so mark it.
            with contextlib.suppress(Exception):
                await begun
                await self._store_final(
                    request, message, reply.end(cancelled=True), add_to_context=False
                )
            self._forget(session.id, reply, message.id)
            raise
        except BaseException:
            self._forget(session.id, reply, message.id)
            raise
        if request.question is not None:
            yield MessageStored(request.question)
        yield ReplyStarted(message)
        last_flush = time.monotonic()
        error: ServiceError | None = None
        cancelled = False
        try:
            async with contextlib.aclosing(reply.events()) as events:
                async for event in events:
                    if isinstance(event, RetryNotice):
                        yield RetryScheduled(event)
                        continue
                    yield ReplyDelta(message.id, event.delta, event._text, event._length)
                    if time.monotonic() - last_flush >= self._flush_interval_s:
                        last_flush = time.monotonic()
                        await self._store.update_message(
                            message.id, text=reply.text, state=MessageState.STREAMING
                        )
        except ServiceError as failure:
            error = failure
        except asyncio.CancelledError:
            cancelled = True  # the window is closing: stored as stopped, then cancelled
            raise
        finally:
            if self._replies.get(session.id) is reply:
                del self._replies[session.id]
            end = reply.end(error, cancelled=cancelled)
            if end.is_complete and end.usage is None and not cancelled:
                end = await self._with_estimated_usage(request, end)
            final, session = await self._store_final(
                request, message, end, add_to_context=add_to_context
            )
        if end.is_complete:
            if add_to_context:
                yield SessionUpdated(session)
            yield ReplyFinished(final)
        else:
            yield ReplyInterrupted(final, error)

    async def _with_estimated_usage(self, request: ReplyRequest, end: ReplyEnd) -> ReplyEnd:
        """``end`` with its tokens counted here, marked as an estimate (the server reported
        none); as it was when counting fails, which must never lose the reply."""
        if self._estimate_usage is None:
            return end
        try:
            usage = await self._estimate_usage(request.turns, end.text, request.config.model)
        except Exception:
            log.warning("Counting a reply's tokens failed", exc_info=True)
            return end
        return replace(end, usage=usage, usage_estimated=True)

    def _forget(self, session_id: str, reply: ReplyStream, message_id: str) -> None:
        if self._replies.get(session_id) is reply:
            del self._replies[session_id]
        self._streaming.discard(message_id)

    def stop(self, session_id: str) -> bool:
        """Stop the reply streaming in a session; it ends as interrupted, what arrived kept.

        Whoever reads the reply's events then gets its ``ReplyInterrupted`` (``error`` None).
        False when no reply streams there.
        """
        reply = self._replies.get(session_id)
        if reply is None:
            return False
        reply.stop()
        return True

    async def _store_final(
        self,
        request: ReplyRequest,
        message: Message,
        end: ReplyEnd,
        *,
        add_to_context: bool,
    ) -> tuple[Message, Session]:
        """Store a reply's final form (and, when complete, the context it extends) at once.

        Shielded: it is stored even while the task is being cancelled (the window closing).
        The message counts as streaming here until the write is done, so reopening the session
        meanwhile cannot mistake it for a crash's leftover.
        """
        session = request.session
        meta = _final_meta(message.meta, end)
        outcome = MessageState.COMPLETE if end.is_complete else MessageState.INTERRUPTED
        final = replace(message, message=end.text, state=outcome, meta=meta)
        if end.is_complete and add_to_context:
            session = self._with_context_entry(session, final)
            context: tuple[ContextMessage, ...] | None = session.context
        else:
            context = None
        write = asyncio.ensure_future(
            self._store.update_message(
                final.id, text=end.text, state=outcome, meta=meta, context=context
            )
        )
        write.add_done_callback(lambda _: self._streaming.discard(message.id))
        await asyncio.shield(write)
        return final, session


def _final_meta(meta: MessageDetails, end: ReplyEnd) -> MessageDetails:
    """A reply's stored details once it has ended (the failure's kind, never its wording)."""
    if end.is_complete:
        meta = meta.with_changes(finish_reason=end.finish_reason, model=end.model)
        if end.usage is not None:
            meta = meta.with_changes(
                prompt_tokens=end.usage.prompt_tokens,
                completion_tokens=end.usage.completion_tokens,
                usage_estimated=end.usage_estimated,
            )
    if end.error is not None:
        meta = meta.with_changes(failure=failure_kind(end.error))
    return meta.with_changes(stopped=end.stopped, withheld=end.withheld)
