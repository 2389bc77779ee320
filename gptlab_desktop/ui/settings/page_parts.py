"""Parts the Settings window's pages share: a page of words, and labels that report."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gptlab_desktop.ui.naming import name_widget

# The colour of a sentence that says what went wrong (the theme's own for everything else).
ERROR_STYLE = "color: #b00020;"


def text_page(object_name: str, heading: str, paragraphs: Sequence[str]) -> QWidget:
    """A page that only says something: a heading, then its paragraphs (one label)."""
    page = QWidget()
    name_widget(page, object_name, heading)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    title = QLabel(f"<b>{heading}</b>")
    layout.addWidget(title)
    text = QLabel("\n\n".join(paragraphs))
    name_widget(text, f"{object_name}Text", heading)
    text.setTextFormat(Qt.TextFormat.PlainText)
    text.setWordWrap(True)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    layout.addWidget(text)
    layout.addStretch(1)
    return page


def report_label(object_name: str, accessible_name: str) -> QLabel:
    """A label for what an action did or why a field cannot be used (empty: hidden)."""
    label = QLabel()
    name_widget(label, object_name, accessible_name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def report(label: QLabel, text: str, *, is_error: bool = False) -> None:
    """Say ``text`` in ``label`` (red for a problem); nothing to say hides it."""
    label.setText(text)
    label.setProperty("isError", is_error)
    label.setStyleSheet(ERROR_STYLE if is_error else "")
    label.setVisible(bool(text))
