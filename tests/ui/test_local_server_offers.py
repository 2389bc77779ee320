"""First run: a local AI server answering where the app looks is offered in a bar at the top of
the window (after the window is built, never before it paints), and adding it saves it as a
provider — for new chats too, if asked; a server that does not answer is not offered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from gptlab_desktop.config import LOCAL_SERVERS_ENV
from gptlab_desktop.preferences import read_preferences
from gptlab_desktop.ui.local_server_offers import LocalServerOffer
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.openai_server import FakeOpenAIServer, unused_loopback_url
from tests.ui.conftest import WAIT_MS, OpenWindow, close_window


def looking_at(base_url: str) -> dict[str, str]:
    return {LOCAL_SERVERS_ENV: f"ollama={base_url}"}


def the_offer(qtbot: Any, window: MainWindow) -> LocalServerOffer:
    offers = window.local_server_offers
    qtbot.waitUntil(lambda: len(offers.offers) == 1, timeout=WAIT_MS)
    offer = window.findChild(LocalServerOffer, "localServerOffer")
    assert offer is not None and offer.isVisible()
    return offer


def take(qtbot: Any, window: MainWindow, offer: LocalServerOffer, button: str) -> None:
    """Press one of the offer's buttons and wait until the offer is gone."""
    qtbot.mouseClick(offer.findChild(QPushButton, button), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.local_server_offers.offers, timeout=WAIT_MS)


def test_a_local_server_found_is_offered_and_adding_it_saves_it_as_a_provider(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    window = open_window(environ=looking_at(openai_server.base_url))
    offer = the_offer(qtbot, window)
    assert offer.text_label.text().startswith(f"Found Ollama at {openai_server.base_url}")

    take(qtbot, window, offer, "addLocalServerButton")

    providers = window._services.providers
    added = [each for each in providers.profiles if each.base_url == openai_server.base_url]
    assert [each.preset_id for each in added] == ["ollama"]
    assert providers.default_profile.id != added[0].id
    saved = read_preferences(data_dir / "preferences.json")
    assert added[0] in saved.profiles
    assert saved.looked_for_local_servers
    assert not window.local_server_offers.isVisible()


def test_a_local_server_can_be_added_for_new_chats(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer
) -> None:
    window = open_window(environ=looking_at(openai_server.base_url))

    take(qtbot, window, the_offer(qtbot, window), "useLocalServerButton")

    default = window._services.providers.default_profile
    assert (default.preset_id, default.base_url) == ("ollama", openai_server.base_url)


def test_not_now_saves_nothing_and_a_later_run_does_not_look_again(
    qtbot: Any, open_window: OpenWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    window = open_window(environ=looking_at(openai_server.base_url))

    take(qtbot, window, the_offer(qtbot, window), "dismissLocalServerButton")

    assert [each.id for each in read_preferences(data_dir / "preferences.json").profiles] == [
        "openai"
    ]
    close_window(qtbot, window)
    again = open_window(environ=looking_at(openai_server.base_url))
    qtbot.waitUntil(lambda: not again.local_server_offers.is_looking, timeout=WAIT_MS)
    assert again.local_server_offers.offers == []
    assert len(openai_server.requests_to("models")) == 1  # asked on the first run only


def test_a_server_that_does_not_answer_is_not_offered(
    qtbot: Any, open_window: OpenWindow, data_dir: Path
) -> None:
    window = open_window(environ=looking_at(unused_loopback_url()))

    qtbot.waitUntil(lambda: not window.local_server_offers.is_looking, timeout=WAIT_MS)
    assert read_preferences(data_dir / "preferences.json").looked_for_local_servers
    assert window.local_server_offers.offers == []
    assert not window.local_server_offers.isVisible()
