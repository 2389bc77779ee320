"""Asking for a model a provider serves, when it does not serve the chat's own.

The engine raises ``ModelNeedsSubstitute`` before anything is stored; the pane opens this
dialog with ``open()`` (never ``exec()``: it runs inside the qasync loop) and, once the user
picks one of the provider's models, chooses it through the engine and tries again.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.services.providers import short_model_name
from gptlab_desktop.ui.naming import name_widget


class SubstituteModelDialog(QDialog):
    """Pick one of a provider's models to stand in for the one it does not serve."""

    #: The model the user chose (its full name, as the provider lists it).
    modelChosen = Signal(str)

    def __init__(
        self,
        sentence: str,
        available: Sequence[str],
        *,
        session_id: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session_id = session_id
        name_widget(self, "substituteModelDialog", "Choose a model")
        self.setWindowTitle("Choose a model")
        layout = QVBoxLayout(self)
        self.sentence_label = QLabel(sentence, self)
        name_widget(self.sentence_label, "substituteModelText", "Why a model is needed")
        self.sentence_label.setTextFormat(Qt.TextFormat.PlainText)
        self.sentence_label.setWordWrap(True)
        layout.addWidget(self.sentence_label)

        self.model_choice = QComboBox(self)
        name_widget(self.model_choice, "substituteModelChoice", "Model to use instead")
        # Editable: a provider that lists nothing may still serve a name the user knows.
        self.model_choice.setEditable(True)
        self.model_choice.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for model in available:
            self.model_choice.addItem(short_model_name(model), model)
            self.model_choice.setItemData(
                self.model_choice.count() - 1, model, Qt.ItemDataRole.ToolTipRole
            )
        layout.addWidget(self.model_choice)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.setObjectName("substituteModelButtons")
        self.use_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        name_widget(self.use_button, "useSubstituteButton", "Use this model")
        self.use_button.setText("Use this model")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.model_choice.editTextChanged.connect(self._update_use_button)
        self._update_use_button()
        self.model_choice.setFocus(Qt.FocusReason.OtherFocusReason)

    def chosen_model(self) -> str:
        """The model picked (a listed one's full name), or the name typed."""
        text = self.model_choice.currentText().strip()
        row = self.model_choice.findText(text, Qt.MatchFlag.MatchExactly)
        if row >= 0:
            return str(self.model_choice.itemData(row))
        return text

    def accept(self) -> None:
        """Close, and say which model was chosen."""
        model = self.chosen_model()
        if not model:
            return
        super().accept()
        self.modelChosen.emit(model)

    def _update_use_button(self) -> None:
        self.use_button.setEnabled(bool(self.model_choice.currentText().strip()))
