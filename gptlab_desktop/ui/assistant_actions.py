"""What the Assistants menu does: the editor dialogs (new, edit, duplicate), assistant files,
and publishing to a shared project's lobby (asked first, then done by the lobby service).

The window decides *whether* an action may run (the data open, the store usable) and asks this
to run it; this opens the dialogs, keeps the open editors, runs imports and exports through the
lab, and has the lobby read again when the assistants changed. The editor dialog is
imported on first use: it is not needed to paint the window.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QWidget

from gptlab_desktop.models import Assistant
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.ui.messages import MessagePresenter, UserMessage
from gptlab_desktop.ui.qt_helpers import bring_forward, documents_folder

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog
    from gptlab_desktop.ui.window_services import WindowServices

log = logging.getLogger(__name__)

_FILE_NAME_UNSAFE = re.compile(r"[^\w\- ]+")
_ASSISTANT_FILES = "Assistant files (*.json)"


def assistant_file_name(assistant: Assistant) -> str:
    """A file name for an assistant's export: its name, without characters a path dislikes."""
    stem = " ".join(_FILE_NAME_UNSAFE.sub("", assistant.name).split()) or "assistant"
    return f"{stem}.json"


def publish_question(assistant: Assistant) -> str:
    """What the user is asked before an assistant is published: what becomes shared."""
    return (
        f"Publish “{assistant.name}” to the shared lobby? Everyone signed in to this project "
        "will be able to read its instructions and settings and chat with it. Your sessions "
        "and messages stay private."
    )


class AssistantActions(QObject):
    """The assistant editors open now, and the import and export of assistant files."""

    def __init__(
        self,
        services: WindowServices,
        messages: MessagePresenter,
        window: QWidget,
        *,
        reload_lobby: Callable[[str | None], Awaitable[None]],
    ) -> None:
        """``reload_lobby`` reads the lobby again, selecting the assistant of the id given."""
        super().__init__(window)
        self._services = services
        self._messages = messages
        self._window = window
        self._reload_lobby = reload_lobby
        self._editors: list[AssistantEditorDialog] = []
        self._tasks = TaskGroupByName()

    @property
    def editors(self) -> list[AssistantEditorDialog]:
        """The assistant editors open now."""
        return list(self._editors)

    # -- the editor ---------------------------------------------------------------------------
    def new(self, user_id: str) -> AssistantEditorDialog:
        """The editor on an empty form, of the session type chosen on the Settings window's
        Chat page."""
        dialog = self._make_editor(user_id)
        from gptlab_desktop.ui.editor.form import blank_draft

        session_type = self._services.providers.preferences.chat.session_type
        dialog.start_new(dataclasses.replace(blank_draft(), session_type=session_type))
        return dialog

    def edit(self, assistant_id: str, user_id: str) -> AssistantEditorDialog:
        """The editor on an assistant (a showcased one read-only); one already open comes up."""
        for editor in self._editors:
            if editor.assistant_id == assistant_id and editor.isVisible():
                bring_forward(editor)
                return editor
        dialog = self._make_editor(user_id)
        dialog.start_edit(assistant_id)
        return dialog

    def duplicate(self, assistant_id: str, user_id: str) -> AssistantEditorDialog:
        """The editor on an unsaved own copy of an assistant."""
        dialog = self._make_editor(user_id)
        dialog.start_duplicate(assistant_id)
        return dialog

    def _make_editor(self, user_id: str) -> AssistantEditorDialog:
        from gptlab_desktop.ui.editor.dialog import AssistantEditorDialog

        dialog = AssistantEditorDialog(
            self._services.lab,
            creator_user_id=user_id,
            token_counter=self._services.tokens,
            parent=self._window,
        )
        dialog.assistantSaved.connect(self._lobby_changed)
        dialog.assistantDeleted.connect(lambda _assistant_id: self._lobby_changed(None))
        dialog.finished.connect(functools.partial(self._on_editor_finished, dialog))
        self._editors.append(dialog)
        return dialog

    def _lobby_changed(self, select: str | None) -> None:
        self._tasks.start("lobby", self._reload_lobby(select))

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

    async def close_all(self) -> None:
        """Close every editor without asking (the app is quitting); a try-it reply stops."""
        for editor in list(self._editors):
            cleanup = editor.close_discarding()
            if cleanup is not None:
                await asyncio.wait([cleanup])
        await self._tasks.cancel_all()

    # -- the shared lobby -----------------------------------------------------------------------
    def ask_publish(self, assistant: Assistant) -> QMessageBox:
        """Say what publishing shares, and publish only if the user agrees (``open()``, never
        ``exec()``: it must not nest an event loop inside a running coroutine)."""
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(self._window)
        box.setObjectName("publishAssistantBox")
        box.setWindowTitle("Publish to Lobby")
        box.setIcon(QMessageBox.Icon.Question)
        box.setText(publish_question(assistant))
        publish = box.addButton("Publish", QMessageBox.ButtonRole.AcceptRole)
        publish.setObjectName("publishAssistantButton")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.publish(assistant.id) if button is publish else None
        )
        box.open()
        return box

    def publish(self, assistant_id: str) -> asyncio.Task[bool]:
        """Publish an own assistant to the shared lobby (the user has agreed)."""
        return self._tasks.start("publish", self._set_published(assistant_id, True))

    def unpublish(self, assistant_id: str) -> asyncio.Task[bool]:
        """Take an own assistant out of the shared lobby."""
        return self._tasks.start("publish", self._set_published(assistant_id, False))

    async def _set_published(self, assistant_id: str, published: bool) -> bool:
        lobby = self._services.lobby
        doing = "Publishing the assistant" if published else "Unpublishing the assistant"
        try:
            if published:
                assistant = await lobby.publish(assistant_id)
            else:
                assistant = await lobby.unpublish(assistant_id)
        except Exception as error:
            self._messages.show_error(error, doing=doing)
            return False
        await self._reload_lobby(assistant.id)
        self._messages.show_status(
            f"“{assistant.name}” is in the shared lobby now."
            if published
            else f"“{assistant.name}” is no longer in the shared lobby."
        )
        return True

    # -- files --------------------------------------------------------------------------------
    def ask_import_path(self, import_file: object) -> QFileDialog:
        """A file chooser for an assistant file; ``import_file`` gets the path chosen."""
        from PySide6.QtWidgets import QFileDialog

        dialog = QFileDialog(self._window, "Import Assistants")
        dialog.setObjectName("importAssistantsDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters([_ASSISTANT_FILES, "All files (*)"])
        dialog.setDirectory(documents_folder())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(import_file)
        # open(), never exec(): it must not nest an event loop inside a running coroutine.
        dialog.open()
        return dialog

    def import_file(self, path: Path, user_id: str) -> asyncio.Task[list[str]]:
        """Create the assistants in an assistant file (all or none); the ids created."""
        return self._tasks.start("import", self._import(path, user_id))

    async def _import(self, path: Path, user_id: str) -> list[str]:
        try:
            created = await self._services.lab.import_file(path, user_id)
        except Exception as error:
            # MalformedAssistantDocument names the problem (and, in a bundle, the entry).
            self._messages.show_error(error, doing="Importing assistants")
            return []
        await self._reload_lobby(created[0].id if created else None)
        count = len(created)
        self._messages.show_status(
            f"Imported {count} assistant{'s' if count != 1 else ''} from {path.name}."
        )
        return [assistant.id for assistant in created]

    def ask_export_path(self, assistant: Assistant) -> QFileDialog:
        """A save dialog for one assistant's file (it then calls ``export``)."""
        from PySide6.QtWidgets import QFileDialog

        dialog = QFileDialog(self._window, "Export Assistant")
        dialog.setObjectName("exportAssistantDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(_ASSISTANT_FILES)
        dialog.setDefaultSuffix("json")
        dialog.setDirectory(documents_folder())
        dialog.selectFile(assistant_file_name(assistant))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.export(assistant.id, Path(path)))
        dialog.open()
        return dialog

    def export(self, assistant_id: str, path: Path) -> asyncio.Task[bool]:
        """Write one assistant's file to ``path``; whether it was written."""
        return self._tasks.start("export", self._export(assistant_id, path))

    async def _export(self, assistant_id: str, path: Path) -> bool:
        try:
            await self._services.lab.export_file([assistant_id], path)
        except OSError as error:
            log.warning("Exporting an assistant failed: %s", type(error).__name__)
            reason = error.strerror or "the file could not be written"
            self._messages.show_message(
                UserMessage(
                    "Export failed", f"The assistant could not be saved to {path}: {reason}."
                )
            )
            return False
        except Exception as error:
            self._messages.show_error(error, doing="Exporting the assistant")
            return False
        self._messages.show_status(f"Exported the assistant to {path}.")
        return True
