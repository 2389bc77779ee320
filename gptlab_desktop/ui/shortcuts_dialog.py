"""Help → Keyboard Shortcuts: every shortcut of the window, read from its actions themselves.

The list is never written by hand: ``window_shortcuts`` walks the window's ``QAction`` and
``QShortcut`` objects (the menus', the panels', the chat's) and reads each one's words, keys
and where it works, so a shortcut added anywhere appears here, and one changed shows its new
keys. A ``QShortcut`` says what it does in its What's This text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.ui.naming import name_widget

_ANYWHERE = "Anywhere in the window"
_CAMEL_WORD = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class ShortcutEntry:
    """One line of the list: what it does, its keys as the platform writes them, and where."""

    words: str
    keys: str
    where: str


def keys_text(sequences: list[QKeySequence]) -> str:
    """Key sequences as the platform writes them (``Ctrl+B``), several joined by commas."""
    texts = [
        sequence.toString(QKeySequence.SequenceFormat.NativeText)
        for sequence in sequences
        if not sequence.isEmpty()
    ]
    return ", ".join(dict.fromkeys(texts))


def action_words(action: QAction) -> str:
    """An action's text without its mnemonic ampersand or its ellipsis."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…. ")


def _shortcut_words(shortcut: QShortcut) -> str:
    if shortcut.whatsThis():
        return shortcut.whatsThis()
    # A shortcut without words of its own: its name, split into words.
    name = shortcut.objectName().removesuffix("Shortcut") or "Shortcut"
    return _CAMEL_WORD.sub(" ", name).capitalize()


def _where(context: Qt.ShortcutContext, owner: QObject | None) -> str:
    if context in (Qt.ShortcutContext.WindowShortcut, Qt.ShortcutContext.ApplicationShortcut):
        return _ANYWHERE
    if isinstance(owner, QWidget) and owner.accessibleName():
        return f"In {owner.accessibleName()}"
    return _ANYWHERE


def _action_owner(action: QAction) -> QObject | None:
    """The widget an action's shortcut belongs to (the first widget it was added to)."""
    for each in action.associatedObjects():
        if isinstance(each, QWidget) and not each.inherits("QMenu"):
            return each
    return action.parent()


def window_shortcuts(window: QWidget) -> list[ShortcutEntry]:
    """Every action and shortcut of ``window`` (and its children) that has keys, once each,
    in the order they were made."""
    entries: list[ShortcutEntry] = []
    seen: set[tuple[str, str]] = set()

    def add(entry: ShortcutEntry) -> None:
        if (entry.words, entry.keys) not in seen:
            seen.add((entry.words, entry.keys))
            entries.append(entry)

    for action in window.findChildren(QAction):
        keys = keys_text(action.shortcuts())
        if keys and not action.isSeparator():
            add(
                ShortcutEntry(
                    action_words(action),
                    keys,
                    _where(action.shortcutContext(), _action_owner(action)),
                )
            )
    for shortcut in window.findChildren(QShortcut):
        keys = keys_text(shortcut.keys())
        if keys:
            add(
                ShortcutEntry(
                    _shortcut_words(shortcut),
                    keys,
                    _where(shortcut.context(), shortcut.parent()),
                )
            )
    return entries


class KeyboardShortcutsDialog(QDialog):
    """The list of shortcuts, in a table (what, keys, where); not modal, closed with Esc."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        name_widget(self, "keyboardShortcutsDialog", "Keyboard shortcuts")
        self.setWindowTitle("Keyboard Shortcuts")
        layout = QVBoxLayout(self)
        intro = QLabel("Every shortcut of the window, and where it works.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.model = QStandardItemModel(0, 3, self)
        self.model.setHorizontalHeaderLabels(["Action", "Shortcut", "Where"])
        self.table = QTableView(self)
        name_widget(self.table, "shortcutsTable", "Keyboard shortcuts")
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.show_entries(window_shortcuts(window))
        self.resize(560, 480)

    def show_entries(self, entries: list[ShortcutEntry]) -> None:
        """List ``entries``, one row each."""
        self.model.removeRows(0, self.model.rowCount())
        for entry in entries:
            row = [QStandardItem(text) for text in (entry.words, entry.keys, entry.where)]
            row[0].setData(f"{entry.words}: {entry.keys}", Qt.ItemDataRole.AccessibleTextRole)
            self.model.appendRow(row)

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, row by row (action, shortcut, where)."""
        return [
            tuple(self.model.item(row, column).text() for column in range(3))  # type: ignore[misc]
            for row in range(self.model.rowCount())
        ]


def show_keyboard_shortcuts(window: QWidget) -> KeyboardShortcutsDialog:
    """Open (never exec) the Keyboard Shortcuts list over ``window``, read afresh each time."""
    dialog = KeyboardShortcutsDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
