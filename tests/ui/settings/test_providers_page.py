"""The Providers page, driven by objectName in the app's own window: a profile added from a
preset and tested against a real loopback server; a refused key in the server's words; fields
that cannot be used; what Apply saves (the profile in preferences.json, the key in the keyring
only); Remove; Use for New Chats; the environment's profile read-only; OpenAI's key through the
account's dialog."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QMessageBox, QPushButton

from gptlab_desktop.preferences import OPENAI_PROFILE_ID, Prices, read_preferences
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
from gptlab_desktop.ui.main_window import MainWindow
from gptlab_desktop.ui.settings.pages import SettingsPage
from gptlab_desktop.ui.settings.providers_page import ProvidersPage
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import DEFAULT_MODELS, ErrorReply, FakeOpenAIServer
from tests.ui.conftest import WAIT_MS, OpenWindow, at_server
from tests.ui.settings.conftest import child, open_settings, visible_text

PROVIDER_KEY = "sk-or-test-SettingsKey0123456789abcdef"


def providers_page(qtbot: Any, window: MainWindow) -> ProvidersPage:
    return open_settings(qtbot, window).providers_page


def add(page: ProvidersPage, preset_id: str) -> None:
    """Add ▾ → the preset, as the user picks it from the menu."""
    action = page.add_menu.findChild(QAction, f"addProvider-{preset_id}")
    assert action is not None, preset_id
    action.trigger()


def fill(page: ProvidersPage, name: str, base_url: str, key: str = "") -> None:
    child(page, QLineEdit, "providerNameEdit").setText(name)
    child(page, QLineEdit, "baseUrlEdit").setText(base_url)
    child(page, QLineEdit, "apiKeyEdit").setText(key)


def click(qtbot: Any, page: ProvidersPage, name: str) -> None:
    button = child(page, QPushButton, name)
    assert button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def apply(qtbot: Any, page: ProvidersPage) -> None:
    """Apply, and wait until the profile is saved."""
    click(qtbot, page, "providerApplyButton")
    qtbot.waitUntil(lambda: page.task("apply") is None, timeout=WAIT_MS)


def listed(page: ProvidersPage) -> list[str]:
    names = child(page, QListWidget, "providerList")
    return [names.item(row).text() for row in range(names.count())]


def test_an_ollama_profile_at_a_server_tests_its_connection_and_counts_its_models(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    page = providers_page(qtbot, open_window())
    add(page, "ollama")
    assert "Ollama — not saved yet" in listed(page)
    key_edit = child(page, QLineEdit, "apiKeyEdit")
    assert key_edit.placeholderText().startswith("Optional")
    child(page, QLineEdit, "baseUrlEdit").setText(openai_server.base_url)

    click(qtbot, page, "testConnectionButton")

    qtbot.waitUntil(lambda: page.task("test") is None, timeout=WAIT_MS)
    result = child(page, QLabel, "connectionResult")
    assert result.text() == f"Connected: {len(DEFAULT_MODELS)} models"
    assert child(page, QPushButton, "testConnectionButton").isEnabled()


def test_testing_shows_it_is_busy_and_the_window_stays_usable_meanwhile(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ErrorReply(503, delay_s=1.0), endpoint="models")
    window = open_window()
    page = providers_page(qtbot, window)
    add(page, "ollama")
    child(page, QLineEdit, "baseUrlEdit").setText(openai_server.base_url)

    click(qtbot, page, "testConnectionButton")

    button = child(page, QPushButton, "testConnectionButton")
    assert (button.text(), button.isEnabled()) == ("Testing…", False)
    assert child(page, QLabel, "connectionResult").text().startswith("Asking http://127.0.0.1")
    # The window answers while the server thinks: another page comes up.
    page.window().show_page(SettingsPage.PRIVACY)
    assert page.task("test") is not None
    qtbot.waitUntil(lambda: page.task("test") is None, timeout=WAIT_MS)
    assert (button.text(), button.isEnabled()) == ("Test Connection", True)


def test_a_key_the_server_refuses_is_shown_in_the_servers_words(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    openai_server.api_key = "the-right-key"
    page = providers_page(qtbot, open_window())
    add(page, "ollama")
    fill(page, "Ollama", openai_server.base_url, key="the-wrong-key")

    click(qtbot, page, "testConnectionButton")

    result = child(page, QLabel, "connectionResult")
    qtbot.waitUntil(lambda: "not accepted" in result.text(), timeout=WAIT_MS)
    text = result.text()
    assert text.startswith("API key not accepted: ")
    # The server's own sentence, with the key it echoed taken out.
    assert "You can find your API key in your account settings." in text
    assert "the-wrong-key" not in text
    assert result.property("isError") is True


def test_fields_that_cannot_be_used_are_shown_beside_them_and_nothing_is_saved(
    qtbot: Any, open_window: OpenWindow, data_dir: Path
) -> None:
    window = open_window()
    page = providers_page(qtbot, window)
    add(page, "ollama")
    fill(page, "", "not an address")
    child(page, QLineEdit, "inputPriceEdit").setText("cheap")

    click(qtbot, page, "providerApplyButton")

    assert page.task("apply") is None
    assert "Give the provider a name" in visible_text(child(page, QLabel, "nameProblem"))
    assert "http://" in visible_text(child(page, QLabel, "baseUrlProblem"))
    assert "both prices" in visible_text(child(page, QLabel, "pricesProblem"))
    assert "Nothing was saved" in visible_text(child(page, QLabel, "providerFeedback"))
    assert [each.preset_id for each in window._services.providers.profiles] == ["openai"]
    saved = read_preferences(data_dir / "preferences.json")
    assert [each.preset_id for each in saved.profiles] == ["openai"]


def test_a_saved_profile_survives_a_new_read_and_its_key_is_only_in_the_keyring(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    keyring = MemoryKeyring()
    page = providers_page(qtbot, open_window(keyring_backend=keyring))
    add(page, "openrouter")
    fill(page, "My router", openai_server.base_url, key=PROVIDER_KEY)
    child(page, QLineEdit, "inputPriceEdit").setText("1.5")
    child(page, QLineEdit, "outputPriceEdit").setText("6")

    apply(qtbot, page)

    assert "My router (OpenRouter)" in listed(page)
    assert visible_text(child(page, QLabel, "providerFeedback")) == "My router is saved."
    preferences_file = data_dir / "preferences.json"
    assert stat.S_IMODE(preferences_file.stat().st_mode) == 0o600
    again = Providers(read_preferences(preferences_file))
    saved = next(each for each in again.profiles if each.name == "My router")
    assert (saved.preset_id, saved.base_url, saved.prices) == (
        "openrouter",
        openai_server.base_url,
        Prices(1.5, 6.0),
    )
    assert any(PROVIDER_KEY in secret for secret in keyring.secrets.values())
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert PROVIDER_KEY.encode() not in path.read_bytes(), path
    # The field is empty again, and says a key is kept.
    key_edit = child(page, QLineEdit, "apiKeyEdit")
    assert key_edit.text() == ""
    qtbot.waitUntil(
        lambda: key_edit.placeholderText().startswith("A key is saved"), timeout=WAIT_MS
    )


def test_removing_a_profile_forgets_it_and_its_key(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    keyring = MemoryKeyring()
    window = open_window(keyring_backend=keyring)
    page = providers_page(qtbot, window)
    add(page, "openrouter")
    fill(page, "Doomed", openai_server.base_url, key=PROVIDER_KEY)
    apply(qtbot, page)

    click(qtbot, page, "removeProviderButton")
    box = child(page, QMessageBox, "removeProviderConfirmation")
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert "Doomed" in box.text()
    qtbot.mouseClick(
        child(box, QPushButton, "confirmRemoveProviderButton"), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: "Doomed" not in " ".join(listed(page)), timeout=WAIT_MS)

    assert all(each.name != "Doomed" for each in window._services.providers.profiles)
    saved = read_preferences(data_dir / "preferences.json")
    assert all(each.name != "Doomed" for each in saved.profiles)
    assert not any(PROVIDER_KEY in secret for secret in keyring.secrets.values())


def test_use_for_new_chats_makes_the_selected_profile_the_default(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    window = open_window()
    page = providers_page(qtbot, window)
    assert listed(page) == ["★ OpenAI — new chats"]
    add(page, "llamacpp")
    fill(page, "Local", openai_server.base_url)
    apply(qtbot, page)
    profile_id = page.selected_profile_id()
    assert profile_id is not None

    click(qtbot, page, "useForNewChatsButton")
    qtbot.waitUntil(lambda: page.task("default") is None, timeout=WAIT_MS)

    assert window._services.providers.default_profile.id == profile_id
    assert read_preferences(data_dir / "preferences.json").default_profile_id == profile_id
    assert listed(page) == ["OpenAI", "★ Local (llama.cpp) — new chats"]
    assert not child(page, QPushButton, "useForNewChatsButton").isEnabled()


def test_the_environments_profile_is_listed_marked_and_cannot_be_changed(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    page = providers_page(qtbot, open_window(environ=at_server(openai_server)))

    first = listed(page)[0]
    assert "Environment — from OPENAI_BASE_URL, not editable" in first
    assert page.selected_profile_id() == "environment"
    assert child(page, QLineEdit, "baseUrlEdit").isReadOnly()
    assert child(page, QLineEdit, "providerNameEdit").isReadOnly()
    assert not child(page, QLineEdit, "apiKeyEdit").isVisible()
    assert "OPENAI_BASE_URL" in visible_text(child(page, QLabel, "environmentNote"))
    for name in ("providerApplyButton", "removeProviderButton", "useForNewChatsButton"):
        assert not child(page, QPushButton, name).isEnabled(), name
    assert page.apply() is None
    assert page.confirm_remove() is None


def test_openais_key_is_changed_in_the_accounts_api_key_dialog(
    qtbot: Any, open_window: OpenWindow
) -> None:
    window = open_window()
    # A first run without a key opened it already: closed, to see the page open it.
    window.show_api_key_dialog().reject()
    page = providers_page(qtbot, window)
    assert page.select_profile(OPENAI_PROFILE_ID)
    assert not child(page, QLineEdit, "apiKeyEdit").isVisible()
    assert "API Key…" in visible_text(child(page, QLabel, "providerKeyNote"))

    click(qtbot, page, "accountKeyButton")

    dialog = child(window, ApiKeyDialog, "apiKeyDialog")
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
