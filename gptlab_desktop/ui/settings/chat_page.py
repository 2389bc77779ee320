"""The Settings window's Chat page: how new chats start, and the extra requests chats make.

The default model (empty: each assistant's own), the session type new assistants get, and
whether chats ask their provider for a title and check messages with its moderation. Applied
with Apply (``Providers.change_preferences``), as every form of the Settings window is. The
model box offers the models of the provider new chats use, asked once, when the page is first
shown; any name can be typed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import SessionType
from gptlab_desktop.preferences import ChatDefaults
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.messages import describe_failure
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.settings.page_parts import report, report_label

if TYPE_CHECKING:
    from gptlab_desktop.services.providers import Providers

log = logging.getLogger(__name__)

# How long the model box waits for the provider's list before offering none.
MODELS_WAIT_S = 10.0
TITLES_TEXT = "Give each chat a title the model suggests (an extra request to the provider)"
MODERATION_TEXT = (
    "Check my messages with the provider's moderation (an extra request; a warning, never a block)"
)


class ChatPage(QWidget):
    """The chat defaults, as a form applied with Apply."""

    def __init__(self, providers: Providers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._providers = providers
        self._tasks = TaskGroupByName()
        self._asked_models = False
        name_widget(self, "chatPage", "Chat")

        self.model_combo = QComboBox()
        name_widget(self.model_combo, "defaultModelCombo", "Model for new chats")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line_edit = self.model_combo.lineEdit()
        line_edit.setPlaceholderText("Each assistant's own model")
        line_edit.setAccessibleName("Model for new chats")
        self.session_type_combo = QComboBox()
        name_widget(
            self.session_type_combo, "defaultSessionTypeCombo", "Session type of new assistants"
        )
        for session_type in SessionType:
            self.session_type_combo.addItem(session_type.label, session_type)
        self.titles_check = QCheckBox(TITLES_TEXT)
        name_widget(self.titles_check, "titlesCheck", "Suggested chat titles")
        self.moderation_check = QCheckBox(MODERATION_TEXT)
        name_widget(self.moderation_check, "moderationCheck", "Moderation of my messages")
        self.apply_button = QPushButton("Apply")
        name_widget(self.apply_button, "chatApplyButton", "Apply the chat settings")
        self.apply_button.clicked.connect(self.apply)
        self.feedback = report_label("chatFeedback", "What happened")

        form = QFormLayout()
        form.addRow("Model for new chats:", self.model_combo)
        form.addRow("New assistants are:", self.session_type_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.titles_check)
        layout.addWidget(self.moderation_check)
        layout.addWidget(self.feedback)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        layout.addLayout(buttons)
        self.show_defaults(providers.preferences.chat)

    def show_defaults(self, chat: ChatDefaults) -> None:
        """Fill the form from the saved chat defaults."""
        self.model_combo.setEditText(chat.model)
        self.session_type_combo.setCurrentIndex(self.session_type_combo.findData(chat.session_type))
        self.titles_check.setChecked(chat.titles)
        self.moderation_check.setChecked(chat.moderation)

    def entered(self) -> ChatDefaults:
        """The chat defaults as the form holds them."""
        return ChatDefaults(
            model=self.model_combo.currentText().strip(),
            session_type=SessionType(self.session_type_combo.currentData()),
            titles=self.titles_check.isChecked(),
            moderation=self.moderation_check.isChecked(),
        )

    # -- actions -----------------------------------------------------------------------------
    def apply(self) -> asyncio.Task[None]:
        """Save the form's chat defaults."""
        self.apply_button.setEnabled(False)
        return self._tasks.start("apply", self._apply(self.entered()))

    async def _apply(self, chat: ChatDefaults) -> None:
        try:
            # Read now, not when the page was built: what was learned meanwhile is kept.
            preferences = replace(self._providers.preferences, chat=chat)
            await self._providers.change_preferences(preferences)
        except (OSError, ServiceError) as error:
            text = describe_failure(error, doing="Saving the chat settings").text
            report(self.feedback, text, is_error=True)
            return
        finally:
            self.apply_button.setEnabled(True)
        report(self.feedback, "Saved: new chats start this way.")

    def showEvent(self, event: QShowEvent) -> None:
        """Shown for the first time: ask the provider of new chats for its models."""
        super().showEvent(event)
        if not self._asked_models:
            self._asked_models = True
            self._tasks.start("models", self._offer_models())

    async def _offer_models(self) -> None:
        try:
            async with asyncio.timeout(MODELS_WAIT_S):
                listed = await self._providers.list_models(None)
        except (TimeoutError, ServiceError) as error:
            # The box still takes any name; the page says nothing of a list it could not get.
            log.info("The models for new chats were not listed (%s)", type(error).__name__)
            return
        if listed.is_fallback:
            # The built-in list stands in for a server that did not answer: not its models.
            return
        typed = self.model_combo.currentText()
        self.model_combo.clear()
        self.model_combo.addItems(list(listed.models))
        self.model_combo.setEditText(typed)

    def task(self, name: str) -> asyncio.Task[Any] | None:
        """The running task ``apply`` or ``models``, if any."""
        return self._tasks.running(name)

    async def aclose(self) -> None:
        """Stop every task of the page (the window is closing)."""
        await self._tasks.cancel_all()
