"""The editor's buttons: never a default button, and the row along the dialog's bottom."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from gptlab_desktop.models import Assistant
from gptlab_desktop.ui.editor.state import EditorMode
from gptlab_desktop.ui.naming import name_widget


def editor_button(text: str, object_name: str, accessible_name: str) -> QPushButton:
    """A named push button that Enter never presses."""
    button = QPushButton(text)
    name_widget(button, object_name, accessible_name)
    # In a dialog Enter presses the default button; Enter in the try-it box must not save.
    button.setAutoDefault(False)
    button.setDefault(False)
    return button


class EditorButtons(QWidget):
    """Duplicate, Archive/Restore and Delete on the left; Close and Save on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duplicate_button = editor_button("Duplicate", "duplicateButton", "Duplicate")
        self.duplicate_button.setToolTip("Make your own copy of this assistant to change.")
        self.archive_button = editor_button("Archive", "archiveButton", "Archive")
        self.delete_button = editor_button("Delete…", "deleteButton", "Delete")
        self.close_button = editor_button("Close", "closeButton", "Close")
        self.save_button = editor_button("Save", "saveButton", "Save")

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.duplicate_button)
        row.addWidget(self.archive_button)
        row.addWidget(self.delete_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        row.addWidget(self.save_button)

    def update_for(
        self, mode: EditorMode, assistant: Assistant | None, *, is_busy: bool, can_save: bool
    ) -> None:
        """Show and enable what applies to ``mode`` on ``assistant``."""
        editable = mode is not EditorMode.VIEW
        own = mode is EditorMode.EDIT and assistant is not None
        self.save_button.setVisible(editable)
        self.save_button.setEnabled(editable and not is_busy and can_save)
        self.duplicate_button.setVisible(assistant is not None)
        self.duplicate_button.setEnabled(not is_busy)
        self.archive_button.setVisible(own)
        self.delete_button.setVisible(own)
        self.archive_button.setEnabled(own and not is_busy)
        self.delete_button.setEnabled(own and not is_busy)
        if assistant is not None:
            self.archive_button.setText("Archive" if assistant.is_active else "Restore")
            self.archive_button.setAccessibleName(self.archive_button.text())
