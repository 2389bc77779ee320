"""The Settings window's pages, by name: what the window, the menus and tests ask to show."""

from __future__ import annotations

from enum import StrEnum


class SettingsPage(StrEnum):
    """A page of the Settings window, in the order the list on its left shows them."""

    PROVIDERS = "providers"
    CHAT = "chat"
    APPEARANCE = "appearance"
    STORAGE = "storage"
    PRIVACY = "privacy"

    @property
    def label(self) -> str:
        """The page's name in the list."""
        return self.value.capitalize()
