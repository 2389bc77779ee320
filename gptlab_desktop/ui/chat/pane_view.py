"""What the chat pane shows: its widgets, the open session or assistant, and which actions fit.

The pane's commands and the work they start are ChatPane's (pane.py); this class lays the
pane out (header, the chat's toolbar, transcript, inline lines, rating bar, composer) and keeps
what it shows, and which buttons are enabled, in step with the session's state. The transcript
shows one branch of the session's conversation; the pane keeps the ``Conversation`` it came
from, whose tree names each message's variants.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar, QVBoxLayout, QWidget

from gptlab_desktop.models import Assistant, Message, MessageKind, MessageState, Role, Session
from gptlab_desktop.services.branches import Conversation
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.chat.composer import ENDED_NOTE, Composer
from gptlab_desktop.ui.chat.header import SessionHeader
from gptlab_desktop.ui.chat.model import shown_variants
from gptlab_desktop.ui.chat.notices import RetryCountdown, notice_label
from gptlab_desktop.ui.chat.rating_bar import RatingBar
from gptlab_desktop.ui.chat.usage import session_usage, usage_text
from gptlab_desktop.ui.chat.view import ChatStreamView
from gptlab_desktop.ui.confirmation import Confirmation
from gptlab_desktop.ui.messages import describe_failure
from gptlab_desktop.ui.naming import name_widget

COPY_CONVERSATION_KEYS = "Ctrl+Alt+C"
EDITING_NOTE = (
    "Editing your message: Enter sends it as a new branch (the old one is kept as a variant), "
    "Esc cancels the edit."
)
DELETE_MESSAGE_QUESTION = (
    "Delete this message? The replies after it are deleted too, on every branch that "
    "follows it. This cannot be undone."
)


class ChatPaneView(QWidget):
    """The chat pane's widgets, and what they show of the open session (or the assistant)."""

    #: A short line for the window's status bar.
    statusMessage = Signal(str)

    def __init__(
        self, engine: SessionEngine, providers: Providers, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._providers = providers
        self._session: Session | None = None
        # The open session's conversation as last read: its tree names the shown messages'
        # variants (messages sent since, which have none, are not in it).
        self._conversation: Conversation | None = None
        self._assistant_name = "Assistant"
        self._streaming_id: str | None = None
        self._is_busy = False
        # The user's message being edited (its text is in the message box), if any.
        self._editing_id: str | None = None
        self._is_rating = False
        self._has_titled = False
        self.setObjectName("chatPane")
        self._build()

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.header = SessionHeader(self)
        layout.addWidget(self.header)
        self.model_picker = self.header.model_picker

        self.chat_toolbar = QToolBar(self)
        name_widget(self.chat_toolbar, "chatToolBar", "Chat actions")
        self.chat_toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.copy_conversation_action = QAction("Copy conversation", self)
        self.copy_conversation_action.setObjectName("copyConversationAction")
        self.copy_conversation_action.setShortcut(QKeySequence(COPY_CONVERSATION_KEYS))
        self.copy_conversation_action.setShortcutContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut
        )
        self.copy_conversation_action.setToolTip(
            f"Copy the conversation shown, as Markdown ({COPY_CONVERSATION_KEYS})"
        )
        self.addAction(self.copy_conversation_action)
        self.chat_toolbar.addAction(self.copy_conversation_action)
        layout.addWidget(self.chat_toolbar)

        self.chat_view = ChatStreamView(self)
        self.chat_view.set_pane_actions([self.copy_conversation_action])
        layout.addWidget(self.chat_view, 1)

        # Inline lines, shown only when they have something to say.
        self.retry_label = notice_label(self, "retryLabel", "Retry countdown")
        self.warning_label = notice_label(self, "warningLabel", "Moderation warning")
        self.notice_label = notice_label(self, "noticeLabel", "Chat notice")
        self.editing_label = notice_label(self, "editingLabel", "Editing notice")
        self.editing_label.setText(EDITING_NOTE)
        self.ended_label = notice_label(self, "endedLabel", "Session ended")
        self.ended_label.setText(ENDED_NOTE)
        for label in (
            self.retry_label,
            self.warning_label,
            self.notice_label,
            self.editing_label,
            self.ended_label,
        ):
            layout.addWidget(label)

        self.rating_bar = RatingBar(self)
        layout.addWidget(self.rating_bar)

        self.composer = Composer(self)
        layout.addWidget(self.composer)
        self.message_input = self.composer.message_input
        self.send_button = self.composer.send_button
        self.stop_button = self.composer.stop_button
        self.regenerate_button = self.composer.regenerate_button
        self.conclude_button = self.composer.conclude_button

        # Counts a rate limit's wait down, one second at a time.
        self._retry = RetryCountdown(self.retry_label, self)
        # Asked before a message and what followed it are deleted.
        self.delete_confirmation = Confirmation(
            self,
            title="Delete message",
            object_name="deleteMessageBox",
            confirm_text="Delete",
            confirm_name="confirmDeleteMessageButton",
        )

    # -- what is shown ----------------------------------------------------------------------
    @property
    def session(self) -> Session | None:
        """The open session, if any."""
        return self._session

    @property
    def is_busy(self) -> bool:
        """Whether a reply (or another session operation) is running."""
        return self._is_busy

    def show_assistant(self, assistant: Assistant | None) -> None:
        """Describe an assistant in the header while no session is open."""
        if self._session is not None:
            return
        self.chat_view.transcript().set_messages([])
        self.header.show_assistant(assistant)
        self._update_actions()

    def show_notice(self, text: str) -> None:
        """An inline line above the message box (and the status bar)."""
        self.notice_label.setText(text)
        self.notice_label.show()
        self.statusMessage.emit(text.split("\n", 1)[0])

    def _show_error(self, error: BaseException, *, doing: str) -> None:
        message = describe_failure(error, doing=doing)
        self.show_notice(f"{message.title}: {message.text}")

    def _show_session(
        self, session: Session, conversation: Conversation | None, assistant: str
    ) -> None:
        """Show a session (with its conversation; None for a new one, still empty)."""
        messages = conversation.shown if conversation is not None else []
        self._session = session
        self._conversation = conversation
        self._assistant_name = assistant
        # A session with an exchange already had its title suggested (or kept its own).
        self._has_titled = any(m.role is Role.USER for m in messages)
        self._stop_editing()
        self.notice_label.hide()
        self.warning_label.hide()
        self._retry.stop()
        self.chat_view.set_assistant_name(assistant)
        variants = shown_variants(conversation) if conversation is not None else {}
        self.chat_view.transcript().set_messages(messages, variants)
        self.chat_view.scroll_to_end()
        self.header.show_session_assistant(assistant)
        self._is_rating = _awaits_rating(session, messages)
        self._show_session_header()
        self._update_actions()

    def _show_conversation(self, conversation: Conversation, keep_row: int | None = None) -> None:
        """Show the branch a conversation shows now (another variant, a fork, a deletion):
        the rows before the fork stay; ``keep_row`` stays where it is on screen."""
        if self._session is None or self._session.id != conversation.session.id:
            return
        self._conversation = conversation
        self._session = conversation.session
        self.chat_view.show_branch(conversation.shown, shown_variants(conversation), keep_row)
        edited = self._editing_id
        if edited is not None and self.chat_view.transcript().message(edited) is None:
            self._stop_editing()  # it is on another branch now
        self._is_rating = _awaits_rating(conversation.session, conversation.shown)
        self._show_session_header()
        self._update_actions()

    def _stop_editing(self) -> None:
        self._editing_id = None
        self.editing_label.hide()

    def _show_session_header(self) -> None:
        session = self._session
        if session is None:
            return
        provider = self._providers.resolve(session.provider_id)
        model = session.bot_model_config.model
        price_of = partial(self._providers.cost_usd, provider.id)
        usage = session_usage(self.chat_view.transcript().messages(), model, price_of)
        self.header.show_session(session, provider, usage_text(model, usage))

    def _update_actions(self) -> None:
        session = self._session
        is_open = session is not None and session.status.is_open
        can_type = is_open and not self._is_rating
        messages = self.chat_view.transcript().messages()
        last = messages[-1] if messages else None
        self.message_input.setEnabled(can_type)
        self.chat_view.set_permissions(
            can_write=can_type and not self._is_busy,
            can_change=session is not None and not self._is_busy,
        )
        self.chat_toolbar.setVisible(session is not None)
        self.copy_conversation_action.setEnabled(bool(messages))
        self.composer.show_prompt(
            has_session=session is not None, is_open=is_open, is_rating=self._is_rating
        )
        self._update_send_button()
        self.stop_button.setEnabled(self._is_busy and self._streaming_id is not None)
        # The model is not changed under a reply, nor for a session that takes no more.
        can_choose = can_type and not self._is_busy
        self.model_picker.combo.setEnabled(can_choose)
        self.model_picker.temperature.setEnabled(can_choose)
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
        self.rating_bar.set_busy(self._is_busy)
        self.ended_label.setVisible(session is not None and not is_open)

    def _update_send_button(self) -> None:
        """Send fits a message box with text (checked at each keystroke: only this button)."""
        session = self._session
        can_type = session is not None and session.status.is_open and not self._is_rating
        has_text = bool(self.message_input.toPlainText().strip())
        self.send_button.setEnabled(can_type and not self._is_busy and has_text)

    # -- busy state -------------------------------------------------------------------------
    def _set_busy(self, is_busy: bool) -> None:
        self._is_busy = is_busy
        self._update_actions()


def _awaits_rating(session: Session, messages: Sequence[Message]) -> bool:
    """Whether an open session shows its recap last: it is rated next."""
    last = messages[-1] if messages else None
    return (
        session.status.is_open
        and last is not None
        and last.state is MessageState.COMPLETE
        and last.kind is MessageKind.RECAP
    )
