"""Settings → Storage… and the sync's line in the status bar: the window's side of ``CloudSync``.

The status bar shows where the data is kept and how the sync goes (synced, syncing with N
changes waiting, offline, or the problem and its reason); Storage… opens the dialog; a pull that
brought other machines' changes refreshes the lobby, the sessions list and the open chat; and
the recovery kit made when encryption is set up on this machine is shown at once, in the dialog,
for the user to keep. ``CloudSync`` calls back on the event loop's thread, so the widgets are
updated directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from gptlab_desktop.services.sync_status import SyncState, SyncStatus
from gptlab_desktop.ui.messages import sync_status_text
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.qt_helpers import bring_forward

if TYPE_CHECKING:
    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.services.recovery_kit import RecoveryKit
    from gptlab_desktop.services.store.cloud.puller import PullReport
    from gptlab_desktop.ui.storage_dialog import StorageDialog

NEW_KIT_TEXT = (
    "Your cloud data is encrypted with a key only this recovery kit opens. Print it or save "
    "it now, and keep it safe: another computer needs it to read your history."
)


class StorageActions(QObject):
    """The Storage dialog of a window and the sync's status line."""

    def __init__(
        self,
        status_bar: QStatusBar,
        window: QWidget,
        *,
        refresh: Callable[[], None],
        reopen: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._refresh = refresh
        self._reopen = reopen
        self._sync: CloudSync | None = None
        self._dialog: StorageDialog | None = None
        self.status_label = QLabel(status_bar)
        name_widget(self.status_label, "syncStatusLabel", "Sync status")
        self.status_label.hide()
        status_bar.addPermanentWidget(self.status_label)

    def attach(self, sync: CloudSync) -> None:
        """Follow ``sync``: its status, its pulls, the kit it makes."""
        self._sync = sync
        sync.on_status(self._show_status)
        sync.on_pulled(self._on_pulled)
        sync.on_new_recovery_kit(self._show_new_kit)
        self._show_status(sync.status)

    def _show_status(self, status: SyncStatus) -> None:
        # Local only is the default and needs no word in the status bar.
        self.status_label.setVisible(status.state is not SyncState.LOCAL)
        self.status_label.setText(sync_status_text(status))
        self.status_label.setToolTip(status.reason)

    def _on_pulled(self, _report: PullReport) -> None:
        self._refresh()

    def _show_new_kit(self, kit: RecoveryKit) -> None:
        dialog = self.show_dialog()
        if dialog is not None:
            dialog.kit_text.setPlainText(kit.text)
            dialog.feedback.setText(NEW_KIT_TEXT)

    def show_dialog(self) -> StorageDialog | None:
        """The Storage dialog, shown without blocking the window (None before the data opens)."""
        if self._sync is None:
            return None
        from gptlab_desktop.ui.storage_dialog import StorageDialog

        if self._dialog is None:
            self._dialog = StorageDialog(self._sync, parent=self._window)
            self._dialog.reopenRequested.connect(self._reopen)
        bring_forward(self._dialog)
        return self._dialog
