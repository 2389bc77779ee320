"""The sync's line in the status bar and its news: the window's side of ``CloudSync``.

The status bar shows where the data is kept and how the sync goes (synced, syncing with N
changes waiting, offline, or the problem and its reason); a pull that brought other machines'
changes refreshes the lobby, the sessions list and the open chat; and the recovery kit made when
encryption is set up on this machine is shown at once, on the Settings window's Storage page
(``settings/storage_page.py``), for the user to keep. ``CloudSync`` calls back on the event
loop's thread, so the widgets are updated directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from gptlab_desktop.services.sync_status import SyncState, SyncStatus
from gptlab_desktop.ui.messages import sync_status_text
from gptlab_desktop.ui.naming import name_widget

if TYPE_CHECKING:
    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.services.recovery_kit import RecoveryKit
    from gptlab_desktop.services.store.cloud.puller import PullReport
    from gptlab_desktop.ui.settings.storage_page import StoragePage

NEW_KIT_TEXT = (
    "Your cloud data is encrypted with a key only this recovery kit opens. Print it or save "
    "it now, and keep it safe: another computer needs it to read your history."
)


class StorageActions(QObject):
    """The sync's status line of a window, and what the sync's news brings up."""

    def __init__(
        self,
        status_bar: QStatusBar,
        window: QWidget,
        *,
        refresh: Callable[[], None],
        show_storage: Callable[[], StoragePage | None],
    ) -> None:
        """``show_storage`` brings up the Settings window's Storage page."""
        super().__init__(window)
        self._refresh = refresh
        self._show_storage = show_storage
        self._sync: CloudSync | None = None
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
        page = self._show_storage()
        if page is not None:
            page.kit_text.setPlainText(kit.text)
            page.feedback.setText(NEW_KIT_TEXT)
