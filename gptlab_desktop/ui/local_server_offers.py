"""First run: the local AI servers found on this computer, each offered in a bar at the top.

Once the window is built, ``look`` asks ``Providers.look_for_local_servers`` in the background
(bounded, once per data directory: the service remembers it looked). Each server found gets a
bar — "Found Ollama at http://127.0.0.1:11434/v1" — with Add, Add and Use for New Chats, and
Not Now. Nothing waits for the look, and nothing is saved until the user adds a server.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gptlab_desktop.preferences import ProviderProfile
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.messages import MessagePresenter, describe_failure
from gptlab_desktop.ui.naming import name_widget

if TYPE_CHECKING:
    from gptlab_desktop.ui.window_services import WindowServices

log = logging.getLogger(__name__)

# The longest the look may take, whatever the candidates (each is bounded on its own too).
LOOK_TIMEOUT_S = 5.0


def offer_text(profile: ProviderProfile) -> str:
    """What an offer says."""
    return f"Found {profile.preset.label} at {profile.base_url} — add it as a provider?"


class LocalServerOffer(QFrame):
    """One server found: what it is and where, and what can be done with it."""

    def __init__(self, profile: ProviderProfile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        name_widget(self, "localServerOffer", f"{profile.preset.label} found")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text_label = QLabel(offer_text(profile))
        name_widget(self.text_label, "localServerOfferText", "Local server found")
        self.text_label.setWordWrap(True)
        self.add_button = QPushButton("Add It")
        name_widget(self.add_button, "addLocalServerButton", f"Add {profile.preset.label}")
        self.default_button = QPushButton("Add and Use for New Chats")
        name_widget(
            self.default_button,
            "useLocalServerButton",
            f"Add {profile.preset.label} and use it for new chats",
        )
        self.dismiss_button = QPushButton("Not Now")
        name_widget(self.dismiss_button, "dismissLocalServerButton", "Do not add it")
        bar = QHBoxLayout(self)
        bar.setContentsMargins(8, 4, 8, 4)
        bar.addWidget(self.text_label, 1)
        for button in (self.add_button, self.default_button, self.dismiss_button):
            bar.addWidget(button)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while the server is being added."""
        for button in (self.add_button, self.default_button, self.dismiss_button):
            button.setEnabled(not busy)


class LocalServerOffers(QWidget):
    """The bars of the local servers found (hidden while there are none)."""

    #: A local server was saved as a provider (carries its profile id).
    profileAdded = Signal(str)

    def __init__(
        self, services: WindowServices, messages: MessagePresenter, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._messages = messages
        self._tasks = TaskGroupByName()
        self._offers: list[LocalServerOffer] = []
        name_widget(self, "localServerOffers", "Local AI servers found")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 0)
        self.hide()

    @property
    def offers(self) -> list[LocalServerOffer]:
        """The offers shown now."""
        return list(self._offers)

    @property
    def is_looking(self) -> bool:
        """Whether the servers are still being looked for."""
        return self._tasks.running("look") is not None

    def look(self) -> asyncio.Task[None]:
        """Look for local servers in the background, and offer each one found."""
        return self._tasks.start("look", self._look())

    async def _look(self) -> None:
        try:
            async with asyncio.timeout(LOOK_TIMEOUT_S):
                found = await self._services.providers.look_for_local_servers(
                    self._services.local_servers
                )
        except TimeoutError:
            log.info("Looking for local AI servers took too long; none is offered")
            return
        except (OSError, ServiceError) as error:
            log.warning("Looking for local AI servers failed (%s)", type(error).__name__)
            return
        for profile in found:
            self._offer(profile)

    def _offer(self, profile: ProviderProfile) -> LocalServerOffer:
        offer = LocalServerOffer(profile, self)
        offer.add_button.clicked.connect(lambda: self.add(offer, make_default=False))
        offer.default_button.clicked.connect(lambda: self.add(offer, make_default=True))
        offer.dismiss_button.clicked.connect(lambda: self._withdraw(offer))
        self._layout.addWidget(offer)
        self._offers.append(offer)
        self.show()
        return offer

    def add(self, offer: LocalServerOffer, *, make_default: bool) -> asyncio.Task[None]:
        """Save the offered server as a provider (and, if asked, the one new chats use)."""
        offer.set_busy(True)
        return self._tasks.start(
            f"add:{offer.profile.id}", self._add(offer, make_default=make_default)
        )

    async def _add(self, offer: LocalServerOffer, *, make_default: bool) -> None:
        profile = offer.profile
        providers = self._services.providers
        try:
            await providers.save_profile(profile)
            if make_default:
                await providers.set_default(profile.id)
        except ValueError as error:
            self._refused(offer, str(error))
            return
        except ServiceError as error:
            self._refused(offer, describe_failure(error, doing="Adding a local server").text)
            return
        self._withdraw(offer)
        used = " New chats use it." if make_default else ""
        self._messages.show_status(f"{profile.name} was added to Settings → Providers.{used}")
        self.profileAdded.emit(profile.id)

    def _refused(self, offer: LocalServerOffer, text: str) -> None:
        offer.text_label.setText(text)
        offer.set_busy(False)

    def _withdraw(self, offer: LocalServerOffer) -> None:
        if offer in self._offers:
            self._offers.remove(offer)
        self._layout.removeWidget(offer)
        offer.hide()
        offer.deleteLater()
        self.setVisible(bool(self._offers))

    async def aclose(self) -> None:
        """Stop looking and adding (the window is closing)."""
        await self._tasks.cancel_all()
