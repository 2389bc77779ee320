"""Naming widgets: the stable objectName tests and automation use, and the accessible name."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def name_widget(widget: QWidget, object_name: str, accessible_name: str) -> None:
    """Give ``widget`` the stable name tests use and the name assistive technology reads."""
    widget.setObjectName(object_name)
    widget.setAccessibleName(accessible_name)
