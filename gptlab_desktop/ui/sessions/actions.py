"""The sessions panel's actions (named for automation, with their shortcuts) and its menu.

Built here, connected by the panel: what an action does is the panel's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLineEdit, QListView, QMenu, QWidget


@dataclass(frozen=True, slots=True)
class SessionActions:
    """Every action of the panel, and the context menu of its list."""

    rename: QAction
    pin: QAction
    export_markdown: QAction
    export_json: QAction
    end: QAction
    delete: QAction
    undo: QAction
    focus_search: QAction
    clear_search: QAction
    context_menu: QMenu


def _action(
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


def build_session_actions(panel: QWidget, view: QListView, search_box: QLineEdit) -> SessionActions:
    """The panel's actions: those on a session work in the list, Undo anywhere in the panel,
    Ctrl+Shift+F anywhere in the window, and Escape clears the search box."""
    on_list = Qt.ShortcutContext.WidgetShortcut
    rename = _action("Rename", "renameSessionAction", QKeySequence(Qt.Key.Key_F2), on_list, view)
    # "Pin" or "Unpin", as the current session is (the panel keeps the text in step).
    pin = _action("Pin", "pinSessionAction", None, on_list, view)
    export_markdown = _action("Export as Markdown…", "exportMarkdownAction", None, on_list, view)
    export_json = _action("Export as JSON…", "exportJsonAction", None, on_list, view)
    end = _action("End Session", "endSessionAction", None, on_list, view)
    delete = _action(
        "Delete",
        "deleteSessionAction",
        QKeySequence(QKeySequence.StandardKey.Delete),
        on_list,
        view,
    )
    undo = _action(
        "Undo Delete",
        "undoDeleteAction",
        QKeySequence(QKeySequence.StandardKey.Undo),
        Qt.ShortcutContext.WidgetWithChildrenShortcut,
        panel,
    )
    focus_search = _action(
        "Search Chats",
        "focusSessionSearchAction",
        QKeySequence("Ctrl+Shift+F"),
        Qt.ShortcutContext.WindowShortcut,
        panel,
    )
    clear_search = _action(
        "Clear Search",
        "clearSessionSearchAction",
        QKeySequence(Qt.Key.Key_Escape),
        on_list,
        search_box,
    )

    context_menu = QMenu(panel)
    context_menu.setObjectName("sessionContextMenu")
    for action in (rename, pin, export_markdown, export_json):
        context_menu.addAction(action)
    context_menu.addSeparator()
    context_menu.addAction(end)
    context_menu.addAction(delete)
    return SessionActions(
        rename,
        pin,
        export_markdown,
        export_json,
        end,
        delete,
        undo,
        focus_search,
        clear_search,
        context_menu,
    )
