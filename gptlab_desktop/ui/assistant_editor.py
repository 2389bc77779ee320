"""The assistant editor: create, edit, duplicate or view an assistant, try it, and keep history.

One non-modal dialog replaces GPT Lab's four-step lab. Every field says what it accepts next
to it; Save stays disabled, with the reason shown, while anything is invalid
(``AssistantDraft.problems``). The try-it pane streams replies from the draft as it stands,
saved or not, and stores nothing. The History tab lists versions, diffs prompts and rolls
back. All work goes through ``AssistantLab``; no dialog here is ever ``exec()``'d.

Use::

    dialog = AssistantEditorDialog(lab, creator_user_id=user.id, token_counter=counter,
                                   parent=window)
    dialog.assistantSaved.connect(...)      # created, edited, rolled back, archived, restored
    dialog.assistantDeleted.connect(...)
    dialog.start_new()  # or start_edit(assistant_id), start_duplicate(assistant_id)
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import (
    DESCRIPTION_MAX,
    INITIAL_PROMPT_MAX,
    NAME_MAX,
    SUMMARY_PROMPT_MAX,
    TAG_LINE_MAX,
    Assistant,
    AssistantDraft,
    Message,
    MessageState,
    ModelConfig,
    Role,
    SessionType,
    ValidationError,
    new_id,
    utcnow,
)
from gptlab_desktop.services.aio import TaskGroupByName, run_blocking
from gptlab_desktop.services.assistant_lab import (
    CUSTOM_TEMPLATE,
    PERSONALITY_TEMPLATES,
    AssistantHistory,
    AssistantLab,
    TryItConversation,
    duplicate_draft,
    template_for,
)
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.llm import RetryNotice
from gptlab_desktop.services.model_catalog import context_window, max_output_tokens
from gptlab_desktop.services.replies import ReplyEnd, ReplyGrowth
from gptlab_desktop.services.tokens import CHARS_PER_TOKEN_ESTIMATE, TokenCounter
from gptlab_desktop.ui.chat.view import ChatStreamView
from gptlab_desktop.ui.messages import describe_error, retry_text
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.version_history import VersionHistoryWidget

log = logging.getLogger(__name__)

# Counting a long prompt's tokens waits until typing pauses, then runs off the loop.
TOKEN_COUNT_DELAY_MS = 300
# With no model limit known, the response limit still needs a ceiling for the spin box.
UNKNOWN_MODEL_MAX_TOKENS = 1_000_000
MAX_TOKENS_STEP = 50
_PROBLEM_STYLE = "color: palette(highlighted-text); background: #b3261e; padding: 1px 4px;"
_TRY_IT_SESSION = "try-it"

_FIELD_ORDER = (
    "creator",
    "name",
    "tag_line",
    "description",
    "initial_prompt",
    "summary_prompt",
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
)


class EditorMode(Enum):
    """What the dialog is doing with its assistant."""

    CREATE = "create"
    EDIT = "edit"
    DUPLICATE = "duplicate"
    VIEW = "view"  # a showcased assistant: read-only, can be duplicated


def _blank_draft() -> AssistantDraft:
    return AssistantDraft(
        name="",
        tag_line="",
        description="",
        initial_prompt="",
        summary_prompt="",
        model_config=CUSTOM_TEMPLATE.applied_to(ModelConfig("gpt-4o-mini")),
    )


class AssistantEditorDialog(QDialog):
    """Create, edit, duplicate or view one assistant; try it; browse and roll back versions."""

    #: The stored assistant changed (created, edited, rolled back, archived or restored).
    assistantSaved = Signal(str)
    #: The assistant was deleted.
    assistantDeleted = Signal(str)

    def __init__(
        self,
        lab: AssistantLab,
        *,
        creator_user_id: str | None,
        token_counter: TokenCounter | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._lab = lab
        self._creator_user_id = creator_user_id
        self._token_counter = token_counter
        self._tasks = TaskGroupByName()
        self._mode = EditorMode.CREATE
        self._assistant: Assistant | None = None
        self._baseline: AssistantDraft | None = _blank_draft()
        self._prompt_tokens: int | None = None
        self._is_busy = False
        self._is_closing_confirmed = False
        self._closes_after_save = False
        self._is_filling = False
        self._conversation: TryItConversation | None = None
        self._streaming_message: Message | None = None
        self._cleanup: asyncio.Future[None] | None = None

        self.setObjectName("assistantEditor")
        self.setAccessibleName("Assistant editor")
        self.setWindowTitle("New Assistant")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.setSizeGripEnabled(True)
        self.resize(1100, 760)

        self._build()
        self._connect()
        self._token_timer = QTimer(self)
        self._token_timer.setSingleShot(True)
        self._token_timer.setInterval(TOKEN_COUNT_DELAY_MS)
        self._token_timer.timeout.connect(self._count_prompt_tokens)
        self._fill(_blank_draft())
        self._apply_mode()

    # -- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.title_label = QLabel()
        name_widget(self.title_label, "editorTitleLabel", "What the editor is doing")
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title_label.setFont(font)

        self.tabs = QTabWidget()
        name_widget(self.tabs, "editorTabs", "Assistant and history")
        self.tabs.addTab(self._build_form(), "Assistant")
        self.history = VersionHistoryWidget()
        name_widget(self.history, "historyTab", "Version history")
        self.tabs.addTab(self.history, "History")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(self._build_try_it())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.problems_label = QLabel()
        name_widget(self.problems_label, "problemsLabel", "Why the assistant cannot be saved yet")
        self.status_label = QLabel()
        name_widget(self.status_label, "statusLabel", "Editor status")
        # Names and model names are the user's text: never let them be read as HTML.
        for label in (self.title_label, self.problems_label, self.status_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)

        self.duplicate_button = self._button("Duplicate", "duplicateButton", "Duplicate")
        self.duplicate_button.setToolTip("Make your own copy of this assistant to change.")
        self.archive_button = self._button("Archive", "archiveButton", "Archive")
        self.delete_button = self._button("Delete…", "deleteButton", "Delete")
        self.close_button = self._button("Close", "closeButton", "Close")
        self.save_button = self._button("Save", "saveButton", "Save")

        buttons = QHBoxLayout()
        buttons.addWidget(self.duplicate_button)
        buttons.addWidget(self.archive_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

    @staticmethod
    def _button(text: str, object_name: str, accessible_name: str) -> QPushButton:
        button = QPushButton(text)
        name_widget(button, object_name, accessible_name)
        # In a dialog Enter presses the default button; Enter in the try-it box must not save.
        button.setAutoDefault(False)
        button.setDefault(False)
        return button

    def _hint(self, object_name: str, text: str = "") -> QLabel:
        label = QLabel(text)
        label.setObjectName(object_name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    def _row(self, form: QFormLayout, label: str, field: QWidget, *hints: QLabel) -> None:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(field)
        for hint in hints:
            column.addWidget(hint)
            hint.setAccessibleName(f"{label} hint")
        form.addRow(label, box)

    def _build_form(self) -> QWidget:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.name_edit = QLineEdit()
        name_widget(self.name_edit, "nameEdit", "Name")
        self.name_hint = self._hint("nameHint")
        self._row(form, "Name", self.name_edit, self.name_hint)

        self.tag_line_edit = QLineEdit()
        name_widget(self.tag_line_edit, "tagLineEdit", "Tag line")
        self.tag_line_hint = self._hint("tagLineHint")
        self._row(form, "Tag line", self.tag_line_edit, self.tag_line_hint)

        self.description_edit = QPlainTextEdit()
        name_widget(self.description_edit, "descriptionEdit", "Description")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setFixedHeight(70)
        self.description_hint = self._hint("descriptionHint")
        self._row(form, "Description", self.description_edit, self.description_hint)

        self.initial_prompt_edit = QPlainTextEdit()
        name_widget(self.initial_prompt_edit, "initialPromptEdit", "Initial prompt")
        self.initial_prompt_edit.setTabChangesFocus(True)
        self.initial_prompt_edit.setMinimumHeight(160)
        self.initial_prompt_edit.setPlaceholderText(
            "Who the assistant is and how it behaves. It is sent as the system message, "
            "and the assistant greets the user from it."
        )
        self.initial_prompt_hint = self._hint("initialPromptHint")
        self.initial_prompt_tokens_label = self._hint("initialPromptTokensLabel")
        self._row(
            form,
            "Initial prompt",
            self.initial_prompt_edit,
            self.initial_prompt_hint,
            self.initial_prompt_tokens_label,
        )

        self.summary_prompt_edit = QPlainTextEdit()
        name_widget(self.summary_prompt_edit, "summaryPromptEdit", "Summary prompt")
        self.summary_prompt_edit.setTabChangesFocus(True)
        self.summary_prompt_edit.setFixedHeight(80)
        self.summary_prompt_edit.setPlaceholderText(
            "Sent when the user concludes a session (and to condense a long coaching session)."
        )
        self.summary_prompt_hint = self._hint("summaryPromptHint")
        self._row(form, "Summary prompt", self.summary_prompt_edit, self.summary_prompt_hint)

        self.session_type_combo = QComboBox()
        name_widget(self.session_type_combo, "sessionTypeCombo", "Session type")
        for session_type in SessionType:
            self.session_type_combo.addItem(session_type.label, session_type)
        self.session_type_hint = self._hint(
            "sessionTypeHint",
            "Brainstorming keeps the latest 20 messages in view; Coaching condenses older "
            "turns into a summary so long sessions keep their thread.",
        )
        self._row(form, "Session type", self.session_type_combo, self.session_type_hint)

        self.model_combo = QComboBox()
        name_widget(self.model_combo, "modelCombo", "Model")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_hint = self._hint("modelHint", "Asking the server for its models…")
        self._row(form, "Model", self.model_combo, self.model_hint)

        self.max_tokens_spin = QSpinBox()
        name_widget(self.max_tokens_spin, "maxTokensSpin", "Response token limit")
        self.max_tokens_spin.setRange(1, UNKNOWN_MODEL_MAX_TOKENS)
        self.max_tokens_spin.setSingleStep(MAX_TOKENS_STEP)
        self.max_tokens_spin.setGroupSeparatorShown(True)
        self.max_tokens_hint = self._hint("maxTokensHint")
        self._row(form, "Response token limit", self.max_tokens_spin, self.max_tokens_hint)

        self.personality_combo = QComboBox()
        name_widget(self.personality_combo, "personalityCombo", "Personality template")
        for template in PERSONALITY_TEMPLATES:
            self.personality_combo.addItem(template.name, template.name)
        self.personality_hint = self._hint(
            "personalityHint",
            "A template sets the four sampling values below; change any of them to make "
            "your own (Custom).",
        )
        self._row(form, "Personality", self.personality_combo, self.personality_hint)

        self.temperature_spin = self._double_spin("temperatureSpin", "Temperature", 0.0, 2.0, 0.1)
        self.temperature_hint = self._hint(
            "temperatureHint", "0 to 2: lower is focused and predictable, higher more varied."
        )
        self._row(form, "Temperature", self.temperature_spin, self.temperature_hint)

        self.top_p_spin = self._double_spin("topPSpin", "Top P", 0.0, 1.0, 0.05)
        self.top_p_hint = self._hint(
            "topPHint", "0 to 1: only the most likely words that add up to this share are used."
        )
        self._row(form, "Top P", self.top_p_spin, self.top_p_hint)

        self.frequency_penalty_spin = self._double_spin(
            "frequencyPenaltySpin", "Frequency penalty", -2.0, 2.0, 0.1
        )
        self.frequency_penalty_hint = self._hint(
            "frequencyPenaltyHint", "−2 to 2: positive values make repeating words less likely."
        )
        self._row(
            form, "Frequency penalty", self.frequency_penalty_spin, self.frequency_penalty_hint
        )

        self.presence_penalty_spin = self._double_spin(
            "presencePenaltySpin", "Presence penalty", -2.0, 2.0, 0.1
        )
        self.presence_penalty_hint = self._hint(
            "presencePenaltyHint", "−2 to 2: positive values nudge the assistant to new topics."
        )
        self._row(form, "Presence penalty", self.presence_penalty_spin, self.presence_penalty_hint)

        self.guard_check = QCheckBox("Guard the prompt against leaks")
        name_widget(self.guard_check, "guardPromptCheck", "Guard the prompt against leaks")
        self.guard_hint = self._hint(
            "guardPromptHint",
            "A reply too similar to the initial prompt is replaced by a polite refusal.",
        )
        self._row(form, "Privacy", self.guard_check, self.guard_hint)

        inner = QWidget()
        inner.setLayout(form)
        scroll = QScrollArea()
        scroll.setObjectName("formScrollArea")
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        return scroll

    @staticmethod
    def _double_spin(
        object_name: str, name: str, low: float, high: float, step: float
    ) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        name_widget(spin, object_name, name)
        spin.setDecimals(2)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        return spin

    def _build_try_it(self) -> QWidget:
        box = QGroupBox("Try it")
        box.setObjectName("tryItPane")
        self.try_it_view = ChatStreamView()
        name_widget(self.try_it_view, "tryItView", "Try-it conversation")
        self.try_it_view.set_assistant_name("Assistant")
        self.try_it_input = QLineEdit()
        name_widget(self.try_it_input, "tryItInput", "Test message")
        self.try_it_input.setPlaceholderText("Test message (empty: the greeting)")
        self.try_it_button = self._button("Send", "tryItButton", "Send test message")
        self.try_it_stop_button = self._button("Stop", "tryItStopButton", "Stop the reply")
        self.try_it_reset_button = self._button(
            "Start Over", "tryItResetButton", "Start the test over"
        )
        self.try_it_status_label = QLabel(
            "Talk to the assistant as it stands in the form, saved or not. Nothing here is stored."
        )
        name_widget(self.try_it_status_label, "tryItStatusLabel", "Try-it status")
        self.try_it_status_label.setWordWrap(True)
        self.try_it_status_label.setTextFormat(Qt.TextFormat.PlainText)

        row = QHBoxLayout()
        row.addWidget(self.try_it_input, 1)
        row.addWidget(self.try_it_button)
        row.addWidget(self.try_it_stop_button)
        layout = QVBoxLayout(box)
        layout.addWidget(self.try_it_status_label)
        layout.addWidget(self.try_it_view, 1)
        layout.addLayout(row)
        layout.addWidget(self.try_it_reset_button, 0, Qt.AlignmentFlag.AlignRight)
        return box

    def _connect(self) -> None:
        for line in (self.name_edit, self.tag_line_edit):
            line.textChanged.connect(self._on_edited)
        for text in (self.description_edit, self.summary_prompt_edit):
            text.textChanged.connect(self._on_edited)
        self.initial_prompt_edit.textChanged.connect(self._on_prompt_edited)
        self.model_combo.currentTextChanged.connect(self._on_model_changed)
        self.session_type_combo.currentIndexChanged.connect(self._on_edited)
        self.max_tokens_spin.valueChanged.connect(self._on_edited)
        for spin in self._sampling_spins():
            spin.valueChanged.connect(self._on_sampling_edited)
        self.personality_combo.currentIndexChanged.connect(self._on_template_chosen)
        self.guard_check.toggled.connect(self._on_edited)

        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.close)
        self.duplicate_button.clicked.connect(self._duplicate_here)
        self.archive_button.clicked.connect(self._toggle_archived)
        self.delete_button.clicked.connect(self._confirm_delete)
        self.try_it_button.clicked.connect(self.send_test_message)
        self.try_it_input.returnPressed.connect(self.send_test_message)
        self.try_it_stop_button.clicked.connect(self.stop_test)
        self.try_it_reset_button.clicked.connect(self.reset_test)
        self.history.promptActivationRequested.connect(self._activate_prompt)
        self.history.configActivationRequested.connect(self._activate_config)
        self.finished.connect(self._on_finished)

    def _sampling_spins(self) -> tuple[QDoubleSpinBox, ...]:
        return (
            self.temperature_spin,
            self.top_p_spin,
            self.frequency_penalty_spin,
            self.presence_penalty_spin,
        )

    # -- entry points --------------------------------------------------------------------------

    def start_new(self) -> asyncio.Task[None]:
        """Show an empty form to create an assistant; returns the task loading the models."""
        self._is_closing_confirmed = False
        self._assistant = None
        self._mode = EditorMode.CREATE
        self._fill(_blank_draft())
        self._baseline = self.current_draft()
        self._apply_mode()
        self.show()
        return self._start("load", self._load_models())

    def start_edit(self, assistant_id: str) -> asyncio.Task[None]:
        """Show an assistant to edit (a showcased one read-only); returns the loading task."""
        self._is_closing_confirmed = False
        self._set_busy(True, "Loading the assistant…")
        self.show()
        return self._start("load", self._load(assistant_id, as_copy=False))

    def start_duplicate(self, assistant_id: str) -> asyncio.Task[None]:
        """Show an unsaved own copy ("Copy of …") of any assistant; returns the loading task."""
        self._is_closing_confirmed = False
        self._set_busy(True, "Loading the assistant…")
        self.show()
        return self._start("load", self._load(assistant_id, as_copy=True))

    # -- state ---------------------------------------------------------------------------------

    @property
    def mode(self) -> EditorMode:
        """What the dialog is doing."""
        return self._mode

    @property
    def assistant_id(self) -> str | None:
        """The stored assistant shown, if any (None while creating or duplicating)."""
        return self._assistant.id if self._assistant is not None else None

    @property
    def is_busy(self) -> bool:
        """Whether a load, save or lifecycle change is under way."""
        return self._is_busy

    @property
    def is_dirty(self) -> bool:
        """Whether the form holds changes that are not saved."""
        if self._mode is EditorMode.VIEW:
            return False
        return self._baseline is None or self.current_draft() != self._baseline

    @property
    def prompt_tokens(self) -> int | None:
        """The initial prompt's last counted tokens, if counted."""
        return self._prompt_tokens

    def current_draft(self) -> AssistantDraft:
        """The assistant as the form describes it now."""
        return AssistantDraft(
            name=self.name_edit.text(),
            tag_line=self.tag_line_edit.text(),
            description=self.description_edit.toPlainText(),
            initial_prompt=self.initial_prompt_edit.toPlainText(),
            summary_prompt=self.summary_prompt_edit.toPlainText(),
            model_config=ModelConfig(
                model=self.model_combo.currentText().strip(),
                max_tokens=self.max_tokens_spin.value(),
                temperature=round(self.temperature_spin.value(), 2),
                top_p=round(self.top_p_spin.value(), 2),
                frequency_penalty=round(self.frequency_penalty_spin.value(), 2),
                presence_penalty=round(self.presence_penalty_spin.value(), 2),
            ),
            session_type=SessionType(self.session_type_combo.currentData()),
            guards_prompt_leak=self.guard_check.isChecked(),
        )

    def problems(self) -> dict[str, str]:
        """Everything that keeps the form from being saved, by field, in form order."""
        if self._mode is EditorMode.VIEW:
            return {}
        draft = self.current_draft()
        model = draft.model_config.model
        found = draft.problems(max_output_tokens(model) if model else None)
        window = context_window(model) if model else None
        if (
            "initial_prompt" not in found
            and window is not None
            and self._prompt_tokens is not None
            and self._prompt_tokens + draft.model_config.max_tokens > window
        ):
            found["initial_prompt"] = (
                f"The initial prompt ({self._prompt_tokens:,} tokens) and the response limit "
                f"({draft.model_config.max_tokens:,}) do not fit in {model}'s "
                f"{window:,}-token context window."
            )
        if self._assistant is None and self._creator_user_id is None:
            found["creator"] = "Sign in before creating an assistant."
        order = {name: position for position, name in enumerate(_FIELD_ORDER)}
        return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))

    # -- filling and validating ----------------------------------------------------------------

    def _fill(self, draft: AssistantDraft) -> None:
        self._is_filling = True
        try:
            self.name_edit.setText(draft.name)
            self.tag_line_edit.setText(draft.tag_line)
            self.description_edit.setPlainText(draft.description)
            self.initial_prompt_edit.setPlainText(draft.initial_prompt)
            self.summary_prompt_edit.setPlainText(draft.summary_prompt)
            self.session_type_combo.setCurrentIndex(
                self.session_type_combo.findData(draft.session_type)
            )
            config = draft.model_config
            self.model_combo.setCurrentText(config.model)
            self._bound_max_tokens(config.model)
            self.max_tokens_spin.setValue(config.max_tokens)
            self.temperature_spin.setValue(config.temperature)
            self.top_p_spin.setValue(config.top_p)
            self.frequency_penalty_spin.setValue(config.frequency_penalty)
            self.presence_penalty_spin.setValue(config.presence_penalty)
            self.personality_combo.setCurrentIndex(
                self.personality_combo.findData(template_for(config).name)
            )
            self.guard_check.setChecked(draft.guards_prompt_leak)
        finally:
            self._is_filling = False
        self._prompt_tokens = None
        self._schedule_token_count()
        self._revalidate()

    def _on_edited(self, *_args: object) -> None:
        if not self._is_filling:
            self._revalidate()

    def _on_prompt_edited(self) -> None:
        self._prompt_tokens = None
        self._schedule_token_count()
        self._on_edited()

    def _on_model_changed(self, model: str) -> None:
        self._bound_max_tokens(model.strip())
        self._prompt_tokens = None
        self._schedule_token_count()
        self._on_edited()

    def _bound_max_tokens(self, model: str) -> None:
        limit = max_output_tokens(model) if model else None
        self.max_tokens_spin.setMaximum(limit or UNKNOWN_MODEL_MAX_TOKENS)
        if limit is not None:
            self.max_tokens_hint.setText(
                f"How long a reply may be: 1 to {limit:,} tokens for {model} "
                "(a token is about ¾ of a word)."
            )
        else:
            self.max_tokens_hint.setText(
                "How long a reply may be, in tokens (about ¾ of a word each). This model's own "
                "limit is not known; the server refuses a limit it cannot meet."
            )

    def _on_sampling_edited(self, *_args: object) -> None:
        if self._is_filling:
            return
        template = template_for(self.current_draft().model_config)
        self._is_filling = True
        try:
            self.personality_combo.setCurrentIndex(self.personality_combo.findData(template.name))
        finally:
            self._is_filling = False
        self._revalidate()

    def _on_template_chosen(self, index: int) -> None:
        if self._is_filling or index < 0:
            return
        template = PERSONALITY_TEMPLATES[index]
        config = template.applied_to(self.current_draft().model_config)
        self._is_filling = True
        try:
            self.temperature_spin.setValue(config.temperature)
            self.top_p_spin.setValue(config.top_p)
            self.frequency_penalty_spin.setValue(config.frequency_penalty)
            self.presence_penalty_spin.setValue(config.presence_penalty)
        finally:
            self._is_filling = False
        self._revalidate()

    def _revalidate(self) -> None:
        found = self.problems()
        draft = self.current_draft()
        counters = (
            (self.name_hint, "name", draft.name, NAME_MAX, "Shown in the lobby."),
            (self.tag_line_hint, "tag_line", draft.tag_line, TAG_LINE_MAX, "One short line."),
            (
                self.description_hint,
                "description",
                draft.description,
                DESCRIPTION_MAX,
                "What the assistant is for.",
            ),
            (
                self.initial_prompt_hint,
                "initial_prompt",
                draft.initial_prompt,
                INITIAL_PROMPT_MAX,
                "Required.",
            ),
            (
                self.summary_prompt_hint,
                "summary_prompt",
                draft.summary_prompt,
                SUMMARY_PROMPT_MAX,
                "Optional.",
            ),
        )
        for label, field, text, limit, note in counters:
            count = f"{len(text):,} / {limit:,} characters."
            self._show_hint(label, found.get(field), f"{count} {note}", prefix=count)
        for label, field in (
            (self.max_tokens_hint, "max_tokens"),
            (self.temperature_hint, "temperature"),
            (self.top_p_hint, "top_p"),
            (self.frequency_penalty_hint, "frequency_penalty"),
            (self.presence_penalty_hint, "presence_penalty"),
        ):
            label.setStyleSheet(_PROBLEM_STYLE if field in found else "")
        self.model_combo.setToolTip(found.get("model", ""))
        self.model_hint.setStyleSheet(_PROBLEM_STYLE if "model" in found else "")
        if "model" in found:
            self.model_hint.setText(found["model"])
        elif self.model_hint.text() == "Choose a model.":
            self.model_hint.setText("Type any model your server offers, or pick one.")
        if found:
            reason = "Cannot save yet: " + " ".join(found.values())
            self.problems_label.setText(reason)
            self.problems_label.show()
        else:
            reason = ""
            self.problems_label.clear()
            self.problems_label.hide()
        self.save_button.setToolTip(
            reason
            or "Save the assistant (a changed prompt or model config is kept as a new version)."
        )
        self._update_buttons()

    @staticmethod
    def _show_hint(label: QLabel, problem: str | None, normal: str, *, prefix: str) -> None:
        if problem:
            label.setText(f"{prefix} {problem}")
            label.setStyleSheet(_PROBLEM_STYLE)
        else:
            label.setText(normal)
            label.setStyleSheet("")

    def _update_buttons(self) -> None:
        editable = self._mode is not EditorMode.VIEW
        own = self._mode is EditorMode.EDIT and self._assistant is not None
        self.save_button.setVisible(editable)
        self.save_button.setEnabled(editable and not self._is_busy and not self.problems())
        self.duplicate_button.setVisible(self._assistant is not None)
        self.duplicate_button.setEnabled(not self._is_busy)
        self.archive_button.setVisible(own)
        self.delete_button.setVisible(own)
        self.archive_button.setEnabled(own and not self._is_busy)
        self.delete_button.setEnabled(own and not self._is_busy)
        if self._assistant is not None:
            self.archive_button.setText("Archive" if self._assistant.is_active else "Restore")
            self.archive_button.setAccessibleName(self.archive_button.text())
        if own and self.is_dirty:
            self.history.set_activation_allowed(
                False, "Save or undo your changes before making another version active."
            )
        elif own:
            self.history.set_activation_allowed(not self._is_busy)
        else:
            note = (
                "Showcased assistants keep their versions; duplicate one to change it."
                if self._mode is EditorMode.VIEW
                else ""
            )
            self.history.set_activation_allowed(False, note)

    def _apply_mode(self) -> None:
        mode = self._mode
        name = self._assistant.name if self._assistant is not None else ""
        titles = {
            EditorMode.CREATE: ("New Assistant", "Create an assistant"),
            EditorMode.DUPLICATE: ("Duplicate Assistant", "Your copy (not saved yet)"),
            EditorMode.EDIT: (f"Edit “{name}”", f"Edit “{name}”"),
            EditorMode.VIEW: (
                f"“{name}”",
                f"“{name}” is showcased: read it, try it, or duplicate it to make it yours",
            ),
        }
        window_title, heading = titles[mode]
        if (
            mode is EditorMode.EDIT
            and self._assistant is not None
            and not self._assistant.is_active
        ):
            heading += " (archived)"
        self.setWindowTitle(window_title)
        self.title_label.setText(heading)
        read_only = mode is EditorMode.VIEW
        for edit in (self.name_edit, self.tag_line_edit):
            edit.setReadOnly(read_only)
        for text in (self.description_edit, self.initial_prompt_edit, self.summary_prompt_edit):
            text.setReadOnly(read_only)
        for widget in (
            self.session_type_combo,
            self.model_combo,
            self.max_tokens_spin,
            self.personality_combo,
            self.guard_check,
            *self._sampling_spins(),
        ):
            widget.setEnabled(not read_only)
        self.tabs.setTabEnabled(1, self._assistant is not None and mode is not EditorMode.DUPLICATE)
        if not self.tabs.isTabEnabled(1):
            self.tabs.setCurrentIndex(0)
        self._update_try_it_buttons()
        self._revalidate()

    def _set_busy(self, busy: bool, status: str | None = None) -> None:
        self._is_busy = busy
        if status is not None:
            self.status_label.setText(status)
        self._update_buttons()

    # -- tasks ---------------------------------------------------------------------------------

    def _start(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._tasks.start(name, coro)

    async def _guarded(self, doing: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` with the dialog busy; a service error is shown, never raised."""
        self._set_busy(True, f"{doing}…")
        try:
            await work()
        except ServiceError as error:
            log.warning("%s failed: %s", doing, type(error).__name__)
            self.status_label.setText(f"{doing} failed: {error.message}")
            self._show_error(error)
        except ValidationError as error:
            self.status_label.setText(f"{doing} failed: {error}")
        finally:
            self._set_busy(False)

    def _show_error(self, error: BaseException) -> QMessageBox:
        message = describe_error(error)
        box = QMessageBox(QMessageBox.Icon.Warning, message.title, message.text, parent=self)
        box.setObjectName("errorMessageBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    async def _load_models(self) -> None:
        try:
            models = await self._lab.list_models()
        except ServiceError as error:
            self.model_hint.setText(f"The models could not be listed ({error.message}).")
            return
        current = self.model_combo.currentText()
        self._is_filling = True
        try:
            self.model_combo.clear()
            self.model_combo.addItems(list(models.models))
            self.model_combo.setCurrentText(current)
        finally:
            self._is_filling = False
        if models.is_fallback:
            self.model_hint.setText(
                "The server's model list could not be read; these are the built-in models. "
                "You can type any model name your server offers."
            )
        else:
            self.model_hint.setText(
                f"{len(models.models)} models from your server. You can also type a name."
            )
        self.model_hint.setProperty("isFallback", models.is_fallback)
        self._revalidate()

    async def _load(self, assistant_id: str, *, as_copy: bool) -> None:
        async def work() -> None:
            details = await self._lab.details(assistant_id)
            draft = details.to_draft()
            if as_copy:
                self._assistant = None
                self._mode = EditorMode.DUPLICATE
                self._fill(duplicate_draft(draft))
                self._baseline = None  # an unsaved copy: closing asks
            else:
                self._assistant = details.assistant
                self._mode = EditorMode.VIEW if details.assistant.showcased else EditorMode.EDIT
                self._fill(draft)
                self._baseline = self.current_draft()
                self.history.set_history(await self._lab.history(assistant_id))
            self._apply_mode()
            self.status_label.clear()

        await self._guarded("Loading the assistant", work)
        await self._load_models()

    async def _reload_stored(self) -> None:
        """Read the stored assistant again: its fields become the form and the baseline."""
        assert self._assistant is not None
        details = await self._lab.details(self._assistant.id)
        self._assistant = details.assistant
        self._fill(details.to_draft())
        self._baseline = self.current_draft()
        self.history.set_history(await self._lab.history(self._assistant.id))
        self._apply_mode()

    # -- token count ---------------------------------------------------------------------------

    def _schedule_token_count(self) -> None:
        self.initial_prompt_tokens_label.setText("Counting tokens…")
        self._token_timer.start()

    def _count_prompt_tokens(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a dialog built outside the app): nothing to count with
        self._start("tokens", self._count_tokens_now())

    async def _count_tokens_now(self) -> None:
        text = self.initial_prompt_edit.toPlainText()
        model = self.model_combo.currentText().strip() or "gpt-4o-mini"
        if self._token_counter is None:
            tokens, how = math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE), "about "
        else:
            # A 2,000-character prompt counts in milliseconds, but the first use of a model's
            # encoding loads it from disk: never on the event loop.
            tokens = await run_blocking(self._token_counter.count, text, model)
            how = ""
        if text != self.initial_prompt_edit.toPlainText():
            return  # typed meanwhile; the next count is scheduled
        self._prompt_tokens = tokens
        window = context_window(model)
        self.initial_prompt_tokens_label.setText(
            f"{how}{tokens:,} tokens of {model}'s {window:,}-token context window."
        )
        self._revalidate()

    # -- saving --------------------------------------------------------------------------------

    def save(self) -> asyncio.Task[None] | None:
        """Save the form (create, or a new version of what changed); None if it cannot."""
        if self._mode is EditorMode.VIEW or self._is_busy or self.problems():
            return None
        return self._start("save", self._save())

    async def _save(self) -> None:
        draft = self.current_draft()
        saved: list[str] = []

        async def work() -> None:
            if self._assistant is None:
                assistant = await self._lab.save(draft, creator_user_id=self._creator_user_id)
            else:
                assistant = await self._lab.save(draft, assistant_id=self._assistant.id)
            self._assistant = assistant
            self._mode = EditorMode.EDIT
            self._baseline = draft
            self.history.set_history(await self._lab.history(assistant.id))
            self._apply_mode()
            saved.append(assistant.id)

        await self._guarded("Saving", work)
        if saved:
            self.status_label.setText(f"Saved at {utcnow().astimezone():%H:%M:%S}.")
            self.assistantSaved.emit(saved[0])
            if self._closes_after_save:
                self._is_closing_confirmed = True
                self.close()
        self._closes_after_save = False

    # -- lifecycle -----------------------------------------------------------------------------

    def _duplicate_here(self) -> None:
        """Turn the form into an unsaved own copy of the assistant shown."""
        if self._assistant is None:
            return
        draft = duplicate_draft(self.current_draft() if self.is_dirty else self._stored_draft())
        self._assistant = None
        self._mode = EditorMode.DUPLICATE
        self._fill(draft)
        self._baseline = None
        self.history.set_history(AssistantHistory((), (), ()))
        self._apply_mode()
        self.status_label.setText("This is your copy; change it and save it to keep it.")

    def _stored_draft(self) -> AssistantDraft:
        return self._baseline if self._baseline is not None else self.current_draft()

    def _toggle_archived(self) -> asyncio.Task[None] | None:
        if self._assistant is None or self._mode is not EditorMode.EDIT:
            return None
        assistant_id, archive = self._assistant.id, self._assistant.is_active

        async def work() -> None:
            if archive:
                self._assistant = await self._lab.archive(assistant_id)
            else:
                self._assistant = await self._lab.restore(assistant_id)
            self._apply_mode()
            self.status_label.setText(
                "Archived: hidden from the lobby, sessions kept."
                if archive
                else "Restored to the lobby."
            )
            self.assistantSaved.emit(assistant_id)

        return self._start(
            "lifecycle", self._guarded("Archiving" if archive else "Restoring", work)
        )

    def _confirm_delete(self) -> QMessageBox | None:
        if self._assistant is None or self._mode is not EditorMode.EDIT:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete assistant",
            f"Delete “{self._assistant.name}” and all its versions? Its past sessions are "
            "kept, and still show the prompt they started with. This cannot be undone.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("deleteConfirmBox")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        delete.setObjectName("confirmDeleteButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self._start("lifecycle", self._delete()) if button is delete else None
        )
        box.open()
        return box

    async def _delete(self) -> None:
        assert self._assistant is not None
        assistant_id = self._assistant.id
        deleted: list[str] = []

        async def work() -> None:
            await self._lab.delete(assistant_id)
            deleted.append(assistant_id)

        await self._guarded("Deleting", work)
        if deleted:
            self.assistantDeleted.emit(assistant_id)
            self._is_closing_confirmed = True
            self.close()

    def _activate_prompt(self, prompt_id: str) -> None:
        self._start("lifecycle", self._activate(prompt_id, is_prompt=True))

    def _activate_config(self, config_id: str) -> None:
        self._start("lifecycle", self._activate(config_id, is_prompt=False))

    async def _activate(self, version_id: str, *, is_prompt: bool) -> None:
        assert self._assistant is not None
        assistant_id = self._assistant.id

        async def work() -> None:
            if is_prompt:
                await self._lab.make_prompt_active(assistant_id, version_id)
            else:
                await self._lab.make_model_config_active(assistant_id, version_id)
            await self._reload_stored()
            self.status_label.setText("That version is active again.")
            self.assistantSaved.emit(assistant_id)

        await self._guarded("Making the version active", work)

    # -- try it --------------------------------------------------------------------------------

    def _update_try_it_buttons(self) -> None:
        streaming = self._tasks.running("try-it") is not None
        possible = self._lab.can_try_it
        self.try_it_button.setEnabled(possible and not streaming)
        self.try_it_input.setEnabled(possible)
        self.try_it_stop_button.setEnabled(streaming)
        self.try_it_reset_button.setEnabled(possible and not streaming)
        if not possible:
            self.try_it_status_label.setText(
                "Trying an assistant needs a connection to an AI service (see Settings)."
            )

    @property
    def is_trying(self) -> bool:
        """Whether a try-it reply is streaming."""
        return self._tasks.running("try-it") is not None

    def send_test_message(self) -> asyncio.Task[None] | None:
        """Send the input to the draft (empty asks for the greeting); None if it cannot."""
        if not self._lab.can_try_it or self.is_trying:
            return None
        draft = self.current_draft()
        blocking = {
            field: problem
            for field, problem in draft.problems().items()
            if field not in ("name", "tag_line", "description", "summary_prompt")
        }
        if blocking:
            self.try_it_status_label.setText(
                "To try the assistant, fix: " + " ".join(blocking.values())
            )
            return None
        text = self.try_it_input.text().strip()
        if self._conversation is None:
            self._conversation = self._lab.try_it(draft)
        else:
            # Keep the conversation and answer with the prompt as edited since.
            self._conversation.draft = draft
        if not text and self._conversation.turns:
            return None
        self.try_it_input.clear()
        task = self._start("try-it", self._stream_test_reply(text or None))
        self._update_try_it_buttons()
        task.add_done_callback(lambda _task: self._update_try_it_buttons())
        return task

    async def _stream_test_reply(self, text: str | None) -> None:
        assert self._conversation is not None
        transcript = self.try_it_view.transcript()
        self.try_it_view.set_assistant_name(self.name_edit.text() or "Assistant")
        now = utcnow()
        if text is not None:
            transcript.append(Message(new_id(), _TRY_IT_SESSION, Role.USER, text, now))
        reply = Message(new_id(), _TRY_IT_SESSION, Role.ASSISTANT, "", now, MessageState.STREAMING)
        transcript.append(reply)
        self.try_it_view.scroll_to_end()
        self._streaming_message = reply
        self.try_it_status_label.setText("The assistant is answering… (nothing is stored)")
        end: ReplyEnd | None = None
        try:
            async for event in self._conversation.send(text):
                if isinstance(event, ReplyGrowth):
                    self.try_it_view.set_streaming_text(reply.id, event.text)
                elif isinstance(event, RetryNotice):
                    self.try_it_status_label.setText(retry_text(event))
                else:
                    end = event
        finally:
            self.try_it_view.flush_streaming()
            self._streaming_message = None
        if end is None:
            return
        if end.error is not None:
            self.try_it_status_label.setText(f"{end.error.title}: {end.error.message}")
        elif end.stopped:
            self.try_it_status_label.setText("Stopped. Nothing here is stored.")
        else:
            self.try_it_status_label.setText("Nothing here is stored.")
        state = MessageState.COMPLETE if end.is_complete else MessageState.INTERRUPTED
        transcript.replace(Message(reply.id, _TRY_IT_SESSION, Role.ASSISTANT, end.text, now, state))

    def stop_test(self) -> None:
        """Stop the streaming test reply (what arrived stays, marked interrupted)."""
        if self._conversation is not None:
            self._conversation.stop()

    def reset_test(self) -> None:
        """Forget the test conversation and start over."""
        running = self._tasks.running("try-it")
        if running is not None:
            running.cancel()
        self._conversation = None
        self.try_it_view.transcript().set_messages([])
        self.try_it_status_label.setText(
            "Talk to the assistant as it stands in the form, saved or not. Nothing here is stored."
        )

    # -- closing -------------------------------------------------------------------------------

    def reject(self) -> None:
        """Close (Escape, the window's close button, Close); unsaved changes are asked about."""
        if self.is_dirty and not self._is_closing_confirmed:
            self._ask_about_unsaved_changes()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing goes through ``reject`` so unsaved changes are never lost silently."""
        if self.is_dirty and not self._is_closing_confirmed:
            event.ignore()
            self._ask_about_unsaved_changes()
            return
        super().closeEvent(event)

    def _ask_about_unsaved_changes(self) -> QMessageBox:
        existing = self.findChild(QMessageBox, "unsavedChangesBox")
        if isinstance(existing, QMessageBox) and existing.isVisible():
            return existing
        name = self.name_edit.text().strip() or "the new assistant"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved changes",
            f"Save the changes to “{name}” before closing?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("unsavedChangesBox")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self._on_unsaved_answer(box.standardButton(button))
        )
        box.open()
        return box

    def _on_unsaved_answer(self, answer: QMessageBox.StandardButton) -> None:
        if answer == QMessageBox.StandardButton.Discard:
            self._is_closing_confirmed = True
            self.close()
        elif answer == QMessageBox.StandardButton.Save:
            if self.save() is None:
                self.status_label.setText(
                    "Not saved: " + (" ".join(self.problems().values()) or "try again.")
                )
            else:
                self._closes_after_save = True

    @property
    def closing_cleanup(self) -> asyncio.Future[None] | None:
        """The cancellation of the dialog's work, started when it closed (await, then delete)."""
        return self._cleanup

    def close_discarding(self) -> asyncio.Future[None] | None:
        """Close without asking (the app is quitting); returns the cleanup to await, if any."""
        self._is_closing_confirmed = True
        self.close()
        return self._cleanup

    def _on_finished(self, _result: int) -> None:
        self._token_timer.stop()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        # Cancelled here, so a reply still streaming stops with the dialog.
        self._cleanup = asyncio.ensure_future(self._tasks.cancel_all())
