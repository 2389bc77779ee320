"""The chat pane: one session's transcript, the message box, and the actions on a reply.

Every operation of the session engine is an async iterator of events; the pane runs each one
as the background task named "reply" (so Stop, switching sessions and closing the window
cancel it, and a cancelled reply is not an error) and renders the events as they come. Errors
are shown inline and in the status bar, never in a modal box while the user is typing.

The header's picker changes the chat's model and temperature (``ModelSwitcher``); a reply
waits for a change under way, so it is sent with the choice. When the chat's provider does not
serve its model, the pane asks for one it does (``SubstituteModelDialog``, opened, never
exec'd) and then tries again; the message typed stays in the box until it is sent.

Conversations are trees: editing any of the user's messages or regenerating any reply forks
there (the engine says which messages left the shown branch, then ``BranchShown``); the
transcript's ‹ n / m › switch between variants (``show_variant``), and deleting a message
takes what followed it, after a question.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import QWidget

from gptlab_desktop.models import (
    Assistant,
    Message,
    MessageKind,
    Role,
    Session,
    UserLiked,
)
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.branches import Conversation
from gptlab_desktop.services.chat import ModelNeedsSubstitute, SessionEngine
from gptlab_desktop.services.chat_events import (
    BranchShown,
    ChatEvent,
    MessageRemoved,
    MessageStored,
    ModerationWarning,
    ReplyDelta,
    ReplyFinished,
    ReplyInterrupted,
    ReplyStarted,
    RetryScheduled,
    SessionUpdated,
)
from gptlab_desktop.services.errors import InvalidApiKey
from gptlab_desktop.services.export import session_to_markdown
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.chat.model_switch import ModelSwitcher
from gptlab_desktop.ui.chat.pane_view import DELETE_MESSAGE_QUESTION, ChatPaneView
from gptlab_desktop.ui.chat.substitute_dialog import SubstituteModelDialog

log = logging.getLogger(__name__)

_REPLY_TASK = "reply"
# How often the streaming reply's text is handed to the view (which renders it ~10x/s).
STREAM_PUSH_INTERVAL_MS = 50
_TITLE_TASK = "title"
_SUBSTITUTE_TASK = "substitute"
# What to do again once a substitute model is chosen (send, greet, regenerate, continue).
Again = Callable[[], object]


@dataclass(frozen=True, slots=True)
class ChatPaneContext:
    """What the pane needs besides the engine: how to find the assistant behind a session,
    and the providers (their models, prices and names)."""

    find_assistant: Callable[[str], Awaitable[Assistant | None]]
    providers: Providers


class ChatPane(ChatPaneView):
    """One session at a time: header, transcript, message box, and the session's actions."""

    #: The open session's record changed (started, a message, a title, concluded).
    sessionChanged = Signal(object)
    #: A reply failed for want of a (valid) API key: the id of the chat's provider profile.
    providerKeyNeeded = Signal(str)

    def __init__(
        self, engine: SessionEngine, context: ChatPaneContext, parent: QWidget | None = None
    ) -> None:
        super().__init__(engine, context.providers, parent)
        self._context = context
        self._tasks = TaskGroupByName()
        self.model_switch = ModelSwitcher(engine, context.providers, self.model_picker, self)
        self._substitute_dialog: SubstituteModelDialog | None = None
        # The message the delete question is about, while it is asked.
        self._deleting_id: str | None = None
        # The streamed text is read (joined) at most this often, not once per token: a long
        # reply would otherwise be copied whole for every one of its tokens.
        self._pending_delta: ReplyDelta | None = None
        self._delta_timer = QTimer(self)
        self._delta_timer.setSingleShot(True)
        self._delta_timer.setInterval(STREAM_PUSH_INTERVAL_MS)
        self._delta_timer.timeout.connect(self._push_pending_delta)

        self._connect()
        self.show_assistant(None)

    # -- wiring -----------------------------------------------------------------------------
    def _connect(self) -> None:
        self.message_input.submitted.connect(self.send)
        self.message_input.escapePressed.connect(self.escape)
        self.message_input.textChanged.connect(self._on_text_changed)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        # The last reply (``clicked`` would pass its checked state as the id).
        self.regenerate_button.clicked.connect(lambda: self.regenerate())
        self.conclude_button.clicked.connect(self.conclude)
        self.rating_bar.rated.connect(self.rate)
        self.chat_view.regenerateRequested.connect(self.regenerate)
        self.chat_view.continueRequested.connect(lambda _id: self.continue_reply())
        self.chat_view.editRequested.connect(self.edit_message)
        self.chat_view.deleteRequested.connect(self.ask_to_delete)
        self.chat_view.variantRequested.connect(self.show_variant)
        self.chat_view.copyRequested.connect(lambda _text: self.statusMessage.emit("Copied."))
        self.copy_conversation_action.triggered.connect(self.copy_conversation)
        self.delete_confirmation.confirmed.connect(self._delete_asked)
        self.model_picker.modelChosen.connect(self.choose_model)
        self.model_picker.temperatureChosen.connect(self.choose_temperature)
        self.model_picker.listWanted.connect(self.model_switch.list_models)
        self.model_switch.sessionChanged.connect(self._on_model_changed)
        self.model_switch.failed.connect(self._on_model_change_failed)

    def _on_text_changed(self) -> None:
        # Each keystroke: background requests wait for a pause, and Send follows the text.
        self._engine.note_typing()
        self._update_send_button()

    # -- what runs ----------------------------------------------------------------------------
    def reply_task(self) -> asyncio.Task[None] | None:
        """The running session operation, if any (tests and Stop wait on it)."""
        return self._tasks.running(_REPLY_TASK)

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
        self._conversation = None
        self._streaming_id = None
        self._is_busy = False
        self._editing_id = None
        self._is_rating = False
        for label in (self.editing_label, self.notice_label, self.warning_label):
            label.hide()
        self._retry.stop()
        self._close_substitute_dialog()
        self.model_switch.forget_wishes()
        self.message_input.clear()
        self.show_assistant(None)

    def send(self) -> None:
        """Send the message box's text (or, while editing a message, ask it instead of that
        one: the conversation forks there)."""
        session = self._session
        text = self.message_input.toPlainText().strip()
        if session is None or not text or self._is_busy or not self.message_input.isEnabled():
            return
        self.message_input.clear()
        editing = self._editing_id
        if editing is not None:
            self._stop_editing()
            # The engine says which messages leave the shown branch (MessageRemoved).
            events = self._engine.edit_message(session.id, editing, text)
            self._run(
                events,
                doing="Sending your edited message",
                restore=text,
                restore_editing=editing,
                again=self.send,
            )
        else:
            events = self._engine.send(session.id, text)
            self._run(events, doing="Sending your message", restore=text, again=self.send)

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
        elif self._editing_id is not None:
            self._stop_editing()
            self.message_input.clear()

    def regenerate(self, message_id: str | None = None) -> None:
        """Ask again for a reply (the last one by default): the conversation forks there, the
        old reply kept as a variant."""
        session = self._session
        messages = self.chat_view.transcript().messages()
        if session is None or self._is_busy or not messages:
            return
        self._run(
            self._engine.regenerate(session.id, message_id),
            doing="Regenerating",
            again=partial(self.regenerate, message_id),
        )

    def continue_reply(self) -> None:
        """Carry on an interrupted reply, or one cut at the length limit, in the same message."""
        if self._session is None or self._is_busy:
            return
        self._run(
            self._engine.continue_reply(self._session.id),
            doing="Continuing the reply",
            again=self.continue_reply,
        )

    def choose_model(self, profile_id: str, model: str) -> asyncio.Task[None] | None:
        """Make the open chat talk to ``model`` on that provider (the picker's choice)."""
        session = self._session
        if session is None or not session.status.is_open or self._is_busy or not model:
            return None
        return self.model_switch.want(session, model=model, provider_id=profile_id)

    def choose_temperature(self, temperature: float) -> asyncio.Task[None] | None:
        """Set the open chat's temperature (the picker's spin box)."""
        session = self._session
        if session is None or not session.status.is_open or self._is_busy:
            return None
        return self.model_switch.want(session, temperature=temperature)

    def edit_message(self, message_id: str) -> None:
        """Put one of the user's messages back in the box; sending it forks the conversation
        there (the original and what followed it stay, as the other variant)."""
        message = self.chat_view.transcript().message(message_id)
        if message is None or message.role is not Role.USER:
            return
        if self._is_busy or not self.message_input.isEnabled():
            return
        self._start_editing(message_id, message.message)

    def _start_editing(self, message_id: str, text: str) -> None:
        self._editing_id = message_id
        self.editing_label.show()
        self.message_input.setPlainText(text)
        self.message_input.setFocus(Qt.FocusReason.OtherFocusReason)
        self.message_input.moveCursor(QTextCursor.MoveOperation.End)

    # -- branches -----------------------------------------------------------------------------
    def show_variant(self, message_id: str, step: int) -> asyncio.Task[None] | None:
        """Show the variant ``step`` places before (-1) or after (+1) a shown message."""
        session, conversation = self._session, self._conversation
        row = self.chat_view.transcript().row_of(message_id)
        if session is None or conversation is None or row is None or self._is_busy:
            return None
        siblings = conversation.tree.siblings(message_id)
        ids = [sibling.id for sibling in siblings]
        if message_id not in ids:
            return None
        wanted = ids.index(message_id) + step
        if not 0 <= wanted < len(ids):
            return None
        switching = partial(self._engine.show_variant, session.id, ids[wanted])
        return self._tasks.start(
            _REPLY_TASK, self._change_branch(switching, doing="Showing that variant", keep_row=row)
        )

    def show_branch_through(self, message_id: str) -> asyncio.Task[None] | None:
        """Show the branch a message of the open session is on (a search hit on another);
        None when it is shown already, or nothing is open."""
        session = self._session
        if session is None or self.chat_view.transcript().row_of(message_id) is not None:
            return None
        switching = partial(self._engine.show_variant, session.id, message_id)
        return self._tasks.start(
            _REPLY_TASK, self._change_branch(switching, doing="Showing that message's branch")
        )

    def ask_to_delete(self, message_id: str) -> None:
        """Ask whether to delete a message and every reply after it (then do)."""
        if self._session is None or self._is_busy:
            return
        if self.chat_view.transcript().message(message_id) is None:
            return
        self._deleting_id = message_id
        self.delete_confirmation.ask(DELETE_MESSAGE_QUESTION)

    def _delete_asked(self) -> None:
        message_id, self._deleting_id = self._deleting_id, None
        session = self._session
        row = None if message_id is None else self.chat_view.transcript().row_of(message_id)
        if session is None or message_id is None or row is None or self._is_busy:
            return
        deleting = partial(self._engine.delete_message, session.id, message_id)
        self._tasks.start(
            _REPLY_TASK,
            self._change_branch(
                deleting, doing="Deleting the message", keep_row=max(0, row - 1), done="Deleted."
            ),
        )

    async def _change_branch(
        self,
        change: Callable[[], Awaitable[Conversation]],
        *,
        doing: str,
        keep_row: int | None = None,
        done: str | None = None,
    ) -> None:
        """Await a change of the branch shown (a variant, a deletion), then show it; the row
        ``keep_row`` stays where it is on screen."""
        self._set_busy(True)
        try:
            conversation = await change()
        except Exception as error:
            self._show_error(error, doing=doing)
            return
        finally:
            self._set_busy(False)
        if self._session is None or self._session.id != conversation.session.id:
            return
        self._show_conversation(conversation, keep_row)
        self.sessionChanged.emit(conversation.session)
        if done is not None:
            self.statusMessage.emit(done)

    def copy_conversation(self) -> None:
        """Put the branch shown on the clipboard as Markdown, each message under its author."""
        session = self._session
        messages = self.chat_view.transcript().messages()
        if session is None or not messages:
            return
        text = session_to_markdown(session, messages, assistant_name=self._assistant_name)
        QGuiApplication.clipboard().setText(text)
        self.statusMessage.emit("Conversation copied.")

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
        self._close_substitute_dialog()
        await self.model_switch.aclose()
        await self._tasks.cancel_all()

    # -- the work -----------------------------------------------------------------------------
    def _run(
        self,
        events: AsyncIterator[ChatEvent],
        *,
        doing: str,
        restore: str | None = None,
        restore_editing: str | None = None,
        again: Again | None = None,
    ) -> asyncio.Task[None]:
        return self._tasks.start(
            _REPLY_TASK,
            self._consume(
                events,
                doing=doing,
                restore=restore,
                restore_editing=restore_editing,
                again=again,
            ),
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
        self._close_substitute_dialog()
        self._show_session(session, None, assistant.name if assistant else session.title)
        self.model_switch.list_models_once()
        self.sessionChanged.emit(session)
        self.message_input.setFocus(Qt.FocusReason.OtherFocusReason)
        await self._consume(
            self._engine.greet(session.id),
            doing="Greeting",
            again=partial(self._greet_again, session.id),
        )

    def _greet_again(self, session_id: str) -> None:
        """Greet once more (a substitute model was chosen for the greeting)."""
        if self._session is None or self._session.id != session_id or self._is_busy:
            return
        self._run(
            self._engine.greet(session_id),
            doing="Greeting",
            again=partial(self._greet_again, session_id),
        )

    async def _open_session(self, session_id: str) -> None:
        self._set_busy(True)
        try:
            conversation = await self._engine.open_conversation(session_id)
            session = conversation.session
            assistant = (
                await self._context.find_assistant(session.bot_id) if session.bot_id else None
            )
        except Exception as error:
            self._show_error(error, doing="Opening the session")
            return
        finally:
            self._set_busy(False)
        if self._session is None or self._session.id != session.id:
            self._close_substitute_dialog()
        self._show_session(session, conversation, assistant.name if assistant else "Assistant")
        self.model_switch.list_models_once()

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
        restore: str | None = None,
        restore_editing: str | None = None,
        again: Again | None = None,
    ) -> None:
        """Render one operation's events.

        ``restore`` (and ``restore_editing``, the message being edited) go back in the box if
        nothing was sent; ``again`` repeats the operation once a model the provider serves is
        chosen, if it turns out not to serve the chat's.
        """
        session = self._session
        session_id = session.id if session else None
        self._set_busy(True)
        self.notice_label.hide()
        self.warning_label.hide()
        finished: list[Message] = []
        is_sent = False
        try:
            changing = self.model_switch.changing()
            if changing is not None:
                # Sent with the model (or temperature) just chosen, not the one before it.
                await asyncio.wait([changing])
            async for event in events:
                is_sent = True
                self._apply(event, finished)
        except Exception as error:
            if restore is not None and not is_sent and not self.message_input.toPlainText():
                # Nothing was sent: give the user their words back (and the edit, if it was).
                edited = restore_editing
                if edited is not None and self.chat_view.transcript().message(edited):
                    self._start_editing(edited, restore)
                else:
                    self.message_input.setPlainText(restore)
            if isinstance(error, ModelNeedsSubstitute) and session_id is not None:
                self._ask_for_substitute(error, session_id, again)
            else:
                self._show_error(error, doing=doing)
                self._note_key_problem(error, session)
        finally:
            # A reply cancelled because another operation replaced it leaves the state alone.
            if self._is_current_reply():
                self._streaming_id = None
                self.chat_view.flush_streaming()
                self._retry.stop()
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
                self._retry.stop()
                self._delta_timer.start()
        elif isinstance(event, MessageRemoved):
            transcript.remove(event.message_id)
        elif isinstance(event, BranchShown):
            self._show_conversation(event.conversation)
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
                self._note_key_problem(event.error, self._session)
            elif event.message.meta.stopped:
                self.statusMessage.emit("Stopped. What arrived is kept.")
            self._show_session_header()
        elif isinstance(event, RetryScheduled):
            self._retry.start(event.notice)
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

    def _note_key_problem(self, error: BaseException, session: Session | None) -> None:
        """A missing or refused key: say which provider needs one (the window offers to set
        it); the inline error stays as it is."""
        if isinstance(error, InvalidApiKey):
            profile = self._providers.resolve(session.provider_id if session else None)
            self.providerKeyNeeded.emit(profile.id)

    # -- models ---------------------------------------------------------------------------------
    def _on_model_changed(self, session: Session) -> None:
        if self._session is None or self._session.id != session.id:
            return
        self._session = session
        self._show_session_header()
        self.sessionChanged.emit(session)

    def _on_model_change_failed(self, error: BaseException) -> None:
        self._show_error(error, doing="Changing the model")
        self._show_session_header()
        self.model_picker.show_chat_choice()  # the model and temperature the chat still has

    def _ask_for_substitute(
        self, error: ModelNeedsSubstitute, session_id: str, again: Again | None
    ) -> None:
        """Ask, without blocking, for one of the provider's models; then do ``again``."""
        log.info("The chat's provider does not serve its model; asking for another")
        self._close_substitute_dialog()
        dialog = SubstituteModelDialog(
            error.message, error.available, session_id=session_id, parent=self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.modelChosen.connect(partial(self._use_substitute, session_id, again))
        dialog.finished.connect(partial(self._forget_substitute_dialog, dialog))
        self._substitute_dialog = dialog
        self.statusMessage.emit(error.message)
        dialog.open()

    def _forget_substitute_dialog(self, dialog: SubstituteModelDialog, _result: int) -> None:
        if self._substitute_dialog is dialog:
            self._substitute_dialog = None

    def _close_substitute_dialog(self) -> None:
        dialog, self._substitute_dialog = self._substitute_dialog, None
        if dialog is not None:
            dialog.reject()

    def _use_substitute(self, session_id: str, again: Again | None, model: str) -> None:
        if self._session is None or self._session.id != session_id:
            return
        self._tasks.start(_SUBSTITUTE_TASK, self._choose_substitute(session_id, model, again))

    async def _choose_substitute(self, session_id: str, model: str, again: Again | None) -> None:
        self._set_busy(True)
        try:
            session = await self._engine.choose_substitute(session_id, model)
        except Exception as error:
            self._show_error(error, doing="Choosing a model")
            return
        finally:
            self._set_busy(False)
        if self._session is None or self._session.id != session_id:
            return
        self._on_model_changed(session)
        if again is not None:
            again()

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
