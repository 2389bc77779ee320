"""The editor's form: every field of an assistant, what each accepts, and what is wrong.

Every field says what it accepts next to it; a problem (``AssistantDraft.problems``, and a
prompt plus reply that overflow the model's context window) is shown at the field it is
about. The form only shows and reads: what to do with a draft is the dialog's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QWidget,
)

from gptlab_desktop.models import (
    DESCRIPTION_MAX,
    INITIAL_PROMPT_MAX,
    NAME_MAX,
    SUMMARY_PROMPT_MAX,
    TAG_LINE_MAX,
    AssistantDraft,
    ModelConfig,
    SessionType,
)
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.assistant_lab import CUSTOM_TEMPLATE
from gptlab_desktop.services.model_catalog import context_window, max_output_tokens
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.editor.form_rows import add_row, hint_label, show_hint
from gptlab_desktop.ui.editor.model_fields import ModelFields
from gptlab_desktop.ui.editor.sampling import SamplingFields
from gptlab_desktop.ui.editor.token_count import PromptTokenCount
from gptlab_desktop.ui.naming import name_widget

if TYPE_CHECKING:
    from gptlab_desktop.services.llm_api import ModelList


def blank_draft() -> AssistantDraft:
    """What a new assistant starts as: empty texts, a small model, Custom sampling."""
    return AssistantDraft(
        name="",
        tag_line="",
        description="",
        initial_prompt="",
        summary_prompt="",
        model_config=CUSTOM_TEMPLATE.applied_to(ModelConfig("gpt-4o-mini")),
    )


class AssistantForm(QScrollArea):
    """The assistant's fields in a scrolling form, each with its hint."""

    #: The user changed a field, or the prompt's tokens were counted: validate again.
    changed = Signal()

    def __init__(
        self,
        *,
        token_counter: TokenCounter | None,
        tasks: TaskGroupByName,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("formScrollArea")
        self.setWidgetResizable(True)
        # Set while the form is filled in code, so filling does not count as an edit.
        self._is_filling = False
        self.models = ModelFields(self)
        self.sampling = SamplingFields(self)
        self._build()
        self.token_count = PromptTokenCount(
            self.initial_prompt_edit,
            self.initial_prompt_tokens_label,
            lambda: self.models.model,
            token_counter=token_counter,
            tasks=tasks,
            parent=self,
        )
        self._connect()

    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.name_edit = QLineEdit()
        name_widget(self.name_edit, "nameEdit", "Name")
        self.name_hint = hint_label("nameHint")
        add_row(form, "Name", self.name_edit, self.name_hint)

        self.tag_line_edit = QLineEdit()
        name_widget(self.tag_line_edit, "tagLineEdit", "Tag line")
        self.tag_line_hint = hint_label("tagLineHint")
        add_row(form, "Tag line", self.tag_line_edit, self.tag_line_hint)

        self.description_edit = QPlainTextEdit()
        name_widget(self.description_edit, "descriptionEdit", "Description")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setFixedHeight(70)
        self.description_hint = hint_label("descriptionHint")
        add_row(form, "Description", self.description_edit, self.description_hint)

        self.initial_prompt_edit = QPlainTextEdit()
        name_widget(self.initial_prompt_edit, "initialPromptEdit", "Initial prompt")
        self.initial_prompt_edit.setTabChangesFocus(True)
        self.initial_prompt_edit.setMinimumHeight(160)
        self.initial_prompt_edit.setPlaceholderText(
            "Who the assistant is and how it behaves. It is sent as the system message, "
            "and the assistant greets the user from it."
        )
        self.initial_prompt_hint = hint_label("initialPromptHint")
        self.initial_prompt_tokens_label = hint_label("initialPromptTokensLabel")
        add_row(
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
        self.summary_prompt_hint = hint_label("summaryPromptHint")
        add_row(form, "Summary prompt", self.summary_prompt_edit, self.summary_prompt_hint)

        self.session_type_combo = QComboBox()
        name_widget(self.session_type_combo, "sessionTypeCombo", "Session type")
        for session_type in SessionType:
            self.session_type_combo.addItem(session_type.label, session_type)
        self.session_type_hint = hint_label(
            "sessionTypeHint",
            "Brainstorming keeps the latest 20 messages in view; Coaching condenses older "
            "turns into a summary so long sessions keep their thread.",
        )
        add_row(form, "Session type", self.session_type_combo, self.session_type_hint)

        self.models.add_rows(form)
        self.sampling.add_rows(form)

        self.guard_check = QCheckBox("Guard the prompt against leaks")
        name_widget(self.guard_check, "guardPromptCheck", "Guard the prompt against leaks")
        self.guard_hint = hint_label(
            "guardPromptHint",
            "A reply too similar to the initial prompt is replaced by a polite refusal.",
        )
        add_row(form, "Privacy", self.guard_check, self.guard_hint)

        inner = QWidget()
        inner.setLayout(form)
        self.setWidget(inner)

    def _connect(self) -> None:
        for line in (self.name_edit, self.tag_line_edit):
            line.textChanged.connect(self._on_edited)
        for text in (self.description_edit, self.summary_prompt_edit):
            text.textChanged.connect(self._on_edited)
        self.initial_prompt_edit.textChanged.connect(self._on_prompt_edited)
        self.models.modelChanged.connect(self._on_model_changed)
        self.models.limitChanged.connect(self._on_edited)
        self.session_type_combo.currentIndexChanged.connect(self._on_edited)
        self.sampling.edited.connect(self._on_edited)
        self.guard_check.toggled.connect(self._on_edited)
        self.token_count.counted.connect(self.changed)

    # -- reading and filling -----------------------------------------------------------------

    @property
    def prompt_tokens(self) -> int | None:
        """The initial prompt's last counted tokens, if counted."""
        return self.token_count.tokens

    def current_draft(self) -> AssistantDraft:
        """The assistant as the form describes it now."""
        return AssistantDraft(
            name=self.name_edit.text(),
            tag_line=self.tag_line_edit.text(),
            description=self.description_edit.toPlainText(),
            initial_prompt=self.initial_prompt_edit.toPlainText(),
            summary_prompt=self.summary_prompt_edit.toPlainText(),
            model_config=self.sampling.applied_to(
                ModelConfig(model=self.models.model, max_tokens=self.models.max_tokens)
            ),
            session_type=SessionType(self.session_type_combo.currentData()),
            guards_prompt_leak=self.guard_check.isChecked(),
        )

    def fill(self, draft: AssistantDraft) -> None:
        """Show ``draft`` in every field; then count its prompt and validate."""
        with self._filling():
            self.name_edit.setText(draft.name)
            self.tag_line_edit.setText(draft.tag_line)
            self.description_edit.setPlainText(draft.description)
            self.initial_prompt_edit.setPlainText(draft.initial_prompt)
            self.summary_prompt_edit.setPlainText(draft.summary_prompt)
            self.session_type_combo.setCurrentIndex(
                self.session_type_combo.findData(draft.session_type)
            )
            config = draft.model_config
            self.models.fill(config.model, config.max_tokens)
            self.sampling.fill(config)
            self.guard_check.setChecked(draft.guards_prompt_leak)
        self.token_count.schedule()
        self.changed.emit()

    def show_models(self, models: ModelList) -> None:
        """Offer the server's (or the built-in) models, keeping the one typed."""
        with self._filling():
            self.models.show_models(models)
        self.changed.emit()

    def set_read_only(self, read_only: bool) -> None:
        """Let the fields be changed, or only read (a showcased assistant)."""
        for edit in (self.name_edit, self.tag_line_edit):
            edit.setReadOnly(read_only)
        for text in (self.description_edit, self.initial_prompt_edit, self.summary_prompt_edit):
            text.setReadOnly(read_only)
        for widget in (self.session_type_combo, self.guard_check):
            widget.setEnabled(not read_only)
        self.models.set_read_only(read_only)
        self.sampling.set_read_only(read_only)

    # -- validating ---------------------------------------------------------------------------

    def field_problems(self) -> dict[str, str]:
        """What is wrong with the fields, by field (the prompt's tokens included once counted)."""
        draft = self.current_draft()
        model = draft.model_config.model
        found = draft.problems(max_output_tokens(model) if model else None)
        window = context_window(model) if model else None
        tokens = self.prompt_tokens
        if (
            "initial_prompt" not in found
            and window is not None
            and tokens is not None
            and tokens + draft.model_config.max_tokens > window
        ):
            found["initial_prompt"] = (
                f"The initial prompt ({tokens:,} tokens) and the response limit "
                f"({draft.model_config.max_tokens:,}) do not fit in {model}'s "
                f"{window:,}-token context window."
            )
        return found

    def show_problems(self, found: dict[str, str]) -> None:
        """Show each field's character count, and its problem when ``found`` names it."""
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
            show_hint(label, found.get(field), f"{count} {note}", prefix=count)
        self.models.show_problems(found)
        self.sampling.show_problems(found)

    # -- reacting -----------------------------------------------------------------------------

    @contextmanager
    def _filling(self) -> Iterator[None]:
        self._is_filling = True
        try:
            yield
        finally:
            self._is_filling = False

    def _on_edited(self, *_args: object) -> None:
        if not self._is_filling:
            self.changed.emit()

    def _on_prompt_edited(self) -> None:
        self.token_count.schedule()
        self._on_edited()

    def _on_model_changed(self, _model: str) -> None:
        self.token_count.schedule()
        self._on_edited()
