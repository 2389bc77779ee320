"""The Try-it pane: talk to the draft as it stands in the form, saved or not; nothing is stored.

Replies stream from ``TryItConversation.send`` (``RetryNotice``, ``ReplyGrowth``, then one
``ReplyEnd``); Stop asks the conversation to stop, and what arrived stays, marked interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from gptlab_desktop.models import AssistantDraft, Message, MessageState, Role, new_id, utcnow
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.assistant_lab import AssistantLab, TryItConversation
from gptlab_desktop.services.llm_api import RetryNotice
from gptlab_desktop.services.replies import ReplyEnd, ReplyGrowth
from gptlab_desktop.ui.chat.view import ChatStreamView
from gptlab_desktop.ui.editor.buttons import editor_button
from gptlab_desktop.ui.messages import retry_text
from gptlab_desktop.ui.naming import name_widget

# The transcript's messages belong to no stored session.
_TRY_IT_SESSION = "try-it"
_TASK = "try-it"
# A test drive needs a prompt and a valid model config; names and texts shown only in the
# lobby may still be unfinished.
_NOT_NEEDED_TO_TRY = ("name", "tag_line", "description", "summary_prompt")
_INTRO = "Talk to the assistant as it stands in the form, saved or not. Nothing here is stored."


class TryItPane(QGroupBox):
    """A test conversation with the draft: a transcript, a message box, Send, Stop, Start Over.

    ``draft`` reads the form as it stands; each reply answers with the draft as edited since
    the conversation began. Replies stream in ``tasks`` (as ``"try-it"``), so cancelling the
    group stops one.
    """

    def __init__(
        self,
        lab: AssistantLab,
        draft: Callable[[], AssistantDraft],
        *,
        tasks: TaskGroupByName,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Try it", parent)
        self.setObjectName("tryItPane")
        self._lab = lab
        self._draft = draft
        self._tasks = tasks
        self._conversation: TryItConversation | None = None

        self.view = ChatStreamView()
        name_widget(self.view, "tryItView", "Try-it conversation")
        self.view.set_assistant_name("Assistant")
        self.input = QLineEdit()
        name_widget(self.input, "tryItInput", "Test message")
        self.input.setPlaceholderText("Test message (empty: the greeting)")
        self.send_button = editor_button("Send", "tryItButton", "Send test message")
        self.stop_button = editor_button("Stop", "tryItStopButton", "Stop the reply")
        self.reset_button = editor_button("Start Over", "tryItResetButton", "Start the test over")
        self.status_label = QLabel(_INTRO)
        name_widget(self.status_label, "tryItStatusLabel", "Try-it status")
        self.status_label.setWordWrap(True)
        # Errors and retries quote the server: never let it be read as HTML.
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)

        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.send_button)
        row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        layout.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignRight)

        self.send_button.clicked.connect(self.send)
        self.input.returnPressed.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(self.reset)

    @property
    def is_trying(self) -> bool:
        """Whether a reply is streaming."""
        return self._tasks.running(_TASK) is not None

    def update_buttons(self) -> None:
        """Enable what can be done now (nothing without a connection to an AI service)."""
        streaming = self.is_trying
        possible = self._lab.can_try_it
        self.send_button.setEnabled(possible and not streaming)
        self.input.setEnabled(possible)
        self.stop_button.setEnabled(streaming)
        self.reset_button.setEnabled(possible and not streaming)
        if not possible:
            self.status_label.setText(
                "Trying an assistant needs a connection to an AI service (see Settings)."
            )

    def send(self) -> asyncio.Task[None] | None:
        """Send the input to the draft (empty asks for the greeting); None if it cannot."""
        if not self._lab.can_try_it or self.is_trying:
            return None
        draft = self._draft()
        blocking = {
            field: problem
            for field, problem in draft.problems().items()
            if field not in _NOT_NEEDED_TO_TRY
        }
        if blocking:
            self.status_label.setText("To try the assistant, fix: " + " ".join(blocking.values()))
            return None
        text = self.input.text().strip()
        if self._conversation is None:
            self._conversation = self._lab.try_it(draft)
        else:
            # Keep the conversation and answer with the prompt as edited since.
            self._conversation.draft = draft
        if not text and self._conversation.turns:
            return None
        self.input.clear()
        task = self._tasks.start(_TASK, self._stream_reply(text or None))
        self.update_buttons()
        task.add_done_callback(lambda _task: self.update_buttons())
        return task

    def stop(self) -> None:
        """Stop the streaming reply (what arrived stays, marked interrupted)."""
        if self._conversation is not None:
            self._conversation.stop()

    def reset(self) -> None:
        """Forget the conversation and start over."""
        running = self._tasks.running(_TASK)
        if running is not None:
            running.cancel()
        self._conversation = None
        self.view.transcript().set_messages([])
        self.status_label.setText(_INTRO)

    async def _stream_reply(self, text: str | None) -> None:
        assert self._conversation is not None
        transcript = self.view.transcript()
        self.view.set_assistant_name(self._draft().name or "Assistant")
        now = utcnow()
        if text is not None:
            transcript.append(Message(new_id(), _TRY_IT_SESSION, Role.USER, text, now))
        reply = Message(new_id(), _TRY_IT_SESSION, Role.ASSISTANT, "", now, MessageState.STREAMING)
        transcript.append(reply)
        self.view.scroll_to_end()
        self.status_label.setText("The assistant is answering… (nothing is stored)")
        end: ReplyEnd | None = None
        try:
            async for event in self._conversation.send(text):
                if isinstance(event, ReplyGrowth):
                    self.view.set_streaming_text(reply.id, event.text)
                elif isinstance(event, RetryNotice):
                    self.status_label.setText(retry_text(event))
                else:
                    end = event
        finally:
            self.view.flush_streaming()
        if end is None:
            return
        if end.error is not None:
            self.status_label.setText(f"{end.error.title}: {end.error.message}")
        elif end.stopped:
            self.status_label.setText("Stopped. Nothing here is stored.")
        else:
            self.status_label.setText("Nothing here is stored.")
        state = MessageState.COMPLETE if end.is_complete else MessageState.INTERRUPTED
        transcript.replace(Message(reply.id, _TRY_IT_SESSION, Role.ASSISTANT, end.text, now, state))
