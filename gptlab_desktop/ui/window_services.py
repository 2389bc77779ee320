"""What the window may use of a run's services: a narrow, typed view of ``Services``.

The window and its parts are given the run's ``services.bundle.Services``, but they see it
through this protocol: the lobby's data, the chat engine, the session library, the lab, the
account and the token counter — never the store itself, which only services touch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gptlab_desktop.config import LocalServer
    from gptlab_desktop.services.account import Account
    from gptlab_desktop.services.assistant_lab import AssistantLab
    from gptlab_desktop.services.chat import SessionEngine
    from gptlab_desktop.services.lobby import Lobby
    from gptlab_desktop.services.providers import Providers
    from gptlab_desktop.services.session_library import SessionLibrary
    from gptlab_desktop.services.tokens import TokenCounter


class WindowServices(Protocol):
    """The services the window reaches; each is built on first use."""

    @property
    def lobby(self) -> Lobby:
        """The lobby's assistants."""

    @property
    def engine(self) -> SessionEngine:
        """Chat sessions: sending, streaming, storing."""

    @property
    def library(self) -> SessionLibrary:
        """Past sessions: listing, searching, renaming, exporting, deleting."""

    @property
    def lab(self) -> AssistantLab:
        """Writing assistants: create, version, try, import and export."""

    @property
    def account(self) -> Account:
        """The API key in use and the user's identity."""

    @property
    def tokens(self) -> TokenCounter:
        """Token counting."""

    @property
    def providers(self) -> Providers:
        """The AI providers: profiles, their models, keys and what is known of them."""

    @property
    def local_servers(self) -> tuple[LocalServer, ...]:
        """Where the first run looks for local AI servers."""

    async def use_current_key(self) -> None:
        """Make the chat send the account's key in use now."""
