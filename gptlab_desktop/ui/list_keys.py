"""Down from a filter or search box into the list it narrows, as in a browser's address bar.

``move_down_into(box, view)`` makes the Down arrow in ``box`` put the focus in ``view``, on its
current row (or its first row when none is current), so the keyboard goes from typing to
choosing without Tab.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QLineEdit


class _DownIntoList(QObject):
    """Watches a box for a plain Down and moves the focus into its list."""

    def __init__(self, box: QLineEdit, view: QAbstractItemView) -> None:
        # Parented to the box: it lives as long as the box does.
        super().__init__(box)
        self._view = view

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        """Take a Down without modifiers (it would do nothing in a one-line box)."""
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() != Qt.Key.Key_Down or modifiers != Qt.KeyboardModifier.NoModifier:
            return False
        view = self._view
        model = view.model()
        if model is None or model.rowCount() == 0:
            return False
        if not view.currentIndex().isValid():
            view.setCurrentIndex(model.index(0, 0))
        view.setFocus(Qt.FocusReason.TabFocusReason)
        return True


def move_down_into(box: QLineEdit, view: QAbstractItemView) -> None:
    """Let Down in ``box`` move the focus into ``view`` (to its current or first row)."""
    box.installEventFilter(_DownIntoList(box, view))
