"""What can be done to a message, with which keys, and the menu that offers it.

The toolbar (message_toolbar.py), the message's menu and the keys on the transcript's current
row (view.py) offer the same actions under the same rules: these. Each asks the view for the
action (a copy, or a signal the pane acts on); none does the work itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeGuard

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMenu

from gptlab_desktop.models import Message, MessageState, Role
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.services.chat import can_continue
from gptlab_desktop.ui.chat.model import last_with_role

if TYPE_CHECKING:
    from gptlab_desktop.ui.chat.view import ChatStreamView

# The keys the view answers on its current row, named in the buttons' tooltips.
COPY_KEYS = "Ctrl+C"
COPY_MARKDOWN_KEYS = "Ctrl+Shift+C"
REGENERATE_KEYS = "Ctrl+R"
EDIT_KEYS = "F2"
DELETE_KEYS = "Del"
PREVIOUS_VARIANT_KEYS = "Alt+Left"
NEXT_VARIANT_KEYS = "Alt+Right"
TOOLBAR_KEYS = "Alt+Enter"


def can_regenerate(message: Message) -> bool:
    """Whether a message is a reply that can be asked for again (not a recap or a note)."""
    return (
        message.role is Role.ASSISTANT
        and message.kind is None
        and message.state is not MessageState.STREAMING
    )


def can_edit(message: Message) -> bool:
    """Whether a message is the user's own (any of them can be edited, forking there)."""
    return message.role is Role.USER


def can_delete(message: Message) -> bool:
    """Whether a message can be deleted (with what followed it): not while it arrives."""
    return message.state is not MessageState.STREAMING


def has_variant(variant: Variant | None, step: int) -> bool:
    """Whether there is a variant ``step`` places before (-1) or after (+1) this one."""
    return variant is not None and 1 <= variant.index + step <= variant.count


def is_shortcut_override(event: QEvent) -> TypeGuard[QKeyEvent]:
    """Whether Qt asks if a key is the focused widget's own before a window shortcut takes it
    (the window's Esc stops a reply; in the selector and the toolbar, Esc closes them)."""
    return event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)


_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def message_menu(view: ChatStreamView, row: int) -> QMenu:
    """The actions offered on a message: Copy (the selection, when part of it is selected),
    Copy as Markdown; Regenerate, Continue, Edit, the variants and Delete where they fit; then
    the chat's own (Copy conversation)."""
    transcript = view.transcript()
    message = transcript.message_at(row)
    menu = QMenu(view)
    menu.setObjectName("chatMessageMenu")
    selector = view.selector()
    if view.selecting_message_id() == message.id and selector.selected_text():
        _add(menu, "Copy selection", selector.copy_selection, COPY_KEYS)
    _add(menu, "Copy", lambda: view.copy_text_of(message.id), COPY_KEYS)
    _add(menu, "Copy as Markdown", lambda: view.copy_markdown_of(message.id), COPY_MARKDOWN_KEYS)
    menu.addSeparator()
    if can_regenerate(message):
        regenerate = _add(
            menu, "Regenerate", lambda: view.regenerateRequested.emit(message.id), REGENERATE_KEYS
        )
        regenerate.setEnabled(view.can_write)
    last_reply = last_with_role(transcript, Role.ASSISTANT)
    is_last_reply = last_reply is not None and last_reply.id == message.id
    if is_last_reply and message.state is not MessageState.STREAMING and can_continue(message):
        _add(menu, "Continue", lambda: view.continueRequested.emit(message.id))
    if can_edit(message):
        edit = _add(menu, "Edit and resend", lambda: view.editRequested.emit(message.id), EDIT_KEYS)
        edit.setEnabled(view.can_write)
    variant = transcript.variant(message.id)
    if variant is not None:
        for text, step, keys in (
            ("Previous variant", -1, PREVIOUS_VARIANT_KEYS),
            ("Next variant", 1, NEXT_VARIANT_KEYS),
        ):
            switch = _add(
                menu, text, lambda step=step: view.variantRequested.emit(message.id, step), keys
            )
            switch.setEnabled(view.can_change and has_variant(variant, step))
    delete = _add(menu, "Delete…", lambda: view.deleteRequested.emit(message.id), DELETE_KEYS)
    delete.setEnabled(view.can_change and can_delete(message))
    if view.pane_actions():
        menu.addSeparator()
        menu.addActions(view.pane_actions())
    return menu


def _add(menu: QMenu, text: str, slot: object, keys: str | None = None) -> QAction:
    action = QAction(text, menu)
    action.triggered.connect(slot)
    if keys is not None:
        # Shown in the menu as a reminder; the keys themselves are the view's.
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    menu.addAction(action)
    return action


def act_on_key(view: ChatStreamView, event: QKeyEvent, row: int) -> bool:
    """Do what a key asks of the message in ``row`` (view.py lists the keys); whether it was
    one of the message's keys."""
    message = view.transcript().message_at(row)
    keys = QKeySequence(event.keyCombination())
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if event.matches(QKeySequence.StandardKey.Copy):
        view.copy_text(row)
    elif keys == QKeySequence(COPY_MARKDOWN_KEYS):
        view.copy_message(row)
    elif event.key() in _ENTER_KEYS and modifiers == Qt.KeyboardModifier.AltModifier:
        view.focus_toolbar()
    elif event.key() in _ENTER_KEYS and modifiers == Qt.KeyboardModifier.NoModifier:
        view.open_selector(row)
    elif keys == QKeySequence(REGENERATE_KEYS):
        if view.can_write and can_regenerate(message):
            view.regenerateRequested.emit(message.id)
    elif keys == QKeySequence(EDIT_KEYS):
        if view.can_write and can_edit(message):
            view.editRequested.emit(message.id)
    elif event.matches(QKeySequence.StandardKey.Delete):
        if view.can_change and can_delete(message):
            view.deleteRequested.emit(message.id)
    elif keys in (QKeySequence(PREVIOUS_VARIANT_KEYS), QKeySequence(NEXT_VARIANT_KEYS)):
        step = -1 if keys == QKeySequence(PREVIOUS_VARIANT_KEYS) else 1
        if view.can_change and has_variant(view.transcript().variant(message.id), step):
            view.variantRequested.emit(message.id, step)
    else:
        return False
    return True
