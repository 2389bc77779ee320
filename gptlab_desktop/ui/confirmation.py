"""Asking before something that cannot be undone: a question box with a destructive button.

The box is made once and kept as a child of its parent (deleting it on close while its
``finished`` signal is still being delivered crashes PySide6), opened with ``open()`` (never
``exec()``: no nested event loop inside a coroutine), and Cancel is its default.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget


class Confirmation(QObject):
    """One question to ask again and again; ``confirmed`` when its destructive button is
    pressed."""

    confirmed = Signal()

    def __init__(
        self,
        parent: QWidget,
        *,
        title: str,
        object_name: str,
        confirm_text: str,
        confirm_name: str,
    ) -> None:
        super().__init__(parent)
        self.box = QMessageBox(
            QMessageBox.Icon.Question, title, "", QMessageBox.StandardButton.NoButton, parent
        )
        self.box.setObjectName(object_name)
        self.box.setAccessibleName(title)
        self._confirm = self.box.addButton(confirm_text, QMessageBox.ButtonRole.DestructiveRole)
        self._confirm.setObjectName(confirm_name)
        self._confirm.setAccessibleName(confirm_text)
        self.box.addButton(QMessageBox.StandardButton.Cancel)
        self.box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.box.finished.connect(self._on_finished)

    def ask(self, text: str) -> QMessageBox:
        """Show the question ``text`` without blocking; returns the box."""
        self.box.setText(text)
        self.box.open()
        return self.box

    def _on_finished(self) -> None:
        if self.box.clickedButton() is self._confirm:
            self.confirmed.emit()
