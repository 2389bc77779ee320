"""The chat pane's inline lines (notices, warnings) and the countdown of a retry's wait."""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from gptlab_desktop.services.llm_api import RetryNotice
from gptlab_desktop.ui.naming import name_widget


def notice_label(parent: QWidget, object_name: str, accessible_name: str) -> QLabel:
    """A hidden, wrapping, selectable plain-text line, shown when it has something to say."""
    label = QLabel(parent)
    name_widget(label, object_name, accessible_name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


class RetryCountdown(QObject):
    """Counts a rate limit's (or failure's) wait before a retry down in a label, each second."""

    def __init__(self, label: QLabel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._label = label
        self._remaining_s = 0
        self._cause = "Rate limited"
        self._timer = QTimer(self)
        self._timer.setObjectName("retryTimer")
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)

    def start(self, notice: RetryNotice) -> None:
        """Show the wait a retry notice announces and count it down."""
        self._cause = "Rate limited" if notice.is_rate_limit else "The AI service failed"
        self._remaining_s = max(1, math.ceil(notice.wait_s))
        self._label.setToolTip(notice.reason)
        self._show_text()
        self._label.show()
        self._timer.start()

    def stop(self) -> None:
        """Stop counting and hide the line (the retry began, or the reply ended)."""
        self._timer.stop()
        self._label.hide()

    def _tick(self) -> None:
        self._remaining_s -= 1
        if self._remaining_s <= 0:
            self._timer.stop()
            self._label.setText(f"{self._cause} — retrying now…")
            return
        self._show_text()

    def _show_text(self) -> None:
        self._label.setText(f"{self._cause} — retrying in {self._remaining_s} s…")
