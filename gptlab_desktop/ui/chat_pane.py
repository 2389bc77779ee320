"""The chat pane: one session's transcript, the message box, and the actions on a reply.

Every operation of the session engine is an async iterator of events; the pane runs each one
as the background task named "reply" (so Stop, switching sessions and closing the window
cancel it, and a cancelled reply is not an error) and renders the events as they come. Errors
are shown inline and in the status bar, never in a modal box while the user is typing.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import (
    Assistant,
    Message,
    MessageKind,
    MessageState,
    Role,
    Session,
    UserLiked,
)
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.chat import (
    ChatEvent,
    MessageRemoved,
    MessageStored,
    ModerationWarning,
    ReplyDelta,
    ReplyFinished,
    ReplyInterrupted,
    ReplyStarted,
    RetryScheduled,
    SessionEngine,
    SessionUpdated,
)
from gptlab_desktop.services.llm import RetryNotice
from gptlab_desktop.services.model_catalog import estimate_cost_usd
from gptlab_desktop.ui.chat_view import ChatStreamView
from gptlab_desktop.ui.messages import describe_failure
from gptlab_desktop.ui.naming import name_widget

log = logging.getLogger(__name__)

ENDED_NOTE = "This session has ended"
_REPLY_TASK = "reply"
# How often the streaming reply's text is handed to the view (which renders it ~10x/s).
STREAM_PUSH_INTERVAL_MS = 50
_TITLE_TASK = "title"


@dataclass(frozen=True, slots=True)
class ChatPaneContext:
    """What the pane needs besides the engine: how to find the assistant behind a session."""

    find_assistant: Callable[[str], Awaitable[Assistant | None]]


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """Tokens the server reported for a session's replies, and what they cost at list prices."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


def session_usage(messages: Sequence[Message], default_model: str) -> SessionUsage:
    """Sum the usage stored with each assistant reply; the cost is unknown if any model is."""
    prompt = completion = 0
    cost: float | None = 0.0
    for message in messages:
        if message.role is not Role.ASSISTANT:
            continue
        prompt_tokens = message.meta.prompt_tokens or 0
        completion_tokens = message.meta.completion_tokens or 0
        if not prompt_tokens and not completion_tokens:
            continue
        prompt += prompt_tokens
        completion += completion_tokens
        model = message.meta.model or default_model
        price = estimate_cost_usd(model, prompt_tokens, completion_tokens)
        cost = None if price is None or cost is None else cost + price
    return SessionUsage(prompt, completion, cost)


def usage_text(model: str, usage: SessionUsage) -> str:
    """The header's line: model, tokens so far and their estimated cost."""
    tokens = f"{usage.total_tokens:,} token{'s' if usage.total_tokens != 1 else ''}"
    if usage.cost_usd is None:
        cost = "cost unknown"
    elif usage.cost_usd < 1:
        cost = f"≈ ${usage.cost_usd:.4f}"
    else:
        cost = f"≈ ${usage.cost_usd:,.2f}"
    return f"{model} · {tokens} · {cost}"


class MessageInput(QPlainTextEdit):
    """The message box: Enter (or Ctrl+Enter) sends, Shift+Enter starts a new line."""

    submitted = Signal()
    escapePressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Send on Enter, new line on Shift+Enter, Esc for the pane (stop, or leave editing)."""
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                # A real newline: Qt's own Shift+Enter inserts a Unicode line separator.
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.escapePressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class ChatPane(QWidget):
    """One session at a time: header, transcript, message box, and the session's actions."""

    #: The open session's record changed (started, a message, a title, concluded).
    sessionChanged = Signal(object)
    #: A short line for the window's status bar.
    statusMessage = Signal(str)

    def __init__(
        self, engine: SessionEngine, context: ChatPaneContext, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._context = context
        self._tasks = TaskGroupByName()
        self._session: Session | None = None
        self._assistant_name = "Assistant"
        self._streaming_id: str | None = None
        self._is_busy = False
        self._is_editing = False
        self._is_rating = False
        self._has_titled = False
        self._retry_remaining_s = 0
        self._retry_cause = "Rate limited"
        self.setObjectName("chatPane")
        self._build()
        self._connect()
        self.show_assistant(None)

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)

        self.assistant_name_label = QLabel(self)
        name_widget(self.assistant_name_label, "assistantNameLabel", "Assistant name")
        name_font = self.assistant_name_label.font()
        name_font.setPointSizeF(name_font.pointSizeF() * 1.4)
        name_font.setBold(True)
        self.assistant_name_label.setFont(name_font)
        self.assistant_tag_line_label = QLabel(self)
        name_widget(self.assistant_tag_line_label, "assistantTagLineLabel", "Assistant tag line")
        self.assistant_description_label = QLabel(self)
        name_widget(
            self.assistant_description_label, "assistantDescriptionLabel", "Assistant description"
        )
        self.assistant_description_label.setWordWrap(True)
        self.session_info_label = QLabel(self)
        name_widget(self.session_info_label, "sessionInfoLabel", "Model, tokens and cost")
        for label in (
            self.assistant_name_label,
            self.assistant_tag_line_label,
            self.assistant_description_label,
            self.session_info_label,
        ):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)

        self.chat_view = ChatStreamView(self)
        layout.addWidget(self.chat_view, 1)

        # Inline lines, shown only when they have something to say.
        self.retry_label = self._notice_label("retryLabel", "Retry countdown")
        self.warning_label = self._notice_label("warningLabel", "Moderation warning")
        self.notice_label = self._notice_label("noticeLabel", "Chat notice")
        self.editing_label = self._notice_label("editingLabel", "Editing notice")
        self.editing_label.setText(
            "Editing your last message: Enter resends it, Esc cancels the edit."
        )
        self.ended_label = self._notice_label("endedLabel", "Session ended")
        self.ended_label.setText(ENDED_NOTE)
        for label in (
            self.retry_label,
            self.warning_label,
            self.notice_label,
            self.editing_label,
            self.ended_label,
        ):
            layout.addWidget(label)

        rating_row = QHBoxLayout()
        self.rating_bar = QWidget(self)
        self.rating_bar.setObjectName("ratingBar")
        rating_layout = QHBoxLayout(self.rating_bar)
        rating_layout.setContentsMargins(0, 0, 0, 0)
        rating_question = QLabel("How was this session?", self.rating_bar)
        rating_layout.addWidget(rating_question)
        self.like_button = QPushButton("👍 Liked it", self.rating_bar)
        name_widget(self.like_button, "likeButton", "Liked the session")
        self.dislike_button = QPushButton("👎 Did not", self.rating_bar)
        name_widget(self.dislike_button, "dislikeButton", "Did not like the session")
        rating_layout.addWidget(self.like_button)
        rating_layout.addWidget(self.dislike_button)
        rating_layout.addStretch(1)
        rating_row.addWidget(self.rating_bar)
        layout.addLayout(rating_row)

        input_row = QHBoxLayout()
        self.message_input = MessageInput(self)
        name_widget(self.message_input, "messageInput", "Message")
        self.message_input.setMaximumHeight(120)
        self.message_input.setTabChangesFocus(True)
        input_row.addWidget(self.message_input, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton("Send", self)
        name_widget(self.send_button, "sendButton", "Send message")
        self.send_button.setToolTip("Send (Enter or Ctrl+Enter; Shift+Enter for a new line)")
        self.stop_button = QPushButton("Stop", self)
        name_widget(self.stop_button, "stopButton", "Stop the reply")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.regenerate_button = QPushButton("Regenerate", self)
        name_widget(self.regenerate_button, "regenerateButton", "Regenerate the last reply")
        self.conclude_button = QPushButton("Conclude", self)
        name_widget(self.conclude_button, "concludeButton", "Conclude the session")
        self.conclude_button.setToolTip(
            "Ask for a recap of the session and rate it (after more than five messages)"
        )
        for button in (
            self.send_button,
            self.stop_button,
            self.regenerate_button,
            self.conclude_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        input_row.addLayout(buttons)
        layout.addLayout(input_row)

        # The streamed text is read (joined) at most this often, not once per token: a long
        # reply would otherwise be copied whole for every one of its tokens.
        self._pending_delta: ReplyDelta | None = None
        self._delta_timer = QTimer(self)
        self._delta_timer.setSingleShot(True)
        self._delta_timer.setInterval(STREAM_PUSH_INTERVAL_MS)
        self._delta_timer.timeout.connect(self._push_pending_delta)

        # Counts a rate limit's wait down, one second at a time.
        self._retry_timer = QTimer(self)
        self._retry_timer.setObjectName("retryTimer")
        self._retry_timer.setInterval(1000)

    def _notice_label(self, object_name: str, accessible_name: str) -> QLabel:
        label = QLabel(self)
        name_widget(label, object_name, accessible_name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.hide()
        return label

    def _connect(self) -> None:
        self.message_input.submitted.connect(self.send)
        self.message_input.escapePressed.connect(self.escape)
        self.message_input.textChanged.connect(self._update_actions)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.regenerate_button.clicked.connect(self.regenerate)
        self.conclude_button.clicked.connect(self.conclude)
        self.like_button.clicked.connect(lambda: self.rate(UserLiked.LIKED))
        self.dislike_button.clicked.connect(lambda: self.rate(UserLiked.DISLIKED))
        self.chat_view.regenerateRequested.connect(lambda _id: self.regenerate())
        self.chat_view.continueRequested.connect(lambda _id: self.continue_reply())
        self.chat_view.editRequested.connect(self.edit_message)
        self.chat_view.copyRequested.connect(lambda _text: self.statusMessage.emit("Copied."))
        self._retry_timer.timeout.connect(self._tick_retry)

    # -- what is shown ----------------------------------------------------------------------
    @property
    def session(self) -> Session | None:
        """The open session, if any."""
        return self._session

    @property
    def is_busy(self) -> bool:
        """Whether a reply (or another session operation) is running."""
        return self._is_busy

    def reply_task(self) -> asyncio.Task[None] | None:
        """The running session operation, if any (tests and Stop wait on it)."""
        return self._tasks.running(_REPLY_TASK)

    def show_assistant(self, assistant: Assistant | None) -> None:
        """Describe an assistant in the header while no session is open."""
        if self._session is not None:
            return
        self.chat_view.transcript().set_messages([])
        if assistant is None:
            self.assistant_name_label.setText("Choose an assistant")
            self.assistant_tag_line_label.setText("")
            self.assistant_description_label.setText(
                "Pick one from the lobby on the left; double-click it to chat."
            )
            self.session_info_label.setText("")
        else:
            self.assistant_name_label.setText(assistant.name)
            self.assistant_tag_line_label.setText(assistant.tag_line)
            self.assistant_description_label.setText(assistant.description)
            self.session_info_label.setText("Press Enter or Ctrl+N to start a session.")
        self.assistant_description_label.show()
        self._update_actions()

    def show_notice(self, text: str) -> None:
        """An inline line above the message box (and the status bar)."""
        self.notice_label.setText(text)
        self.notice_label.show()
        self.statusMessage.emit(text.split("\n", 1)[0])

    def _show_error(self, error: BaseException, *, doing: str) -> None:
        message = describe_failure(error, doing=doing)
        self.show_notice(f"{message.title}: {message.text}")

    def _show_session(self, session: Session, messages: list[Message], assistant: str) -> None:
        self._session = session
        self._assistant_name = assistant
        # A session with an exchange already had its title suggested (or kept its own).
        self._has_titled = any(m.role is Role.USER for m in messages)
        self._is_editing = False
        self.editing_label.hide()
        self.notice_label.hide()
        self.warning_label.hide()
        self._stop_retry_countdown()
        self.chat_view.set_assistant_name(assistant)
        self.chat_view.transcript().set_messages(messages)
        self.chat_view.scroll_to_end()
        self.assistant_name_label.setText(assistant)
        self.assistant_description_label.hide()
        last = messages[-1] if messages else None
        self._is_rating = (
            session.status.is_open
            and last is not None
            and last.state is MessageState.COMPLETE
            and last.kind is MessageKind.RECAP
        )
        self._show_session_header()
        self._update_actions()

    def _show_session_header(self) -> None:
        session = self._session
        if session is None:
            return
        self.assistant_tag_line_label.setText(session.title)
        model = session.bot_model_config.model
        usage = session_usage(self.chat_view.transcript().messages(), model)
        self.session_info_label.setText(usage_text(model, usage))

    def _update_actions(self) -> None:
        session = self._session
        is_open = session is not None and session.status.is_open
        can_type = is_open and not self._is_rating
        messages = self.chat_view.transcript().messages()
        last = messages[-1] if messages else None
        self.message_input.setEnabled(can_type)
        if session is None:
            self.message_input.setPlaceholderText("Open a session with an assistant to write here.")
        elif not is_open:
            self.message_input.setPlaceholderText(ENDED_NOTE)
        elif self._is_rating:
            self.message_input.setPlaceholderText("Rate the session to finish it.")
        else:
            self.message_input.setPlaceholderText(
                "Write a message… (Enter sends, Shift+Enter for a new line)"
            )
        has_text = bool(self.message_input.toPlainText().strip())
        self.send_button.setEnabled(can_type and not self._is_busy and has_text)
        self.stop_button.setEnabled(self._is_busy and self._streaming_id is not None)
        self.regenerate_button.setEnabled(
            can_type
            and not self._is_busy
            and last is not None
            and last.role is Role.ASSISTANT
            and last.kind is not MessageKind.RECAP
        )
        self.conclude_button.setEnabled(
            can_type and not self._is_busy and self._engine.can_conclude(messages)
        )
        self.rating_bar.setVisible(is_open and self._is_rating)
        self.like_button.setEnabled(not self._is_busy)
        self.dislike_button.setEnabled(not self._is_busy)
        self.ended_label.setVisible(session is not None and not is_open)

    # -- commands ---------------------------------------------------------------------------
    def start_session(self, assistant_id: str, user_id: str) -> asyncio.Task[None]:
        """Start a session with an assistant; the assistant greets first."""
        return self._tasks.start(_REPLY_TASK, self._start_session(assistant_id, user_id))

    def open_session(self, session_id: str) -> asyncio.Task[None] | None:
        """Show a stored session (reads the store only: works without the AI service)."""
        if self._session is not None and self._session.id == session_id:
            return None
        return self._tasks.start(_REPLY_TASK, self._open_session(session_id))

    def reload_session(self) -> asyncio.Task[None] | None:
        """Read the open session again (it was changed elsewhere, say ended); None if none."""
        if self._session is None:
            return None
        return self._tasks.start(_REPLY_TASK, self._open_session(self._session.id))

    def close_session(self) -> None:
        """Stop showing the open session (it was deleted): its work is cancelled, the pane empty.

        Call ``show_assistant`` afterwards to describe an assistant instead.
        """
        for name in (_REPLY_TASK, _TITLE_TASK):
            running = self._tasks.running(name)
            if running is not None:
                running.cancel()
        self._session = None
        self._streaming_id = None
        self._is_busy = False
        self._is_editing = False
        self._is_rating = False
        for label in (self.editing_label, self.notice_label, self.warning_label):
            label.hide()
        self._stop_retry_countdown()
        self.message_input.clear()
        self.show_assistant(None)

    def send(self) -> None:
        """Send the message box's text (or resend the edited last message)."""
        session = self._session
        text = self.message_input.toPlainText().strip()
        if session is None or not text or self._is_busy or not self.message_input.isEnabled():
            return
        self.message_input.clear()
        if self._is_editing:
            self._is_editing = False
            self.editing_label.hide()
            drop = self._from_last_user_message()
            events = self._engine.edit_last_user_message(session.id, text)
            self._run(events, doing="Resending your message", drop_ids=drop, restore=text)
        else:
            events = self._engine.send(session.id, text)
            self._run(events, doing="Sending your message", restore=text)

    def stop(self) -> None:
        """Stop the streaming reply through the engine; what arrived is kept, interrupted.

        The engine ends the reply's stream with the stored interrupted reply, which the pane
        then shows like any other end.
        """
        if self._session is not None and self._streaming_id is not None:
            self._engine.stop(self._session.id)

    def escape(self) -> None:
        """Esc: stop a streaming reply, else leave editing."""
        if self._streaming_id is not None:
            self.stop()
        elif self._is_editing:
            self._is_editing = False
            self.editing_label.hide()
            self.message_input.clear()

    def regenerate(self) -> None:
        """Ask again for the last reply, replacing it."""
        session = self._session
        messages = self.chat_view.transcript().messages()
        if session is None or self._is_busy or not messages:
            return
        # The old reply stays on screen until the new one is complete (MessageRemoved).
        self._run(self._engine.regenerate(session.id), doing="Regenerating")

    def continue_reply(self) -> None:
        """Carry on an interrupted reply in the same message."""
        if self._session is None or self._is_busy:
            return
        self._run(self._engine.continue_reply(self._session.id), doing="Continuing the reply")

    def edit_message(self, message_id: str) -> None:
        """Put the last message of the user back in the box; sending replaces it."""
        message = self.chat_view.transcript().message(message_id)
        if message is None or self._is_busy or not self.message_input.isEnabled():
            return
        self._is_editing = True
        self.editing_label.show()
        self.message_input.setPlainText(message.message)
        self.message_input.setFocus(Qt.FocusReason.OtherFocusReason)
        self.message_input.moveCursor(QTextCursor.MoveOperation.End)

    def conclude(self) -> None:
        """Ask for the session's recap; rating it then finishes the session."""
        if self._session is None or self._is_busy:
            return
        self._run(self._engine.conclude(self._session.id), doing="Concluding the session")

    def rate(self, liked: UserLiked) -> asyncio.Task[None] | None:
        """Finish the concluded session with the user's rating."""
        if self._session is None or self._is_busy:
            return None
        return self._tasks.start(_REPLY_TASK, self._finish(self._session.id, liked))

    async def aclose(self) -> None:
        """Cancel whatever runs (a reply is stored as interrupted) and wait for it."""
        await self._tasks.cancel_all()

    # -- the work -----------------------------------------------------------------------------
    def _run(
        self,
        events: AsyncIterator[ChatEvent],
        *,
        doing: str,
        drop_ids: Sequence[str] = (),
        restore: str | None = None,
    ) -> asyncio.Task[None]:
        return self._tasks.start(
            _REPLY_TASK, self._consume(events, doing=doing, drop_ids=drop_ids, restore=restore)
        )

    async def _start_session(self, assistant_id: str, user_id: str) -> None:
        self._set_busy(True)
        try:
            session = await self._engine.start_session(assistant_id, user_id)
            assistant = await self._context.find_assistant(assistant_id)
        except Exception as error:
            self._show_error(error, doing="Starting a session")
            return
        finally:
            self._set_busy(False)
        self._session = None  # a new session replaces whatever was shown
        self._show_session(session, [], assistant.name if assistant else session.title)
        self.sessionChanged.emit(session)
        self.message_input.setFocus(Qt.FocusReason.OtherFocusReason)
        await self._consume(self._engine.greet(session.id), doing="Greeting")

    async def _open_session(self, session_id: str) -> None:
        self._set_busy(True)
        try:
            session, messages = await self._engine.open_session(session_id)
            assistant = (
                await self._context.find_assistant(session.bot_id) if session.bot_id else None
            )
        except Exception as error:
            self._show_error(error, doing="Opening the session")
            return
        finally:
            self._set_busy(False)
        self._show_session(session, messages, assistant.name if assistant else "Assistant")

    async def _finish(self, session_id: str, liked: UserLiked) -> None:
        self._set_busy(True)
        try:
            session = await self._engine.finish(session_id, liked)
        except Exception as error:
            self._show_error(error, doing="Finishing the session")
            return
        finally:
            self._set_busy(False)
        if self._session is not None and self._session.id == session.id:
            self._session = session
            self._is_rating = False
            self._update_actions()
            self.statusMessage.emit("Session concluded. Thank you for rating it.")
        self.sessionChanged.emit(session)

    async def _consume(
        self,
        events: AsyncIterator[ChatEvent],
        *,
        doing: str,
        drop_ids: Sequence[str] = (),
        restore: str | None = None,
    ) -> None:
        """Render one operation's events."""
        session_id = self._session.id if self._session else None
        self._set_busy(True)
        self.notice_label.hide()
        self.warning_label.hide()
        to_drop = list(drop_ids)
        finished: list[Message] = []
        is_sent = False
        try:
            async for event in events:
                is_sent = True
                if to_drop:
                    # The engine has replaced these in the store by the time it reports anything.
                    for message_id in to_drop:
                        self.chat_view.transcript().remove(message_id)
                    to_drop = []
                self._apply(event, finished)
        except Exception as error:
            if restore is not None and not is_sent and not self.message_input.toPlainText():
                # Nothing was sent: give the user their words back.
                self.message_input.setPlainText(restore)
            self._show_error(error, doing=doing)
        finally:
            # A reply cancelled because another operation replaced it leaves the state alone.
            if self._is_current_reply():
                self._streaming_id = None
                self.chat_view.flush_streaming()
                self._stop_retry_countdown()
                self._set_busy(False)
        if session_id is not None and self._session is not None and finished:
            self.sessionChanged.emit(self._session)
            self._maybe_suggest_title()

    def _apply(self, event: ChatEvent, finished: list[Message]) -> None:
        transcript = self.chat_view.transcript()
        if isinstance(event, MessageStored):
            transcript.append(event.message)
        elif isinstance(event, ReplyStarted):
            self._streaming_id = event.message.id
            if not transcript.replace(event.message):
                transcript.append(event.message)
            self._update_actions()
        elif isinstance(event, ReplyDelta):
            self._pending_delta = event
            if not self._delta_timer.isActive():
                self._stop_retry_countdown()
                self._delta_timer.start()
        elif isinstance(event, MessageRemoved):
            transcript.remove(event.message_id)
        elif isinstance(event, ReplyFinished):
            self._drop_pending_delta()
            self._streaming_id = None
            transcript.replace(event.message)
            finished.append(event.message)
            if event.message.kind is MessageKind.RECAP:
                self._is_rating = True
                self.statusMessage.emit("Here is the recap. Rate the session to finish it.")
            self._show_session_header()
        elif isinstance(event, ReplyInterrupted):
            self._drop_pending_delta()
            self._streaming_id = None
            transcript.replace(event.message)
            if event.error is not None:
                self._show_error(event.error, doing="Replying")
            elif event.message.meta.stopped:
                self.statusMessage.emit("Stopped. What arrived is kept.")
            self._show_session_header()
        elif isinstance(event, RetryScheduled):
            self._start_retry_countdown(event.notice)
        elif isinstance(event, ModerationWarning):
            categories = ", ".join(event.categories) or "unspecified"
            self.warning_label.setText(
                f"The AI service's moderation flagged your message ({categories}). "
                "It was sent anyway."
            )
            self.warning_label.show()
        elif (
            isinstance(event, SessionUpdated)
            and self._session is not None
            and self._session.id == event.session.id
        ):
            self._session = event.session
        self._update_actions()

    def _push_pending_delta(self) -> None:
        delta, self._pending_delta = self._pending_delta, None
        if delta is not None:
            self.chat_view.set_streaming_text(delta.message_id, delta.text)

    def _drop_pending_delta(self) -> None:
        """The final message is about to replace the streamed text: skip the stale push."""
        self._delta_timer.stop()
        self._pending_delta = None

    def _is_current_reply(self) -> bool:
        running = self._tasks.running(_REPLY_TASK)
        return running is None or running is asyncio.current_task()

    def _from_last_user_message(self) -> list[str]:
        messages = self.chat_view.transcript().messages()
        users = [row for row, m in enumerate(messages) if m.role is Role.USER]
        return [m.id for m in messages[users[-1] :]] if users else []

    def _maybe_suggest_title(self) -> None:
        """After the first exchange, name the session from it (in the background)."""
        session = self._session
        if session is None or self._has_titled:
            return
        messages = self.chat_view.transcript().messages()
        has_user = any(m.role is Role.USER for m in messages)
        has_reply_to_user = has_user and messages[-1].role is Role.ASSISTANT
        if not has_reply_to_user:
            return
        self._has_titled = True
        self._tasks.start(_TITLE_TASK, self._suggest_title(session.id))

    async def _suggest_title(self, session_id: str) -> None:
        try:
            title = await self._engine.suggest_title(session_id)
        except Exception as error:
            # A title is a nicety: the session keeps its assistant's name.
            log.info("No title for the session: %s", type(error).__name__)
            return
        if self._session is not None and self._session.id == session_id:
            self._session = self._session.with_changes(title=title)
            self._show_session_header()
            self.sessionChanged.emit(self._session)

    # -- busy state and the retry countdown -------------------------------------------------
    def _set_busy(self, is_busy: bool) -> None:
        self._is_busy = is_busy
        self._update_actions()

    def _start_retry_countdown(self, notice: RetryNotice) -> None:
        self._retry_cause = "Rate limited" if notice.is_rate_limit else "The AI service failed"
        self._retry_remaining_s = max(1, math.ceil(notice.wait_s))
        self.retry_label.setToolTip(notice.reason)
        self._show_retry_text()
        self.retry_label.show()
        self._retry_timer.start()

    def _tick_retry(self) -> None:
        self._retry_remaining_s -= 1
        if self._retry_remaining_s <= 0:
            self._retry_timer.stop()
            self.retry_label.setText(f"{self._retry_cause} — retrying now…")
            return
        self._show_retry_text()

    def _show_retry_text(self) -> None:
        self.retry_label.setText(f"{self._retry_cause} — retrying in {self._retry_remaining_s} s…")

    def _stop_retry_countdown(self) -> None:
        self._retry_timer.stop()
        self.retry_label.hide()
