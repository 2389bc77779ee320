"""The main window: the lobby and the sessions panel on the left, the chat pane on the right.

The window lays out, builds menus and wires signals; the run's lifecycle (``app.AppRun``) opens
the data and tells the window what it found (``show_data``, ``show_key_state``), and closes the
services when the window asks to close (``closeRequested``, ``wind_down``, ``finish_closing``).
The window is built and shown before any data is read, so it paints at once. What the user asks
for before the data is open (a new assistant, an import, a session) is not refused: it waits,
with a busy cursor and "Opening your data…", and is carried out the moment the data is ready. A
store that cannot be used never stops the window: it says so, and shows the shipped showcase
read-only.

Every feature is reached from here: the lobby starts sessions; the Assistants menu and the
lobby's context menu open the assistant editor (new, edit, duplicate) and import or export
assistant files; the sessions panel opens, searches, renames, exports, ends and deletes past
sessions; Settings → API Key… opens the key dialog, which also opens by itself on a first run
against OpenAI without a key. The editor, the key dialog and the account (with its cryptography)
are imported on first use: none of them is needed to paint the window.

The first paint is the lobby's: the chat pane and the sessions panel (their modules and widgets
cost as much start-up time as the rest of the window) are built once the filled lobby has been
painted, or at once when anything asks for them earlier.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QModelIndex,
    QObject,
    QPoint,
    QSettings,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop import __version__
from gptlab_desktop.models import Assistant, Session, User
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.store.base import StoreHealth
from gptlab_desktop.ui.lobby_model import (
    LobbyDelegate,
    LobbyFilterModel,
    LobbyModel,
    LobbyRole,
)
from gptlab_desktop.ui.messages import MessagePresenter, UserMessage, store_status_text
from gptlab_desktop.ui.naming import name_widget

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFileDialog, QMessageBox, QPlainTextEdit, QPushButton

    from gptlab_desktop.services.account import Account, KeyState
    from gptlab_desktop.services.bundle import Services
    from gptlab_desktop.services.lobby import LobbyData
    from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog
    from gptlab_desktop.ui.assistant_editor import AssistantEditorDialog
    from gptlab_desktop.ui.chat_pane import ChatPane
    from gptlab_desktop.ui.chat_view import ChatStreamView
    from gptlab_desktop.ui.session_panel import SessionPanel

log = logging.getLogger(__name__)

APP_TITLE = "GPT Lab Desktop"
# How many past sessions the sessions panel lists.
SESSION_LIST_LIMIT = 100
# Laying out 10,000 lobby cards at once took 117 ms; in batches of 100 the first batch takes 3 ms
# and the rest follow between paints.
LOBBY_BATCH_SIZE = 100
# The keyring notice is said once and must be readable: longer than a passing message.
KEYRING_NOTICE_MS = 15_000
# How long the chat pane and sessions panel wait for the filled lobby to paint before they are
# built anyway (a window that is hidden or minimised never paints).
LOBBY_PAINT_WAIT_S = 0.25

_GEOMETRY_KEY = "mainWindow/geometry"
_SPLITTER_KEY = "mainWindow/splitterState"
_FILE_NAME_UNSAFE = re.compile(r"[^\w\- ]+")
_ASSISTANT_FILES = "Assistant files (*.json)"
OPENING_TEXT = "Opening your data…"


def assistant_file_name(assistant: Assistant) -> str:
    """A file name for an assistant's export: its name, without characters a path dislikes."""
    stem = " ".join(_FILE_NAME_UNSAFE.sub("", assistant.name).split()) or "assistant"
    return f"{stem}.json"


class MainWindow(QMainWindow):
    """The app's window, on the services of one run (``services.bundle.Services``).

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
        self, services: Services, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._services = services
        self._settings = settings
        self._user: User | None = None
        self._tasks = TaskGroupByName()
        self._health: StoreHealth | None = None
        self._is_closing = False
        self._is_shut_down = False
        # What the user asked for before the data was open, carried out once it is.
        self._pending: list[Callable[[], object]] = []
        self._editors: list[AssistantEditorDialog] = []
        self._api_key_dialog: ApiKeyDialog | None = None
        self._has_told_keyring = False
        self._chat_pane: ChatPane | None = None
        self._session_panel: SessionPanel | None = None

        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_TITLE)

        self.lobby_model = LobbyModel(self)
        self.lobby_filter = LobbyFilterModel(self)
        self.lobby_filter.setSourceModel(self.lobby_model)

        # The status bar first: the sessions panel reports through the window's messages.
        self._build_status_bar()
        self.messages = MessagePresenter(self, self.statusBar())
        self._build_menus()
        self._build_central()
        self._build_lobby_menu()
        self._connect()
        self._restore_window_state()
        self._update_actions()

    # -- building ---------------------------------------------------------------------------
    def _build_menus(self) -> None:
        menu_bar = self.menuBar()

        file_menu = menu_bar.addMenu("&File")
        file_menu.setObjectName("fileMenu")
        # Enabled while an assistant is selected and sessions can be saved.
        self.new_session_action = self._action("New Session", "newSessionAction", "Ctrl+N")
        self.new_session_action.triggered.connect(self.start_session_with_selected)
        file_menu.addAction(self.new_session_action)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", "quitAction", "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        assistants_menu = menu_bar.addMenu("&Assistants")
        assistants_menu.setObjectName("assistantsMenu")
        self.new_assistant_action = self._action(
            "New Assistant…", "newAssistantAction", "Ctrl+Shift+N"
        )
        self.new_assistant_action.triggered.connect(self.new_assistant)
        self.edit_assistant_action = self._action(
            "Edit Assistant…", "editAssistantAction", "Ctrl+Shift+E"
        )
        self.edit_assistant_action.triggered.connect(self.edit_selected_assistant)
        self.duplicate_assistant_action = self._action(
            "Duplicate Assistant…", "duplicateAssistantAction"
        )
        self.duplicate_assistant_action.triggered.connect(self.duplicate_selected_assistant)
        self.import_assistants_action = self._action("Import Assistants…", "importAssistantsAction")
        self.import_assistants_action.triggered.connect(self.ask_import_path)
        self.export_assistant_action = self._action("Export Assistant…", "exportAssistantAction")
        self.export_assistant_action.triggered.connect(self.ask_export_path)
        for action in (
            self.new_assistant_action,
            self.edit_assistant_action,
            self.duplicate_assistant_action,
        ):
            assistants_menu.addAction(action)
        assistants_menu.addSeparator()
        assistants_menu.addAction(self.import_assistants_action)
        assistants_menu.addAction(self.export_assistant_action)

        settings_menu = menu_bar.addMenu("&Settings")
        settings_menu.setObjectName("settingsMenu")
        self.api_key_action = self._action("API Key…", "apiKeyAction")
        self.api_key_action.triggered.connect(self.show_api_key_dialog)
        # Built by the preferences issue.
        self.preferences_action = self._action("Preferences…", "preferencesAction")
        self.preferences_action.setEnabled(False)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        settings_menu.addAction(self.api_key_action)
        settings_menu.addAction(self.preferences_action)

        help_menu = menu_bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        self.about_action = self._action(f"About {APP_TITLE}", "aboutAction")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _action(self, text: str, object_name: str, shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(object_name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        return action

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
        self.setCentralWidget(self.splitter)
        self.resize(1100, 720)

    def _build_sidebar(self) -> QWidget:
        self.sidebar_tabs = QTabWidget(self)
        name_widget(self.sidebar_tabs, "sidebarTabs", "Assistants and sessions")

        assistants_page = QWidget(self.sidebar_tabs)
        layout = QVBoxLayout(assistants_page)
        layout.setContentsMargins(4, 4, 4, 4)
        self.assistant_filter = QLineEdit(assistants_page)
        name_widget(self.assistant_filter, "assistantFilter", "Filter assistants")
        self.assistant_filter.setPlaceholderText("Filter assistants… (Ctrl+F)")
        self.assistant_filter.setClearButtonEnabled(True)
        layout.addWidget(self.assistant_filter)
        self.lobby_notice = QLabel(assistants_page)
        name_widget(self.lobby_notice, "lobbyNotice", "Lobby notice")
        self.lobby_notice.setWordWrap(True)
        self.lobby_notice.setText("Opening your data…")
        layout.addWidget(self.lobby_notice)
        self.lobby_list = QListView(assistants_page)
        self.lobby_list.setViewport(_viewport_made_here())
        name_widget(self.lobby_list, "lobbyList", "Assistants")
        self.lobby_list.setModel(self.lobby_filter)
        self.lobby_list.setItemDelegate(LobbyDelegate(self.lobby_list))
        self.lobby_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lobby_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.lobby_list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.lobby_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.lobby_list.setLayoutMode(QListView.LayoutMode.Batched)
        self.lobby_list.setBatchSize(LOBBY_BATCH_SIZE)
        self.lobby_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        layout.addWidget(self.lobby_list, 1)
        self.sidebar_tabs.addTab(assistants_page, "Assistants")
        # Stands where the sessions panel goes until it is built (``_build_workspace``).
        self.sidebar_tabs.addTab(QWidget(self.sidebar_tabs), "Sessions")
        return self.sidebar_tabs

    def _build_workspace(self) -> None:
        """Build the chat pane and the sessions panel in their places (once)."""
        if self._chat_pane is not None:
            return
        from gptlab_desktop.ui.chat_pane import ChatPane, ChatPaneContext
        from gptlab_desktop.ui.session_panel import SessionPanel

        services = self._services
        pane = ChatPane(
            services.engine, ChatPaneContext(find_assistant=services.lobby.assistant), self
        )
        panel = SessionPanel(
            services.library,
            messages=self.messages,
            list_limit=SESSION_LIST_LIMIT,
            parent=self.sidebar_tabs,
        )
        self._chat_pane, self._session_panel = pane, panel
        self.splitter.replaceWidget(1, pane).deleteLater()  # the splitter keeps its sizes
        current = self.sidebar_tabs.currentIndex()
        placeholder = self.sidebar_tabs.widget(1)
        self.sidebar_tabs.removeTab(1)
        placeholder.deleteLater()
        self.sidebar_tabs.insertTab(1, panel, "Sessions")
        self.sidebar_tabs.setCurrentIndex(current)
        if not self._is_usable and self._health is not None:
            panel.setEnabled(False)
        self._connect_workspace(pane, panel)
        self._follow_selected_assistant()
        self._update_counts()

    @property
    def chat_pane(self) -> ChatPane:
        """The chat pane (built now if it was not yet)."""
        self._build_workspace()
        assert self._chat_pane is not None
        return self._chat_pane

    @property
    def session_panel(self) -> SessionPanel:
        """The sessions panel (built now if it was not yet)."""
        self._build_workspace()
        assert self._session_panel is not None
        return self._session_panel

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

    @property
    def session_list(self) -> QListView:
        """The sessions panel's list."""
        return self.session_panel.list_view

    def _build_lobby_menu(self) -> None:
        self.lobby_menu = QMenu(self)
        self.lobby_menu.setObjectName("lobbyContextMenu")
        self.lobby_menu.addAction(self.new_session_action)
        self.lobby_menu.addSeparator()
        for action in (
            self.edit_assistant_action,
            self.duplicate_assistant_action,
            self.export_assistant_action,
        ):
            self.lobby_menu.addAction(action)

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
        find.activated.connect(self.focus_filter)
        self.assistant_filter.textChanged.connect(self._on_filter_changed)
        self.lobby_list.activated.connect(self._on_lobby_activated)
        self.lobby_list.selectionModel().currentChanged.connect(self._on_current_assistant)
        self.lobby_list.customContextMenuRequested.connect(self._show_lobby_menu)
        self.assistantActivated.connect(self.start_session)
        for signal in (
            self.lobby_filter.modelReset,
            self.lobby_filter.rowsInserted,
            self.lobby_filter.rowsRemoved,
        ):
            signal.connect(self._update_counts)

    def _connect_workspace(self, pane: ChatPane, panel: SessionPanel) -> None:
        panel.sessionActivated.connect(self.open_session)
        panel.searchHitActivated.connect(self.show_search_hit)
        panel.sessionDeleted.connect(self._on_session_deleted)
        panel.sessionEnded.connect(self._on_session_ended)
        panel.sessionsChanged.connect(self._update_counts)
        # The panel's Ctrl+Shift+F works only while it is visible; on the window it works from
        # either tab (the panel's own slot runs first, then this one shows the tab).
        self.addAction(panel.focus_search_action)
        panel.focus_search_action.triggered.connect(self.focus_session_search)

        pane.sessionChanged.connect(self._on_session_changed)
        pane.statusMessage.connect(self.messages.show_status)
        for keys, name, slot in (
            ("Ctrl+Return", "sendShortcut", pane.send),
            ("Ctrl+Enter", "sendKeypadShortcut", pane.send),
            ("Esc", "stopShortcut", pane.escape),
            ("Ctrl+L", "focusInputShortcut", self.focus_message_input),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setObjectName(name)
            shortcut.activated.connect(slot)
        panel.model.modelReset.connect(self._update_counts)
        panel.model.rowsRemoved.connect(self._update_counts)

    # -- state kept between runs ------------------------------------------------------------
    def _restore_window_state(self) -> None:
        geometry = self._settings.value(_GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        splitter_state = self._settings.value(_SPLITTER_KEY)
        if isinstance(splitter_state, QByteArray) and not splitter_state.isEmpty():
            self.splitter.restoreState(splitter_state)

    def _save_window_state(self) -> None:
        self._settings.setValue(_GEOMETRY_KEY, self.saveGeometry())
        self._settings.setValue(_SPLITTER_KEY, self.splitter.saveState())
        self._settings.sync()

    # -- start-up ---------------------------------------------------------------------------
    @property
    def store_health(self) -> StoreHealth | None:
        """How the store opened; ``None`` until ``start`` got that far."""
        return self._health

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
        self.store_status_label.setText(store_status_text(health))
        self.store_status_label.setToolTip(store_status_text(health))
        if not health.is_usable:
            self.messages.show_store_problem(health)
            self.lobby_model.set_assistants(data.assistants)
            self.lobby_notice.setText(
                "Your data could not be opened, so the showcased assistants are shown "
                "read-only and nothing is saved this run."
            )
            self.lobby_notice.show()
            self.session_panel.setEnabled(False)
        else:
            for doing, error in data.problems:
                self.messages.show_error(error, doing=doing)
            self._show_assistants(data.assistants)
        self._update_actions()
        self._carry_out_pending()

    async def lobby_painted(self) -> None:
        """Wait until the filled lobby has painted (at most ``LOBBY_PAINT_WAIT_S``)."""
        await _next_paint(self.lobby_list.viewport(), LOBBY_PAINT_WAIT_S)

    async def finish_building(self) -> None:
        """Build the chat pane and the sessions panel, and list the sessions."""
        self._build_workspace()
        # Waited for without taking its fate: a search typed meanwhile replaces this listing.
        await asyncio.wait([self.session_panel.refresh()])

    def _when_open(self, action: Callable[[], object], what: str) -> bool:
        """Whether the data is open; if not, ``action`` waits for it (busy cursor, a notice)."""
        if self.is_data_open:
            return True
        if not self._is_closing:
            if not self._pending:
                QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
            self._pending.append(action)
            self.messages.show_status(f"{OPENING_TEXT} {what}")
        return False

    def _carry_out_pending(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            QApplication.restoreOverrideCursor()
            self.messages.show_status("")
        for action in pending:
            try:
                action()
            except Exception:
                log.exception("A request made while the data opened failed")

    def _drop_pending(self) -> None:
        if self._pending:
            self._pending = []
            QApplication.restoreOverrideCursor()

    @property
    def current_user(self) -> User | None:
        """The user of this run, once the store is open and the key loaded."""
        return self._user

    async def reload_lobby(self, *, select: str | None = None) -> None:
        """Read the assistants again; the selected one (or ``select``) stays selected."""
        try:
            assistants = await self._services.lobby.assistants()
        except ServiceError as error:
            self.lobby_notice.setText("The assistants could not be read.")
            self.lobby_notice.show()
            self.messages.show_error(error, doing="Reading the assistants")
            return
        self._show_assistants(assistants, select=select)

    def _show_assistants(self, assistants: list[Assistant], *, select: str | None = None) -> None:
        previous = self.selected_assistant()
        self.lobby_model.set_assistants(assistants)
        self.lobby_notice.setVisible(not assistants)
        self.lobby_notice.setText("" if assistants else "No assistants yet.")
        wanted = select or (previous.id if previous is not None else None)
        if wanted is not None and self.selected_assistant_id() != wanted:
            self.select_assistant(wanted)

    def select_assistant(self, assistant_id: str) -> bool:
        """Make an assistant the lobby's current row and show it; whether it is listed."""
        row = self.lobby_model.row_of(assistant_id)
        if row is None:
            return False
        index = self.lobby_filter.mapFromSource(self.lobby_model.index(row, 0))
        if not index.isValid():
            return False  # hidden by the filter
        self.lobby_list.setCurrentIndex(index)
        self.lobby_list.scrollTo(index)
        return True

    # -- the account --------------------------------------------------------------------------
    @property
    def account(self) -> Account:
        """The account (API key and data key); built on first use."""
        return self._services.account

    def show_key_state(self, state: KeyState, *, needs_key: bool) -> None:
        """The saved key has been read: say where secrets live; ask for a key if one is needed."""
        self._tell_keyring_status(state)
        if state.api_key is None and needs_key and not self._is_closing:
            # Not modal: the lobby and past sessions can be browsed while the key is found.
            self.show_api_key_dialog()

    def _tell_keyring_status(self, state: KeyState) -> None:
        """Say once, in the status bar, that secrets stay in memory because no keyring works."""
        status = state.keyring
        if status.is_available or not status.reason or self._has_told_keyring:
            return
        self._has_told_keyring = True
        self.messages.show_status(status.reason, KEYRING_NOTICE_MS)

    def show_api_key_dialog(self) -> ApiKeyDialog:
        """Settings → API Key…: the key dialog, shown without blocking the window."""
        from gptlab_desktop.ui.api_key_dialog import ApiKeyDialog

        dialog = self._api_key_dialog
        if dialog is None:
            dialog = ApiKeyDialog(self.account, parent=self)
            dialog.keySaved.connect(self._on_key_changed)
            dialog.keyRemoved.connect(self._on_key_changed)
            self._api_key_dialog = dialog
        # show(), not open(): open() would make it window-modal, and the window should stay
        # usable for browsing while the user fetches a key.
        _bring_forward(dialog)
        return dialog

    def _on_key_changed(self) -> None:
        if not self._is_closing:
            self._tasks.start("account", self._follow_account())

    async def _follow_account(self) -> None:
        """Use the new key (or none) for the chat; the user and the lists stay the same."""
        await self._services.use_current_key()
        account = self.account
        self._tell_keyring_status(account.state)
        if self._is_usable:
            try:
                # The same user; a real OpenAI key's hash is recorded on it.
                self._user = await account.current_user()
            except ServiceError as error:
                self.messages.show_error(error, doing="Updating your user record")
        self._update_actions()
        self.accountChanged.emit()

    # -- slots ------------------------------------------------------------------------------
    def focus_filter(self) -> None:
        """Show the lobby and put the cursor in its filter box (Ctrl+F)."""
        self.sidebar_tabs.setCurrentIndex(0)
        self.assistant_filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.assistant_filter.selectAll()

    def focus_session_search(self) -> None:
        """Show the sessions panel and put the cursor in its search box (Ctrl+Shift+F)."""
        self.sidebar_tabs.setCurrentWidget(self.session_panel)
        self.session_panel.focus_search()

    def _on_filter_changed(self, text: str) -> None:
        self.lobby_filter.set_filter_text(text)
        self._update_counts()

    def _on_lobby_activated(self, index: QModelIndex) -> None:
        assistant_id = index.data(LobbyRole.ASSISTANT_ID)
        if assistant_id:
            self.assistantActivated.emit(str(assistant_id))

    def _on_current_assistant(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()
        if self._chat_pane is not None:  # else it follows the selection once built
            self._follow_selected_assistant()

    def _follow_selected_assistant(self) -> None:
        """Show the lobby's selected assistant in the chat pane, and its sessions in the panel."""
        assistant = self.selected_assistant()
        self.chat_pane.show_assistant(assistant)
        if self._is_usable:
            self.session_panel.set_assistant(assistant.id if assistant is not None else None)

    def _show_lobby_menu(self, position: QPoint) -> None:
        index = self.lobby_list.indexAt(position)
        if not index.isValid():
            return
        self.lobby_list.setCurrentIndex(index)
        self._update_actions()
        # popup(), not exec(): a menu must not nest an event loop (DESIGN.md).
        self.lobby_menu.popup(self.lobby_list.viewport().mapToGlobal(position))

    def selected_assistant(self) -> Assistant | None:
        """The assistant selected in the lobby, if any."""
        assistant = self.lobby_list.currentIndex().data(LobbyRole.ASSISTANT)
        return assistant if isinstance(assistant, Assistant) else None

    def selected_assistant_id(self) -> str | None:
        """The id of the assistant selected in the lobby, if any."""
        assistant = self.selected_assistant()
        return assistant.id if assistant is not None else None

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
        return self.chat_pane.open_session(session_id)

    def show_search_hit(self, session_id: str, message_id: str) -> asyncio.Task[bool]:
        """Once the session is open in the chat pane, scroll to the message a search found."""
        return self._tasks.start("hit", self._show_when_open(session_id, message_id))

    async def _show_when_open(self, session_id: str, message_id: str) -> bool:
        while not self._is_open(session_id):
            opening = self.chat_pane.reply_task()
            if opening is None:
                return False  # the session could not be opened (the pane says why)
            await asyncio.wait([opening])
        return self.scroll_to_message(message_id)

    def scroll_to_message(self, message_id: str) -> bool:
        """Make a message of the open session current and bring it into view; whether shown."""
        transcript = self.chat_view.transcript()
        row = transcript.row_of(message_id)
        if row is None:
            return False
        index = transcript.index(row, 0)
        self.chat_view.setCurrentIndex(index)
        self.chat_view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _is_open(self, session_id: str) -> bool:
        session = self.chat_pane.session
        return session is not None and session.id == session_id

    def focus_message_input(self) -> None:
        """Put the cursor in the message box (Ctrl+L)."""
        self.message_input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _on_session_deleted(self, session_id: str) -> None:
        if self._is_open(session_id):
            self.chat_pane.close_session()
            self.chat_pane.show_assistant(self.selected_assistant())

    def _on_session_ended(self, session_id: str) -> None:
        if self._is_open(session_id):
            self.chat_pane.reload_session()

    def _on_session_changed(self, session: Session) -> None:
        if self._is_usable:
            self._tasks.start("sessions", self._show_changed_session(session))

    async def _show_changed_session(self, session: Session) -> None:
        """List a new or changed session (selected), and its assistant's new session count."""
        await asyncio.wait([self.session_panel.refresh()])
        self.session_panel.select_session(session.id)
        if session.bot_id:
            try:
                assistant = await self._services.lobby.assistant(session.bot_id)
            except ServiceError:
                return  # only a counter in the lobby; the next reload shows it
            if assistant is not None:
                self.lobby_model.update_assistant(assistant)

    # -- assistants ---------------------------------------------------------------------------
    def _can_change_assistants(self) -> bool:
        return self._is_usable and self._user is not None

    def new_assistant(self) -> AssistantEditorDialog | None:
        """Ctrl+Shift+N: the assistant editor on an empty form (once the data is open)."""
        if not self._when_open(self.new_assistant, "The new assistant opens then."):
            return None
        dialog = self._make_editor()
        if dialog is not None:
            dialog.start_new()
        return dialog

    def edit_assistant(self, assistant_id: str) -> AssistantEditorDialog | None:
        """The editor on an assistant (a showcased one read-only, with Duplicate)."""
        if not self._when_open(
            functools.partial(self.edit_assistant, assistant_id), "The assistant opens then."
        ):
            return None
        for editor in self._editors:
            if editor.assistant_id == assistant_id and editor.isVisible():
                _bring_forward(editor)
                return editor
        dialog = self._make_editor()
        if dialog is not None:
            dialog.start_edit(assistant_id)
        return dialog

    def duplicate_assistant(self, assistant_id: str) -> AssistantEditorDialog | None:
        """The editor on an unsaved own copy of an assistant."""
        if not self._when_open(
            functools.partial(self.duplicate_assistant, assistant_id), "The copy opens then."
        ):
            return None
        dialog = self._make_editor()
        if dialog is not None:
            dialog.start_duplicate(assistant_id)
        return dialog

    def edit_selected_assistant(self) -> AssistantEditorDialog | None:
        """Ctrl+Shift+E: edit (or read) the assistant selected in the lobby."""
        assistant_id = self.selected_assistant_id()
        return self.edit_assistant(assistant_id) if assistant_id else None

    def duplicate_selected_assistant(self) -> AssistantEditorDialog | None:
        """Duplicate the assistant selected in the lobby."""
        assistant_id = self.selected_assistant_id()
        return self.duplicate_assistant(assistant_id) if assistant_id else None

    @property
    def assistant_editors(self) -> list[AssistantEditorDialog]:
        """The assistant editors open now."""
        return list(self._editors)

    def _make_editor(self) -> AssistantEditorDialog | None:
        """A new editor dialog (one per open), or None when assistants cannot be changed."""
        if not self._can_change_assistants() or self._user is None:
            self.messages.show_status(
                "Assistants cannot be changed: your data could not be opened this run."
            )
            return None
        from gptlab_desktop.ui.assistant_editor import AssistantEditorDialog

        dialog = AssistantEditorDialog(
            self._services.lab,
            creator_user_id=self._user.id,
            token_counter=self._services.tokens,
            parent=self,
        )
        dialog.assistantSaved.connect(self._on_assistant_saved)
        dialog.assistantDeleted.connect(self._on_assistant_deleted)
        dialog.finished.connect(functools.partial(self._on_editor_finished, dialog))
        self._editors.append(dialog)
        return dialog

    def _on_editor_finished(self, dialog: AssistantEditorDialog, _result: int) -> None:
        if dialog in self._editors:
            self._editors.remove(dialog)
            self._tasks.start(f"editor:{id(dialog)}", self._delete_editor(dialog))

    async def _delete_editor(self, dialog: AssistantEditorDialog) -> None:
        # Deleted only once its own tasks (a try-it reply, a save) have stopped.
        cleanup = dialog.closing_cleanup
        if cleanup is not None:
            await asyncio.wait([cleanup])
        dialog.deleteLater()

    def _on_assistant_saved(self, assistant_id: str) -> None:
        if self._is_usable:
            self._tasks.start("lobby", self.reload_lobby(select=assistant_id))

    def _on_assistant_deleted(self, _assistant_id: str) -> None:
        if self._is_usable:
            self._tasks.start("lobby", self.reload_lobby())

    def ask_import_path(self) -> QFileDialog | None:
        """Import Assistants…: choose a file (the file dialog then calls ``import_assistants``).

        The file can be chosen while the data opens; the import waits for it.
        """
        if self._is_closing or (self.is_data_open and not self._can_change_assistants()):
            return None
        from PySide6.QtWidgets import QFileDialog

        dialog = QFileDialog(self, "Import Assistants")
        dialog.setObjectName("importAssistantsDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters([_ASSISTANT_FILES, "All files (*)"])
        dialog.setDirectory(_documents_folder())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.import_assistants)
        # open(), never exec(): it must not nest an event loop inside a running coroutine.
        dialog.open()
        return dialog

    def import_assistants(self, path: str | Path) -> asyncio.Task[list[str]] | None:
        """Create the assistants in an assistant file (all or none) and show them in the lobby."""
        if not self._when_open(
            functools.partial(self.import_assistants, path), "The import runs then."
        ):
            return None
        if not self._can_change_assistants() or self._user is None:
            self.messages.show_status(
                "Assistants cannot be imported: your data could not be opened this run."
            )
            return None
        return self._tasks.start("import", self._import(Path(path), self._user.id))

    async def _import(self, path: Path, user_id: str) -> list[str]:
        try:
            created = await self._services.lab.import_file(path, user_id)
        except Exception as error:
            # MalformedAssistantDocument names the problem (and, in a bundle, the entry).
            self.messages.show_error(error, doing="Importing assistants")
            return []
        await self.reload_lobby(select=created[0].id if created else None)
        count = len(created)
        self.messages.show_status(
            f"Imported {count} assistant{'s' if count != 1 else ''} from {path.name}."
        )
        return [assistant.id for assistant in created]

    def ask_export_path(self) -> QFileDialog | None:
        """Assistants → Export Assistant…: choose where (the dialog calls ``export_assistant``)."""
        assistant = self.selected_assistant()
        if assistant is None or not self._is_usable:
            return None
        from PySide6.QtWidgets import QFileDialog

        dialog = QFileDialog(self, "Export Assistant")
        dialog.setObjectName("exportAssistantDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(_ASSISTANT_FILES)
        dialog.setDefaultSuffix("json")
        dialog.setDirectory(_documents_folder())
        dialog.selectFile(assistant_file_name(assistant))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(functools.partial(self.export_assistant, assistant.id))
        dialog.open()
        return dialog

    def export_assistant(self, assistant_id: str, path: str | Path) -> asyncio.Task[bool] | None:
        """Write one assistant's file to ``path``."""
        if not self._is_usable:
            return None
        return self._tasks.start("export", self._export(assistant_id, Path(path)))

    async def _export(self, assistant_id: str, path: Path) -> bool:
        try:
            await self._services.lab.export_file([assistant_id], path)
        except OSError as error:
            log.warning("Exporting an assistant failed: %s", type(error).__name__)
            reason = error.strerror or "the file could not be written"
            self.messages.show_message(
                UserMessage(
                    "Export failed", f"The assistant could not be saved to {path}: {reason}."
                )
            )
            return False
        except Exception as error:
            self.messages.show_error(error, doing="Exporting the assistant")
            return False
        self.messages.show_status(f"Exported the assistant to {path}.")
        return True

    # -- enabling -----------------------------------------------------------------------------
    def _update_actions(self) -> None:
        selected = self.selected_assistant() is not None
        # Before the data is open, asking is allowed: it waits (``_when_open``).
        can_change = self._can_change_assistants() or not self.is_data_open
        self.new_session_action.setEnabled(selected and can_change)
        self.new_assistant_action.setEnabled(can_change)
        self.edit_assistant_action.setEnabled(selected and can_change)
        self.duplicate_assistant_action.setEnabled(selected and can_change)
        self.import_assistants_action.setEnabled(can_change)
        self.export_assistant_action.setEnabled(selected and self._is_usable)

    def _update_counts(self) -> None:
        total = self.lobby_model.rowCount()
        shown = self.lobby_filter.rowCount()
        noun = "assistant" if total == 1 else "assistants"
        assistants = f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}"
        if self._session_panel is None:
            self.counts_label.setText(assistants)
            return
        sessions = len(self._session_panel.model.session_ids())
        self.counts_label.setText(
            f"{assistants} · {sessions:,} session{'' if sessions == 1 else 's'}"
        )

    def show_about(self) -> QMessageBox:
        """The About box (opened, never exec'd: it must not block a running coroutine)."""
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(self)
        box.setObjectName("aboutBox")
        box.setWindowTitle(f"About {APP_TITLE}")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(f"{APP_TITLE} {__version__}")
        box.setInformativeText("Chat with AI assistants and build your own.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

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
        self._drop_pending()
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
        self._drop_pending()
        # Editors first, unsaved changes discarded (the app is quitting): a try-it reply stops.
        for editor in list(self._editors):
            cleanup = editor.close_discarding()
            if cleanup is not None:
                await asyncio.wait([cleanup])
        if self._api_key_dialog is not None:
            self._api_key_dialog.reject()
        # A streaming reply is stored as interrupted before the store closes.
        if self._chat_pane is not None:
            await self._chat_pane.aclose()
        try:
            # Deletions still within their undo window are carried out now, while the store is
            # open.
            if self._session_panel is not None:
                await self._session_panel.shut_down()
        except Exception:
            log.exception("Finishing the pending session deletions failed")
        await self._tasks.cancel_all()

    def finish_closing(self) -> None:
        """The services are closed: close for real."""
        self._is_closing = True
        self._is_shut_down = True
        self.close()
        self.closed.emit()


def _documents_folder() -> str:
    from PySide6.QtCore import QDir, QStandardPaths

    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return folder or QDir.homePath()


class _PaintWatch(QObject):
    """Sets ``painted`` when the watched widget paints."""

    def __init__(self) -> None:
        super().__init__()
        self.painted = asyncio.Event()

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        """Note a paint; every event goes on."""
        if event.type() == QEvent.Type.Paint:
            self.painted.set()
        return False


def _viewport_made_here() -> QWidget:
    """A scroll area's viewport, made as Qt makes its own, but from Python.

    The first time Python touches a widget Qt made itself (a scroll area's own viewport),
    PySide6 finds its type by trying every QWidget subclass, loading each class and creating
    its enums: ~11 ms, which the lobby's first paint (it waits on the viewport's paint) would
    pay. A viewport made here is known to PySide6 already.
    """
    viewport = QWidget()
    viewport.setObjectName("qt_scrollarea_viewport")
    viewport.setBackgroundRole(QPalette.ColorRole.Base)
    viewport.setAutoFillBackground(True)
    return viewport


async def _next_paint(widget: QWidget, timeout_s: float) -> None:
    """Wait until ``widget`` paints, at most ``timeout_s`` (a hidden one never does)."""
    if not widget.isVisible():
        return
    watch = _PaintWatch()
    widget.installEventFilter(watch)
    try:
        await asyncio.wait_for(watch.painted.wait(), timeout_s)
    except TimeoutError:
        pass
    finally:
        widget.removeEventFilter(watch)


def _bring_forward(widget: QWidget) -> None:
    """Show a window, or raise it when it is already shown, and give it the focus."""
    if widget.isVisible():
        widget.raise_()
    else:
        widget.show()
    widget.activateWindow()
