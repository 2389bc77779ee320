"""Settings → API Key…: the key dialog, the keyring notice, and following a key change.

A key saved or removed in the dialog goes to the chat at once (``Services.use_current_key``);
the user stays the same (the store's own), and a real OpenAI key's hash is recorded on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from gptlab_desktop.models import User
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.messages import MessagePresenter
from gptlab_desktop.ui.qt_helpers import bring_forward

if TYPE_CHECKING:
    from gptlab_desktop.services.account import KeyState
    from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
    from gptlab_desktop.ui.window_services import WindowServices

# The keyring notice is said once and must be readable: longer than a passing message.
KEYRING_NOTICE_MS = 15_000


class AccountActions(QObject):
    """The API key dialog of a window, and what follows a key change."""

    #: The key in use changed and the chat follows it; carries the user record (or None).
    keyChanged = Signal(object)

    def __init__(
        self, services: WindowServices, messages: MessagePresenter, window: QWidget
    ) -> None:
        super().__init__(window)
        self._services = services
        self._messages = messages
        self._window = window
        self._dialog: ApiKeyDialog | None = None
        self._has_told_keyring = False
        self._tasks = TaskGroupByName()

    def show_key_state(self, state: KeyState, *, needs_key: bool) -> None:
        """The saved key has been read: say where secrets live; ask for a key if one is needed."""
        self._tell_keyring_status(state)
        if state.api_key is None and needs_key:
            # Not modal: the lobby and past sessions can be browsed while the key is found.
            self.show_dialog()

    def _tell_keyring_status(self, state: KeyState) -> None:
        """Say once, in the status bar, that secrets stay in memory because no keyring works."""
        status = state.keyring
        if status.is_available or not status.reason or self._has_told_keyring:
            return
        self._has_told_keyring = True
        self._messages.show_status(status.reason, KEYRING_NOTICE_MS)

    def show_dialog(self) -> ApiKeyDialog:
        """The key dialog, shown without blocking the window."""
        from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog

        dialog = self._dialog
        if dialog is None:
            dialog = ApiKeyDialog(self._services.account, parent=self._window)
            dialog.keySaved.connect(self._on_key_changed)
            dialog.keyRemoved.connect(self._on_key_changed)
            self._dialog = dialog
        # show(), not open(): open() would make it window-modal, and the window should stay
        # usable for browsing while the user fetches a key.
        bring_forward(dialog)
        return dialog

    def _on_key_changed(self) -> None:
        self._tasks.start("account", self._follow_account())

    async def _follow_account(self) -> None:
        """Use the new key (or none) for the chat; the user and the lists stay the same."""
        await self._services.use_current_key()
        account = self._services.account
        self._tell_keyring_status(account.state)
        user: User | None = None
        try:
            # The same user; a real OpenAI key's hash is recorded on it.
            user = await account.current_user()
        except ServiceError as error:
            self._messages.show_error(error, doing="Updating your user record")
        self.keyChanged.emit(user)

    async def close(self) -> None:
        """Close the dialog and stop following a change (the window is closing)."""
        if self._dialog is not None:
            self._dialog.reject()
        await self._tasks.cancel_all()
