"""The Settings window's Privacy page: in words, what leaves this computer and what does not."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gptlab_desktop.ui.settings.page_parts import text_page

PRIVACY_TEXT = (
    "Your messages go to the provider the chat uses, and to no one else. A provider on this "
    "computer (Ollama, LM Studio, llama.cpp) keeps them on this computer.",
    "Chat titles and moderation are extra requests to that same provider, with your messages "
    "in them. Switch either off on the Chat page.",
    "API keys stay in your system's keyring, never in a file.",
    "What is synced to Firestore (when you choose it on the Storage page) is encrypted before "
    "it leaves, with a key no server sees: only your recovery kit opens it.",
    "The app's log file holds no message text.",
)


def privacy_page() -> QWidget:
    """The Privacy page."""
    return text_page("privacyPage", "Privacy", PRIVACY_TEXT)
