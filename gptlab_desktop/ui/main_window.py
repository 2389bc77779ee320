"""The main window: the lobby and past sessions on the left, the chat pane on the right.

The window is built and shown before any data is read, so it paints at once; ``start`` then opens
the store, fills the lobby, finds the current user and warms the chat services up, all in the
background. A store that cannot be used never stops the window: it says so, and shows the
shipped showcase read-only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop import __version__
from gptlab_desktop.models import Assistant, Session, User
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.store.base import ShowcaseEntry, Store, StoreHealth
from gptlab_desktop.ui.chat_pane import ChatPane, ChatPaneContext
from gptlab_desktop.ui.lobby_model import (
    LobbyDelegate,
    LobbyFilterModel,
    LobbyModel,
    LobbyRole,
    showcase_preview,
)
from gptlab_desktop.ui.messages import MessagePresenter, store_status_text
from gptlab_desktop.ui.session_list_model import SessionListModel, SessionRole

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
    """The app's window; its services come in as constructor arguments.

    ``current_user`` finds (or creates) the user of this run once the store is open;
    ``warm_up`` prepares the chat services after the first paint; ``release`` frees them
    (the HTTP connections) when the window closes, before the store is closed.
    """

    #: The user opened an assistant (double-click or Enter in the lobby); carries its id.
    assistantActivated = Signal(str)
    #: The window has closed and released its services.
    closed = Signal()

    def __init__(
        self,
        store: Store,
        settings: QSettings,
        *,
        engine: SessionEngine,
        current_user: Callable[[], Awaitable[User]],
        warm_up: Callable[[], Awaitable[None]] | None = None,
        release: Callable[[], Awaitable[None]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._settings = settings
        self._engine = engine
        self._current_user = current_user
        self._warm_up = warm_up
        self._release = release
        self._user: User | None = None
        self._warm_up_task: asyncio.Task[None] | None = None
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
        # Enabled while an assistant is selected and sessions can be saved.
        self.new_session_action = self._action("New Session", "newSessionAction", enabled=False)
        self.new_session_action.setShortcut(QKeySequence(QKeySequence.StandardKey.New))
        self.new_session_action.triggered.connect(self.start_session_with_selected)
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
        self.chat_pane = ChatPane(
            self._engine, ChatPaneContext(find_assistant=self._store.get_assistant), self
        )
        # The pane's parts, named here too for the window's own code and tests.
        self.chat_view = self.chat_pane.chat_view
        self.message_input = self.chat_pane.message_input
        self.send_button = self.chat_pane.send_button
        self.stop_button = self.chat_pane.stop_button
        self.splitter.addWidget(self.chat_pane)
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

        # The sessions list. A richer session panel replaces this tab later; it needs only
        # open_session(id) and reload_sessions() of the window.
        self.session_list = QListView(self.sidebar_tabs)
        _name(self.session_list, "sessionList", "Sessions")
        self.session_list.setModel(self.session_model)
        self.session_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.session_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.session_list.setWordWrap(True)
        self.sidebar_tabs.addTab(self.session_list, "Sessions")
        return self.sidebar_tabs

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
        self.assistantActivated.connect(self.start_session)
        self.session_list.selectionModel().currentChanged.connect(self._on_current_session)
        self.chat_pane.sessionChanged.connect(self._on_session_changed)
        self.chat_pane.statusMessage.connect(self.messages.show_status)
        for keys, name, slot in (
            ("Ctrl+Return", "sendShortcut", self.chat_pane.send),
            ("Ctrl+Enter", "sendKeypadShortcut", self.chat_pane.send),
            ("Esc", "stopShortcut", self.chat_pane.escape),
            ("Ctrl+L", "focusInputShortcut", self.focus_message_input),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setObjectName(name)
            shortcut.activated.connect(slot)
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
        try:
            self._user = await self._current_user()
        except ServiceError as error:
            self.messages.show_error(error, doing="Finding your user record")
        self._update_session_actions()
        if self._warm_up is not None:
            # The lobby is up by now; the chat's libraries load while the user looks at it.
            self._warm_up_task = asyncio.ensure_future(self._warm_up_services(self._warm_up))
        return health

    async def _warm_up_services(self, warm_up: Callable[[], Awaitable[None]]) -> None:
        try:
            await warm_up()
        except Exception:
            # The first request loads what it needs anyway, just more slowly.
            log.warning("Warming up the chat services failed", exc_info=True)

    @property
    def warm_up_task(self) -> asyncio.Task[None] | None:
        """The background warm-up of the chat services, once started."""
        return self._warm_up_task

    @property
    def current_user(self) -> User | None:
        """The user of this run, once the store is open."""
        return self._user

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
        self._select_open_session()

    def reload_sessions(self) -> asyncio.Task[None]:
        """Read the sessions list again (of the selected assistant, or of all)."""
        assistant = self.selected_assistant()
        return self._tasks.start(
            "sessions", self._load_sessions(assistant.id if assistant else None)
        )

    def _select_open_session(self) -> None:
        """Show the open session as the current row, without opening it again."""
        session = self.chat_pane.session
        if session is None:
            return
        for row in range(self.session_model.rowCount()):
            index = self.session_model.index(row, 0)
            if index.data(SessionRole.SESSION_ID) == session.id:
                self.session_list.setCurrentIndex(index)
                return

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
        self.chat_pane.show_assistant(assistant if isinstance(assistant, Assistant) else None)
        self._update_session_actions()
        if self._health is not None and not self._is_shut_down:
            bot_id = assistant.id if isinstance(assistant, Assistant) else None
            self._tasks.start("sessions", self._load_sessions(bot_id))

    def selected_assistant(self) -> Assistant | None:
        """The assistant selected in the lobby, if any."""
        assistant = self.lobby_list.currentIndex().data(LobbyRole.ASSISTANT)
        return assistant if isinstance(assistant, Assistant) else None

    # -- sessions -----------------------------------------------------------------------------
    def start_session(self, assistant_id: str) -> asyncio.Task[None] | None:
        """Start a session with an assistant; it greets first and tops the sessions list."""
        if self._is_shut_down:
            return None
        if self.is_read_only:
            self.chat_pane.show_notice(
                "Sessions cannot be started: your data could not be opened this run."
            )
            return None
        if self._user is None:
            self.chat_pane.show_notice("Still opening your data; try again in a moment.")
            return None
        return self.chat_pane.start_session(assistant_id, self._user.id)

    def start_session_with_selected(self) -> asyncio.Task[None] | None:
        """Ctrl+N: a new session with the assistant selected in the lobby."""
        assistant = self.selected_assistant()
        if assistant is None:
            self.chat_pane.show_notice("Select an assistant in the lobby first.")
            return None
        return self.start_session(assistant.id)

    def open_session(self, session_id: str) -> asyncio.Task[None] | None:
        """Show a stored session in the chat pane (the store alone is enough)."""
        if self._is_shut_down:
            return None
        return self.chat_pane.open_session(session_id)

    def focus_message_input(self) -> None:
        """Put the cursor in the message box (Ctrl+L)."""
        self.message_input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _on_current_session(self, current: QModelIndex, _previous: QModelIndex) -> None:
        session_id = current.data(SessionRole.SESSION_ID) if current.isValid() else None
        if session_id:
            self.open_session(str(session_id))

    def _on_session_changed(self, _session: Session) -> None:
        if not self._is_shut_down and self._health is not None:
            self.reload_sessions()

    def _update_session_actions(self) -> None:
        self.new_session_action.setEnabled(
            self.selected_assistant() is not None
            and self._user is not None
            and not self.is_read_only
        )

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
        # A streaming reply is stored as interrupted before the store closes.
        await self.chat_pane.aclose()
        await self._tasks.cancel_all()
        if self._warm_up_task is not None and not self._warm_up_task.done():
            self._warm_up_task.cancel()
        if self._release is not None:
            try:
                await self._release()
            except Exception:
                log.exception("Releasing the chat services failed")
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
        self._update_session_actions()
