"""The Settings window: its pages in a list on the left, the page chosen on the right.

Providers, Chat, Appearance, Storage and Privacy, each a module of its own. The window is not
modal (the app stays usable behind it) and there is one per main window: showing it again
raises it. Every form in it is applied with its page's Apply button; Close or Esc closes it,
forgetting anything secret typed and not applied.

The Storage page needs the run's sync, known only once the data is open: until then its place
says so, and the page is built when the sync arrives (``attach_sync``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.settings.appearance_page import appearance_page
from gptlab_desktop.ui.settings.chat_page import ChatPage
from gptlab_desktop.ui.settings.pages import SettingsPage
from gptlab_desktop.ui.settings.privacy_page import privacy_page
from gptlab_desktop.ui.settings.providers_page import ProvidersPage

if TYPE_CHECKING:
    from collections.abc import Callable

    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.services.providers import Providers
    from gptlab_desktop.ui.settings.storage_page import StoragePage

STORAGE_WAITS_TEXT = "Where your data is kept can be chosen once your data is open."


class SettingsDialog(QDialog):
    """The app's settings, page by page."""

    #: The storage now saved opens other data: the main window should reopen on it.
    reopenRequested = Signal()

    def __init__(
        self,
        providers: Providers,
        *,
        show_account_key: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        name_widget(self, "settingsDialog", "Settings")
        self.setWindowTitle("Settings")
        self.resize(920, 620)
        self.storage_page: StoragePage | None = None

        self.page_list = QListWidget()
        name_widget(self.page_list, "settingsPageList", "Settings pages")
        self.page_list.setFixedWidth(150)
        self.page_stack = QStackedWidget()
        name_widget(self.page_stack, "settingsPages", "Settings page")
        self.providers_page = ProvidersPage(providers, show_account_key=show_account_key)
        self.chat_page = ChatPage(providers)
        self._storage_slot = QWidget()
        name_widget(self._storage_slot, "storagePageSlot", "Storage")
        slot_layout = QVBoxLayout(self._storage_slot)
        slot_layout.setContentsMargins(0, 0, 0, 0)
        self._storage_waits = QLabel(STORAGE_WAITS_TEXT)
        self._storage_waits.setWordWrap(True)
        slot_layout.addWidget(self._storage_waits)
        slot_layout.addStretch(1)
        pages = {
            SettingsPage.PROVIDERS: self.providers_page,
            SettingsPage.CHAT: self.chat_page,
            SettingsPage.APPEARANCE: appearance_page(),
            SettingsPage.STORAGE: self._storage_slot,
            SettingsPage.PRIVACY: privacy_page(),
        }
        for page in SettingsPage:
            self.page_list.addItem(page.label)
            self.page_stack.addWidget(_scrolling(pages[page]))
        self.page_list.currentRowChanged.connect(self.page_stack.setCurrentIndex)

        self.close_button = QPushButton("Close")
        name_widget(self.close_button, "settingsCloseButton", "Close the settings")
        self.close_button.clicked.connect(self.reject)
        body = QHBoxLayout()
        body.addWidget(self.page_list)
        body.addWidget(self.page_stack, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        self._no_default_buttons()
        self.show_page(SettingsPage.PROVIDERS)

    def _no_default_buttons(self) -> None:
        # Enter in a field must not press some button of the page (Remove, Join…): the forms
        # are applied with their Apply buttons only.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)

    # -- pages -------------------------------------------------------------------------------
    def show_page(self, page: SettingsPage) -> None:
        """Bring that page up."""
        self.page_list.setCurrentRow(list(SettingsPage).index(page))

    @property
    def current_page(self) -> SettingsPage:
        """The page shown."""
        return list(SettingsPage)[max(0, self.page_list.currentRow())]

    def attach_sync(self, sync: CloudSync) -> StoragePage:
        """Build the Storage page on the run's sync (once), in the place kept for it."""
        if self.storage_page is not None:
            return self.storage_page
        from gptlab_desktop.ui.settings.storage_page import StoragePage

        page = StoragePage(sync)
        page.reopenRequested.connect(self.reopenRequested)
        self._storage_waits.hide()
        layout = self._storage_slot.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(0, page)
        self.storage_page = page
        self._no_default_buttons()
        return page

    # -- closing -----------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Close: forget what is secret and not applied, and stop what merely shows."""
        self.providers_page.forget_entries()
        if self.storage_page is not None:
            self.storage_page.forget_entries()
        super().done(result)

    async def aclose(self) -> None:
        """Close, and stop the pages' work (the window is closing)."""
        self.reject()
        await self.providers_page.aclose()
        await self.chat_page.aclose()


def _scrolling(page: QWidget) -> QScrollArea:
    """``page`` in a scroll area, so that a tall page (Storage) fits a small screen."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(page)
    return area
