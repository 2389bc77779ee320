"""The lobby: the filter box, a notice line and the list of assistants, grouped.

The panel shows what it is given (``show_assistants``) and says what the user does with it
(``assistantActivated``, ``currentChanged``, ``contextMenuRequested``); where the assistants come
from, and what opening one does, is the window's business.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QLineEdit, QListView, QVBoxLayout, QWidget

from gptlab_desktop.models import Assistant
from gptlab_desktop.ui.lobby_model import LobbyDelegate, LobbyFilterModel, LobbyModel, LobbyRole
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.qt_helpers import viewport_made_here

# Laying out 10,000 lobby cards at once took 117 ms; in batches of 100 the first batch takes 3 ms
# and the rest follow between paints.
LOBBY_BATCH_SIZE = 100


class LobbyPanel(QWidget):
    """The assistants page of the sidebar."""

    #: The user opened an assistant (double-click or Enter); carries its id.
    assistantActivated = Signal(str)
    #: The selected assistant changed.
    currentChanged = Signal()
    #: The rows shown changed (filled, filtered).
    countsChanged = Signal()
    #: A context menu was asked for over an assistant (now selected), at this global position.
    contextMenuRequested = Signal(QPoint)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LobbyModel(self)
        self.filter_model = LobbyFilterModel(self)
        self.filter_model.setSourceModel(self.model)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.filter_edit = QLineEdit(self)
        name_widget(self.filter_edit, "assistantFilter", "Filter assistants")
        self.filter_edit.setPlaceholderText("Filter assistants… (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        layout.addWidget(self.filter_edit)
        self.notice = QLabel(self)
        name_widget(self.notice, "lobbyNotice", "Lobby notice")
        self.notice.setWordWrap(True)
        self.notice.setText("Opening your data…")
        layout.addWidget(self.notice)
        self.list_view = QListView(self)
        self.list_view.setViewport(viewport_made_here())
        name_widget(self.list_view, "lobbyList", "Assistants")
        self.list_view.setModel(self.filter_model)
        self.list_view.setItemDelegate(LobbyDelegate(self.list_view))
        self.list_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.list_view.setLayoutMode(QListView.LayoutMode.Batched)
        self.list_view.setBatchSize(LOBBY_BATCH_SIZE)
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        layout.addWidget(self.list_view, 1)

        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.list_view.activated.connect(self._on_activated)
        self.list_view.selectionModel().currentChanged.connect(
            lambda *_: self.currentChanged.emit()
        )
        self.list_view.customContextMenuRequested.connect(self._on_context_menu)
        for signal in (
            self.filter_model.modelReset,
            self.filter_model.rowsInserted,
            self.filter_model.rowsRemoved,
        ):
            signal.connect(self.countsChanged)

    # -- what is shown ----------------------------------------------------------------------
    def show_assistants(self, assistants: list[Assistant], *, select: str | None = None) -> None:
        """List ``assistants``; the selected one (or ``select``) stays selected."""
        previous = self.selected_assistant_id()
        self.model.set_assistants(assistants)
        self.notice.setVisible(not assistants)
        self.notice.setText("" if assistants else "No assistants yet.")
        wanted = select or previous
        if wanted is not None and self.selected_assistant_id() != wanted:
            self.select_assistant(wanted)

    def set_user(self, user_id: str | None) -> None:
        """Whose lobby this is: their assistants are "Yours", other users' published ones not
        (from the next ``show_assistants``)."""
        self.model.set_user(user_id)

    def show_notice(self, text: str) -> None:
        """Say something above the list (it could not be read, it is read-only)."""
        self.notice.setText(text)
        self.notice.show()

    def update_assistant(self, assistant: Assistant) -> None:
        """Show an assistant's new record (its counters) where it is listed."""
        self.model.update_assistant(assistant)

    def select_assistant(self, assistant_id: str) -> bool:
        """Make an assistant the current row and show it; whether it is listed and shown."""
        row = self.model.row_of(assistant_id)
        if row is None:
            return False
        index = self.filter_model.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False  # hidden by the filter
        self.list_view.setCurrentIndex(index)
        self.list_view.scrollTo(index)
        return True

    def selected_assistant(self) -> Assistant | None:
        """The selected assistant, if any."""
        assistant = self.list_view.currentIndex().data(LobbyRole.ASSISTANT)
        return assistant if isinstance(assistant, Assistant) else None

    def selected_assistant_id(self) -> str | None:
        """The id of the selected assistant, if any."""
        assistant = self.selected_assistant()
        return assistant.id if assistant is not None else None

    def counts_text(self) -> str:
        """How many assistants there are, and how many the filter shows."""
        total = self.model.rowCount()
        shown = self.filter_model.rowCount()
        noun = "assistant" if total == 1 else "assistants"
        return f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}"

    def focus_filter(self) -> None:
        """Put the cursor in the filter box, its text selected."""
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    # -- what the user does -----------------------------------------------------------------
    def _on_filter_changed(self, text: str) -> None:
        self.filter_model.set_filter_text(text)
        self.countsChanged.emit()

    def _on_activated(self, index: QModelIndex) -> None:
        assistant_id = index.data(LobbyRole.ASSISTANT_ID)
        if assistant_id:
            self.assistantActivated.emit(str(assistant_id))

    def _on_context_menu(self, position: QPoint) -> None:
        index = self.list_view.indexAt(position)
        if not index.isValid():
            return
        self.list_view.setCurrentIndex(index)
        self.contextMenuRequested.emit(self.list_view.viewport().mapToGlobal(position))
