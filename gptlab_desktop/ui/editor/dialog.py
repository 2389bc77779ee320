"""The assistant editor dialog: create, edit, duplicate or view an assistant, try it, roll back.

One non-modal dialog replaces GPT Lab's four-step lab. It lays out the form, the History tab
and the Try-it pane, and does the work they ask for through ``AssistantLab``: loading, saving
(Save stays disabled, with the reason shown, while anything is invalid), archiving, deleting
and making an older version active. Nothing here is ever ``exec()``'d.

Use::

    dialog = AssistantEditorDialog(lab, creator_user_id=user.id, token_counter=counter,
                                   parent=window)
    dialog.assistantSaved.connect(...)      # created, edited, rolled back, archived, restored
    dialog.assistantDeleted.connect(...)
    dialog.start_new()  # or start_edit(assistant_id), start_duplicate(assistant_id)
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.models import AssistantDraft, utcnow
from gptlab_desktop.services.assistant_lab import AssistantHistory, AssistantLab, duplicate_draft
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.editor.buttons import EditorButtons
from gptlab_desktop.ui.editor.form import AssistantForm, blank_draft
from gptlab_desktop.ui.editor.questions import (
    Answer,
    ask_about_unsaved_changes,
    confirm_delete,
)
from gptlab_desktop.ui.editor.state import EditorMode, EditorState
from gptlab_desktop.ui.editor.try_it import TryItPane
from gptlab_desktop.ui.editor.versions import VersionHistoryWidget
from gptlab_desktop.ui.editor.work import EditorWork
from gptlab_desktop.ui.naming import name_widget

_HISTORY_TAB = 1


def _heading_label() -> QLabel:
    label = QLabel()
    name_widget(label, "editorTitleLabel", "What the editor is doing")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.3)
    font.setBold(True)
    label.setFont(font)
    return label


class AssistantEditorDialog(QDialog):
    """Create, edit, duplicate or view one assistant; try it; browse and roll back versions."""

    #: The stored assistant changed (created, edited, rolled back, archived or restored).
    assistantSaved = Signal(str)
    #: The assistant was deleted.
    assistantDeleted = Signal(str)

    def __init__(
        self,
        lab: AssistantLab,
        *,
        creator_user_id: str | None,
        token_counter: TokenCounter | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._lab = lab
        self._state = EditorState(creator_user_id, blank_draft())
        self._is_closing_confirmed = False
        self._closes_after_save = False
        self._cleanup: asyncio.Future[None] | None = None

        self.setObjectName("assistantEditor")
        self.setAccessibleName("Assistant editor")
        self.setWindowTitle("New Assistant")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.setSizeGripEnabled(True)
        self.resize(1100, 760)

        self.status_label = QLabel()
        self._work = EditorWork(self.status_label, self)
        self.form = AssistantForm(token_counter=token_counter, tasks=self._work.tasks)
        self.history = VersionHistoryWidget()
        self.try_it = TryItPane(lab, self.current_draft, tasks=self._work.tasks)
        self.buttons = EditorButtons()
        self._build()
        self._connect()
        self.form.fill(blank_draft())
        self._apply_mode()

    def _build(self) -> None:
        self.title_label = _heading_label()
        self.tabs = QTabWidget()
        name_widget(self.tabs, "editorTabs", "Assistant and history")
        self.tabs.addTab(self.form, "Assistant")
        name_widget(self.history, "historyTab", "Version history")
        self.tabs.addTab(self.history, "History")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(self.try_it)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.problems_label = QLabel()
        name_widget(self.problems_label, "problemsLabel", "Why the assistant cannot be saved yet")
        name_widget(self.status_label, "statusLabel", "Editor status")
        # Names and model names are the user's text: never let them be read as HTML.
        for label in (self.title_label, self.problems_label, self.status_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

    def _connect(self) -> None:
        self.form.changed.connect(self._revalidate)
        self.buttons.save_button.clicked.connect(self.save)
        self.buttons.close_button.clicked.connect(self.close)
        self.buttons.duplicate_button.clicked.connect(self._duplicate_here)
        self.buttons.archive_button.clicked.connect(self._toggle_archived)
        self.buttons.delete_button.clicked.connect(self._confirm_delete)
        self.history.promptActivationRequested.connect(
            lambda prompt_id: self._work.start("lifecycle", self._activate(prompt_id, True))
        )
        self.history.configActivationRequested.connect(
            lambda config_id: self._work.start("lifecycle", self._activate(config_id, False))
        )
        self._work.busyChanged.connect(self._update_buttons)
        self.finished.connect(self._on_finished)

    # -- entry points --------------------------------------------------------------------------

    def start_new(self, draft: AssistantDraft | None = None) -> asyncio.Task[None]:
        """Show an empty form (or ``draft``: a new assistant's defaults) to create an assistant;
        returns the task loading the models."""
        self._is_closing_confirmed = False
        draft = draft or blank_draft()
        self._state.create(draft)
        self.form.fill(draft)
        self._state.baseline = self.current_draft()
        self._apply_mode()
        self.show()
        return self._work.start("load", self._load_models())

    def start_edit(self, assistant_id: str) -> asyncio.Task[None]:
        """Show an assistant to edit (a showcased one read-only); returns the loading task."""
        self._is_closing_confirmed = False
        self._work.set_busy(True, "Loading the assistant…")
        self.show()
        return self._work.start("load", self._load(assistant_id, as_copy=False))

    def start_duplicate(self, assistant_id: str) -> asyncio.Task[None]:
        """Show an unsaved own copy ("Copy of …") of any assistant; returns the loading task."""
        self._is_closing_confirmed = False
        self._work.set_busy(True, "Loading the assistant…")
        self.show()
        return self._work.start("load", self._load(assistant_id, as_copy=True))

    # -- state ---------------------------------------------------------------------------------

    @property
    def mode(self) -> EditorMode:
        """What the dialog is doing."""
        return self._state.mode

    @property
    def assistant_id(self) -> str | None:
        """The stored assistant shown, if any (None while creating or duplicating)."""
        return self._state.assistant_id

    @property
    def is_busy(self) -> bool:
        """Whether a load, save or lifecycle change is under way."""
        return self._work.is_busy

    @property
    def is_dirty(self) -> bool:
        """Whether the form holds changes that are not saved."""
        return self._state.is_dirty(self.current_draft())

    @property
    def prompt_tokens(self) -> int | None:
        """The initial prompt's last counted tokens, if counted."""
        return self.form.prompt_tokens

    def current_draft(self) -> AssistantDraft:
        """The assistant as the form describes it now."""
        return self.form.current_draft()

    def problems(self) -> dict[str, str]:
        """Everything that keeps the form from being saved, by field, in form order."""
        if self._state.is_read_only:
            return {}
        return self._state.problems(self.form.field_problems())

    # -- showing the state ---------------------------------------------------------------------

    def _revalidate(self) -> None:
        found = self.problems()
        self.form.show_problems(found)
        if found:
            reason = "Cannot save yet: " + " ".join(found.values())
            self.problems_label.setText(reason)
            self.problems_label.show()
        else:
            reason = ""
            self.problems_label.clear()
            self.problems_label.hide()
        self.buttons.save_button.setToolTip(
            reason
            or "Save the assistant (a changed prompt or model config is kept as a new version)."
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        state = self._state
        self.buttons.update_for(
            state.mode, state.assistant, is_busy=self._work.is_busy, can_save=not self.problems()
        )
        allowed, note = state.activation(is_dirty=self.is_dirty, is_busy=self._work.is_busy)
        self.history.set_activation_allowed(allowed, note)

    def _apply_mode(self) -> None:
        window_title, heading = self._state.titles()
        self.setWindowTitle(window_title)
        self.title_label.setText(heading)
        self.form.set_read_only(self._state.is_read_only)
        self.tabs.setTabEnabled(_HISTORY_TAB, self._state.has_history)
        if not self._state.has_history:
            self.tabs.setCurrentIndex(0)
        self.try_it.update_buttons()
        self._revalidate()

    # -- loading -------------------------------------------------------------------------------

    async def _load_models(self) -> None:
        try:
            models = await self._lab.list_models()
        except ServiceError as error:
            self.form.models.show_models_unavailable(error.message)
            return
        self.form.show_models(models)

    async def _load(self, assistant_id: str, *, as_copy: bool) -> None:
        async def work() -> None:
            details = await self._lab.details(assistant_id)
            draft = details.to_draft()
            if as_copy:
                self._state.copy()  # an unsaved copy: closing asks
                self.form.fill(duplicate_draft(draft))
            else:
                self._state.show(details.assistant)
                self.form.fill(draft)
                self._state.baseline = self.current_draft()
                self.history.set_history(await self._lab.history(assistant_id))
            self._apply_mode()
            self.status_label.clear()

        await self._work.guarded("Loading the assistant", work)
        await self._load_models()

    async def _reload_stored(self) -> None:
        """Read the stored assistant again: its fields become the form and the baseline."""
        assert self._state.assistant is not None
        details = await self._lab.details(self._state.assistant.id)
        self._state.show(details.assistant)
        self.form.fill(details.to_draft())
        self._state.baseline = self.current_draft()
        self.history.set_history(await self._lab.history(details.assistant.id))
        self._apply_mode()

    # -- saving --------------------------------------------------------------------------------

    def save(self) -> asyncio.Task[None] | None:
        """Save the form (create, or a new version of what changed); None if it cannot."""
        if self._state.is_read_only or self._work.is_busy or self.problems():
            return None
        return self._work.start("save", self._save())

    async def _save(self) -> None:
        draft = self.current_draft()
        saved: list[str] = []

        async def work() -> None:
            stored_id = self._state.assistant_id
            if stored_id is None:
                creator = self._state.creator_user_id
                assistant = await self._lab.save(draft, creator_user_id=creator)
            else:
                assistant = await self._lab.save(draft, assistant_id=stored_id)
            self._state.saved(assistant, draft)
            self.history.set_history(await self._lab.history(assistant.id))
            self._apply_mode()
            saved.append(assistant.id)

        await self._work.guarded("Saving", work)
        if saved:
            self.status_label.setText(f"Saved at {utcnow().astimezone():%H:%M:%S}.")
            self.assistantSaved.emit(saved[0])
            if self._closes_after_save:
                self._is_closing_confirmed = True
                self.close()
        self._closes_after_save = False

    # -- duplicating, archiving, deleting, rolling back ----------------------------------------

    def _duplicate_here(self) -> None:
        """Turn the form into an unsaved own copy of the assistant shown."""
        if self._state.assistant is None:
            return
        draft = duplicate_draft(self.current_draft() if self.is_dirty else self._stored_draft())
        self._state.copy()
        self.form.fill(draft)
        self.history.set_history(AssistantHistory((), (), ()))
        self._apply_mode()
        self.status_label.setText("This is your copy; change it and save it to keep it.")

    def _stored_draft(self) -> AssistantDraft:
        baseline = self._state.baseline
        return baseline if baseline is not None else self.current_draft()

    def _toggle_archived(self) -> asyncio.Task[None] | None:
        assistant = self._state.assistant
        if assistant is None or self._state.mode is not EditorMode.EDIT:
            return None
        assistant_id, archive = assistant.id, assistant.is_active

        async def work() -> None:
            if archive:
                self._state.assistant = await self._lab.archive(assistant_id)
            else:
                self._state.assistant = await self._lab.restore(assistant_id)
            self._apply_mode()
            self.status_label.setText(
                "Archived: hidden from the lobby, sessions kept."
                if archive
                else "Restored to the lobby."
            )
            self.assistantSaved.emit(assistant_id)

        return self._work.start(
            "lifecycle", self._work.guarded("Archiving" if archive else "Restoring", work)
        )

    def _confirm_delete(self) -> QMessageBox | None:
        assistant = self._state.assistant
        if assistant is None or self._state.mode is not EditorMode.EDIT:
            return None
        return confirm_delete(
            self, assistant.name, lambda: self._work.start("lifecycle", self._delete())
        )

    async def _delete(self) -> None:
        assistant_id = self._state.assistant_id
        assert assistant_id is not None
        deleted: list[str] = []

        async def work() -> None:
            await self._lab.delete(assistant_id)
            deleted.append(assistant_id)

        await self._work.guarded("Deleting", work)
        if deleted:
            self.assistantDeleted.emit(assistant_id)
            self._is_closing_confirmed = True
            self.close()

    async def _activate(self, version_id: str, is_prompt: bool) -> None:
        assistant_id = self._state.assistant_id
        assert assistant_id is not None

        async def work() -> None:
            if is_prompt:
                await self._lab.make_prompt_active(assistant_id, version_id)
            else:
                await self._lab.make_model_config_active(assistant_id, version_id)
            await self._reload_stored()
            self.status_label.setText("That version is active again.")
            self.assistantSaved.emit(assistant_id)

        await self._work.guarded("Making the version active", work)

    # -- try it --------------------------------------------------------------------------------

    @property
    def is_trying(self) -> bool:
        """Whether a try-it reply is streaming."""
        return self.try_it.is_trying

    def send_test_message(self) -> asyncio.Task[None] | None:
        """Send the input to the draft (empty asks for the greeting); None if it cannot."""
        return self.try_it.send()

    def stop_test(self) -> None:
        """Stop the streaming test reply (what arrived stays, marked interrupted)."""
        self.try_it.stop()

    def reset_test(self) -> None:
        """Forget the test conversation and start over."""
        self.try_it.reset()

    # -- closing -------------------------------------------------------------------------------

    def reject(self) -> None:
        """Close (Escape, the window's close button, Close); unsaved changes are asked about."""
        if self.is_dirty and not self._is_closing_confirmed:
            self._ask_about_unsaved_changes()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing goes through ``reject`` so unsaved changes are never lost silently."""
        if self.is_dirty and not self._is_closing_confirmed:
            event.ignore()
            self._ask_about_unsaved_changes()
            return
        super().closeEvent(event)

    def _ask_about_unsaved_changes(self) -> QMessageBox:
        name = self.form.name_edit.text().strip() or "the new assistant"
        return ask_about_unsaved_changes(self, name, self._on_unsaved_answer)

    def _on_unsaved_answer(self, answer: Answer) -> None:
        if answer == Answer.Discard:
            self._is_closing_confirmed = True
            self.close()
        elif answer == Answer.Save:
            if self.save() is None:
                self.status_label.setText(
                    "Not saved: " + (" ".join(self.problems().values()) or "try again.")
                )
            else:
                self._closes_after_save = True

    @property
    def closing_cleanup(self) -> asyncio.Future[None] | None:
        """The cancellation of the dialog's work, started when it closed (await, then delete)."""
        return self._cleanup

    def close_discarding(self) -> asyncio.Future[None] | None:
        """Close without asking (the app is quitting); returns the cleanup to await, if any."""
        self._is_closing_confirmed = True
        self.close()
        return self._cleanup

    def _on_finished(self, _result: int) -> None:
        self.form.token_count.stop()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        # Cancelled here, so a reply still streaming stops with the dialog.
        self._cleanup = asyncio.ensure_future(self._work.cancel_all())
