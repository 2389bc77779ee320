"""The chat pane's header: the assistant it is about, or the open session, its model and usage."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gptlab_desktop.models import Assistant, Session
from gptlab_desktop.preferences import ProviderProfile
from gptlab_desktop.ui.chat.model_picker import ModelPicker
from gptlab_desktop.ui.naming import name_widget


class SessionHeader(QWidget):
    """Name, tag line and description of an assistant; a session's title, model and cost."""

    # The model picker is laid out under the title, before the usage line.
    _PICKER_ROW = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
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
        self.model_picker = ModelPicker(self)
        name_widget(self.model_picker, "modelPickerRow", "Model and temperature of this chat")
        layout.insertWidget(self._PICKER_ROW, self.model_picker)
        self.model_picker.hide()

    def show_assistant(self, assistant: Assistant | None) -> None:
        """Describe an assistant (or invite to choose one) while no session is open."""
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
        self.model_picker.hide()

    def show_session_assistant(self, assistant_name: str) -> None:
        """A session is open: name its assistant, without the description; offer its model."""
        self.assistant_name_label.setText(assistant_name)
        self.assistant_description_label.hide()
        self.model_picker.show()

    def show_session(self, session: Session, provider: ProviderProfile, usage_line: str) -> None:
        """The session's title, its model on its provider, and its tokens and cost so far."""
        self.assistant_tag_line_label.setText(session.title)
        config = session.bot_model_config
        self.model_picker.show_current(provider.id, provider.name, config.model, config.temperature)
        self.session_info_label.setText(usage_line)
