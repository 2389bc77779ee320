"""The Settings window's Appearance page: what it will hold (theme and zoom come later)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gptlab_desktop.ui.settings.page_parts import text_page

APPEARANCE_TEXT = (
    "A light or dark theme, and a zoom for the chat's text, will be chosen here in a later "
    "version.",
    "Until then the app follows your system's theme and font size.",
)


def appearance_page() -> QWidget:
    """The Appearance page (words only, for now)."""
    return text_page("appearancePage", "Appearance", APPEARANCE_TEXT)
