"""The API key dialog: enter, check and save the key, see where it lives, or remove it.

Shown on first run when no key is known, and from Settings → API Key…. Open it with ``open()``
(never ``exec()``, which would nest an event loop inside a coroutine) and listen to its signals:
``keySaved``, ``keyRemoved`` and ``continuedWithoutKey``.

The key goes from the line edit to ``Account.verify_and_save`` and nowhere else: never to
``QSettings``, the clipboard, a log line or a message. The line edit is in password mode (where
Qt copies nothing), offers no context menu, swallows the copy and cut shortcuts, and while the
key is shown it cannot be selected — so neither the clipboard nor X11's selection gets it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.config import API_KEY_ENV, is_openai_url
from gptlab_desktop.services.account import (
    Account,
    KeyLocation,
    KeyState,
)
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.secrets import KeyringState
from gptlab_desktop.ui.confirmation import Confirmation
from gptlab_desktop.ui.messages import describe_error
from gptlab_desktop.ui.naming import name_widget

log = logging.getLogger(__name__)

W = TypeVar("W", bound=QWidget)

CHECKING_TEXT = "Checking your key with the server…"
EMPTY_KEY_TEXT = "Enter your API key first."
REMOVED_TEXT = "The saved API key was removed."


def key_status_text(state: KeyState) -> str:
    """One sentence saying where the key in use lives (or that there is none)."""
    keyring_problem = state.keyring.reason or (
        "No system keyring can be used. Your API key will be kept in memory for this run only."
    )
    if state.location is KeyLocation.KEYRING:
        return "Your API key is stored in your system keyring."
    if state.location is KeyLocation.ENVIRONMENT:
        text = f"Using the key from the {API_KEY_ENV} environment variable — not saved."
        if state.has_saved_key:
            text += " The key saved here is used when the variable is not set."
        return text
    if state.location is KeyLocation.MEMORY:
        return keyring_problem
    if state.keyring.state is KeyringState.UNAVAILABLE:
        return f"No API key is set. {keyring_problem}"
    return "No API key is set."


def saved_text(state: KeyState) -> str:
    """What the user reads once a key was accepted and saved."""
    if state.location is KeyLocation.ENVIRONMENT:
        return (
            f"Key accepted and saved. The key from {API_KEY_ENV} is used while that "
            "variable is set."
        )
    if state.location is KeyLocation.MEMORY:
        return (
            "Key accepted. No system keyring can be used, so it is kept in memory for this run "
            "only."
        )
    return "Key accepted and saved in your system keyring."


def _display_url(url: str) -> str:
    """``url`` without any user:password part (it can hold credentials)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class SecretLineEdit(QLineEdit):
    """A line edit for a secret: password mode, and its text never reaches a clipboard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setDragEnabled(False)
        self.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
            | Qt.InputMethodHint.ImhNoAutoUppercase
        )
        self.selectionChanged.connect(self._forbid_selection_while_revealed)

    @property
    def is_revealed(self) -> bool:
        """Whether the secret is shown in clear text."""
        return self.echoMode() is QLineEdit.EchoMode.Normal

    def set_revealed(self, revealed: bool) -> None:
        """Show the secret in clear text, or mask it again."""
        self.deselect()
        self.setEchoMode(QLineEdit.EchoMode.Normal if revealed else QLineEdit.EchoMode.Password)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Copy and cut do nothing here, whatever the echo mode."""
        if event.matches(QKeySequence.StandardKey.Copy) or event.matches(
            QKeySequence.StandardKey.Cut
        ):
            event.accept()
            return
        super().keyPressEvent(event)

    def _forbid_selection_while_revealed(self) -> None:
        # Selected clear text would reach X11's selection clipboard on mouse release, and a
        # copy shortcut from elsewhere could take it: while revealed, nothing stays selected.
        if self.is_revealed and self.hasSelectedText():
            self.deselect()


class ApiKeyDialog(QDialog):
    """Enter, check and save the API key; shows where it lives; removes it on request."""

    keySaved = Signal()
    keyRemoved = Signal()
    continuedWithoutKey = Signal()

    def __init__(
        self, account: Account, base_url: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._account = account
        self._base_url = base_url
        self._tasks = TaskGroupByName()
        self._is_busy = False
        self._state = account.state
        self._confirmation: Confirmation | None = None
        self.setObjectName("apiKeyDialog")
        self.setWindowTitle("API Key")
        self.setMinimumWidth(480)

        server = _display_url(account.effective_base_url(base_url))
        intro = QLabel(
            "GPT Lab Desktop talks to the AI service with your API key. The key is checked "
            "with the server first, then kept in your system keyring — never in a file.",
            self,
        )
        intro.setWordWrap(True)
        self._server_label = self._named(QLabel(f"Server: {server}", self), "baseUrlLabel")
        self._server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.key_edit = self._named(SecretLineEdit(self), "apiKeyEdit", "API key")
        self.key_edit.setPlaceholderText("sk-…")
        self.show_button = self._named(QToolButton(self), "showKeyButton", "Show the key")
        self.show_button.setText("Show")
        self.show_button.setCheckable(True)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.show_button)

        self.status_label = self._named(QLabel(self), "keyStatusLabel", "Where the key lives")
        self.status_label.setWordWrap(True)
        self.feedback_label = self._named(QLabel(self), "keyFeedbackLabel", "Key check result")
        self.feedback_label.setWordWrap(True)
        self.feedback_label.setTextFormat(Qt.TextFormat.PlainText)

        self.save_button = self._named(QPushButton("Check and Save", self), "saveKeyButton")
        self.save_button.setDefault(True)
        self.remove_button = self._named(QPushButton("Remove Saved Key…", self), "removeKeyButton")
        self.continue_button = self._named(
            QPushButton("Continue Without a Key", self), "continueWithoutKeyButton"
        )
        self.continue_button.setToolTip(
            "For OpenAI-compatible servers that need no key, such as a local model server."
        )
        self.continue_button.setVisible(not is_openai_url(account.effective_base_url(base_url)))
        self.close_button = self._named(QPushButton("Close", self), "closeButton")
        self.close_button.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.continue_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self._server_label)
        layout.addLayout(key_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.feedback_label)
        layout.addLayout(buttons)

        self.key_edit.textChanged.connect(self._update_buttons)
        self.show_button.toggled.connect(self._reveal)
        self.save_button.clicked.connect(self.save)
        self.remove_button.clicked.connect(self.confirm_remove)
        self.continue_button.clicked.connect(self._continue_without_key)
        self.close_button.clicked.connect(self.reject)

        self._render_state(account.state)
        if not account.is_loaded:
            self._tasks.start("load", self._load())

    def _named(self, widget: W, object_name: str, accessible: str = "") -> W:
        name_widget(widget, object_name, accessible or object_name)
        return widget

    # -- actions -------------------------------------------------------------------------------

    def save(self) -> asyncio.Task[None] | None:
        """Check the entered key with the server and save it if accepted (the Save button)."""
        key = self.key_edit.text().strip()
        if not key:
            self._show_feedback(EMPTY_KEY_TEXT, is_error=True)
            return None
        # Busy at once, before the task first runs: the click is answered in the same frame.
        self._set_busy(True)
        self._show_feedback(CHECKING_TEXT)
        return self._tasks.start("save", self._save(key))

    def confirm_remove(self) -> QMessageBox:
        """Ask before removing the saved key (opened with ``open()``; Remove confirms)."""
        if self._confirmation is None:
            self._confirmation = Confirmation(
                self,
                title="Remove API Key",
                object_name="removeKeyConfirmation",
                confirm_text="Remove",
                confirm_name="confirmRemoveKeyButton",
            )
            self._confirmation.confirmed.connect(self._on_remove_confirmed)
        return self._confirmation.ask(
            "Remove the saved API key from this computer? You will need to enter it again to chat."
        )

    def _on_remove_confirmed(self) -> None:
        self._tasks.start("remove", self._remove())

    def task(self, name: str) -> asyncio.Task[object] | None:
        """The running task ``load``, ``save`` or ``remove``, if any (tests wait on it)."""
        return self._tasks.running(name)

    def done(self, result: int) -> None:
        """Close: stop a check in progress and forget the typed key."""
        for name in ("load", "save", "remove"):
            running = self._tasks.running(name)
            if running is not None:
                running.cancel()
        self.key_edit.clear()
        self.show_button.setChecked(False)
        super().done(result)

    # -- the work ------------------------------------------------------------------------------

    async def _load(self) -> None:
        try:
            state = await self._account.load()
        except Exception as error:
            log.error("Reading the saved API key failed (%s)", type(error).__name__)
            self._show_feedback(describe_error(error).text, is_error=True)
            return
        self._render_state(state)

    async def _save(self, key: str) -> None:
        try:
            state = await self._account.verify_and_save(key, self._base_url)
        except ServiceError as error:
            # Typed errors carry a sentence for the user, and never the key (services/llm.py).
            log.info("The API key was not saved (%s)", type(error).__name__)
            self._show_feedback(error.message, is_error=True)
            return
        except Exception as error:
            # The message of an untyped error might quote its input: only the type is logged.
            log.error("Saving the API key failed unexpectedly (%s)", type(error).__name__)
            self._show_feedback(describe_error(error).text, is_error=True)
            return
        finally:
            self._set_busy(False)
        self.key_edit.clear()
        self.show_button.setChecked(False)
        self._render_state(state)
        self._show_feedback(saved_text(state))
        self.keySaved.emit()

    async def _remove(self) -> None:
        self._set_busy(True)
        try:
            state = await self._account.remove()
        except Exception as error:
            log.error("Removing the API key failed (%s)", type(error).__name__)
            self._show_feedback(describe_error(error).text, is_error=True)
            return
        finally:
            self._set_busy(False)
        self._render_state(state)
        self._show_feedback(REMOVED_TEXT)
        self.keyRemoved.emit()

    def _continue_without_key(self) -> None:
        self.continuedWithoutKey.emit()
        self.accept()

    # -- display -------------------------------------------------------------------------------

    def _reveal(self, revealed: bool) -> None:
        self.key_edit.set_revealed(revealed)
        self.show_button.setText("Hide" if revealed else "Show")
        self.show_button.setAccessibleName("Hide the key" if revealed else "Show the key")

    def _render_state(self, state: KeyState) -> None:
        self._state = state
        self.status_label.setText(key_status_text(state))
        self._update_buttons()

    def _show_feedback(self, text: str, *, is_error: bool = False) -> None:
        self.feedback_label.setText(text)
        self.feedback_label.setProperty("isError", is_error)
        # Red for a refusal; the theme's own colour for progress and success.
        self.feedback_label.setStyleSheet("color: #b00020;" if is_error else "")

    def _set_busy(self, busy: bool) -> None:
        self._is_busy = busy
        self.key_edit.setReadOnly(busy)
        self.save_button.setText("Checking…" if busy else "Check and Save")
        self._update_buttons()

    def _update_buttons(self) -> None:
        idle = not self._is_busy
        self.save_button.setEnabled(idle and bool(self.key_edit.text().strip()))
        self.remove_button.setEnabled(idle and self._state.has_saved_key)
        self.continue_button.setEnabled(idle)
