"""The History tab of the assistant editor: prompt and model config versions, diffs, rollback.

Versions are rows of item models (newest first) with their dates and, for prompts, how many
sessions each version started and ended. Selecting two prompt versions shows a unified diff
from the older to the newer; "Make active" asks the editor to roll back to the selected one.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QFontDatabase, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import ModelConfigVersion, Prompt, PromptType
from gptlab_desktop.services.assistant_lab import AssistantHistory, prompt_diff
from gptlab_desktop.ui.naming import name_widget

# Item data role holding the version's id on the first column of each row.
VersionIdRole = int(Qt.ItemDataRole.UserRole) + 1

PROMPT_COLUMNS = ("Created", "Active", "Sessions started", "Sessions ended", "Beginning")
CONFIG_COLUMNS = (
    "Created",
    "Active",
    "Model",
    "Response limit",
    "Temperature",
    "Top P",
    "Frequency penalty",
    "Presence penalty",
)


def _date(prompt_or_config: Prompt | ModelConfigVersion) -> str:
    return prompt_or_config.created_date.astimezone().strftime("%Y-%m-%d %H:%M")


def _cell(text: str, *, version_id: str | None = None) -> QStandardItem:
    item = QStandardItem(text)
    item.setEditable(False)
    if version_id is not None:
        item.setData(version_id, VersionIdRole)
    return item


def _preview(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 60 else first[:59] + "…"


class VersionHistoryWidget(QWidget):
    """Lists an assistant's versions; asks for a rollback through its signals."""

    #: The user asked to make this prompt version active (its id).
    promptActivationRequested = Signal(str)
    #: The user asked to make this model config version active (its id).
    configActivationRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history = AssistantHistory((), (), ())
        self._can_activate = False
        self._activation_note = ""

        self.prompt_kind_combo = QComboBox()
        name_widget(self.prompt_kind_combo, "promptKindCombo", "Which prompt's versions")
        self.prompt_kind_combo.addItem("Initial prompt", PromptType.INITIAL)
        self.prompt_kind_combo.addItem("Summary prompt", PromptType.SUMMARY)

        self.prompt_model = QStandardItemModel(0, len(PROMPT_COLUMNS), self)
        self.prompt_model.setHorizontalHeaderLabels(list(PROMPT_COLUMNS))
        self.prompt_view = QTreeView()
        name_widget(self.prompt_view, "promptVersionsView", "Prompt versions")
        self._configure_view(self.prompt_view, self.prompt_model)
        self.prompt_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

        self.diff_view = QPlainTextEdit()
        name_widget(self.diff_view, "promptDiffView", "Prompt text or differences")
        self.diff_view.setReadOnly(True)
        self.diff_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.diff_view.setPlaceholderText(
            "Select a version to read it, or two versions to see what changed."
        )

        self.make_prompt_active_button = QPushButton("Make Active")
        name_widget(self.make_prompt_active_button, "makePromptActiveButton", "Make prompt active")

        self.config_model = QStandardItemModel(0, len(CONFIG_COLUMNS), self)
        self.config_model.setHorizontalHeaderLabels(list(CONFIG_COLUMNS))
        self.config_view = QTreeView()
        name_widget(self.config_view, "configVersionsView", "Model config versions")
        self._configure_view(self.config_view, self.config_model)
        self.config_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

        self.make_config_active_button = QPushButton("Make Active")
        name_widget(
            self.make_config_active_button, "makeConfigActiveButton", "Make model config active"
        )

        self.note_label = QLabel()
        name_widget(self.note_label, "historyNoteLabel", "History note")
        self.note_label.setWordWrap(True)

        prompts = QWidget()
        prompts_layout = QVBoxLayout(prompts)
        prompts_layout.setContentsMargins(0, 0, 0, 0)
        prompt_bar = QHBoxLayout()
        prompt_bar.addWidget(QLabel("Versions of the"))
        prompt_bar.addWidget(self.prompt_kind_combo)
        prompt_bar.addStretch(1)
        prompt_bar.addWidget(self.make_prompt_active_button)
        prompts_layout.addLayout(prompt_bar)
        prompts_layout.addWidget(self.prompt_view, 1)
        prompts_layout.addWidget(self.diff_view, 2)

        configs = QWidget()
        configs_layout = QVBoxLayout(configs)
        configs_layout.setContentsMargins(0, 0, 0, 0)
        config_bar = QHBoxLayout()
        config_bar.addWidget(QLabel("Model config versions"))
        config_bar.addStretch(1)
        config_bar.addWidget(self.make_config_active_button)
        configs_layout.addLayout(config_bar)
        configs_layout.addWidget(self.config_view)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(prompts)
        splitter.addWidget(configs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note_label)
        layout.addWidget(splitter, 1)

        self.prompt_kind_combo.currentIndexChanged.connect(self._fill_prompts)
        self.prompt_view.selectionModel().selectionChanged.connect(self._on_prompt_selection)
        self.config_view.selectionModel().selectionChanged.connect(self._on_config_selection)
        self.make_prompt_active_button.clicked.connect(self._request_prompt_activation)
        self.make_config_active_button.clicked.connect(self._request_config_activation)
        self._update_buttons()

    @staticmethod
    def _configure_view(view: QTreeView, model: QStandardItemModel) -> None:
        view.setModel(model)
        view.setRootIsDecorated(False)
        view.setUniformRowHeights(True)
        view.setAlternatingRowColors(True)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # An assistant has a handful of versions: sizing columns to their contents is cheap.
        view.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        view.header().setStretchLastSection(True)

    # -- state --------------------------------------------------------------------------------

    @property
    def history(self) -> AssistantHistory:
        """The versions shown."""
        return self._history

    @property
    def prompt_kind(self) -> PromptType:
        """Which prompt's versions are listed."""
        return PromptType(self.prompt_kind_combo.currentData())

    def set_history(self, history: AssistantHistory) -> None:
        """Show these versions (selections are cleared)."""
        self._history = history
        self._fill_prompts()
        self._fill_configs()

    def set_activation_allowed(self, allowed: bool, note: str = "") -> None:
        """Whether "Make Active" may be used; ``note`` says why not (shown above the lists)."""
        self._can_activate = allowed
        self._activation_note = note
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))
        self._update_buttons()

    def selected_prompts(self) -> list[Prompt]:
        """The selected prompt versions, oldest first."""
        by_id = {prompt.id: prompt for prompt in self._history.prompts(self.prompt_kind)}
        rows = self.prompt_view.selectionModel().selectedRows(0)
        chosen = [by_id[str(index.data(VersionIdRole))] for index in rows]
        return sorted(chosen, key=lambda prompt: prompt.created_date)

    def selected_config(self) -> ModelConfigVersion | None:
        """The selected model config version, if one is."""
        rows = self.config_view.selectionModel().selectedRows(0)
        if len(rows) != 1:
            return None
        wanted = str(rows[0].data(VersionIdRole))
        return next((c for c in self._history.model_configs if c.id == wanted), None)

    def select_prompt_rows(self, *rows: int) -> None:
        """Select these rows of the prompt list (keyboard users and tests)."""
        selection = QItemSelection()
        for row in rows:
            first = self.prompt_model.index(row, 0)
            last = self.prompt_model.index(row, self.prompt_model.columnCount() - 1)
            selection.select(first, last)
        self.prompt_view.selectionModel().select(
            selection, self.prompt_view.selectionModel().SelectionFlag.ClearAndSelect
        )

    def select_config_row(self, row: int) -> None:
        """Select one row of the config list."""
        self.config_view.selectionModel().select(
            self.config_model.index(row, 0),
            self.config_view.selectionModel().SelectionFlag.ClearAndSelect
            | self.config_view.selectionModel().SelectionFlag.Rows,
        )

    # -- filling ------------------------------------------------------------------------------

    def _fill_prompts(self) -> None:
        self.prompt_model.removeRows(0, self.prompt_model.rowCount())
        for prompt in self._history.prompts(self.prompt_kind):
            self.prompt_model.appendRow(
                [
                    _cell(_date(prompt), version_id=prompt.id),
                    _cell("Active" if prompt.is_active else ""),
                    _cell(f"{prompt.sessions_started:,}"),
                    _cell(f"{prompt.sessions_ended:,}"),
                    _cell(_preview(prompt.message)),
                ]
            )
        self.diff_view.clear()
        self._update_buttons()

    def _fill_configs(self) -> None:
        self.config_model.removeRows(0, self.config_model.rowCount())
        for version in self._history.model_configs:
            config = version.config
            self.config_model.appendRow(
                [
                    _cell(_date(version), version_id=version.id),
                    _cell("Active" if version.is_active else ""),
                    _cell(config.model),
                    _cell(f"{config.max_tokens:,}"),
                    _cell(f"{config.temperature:g}"),
                    _cell(f"{config.top_p:g}"),
                    _cell(f"{config.frequency_penalty:g}"),
                    _cell(f"{config.presence_penalty:g}"),
                ]
            )
        self._update_buttons()

    # -- reacting -----------------------------------------------------------------------------

    def _on_prompt_selection(self, *_args: object) -> None:
        chosen = self.selected_prompts()
        if len(chosen) == 1:
            self.diff_view.setPlainText(chosen[0].message)
        elif len(chosen) == 2:
            diff = prompt_diff(chosen[0], chosen[1])
            self.diff_view.setPlainText(diff or "The two versions are the same.")
        else:
            self.diff_view.clear()
        self._update_buttons()

    def _on_config_selection(self, *_args: object) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected_prompts()
        self.make_prompt_active_button.setEnabled(
            self._can_activate and len(chosen) == 1 and not chosen[0].is_active
        )
        config = self.selected_config()
        self.make_config_active_button.setEnabled(
            self._can_activate and config is not None and not config.is_active
        )

    def _request_prompt_activation(self) -> None:
        chosen = self.selected_prompts()
        if len(chosen) == 1:
            self.promptActivationRequested.emit(chosen[0].id)

    def _request_config_activation(self) -> None:
        config = self.selected_config()
        if config is not None:
            self.configActivationRequested.emit(config.id)
