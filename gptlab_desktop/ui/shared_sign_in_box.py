"""The Storage dialog's sign-in to a team's shared project: email and password, a new account,
a password reset, a guest's sign-in, and signing out.

Every action goes to ``SharedSignIn`` (``CloudSync.accounts``); this box only collects and
shows. A sign-in that opens other data (the account's, or the local data after signing out)
offers to reopen the window on it (``reopenRequested``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.api_key_dialog import SecretLineEdit
from gptlab_desktop.ui.messages import describe_error
from gptlab_desktop.ui.naming import name_widget

if TYPE_CHECKING:
    from gptlab_desktop.config import StorageSettings
    from gptlab_desktop.services.shared_sign_in import SharedSignIn

SIGNED_OUT_TEXT = "Not signed in. Your data on this computer works as before."
REOPEN_TEXT = "GPT Lab Desktop reopens to show it."


class SharedSignInBox(QGroupBox):
    """Sign in to the shared project the dialog's form names (``settings``)."""

    #: The window should reopen on the storage now saved.
    reopenRequested = Signal()

    def __init__(
        self,
        accounts: SharedSignIn,
        settings: Callable[[], StorageSettings],
        tell: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Sign in to the shared project", parent)
        self._accounts = accounts
        self._settings = settings
        self._tell = tell
        self._tasks = TaskGroupByName()
        name_widget(self, "sharedSignInBox", "Sign in to the shared project")
        form = QFormLayout(self)
        self.signed_in_as = QLabel(SIGNED_OUT_TEXT)
        name_widget(self.signed_in_as, "signedInAs", "Who is signed in")
        self.signed_in_as.setWordWrap(True)
        form.addRow(self.signed_in_as)
        self.email = QLineEdit()
        name_widget(self.email, "signInEmail", "Email")
        self.email.setPlaceholderText("you@example.com")
        self.password = SecretLineEdit()
        name_widget(self.password, "signInPassword", "Password")
        self.display_name = QLineEdit()
        name_widget(self.display_name, "signUpDisplayName", "Your name, as others see it")
        self.display_name.setPlaceholderText("Shown on the assistants you publish")
        form.addRow("Email:", self.email)
        form.addRow("Password:", self.password)
        form.addRow("Name (new account):", self.display_name)
        self.sign_in_button = self._button("Sign in", "signInButton", self.sign_in)
        self.sign_up_button = self._button("Create account", "signUpButton", self.sign_up)
        self.reset_button = self._button(
            "Forgot password…", "resetPasswordButton", self.send_password_reset
        )
        self.anonymous_button = self._button(
            "Try as a guest", "anonymousSignInButton", self.sign_in_anonymously
        )
        self.sign_out_button = self._button("Sign out", "signOutButton", self.sign_out)
        row = QHBoxLayout()
        for button in (self.sign_in_button, self.sign_up_button, self.reset_button):
            row.addWidget(button)
        form.addRow(row)
        second = QHBoxLayout()
        second.addWidget(self.anonymous_button)
        second.addWidget(self.sign_out_button)
        form.addRow(second)
        self.password.returnPressed.connect(self.sign_in)

    def _button(self, text: str, name: str, slot: Callable[[], Any]) -> QPushButton:
        button = QPushButton(text)
        name_widget(button, name, text)
        button.clicked.connect(slot)
        return button

    def show_account(self, settings: StorageSettings) -> None:
        """Show who is signed in to ``settings``' shared project."""
        account = settings.account if settings.is_shared else None
        if account is None:
            self.signed_in_as.setText(SIGNED_OUT_TEXT)
        else:
            self.signed_in_as.setText(f"Signed in as {account.label}.")
        self.sign_out_button.setEnabled(account is not None)

    # -- actions ----------------------------------------------------------------------------
    def sign_in(self) -> asyncio.Task[None]:
        """Sign in with the email and password entered."""
        email, password = self.email.text(), self.password.text()
        return self._run(
            lambda: self._accounts.sign_in(self._settings(), email, password), "Signed in."
        )

    def sign_up(self) -> asyncio.Task[None]:
        """Create an account with the email, password and name entered."""
        email, password, name = self.email.text(), self.password.text(), self.display_name.text()
        return self._run(
            lambda: self._accounts.sign_up(self._settings(), email, password, name),
            "Your account was created and you are signed in.",
        )

    def sign_in_anonymously(self) -> asyncio.Task[None]:
        """Sign in as a guest."""
        return self._run(
            lambda: self._accounts.sign_in_anonymously(self._settings()),
            "Signed in as a guest.",
        )

    def sign_out(self) -> asyncio.Task[None]:
        """Sign out: the local data opens again."""
        return self._run(lambda: self._accounts.sign_out(self._settings()), "Signed out.")

    def send_password_reset(self) -> asyncio.Task[None]:
        """Email a link to choose a new password."""
        email = self.email.text()

        async def send() -> None:
            try:
                await self._accounts.send_password_reset(self._settings(), email)
            except ServiceError as error:
                self._tell(describe_error(error).text)
                return
            self._tell(f"A link to choose a new password was sent to {email.strip()}.")

        return self._tasks.start("account", send())

    def _run(self, action: Callable[[], Awaitable[bool]], done: str) -> asyncio.Task[None]:
        async def run() -> None:
            self._set_busy(True)
            try:
                reopens = await action()
            except ServiceError as error:
                self._tell(describe_error(error).text)
                return
            finally:
                self._set_busy(False)
            self.password.clear()
            self._tell(f"{done} {REOPEN_TEXT}" if reopens else done)
            if reopens:
                self.reopenRequested.emit()

        return self._tasks.start("account", run())

    def _set_busy(self, busy: bool) -> None:
        for button in (
            self.sign_in_button,
            self.sign_up_button,
            self.reset_button,
            self.anonymous_button,
        ):
            button.setEnabled(not busy)

    def task(self) -> asyncio.Task[Any] | None:
        """The sign-in (or out) in progress, if any."""
        return self._tasks.running("account")

    def forget_entries(self) -> None:
        """Clear the password (the dialog closes)."""
        self.password.clear()
