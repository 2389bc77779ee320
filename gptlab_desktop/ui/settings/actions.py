"""The main window's side of the Settings window: one per window, built on first use.

Settings → Preferences… and Storage… show it on a page; a reply that failed for want of a key
shows the right place to enter one (``ask_provider_key``): the account's API key dialog for
OpenAI's built-in profile and the environment's, the Providers page on the profile otherwise.
The dialog's modules are imported on first use: none of them is needed to paint the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID
from gptlab_desktop.preferences import OPENAI_PROFILE_ID
from gptlab_desktop.ui.qt_helpers import bring_forward
from gptlab_desktop.ui.settings.pages import SettingsPage

if TYPE_CHECKING:
    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.ui.settings.dialog import SettingsDialog
    from gptlab_desktop.ui.settings.storage_page import StoragePage
    from gptlab_desktop.ui.window_services import WindowServices

# The profiles whose key is the account's, entered in the API key dialog.
ACCOUNT_KEY_PROFILES = frozenset({OPENAI_PROFILE_ID, ENVIRONMENT_PROFILE_ID})


class SettingsActions(QObject):
    """The Settings window of a main window."""

    def __init__(
        self,
        services: WindowServices,
        window: QWidget,
        *,
        show_account_key: Callable[[], QWidget],
        reopen: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self._services = services
        self._window = window
        self._show_account_key = show_account_key
        self._reopen = reopen
        self._sync: CloudSync | None = None
        self._dialog: SettingsDialog | None = None

    @property
    def dialog(self) -> SettingsDialog | None:
        """The Settings window, once built."""
        return self._dialog

    def attach_sync(self, sync: CloudSync) -> None:
        """The run's sync is known: the Storage page can be built."""
        self._sync = sync
        if self._dialog is not None:
            self._dialog.attach_sync(sync)

    def show(
        self, page: SettingsPage | None = None, *, profile_id: str | None = None
    ) -> SettingsDialog:
        """The Settings window, shown without blocking the main window, on ``page`` (else the
        one shown last) and, on Providers, with ``profile_id`` selected."""
        dialog = self._dialog
        if dialog is None:
            from gptlab_desktop.ui.settings.dialog import SettingsDialog

            dialog = SettingsDialog(
                self._services.providers,
                show_account_key=self._show_account_key,
                parent=self._window,
            )
            dialog.reopenRequested.connect(self._reopen)
            if self._sync is not None:
                dialog.attach_sync(self._sync)
            self._dialog = dialog
        if profile_id is not None:
            page = SettingsPage.PROVIDERS
            dialog.providers_page.select_profile(profile_id)
        if page is not None:
            dialog.show_page(page)
        bring_forward(dialog)
        return dialog

    def show_storage(self) -> StoragePage | None:
        """The Settings window on Storage; its page (None before the data is open)."""
        return self.show(SettingsPage.STORAGE).storage_page

    def ask_provider_key(self, profile_id: str) -> QWidget:
        """Where to enter the key a provider needs: the API key dialog for the account's
        profiles, else the Providers page on that profile, its key field ready and a sentence
        naming the provider and where its keys come from."""
        if profile_id in ACCOUNT_KEY_PROFILES:
            return self._show_account_key()
        dialog = self.show(SettingsPage.PROVIDERS)
        dialog.providers_page.ask_for_key(profile_id)
        return dialog

    def profiles_changed(self) -> None:
        """Profiles were added elsewhere (a local server's offer): list them again."""
        if self._dialog is not None:
            self._dialog.providers_page.refresh()

    async def close(self) -> None:
        """Close the Settings window and stop its work (the window is closing)."""
        if self._dialog is not None:
            await self._dialog.aclose()
