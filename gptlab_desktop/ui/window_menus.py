"""The main window's menus and their actions (named for automation), and the About box.

Built here, connected by the window: what an action does is the window's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QWidget

from gptlab_desktop import __version__

APP_TITLE = "GPT Lab Desktop"


@dataclass(frozen=True, slots=True)
class WindowActions:
    """Every action of the menu bar, and the lobby's context menu that reuses some of them."""

    new_session: QAction
    new_chat: QAction
    quit: QAction
    toggle_sidebar: QAction
    new_assistant: QAction
    edit_assistant: QAction
    duplicate_assistant: QAction
    publish_assistant: QAction
    unpublish_assistant: QAction
    import_assistants: QAction
    export_assistant: QAction
    api_key: QAction
    storage: QAction
    preferences: QAction
    keyboard_shortcuts: QAction
    about: QAction
    lobby_menu: QMenu


def preferences_shortcuts() -> list[QKeySequence]:
    """The platform's shortcut for Preferences (none on some desktops), and Ctrl+, always."""
    shortcuts = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
    comma = QKeySequence("Ctrl+,")
    return [*(each for each in shortcuts if not each.isEmpty() and each != comma), comma]


def build_window_actions(window: QMainWindow) -> WindowActions:
    """Fill ``window``'s menu bar: File, View, Assistants, Settings, Help; and the lobby's
    menu."""

    def action(text: str, object_name: str, shortcut: str | None = None) -> QAction:
        made = QAction(text, window)
        made.setObjectName(object_name)
        if shortcut is not None:
            made.setShortcut(QKeySequence(shortcut))
        return made

    menu_bar = window.menuBar()
    file_menu = menu_bar.addMenu("&File")
    file_menu.setObjectName("fileMenu")
    # Enabled while an assistant is selected and sessions can be saved.
    new_session = action("New Session", "newSessionAction", "Ctrl+N")
    # With the assistant used last (or selected), else the first showcased one.
    new_chat = action("New Chat", "newChatAction", "Ctrl+Shift+O")
    file_menu.addAction(new_session)
    file_menu.addAction(new_chat)
    file_menu.addSeparator()
    quit_action = action("&Quit", "quitAction", "Ctrl+Q")
    quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    file_menu.addAction(quit_action)

    view_menu = menu_bar.addMenu("&View")
    view_menu.setObjectName("viewMenu")
    toggle_sidebar = action("Show Sidebar", "toggleSidebarAction", "Ctrl+B")
    toggle_sidebar.setCheckable(True)
    toggle_sidebar.setChecked(True)
    view_menu.addAction(toggle_sidebar)

    assistants_menu = menu_bar.addMenu("&Assistants")
    assistants_menu.setObjectName("assistantsMenu")
    new_assistant = action("New Assistant…", "newAssistantAction", "Ctrl+Shift+N")
    edit_assistant = action("Edit Assistant…", "editAssistantAction", "Ctrl+Shift+E")
    duplicate_assistant = action("Duplicate Assistant…", "duplicateAssistantAction")
    # Enabled for an own assistant where the storage is a team's shared project.
    publish_assistant = action("Publish to Lobby…", "publishAssistantAction")
    unpublish_assistant = action("Unpublish", "unpublishAssistantAction")
    import_assistants = action("Import Assistants…", "importAssistantsAction")
    export_assistant = action("Export Assistant…", "exportAssistantAction")
    for each in (
        new_assistant,
        edit_assistant,
        duplicate_assistant,
        publish_assistant,
        unpublish_assistant,
    ):
        assistants_menu.addAction(each)
    assistants_menu.addSeparator()
    assistants_menu.addAction(import_assistants)
    assistants_menu.addAction(export_assistant)

    settings_menu = menu_bar.addMenu("&Settings")
    settings_menu.setObjectName("settingsMenu")
    api_key = action("API Key…", "apiKeyAction")
    # Both open the Settings window: on its Storage page, and on the page shown last.
    storage = action("Storage…", "storageAction")
    preferences = action("Preferences…", "preferencesAction")
    preferences.setShortcuts(preferences_shortcuts())
    preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
    settings_menu.addAction(preferences)
    settings_menu.addAction(api_key)
    settings_menu.addAction(storage)

    help_menu = menu_bar.addMenu("&Help")
    help_menu.setObjectName("helpMenu")
    keyboard_shortcuts = action("Keyboard Shortcuts", "keyboardShortcutsAction", "Ctrl+/")
    help_menu.addAction(keyboard_shortcuts)
    help_menu.addSeparator()
    about = action(f"About {APP_TITLE}", "aboutAction")
    about.setMenuRole(QAction.MenuRole.AboutRole)
    help_menu.addAction(about)

    lobby_menu = QMenu(window)
    lobby_menu.setObjectName("lobbyContextMenu")
    lobby_menu.addAction(new_session)
    lobby_menu.addSeparator()
    for each in (
        edit_assistant,
        duplicate_assistant,
        publish_assistant,
        unpublish_assistant,
        export_assistant,
    ):
        lobby_menu.addAction(each)
    return WindowActions(
        new_session=new_session,
        new_chat=new_chat,
        quit=quit_action,
        toggle_sidebar=toggle_sidebar,
        new_assistant=new_assistant,
        edit_assistant=edit_assistant,
        duplicate_assistant=duplicate_assistant,
        publish_assistant=publish_assistant,
        unpublish_assistant=unpublish_assistant,
        import_assistants=import_assistants,
        export_assistant=export_assistant,
        api_key=api_key,
        storage=storage,
        preferences=preferences,
        keyboard_shortcuts=keyboard_shortcuts,
        about=about,
        lobby_menu=lobby_menu,
    )


def show_about(parent: QWidget) -> QMessageBox:
    """The About box (opened, never exec'd: it must not block a running coroutine)."""
    box = QMessageBox(parent)
    box.setObjectName("aboutBox")
    box.setWindowTitle(f"About {APP_TITLE}")
    box.setIcon(QMessageBox.Icon.Information)
    box.setText(f"{APP_TITLE} {__version__}")
    box.setInformativeText("Chat with AI assistants and build your own.")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
