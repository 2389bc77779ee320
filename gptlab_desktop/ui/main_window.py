"""The main window: the sidebar on the left (New Chat, the lobby and the chat list), the chat
pane on the right.

The window lays out, builds menus and wires signals; the run's lifecycle (``app.AppRun``) opens
the data and tells the window what it found (``show_data``, ``show_key_state``), and closes the
services when the window asks to close (``closeRequested``, ``wind_down``, ``finish_closing``).
The window is built and shown before any data is read, so it paints at once. What the user asks
for before the data is open (a new assistant, an import, a session) is not refused: it waits,
with a busy cursor and "Opening your data…", and is carried out the moment the data is ready. A
store that cannot be used never stops the window: it says so, and shows the shipped showcase
read-only.

Every feature is reached from here, each part in a module of its own: the lobby
(``lobby_panel.py``) starts sessions; the menus (``window_menus.py``) and the lobby's context menu
open the assistant editor and move assistant files (``assistant_actions.py``); the chat pane and
the sessions panel (``workspace.py``) are built once the filled lobby has painted, or at once
when anything asks for them earlier; Settings → API Key… opens the key dialog
(``account_actions.py``), which also opens by itself on a first run against OpenAI without a
key; Settings → Preferences… (Ctrl+,) and Storage… open the Settings window
(``settings/actions.py``), which is also where a provider's missing key is asked for
(``ask_provider_key``); on a first run, local AI servers found are offered in a bar at the top
(``local_server_offers.py``). The editor, the key dialog, the Settings window and the account
(with its cryptography) are imported on first use: none of them is needed to paint the window.

The sidebar is chat-first: New Chat (with the assistant used or selected last, else the first
showcased one), the chat list grouped by date, the open chat marked; it collapses with Ctrl+B.
The window remembers, in its settings, the chat open last (reopened once the lists are read; a
deleted one is skipped), the assistant used last and whether the sidebar shows. Help →
Keyboard Shortcuts lists every shortcut, read from the actions themselves
(``shortcuts_dialog.py``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QSettings,
    Qt,
    Signal,
)
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import Assistant, User
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.store.base import StoreHealth
from gptlab_desktop.ui.account_actions import AccountActions
from gptlab_desktop.ui.assistant_actions import AssistantActions
from gptlab_desktop.ui.list_keys import move_down_into
from gptlab_desktop.ui.lobby_panel import LobbyPanel
from gptlab_desktop.ui.local_server_offers import LocalServerOffers
from gptlab_desktop.ui.messages import MessagePresenter, store_status_text
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.pending import PendingRequests
from gptlab_desktop.ui.qt_helpers import next_paint, restore_layout, save_layout
from gptlab_desktop.ui.settings.actions import SettingsActions
from gptlab_desktop.ui.settings.pages import SettingsPage
from gptlab_desktop.ui.storage_actions import StorageActions
from gptlab_desktop.ui.window_menus import APP_TITLE, build_window_actions, show_about
from gptlab_desktop.ui.workspace import Workspace

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFileDialog, QMessageBox, QPlainTextEdit

    from gptlab_desktop.services.account import Account, KeyState
    from gptlab_desktop.services.cloud_sync import CloudSync
    from gptlab_desktop.services.lobby import LobbyData
    from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
    from gptlab_desktop.ui.chat.pane import ChatPane
    from gptlab_desktop.ui.chat.view import ChatStreamView
    from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
    from gptlab_desktop.ui.sessions.panel import SessionPanel
    from gptlab_desktop.ui.settings.dialog import SettingsDialog
    from gptlab_desktop.ui.settings.storage_page import StoragePage
    from gptlab_desktop.ui.shortcuts_dialog import KeyboardShortcutsDialog
    from gptlab_desktop.ui.window_services import WindowServices

log = logging.getLogger(__name__)

# How long the chat pane and sessions panel wait for the filled lobby to paint before they are
# built anyway (a window that is hidden or minimised never paints).
LOBBY_PAINT_WAIT_S = 0.25
# What the window remembers between runs (its settings hold UI state, never data).
LAST_CHAT_KEY = "chats/lastOpen"
LAST_ASSISTANT_KEY = "chats/lastAssistant"
SIDEBAR_VISIBLE_KEY = "sidebar/visible"
# The sidebar's tabs: the lobby, then the chat list.
_LOBBY_TAB = 0


class MainWindow(QMainWindow):
    """The app's window, on the services of one run, seen as ``WindowServices``.

    It takes from them what each part needs when that part is first used — the lobby's data,
    the chat engine, the session library, the lab, the account, the token counter — so that
    their modules load after the first paint. It never touches the store itself.
    """

    #: The user opened an assistant (double-click or Enter in the lobby); carries its id.
    assistantActivated = Signal(str)
    #: The API key in use changed and the window follows it (the chat, the lists).
    accountChanged = Signal()
    #: The user closed the window: the lifecycle winds it down and closes the services.
    closeRequested = Signal()
    #: The window has closed and its services are released.
    closed = Signal()

    def __init__(
        self, services: WindowServices, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._settings = settings
        self._user: User | None = None
        self._tasks = TaskGroupByName()
        self._health: StoreHealth | None = None
        self._is_closing = False
        self._is_shut_down = False
        self._reopen_requested = False
        # The assistant New Chat starts with: the one used (or selected) last.
        self._last_assistant_id = str(settings.value(LAST_ASSISTANT_KEY, "") or "") or None
        # The splitter's sizes before the sidebar collapsed, to give it back its width.
        self._expanded_sizes: list[int] | None = None

        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_TITLE)

        # The status bar first: the sessions panel reports through the window's messages.
        self._build_status_bar()
        self.messages = MessagePresenter(self, self.statusBar())
        # What the user asks for before the data is open, carried out once it is.
        self._pending = PendingRequests(self.messages)
        self.assistant_actions = AssistantActions(
            services, self.messages, self, reload_lobby=self._reload_selecting
        )
        self.account_actions = AccountActions(services, self.messages, self)
        self.account_actions.keyChanged.connect(self._on_key_changed)
        self.settings_actions = SettingsActions(
            services, self, show_account_key=self.show_api_key_dialog, reopen=self.reopen
        )
        self.storage_actions = StorageActions(
            self.statusBar(),
            self,
            refresh=self._refresh_after_pull,
            show_storage=self.settings_actions.show_storage,
        )
        self._build_menus()
        self._build_central()
        self._build_workspace()
        self._connect()
        self._restore_window_state()
        self._update_actions()

    # -- building ---------------------------------------------------------------------------
    def _build_menus(self) -> None:
        # Not ``self.actions``: that would hide ``QWidget.actions()``.
        actions = build_window_actions(self)
        self.menu_actions = actions
        self.lobby_menu = actions.lobby_menu
        for action, slot in (
            (actions.new_session, self.start_session_with_selected),
            (actions.new_chat, self.new_chat),
            (actions.quit, self.close),
            (actions.new_assistant, self.new_assistant),
            (actions.edit_assistant, self.edit_selected_assistant),
            (actions.duplicate_assistant, self.duplicate_selected_assistant),
            (actions.publish_assistant, self.ask_publish_selected),
            (actions.unpublish_assistant, self.unpublish_selected),
            (actions.import_assistants, self.ask_import_path),
            (actions.export_assistant, self.ask_export_path),
            (actions.api_key, self.show_api_key_dialog),
            (actions.storage, self.show_storage_dialog),
            (actions.preferences, self.show_preferences),
            (actions.keyboard_shortcuts, self.show_keyboard_shortcuts),
            (actions.about, self.show_about),
        ):
            action.triggered.connect(slot)
        actions.toggle_sidebar.triggered.connect(self.set_sidebar_visible)

    def _build_central(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        name_widget(self.splitter, "mainSplitter", "Lobby and chat divider")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self._build_sidebar())
        # Stands where the chat pane goes until it is built (``_build_workspace``).
        self.splitter.addWidget(QWidget(self.splitter))
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([320, 680])
        # Above the splitter: the local AI servers a first run found, while any is offered.
        self.local_server_offers = LocalServerOffers(self._services, self.messages)
        self.local_server_offers.profileAdded.connect(self.settings_actions.profiles_changed)
        central = QWidget(self)
        central.setObjectName("centralArea")
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.local_server_offers)
        column.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.resize(1100, 720)

    def _build_sidebar(self) -> QWidget:
        self.sidebar = QWidget(self)
        name_widget(self.sidebar, "sidebar", "Sidebar")
        column = QVBoxLayout(self.sidebar)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.new_chat_button = QPushButton("New Chat", self.sidebar)
        name_widget(self.new_chat_button, "newChatButton", "New chat")
        keys = self.menu_actions.new_chat.shortcut().toString(
            QKeySequence.SequenceFormat.NativeText
        )
        self.new_chat_button.setToolTip(f"A new chat with the assistant used last ({keys})")
        self.new_chat_button.clicked.connect(self.new_chat)
        column.addWidget(self.new_chat_button)

        self.sidebar_tabs = QTabWidget(self.sidebar)
        name_widget(self.sidebar_tabs, "sidebarTabs", "Assistants and chats")
        # Tab reaches its tab bar, in its place in the chain (``_set_tab_order``); the tab
        # widget itself, last in the chain by creation, would send the focus back up there.
        self.sidebar_tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.sidebar_tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.TabFocus)
        column.addWidget(self.sidebar_tabs, 1)

        self.lobby = LobbyPanel(self.sidebar_tabs)
        # The parts tests and shortcuts reach directly.
        self.lobby_model = self.lobby.model
        self.lobby_filter = self.lobby.filter_model
        self.lobby_list = self.lobby.list_view
        self.assistant_filter = self.lobby.filter_edit
        self.lobby_notice = self.lobby.notice
        # Down from the filter box goes into the list.
        move_down_into(self.assistant_filter, self.lobby_list)
        self.sidebar_tabs.addTab(self.lobby, "Assistants")
        # Stands where the sessions panel goes until it is built (``_build_workspace``).
        self.sidebar_tabs.addTab(QWidget(self.sidebar_tabs), "Chats")
        return self.sidebar

    def _build_workspace(self) -> None:
        self.workspace = Workspace(
            self._services,
            self.messages,
            self,
            splitter=self.splitter,
            sidebar=self.sidebar_tabs,
            lobby=self.lobby,
            is_usable=lambda: self._is_usable,
        )
        self.workspace.built.connect(self._on_workspace_built)
        self.workspace.sessionsChanged.connect(self._update_counts)
        self.workspace.openSessionChanged.connect(self._remember_open_session)

    def _on_workspace_built(self) -> None:
        panel = self.workspace.panel
        if not self._is_usable and self._health is not None:
            panel.setEnabled(False)
        panel.sessionActivated.connect(self.open_session)
        panel.focus_search_action.triggered.connect(self.focus_session_search)
        shortcut = QShortcut(QKeySequence("Ctrl+L"), self)
        shortcut.setObjectName("focusInputShortcut")
        shortcut.setWhatsThis("Go to the message box")
        shortcut.activated.connect(self.focus_message_input)
        # The chat pane says when a reply failed for want of a key, or for a refused one.
        self.workspace.pane.providerKeyNeeded.connect(self.ask_provider_key)
        self._follow_selected_assistant()
        self._update_counts()
        self._set_tab_order()

    def _set_tab_order(self) -> None:
        """Tab goes down the sidebar, then into the chat: the chat list was built after the
        chat pane, so by creation order it would come last."""
        panel = self.session_panel
        chain: list[QWidget] = [
            self.new_chat_button,
            self.sidebar_tabs.tabBar(),
            self.assistant_filter,
            self.lobby_list,
            panel.search_box,
            panel.scope_combo,
            panel.list_view,
            panel.undo_bar.undo_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    @property
    def chat_pane(self) -> ChatPane:
        """The chat pane (built now if it was not yet)."""
        return self.workspace.pane

    @property
    def session_panel(self) -> SessionPanel:
        """The sessions panel (built now if it was not yet)."""
        return self.workspace.panel

    @property
    def chat_view(self) -> ChatStreamView:
        """The chat pane's transcript."""
        return self.chat_pane.chat_view

    @property
    def message_input(self) -> QPlainTextEdit:
        """The chat pane's message box."""
        return self.chat_pane.message_input

    @property
    def send_button(self) -> QPushButton:
        """The chat pane's Send button."""
        return self.chat_pane.send_button

    @property
    def stop_button(self) -> QPushButton:
        """The chat pane's Stop button."""
        return self.chat_pane.stop_button

    def _build_status_bar(self) -> None:
        status_bar = self.statusBar()
        status_bar.setObjectName("statusBar")
        self.store_status_label = QLabel("Opening your data…", status_bar)
        name_widget(self.store_status_label, "storeStatusLabel", "Data status")
        self.counts_label = QLabel(status_bar)
        name_widget(self.counts_label, "countsLabel", "Counts")
        # A normal widget, not a permanent one: a transient message (an error) takes its place
        # for a few seconds, then it comes back.
        status_bar.addWidget(self.store_status_label, 1)
        status_bar.addPermanentWidget(self.counts_label)

    def _connect(self) -> None:
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setObjectName("findShortcut")
        find.setWhatsThis("Filter the assistants")
        find.activated.connect(self.focus_filter)
        self.lobby.assistantActivated.connect(self.assistantActivated)
        self.lobby.currentChanged.connect(self._on_current_assistant)
        # popup(), not exec(): a menu must not nest an event loop (DESIGN.md).
        self.lobby.contextMenuRequested.connect(self.lobby_menu.popup)
        self.lobby.countsChanged.connect(self._update_counts)
        self.assistantActivated.connect(self.start_session)

    # -- state kept between runs ------------------------------------------------------------
    def _restore_window_state(self) -> None:
        restore_layout(self._settings, self, self.splitter)
        if not _setting_is_true(self._settings.value(SIDEBAR_VISIBLE_KEY, True)):
            self.set_sidebar_visible(False)

    def _save_window_state(self) -> None:
        if self.is_sidebar_visible:
            save_layout(self._settings, self, self.splitter)
            return
        # Saved with the sidebar's width as it was before it collapsed.
        collapsed = self.splitter.sizes()
        self.sidebar.show()
        if self._expanded_sizes:
            self.splitter.setSizes(self._expanded_sizes)
        save_layout(self._settings, self, self.splitter)
        self.sidebar.hide()
        self.splitter.setSizes(collapsed)

    # -- the sidebar --------------------------------------------------------------------------
    @property
    def is_sidebar_visible(self) -> bool:
        """Whether the sidebar shows (Ctrl+B collapses and expands it)."""
        return not self.sidebar.isHidden()

    def set_sidebar_visible(self, visible: bool) -> None:
        """Show or collapse the sidebar (View → Show Sidebar, Ctrl+B); remembered. Collapsing
        it with the focus inside moves the cursor to the message box."""
        self.menu_actions.toggle_sidebar.setChecked(visible)
        if visible != self.is_sidebar_visible:
            if visible:
                self.sidebar.show()
                if self._expanded_sizes:
                    self.splitter.setSizes(self._expanded_sizes)
            else:
                focused = QApplication.focusWidget()
                had_focus = focused is not None and self.sidebar.isAncestorOf(focused)
                self._expanded_sizes = self.splitter.sizes()
                self.sidebar.hide()
                if had_focus and self.workspace.is_built:
                    self.focus_message_input()
        self._settings.setValue(SIDEBAR_VISIBLE_KEY, visible)

    def show_chats(self) -> None:
        """Show the chat list in the sidebar (expanding it if collapsed)."""
        self.set_sidebar_visible(True)
        self.sidebar_tabs.setCurrentWidget(self.session_panel)

    # -- the chat open last, the assistant used last ------------------------------------------
    def _remember_open_session(self, session_id: str) -> None:
        if not session_id:
            self._settings.remove(LAST_CHAT_KEY)
            return
        self._settings.setValue(LAST_CHAT_KEY, session_id)
        session = self.chat_pane.session
        if session is not None and session.id == session_id and session.bot_id:
            self._remember_assistant(session.bot_id)

    def _remember_assistant(self, assistant_id: str) -> None:
        self._last_assistant_id = assistant_id
        self._settings.setValue(LAST_ASSISTANT_KEY, assistant_id)

    @property
    def last_chat_id(self) -> str | None:
        """The chat open last (in this run or the one before), if any."""
        return str(self._settings.value(LAST_CHAT_KEY, "") or "") or None

    def restore_last_chat(self) -> asyncio.Task[bool]:
        """Open the chat open last, shown in the chat list, unless the user is already busy
        with another; a chat deleted since is forgotten quietly. The task says whether one
        opened."""
        return self._tasks.start("restore-chat", self._restore_last_chat())

    async def _restore_last_chat(self) -> bool:
        session_id = self.last_chat_id
        if session_id is None or not self._is_usable or not self._is_chat_idle():
            return False
        try:
            entry = await self._services.library.get_entry(session_id)
        except ServiceError:
            log.info("The chat open last could not be read; not reopened")
            return False
        if entry is None:
            self._settings.remove(LAST_CHAT_KEY)
            return False
        if not self._is_usable or not self._is_chat_idle():
            return False  # the user opened or started one meanwhile
        opening = self.open_session(session_id)
        # The chat list shows it (in a sidebar the user collapsed, once expanded).
        self.sidebar_tabs.setCurrentWidget(self.session_panel)
        if opening is not None:
            await asyncio.wait([opening])
        return self.workspace.is_open(session_id)

    def _is_chat_idle(self) -> bool:
        pane = self.chat_pane
        return pane.session is None and pane.reply_task() is None

    # -- start-up ---------------------------------------------------------------------------
    @property
    def is_read_only(self) -> bool:
        """Whether the window shows the shipped showcase because the store is unusable."""
        return self._health is not None and not self._health.is_usable

    @property
    def _is_usable(self) -> bool:
        return self._health is not None and self._health.is_usable and not self._is_closing

    @property
    def is_data_open(self) -> bool:
        """Whether the data has been opened (usable or not): nothing waits any longer."""
        return self._health is not None

    def show_data(self, data: LobbyData) -> None:
        """Show what opening the data found, then carry out what the user asked for meanwhile."""
        health = data.health
        self._health = health
        self._user = data.user
        self.lobby.set_user(None if data.user is None else data.user.id)
        self.store_status_label.setText(store_status_text(health))
        self.store_status_label.setToolTip(store_status_text(health))
        if not health.is_usable:
            self.messages.show_store_problem(health)
            self.lobby.show_assistants(data.assistants)
            self.lobby.show_notice(
                "Your data could not be opened, so the showcased assistants are shown "
                "read-only and nothing is saved this run."
            )
            self.session_panel.setEnabled(False)
        else:
            for doing, error in data.problems:
                self.messages.show_error(error, doing=doing)
            self.lobby.show_assistants(data.assistants)
        self._update_actions()
        self._pending.release()

    async def lobby_painted(self) -> None:
        """Wait until the filled lobby has painted (at most ``LOBBY_PAINT_WAIT_S``)."""
        await next_paint(self.lobby_list.viewport(), LOBBY_PAINT_WAIT_S)

    async def finish_building(self) -> None:
        """Build the chat pane and the sessions panel, list the sessions, then look for local
        AI servers in the background (a first run's offers; nothing waits for it)."""
        self.workspace.build()
        # Waited for without taking its fate: a search typed meanwhile replaces this listing.
        await asyncio.wait([self.session_panel.refresh()])
        if not self._is_closing:
            self.restore_last_chat()
            self.local_server_offers.look()

    def _when_open(self, request: Callable[[], object], what: str) -> bool:
        """Whether the data is open; if not, ``request`` waits for it (busy cursor, a notice)."""
        if self.is_data_open:
            return True
        if not self._is_closing:
            self._pending.defer(request, what)
        return False

    @property
    def current_user(self) -> User | None:
        """The user of this run, once the store is open and the key loaded."""
        return self._user

    async def reload_lobby(self, *, select: str | None = None) -> None:
        """Read the assistants again; the selected one (or ``select``) stays selected."""
        try:
            assistants = await self._services.lobby.assistants()
        except ServiceError as error:
            self.lobby.show_notice("The assistants could not be read.")
            self.messages.show_error(error, doing="Reading the assistants")
            return
        self.lobby.show_assistants(assistants, select=select)
        # The selected row may be the same assistant with a new state (published, say).
        self._update_actions()

    async def _reload_selecting(self, select: str | None) -> None:
        if self._is_usable:
            await self.reload_lobby(select=select)

    def select_assistant(self, assistant_id: str) -> bool:
        """Make an assistant the lobby's current row and show it; whether it is listed."""
        return self.lobby.select_assistant(assistant_id)

    # -- the account --------------------------------------------------------------------------
    @property
    def account(self) -> Account:
        """The account (API key and identity); built on first use."""
        return self._services.account

    def show_key_state(self, state: KeyState, *, needs_key: bool) -> None:
        """The saved key has been read: say where secrets live; ask for a key if one is needed."""
        if not self._is_closing:
            self.account_actions.show_key_state(state, needs_key=needs_key)

    def show_api_key_dialog(self) -> ApiKeyDialog:
        """Settings → API Key…: the key dialog, shown without blocking the window."""
        return self.account_actions.show_dialog()

    def show_sync(self, sync: CloudSync) -> None:
        """Follow the run's sync in the status bar and on the Settings window's Storage page."""
        self.settings_actions.attach_sync(sync)
        self.storage_actions.attach(sync)

    def show_storage_dialog(self) -> StoragePage | None:
        """Settings → Storage…: the Settings window on its Storage page (the page is None
        before the data is open)."""
        return self.settings_actions.show_storage()

    def show_settings(
        self, page: SettingsPage | None = None, *, profile_id: str | None = None
    ) -> SettingsDialog:
        """The Settings window, not modal, one per window: on ``page`` (else the one shown
        last), on Providers with ``profile_id`` selected if given."""
        return self.settings_actions.show(page, profile_id=profile_id)

    def show_preferences(self) -> SettingsDialog:
        """Settings → Preferences… (Ctrl+,): the Settings window on the page shown last."""
        return self.show_settings()

    def ask_provider_key(self, profile_id: str) -> QWidget:
        """A reply failed because that provider has no key or refused it: the API key dialog
        for OpenAI's built-in profile and the environment's; else the Settings window on the
        profile, its key field ready, saying which provider needs a key and where to get one."""
        return self.settings_actions.ask_provider_key(profile_id)

    def _refresh_after_pull(self) -> None:
        """Another machine's changes are in the cache: the lists and the open chat show them."""
        self._tasks.start("reload-lobby", self.reload_lobby(select=self.selected_assistant_id()))
        if self.workspace.is_built:
            self.session_panel.refresh()
            self.chat_pane.reload_session()

    def _on_key_changed(self, user: User | None) -> None:
        if self._is_usable and user is not None:
            self._user = user
            self.lobby.set_user(user.id)
        self._update_actions()
        self.accountChanged.emit()

    # -- slots ------------------------------------------------------------------------------
    def focus_filter(self) -> None:
        """Show the lobby and put the cursor in its filter box (Ctrl+F)."""
        self.set_sidebar_visible(True)
        self.sidebar_tabs.setCurrentIndex(_LOBBY_TAB)
        self.lobby.focus_filter()

    def focus_session_search(self) -> None:
        """Show the chat list and put the cursor in its search box (Ctrl+Shift+F)."""
        self.show_chats()
        self.session_panel.focus_search()

    def _on_current_assistant(self) -> None:
        selected = self.selected_assistant_id()
        if selected is not None:
            self._remember_assistant(selected)
        self._update_actions()
        if self.workspace.is_built:  # else it follows the selection once built
            self._follow_selected_assistant()

    def _follow_selected_assistant(self) -> None:
        """Show the lobby's selected assistant in the chat pane, and its sessions in the panel."""
        assistant = self.selected_assistant()
        self.chat_pane.show_assistant(assistant)
        if self._is_usable:
            self.session_panel.set_assistant(assistant.id if assistant is not None else None)

    def selected_assistant(self) -> Assistant | None:
        """The assistant selected in the lobby, if any."""
        return self.lobby.selected_assistant()

    def selected_assistant_id(self) -> str | None:
        """The id of the assistant selected in the lobby, if any."""
        return self.lobby.selected_assistant_id()

    # -- sessions -----------------------------------------------------------------------------
    def start_session(self, assistant_id: str) -> asyncio.Task[None] | None:
        """Start a session with an assistant; it greets first and tops the sessions list.

        Asked before the data is open, it starts the moment it is (and returns None).
        """
        if self._is_closing:
            return None
        if not self._when_open(
            functools.partial(self.start_session, assistant_id), "The session starts then."
        ):
            return None
        if self.is_read_only:
            self.chat_pane.show_notice(
                "Sessions cannot be started: your data could not be opened this run."
            )
            return None
        if self._user is None:
            self.chat_pane.show_notice(
                "Sessions cannot be started: your user record could not be read."
            )
            return None
        return self.chat_pane.start_session(assistant_id, self._user.id)

    def new_chat(self) -> asyncio.Task[None] | None:
        """New Chat (the sidebar's button, Ctrl+Shift+O): a session with the assistant used or
        selected last, else the first showcased one (``new_chat_assistant_id``)."""
        if self._is_closing or not self._when_open(self.new_chat, "The chat starts then."):
            return None
        assistant_id = self.new_chat_assistant_id()
        if assistant_id is None:
            self.chat_pane.show_notice(
                "There is no assistant to chat with yet: create one with New Assistant…."
            )
            return None
        return self.start_session(assistant_id)

    def new_chat_assistant_id(self) -> str | None:
        """Who New Chat talks to (``session_library.assistant_for_new_chat``): the assistant
        used or selected last if it is still in the lobby, else the first showcased one."""
        from gptlab_desktop.services.session_library import assistant_for_new_chat

        return assistant_for_new_chat(self.lobby_model.assistants(), self._last_assistant_id)

    def start_session_with_selected(self) -> asyncio.Task[None] | None:
        """Ctrl+N: a new session with the assistant selected in the lobby."""
        if not self._when_open(self.start_session_with_selected, "The session starts then."):
            return None
        assistant = self.selected_assistant()
        if assistant is None:
            self.chat_pane.show_notice("Select an assistant in the lobby first.")
            return None
        return self.start_session(assistant.id)

    def open_session(self, session_id: str) -> asyncio.Task[None] | None:
        """Show a stored session in the chat pane (the store alone is enough)."""
        if self._is_closing:
            return None
        if not self._when_open(
            functools.partial(self.open_session, session_id), "The session opens then."
        ):
            return None
        return self.workspace.open_session(session_id)

    def show_search_hit(self, session_id: str, message_id: str) -> asyncio.Task[bool]:
        """Once the session is open in the chat pane, scroll to the message a search found."""
        return self.workspace.show_search_hit(session_id, message_id)

    def scroll_to_message(self, message_id: str) -> bool:
        """Make a message of the open session current and bring it into view; whether shown."""
        return self.workspace.scroll_to_message(message_id)

    def focus_message_input(self) -> None:
        """Put the cursor in the message box (Ctrl+L)."""
        self.message_input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # -- assistants ---------------------------------------------------------------------------
    def _can_change_assistants(self) -> bool:
        return self._is_usable and self._user is not None

    def _assistant_user(self, request: Callable[[], object], what: str) -> str | None:
        """The user to change assistants as, once the data is open; None: not now (said)."""
        if self._is_closing or not self._when_open(request, what):
            return None
        if not self._can_change_assistants() or self._user is None:
            self.messages.show_status(
                "Assistants cannot be changed: your data could not be opened this run."
            )
            return None
        return self._user.id

    def new_assistant(self) -> AssistantEditorDialog | None:
        """Ctrl+Shift+N: the assistant editor on an empty form (once the data is open)."""
        user_id = self._assistant_user(self.new_assistant, "The new assistant opens then.")
        return self.assistant_actions.new(user_id) if user_id else None

    def edit_assistant(self, assistant_id: str) -> AssistantEditorDialog | None:
        """The editor on an assistant (a showcased one read-only, with Duplicate)."""
        request = functools.partial(self.edit_assistant, assistant_id)
        user_id = self._assistant_user(request, "The assistant opens then.")
        return self.assistant_actions.edit(assistant_id, user_id) if user_id else None

    def duplicate_assistant(self, assistant_id: str) -> AssistantEditorDialog | None:
        """The editor on an unsaved own copy of an assistant."""
        request = functools.partial(self.duplicate_assistant, assistant_id)
        user_id = self._assistant_user(request, "The copy opens then.")
        return self.assistant_actions.duplicate(assistant_id, user_id) if user_id else None

    def edit_selected_assistant(self) -> AssistantEditorDialog | None:
        """Ctrl+Shift+E: edit (or read) the assistant selected in the lobby."""
        assistant_id = self.selected_assistant_id()
        return self.edit_assistant(assistant_id) if assistant_id else None

    def duplicate_selected_assistant(self) -> AssistantEditorDialog | None:
        """Duplicate the assistant selected in the lobby."""
        assistant_id = self.selected_assistant_id()
        return self.duplicate_assistant(assistant_id) if assistant_id else None

    def _publishable(self, *, published: bool) -> Assistant | None:
        """The selected assistant if it is the user's, published or not as asked, and the
        storage a team's shared project (``Lobby.publishing_enabled``)."""
        assistant = self.selected_assistant()
        if (
            assistant is None
            or not self._can_change_assistants()
            or not self._services.lobby.publishing_enabled
            or assistant.is_read_only_for(None if self._user is None else self._user.id)
            or assistant.published != published
        ):
            return None
        return assistant

    def ask_publish_selected(self) -> QMessageBox | None:
        """Assistants → Publish to Lobby…: say what is shared, then publish if agreed."""
        assistant = self._publishable(published=False)
        return None if assistant is None else self.assistant_actions.ask_publish(assistant)

    def unpublish_selected(self) -> asyncio.Task[bool] | None:
        """Assistants → Unpublish: take the selected own assistant out of the shared lobby."""
        assistant = self._publishable(published=True)
        return None if assistant is None else self.assistant_actions.unpublish(assistant.id)

    @property
    def assistant_editors(self) -> list[AssistantEditorDialog]:
        """The assistant editors open now."""
        return self.assistant_actions.editors

    def ask_import_path(self) -> QFileDialog | None:
        """Import Assistants…: choose a file (the file dialog then calls ``import_assistants``).

        The file can be chosen while the data opens; the import waits for it.
        """
        if self._is_closing or (self.is_data_open and not self._can_change_assistants()):
            return None
        return self.assistant_actions.ask_import_path(self.import_assistants)

    def import_assistants(self, path: str | Path) -> asyncio.Task[list[str]] | None:
        """Create the assistants in an assistant file (all or none) and show them in the lobby."""
        request = functools.partial(self.import_assistants, path)
        user_id = self._assistant_user(request, "The import runs then.")
        return self.assistant_actions.import_file(Path(path), user_id) if user_id else None

    def ask_export_path(self) -> QFileDialog | None:
        """Assistants → Export Assistant…: choose where (the dialog then exports)."""
        assistant = self.selected_assistant()
        if assistant is None or not self._is_usable:
            return None
        return self.assistant_actions.ask_export_path(assistant)

    def export_assistant(self, assistant_id: str, path: str | Path) -> asyncio.Task[bool] | None:
        """Write one assistant's file to ``path``."""
        if not self._is_usable:
            return None
        return self.assistant_actions.export(assistant_id, Path(path))

    # -- enabling -----------------------------------------------------------------------------
    def _update_actions(self) -> None:
        selected = self.selected_assistant() is not None
        # Before the data is open, asking is allowed: it waits (``_when_open``).
        can_change = self._can_change_assistants() or not self.is_data_open
        actions = self.menu_actions
        actions.new_session.setEnabled(selected and can_change)
        actions.new_assistant.setEnabled(can_change)
        actions.edit_assistant.setEnabled(selected and can_change)
        actions.duplicate_assistant.setEnabled(selected and can_change)
        actions.publish_assistant.setEnabled(self._publishable(published=False) is not None)
        actions.unpublish_assistant.setEnabled(self._publishable(published=True) is not None)
        actions.import_assistants.setEnabled(can_change)
        actions.export_assistant.setEnabled(selected and self._is_usable)

    def _update_counts(self) -> None:
        assistants = self.lobby.counts_text()
        sessions = self.workspace.session_count()
        if sessions is None:
            self.counts_label.setText(assistants)
            return
        self.counts_label.setText(
            f"{assistants} · {sessions:,} session{'' if sessions == 1 else 's'}"
        )

    def show_about(self) -> QMessageBox:
        """The About box."""
        return show_about(self)

    def show_keyboard_shortcuts(self) -> KeyboardShortcutsDialog:
        """Help → Keyboard Shortcuts: every shortcut of the window, read from its actions."""
        # Built now: the chat pane's and the chat list's shortcuts are listed too.
        self.workspace.build()
        from gptlab_desktop.ui.shortcuts_dialog import show_keyboard_shortcuts

        return show_keyboard_shortcuts(self)

    # -- closing ----------------------------------------------------------------------------
    @property
    def is_shut_down(self) -> bool:
        """Whether the window has closed and released its services."""
        return self._is_shut_down

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the window's layout and ask the lifecycle to close the services first."""
        if self._is_shut_down:
            event.accept()
            return
        event.ignore()
        if self._is_closing:
            return
        self._is_closing = True
        self._pending.drop()
        self._save_window_state()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No event loop (a window built without the app): nothing async to finish.
            self.finish_closing()
            return
        self.closeRequested.emit()

    async def wind_down(self) -> None:
        """Stop the window's own work before the services close (``app.AppRun.shut_down``)."""
        self._is_closing = True
        self._pending.drop()
        # Editors first, unsaved changes discarded (the app is quitting): a try-it reply stops.
        await self.assistant_actions.close_all()
        await self.account_actions.close()
        await self.settings_actions.close()
        await self.local_server_offers.aclose()
        # A streaming reply is stored as interrupted, and deletions still within their undo
        # window are carried out, while the store is open.
        await self.workspace.wind_down()
        await self._tasks.cancel_all()

    @property
    def reopen_requested(self) -> bool:
        """Whether the window closed to reopen the data (``reopen``), not to quit."""
        return self._reopen_requested

    def reopen(self) -> None:
        """Close, and have the app start again on the storage now saved (another account or
        project chosen on the Settings window's Storage page): the services close in order
        first, as on quit."""
        self._reopen_requested = True
        self.close()

    def finish_closing(self) -> None:
        """The services are closed: close for real."""
        self._is_closing = True
        self._is_shut_down = True
        self.close()
        self.closed.emit()


def _setting_is_true(value: object) -> bool:
    """A boolean read back from an INI file (where it may be the text "false")."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    return bool(value)
