"""The chat pane and the sessions panel: built once the lobby has painted, or when first asked.

Their modules and widgets cost as much start-up time as the rest of the window, so the window
paints the lobby first and builds these after (``build``), in the places it keeps for them. The
workspace wires the two together — a session opened from the panel (or any other way) shows in
the pane, stays marked in the chat list and gets the cursor in its message box; a session the
pane changes is shown again in the list; a search hit scrolls to its message (on its branch) —
and closes them: a streaming reply is stored as interrupted, deletions still within their undo
window are carried out (``wind_down``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QMainWindow, QSplitter, QTabWidget

from gptlab_desktop.models import Session
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.lobby_panel import LobbyPanel
from gptlab_desktop.ui.messages import MessagePresenter

if TYPE_CHECKING:
    from gptlab_desktop.ui.chat.pane import ChatPane
    from gptlab_desktop.ui.sessions.panel import SessionPanel
    from gptlab_desktop.ui.window_services import WindowServices

log = logging.getLogger(__name__)

# How many past sessions the sessions panel lists (None: every one, as a chat list does).
SESSION_LIST_LIMIT: int | None = None
# Where the two go: the splitter's second widget, the sidebar's second tab.
_PANE_INDEX = 1
_PANEL_TAB = 1


class Workspace(QObject):
    """The chat pane and sessions panel of a window, and what passes between them."""

    #: Both are built (once): the window shows the selected assistant in them.
    built = Signal()
    #: The sessions listed changed (the window's counts follow).
    sessionsChanged = Signal()
    #: The chat pane shows another session: its id, "" for none (the window remembers it).
    openSessionChanged = Signal(str)

    def __init__(
        self,
        services: WindowServices,
        messages: MessagePresenter,
        window: QMainWindow,
        *,
        splitter: QSplitter,
        sidebar: QTabWidget,
        lobby: LobbyPanel,
        is_usable: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self._services = services
        self._messages = messages
        self._window = window
        self._splitter = splitter
        self._sidebar = sidebar
        self._lobby = lobby
        self._is_usable = is_usable
        self._pane: ChatPane | None = None
        self._panel: SessionPanel | None = None
        self._tasks = TaskGroupByName()

    @property
    def is_built(self) -> bool:
        """Whether the pane and the panel exist."""
        return self._pane is not None

    @property
    def pane(self) -> ChatPane:
        """The chat pane (built now if it was not yet)."""
        self.build()
        assert self._pane is not None
        return self._pane

    @property
    def panel(self) -> SessionPanel:
        """The sessions panel (built now if it was not yet)."""
        self.build()
        assert self._panel is not None
        return self._panel

    def session_count(self) -> int | None:
        """How many sessions the panel lists; None before it is built."""
        return None if self._panel is None else len(self._panel.model.session_ids())

    def build(self) -> None:
        """Build the chat pane and the sessions panel in their places (once)."""
        if self._pane is not None:
            return
        from gptlab_desktop.ui.chat.pane import ChatPane, ChatPaneContext
        from gptlab_desktop.ui.sessions.panel import SessionPanel

        services = self._services
        pane = ChatPane(
            services.engine,
            ChatPaneContext(find_assistant=services.lobby.assistant, providers=services.providers),
            self._window,
        )
        panel = SessionPanel(
            services.library,
            messages=self._messages,
            list_limit=SESSION_LIST_LIMIT,
            parent=self._sidebar,
        )
        self._pane, self._panel = pane, panel
        # The splitter keeps its sizes.
        self._splitter.replaceWidget(_PANE_INDEX, pane).deleteLater()
        current = self._sidebar.currentIndex()
        placeholder = self._sidebar.widget(_PANEL_TAB)
        self._sidebar.removeTab(_PANEL_TAB)
        placeholder.deleteLater()
        self._sidebar.insertTab(_PANEL_TAB, panel, "Chats")
        self._sidebar.setCurrentIndex(current)
        self._connect(pane, panel)
        self.built.emit()

    def _connect(self, pane: ChatPane, panel: SessionPanel) -> None:
        window = self._window
        panel.searchHitActivated.connect(self.show_search_hit)
        panel.sessionDeleted.connect(self._on_session_deleted)
        panel.sessionEnded.connect(self._on_session_ended)
        for signal in (panel.sessionsChanged, panel.model.modelReset, panel.model.rowsRemoved):
            signal.connect(self.sessionsChanged)
        # The panel's Ctrl+Shift+F works only while it is visible; on the window it works from
        # either tab (the panel's own slot runs first, then the window's shows the tab).
        window.addAction(panel.focus_search_action)
        pane.sessionChanged.connect(self._on_session_changed)
        pane.statusMessage.connect(self._messages.show_status)
        for keys, name, words, slot in (
            ("Ctrl+Return", "sendShortcut", "Send the message", pane.send),
            ("Ctrl+Enter", "sendKeypadShortcut", "Send the message (keypad)", pane.send),
            ("Esc", "stopShortcut", "Stop the reply, or cancel an edit", pane.escape),
        ):
            shortcut = QShortcut(QKeySequence(keys), window)
            shortcut.setObjectName(name)
            # What the Keyboard Shortcuts list says it does.
            shortcut.setWhatsThis(words)
            shortcut.activated.connect(slot)

    # -- sessions -----------------------------------------------------------------------------
    def open_session(self, session_id: str) -> asyncio.Task[None] | None:
        """Show a stored session in the chat pane; once it shows, its row in the chat list is
        the current one and the cursor is in the message box. None when it was open already."""
        task = self.pane.open_session(session_id)
        if task is None:
            self._follow_open_session(session_id, focus=True)
            return None
        task.add_done_callback(lambda done: self._on_opened(session_id, done))
        return task

    def _on_opened(self, session_id: str, task: asyncio.Task[None]) -> None:
        # The window may be gone by the time a late opening ends.
        if task.cancelled() or not shiboken6.isValid(self) or self._pane is None:
            return
        if self.is_open(session_id):
            self._follow_open_session(session_id, focus=True)

    def _follow_open_session(self, session_id: str, *, focus: bool) -> None:
        """Mark the open session in the chat list, and give the message box the cursor (unless
        a title is being edited in the list: a double-click opens, then renames)."""
        panel = self.panel
        changed = panel.open_session_id != session_id
        panel.mark_open(session_id)
        if focus and not panel.is_editing:
            self.pane.message_input.setFocus(Qt.FocusReason.OtherFocusReason)
        if changed:
            self.openSessionChanged.emit(session_id)

    def is_open(self, session_id: str) -> bool:
        """Whether the chat pane shows this session."""
        session = self.pane.session
        return session is not None and session.id == session_id

    def show_search_hit(self, session_id: str, message_id: str) -> asyncio.Task[bool]:
        """Once the session is open in the chat pane, scroll to the message a search found
        (showing the branch it is on first, if another is shown)."""
        return self._tasks.start("hit", self._show_when_open(session_id, message_id))

    async def _show_when_open(self, session_id: str, message_id: str) -> bool:
        while not self.is_open(session_id):
            opening = self.pane.reply_task()
            if opening is None:
                return False  # the session could not be opened (the pane says why)
            await asyncio.wait([opening])
        switching = self.pane.show_branch_through(message_id)
        if switching is not None:
            await asyncio.wait([switching])
        return self.scroll_to_message(message_id)

    def scroll_to_message(self, message_id: str) -> bool:
        """Make a message of the open session current and bring it into view; whether shown."""
        view = self.pane.chat_view
        transcript = view.transcript()
        row = transcript.row_of(message_id)
        if row is None:
            return False
        index = transcript.index(row, 0)
        view.setCurrentIndex(index)
        view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _on_session_deleted(self, session_id: str) -> None:
        if self.is_open(session_id):
            self.pane.close_session()
            self.pane.show_assistant(self._lobby.selected_assistant())
            self.panel.mark_open(None)
            self.openSessionChanged.emit("")

    def _on_session_ended(self, session_id: str) -> None:
        if self.is_open(session_id):
            self.pane.reload_session()

    def _on_session_changed(self, session: Session) -> None:
        if self._is_usable():
            self._tasks.start("sessions", self._show_changed_session(session))

    async def _show_changed_session(self, session: Session) -> None:
        """Show a new or changed session in the chat list (marked open, current), and its
        assistant's new session count."""
        reading = self.panel.show_session(session)
        if reading is not None:
            await asyncio.wait([reading])
        if self.is_open(session.id):
            self._follow_open_session(session.id, focus=False)
        if session.bot_id:
            try:
                assistant = await self._services.lobby.assistant(session.bot_id)
            except ServiceError:
                return  # only a counter in the lobby; the next reload shows it
            if assistant is not None:
                self._lobby.update_assistant(assistant)

    # -- closing ------------------------------------------------------------------------------
    async def wind_down(self) -> None:
        """Store a streaming reply as interrupted, and carry out the deletions still undoable."""
        if self._pane is not None:
            await self._pane.aclose()
        try:
            if self._panel is not None:
                await self._panel.shut_down()
        except Exception:
            log.exception("Finishing the pending session deletions failed")
        await self._tasks.cancel_all()
