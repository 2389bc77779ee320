"""The Settings window's Storage page: where the data is kept, the sync, the recovery kit.

The user chooses **Local only** (the default), **My Firestore project** (project id, database
id, and credentials: Application Default Credentials, or a service-account key file imported
into the keyring — never kept on disk by the app) or **Shared project (sign in)** (a team's
project id and Web API key, then a sign-in: ``shared_sign_in_box``); sees the sync's state and
the writes the cloud refused, with why, and can send those again; syncs now; sees the recovery
kit again after re-entering the passphrase; and joins the history another machine set up with
its kit.

Every action goes to ``CloudSync`` (a service); this page only lays out, collects and shows.
Its form is applied with its own Apply button, as every page of the Settings window is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.config import (
    DEFAULT_FIRESTORE_DATABASE,
    CloudCredentials,
    StorageMode,
    StorageSettings,
)
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.api_key_dialog import SecretLineEdit
from gptlab_desktop.ui.messages import describe_error, sync_status_text
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.shared_sign_in_box import SharedSignInBox

if TYPE_CHECKING:
    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.services.sync_status import SyncStatus

LOCAL_LABEL = "Local only"
FIRESTORE_LABEL = "My Firestore project"
SHARED_LABEL = "Shared project (sign in)"


class StoragePage(QWidget):
    """Where the data is kept, and the sync with the user's Firestore project."""

    #: The storage settings were applied (carries the new ``StorageSettings``).
    storageChanged = Signal(object)
    #: The storage now saved opens other data: the window should reopen on it.
    reopenRequested = Signal()

    def __init__(self, sync: CloudSync, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sync = sync
        self._tasks = TaskGroupByName()
        # The name it had as a dialog of its own: automation finds the storage controls by it.
        name_widget(self, "storageDialog", "Storage")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._where_box())
        self.sign_in_box = SharedSignInBox(sync.accounts, self.settings_entered, self._tell)
        self.sign_in_box.reopenRequested.connect(self.reopenRequested)
        layout.addWidget(self.sign_in_box)
        layout.addWidget(self._status_box())
        layout.addWidget(self._kit_box())
        self.feedback = self._named(QLabel(), "storageFeedback", "What happened")
        self.feedback.setWordWrap(True)
        layout.addWidget(self.feedback)
        self.apply_button = self._named(
            QPushButton("Apply"), "storageApplyButton", "Apply the storage settings"
        )
        self.apply_button.clicked.connect(self.apply)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        layout.addLayout(buttons)
        self._show_settings(sync.settings)
        self._show_status(sync.status)
        sync.on_status(self._show_status)
        self._tasks.start("refused", self._load_refused())

    def _named(self, widget: Any, object_name: str, accessible: str) -> Any:
        name_widget(widget, object_name, accessible)
        return widget

    # -- layout -----------------------------------------------------------------------------
    def _where_box(self) -> QGroupBox:
        box = QGroupBox("Where your data is kept")
        form = QFormLayout(box)
        self.local_choice = self._named(QRadioButton(LOCAL_LABEL), "storageLocal", LOCAL_LABEL)
        self.firestore_choice = self._named(
            QRadioButton(FIRESTORE_LABEL), "storageFirestore", FIRESTORE_LABEL
        )
        self.shared_choice = self._named(QRadioButton(SHARED_LABEL), "storageShared", SHARED_LABEL)
        modes = QButtonGroup(self)
        for button in (self.local_choice, self.firestore_choice, self.shared_choice):
            modes.addButton(button)
            form.addRow(button)
        self.project = self._named(QLineEdit(), "firestoreProject", "Firestore project id")
        self.project.setPlaceholderText("my-project-id")
        self.database = self._named(QLineEdit(), "firestoreDatabase", "Firestore database id")
        self.database.setPlaceholderText(DEFAULT_FIRESTORE_DATABASE)
        form.addRow("Project id:", self.project)
        form.addRow("Database id:", self.database)
        self.api_key = self._named(
            QLineEdit(), "firebaseApiKey", "The shared project's Web API key"
        )
        self.api_key.setPlaceholderText("The shared project's Web API key (from your team)")
        form.addRow("Web API key:", self.api_key)
        self.adc_choice = self._named(
            QRadioButton("Application Default Credentials (gcloud)"),
            "credentialsDefault",
            "Use Application Default Credentials",
        )
        self.key_choice = self._named(
            QRadioButton("A service-account key, kept in your keyring"),
            "credentialsServiceAccount",
            "Use a service-account key",
        )
        credentials = QButtonGroup(self)
        credentials.addButton(self.adc_choice)
        credentials.addButton(self.key_choice)
        self.import_key_button = self._named(
            QPushButton("Import key file…"), "importServiceAccountButton", "Import a key file"
        )
        self.import_key_button.clicked.connect(self.choose_key_file)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_choice)
        key_row.addWidget(self.import_key_button)
        form.addRow("Sign in with:", self.adc_choice)
        form.addRow("", key_row)
        self.local_choice.toggled.connect(self._update_enabled)
        self.firestore_choice.toggled.connect(self._update_enabled)
        self.key_choice.toggled.connect(self._update_enabled)
        return box

    def _status_box(self) -> QGroupBox:
        box = QGroupBox("Sync")
        layout = QVBoxLayout(box)
        self.status_label = self._named(QLabel(), "storageStatus", "Sync status")
        self.status_label.setWordWrap(True)
        self.sync_now_button = self._named(QPushButton("Sync now"), "syncNowButton", "Sync now")
        self.sync_now_button.clicked.connect(self.sync_now)
        row = QHBoxLayout()
        row.addWidget(self.status_label, 1)
        row.addWidget(self.sync_now_button)
        layout.addLayout(row)
        self.refused = self._named(QPlainTextEdit(), "refusedWrites", "Writes the cloud refused")
        self.refused.setReadOnly(True)
        self.refused.setMaximumHeight(90)
        self.retry_button = self._named(
            QPushButton("Send refused writes again"), "retryRefusedButton", "Send refused again"
        )
        self.retry_button.clicked.connect(self.retry_refused)
        layout.addWidget(self.refused)
        layout.addWidget(self.retry_button)
        return box

    def _kit_box(self) -> QGroupBox:
        box = QGroupBox("Recovery kit")
        layout = QVBoxLayout(box)
        explain = QLabel(
            "What you store in the cloud is encrypted with a key only your recovery kit opens. "
            "Keep the kit safe: another computer needs it to read your history."
        )
        explain.setWordWrap(True)
        layout.addWidget(explain)
        self.passphrase = self._named(SecretLineEdit(), "kitPassphrase", "Passphrase")
        self.passphrase.setPlaceholderText("Passphrase (if you set one)")
        self.show_kit_button = self._named(
            QPushButton("Show recovery kit"), "showRecoveryKitButton", "Show the recovery kit"
        )
        self.show_kit_button.clicked.connect(self.show_kit)
        self.unlock_button = self._named(
            QPushButton("Unlock"), "unlockHistoryButton", "Unlock the history with the passphrase"
        )
        self.unlock_button.clicked.connect(self.unlock)
        row = QHBoxLayout()
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.unlock_button)
        row.addWidget(self.show_kit_button)
        layout.addLayout(row)
        self.new_passphrase = self._named(SecretLineEdit(), "newPassphrase", "New passphrase")
        self.new_passphrase.setPlaceholderText("New passphrase (empty: none)")
        self.change_passphrase_button = self._named(
            QPushButton("Change passphrase"), "changePassphraseButton", "Change the passphrase"
        )
        self.change_passphrase_button.clicked.connect(self.change_passphrase)
        change_row = QHBoxLayout()
        change_row.addWidget(self.new_passphrase, 1)
        change_row.addWidget(self.change_passphrase_button)
        layout.addLayout(change_row)
        self.kit_text = self._named(QPlainTextEdit(), "recoveryKitText", "Recovery kit")
        self.kit_text.setPlaceholderText("Paste a recovery kit here to join its history.")
        self.kit_text.setMaximumHeight(110)
        layout.addWidget(self.kit_text)
        actions = QHBoxLayout()
        self.copy_kit_button = self._named(QPushButton("Copy"), "copyRecoveryKitButton", "Copy")
        self.copy_kit_button.clicked.connect(self._copy_kit)
        self.save_kit_button = self._named(QPushButton("Save…"), "saveRecoveryKitButton", "Save")
        self.save_kit_button.clicked.connect(self.choose_kit_file)
        self.join_button = self._named(
            QPushButton("Join with this kit"), "joinWithKitButton", "Join with this kit"
        )
        self.join_button.clicked.connect(self.join)
        for button in (self.copy_kit_button, self.save_kit_button, self.join_button):
            actions.addWidget(button)
        layout.addLayout(actions)
        return box

    # -- showing ----------------------------------------------------------------------------
    def _show_settings(self, settings: StorageSettings) -> None:
        self._shown = settings
        self.local_choice.setChecked(settings.mode is StorageMode.LOCAL)
        self.firestore_choice.setChecked(settings.mode is StorageMode.FIRESTORE)
        self.shared_choice.setChecked(settings.mode is StorageMode.SHARED)
        self.project.setText(settings.project_id)
        self.api_key.setText(settings.firebase_api_key)
        self.sign_in_box.show_account(settings)
        database = settings.database_id
        self.database.setText("" if database == DEFAULT_FIRESTORE_DATABASE else database)
        uses_key = settings.credentials is CloudCredentials.SERVICE_ACCOUNT
        self.key_choice.setChecked(uses_key)
        self.adc_choice.setChecked(not uses_key)
        self._update_enabled()

    def _update_enabled(self) -> None:
        is_own = self.firestore_choice.isChecked()
        is_shared = self.shared_choice.isChecked()
        self.project.setEnabled(is_own or is_shared)
        for widget in (self.database, self.adc_choice, self.key_choice):
            widget.setEnabled(is_own)
        self.import_key_button.setEnabled(is_own and self.key_choice.isChecked())
        self.api_key.setEnabled(is_shared)
        self.sign_in_box.setVisible(is_shared)

    def _show_status(self, status: SyncStatus) -> None:
        self.status_label.setText(sync_status_text(status))
        self.sync_now_button.setEnabled(self._sync.settings.is_cloud)
        self.retry_button.setEnabled(status.refused > 0)
        if status.refused:
            self._tasks.start("refused", self._load_refused())

    def _tell(self, text: str) -> None:
        self.feedback.setText(text)

    def _tell_error(self, error: Exception) -> None:
        self.feedback.setText(describe_error(error).text)

    def settings_entered(self) -> StorageSettings:
        """The settings as the form holds them (the account signed in stays while the shared
        project does)."""
        mode = StorageMode.LOCAL
        if self.firestore_choice.isChecked():
            mode = StorageMode.FIRESTORE
        elif self.shared_choice.isChecked():
            mode = StorageMode.SHARED
        credentials = (
            CloudCredentials.SERVICE_ACCOUNT
            if self.key_choice.isChecked()
            else CloudCredentials.APPLICATION_DEFAULT
        )
        project_id = self.project.text().strip()
        api_key = self.api_key.text().strip()
        shown = self._shown
        same_project = (shown.project_id, shown.firebase_api_key) == (project_id, api_key)
        return StorageSettings(
            mode=mode,
            project_id=project_id,
            database_id=self.database.text().strip() or DEFAULT_FIRESTORE_DATABASE,
            credentials=credentials,
            firebase_api_key=api_key,
            account=shown.account if same_project else None,
        )

    # -- actions ----------------------------------------------------------------------------
    def _start(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._tasks.start(name, work)

    def apply(self) -> asyncio.Task[None] | None:
        """Apply the form: switch storage (nothing written is lost)."""
        settings = self.settings_entered()
        if settings.mode is not StorageMode.LOCAL and not settings.project_id:
            self._tell("Enter the Firestore project id first.")
            self.project.setFocus()
            return None
        if settings.is_shared and not settings.firebase_api_key:
            self._tell("Enter the shared project's Web API key first (your team gives it).")
            self.api_key.setFocus()
            return None
        return self._start("apply", self._apply(settings))

    async def _apply(self, settings: StorageSettings) -> None:
        self.apply_button.setEnabled(False)
        try:
            reopens = await self._sync.apply(settings)
        except ServiceError as error:
            self._tell_error(error)
            return
        finally:
            self.apply_button.setEnabled(True)
        self._shown = settings
        self.sign_in_box.show_account(settings)
        if settings.is_shared and settings.account is None:
            self._tell("Saved. Sign in to the shared project to see its lobby.")
        elif not settings.is_cloud:
            self._tell("Your data is kept on this computer only.")
        else:
            self._tell(f"Syncing with {settings.project_id}.")
        self.storageChanged.emit(settings)
        if reopens:
            self.reopenRequested.emit()

    def sync_now(self) -> asyncio.Task[None]:
        """Pull other computers' changes and send this one's now."""
        return self._start("sync", self._sync_now())

    async def _sync_now(self) -> None:
        self.sync_now_button.setEnabled(False)
        try:
            report = await self._sync.sync_now()
        except ServiceError as error:
            self._tell_error(error)
        else:
            count = sum(len(ids) for ids in report.changes.changed.values())
            self._tell("Up to date." if count == 0 else f"{count:,} changes arrived.")
        finally:
            self.sync_now_button.setEnabled(self._sync.settings.is_cloud)

    def retry_refused(self) -> asyncio.Task[None]:
        """Send the refused writes again."""
        return self._start("retry", self._retry_refused())

    async def _retry_refused(self) -> None:
        count = await self._sync.retry_refused()
        self._tell(f"{count:,} refused writes will be sent again.")
        await self._load_refused()

    async def _load_refused(self) -> None:
        letters = await self._sync.dead_letters()
        self.refused.setPlainText(
            "\n".join(f"{letter.kind.value} {letter.doc_id}: {letter.reason}" for letter in letters)
        )
        self.refused.setVisible(bool(letters))
        self.retry_button.setVisible(bool(letters))

    def choose_key_file(self) -> QFileDialog:
        """Ask for a service-account key file (not modal to the app's loop: ``open``)."""
        chooser = QFileDialog(self, "Import a service-account key", "", "Key files (*.json)")
        chooser.setObjectName("serviceAccountFileDialog")
        chooser.fileSelected.connect(self.import_key_file)
        chooser.open()
        return chooser

    def import_key_file(self, path: str) -> asyncio.Task[None]:
        """Import the key file at ``path`` into the keyring."""
        return self._start("import", self._import_key_file(Path(path)))

    async def _import_key_file(self, path: Path) -> None:
        try:
            project = await self._sync.import_service_account_file(path)
        except ServiceError as error:
            self._tell_error(error)
            return
        self.key_choice.setChecked(True)
        if not self.project.text().strip():
            self.project.setText(project)
        self._tell("The key is kept in your system keyring; the file is not needed any more.")

    def show_kit(self) -> asyncio.Task[None]:
        """Show the recovery kit again (the passphrase, if one is set, is asked first)."""
        return self._start("kit", self._show_kit())

    async def _show_kit(self) -> None:
        try:
            text = await self._sync.recovery_kit_text(self.passphrase.text())
        except ServiceError as error:
            self._tell_error(error)
            return
        self.kit_text.setPlainText(text)
        self._tell("Keep this kit somewhere safe: print it or save it.")

    def _copy_kit(self) -> None:
        QGuiApplication.clipboard().setText(self.kit_text.toPlainText())

    def choose_kit_file(self) -> QFileDialog:
        """Ask where to save the kit."""
        chooser = QFileDialog(self, "Save the recovery kit", "gptlab-recovery-kit.txt")
        chooser.setObjectName("recoveryKitFileDialog")
        chooser.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        chooser.fileSelected.connect(self.save_kit)
        chooser.open()
        return chooser

    def save_kit(self, path: str) -> asyncio.Task[None]:
        """Save the kit shown to ``path``."""
        return self._start("save-kit", self._save_kit(Path(path)))

    async def _save_kit(self, path: Path) -> None:
        try:
            await self._sync.save_recovery_kit(self.kit_text.toPlainText(), path)
        except ServiceError as error:
            self._tell_error(error)
            return
        self._tell(f"The recovery kit was saved to {path}.")

    def unlock(self) -> asyncio.Task[None]:
        """Open the history with the passphrase entered (set on another computer)."""
        return self._start("unlock", self._unlock())

    async def _unlock(self) -> None:
        try:
            await self._sync.unlock(self.passphrase.text())
        except ServiceError as error:
            self._tell_error(error)
            return
        self.passphrase.clear()
        self._tell("Unlocked: syncing.")

    def change_passphrase(self) -> asyncio.Task[None]:
        """Re-wrap the data key under the new passphrase (the current one entered above)."""
        return self._start("passphrase", self._change_passphrase())

    async def _change_passphrase(self) -> None:
        try:
            await self._sync.change_passphrase(self.passphrase.text(), self.new_passphrase.text())
        except ServiceError as error:
            self._tell_error(error)
            return
        self.passphrase.clear()
        self.new_passphrase.clear()
        self._tell(
            "Passphrase changed: from now on only the new one opens your history (with the kit)."
        )

    def join(self) -> asyncio.Task[None]:
        """Join the history of the kit pasted, with the passphrase entered."""
        return self._start("join", self._join())

    async def _join(self) -> None:
        try:
            await self._sync.join(self.kit_text.toPlainText(), self.passphrase.text())
        except ServiceError as error:
            self._tell_error(error)
            return
        self.passphrase.clear()
        self._tell("Joined: your history from your other computers is arriving.")

    def task(self, name: str) -> asyncio.Task[Any] | None:
        """The running task of one action (``apply``, ``sync``, ``join``…), if any."""
        return self._tasks.running(name)

    def forget_entries(self) -> None:
        """The Settings window closes: stop only what merely shows (a switch, an import or a
        join runs to its end), and forget the passphrase and the kit shown."""
        for name in ("refused", "kit", "sync", "retry"):
            running = self._tasks.running(name)
            if running is not None:
                running.cancel()
        self.passphrase.clear()
        self.new_passphrase.clear()
        self.kit_text.clear()
        self.sign_in_box.forget_entries()
