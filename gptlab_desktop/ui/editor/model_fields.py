"""The form's model rows: the model to use (the server's list, or any name) and its reply limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QSpinBox

from gptlab_desktop.services.model_catalog import max_output_tokens
from gptlab_desktop.ui.editor.form_rows import add_row, hint_label, mark_problem
from gptlab_desktop.ui.naming import name_widget

if TYPE_CHECKING:
    from gptlab_desktop.services.llm_api import ModelList

# With no model limit known, the response limit still needs a ceiling for the spin box.
UNKNOWN_MODEL_MAX_TOKENS = 1_000_000
MAX_TOKENS_STEP = 50


class ModelFields(QObject):
    """The model combo box and the response token limit, bounded by what the model allows."""

    #: The model's name changed (typed or chosen); the limit is already bounded for it.
    modelChanged = Signal(str)
    #: The response limit changed.
    limitChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox()
        name_widget(self.model_combo, "modelCombo", "Model")
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_hint = hint_label("modelHint", "Asking the server for its models…")

        self.max_tokens_spin = QSpinBox()
        name_widget(self.max_tokens_spin, "maxTokensSpin", "Response token limit")
        self.max_tokens_spin.setRange(1, UNKNOWN_MODEL_MAX_TOKENS)
        self.max_tokens_spin.setSingleStep(MAX_TOKENS_STEP)
        self.max_tokens_spin.setGroupSeparatorShown(True)
        self.max_tokens_hint = hint_label("maxTokensHint")

        self.model_combo.currentTextChanged.connect(self._on_model_text)
        self.max_tokens_spin.valueChanged.connect(self.limitChanged)

    def add_rows(self, form: QFormLayout) -> None:
        """Add the Model and Response token limit rows to ``form``."""
        add_row(form, "Model", self.model_combo, self.model_hint)
        add_row(form, "Response token limit", self.max_tokens_spin, self.max_tokens_hint)

    # -- values -------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The model's name as typed or chosen, trimmed."""
        return self.model_combo.currentText().strip()

    @property
    def max_tokens(self) -> int:
        """The response token limit."""
        return self.max_tokens_spin.value()

    def fill(self, model: str, max_tokens: int) -> None:
        """Show this model and limit (the limit bounded by the model first)."""
        self.model_combo.setCurrentText(model)
        self._bound_max_tokens(model)
        self.max_tokens_spin.setValue(max_tokens)

    def set_read_only(self, read_only: bool) -> None:
        """Let the model and limit be changed, or not."""
        self.model_combo.setEnabled(not read_only)
        self.max_tokens_spin.setEnabled(not read_only)

    # -- the server's models ------------------------------------------------------------------

    def show_models(self, models: ModelList) -> None:
        """Offer these models, keeping what is typed; say where the list came from."""
        current = self.model_combo.currentText()
        self.model_combo.clear()
        self.model_combo.addItems(list(models.models))
        self.model_combo.setCurrentText(current)
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

    def show_models_unavailable(self, reason: str) -> None:
        """Say why the models could not be listed."""
        self.model_hint.setText(f"The models could not be listed ({reason}).")

    def show_problems(self, found: dict[str, str]) -> None:
        """Mark the model and the limit when ``found`` names them."""
        mark_problem(self.max_tokens_hint, "max_tokens" in found)
        self.model_combo.setToolTip(found.get("model", ""))
        mark_problem(self.model_hint, "model" in found)
        if "model" in found:
            self.model_hint.setText(found["model"])
        elif self.model_hint.text() == "Choose a model.":
            self.model_hint.setText("Type any model your server offers, or pick one.")

    # -- reacting -----------------------------------------------------------------------------

    def _on_model_text(self, text: str) -> None:
        model = text.strip()
        self._bound_max_tokens(model)
        self.modelChanged.emit(model)

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
