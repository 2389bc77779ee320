"""The form's sampling rows: a personality template and the four values it sets."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout

from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.assistant_lab import PERSONALITY_TEMPLATES, template_for
from gptlab_desktop.ui.editor.form_rows import add_row, double_spin, hint_label, mark_problem
from gptlab_desktop.ui.naming import name_widget


class SamplingFields(QObject):
    """Personality, temperature, top P and the two penalties, kept in step with each other.

    Choosing a template sets the four values; changing a value by hand selects the template
    it now matches (Custom when none).
    """

    #: A sampling value changed (by hand or through a template).
    edited = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Set while the values are filled in code, so filling does not count as an edit.
        self._is_filling = False

        self.personality_combo = QComboBox()
        name_widget(self.personality_combo, "personalityCombo", "Personality template")
        for template in PERSONALITY_TEMPLATES:
            self.personality_combo.addItem(template.name, template.name)
        self.personality_hint = hint_label(
            "personalityHint",
            "A template sets the four sampling values below; change any of them to make "
            "your own (Custom).",
        )
        self.temperature_spin = double_spin("temperatureSpin", "Temperature", 0.0, 2.0, 0.1)
        self.temperature_hint = hint_label(
            "temperatureHint", "0 to 2: lower is focused and predictable, higher more varied."
        )
        self.top_p_spin = double_spin("topPSpin", "Top P", 0.0, 1.0, 0.05)
        self.top_p_hint = hint_label(
            "topPHint", "0 to 1: only the most likely words that add up to this share are used."
        )
        self.frequency_penalty_spin = double_spin(
            "frequencyPenaltySpin", "Frequency penalty", -2.0, 2.0, 0.1
        )
        self.frequency_penalty_hint = hint_label(
            "frequencyPenaltyHint", "−2 to 2: positive values make repeating words less likely."
        )
        self.presence_penalty_spin = double_spin(
            "presencePenaltySpin", "Presence penalty", -2.0, 2.0, 0.1
        )
        self.presence_penalty_hint = hint_label(
            "presencePenaltyHint", "−2 to 2: positive values nudge the assistant to new topics."
        )

        for spin in self.spins():
            spin.valueChanged.connect(self._on_value_edited)
        self.personality_combo.currentIndexChanged.connect(self._on_template_chosen)

    def add_rows(self, form: QFormLayout) -> None:
        """Add the Personality row and the four value rows to ``form``."""
        add_row(form, "Personality", self.personality_combo, self.personality_hint)
        add_row(form, "Temperature", self.temperature_spin, self.temperature_hint)
        add_row(form, "Top P", self.top_p_spin, self.top_p_hint)
        add_row(form, "Frequency penalty", self.frequency_penalty_spin, self.frequency_penalty_hint)
        add_row(form, "Presence penalty", self.presence_penalty_spin, self.presence_penalty_hint)

    def spins(self) -> tuple[QDoubleSpinBox, ...]:
        """The four value spin boxes, in form order."""
        return (
            self.temperature_spin,
            self.top_p_spin,
            self.frequency_penalty_spin,
            self.presence_penalty_spin,
        )

    # -- values -------------------------------------------------------------------------------

    def applied_to(self, config: ModelConfig) -> ModelConfig:
        """``config`` with the four values shown (model and limit kept)."""
        return replace(
            config,
            temperature=round(self.temperature_spin.value(), 2),
            top_p=round(self.top_p_spin.value(), 2),
            frequency_penalty=round(self.frequency_penalty_spin.value(), 2),
            presence_penalty=round(self.presence_penalty_spin.value(), 2),
        )

    def fill(self, config: ModelConfig) -> None:
        """Show ``config``'s four values and the template they match."""
        self._is_filling = True
        try:
            self._set_values(config)
            self._select_template_of(config)
        finally:
            self._is_filling = False

    def set_read_only(self, read_only: bool) -> None:
        """Let the template and the values be changed, or not."""
        for widget in (self.personality_combo, *self.spins()):
            widget.setEnabled(not read_only)

    def show_problems(self, found: dict[str, str]) -> None:
        """Mark the values ``found`` names."""
        for label, field in (
            (self.temperature_hint, "temperature"),
            (self.top_p_hint, "top_p"),
            (self.frequency_penalty_hint, "frequency_penalty"),
            (self.presence_penalty_hint, "presence_penalty"),
        ):
            mark_problem(label, field in found)

    # -- reacting -----------------------------------------------------------------------------

    def _set_values(self, config: ModelConfig) -> None:
        self.temperature_spin.setValue(config.temperature)
        self.top_p_spin.setValue(config.top_p)
        self.frequency_penalty_spin.setValue(config.frequency_penalty)
        self.presence_penalty_spin.setValue(config.presence_penalty)

    def _select_template_of(self, config: ModelConfig) -> None:
        self.personality_combo.setCurrentIndex(
            self.personality_combo.findData(template_for(config).name)
        )

    def _on_value_edited(self, *_args: object) -> None:
        if self._is_filling:
            return
        self._is_filling = True
        try:
            # Only the four values decide the template; the model here is a placeholder.
            self._select_template_of(self.applied_to(ModelConfig("")))
        finally:
            self._is_filling = False
        self.edited.emit()

    def _on_template_chosen(self, index: int) -> None:
        if self._is_filling or index < 0:
            return
        self._is_filling = True
        try:
            self._set_values(PERSONALITY_TEMPLATES[index].applied_to(ModelConfig("")))
        finally:
            self._is_filling = False
        self.edited.emit()
