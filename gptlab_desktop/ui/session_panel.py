"""The sessions panel: browse, search, rename, export, end and delete (with undo) past sessions.

A self-contained widget over ``services.session_library.SessionLibrary``; the window embeds it
and listens to its signals (``sessionActivated``, ``searchHitActivated``, ``sessionsChanged``).
Browsing lists one assistant's sessions or all of them; typing in the search box switches the
same list to full-text results over every session, grouped by session, each hit with its
snippet. All store work runs in named tasks (``TaskGroupByName``), so a new keystroke cancels
the previous search and closing the panel cancels what is left.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum, IntEnum
from pathlib import Path

import shiboken6
from PySide6.QtCore import (
    QAbstractListModel,
    QDir,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSize,
    QStandardPaths,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QAction,
    QKeySequence,
    QPainter,
    QPalette,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import Session, SessionStatus
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.session_library import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    Deletion,
    DeletionOutcome,
    ExportFormat,
    SessionEntry,
    SessionLibrary,
    SessionSearchResult,
    export_file_name,
)
from gptlab_desktop.ui.messages import MessagePresenter, describe_failure
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.session_list_model import SessionRole, session_title

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex

#: How many sessions the panel lists when browsing.
PANEL_LIST_LIMIT = 100
#: Pause after the last keystroke before searching, in milliseconds.
SEARCH_DELAY_MS = 150
#: The task that fills the list. Listing and searching share it: the latest request wins.
LOAD_TASK = "search"

_ENDED_WORDS = {
    SessionStatus.COMPLETED: "concluded",
    SessionStatus.ABANDONED_BY_USER: "ended",
    SessionStatus.ABANDONED_STORAGE_ERROR: "ended by a storage error",
    SessionStatus.ABANDONED_LLM_ERROR: "ended by a model error",
}


class RowKind(Enum):
    """What a row of the panel's list shows."""

    SESSION = "session"
    HIT = "hit"


class PanelRole(IntEnum):
    """Data roles of the panel's model beyond ``SessionRole`` (SESSION, SESSION_ID)."""

    ROW_KIND = Qt.ItemDataRole.UserRole + 20
    MESSAGE_ID = Qt.ItemDataRole.UserRole + 21
    ASSISTANT_NAME = Qt.ItemDataRole.UserRole + 22
    ENTRY = Qt.ItemDataRole.UserRole + 23
    SNIPPET = Qt.ItemDataRole.UserRole + 24


@dataclass(frozen=True, slots=True)
class _Row:
    kind: RowKind
    entry: SessionEntry
    hit_message_id: str = ""
    snippet: str = ""
    hit_count: int = 0


def session_row_details(entry: SessionEntry, *, hit_count: int = 0) -> str:
    """The second line of a session row: assistant, date, model, messages, how it ended."""
    session = entry.session
    count = session.message_count
    parts = [
        entry.assistant_name or "No assistant",
        f"{session.last_modified_date.astimezone():%Y-%m-%d %H:%M}",
        session.bot_model_config.model,
        f"{count:,} message{'s' if count != 1 else ''}",
    ]
    if session.status in _ENDED_WORDS:
        parts.append(_ENDED_WORDS[session.status])
    if hit_count:
        parts.append(f"{hit_count} match{'es' if hit_count != 1 else ''}")
    return " · ".join(parts)


class SessionPanelModel(QAbstractListModel):
    """The panel's rows: sessions when browsing; sessions each followed by their hits in search.

    A session row is editable (its title); an edit is emitted as ``titleEdited`` for the panel
    to store, and shown at once.
    """

    #: A session's title was edited in the view: session id, the trimmed new title.
    titleEdited = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._is_results = False

    # -- Qt's model interface ---------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Number of rows (a list has no children)."""
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        """Session rows can be renamed in place; hit rows are read-only."""
        flags = super().flags(index)
        if index.isValid() and self._rows[index.row()].kind is RowKind.SESSION:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The row at ``index``: text for display, or one of ``SessionRole``/``PanelRole``."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        session = row.entry.session
        if role == Qt.ItemDataRole.DisplayRole:
            if row.kind is RowKind.HIT:
                return f"    “{row.snippet}”"
            details = session_row_details(row.entry, hit_count=row.hit_count)
            return f"{session_title(session)}\n{details}"
        if role == Qt.ItemDataRole.EditRole:
            return session_title(session) if row.kind is RowKind.SESSION else None
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            if row.kind is RowKind.HIT:
                return f"Match in {session_title(session)}: {row.snippet}"
            details = session_row_details(row.entry, hit_count=row.hit_count)
            return f"{session_title(session)}. {details}"
        if role == SessionRole.SESSION:
            return session
        if role == SessionRole.SESSION_ID:
            return session.id
        if role == PanelRole.ROW_KIND:
            return row.kind
        if role == PanelRole.MESSAGE_ID:
            return row.hit_message_id or None
        if role == PanelRole.ASSISTANT_NAME:
            return row.entry.assistant_name
        if role == PanelRole.ENTRY:
            return row.entry
        if role == PanelRole.SNIPPET:
            return row.snippet or None
        return None

    def setData(self, index: AnyIndex, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Rename a session row; a blank or unchanged title changes nothing."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row = self._rows[index.row()]
        title = " ".join(str(value).split())
        if row.kind is not RowKind.SESSION or not title:
            return False
        if title == session_title(row.entry.session):
            return False
        self.update_session(row.entry.session.with_changes(title=title))
        self.titleEdited.emit(row.entry.session_id, title)
        return True

    # -- filling ----------------------------------------------------------------------------
    @property
    def is_results(self) -> bool:
        """Whether the rows are search results (else a listing)."""
        return self._is_results

    def set_entries(self, entries: Sequence[SessionEntry]) -> None:
        """Show a listing of sessions, in the order given."""
        self.beginResetModel()
        self._rows = [_Row(RowKind.SESSION, entry) for entry in entries]
        self._is_results = False
        self.endResetModel()

    def set_results(self, results: Sequence[SessionSearchResult]) -> None:
        """Show search results: each session, then one row per hit with its snippet."""
        rows: list[_Row] = []
        for result in results:
            rows.append(_Row(RowKind.SESSION, result.entry, hit_count=len(result.hits)))
            rows += [
                _Row(RowKind.HIT, result.entry, hit.message_id, hit.snippet) for hit in result.hits
            ]
        self.beginResetModel()
        self._rows = rows
        self._is_results = True
        self.endResetModel()

    def update_session(self, session: Session) -> None:
        """Show a changed session (renamed, ended) in every row of it."""
        for number, row in enumerate(self._rows):
            if row.entry.session_id == session.id:
                self._rows[number] = replace(row, entry=replace(row.entry, session=session))
                index = self.index(number, 0)
                self.dataChanged.emit(index, index)

    def remove_session(self, session_id: str) -> bool:
        """Take a session's rows (its hits too) out of the list; whether there were any."""
        numbers = [n for n, row in enumerate(self._rows) if row.entry.session_id == session_id]
        if not numbers:
            return False
        # A session's rows are adjacent: its row, then its hits.
        first, last = numbers[0], numbers[-1]
        self.beginRemoveRows(QModelIndex(), first, last)
        del self._rows[first : last + 1]
        self.endRemoveRows()
        return True

    # -- looking up -------------------------------------------------------------------------
    def session_row(self, session_id: str) -> int:
        """The row of a session (not of its hits), or -1 when it is not shown."""
        for number, row in enumerate(self._rows):
            if row.kind is RowKind.SESSION and row.entry.session_id == session_id:
                return number
        return -1

    def entry_at(self, row: int) -> SessionEntry | None:
        """The session a row belongs to."""
        return self._rows[row].entry if 0 <= row < len(self._rows) else None

    def session_ids(self) -> list[str]:
        """The sessions shown, in order, each once."""
        return [row.entry.session_id for row in self._rows if row.kind is RowKind.SESSION]


def row_html(index: QModelIndex | QPersistentModelIndex) -> str:
    """A row as rich text: a bold title over grey details, or an indented snippet."""
    entry = index.data(PanelRole.ENTRY)
    if not isinstance(entry, SessionEntry):
        return ""
    if index.data(PanelRole.ROW_KIND) is RowKind.HIT:
        snippet = html.escape(str(index.data(PanelRole.SNIPPET)))
        # The store marks matched words with « »; show them bold instead.
        snippet = snippet.replace(SNIPPET_OPEN, "<b>").replace(SNIPPET_CLOSE, "</b>")
        return f"<div style='margin-left:14px'>“{snippet}”</div>"
    title, _, details = str(index.data()).partition("\n")
    return f"<b>{html.escape(title)}</b><br><small>{html.escape(details)}</small>"


class SessionRowDelegate(QStyledItemDelegate):
    """Draws a row as rich text (bold title, highlighted matches); editing stays plain."""

    _PADDING = 4

    def _document(self, option: QStyleOptionViewItem, index: AnyIndex) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultFont(option.font)
        document.setDocumentMargin(0)
        document.setHtml(row_html(index))
        document.setTextWidth(max(option.rect.width() - 2 * self._PADDING, 50))
        return document

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        """The item's background and focus as the style draws them, then the rich text."""
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        document = self._document(option, index)
        context = QAbstractTextDocumentLayout.PaintContext()
        is_selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if is_selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
        painter.save()
        rect = option.rect
        painter.translate(rect.left() + self._PADDING, rect.top() + self._PADDING)
        document.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        """The rich text's height at the view's width."""
        item = QStyleOptionViewItem(option)
        widget = option.widget
        if widget is not None and item.rect.width() <= 0:
            item.rect.setWidth(widget.viewport().width())
        document = self._document(item, index)
        return QSize(int(document.idealWidth()), int(document.size().height()) + 2 * self._PADDING)


class SessionPanel(QWidget):
    """Past sessions: a search box, a scope choice, the list, and an undo bar for deletions.

    Call ``refresh()`` (or ``set_assistant``) once the store is open; await ``shut_down()``
    (or at least ``flush_pending()``) before closing the store, so no deletion is left
    half-done. ``messages`` shows errors and confirmations; without one they appear in the
    panel's notice line.
    """

    #: Open this session (Enter or double-click on a session, or on a search hit).
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
        self._assistant_id: str | None = None
        self._prefers_assistant_scope = True
        # Deleted sessions that can still be brought back, the latest last.
        self._undo_stack: list[str] = []
        self._is_shut_down = False

        self.setObjectName("sessionPanel")
        self.setAccessibleName("Sessions")
        self.model = SessionPanelModel(self)
        self._build()
        self._build_actions()
        self.model.titleEdited.connect(self._on_title_edited)
        self.search_box.textChanged.connect(self._on_search_text)
        self.scope_combo.currentIndexChanged.connect(self._on_scope_changed)
        self.list_view.activated.connect(self._on_activated)
        self.list_view.customContextMenuRequested.connect(self._show_context_menu)
        self.list_view.selectionModel().currentChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self.model.rowsRemoved.connect(self._update_actions)
        self.undo_button.clicked.connect(self.undo_delete)
        self._apply_scope_state()
        self._update_actions()

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        top = QHBoxLayout()
        self.search_box = QLineEdit(self)
        name_widget(self.search_box, "sessionSearch", "Search all sessions")
        self.search_box.setPlaceholderText("Search all sessions… (Ctrl+Shift+F)")
        self.search_box.setClearButtonEnabled(True)
        top.addWidget(self.search_box, 1)
        self.scope_combo = QComboBox(self)
        name_widget(self.scope_combo, "sessionScopeCombo", "Which sessions to list")
        self.scope_combo.addItem("This assistant", "assistant")
        self.scope_combo.addItem("All sessions", "all")
        top.addWidget(self.scope_combo)
        layout.addLayout(top)

        self.notice_label = QLabel(self)
        name_widget(self.notice_label, "sessionNotice", "Sessions notice")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        layout.addWidget(self.notice_label)

        self.list_view = QListView(self)
        name_widget(self.list_view, "sessionList", "Sessions")
        self.list_view.setModel(self.model)
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # F2 renames (through the action); a double-click opens rather than edits.
        self.list_view.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list_view.setWordWrap(True)
        self.list_view.setUniformItemSizes(False)
        # Rows are re-measured when the width changes (the text wraps).
        self.list_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.list_view.setItemDelegate(SessionRowDelegate(self.list_view))
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        layout.addWidget(self.list_view, 1)

        self.undo_bar = QFrame(self)
        name_widget(self.undo_bar, "undoBar", "Deleted session")
        self.undo_bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar = QHBoxLayout(self.undo_bar)
        bar.setContentsMargins(6, 2, 6, 2)
        self.undo_label = QLabel("Session deleted.", self.undo_bar)
        name_widget(self.undo_label, "undoLabel", "Session deleted")
        bar.addWidget(self.undo_label, 1)
        self.undo_button = QPushButton("Undo (Ctrl+Z)", self.undo_bar)
        name_widget(self.undo_button, "undoDeleteButton", "Undo delete")
        bar.addWidget(self.undo_button)
        self.undo_bar.hide()
        layout.addWidget(self.undo_bar)

    def _action(
        self,
        text: str,
        object_name: str,
        shortcut: QKeySequence | None,
        context: Qt.ShortcutContext,
        owner: QWidget,
    ) -> QAction:
        action = QAction(text, owner)
        action.setObjectName(object_name)
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(context)
        owner.addAction(action)
        return action

    def _build_actions(self) -> None:
        on_list = Qt.ShortcutContext.WidgetShortcut
        view = self.list_view
        self.rename_action = self._action(
            "Rename", "renameSessionAction", QKeySequence(Qt.Key.Key_F2), on_list, view
        )
        self.export_markdown_action = self._action(
            "Export as Markdown…", "exportMarkdownAction", None, on_list, view
        )
        self.export_json_action = self._action(
            "Export as JSON…", "exportJsonAction", None, on_list, view
        )
        self.end_action = self._action("End Session", "endSessionAction", None, on_list, view)
        self.delete_action = self._action(
            "Delete",
            "deleteSessionAction",
            QKeySequence(QKeySequence.StandardKey.Delete),
            on_list,
            view,
        )
        self.undo_action = self._action(
            "Undo Delete",
            "undoDeleteAction",
            QKeySequence(QKeySequence.StandardKey.Undo),
            Qt.ShortcutContext.WidgetWithChildrenShortcut,
            self,
        )
        self.focus_search_action = self._action(
            "Search Sessions",
            "focusSessionSearchAction",
            QKeySequence("Ctrl+Shift+F"),
            Qt.ShortcutContext.WindowShortcut,
            self,
        )
        self.clear_search_action = self._action(
            "Clear Search",
            "clearSessionSearchAction",
            QKeySequence(Qt.Key.Key_Escape),
            on_list,
            self.search_box,
        )
        self.rename_action.triggered.connect(self.rename_current)
        self.export_markdown_action.triggered.connect(self._on_export_markdown)
        self.export_json_action.triggered.connect(self._on_export_json)
        self.end_action.triggered.connect(self._on_end)
        self.delete_action.triggered.connect(self._on_delete)
        self.undo_action.triggered.connect(self.undo_delete)
        self.focus_search_action.triggered.connect(self.focus_search)
        self.clear_search_action.triggered.connect(self.search_box.clear)

        self.context_menu = QMenu(self)
        self.context_menu.setObjectName("sessionContextMenu")
        for action in (self.rename_action, self.export_markdown_action, self.export_json_action):
            self.context_menu.addAction(action)
        self.context_menu.addSeparator()
        self.context_menu.addAction(self.end_action)
        self.context_menu.addAction(self.delete_action)

    # -- public API -------------------------------------------------------------------------
    @property
    def assistant_id(self) -> str | None:
        """The assistant whose sessions the panel lists in its "This assistant" scope."""
        return self._assistant_id

    @property
    def is_searching(self) -> bool:
        """Whether the list shows search results."""
        return bool(self.search_box.text().strip())

    def set_assistant(self, assistant_id: str | None) -> asyncio.Task[None]:
        """List this assistant's sessions (or all, for ``None``) and reload."""
        self._assistant_id = assistant_id
        self._apply_scope_state()
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
        self._apply_scope_state()
        self._tasks.start(LOAD_TASK, self._load(text, self._search_delay_s))

    def _on_scope_changed(self, _index: int) -> None:
        if self.scope_combo.isEnabled():
            self._prefers_assistant_scope = self.scope_combo.currentData() == "assistant"
        self.refresh()

    def _apply_scope_state(self) -> None:
        # Search covers every session, so the scope only applies while browsing.
        has_assistant = self._assistant_id is not None
        self.scope_combo.blockSignals(True)
        try:
            self.scope_combo.setEnabled(has_assistant and not self.is_searching)
            wants_assistant = has_assistant and self._prefers_assistant_scope
            self.scope_combo.setCurrentIndex(0 if wants_assistant else 1)
        finally:
            self.scope_combo.blockSignals(False)
        self.scope_combo.setToolTip(
            "Search looks through all sessions."
            if self.is_searching
            else "List this assistant's sessions, or all of them."
        )

    def _listed_assistant(self) -> str | None:
        if self._assistant_id is not None and self.scope_combo.currentData() == "assistant":
            return self._assistant_id
        return None

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
                entries = await self._library.list_sessions(
                    self._listed_assistant(),
                    limit=self._list_limit,
                    min_messages=self._min_messages,
                )
                self.model.set_entries(entries)
                self._set_notice("" if entries else self._empty_text())
        except ServiceError as error:
            self._show_error(error, doing="Reading the sessions")
            return
        if keep is not None:
            self.select_session(keep)

    def _empty_text(self) -> str:
        if self._listed_assistant() is not None:
            return "No sessions with this assistant yet."
        return "No sessions yet."

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
            self.export_markdown_action,
            self.export_json_action,
            self.delete_action,
        ):
            action.setEnabled(has_entry)
        self.end_action.setEnabled(entry is not None and entry.session.status.is_open)

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
            session = self.model.index(row, 0).data(SessionRole.SESSION)
            if isinstance(session, Session):
                self.model.update_session(session.with_changes(title=stored))
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
        self.model.update_session(ended)
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
        dialog = QFileDialog(self, f"Export Session as {fmt.label}")
        dialog.setObjectName("exportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(f"{fmt.label} (*{fmt.suffix})")
        dialog.setDefaultSuffix(fmt.suffix.lstrip("."))
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        dialog.setDirectory(folder or QDir.homePath())
        dialog.selectFile(export_file_name(entry.session, fmt))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        session_id = entry.session_id
        dialog.fileSelected.connect(lambda path: self.export_to(session_id, path, fmt))
        dialog.open()
        return dialog

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
        self.undo_label.setText("Session deleted." if count == 1 else f"{count} sessions deleted.")
        self.undo_bar.setVisible(count > 0)
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
