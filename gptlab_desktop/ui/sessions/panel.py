"""The sessions panel widget: the search bar, the chat list, and the undo bar.

A self-contained widget over ``services.session_library.SessionLibrary``; the window embeds it
and listens to its signals (``sessionActivated``, ``searchHitActivated``, ``sessionsChanged``).
Browsing lists every chat (or one assistant's) grouped by date under the pinned ones; a single
click opens a chat, and the one open in the chat pane stays marked (``mark_open``). Typing in
the search box switches the same list to full-text results over every session, grouped by
session, each hit with its snippet; Down goes from the box into the list. A chat is renamed in
place (F2 or a double-click) and pinned from its menu. All store work runs in named tasks
(``TaskGroupByName``), so a new keystroke cancels the previous search and closing the panel
cancels what is left.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import shiboken6
from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QListView,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import Session, SessionSummary
from gptlab_desktop.services.aio import TaskGroupByName, run_blocking
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.session_library import (
    Deletion,
    DeletionOutcome,
    ExportFormat,
    SessionEntry,
    SessionLibrary,
    TitleIndex,
)
from gptlab_desktop.ui.list_keys import move_down_into
from gptlab_desktop.ui.messages import MessagePresenter, describe_failure
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.sessions.actions import build_session_actions
from gptlab_desktop.ui.sessions.delegate import SessionRowDelegate
from gptlab_desktop.ui.sessions.export import open_export_dialog
from gptlab_desktop.ui.sessions.model import PanelRole, SessionPanelModel
from gptlab_desktop.ui.sessions.roles import SessionRole
from gptlab_desktop.ui.sessions.search import SessionSearchBar
from gptlab_desktop.ui.sessions.undo_bar import UndoBar

log = logging.getLogger(__name__)

#: How many sessions the panel lists when browsing (None: every one).
PANEL_LIST_LIMIT: int | None = None
#: How many rows the list lays out at a time (the first batch paints at once).
LIST_BATCH_SIZE = 100
#: Pause after the last keystroke before searching, in milliseconds.
SEARCH_DELAY_MS = 150
#: The task that fills the list. Listing and searching share it: the latest request wins.
LOAD_TASK = "search"
#: The task that indexes the listed chats' titles for typing.
TITLES_TASK = "titles"


class SessionPanel(QWidget):
    """Past sessions: a search box, a scope choice, the list, and an undo bar for deletions.

    Call ``refresh()`` (or ``set_assistant``) once the store is open; await ``shut_down()``
    (or at least ``flush_pending()``) before closing the store, so no deletion is left
    half-done. ``messages`` shows errors and confirmations; without one they appear in the
    panel's notice line.
    """

    #: Open this session (a click or Enter on a session, or on a search hit).
    sessionActivated = Signal(str)
    #: A search hit was activated: open the session and show this message (session, message).
    searchHitActivated = Signal(str, str)
    #: Sessions changed here (renamed, ended, deleted or brought back): counts may be stale.
    sessionsChanged = Signal()
    #: A session was deleted (hidden, still undoable): close it if it is open.
    sessionDeleted = Signal(str)
    #: A session was ended from the panel: a chat showing it should stop taking messages.
    sessionEnded = Signal(str)

    def __init__(
        self,
        library: SessionLibrary,
        *,
        messages: MessagePresenter | None = None,
        list_limit: int | None = PANEL_LIST_LIMIT,
        min_messages: int = 0,
        search_delay_ms: int = SEARCH_DELAY_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._library = library
        self._messages = messages
        self._list_limit = list_limit
        self._min_messages = min_messages
        self._search_delay_s = search_delay_ms / 1000
        self._tasks = TaskGroupByName()
        # Deleted sessions that can still be brought back, the latest last.
        self._undo_stack: list[str] = []
        # The chats listed last, and their titles indexed (in a worker thread once listed) so
        # typing narrows them at once, before the full-text search answers.
        self._browsed: list[SessionEntry] = []
        self._titles: TitleIndex | None = None
        self._is_shut_down = False

        self.setObjectName("sessionPanel")
        self.setAccessibleName("Chat list")
        self.model = SessionPanelModel(self)
        self._build()
        self._build_actions()
        self.model.titleEdited.connect(self._on_title_edited)
        self.search_bar.queryChanged.connect(self._on_search_text)
        self.search_bar.scopeChanged.connect(self.refresh)
        self.list_view.activated.connect(self._on_activated)
        # A single click opens, as in every chat app; a double-click renames in place.
        self.list_view.clicked.connect(self._on_activated)
        self.list_view.customContextMenuRequested.connect(self._show_context_menu)
        self.list_view.selectionModel().currentChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self.model.rowsRemoved.connect(self._update_actions)
        self.undo_bar.undo_button.clicked.connect(self.undo_delete)
        self._update_actions()

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.search_bar = SessionSearchBar(self)
        self.search_box = self.search_bar.search_box
        self.scope_combo = self.search_bar.scope_combo
        layout.addWidget(self.search_bar)

        self.notice_label = QLabel(self)
        name_widget(self.notice_label, "sessionNotice", "Sessions notice")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        layout.addWidget(self.notice_label)

        self.list_view = QListView(self)
        name_widget(self.list_view, "sessionList", "Chats")
        self.list_view.setModel(self.model)
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # F2 (through the action) or a double-click renames in place; a single click opens.
        self.list_view.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.list_view.setUniformItemSizes(False)
        self.list_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Ten thousand chats are laid out a batch at a time, the first screenful at once.
        self.list_view.setLayoutMode(QListView.LayoutMode.Batched)
        self.list_view.setBatchSize(LIST_BATCH_SIZE)
        self.list_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.list_view.setItemDelegate(SessionRowDelegate(self.list_view))
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        layout.addWidget(self.list_view, 1)

        self.undo_bar = UndoBar(self)
        layout.addWidget(self.undo_bar)
        move_down_into(self.search_box, self.list_view)

    def _build_actions(self) -> None:
        actions = build_session_actions(self, self.list_view, self.search_box)
        self.rename_action = actions.rename
        self.pin_action = actions.pin
        self.export_markdown_action = actions.export_markdown
        self.export_json_action = actions.export_json
        self.end_action = actions.end
        self.delete_action = actions.delete
        self.undo_action = actions.undo
        self.focus_search_action = actions.focus_search
        self.clear_search_action = actions.clear_search
        self.context_menu = actions.context_menu
        self.rename_action.triggered.connect(self.rename_current)
        self.pin_action.triggered.connect(self._on_pin)
        self.export_markdown_action.triggered.connect(self._on_export_markdown)
        self.export_json_action.triggered.connect(self._on_export_json)
        self.end_action.triggered.connect(self._on_end)
        self.delete_action.triggered.connect(self._on_delete)
        self.undo_action.triggered.connect(self.undo_delete)
        self.focus_search_action.triggered.connect(self.focus_search)
        self.clear_search_action.triggered.connect(self.search_box.clear)

    # -- public API -------------------------------------------------------------------------
    @property
    def assistant_id(self) -> str | None:
        """The assistant whose sessions the panel lists in its "This assistant" scope."""
        return self.search_bar.assistant_id

    @property
    def is_searching(self) -> bool:
        """Whether the list shows search results."""
        return self.search_bar.is_searching

    def set_assistant(self, assistant_id: str | None) -> asyncio.Task[None]:
        """List this assistant's sessions (or all, for ``None``) and reload."""
        self.search_bar.set_assistant(assistant_id)
        return self.refresh()

    def refresh(self) -> asyncio.Task[None]:
        """Read the list (or the current search's results) again, in the background."""
        return self._tasks.start(LOAD_TASK, self._load(self.search_box.text(), delay_s=0))

    def select_session(self, session_id: str) -> bool:
        """Make a session's row current and visible; whether it is in the list."""
        row = self.model.session_row(session_id)
        if row < 0:
            return False
        index = self.model.index(row, 0)
        self.list_view.setCurrentIndex(index)
        self.list_view.scrollTo(index)
        return True

    def mark_open(self, session_id: str | None) -> None:
        """Mark the chat open in the chat pane (None: none), and make its row current, so the
        list follows the open chat however it was opened."""
        self.model.set_open_session(session_id)
        if session_id is not None and not self.is_editing:
            self.select_session(session_id)

    @property
    def open_session_id(self) -> str | None:
        """The chat marked open."""
        return self.model.open_session_id

    @property
    def is_editing(self) -> bool:
        """Whether a title is being edited in place."""
        return self.list_view.state() == QAbstractItemView.State.EditingState

    def show_session(self, session: Session) -> asyncio.Task[None] | None:
        """Show a session that changed or started (a message, a title): where it is if it stays
        there, else by reading the list again (returned, to wait for)."""
        summary = SessionSummary.of(session)
        if not self.is_searching and self.model.update_in_place(
            summary, self._library.group_of(summary)
        ):
            return None
        return self._tasks.start(
            LOAD_TASK, self._load(self.search_box.text(), 0, select=session.id)
        )

    def pin_session(self, session_id: str, is_pinned: bool = True) -> asyncio.Task[None]:
        """Pin a chat to the top of the list (or unpin it); the list is read again."""
        return self._tasks.start(f"pin:{session_id}", self._pin(session_id, is_pinned))

    def current_session_id(self) -> str | None:
        """The session of the current row (a session or one of its hits), if any."""
        entry = self._current_entry()
        return entry.session_id if entry is not None else None

    def focus_search(self) -> None:
        """Put the cursor in the search box with its text selected (Ctrl+Shift+F)."""
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def rename_current(self) -> None:
        """Start editing the current session's title in place (F2)."""
        entry = self._current_entry()
        if entry is None:
            return
        row = self.model.session_row(entry.session_id)
        if row >= 0:
            index = self.model.index(row, 0)
            self.list_view.setCurrentIndex(index)
            self.list_view.edit(index)

    def rename_session(self, session_id: str, title: str) -> asyncio.Task[None]:
        """Store a new title for a session (trimmed; a blank one is refused with a message)."""
        return self._tasks.start(f"rename:{session_id}", self._rename(session_id, title))

    def end_session(self, session_id: str) -> asyncio.Task[None]:
        """End a session as abandoned by the user."""
        return self._tasks.start(f"end:{session_id}", self._end(session_id))

    def export_to(self, session_id: str, path: str | Path, fmt: ExportFormat) -> asyncio.Task[None]:
        """Export a session to a chosen file (what the save dialog calls with its path)."""
        return self._tasks.start(f"export:{session_id}", self._export(session_id, Path(path), fmt))

    def delete_session(self, session_id: str) -> asyncio.Task[Deletion]:
        """Hide a session now and delete it after the undo window (Del); the undo bar shows."""
        task = self._library.delete(session_id)
        current_row = self.list_view.currentIndex().row()
        if self.model.remove_session(session_id) and self.model.rowCount():
            # The next session takes the deleted one's place, so Del can be pressed again.
            next_row = min(max(current_row, 0), self.model.rowCount() - 1)
            self.list_view.setCurrentIndex(self.model.index(next_row, 0))
        if session_id in self._undo_stack:
            self._undo_stack.remove(session_id)
        self._undo_stack.append(session_id)
        task.add_done_callback(self._on_deletion_done)
        self._update_undo_bar()
        self.sessionDeleted.emit(session_id)
        self.sessionsChanged.emit()
        return task

    def undo_delete(self) -> bool:
        """Bring back the session deleted last (Ctrl+Z); whether one came back."""
        while self._undo_stack:
            session_id = self._undo_stack.pop()
            if self._library.undo(session_id):
                self._update_undo_bar()
                self._tasks.start(LOAD_TASK, self._load(self.search_box.text(), 0, session_id))
                self.sessionsChanged.emit()
                return True
        self._update_undo_bar()
        return False

    async def flush_pending(self) -> None:
        """Carry out every pending deletion now (before the app closes)."""
        await self._library.flush()
        self._undo_stack.clear()
        self._update_undo_bar()

    async def shut_down(self) -> None:
        """Stop the panel's work and carry out pending deletions; call before closing the store."""
        self._is_shut_down = True
        await self._tasks.cancel_all()
        await self.flush_pending()

    # -- loading ----------------------------------------------------------------------------
    def _on_search_text(self, text: str) -> None:
        if text.strip() and self._browsed:
            self._show_title_matches(text)
        self._tasks.start(LOAD_TASK, self._load(text, self._search_delay_s))

    def _show_title_matches(self, text: str) -> None:
        """Narrow the list to the chats listed whose titles match, at once; the search's
        results (every chat, message hits too) replace them when they come."""
        self.model.set_matches(self._title_index().matching(text))
        self._set_notice("")

    def _title_index(self) -> TitleIndex:
        if self._titles is None:
            self._titles = TitleIndex(self._browsed)
        return self._titles

    def _index_titles_when_idle(self) -> None:
        """Index the listed chats' titles in a worker thread, so the first keystroke narrows
        at once: ten thousand titles take ~30 ms, more than a keystroke (or a frame) may."""
        self._tasks.start(TITLES_TASK, self._index_titles(self._browsed))

    async def _index_titles(self, entries: list[SessionEntry]) -> None:
        index = await run_blocking(TitleIndex, entries)
        if entries is self._browsed and self._titles is None:
            self._titles = index

    async def _load(self, query: str, delay_s: float, select: str | None = None) -> None:
        if delay_s > 0:
            # Cancelled by the next keystroke: only the last pause searches.
            await asyncio.sleep(delay_s)
        keep = select or self.current_session_id()
        query = query.strip()
        try:
            if query:
                results = await self._library.search(query)
                self.model.set_results(results)
                self._set_notice("" if results else f"No sessions match “{query}”.")
            else:
                sections = await self._library.list_chats(
                    self.search_bar.listed_assistant(),
                    limit=self._list_limit,
                    min_messages=self._min_messages,
                )
                self.model.set_sections(sections)
                self._browsed = [entry for section in sections for entry in section.entries]
                self._titles = None
                self._index_titles_when_idle()
                self._set_notice("" if sections else self._empty_text())
        except ServiceError as error:
            self._show_error(error, doing="Reading the sessions")
            return
        if keep is not None:
            self.select_session(keep)

    def _empty_text(self) -> str:
        if self.search_bar.listed_assistant() is not None:
            return "No chats with this assistant yet."
        return "No chats yet: pick an assistant, or start a New Chat."

    # -- activation and the menu ------------------------------------------------------------
    def _on_activated(self, index: QModelIndex) -> None:
        session_id = index.data(SessionRole.SESSION_ID)
        if not session_id:
            return
        self.sessionActivated.emit(str(session_id))
        message_id = index.data(PanelRole.MESSAGE_ID)
        if message_id:
            self.searchHitActivated.emit(str(session_id), str(message_id))

    def _show_context_menu(self, position: QPoint) -> None:
        index = self.list_view.indexAt(position)
        if not index.isValid():
            return
        self.list_view.setCurrentIndex(index)
        self._update_actions()
        # popup(), not exec(): the menu must not nest an event loop (see DESIGN.md).
        self.context_menu.popup(self.list_view.viewport().mapToGlobal(position))

    def _current_entry(self) -> SessionEntry | None:
        index = self.list_view.currentIndex()
        return self.model.entry_at(index.row()) if index.isValid() else None

    def _update_actions(self, *_args: object) -> None:
        entry = self._current_entry()
        has_entry = entry is not None
        for action in (
            self.rename_action,
            self.pin_action,
            self.export_markdown_action,
            self.export_json_action,
            self.delete_action,
        ):
            action.setEnabled(has_entry)
        is_pinned = entry is not None and entry.summary.is_pinned
        self.pin_action.setText("Unpin" if is_pinned else "Pin")
        self.end_action.setEnabled(entry is not None and entry.summary.status.is_open)

    # -- renaming, ending, exporting --------------------------------------------------------
    def _on_title_edited(self, session_id: str, title: str) -> None:
        self.rename_session(session_id, title)

    async def _rename(self, session_id: str, title: str) -> None:
        try:
            stored = await self._library.rename(session_id, title)
        except ServiceError as error:
            self._show_error(error, doing="Renaming the session")
            self.refresh()  # show the title that is really stored
            return
        row = self.model.session_row(session_id)
        if row >= 0:
            summary = self.model.index(row, 0).data(SessionRole.SESSION)
            if isinstance(summary, SessionSummary):
                self.model.update_session(summary.with_changes(title=stored))
        self.sessionsChanged.emit()

    def _on_pin(self) -> None:
        entry = self._current_entry()
        if entry is not None:
            self.pin_session(entry.session_id, not entry.summary.is_pinned)

    async def _pin(self, session_id: str, is_pinned: bool) -> None:
        try:
            await self._library.pin(session_id, is_pinned)
        except ServiceError as error:
            self._show_error(error, doing="Pinning the chat" if is_pinned else "Unpinning the chat")
            return
        # Read again: the chat moves to (or from) the Pinned group, and stays current.
        reading = self._tasks.start(
            LOAD_TASK, self._load(self.search_box.text(), 0, select=session_id)
        )
        await asyncio.wait([reading])
        self.sessionsChanged.emit()

    def _on_end(self) -> None:
        entry = self._current_entry()
        if entry is not None:
            self.end_session(entry.session_id)

    async def _end(self, session_id: str) -> None:
        try:
            ended = await self._library.end(session_id)
        except ServiceError as error:
            self._show_error(error, doing="Ending the session")
            return
        self.model.update_session(SessionSummary.of(ended))
        self._update_actions()
        self.sessionEnded.emit(session_id)
        self.sessionsChanged.emit()

    def _on_export_markdown(self) -> None:
        self.ask_export_path(ExportFormat.MARKDOWN)

    def _on_export_json(self) -> None:
        self.ask_export_path(ExportFormat.JSON)

    def ask_export_path(self, fmt: ExportFormat) -> QFileDialog | None:
        """Open a save dialog (not blocking) for the current session; it calls ``export_to``."""
        entry = self._current_entry()
        if entry is None:
            return None
        session_id = entry.session_id
        return open_export_dialog(
            self, entry.summary, fmt, lambda path: self.export_to(session_id, path, fmt)
        )

    async def _export(self, session_id: str, path: Path, fmt: ExportFormat) -> None:
        try:
            await self._library.export(session_id, path, fmt)
        except ServiceError as error:
            self._show_error(error, doing="Exporting the session")
            return
        self._say(f"Exported the session as {fmt.label} to {path}.")

    # -- deleting ---------------------------------------------------------------------------
    def _on_delete(self) -> None:
        entry = self._current_entry()
        if entry is not None:
            self.delete_session(entry.session_id)

    def _on_deletion_done(self, task: asyncio.Task[Deletion]) -> None:
        # The deletion outlives the panel if the panel is destroyed without ``shut_down``.
        if task.cancelled() or not shiboken6.isValid(self):
            return
        error = task.exception()
        if error is not None:
            self._show_error(error, doing="Deleting the session")
            return
        deletion = task.result()
        if deletion.session_id in self._undo_stack:
            self._undo_stack.remove(deletion.session_id)
        self._update_undo_bar()
        if deletion.outcome is DeletionOutcome.FAILED and deletion.error is not None:
            self._show_error(deletion.error, doing="Deleting the session")
            if not self._is_shut_down:
                self.refresh()  # the session is still stored: show it again
                self.sessionsChanged.emit()

    def _update_undo_bar(self) -> None:
        count = len(self._undo_stack)
        self.undo_bar.show_count(count)
        self.undo_action.setEnabled(count > 0)

    # -- telling the user -------------------------------------------------------------------
    def _set_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))

    def _say(self, text: str) -> None:
        if self._messages is not None:
            self._messages.show_status(text)
        else:
            self._set_notice(text)

    def _show_error(self, error: BaseException, *, doing: str) -> None:
        if self._messages is not None:
            self._messages.show_error(error, doing=doing)
            return
        self._set_notice(describe_failure(error, doing=doing).text)
