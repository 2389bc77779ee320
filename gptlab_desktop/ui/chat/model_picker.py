"""The chat header's model picker: which provider's model answers this chat, and how warmly.

An editable combo lists every provider's models (``model_choices.py``); choosing one, or
typing a name and pressing Enter, asks for that model (``modelChosen``). A spin box beside it
sets the chat's temperature (``temperatureChosen``). The picker only shows and asks: the
pane makes the change through the session engine and then shows the session as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QWidget,
)

from gptlab_desktop.ui.chat.model_choices import (
    ModelChoice,
    model_label,
    read_typed_choice,
)
from gptlab_desktop.ui.naming import name_widget

# Item data roles of the picker's rows.
ProfileIdRole = int(Qt.ItemDataRole.UserRole) + 1
ModelIdRole = int(Qt.ItemDataRole.UserRole) + 2

TEMPERATURE_MIN = 0.0
TEMPERATURE_MAX = 2.0
TEMPERATURE_STEP = 0.1
_PICKER_TIP = (
    "The model that answers this chat (the assistant keeps its own). Pick one, or type a "
    "name and press Enter."
)


class ModelCombo(QComboBox):
    """The picker's combo; it says when its list is about to show (to refresh the list)."""

    popupAboutToShow = Signal()

    def showPopup(self) -> None:
        """Announce the popup, then show it."""
        self.popupAboutToShow.emit()
        super().showPopup()


class ModelPicker(QWidget):
    """The model of the open chat (grouped by provider) and its temperature."""

    #: The user asked for a model: (profile id, model).
    modelChosen = Signal(str, str)
    #: The user set the chat's temperature.
    temperatureChosen = Signal(float)
    #: The list is about to show: a fresh listing is welcome (never awaited).
    listWanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices: tuple[ModelChoice, ...] = ()
        self._providers: tuple[tuple[str, str], ...] = ()
        self._current: tuple[str, str] = ("", "")
        self._current_label = ""
        self._temperature = 0.0

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        model_label_widget = QLabel("&Model:", self)
        self.combo = ModelCombo(self)
        name_widget(self.combo, "modelPicker", "Model of this chat")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(24)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setToolTip(_PICKER_TIP)
        # Typing part of a name ("qwen") offers every row that contains it.
        completer = self.combo.completer()
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._items = QStandardItemModel(self.combo)
        self.combo.setModel(self._items)
        model_label_widget.setBuddy(self.combo)

        temperature_label = QLabel("&Temperature:", self)
        self.temperature = QDoubleSpinBox(self)
        name_widget(self.temperature, "temperatureSpin", "Temperature of this chat")
        self.temperature.setRange(TEMPERATURE_MIN, TEMPERATURE_MAX)
        self.temperature.setSingleStep(TEMPERATURE_STEP)
        self.temperature.setDecimals(1)
        # Typed digits are applied on Enter or leaving the box, not at every keystroke.
        self.temperature.setKeyboardTracking(False)
        self.temperature.setToolTip("Lower is more focused, higher more varied (0 to 2).")
        temperature_label.setBuddy(self.temperature)

        layout.addWidget(model_label_widget)
        layout.addWidget(self.combo, 1)
        layout.addWidget(temperature_label)
        layout.addWidget(self.temperature)

        self.combo.activated.connect(self._on_activated)
        line_edit = self.combo.lineEdit()
        line_edit.returnPressed.connect(self._on_return_pressed)
        line_edit.editingFinished.connect(self._show_current_text)
        self.combo.popupAboutToShow.connect(self.listWanted)
        self.temperature.valueChanged.connect(self.temperatureChosen)

    # -- what it shows ----------------------------------------------------------------------
    def set_choices(
        self, choices: Sequence[ModelChoice], providers: Sequence[tuple[str, str]]
    ) -> None:
        """List these rows (``providers``: every (profile id, name), for typed names)."""
        choices = tuple(choices)
        self._providers = tuple(providers)
        if choices == self._choices and self._items.rowCount():
            return  # unchanged: the open popup keeps its place
        self._choices = choices
        self.combo.blockSignals(True)
        try:
            self._items.clear()
            previous = ""
            for choice in choices:
                if previous and choice.profile_id != previous:
                    self.combo.insertSeparator(self.combo.count())
                previous = choice.profile_id
                self._items.appendRow(_row_item(choice))
        finally:
            self.combo.blockSignals(False)
        self._show_current()

    def show_loading(self) -> None:
        """The models are being asked for (shown while the list is still empty)."""
        if not self._items.rowCount():
            self.combo.lineEdit().setPlaceholderText("Asking the providers for their models…")

    def choices(self) -> tuple[ModelChoice, ...]:
        """The rows listed."""
        return self._choices

    def show_current(
        self, profile_id: str, provider_name: str, model: str, temperature: float
    ) -> None:
        """Show the chat's model (on its provider) and temperature.

        What the user is writing in either box is left alone while the chat's choice is
        the one shown already (a title arriving redraws the header).
        """
        is_same = (profile_id, model) == self._current
        self._current = (profile_id, model)
        self._current_label = model_label(provider_name, model)
        self._temperature = temperature
        if not (is_same and self.temperature.hasFocus()):
            self._show_temperature()
        if not (is_same and self.combo.lineEdit().hasFocus()):
            self._show_current()

    def show_chat_choice(self) -> None:
        """Show the chat's model and temperature again, over anything being written (a change
        that failed)."""
        self._show_temperature()
        self._show_current()

    def current_choice(self) -> tuple[str, str]:
        """The (profile id, model) shown as the chat's."""
        return self._current

    def _show_temperature(self) -> None:
        self.temperature.blockSignals(True)
        try:
            self.temperature.setValue(self._temperature)
        finally:
            self.temperature.blockSignals(False)

    def _show_current(self) -> None:
        row = self._row_of(*self._current)
        self.combo.blockSignals(True)
        try:
            self.combo.setCurrentIndex(row)
            if row < 0:
                self.combo.setEditText(self._current_label)
        finally:
            self.combo.blockSignals(False)
        _, model = self._current
        self.combo.setToolTip(f"{_PICKER_TIP}\n\nNow: {model}" if model else _PICKER_TIP)

    def _show_current_text(self) -> None:
        """Leaving the box with an unsent edit puts the chat's model back in it."""
        if not self.combo.view().isVisible():
            self._show_current()

    def _row_of(self, profile_id: str, model: str) -> int:
        for row in range(self._items.rowCount()):
            item = self._items.item(row)
            if item.data(ProfileIdRole) == profile_id and item.data(ModelIdRole) == model:
                return row
        return -1

    # -- what the user asks for -------------------------------------------------------------
    def _on_activated(self, row: int) -> None:
        item = self._items.item(row) if row >= 0 else None
        if item is None or not item.data(ModelIdRole):
            self._show_current()
            return
        self._choose(str(item.data(ProfileIdRole)), str(item.data(ModelIdRole)))

    def _on_return_pressed(self) -> None:
        profile_id, _ = self._current
        chosen = read_typed_choice(
            self.combo.currentText(), self._choices, self._providers, profile_id
        )
        if chosen is None:
            self._show_current()
            return
        self._choose(*chosen)

    def _choose(self, profile_id: str, model: str) -> None:
        if (profile_id, model) == self._current:
            self._show_current()
            return
        self.modelChosen.emit(profile_id, model)


def _row_item(choice: ModelChoice) -> QStandardItem:
    item = QStandardItem(choice.label)
    item.setEditable(False)
    item.setData(choice.profile_id, ProfileIdRole)
    item.setData(choice.model, ModelIdRole)
    if choice.is_choosable:
        item.setToolTip(choice.model)
    else:
        # Says why a provider has no models here; it cannot be chosen.
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setToolTip(choice.problem)
    return item
