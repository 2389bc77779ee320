"""The bar under the sessions list while deleted sessions can still be brought back."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from gptlab_desktop.ui.naming import name_widget


class UndoBar(QFrame):
    """Says how many sessions were just deleted, with an Undo button; hidden when none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "undoBar", "Deleted session")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(6, 2, 6, 2)
        self.undo_label = QLabel("Session deleted.", self)
        name_widget(self.undo_label, "undoLabel", "Session deleted")
        bar.addWidget(self.undo_label, 1)
        self.undo_button = QPushButton("Undo (Ctrl+Z)", self)
        name_widget(self.undo_button, "undoDeleteButton", "Undo delete")
        bar.addWidget(self.undo_button)
        self.hide()

    def show_count(self, count: int) -> None:
        """Show how many deletions can be undone (hidden for none)."""
        self.undo_label.setText("Session deleted." if count == 1 else f"{count} sessions deleted.")
        self.setVisible(count > 0)
