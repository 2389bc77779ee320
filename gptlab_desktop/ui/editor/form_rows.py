"""How the editor's form lays out a row: the field, then the hints that say what it accepts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from gptlab_desktop.ui.naming import name_widget

#: How a hint that names a problem looks (and a field's hint while its value is invalid).
PROBLEM_STYLE = "color: palette(highlighted-text); background: #b3261e; padding: 1px 4px;"


def hint_label(object_name: str, text: str = "") -> QLabel:
    """A wrapped, plain-text hint under a field."""
    label = QLabel(text)
    label.setObjectName(object_name)
    label.setWordWrap(True)
    # Hints repeat what the user typed (names, models): never let it be read as HTML.
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def add_row(form: QFormLayout, label: str, field: QWidget, *hints: QLabel) -> None:
    """Add ``field`` under ``label`` with its hints below it."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(field)
    for hint in hints:
        column.addWidget(hint)
        hint.setAccessibleName(f"{label} hint")
    form.addRow(label, box)


def double_spin(
    object_name: str, name: str, low: float, high: float, step: float
) -> QDoubleSpinBox:
    """A named spin box for a sampling value, to two decimals within ``low``..``high``."""
    spin = QDoubleSpinBox()
    name_widget(spin, object_name, name)
    spin.setDecimals(2)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    return spin


def show_hint(label: QLabel, problem: str | None, normal: str, *, prefix: str) -> None:
    """Show ``normal``, or ``prefix`` and the problem marked as one."""
    if problem:
        label.setText(f"{prefix} {problem}")
        label.setStyleSheet(PROBLEM_STYLE)
    else:
        label.setText(normal)
        label.setStyleSheet("")


def mark_problem(label: QLabel, has_problem: bool) -> None:
    """Mark a hint whose field is invalid (its text already says what it accepts)."""
    label.setStyleSheet(PROBLEM_STYLE if has_problem else "")
