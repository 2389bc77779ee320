"""Where a provider's missing or refused key is asked for (``MainWindow.ask_provider_key``, which
the chat pane's ``providerKeyNeeded`` reaches): the account's API key dialog for OpenAI's
built-in profile and the environment's, the Providers page on any other profile, worded for it."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QLabel, QLineEdit

from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID
from gptlab_desktop.preferences import OPENAI_PROFILE_ID, ProviderProfile
from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.settings.dialog import SettingsDialog
from gptlab_desktop.ui.settings.pages import SettingsPage
from tests.fakes.openai_server import FakeOpenAIServer
from tests.ui.conftest import WAIT_MS, OpenWindow, at_server
from tests.ui.settings.conftest import child, visible_text


def saved_profile(qtbot: Any, window: MainWindow, preset_id: str) -> ProviderProfile:
    """A profile of that preset, saved as the Providers page would."""
    providers = window._services.providers
    profile = providers.new_profile(preset_id)
    saving = asyncio.ensure_future(providers.save_profile(profile))
    qtbot.waitUntil(saving.done, timeout=WAIT_MS)
    assert saving.exception() is None
    return profile


def api_key_dialog_comes_up(qtbot: Any, window: MainWindow, profile_id: str) -> None:
    # A first run without a key opened it already: closed, to see it come up again.
    window.show_api_key_dialog().reject()

    shown = window.ask_provider_key(profile_id)

    dialog = child(window, ApiKeyDialog, "apiKeyDialog")
    assert shown is dialog
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    assert window.findChild(SettingsDialog, "settingsDialog") is None


def test_a_key_openai_needs_is_asked_for_in_the_api_key_dialog(
    qtbot: Any, open_window: OpenWindow
) -> None:
    api_key_dialog_comes_up(qtbot, open_window(), OPENAI_PROFILE_ID)


def test_a_key_the_environments_server_needs_is_asked_for_in_the_api_key_dialog(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=at_server(openai_server))
    api_key_dialog_comes_up(qtbot, window, ENVIRONMENT_PROFILE_ID)


def test_a_key_another_provider_needs_is_asked_for_on_its_profile_in_its_own_words(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    profile = saved_profile(qtbot, window, "anthropic")

    shown = window.ask_provider_key(profile.id)

    assert isinstance(shown, SettingsDialog)
    qtbot.waitUntil(shown.isVisible, timeout=WAIT_MS)
    assert shown.current_page is SettingsPage.PROVIDERS
    page = shown.providers_page
    assert page.selected_profile_id() == profile.id
    assert shown.focusWidget() is child(page, QLineEdit, "apiKeyEdit")
    notice = visible_text(child(page, QLabel, "providerKeyNotice"))
    assert notice == (
        "Anthropic needs an API key that it accepts. "
        "Create a key in the Anthropic Console under API keys."
    )


def test_show_settings_with_a_profile_opens_providers_on_it(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    profile = saved_profile(qtbot, window, "gemini")
    window.show_settings(SettingsPage.PRIVACY)

    dialog = window.show_settings(profile_id=profile.id)

    assert dialog.current_page is SettingsPage.PROVIDERS
    assert dialog.providers_page.selected_profile_id() == profile.id
