"""The Settings window's Providers page: the AI providers the app talks to, one edited at a time.

On the left, the profiles (the one new chats use marked; the environment's, from
``OPENAI_BASE_URL``, marked not editable) with Add (a menu of the presets), Remove and "Use for
new chats"; on the right, the editor of the selected profile (``provider_editor.py``), Test
connection and Apply. A profile added from a preset is a draft until it is applied. Actions on
the list itself (remove, use for new chats) take effect at once; the editor's fields only with
Apply, as every form of the Settings window does.

Every change goes to ``Providers`` (a service) in a background task of the page; nothing here
blocks the window, and a test of the connection shows the server's own words when it fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.preferences import OPENAI_PROFILE_ID, PRESETS, ProviderProfile
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import LlmError, ServiceError
from gptlab_desktop.ui.confirmation import Confirmation
from gptlab_desktop.ui.messages import describe_failure
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.settings.page_parts import report, report_label
from gptlab_desktop.ui.settings.provider_editor import ProviderEditor

if TYPE_CHECKING:
    from gptlab_desktop.services.providers import Providers

log = logging.getLogger(__name__)

_PROFILE_ID_ROLE = Qt.ItemDataRole.UserRole
FIX_FIELDS_TEXT = "Nothing was saved: correct the fields marked in red first."


def profile_label(profile: ProviderProfile, *, is_default: bool, is_saved: bool) -> str:
    """How a profile is listed: its name and kind, and what sets it apart."""
    if profile.is_environment:
        text = f"{profile.name} — from OPENAI_BASE_URL, not editable"
    elif profile.name == profile.preset.label:
        text = profile.name
    else:
        text = f"{profile.name} ({profile.preset.label})"
    if not is_saved:
        text += " — not saved yet"
    if is_default:
        text = f"★ {text} — new chats"
    return text


def connected_text(count: int) -> str:
    """What a working connection says."""
    return f"Connected: {count:,} model{'' if count == 1 else 's'}"


def key_needed_text(profile: ProviderProfile) -> str:
    """Why the key field is asked for: the provider by name, and where its key comes from."""
    return " ".join(
        part
        for part in (f"{profile.name} needs an API key that it accepts.", profile.preset.key_hint)
        if part
    )


class ProvidersPage(QWidget):
    """The profiles, their editor, and what can be done with them."""

    #: A profile was saved, removed or made the default (carries its id).
    profilesChanged = Signal(str)

    def __init__(
        self,
        providers: Providers,
        *,
        show_account_key: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._providers = providers
        self._tasks = TaskGroupByName()
        self._draft: ProviderProfile | None = None
        # Actions under way, by name (their buttons are disabled meanwhile).
        self._busy: dict[str, int] = {}
        self._filling = False
        self._removing: ProviderProfile | None = None
        self._confirmation: Confirmation | None = None
        name_widget(self, "providersPage", "Providers")

        self.provider_list = QListWidget()
        name_widget(self.provider_list, "providerList", "AI providers")
        self.add_button = self._button("Add", "addProviderButton", "Add a provider")
        self.add_menu = QMenu(self)
        self.add_menu.setObjectName("addProviderMenu")
        for each in PRESETS:
            action = self.add_menu.addAction(each.label)
            action.setObjectName(f"addProvider-{each.id}")
            action.setData(each.id)
        self.add_menu.triggered.connect(lambda action: self.add_profile(str(action.data())))
        self.add_button.setMenu(self.add_menu)
        self.remove_button = self._button("Remove…", "removeProviderButton", "Remove the provider")
        self.remove_button.clicked.connect(self.confirm_remove)
        self.default_button = self._button(
            "Use for New Chats", "useForNewChatsButton", "Use the provider for new chats"
        )
        self.default_button.clicked.connect(self.use_for_new_chats)

        self.editor = ProviderEditor()
        self.editor.accountKeyRequested.connect(show_account_key)
        self.test_button = self._button(
            "Test Connection", "testConnectionButton", "Test the connection"
        )
        self.test_button.clicked.connect(self.test_connection)
        self.apply_button = self._button("Apply", "providerApplyButton", "Save the provider")
        self.apply_button.clicked.connect(self.apply)
        self.connection_result = report_label("connectionResult", "Connection test result")
        self.feedback = report_label("providerFeedback", "What happened")
        self._lay_out()

        self.provider_list.currentRowChanged.connect(self._on_current_row)
        self.refresh()

    def _button(self, text: str, object_name: str, accessible: str) -> QPushButton:
        button = QPushButton(text)
        name_widget(button, object_name, accessible)
        return button

    def _lay_out(self) -> None:
        list_column = QVBoxLayout()
        list_column.addWidget(self.provider_list, 1)
        list_buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button):
            list_buttons.addWidget(button)
        list_column.addLayout(list_buttons)
        list_column.addWidget(self.default_button)

        editor_column = QVBoxLayout()
        editor_column.addWidget(self.editor)
        editor_column.addWidget(self.connection_result)
        editor_column.addWidget(self.feedback)
        editor_column.addStretch(1)
        editor_buttons = QHBoxLayout()
        editor_buttons.addWidget(self.test_button)
        editor_buttons.addStretch(1)
        editor_buttons.addWidget(self.apply_button)
        editor_column.addLayout(editor_buttons)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(list_column, 2)
        layout.addLayout(editor_column, 3)

    # -- the list ----------------------------------------------------------------------------
    def _listed(self) -> list[ProviderProfile]:
        profiles = list(self._providers.profiles)
        if self._draft is not None:
            profiles.append(self._draft)
        return profiles

    def _is_saved(self, profile: ProviderProfile) -> bool:
        return profile is not self._draft and self._providers.profile(profile.id) is not None

    def refresh(self, select: str | None = None) -> None:
        """List the profiles again, selecting ``select`` (else the one selected, else the
        first)."""
        keep = select or self.selected_profile_id()
        default_id = self._providers.default_profile.id
        self._filling = True
        try:
            self.provider_list.clear()
            for profile in self._listed():
                item = QListWidgetItem(
                    profile_label(
                        profile,
                        is_default=profile.id == default_id,
                        is_saved=self._is_saved(profile),
                    )
                )
                item.setData(_PROFILE_ID_ROLE, profile.id)
                self.provider_list.addItem(item)
        finally:
            self._filling = False
        ids = [profile.id for profile in self._listed()]
        row = ids.index(keep) if keep in ids else 0
        self.provider_list.setCurrentRow(row if ids else -1)
        if not ids:
            self._on_current_row(-1)

    def selected_profile_id(self) -> str | None:
        """The id of the profile selected in the list, if any."""
        item = self.provider_list.currentItem()
        return None if item is None else str(item.data(_PROFILE_ID_ROLE))

    def select_profile(self, profile_id: str) -> bool:
        """Select that profile (and show it in the editor); whether it is listed."""
        for row in range(self.provider_list.count()):
            if self.provider_list.item(row).data(_PROFILE_ID_ROLE) == profile_id:
                self.provider_list.setCurrentRow(row)
                return True
        return False

    def _on_current_row(self, row: int) -> None:
        if self._filling:
            return
        listed = self._listed()
        profile = listed[row] if 0 <= row < len(listed) else None
        self.editor.show_profile(profile)
        report(self.connection_result, "")
        self._update_buttons()
        if profile is not None and self._is_saved(profile):
            self._tasks.start("key", self._show_key_state(profile.id))

    async def _show_key_state(self, profile_id: str) -> None:
        has_key = await self._providers.has_key(profile_id)
        shown = self.editor.shown
        if shown is not None and shown.id == profile_id:
            self.editor.show_key_state(has_key=has_key)

    def add_profile(self, preset_id: str) -> ProviderProfile:
        """A new profile from a preset, shown in the editor; saved only once applied."""
        self._draft = self._providers.new_profile(preset_id)
        self.refresh(select=self._draft.id)
        report(self.feedback, "")
        self.editor.name_edit.setFocus()
        return self._draft

    def ask_for_key(self, profile_id: str) -> bool:
        """Select that profile and ask for its key (a reply failed without one); whether it is
        listed."""
        if not self.select_profile(profile_id):
            return False
        profile = self.editor.shown
        if profile is not None:
            self.editor.ask_for_key(key_needed_text(profile))
        return True

    # -- state -------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        profile = self.editor.shown
        is_editable = profile is not None and not profile.is_environment
        is_saved = profile is not None and self._is_saved(profile)
        has_environment = any(each.is_environment for each in self._providers.profiles)
        self.remove_button.setEnabled(is_editable and "remove" not in self._busy)
        self.apply_button.setEnabled(is_editable and "apply" not in self._busy)
        self.test_button.setEnabled(profile is not None and "test" not in self._busy)
        self.default_button.setEnabled(
            is_editable
            and is_saved
            and not has_environment
            and profile is not None
            and profile.id != self._providers.default_profile.id
            and "default" not in self._busy
        )
        self.default_button.setToolTip(
            "OPENAI_BASE_URL sets the provider new chats use in this run."
            if has_environment
            else ""
        )

    def _start(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        self._busy[name] = self._busy.get(name, 0) + 1
        self._update_buttons()
        return self._tasks.start(name, self._while_busy(name, work))

    async def _while_busy(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work``; its action is busy until it ends (within the task, so that whoever
        waits for the task sees the buttons as they will stay)."""
        try:
            await work
        finally:
            work.close()  # cancelled before it started: closed, not left unawaited
            self._busy[name] -= 1
            if not self._busy[name]:
                del self._busy[name]
            self._update_buttons()

    def task(self, name: str) -> asyncio.Task[Any] | None:
        """The running task of one action (``apply``, ``test``, ``remove``, ``default``)."""
        return self._tasks.running(name)

    def _report_failure(self, error: Exception, doing: str) -> None:
        report(self.feedback, describe_failure(error, doing=doing).text, is_error=True)

    # -- actions -----------------------------------------------------------------------------
    def apply(self) -> asyncio.Task[None] | None:
        """Save the profile as the editor holds it, with the key typed (if any)."""
        profile, problems = self.editor.entered()
        self.editor.show_problems(problems)
        if profile is None or profile.is_environment:
            return None
        if problems:
            report(self.feedback, FIX_FIELDS_TEXT, is_error=True)
            return None
        return self._start("apply", self._apply(profile, self.editor.entered_key()))

    async def _apply(self, profile: ProviderProfile, api_key: str | None) -> None:
        try:
            await self._providers.save_profile(profile, api_key)
        except ValueError as error:
            report(self.feedback, str(error), is_error=True)
            return
        except ServiceError as error:
            self._report_failure(error, "Saving a provider")
            return
        if self._draft is not None and self._draft.id == profile.id:
            self._draft = None
        self.editor.clear_key()
        self.refresh(select=profile.id)
        report(self.feedback, f"{profile.name} is saved.")
        self.profilesChanged.emit(profile.id)

    def test_connection(self) -> asyncio.Task[None] | None:
        """Ask the server as the editor describes it for its models (the key typed, else the
        saved one); the result says how many, or the server's words."""
        profile, problems = self.editor.entered()
        address_problem = {key: text for key, text in problems.items() if key == "base_url"}
        self.editor.show_problems(address_problem)
        if profile is None or address_problem:
            return None
        # Busy at once, before the task first runs: the click is answered in the same frame.
        report(self.connection_result, f"Asking {profile.base_url}…")
        self.test_button.setText("Testing…")
        return self._start("test", self._test(profile, self.editor.entered_key()))

    async def _test(self, profile: ProviderProfile, api_key: str | None) -> None:
        try:
            models = await self._providers.test_connection(profile, api_key)
        except LlmError as error:
            report(self.connection_result, f"{error.title}: {error.message}", is_error=True)
        except Exception as error:
            # A bug, not the server's answer: logged with its traceback, said plainly.
            text = describe_failure(error, doing="Testing a provider").text
            report(self.connection_result, text, is_error=True)
        else:
            report(self.connection_result, connected_text(len(models.models)))
        finally:
            self.test_button.setText("Test Connection")

    def use_for_new_chats(self) -> asyncio.Task[None] | None:
        """Make the selected (saved) profile the one new chats use."""
        profile = self.editor.shown
        if profile is None or not self._is_saved(profile) or profile.is_environment:
            return None
        return self._start("default", self._use_for_new_chats(profile))

    async def _use_for_new_chats(self, profile: ProviderProfile) -> None:
        try:
            await self._providers.set_default(profile.id)
        except ValueError as error:
            report(self.feedback, str(error), is_error=True)
            return
        self.refresh(select=profile.id)
        report(self.feedback, f"New chats use {profile.name}.")
        self.profilesChanged.emit(profile.id)

    def confirm_remove(self) -> QMessageBox | None:
        """Ask before removing the selected profile (``open()``; Remove confirms); a draft
        goes at once."""
        profile = self.editor.shown
        if profile is None or profile.is_environment:
            return None
        if not self._is_saved(profile):
            self._draft = None
            self.refresh()
            return None
        self._removing = profile
        if self._confirmation is None:
            self._confirmation = Confirmation(
                self,
                title="Remove Provider",
                object_name="removeProviderConfirmation",
                confirm_text="Remove",
                confirm_name="confirmRemoveProviderButton",
            )
            self._confirmation.confirmed.connect(self._on_remove_confirmed)
        text = f"Remove {profile.name}? Chats that used it go on with the provider new chats use."
        if profile.id != OPENAI_PROFILE_ID:
            text += " Its saved key is forgotten."
        return self._confirmation.ask(text)

    def _on_remove_confirmed(self) -> None:
        if self._removing is not None:
            self._start("remove", self._remove(self._removing))

    async def _remove(self, profile: ProviderProfile) -> None:
        try:
            await self._providers.remove_profile(profile.id)
        except ServiceError as error:
            self._report_failure(error, "Removing a provider")
            return
        self.refresh()
        report(self.feedback, f"{profile.name} was removed.")
        self.profilesChanged.emit(profile.id)

    # -- closing -----------------------------------------------------------------------------
    def forget_entries(self) -> None:
        """The Settings window closes: forget the key typed and any draft, stop a test."""
        running = self._tasks.running("test")
        if running is not None:
            running.cancel()
        self.editor.clear_key()
        if self._draft is not None:
            self._draft = None
            self.refresh()

    async def aclose(self) -> None:
        """Stop every task of the page (the window is closing)."""
        await self._tasks.cancel_all()
