"""The sessions panel's search bar: the search box and which chats to list while browsing."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

from gptlab_desktop.ui.naming import name_widget

_THIS_ASSISTANT = "assistant"
_ALL_SESSIONS = "all"


class SessionSearchBar(QWidget):
    """A search box over every session, and a scope ("All chats" or "This assistant").

    The chat list is every assistant's by default; "This assistant" narrows it to the one
    selected in the lobby. Search covers every session, so the scope only applies while
    browsing; it can only be "This assistant" when there is one, and the user's last choice is
    remembered for when there is again.
    """

    #: The search text changed (the scope's state already follows it).
    queryChanged = Signal(str)
    #: The user chose another scope.
    scopeChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._assistant_id: str | None = None
        self._prefers_assistant_scope = False

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.search_box = QLineEdit(self)
        name_widget(self.search_box, "sessionSearch", "Search all chats")
        self.search_box.setPlaceholderText("Search all chats… (Ctrl+Shift+F)")
        self.search_box.setClearButtonEnabled(True)
        row.addWidget(self.search_box, 1)
        self.scope_combo = QComboBox(self)
        name_widget(self.scope_combo, "sessionScopeCombo", "Which chats to list")
        self.scope_combo.addItem("All chats", _ALL_SESSIONS)
        self.scope_combo.addItem("This assistant", _THIS_ASSISTANT)
        row.addWidget(self.scope_combo)

        self.search_box.textChanged.connect(self._on_text)
        self.scope_combo.currentIndexChanged.connect(self._on_scope_chosen)
        self._apply_scope_state()

    @property
    def assistant_id(self) -> str | None:
        """The assistant "This assistant" means, if any."""
        return self._assistant_id

    @property
    def query(self) -> str:
        """The search text as typed."""
        return self.search_box.text()

    @property
    def is_searching(self) -> bool:
        """Whether there is something to search for."""
        return bool(self.search_box.text().strip())

    def set_assistant(self, assistant_id: str | None) -> None:
        """Let "This assistant" mean this one (or, for ``None``, list all sessions)."""
        self._assistant_id = assistant_id
        self._apply_scope_state()

    def listed_assistant(self) -> str | None:
        """The assistant whose sessions a listing shows; None for all sessions."""
        if self._assistant_id is not None and self.scope_combo.currentData() == _THIS_ASSISTANT:
            return self._assistant_id
        return None

    def _on_text(self, text: str) -> None:
        self._apply_scope_state()
        self.queryChanged.emit(text)

    def _on_scope_chosen(self, _index: int) -> None:
        if self.scope_combo.isEnabled():
            self._prefers_assistant_scope = self.scope_combo.currentData() == _THIS_ASSISTANT
        self.scopeChanged.emit()

    def _apply_scope_state(self) -> None:
        has_assistant = self._assistant_id is not None
        self.scope_combo.blockSignals(True)
        try:
            self.scope_combo.setEnabled(has_assistant and not self.is_searching)
            wants_assistant = has_assistant and self._prefers_assistant_scope
            wanted = _THIS_ASSISTANT if wants_assistant else _ALL_SESSIONS
            self.scope_combo.setCurrentIndex(self.scope_combo.findData(wanted))
        finally:
            self.scope_combo.blockSignals(False)
        self.scope_combo.setToolTip(
            "Search looks through all chats."
            if self.is_searching
            else "List every chat, or only those with the assistant selected in the lobby."
        )
