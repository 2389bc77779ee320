"""What the editor asks and tells in a message box: unsaved changes, deleting, a failure.

Every box is opened with ``open()`` and answers through a callback: a modal ``exec()`` would
nest an event loop inside the qasync one (see DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from gptlab_desktop.ui.messages import describe_error

Answer = QMessageBox.StandardButton


def ask_about_unsaved_changes(
    parent: QWidget, name: str, on_answer: Callable[[Answer], None]
) -> QMessageBox:
    """Ask whether to save the changes to ``name`` before closing (Save, Discard, Cancel).

    A question already showing is brought back rather than asked twice.
    """
    existing = parent.findChild(QMessageBox, "unsavedChangesBox")
    if isinstance(existing, QMessageBox) and existing.isVisible():
        return existing
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Unsaved changes",
        f"Save the changes to “{name}” before closing?",
        Answer.Save | Answer.Discard | Answer.Cancel,
        parent,
    )
    box.setObjectName("unsavedChangesBox")
    box.setDefaultButton(Answer.Save)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: on_answer(box.standardButton(button)))
    box.open()
    return box


def confirm_delete(parent: QWidget, name: str, on_delete: Callable[[], None]) -> QMessageBox:
    """Ask before deleting the assistant ``name``; ``on_delete`` runs only if confirmed."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Delete assistant",
        f"Delete “{name}” and all its versions? Its past sessions are "
        "kept, and still show the prompt they started with. This cannot be undone.",
        Answer.Cancel,
        parent,
    )
    box.setObjectName("deleteConfirmBox")
    delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
    delete.setObjectName("confirmDeleteButton")
    box.setDefaultButton(Answer.Cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: on_delete() if button is delete else None)
    box.open()
    return box


def show_error(parent: QWidget, error: BaseException) -> QMessageBox:
    """Tell the user what failed, in words (``ui.messages``)."""
    message = describe_error(error)
    box = QMessageBox(QMessageBox.Icon.Warning, message.title, message.text, parent=parent)
    box.setObjectName("errorMessageBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
