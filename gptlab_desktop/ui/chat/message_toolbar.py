"""The toolbar over the hovered or current message: copy, Markdown, regenerate, edit, delete,
and ‹ n / m › between its variants.

One toolbar serves every row: the view moves it to the row the pointer is over, or to the
current row while the keyboard works there. It says which action was asked for on which
message; what the action does is the view's and the pane's business.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from gptlab_desktop.models import Message
from gptlab_desktop.services.branches import Variant
from gptlab_desktop.ui.chat.delegate import variant_text
from gptlab_desktop.ui.chat.message_actions import (
    COPY_KEYS,
    COPY_MARKDOWN_KEYS,
    DELETE_KEYS,
    EDIT_KEYS,
    NEXT_VARIANT_KEYS,
    PREVIOUS_VARIANT_KEYS,
    REGENERATE_KEYS,
    TOOLBAR_KEYS,
    can_delete,
    can_edit,
    can_regenerate,
    has_variant,
    is_shortcut_override,
)
from gptlab_desktop.ui.naming import name_widget


class MessageToolbar(QFrame):
    """The actions on one message, as small buttons; each names the message it acts on."""

    copyWanted = Signal(str)
    copyMarkdownWanted = Signal(str)
    regenerateWanted = Signal(str)
    editWanted = Signal(str)
    deleteWanted = Signal(str)
    #: A message id and a step: -1 for the previous variant, +1 for the next.
    variantWanted = Signal(str, int)
    #: Esc in the toolbar: the keyboard goes back to the transcript.
    leaveWanted = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        name_widget(self, "messageToolbar", "Message actions")
        self.setToolTip(f"Actions on this message ({TOOLBAR_KEYS} from the transcript)")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._message_id: str | None = None
        # What the buttons were last set up for: the message, its variant, the permissions.
        self._shown: tuple[Message, Variant | None, bool, bool] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 1, 2, 1)
        layout.setSpacing(1)

        self.previous_variant_button = self._button(
            "‹", "previousVariantButton", "Previous variant", PREVIOUS_VARIANT_KEYS
        )
        self.variant_label = QLabel(self)
        name_widget(self.variant_label, "variantLabel", "Variant")
        self.next_variant_button = self._button(
            "›", "nextVariantButton", "Next variant", NEXT_VARIANT_KEYS
        )
        self.copy_button = self._button("Copy", "copyMessageButton", "Copy the text", COPY_KEYS)
        self.copy_markdown_button = self._button(
            "Markdown", "copyMarkdownButton", "Copy as Markdown", COPY_MARKDOWN_KEYS
        )
        self.regenerate_button = self._button(
            "Regenerate", "regenerateMessageButton", "Regenerate this reply", REGENERATE_KEYS
        )
        self.edit_button = self._button("Edit", "editMessageButton", "Edit this message", EDIT_KEYS)
        self.delete_button = self._button(
            "Delete",
            "deleteMessageButton",
            "Delete this message and the replies after it",
            DELETE_KEYS,
        )
        layout.addWidget(self.previous_variant_button)
        layout.addWidget(self.variant_label)
        for button in self._buttons()[1:]:
            layout.addWidget(button)

        self.copy_button.clicked.connect(lambda: self._emit(self.copyWanted))
        self.copy_markdown_button.clicked.connect(lambda: self._emit(self.copyMarkdownWanted))
        self.regenerate_button.clicked.connect(lambda: self._emit(self.regenerateWanted))
        self.edit_button.clicked.connect(lambda: self._emit(self.editWanted))
        self.delete_button.clicked.connect(lambda: self._emit(self.deleteWanted))
        self.previous_variant_button.clicked.connect(lambda: self._step(-1))
        self.next_variant_button.clicked.connect(lambda: self._step(1))
        self.hide()

    def _button(self, text: str, object_name: str, what: str, keys: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        name_widget(button, object_name, what)
        button.setToolTip(f"{what} ({keys})")
        button.setAutoRaise(True)
        # Reached with Alt+Enter and the arrow keys; a click leaves the focus where it was.
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        return button

    @property
    def message_id(self) -> str | None:
        """The message the toolbar acts on (None while it shows none)."""
        return self._message_id

    def show_for(
        self, message: Message, variant: Variant | None, *, can_write: bool, can_change: bool
    ) -> None:
        """Offer the actions that fit a message: writing ones (regenerate, edit) while the chat
        takes messages, changing ones (delete, variants) while nothing runs."""
        shown = (message, variant, can_write, can_change)
        # Asked again on every scroll while shown: only a change is laid out again.
        if self._shown is not None and self._shown[0] is message and self._shown[1:] == shown[1:]:
            return
        self._shown = shown
        self._message_id = message.id
        has_text = bool(message.message)
        self.copy_button.setEnabled(has_text)
        self.copy_markdown_button.setEnabled(has_text)
        self.regenerate_button.setVisible(can_regenerate(message))
        self.regenerate_button.setEnabled(can_write)
        self.edit_button.setVisible(can_edit(message))
        self.edit_button.setEnabled(can_write)
        self.delete_button.setEnabled(can_change and can_delete(message))
        has_variants = variant is not None and variant.count > 1
        for widget in (self.previous_variant_button, self.variant_label, self.next_variant_button):
            widget.setVisible(has_variants)
        if variant is not None and has_variants:
            self.variant_label.setText(variant_text(variant))
            self.variant_label.setAccessibleName(f"Variant {variant.index} of {variant.count}")
            self.previous_variant_button.setEnabled(can_change and has_variant(variant, -1))
            self.next_variant_button.setEnabled(can_change and has_variant(variant, 1))
        self.adjustSize()

    def forget(self) -> None:
        """Hide, acting on no message."""
        self._message_id = None
        self._shown = None
        self.hide()

    def focus_first(self) -> bool:
        """Put the keyboard on the first button that can be pressed; False if none can."""
        for button in self._buttons():
            if button.isVisible() and button.isEnabled():
                button.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
        return False

    def _buttons(self) -> list[QToolButton]:
        """The buttons in the order they are laid out (the variant's label after the first)."""
        return [
            self.previous_variant_button,
            self.next_variant_button,
            self.copy_button,
            self.copy_markdown_button,
            self.regenerate_button,
            self.edit_button,
            self.delete_button,
        ]

    def event(self, event: QEvent) -> bool:
        """Esc (from a button) is the toolbar's own, not the window's shortcut."""
        if is_shortcut_override(event) and event.key() == Qt.Key.Key_Escape:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left and Right move between the buttons; Esc goes back to the transcript."""
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self._move_focus(1 if key == Qt.Key.Key_Right else -1)
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.leaveWanted.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def _move_focus(self, step: int) -> None:
        usable = [b for b in self._buttons() if b.isVisible() and b.isEnabled()]
        if not usable:
            return
        focused = next((i for i, b in enumerate(usable) if b.hasFocus()), -1)
        usable[(focused + step) % len(usable)].setFocus(Qt.FocusReason.TabFocusReason)

    def _emit(self, signal: Signal) -> None:
        if self._message_id is not None:
            signal.emit(self._message_id)

    def _step(self, step: int) -> None:
        if self._message_id is not None:
            self.variantWanted.emit(self._message_id, step)
