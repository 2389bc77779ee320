"""The main window: the lobby and past sessions on the left, the chat pane on the right.

The window is built and shown before any data is read, so it paints at once; ``start`` then opens
the store and fills the lobby in the background. A store that cannot be used never stops the
window: it says so, and shows the shipped showcase read-only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop import __version__
from gptlab_desktop.models import Assistant
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.store.base import ShowcaseEntry, Store, StoreHealth
from gptlab_desktop.ui.chat_model import ChatMessageDelegate, ChatModel
from gptlab_desktop.ui.lobby_model import (
    LobbyDelegate,
    LobbyFilterModel,
    LobbyModel,
    LobbyRole,
    showcase_preview,
)
from gptlab_desktop.ui.messages import MessagePresenter, store_status_text
from gptlab_desktop.ui.session_list_model import SessionListModel

log = logging.getLogger(__name__)

APP_TITLE = "GPT Lab Desktop"
# How many past sessions the Sessions tab lists.
SESSION_LIST_LIMIT = 100

_GEOMETRY_KEY = "mainWindow/geometry"
_SPLITTER_KEY = "mainWindow/splitterState"


def _name(widget: QWidget, object_name: str, accessible_name: str) -> None:
    """Give ``widget`` the stable name tests use and the name assistive technology reads."""
    widget.setObjectName(object_name)
    widget.setAccessibleName(accessible_name)


class MainWindow(QMainWindow):
    """The app's window; its services come in as constructor arguments."""

    #: The user opened an assistant (double-click or Enter in the lobby); carries its id.
    assistantActivated = Signal(str)
    #: The window has closed and released its services.
    closed = Signal()

    def __init__(
        self,
        store: Store,
        settings: QSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._settings = settings
        self._tasks = TaskGroupByName()
        self._health: StoreHealth | None = None
        self._shutdown_task: asyncio.Task[None] | None = None
        self._is_shut_down = False

        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_TITLE)

        self.lobby_model = LobbyModel(self)
        self.lobby_filter = LobbyFilterModel(self)
        self.lobby_filter.setSourceModel(self.lobby_model)
        self.session_model = SessionListModel(self)
        self.chat_model = ChatModel(self)

        self._build_menus()
        self._build_central()
        self._build_status_bar()
        self.messages = MessagePresenter(self, self.statusBar())
        self._connect()
        self._restore_window_state()

    # -- building ---------------------------------------------------------------------------
    def _build_menus(self) -> None:
        menu_bar = self.menuBar()

        file_menu = menu_bar.addMenu("&File")
        file_menu.setObjectName("fileMenu")
        # Enabled by the chat issue, which builds session start-up.
        self.new_session_action = self._action("New Session…", "newSessionAction", enabled=False)
        self.new_session_action.setShortcut(QKeySequence(QKeySequence.StandardKey.New))
        file_menu.addAction(self.new_session_action)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", "quitAction")
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        assistants_menu = menu_bar.addMenu("&Assistants")
        assistants_menu.setObjectName("assistantsMenu")
        # The assistant editor comes in a later issue; the actions exist so it can enable them.
        self.new_assistant_action = self._action(
            "New Assistant…", "newAssistantAction", enabled=False
        )
        self.edit_assistant_action = self._action(
            "Edit Assistant…", "editAssistantAction", enabled=False
        )
        assistants_menu.addAction(self.new_assistant_action)
        assistants_menu.addAction(self.edit_assistant_action)

        settings_menu = menu_bar.addMenu("&Settings")
        settings_menu.setObjectName("settingsMenu")
        # Built by the API key and preferences issues.
        self.api_key_action = self._action("API Key…", "apiKeyAction", enabled=False)
        self.preferences_action = self._action("Preferences…", "preferencesAction", enabled=False)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        settings_menu.addAction(self.api_key_action)
        settings_menu.addAction(self.preferences_action)

        help_menu = menu_bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        self.about_action = self._action(f"About {APP_TITLE}", "aboutAction")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _action(self, text: str, object_name: str, *, enabled: bool = True) -> QAction:
        action = QAction(text, self)
        action.setObjectName(object_name)
        action.setEnabled(enabled)
        return action

    def _build_central(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        _name(self.splitter, "mainSplitter", "Lobby and chat divider")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self._build_sidebar())
        self.splitter.addWidget(self._build_chat_pane())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([320, 680])
        self.setCentralWidget(self.splitter)
        self.resize(1100, 720)

    def _build_sidebar(self) -> QWidget:
        self.sidebar_tabs = QTabWidget(self)
        _name(self.sidebar_tabs, "sidebarTabs", "Assistants and sessions")

        assistants_page = QWidget(self.sidebar_tabs)
        layout = QVBoxLayout(assistants_page)
        layout.setContentsMargins(4, 4, 4, 4)
        self.assistant_filter = QLineEdit(assistants_page)
        _name(self.assistant_filter, "assistantFilter", "Filter assistants")
        self.assistant_filter.setPlaceholderText("Filter assistants… (Ctrl+F)")
        self.assistant_filter.setClearButtonEnabled(True)
        layout.addWidget(self.assistant_filter)
        self.lobby_notice = QLabel(assistants_page)
        _name(self.lobby_notice, "lobbyNotice", "Lobby notice")
        self.lobby_notice.setWordWrap(True)
        self.lobby_notice.setText("Opening your data…")
        layout.addWidget(self.lobby_notice)
        self.lobby_list = QListView(assistants_page)
        _name(self.lobby_list, "lobbyList", "Assistants")
        self.lobby_list.setModel(self.lobby_filter)
        self.lobby_list.setItemDelegate(LobbyDelegate(self.lobby_list))
        self.lobby_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lobby_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.lobby_list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.lobby_list.setResizeMode(QListView.ResizeMode.Adjust)
        layout.addWidget(self.lobby_list, 1)
        self.sidebar_tabs.addTab(assistants_page, "Assistants")

        self.session_list = QListView(self.sidebar_tabs)
        _name(self.session_list, "sessionList", "Sessions")
        self.session_list.setModel(self.session_model)
        self.session_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.session_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.session_list.setWordWrap(True)
        self.sidebar_tabs.addTab(self.session_list, "Sessions")
        return self.sidebar_tabs

    def _build_chat_pane(self) -> QWidget:
        pane = QWidget(self)
        pane.setObjectName("chatPane")
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(8, 8, 8, 8)

        self.assistant_name_label = QLabel(pane)
        _name(self.assistant_name_label, "assistantNameLabel", "Assistant name")
        name_font = self.assistant_name_label.font()
        name_font.setPointSizeF(name_font.pointSizeF() * 1.4)
        name_font.setBold(True)
        self.assistant_name_label.setFont(name_font)
        self.assistant_tag_line_label = QLabel(pane)
        _name(self.assistant_tag_line_label, "assistantTagLineLabel", "Assistant tag line")
        self.assistant_description_label = QLabel(pane)
        _name(
            self.assistant_description_label, "assistantDescriptionLabel", "Assistant description"
        )
        self.assistant_description_label.setWordWrap(True)
        for label in (
            self.assistant_name_label,
            self.assistant_tag_line_label,
            self.assistant_description_label,
        ):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)

        self.chat_view = QListView(pane)
        _name(self.chat_view, "chatView", "Conversation")
        self.chat_view.setModel(self.chat_model)
        self.chat_view.setItemDelegate(ChatMessageDelegate(self.chat_model, self.chat_view))
        self.chat_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.chat_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.chat_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.chat_view.setUniformItemSizes(False)
        self.chat_view.setWordWrap(True)
        layout.addWidget(self.chat_view, 1)

        input_row = QHBoxLayout()
        self.message_input = QPlainTextEdit(pane)
        _name(self.message_input, "messageInput", "Message")
        self.message_input.setPlaceholderText("Open a session with an assistant to write here.")
        self.message_input.setMaximumHeight(120)
        # Enabled by the chat issue once a session is open.
        self.message_input.setEnabled(False)
        input_row.addWidget(self.message_input, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton("Send", pane)
        _name(self.send_button, "sendButton", "Send message")
        self.send_button.setEnabled(False)
        self.stop_button = QPushButton("Stop", pane)
        _name(self.stop_button, "stopButton", "Stop the reply")
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        input_row.addLayout(buttons)
        layout.addLayout(input_row)
        self._show_assistant(None)
        return pane

    def _build_status_bar(self) -> None:
        status_bar = self.statusBar()
        status_bar.setObjectName("statusBar")
        self.store_status_label = QLabel("Opening your data…", status_bar)
        _name(self.store_status_label, "storeStatusLabel", "Data status")
        self.counts_label = QLabel(status_bar)
        _name(self.counts_label, "countsLabel", "Counts")
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
        for signal in (
            self.lobby_filter.modelReset,
            self.lobby_filter.rowsInserted,
            self.lobby_filter.rowsRemoved,
            self.session_model.modelReset,
        ):
            signal.connect(self._update_counts)

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

    def start(self, showcase: Sequence[ShowcaseEntry]) -> asyncio.Task[StoreHealth]:
        """Open the store, bring the showcase up to date and fill the lobby, in the background."""
        return self._tasks.start("start", self._open_data(list(showcase)))

    async def _open_data(self, showcase: list[ShowcaseEntry]) -> StoreHealth:
        health = await self._store.open()
        self._health = health
        self.store_status_label.setText(store_status_text(health))
        self.store_status_label.setToolTip(store_status_text(health))
        if not health.is_usable:
            # Never touch the file; show what ships, so the app is still worth opening.
            self.messages.show_store_problem(health)
            self.lobby_notice.setText(
                "Your data could not be opened, so the showcased assistants are shown "
                "read-only and nothing is saved this run."
            )
            self.lobby_notice.show()
            self.lobby_model.set_assistants(showcase_preview(showcase))
            return health
        try:
            await self._store.sync_showcase(showcase)
        except ServiceError as error:
            # The lobby still shows whatever the store has.
            self.messages.show_error(error, doing="Updating the showcased assistants")
        await self.reload_lobby()
        await self._load_sessions(None)
        return health

    async def reload_lobby(self) -> None:
        """Read the assistants again (order kept; the selection survives unchanged rows)."""
        try:
            assistants = await self._store.list_assistants()
        except ServiceError as error:
            self.lobby_notice.setText("The assistants could not be read.")
            self.lobby_notice.show()
            self.messages.show_error(error, doing="Reading the assistants")
            return
        self.lobby_model.set_assistants(assistants)
        self.lobby_notice.setVisible(not assistants)
        self.lobby_notice.setText("" if assistants else "No assistants yet.")

    async def _load_sessions(self, bot_id: str | None) -> None:
        if self.is_read_only or self._health is None:
            self.session_model.set_sessions(())
            return
        try:
            sessions = await self._store.list_sessions(bot_id=bot_id, limit=SESSION_LIST_LIMIT)
        except ServiceError as error:
            self.messages.show_error(error, doing="Reading the sessions")
            return
        self.session_model.set_sessions(sessions)

    # -- slots ------------------------------------------------------------------------------
    def focus_filter(self) -> None:
        """Show the lobby and put the cursor in its filter box (Ctrl+F)."""
        self.sidebar_tabs.setCurrentIndex(0)
        self.assistant_filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.assistant_filter.selectAll()

    def _on_filter_changed(self, text: str) -> None:
        self.lobby_filter.set_filter_text(text)
        self._update_counts()

    def _on_lobby_activated(self, index: QModelIndex) -> None:
        assistant_id = index.data(LobbyRole.ASSISTANT_ID)
        if assistant_id:
            self.assistantActivated.emit(str(assistant_id))

    def _on_current_assistant(self, current: QModelIndex, _previous: QModelIndex) -> None:
        assistant = current.data(LobbyRole.ASSISTANT) if current.isValid() else None
        self._show_assistant(assistant if isinstance(assistant, Assistant) else None)
        if self._health is not None and not self._is_shut_down:
            bot_id = assistant.id if isinstance(assistant, Assistant) else None
            self._tasks.start("sessions", self._load_sessions(bot_id))

    def selected_assistant(self) -> Assistant | None:
        """The assistant selected in the lobby, if any."""
        assistant = self.lobby_list.currentIndex().data(LobbyRole.ASSISTANT)
        return assistant if isinstance(assistant, Assistant) else None

    def _show_assistant(self, assistant: Assistant | None) -> None:
        if assistant is None:
            self.assistant_name_label.setText("Choose an assistant")
            self.assistant_tag_line_label.setText("")
            self.assistant_description_label.setText(
                "Pick one from the lobby on the left; double-click it to chat."
            )
            return
        self.assistant_name_label.setText(assistant.name)
        self.assistant_tag_line_label.setText(assistant.tag_line)
        self.assistant_description_label.setText(assistant.description)

    def _update_counts(self) -> None:
        total = self.lobby_model.rowCount()
        shown = self.lobby_filter.rowCount()
        assistants = f"{total} assistants" if shown == total else f"{shown} of {total} assistants"
        sessions = self.session_model.rowCount()
        self.counts_label.setText(f"{assistants} · {sessions} sessions")

    def show_about(self) -> QMessageBox:
        """The About box (opened, never exec'd: it must not block a running coroutine)."""
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
        """Save the window's layout, then release the services before really closing."""
        if self._is_shut_down:
            event.accept()
            return
        event.ignore()
        if self._shutdown_task is not None:
            return
        self._save_window_state()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No event loop (a window built without the app): nothing async to finish.
            self._is_shut_down = True
            event.accept()
            self.closed.emit()
            return
        self._shutdown_task = asyncio.ensure_future(self._shut_down())

    async def _shut_down(self) -> None:
        await self._tasks.cancel_all()
        try:
            await self._store.close()
        except Exception:
            # Closing must finish whatever happens; the next start reports a damaged store.
            log.exception("Closing the store failed")
        self._is_shut_down = True
        self.close()
        self.closed.emit()

    def reload(self) -> asyncio.Task[None]:
        """Re-read the lobby and the sessions in the background (after an edit, say)."""
        return self._tasks.start("reload", self._reload())

    async def _reload(self) -> None:
        await self.reload_lobby()
        assistant = self.selected_assistant()
        await self._load_sessions(assistant.id if assistant else None)
