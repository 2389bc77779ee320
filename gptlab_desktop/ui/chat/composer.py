"""Where the user writes: the message box and the buttons beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from gptlab_desktop.ui.naming import name_widget

ENDED_NOTE = "This session has ended"


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


class Composer(QWidget):
    """The message box with Send, Stop, Regenerate and Conclude beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        input_row = QHBoxLayout(self)
        input_row.setContentsMargins(0, 0, 0, 0)
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

    def show_prompt(self, *, has_session: bool, is_open: bool, is_rating: bool) -> None:
        """The placeholder: what the box is for now, or why it is closed."""
        if not has_session:
            self.message_input.setPlaceholderText("Open a session with an assistant to write here.")
        elif not is_open:
            self.message_input.setPlaceholderText(ENDED_NOTE)
        elif is_rating:
            self.message_input.setPlaceholderText("Rate the session to finish it.")
        else:
            self.message_input.setPlaceholderText(
                "Write a message… (Enter sends, Shift+Enter for a new line)"
            )
