"""What the editor is editing: its mode, the stored assistant, and the draft last saved.

Qt-free, so the dialog's rules (what is dirty, what blocks saving, what the title says, when
an older version may be made active) read in one place.
"""

from __future__ import annotations

from enum import Enum

from gptlab_desktop.models import Assistant, AssistantDraft

# The order problems are listed in under the form: who may create, then the form top to bottom.
_FIELD_ORDER = (
    "creator",
    "name",
    "tag_line",
    "description",
    "initial_prompt",
    "summary_prompt",
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
)


class EditorMode(Enum):
    """What the dialog is doing with its assistant."""

    CREATE = "create"
    EDIT = "edit"
    DUPLICATE = "duplicate"
    VIEW = "view"  # a showcased or another's published assistant: read-only, can be duplicated


class EditorState:
    """The mode, the stored assistant shown (None while creating or duplicating), the baseline.

    The baseline is the form's draft when it was last loaded or saved; None for an unsaved
    copy, which is dirty until saved.
    """

    def __init__(self, creator_user_id: str | None, baseline: AssistantDraft) -> None:
        self.creator_user_id = creator_user_id
        self.mode = EditorMode.CREATE
        self.assistant: Assistant | None = None
        self.baseline: AssistantDraft | None = baseline

    # -- changing -----------------------------------------------------------------------------

    def create(self, baseline: AssistantDraft) -> None:
        """A new assistant, starting from ``baseline``."""
        self.assistant, self.mode, self.baseline = None, EditorMode.CREATE, baseline

    def copy(self) -> None:
        """An unsaved own copy of an assistant."""
        self.assistant, self.mode, self.baseline = None, EditorMode.DUPLICATE, None

    def show(self, assistant: Assistant) -> None:
        """A stored assistant: read-only when showcased (set the baseline once it is shown)."""
        self.assistant = assistant
        self.mode = (
            EditorMode.VIEW if assistant.is_read_only_for(self.creator_user_id) else EditorMode.EDIT
        )

    def saved(self, assistant: Assistant, draft: AssistantDraft) -> None:
        """``draft`` was stored as ``assistant``: from now on it is edited."""
        self.assistant, self.mode, self.baseline = assistant, EditorMode.EDIT, draft

    # -- reading ------------------------------------------------------------------------------

    @property
    def assistant_id(self) -> str | None:
        """The stored assistant shown, if any."""
        return self.assistant.id if self.assistant is not None else None

    @property
    def is_read_only(self) -> bool:
        """Whether the form may only be read (a showcased assistant)."""
        return self.mode is EditorMode.VIEW

    @property
    def is_own(self) -> bool:
        """Whether a stored assistant of the user's is edited (it can be archived, deleted)."""
        return self.mode is EditorMode.EDIT and self.assistant is not None

    @property
    def has_history(self) -> bool:
        """Whether there are stored versions to show."""
        return self.assistant is not None and self.mode is not EditorMode.DUPLICATE

    def is_dirty(self, draft: AssistantDraft) -> bool:
        """Whether ``draft`` (the form now) holds changes that are not saved."""
        if self.mode is EditorMode.VIEW:
            return False
        return self.baseline is None or draft != self.baseline

    def problems(self, field_problems: dict[str, str]) -> dict[str, str]:
        """What keeps the draft from being saved, by field, in form order (none when viewing)."""
        if self.mode is EditorMode.VIEW:
            return {}
        found = dict(field_problems)
        if self.assistant is None and self.creator_user_id is None:
            found["creator"] = "Sign in before creating an assistant."
        order = {name: position for position, name in enumerate(_FIELD_ORDER)}
        return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))

    def titles(self) -> tuple[str, str]:
        """The window title and the heading above the form."""
        name = self.assistant.name if self.assistant is not None else ""
        titles = {
            EditorMode.CREATE: ("New Assistant", "Create an assistant"),
            EditorMode.DUPLICATE: ("Duplicate Assistant", "Your copy (not saved yet)"),
            EditorMode.EDIT: (f"Edit “{name}”", f"Edit “{name}”"),
            EditorMode.VIEW: (
                f"“{name}”",
                f"“{name}” is showcased: read it, try it, or duplicate it to make it yours",
            ),
        }
        window_title, heading = titles[self.mode]
        archived = self.assistant is not None and not self.assistant.is_active
        if self.mode is EditorMode.EDIT and archived:
            heading += " (archived)"
        return window_title, heading

    def activation(self, *, is_dirty: bool, is_busy: bool) -> tuple[bool, str]:
        """Whether an older version may be made active now, and the note saying why not."""
        if self.is_own and is_dirty:
            return False, "Save or undo your changes before making another version active."
        if self.is_own:
            return not is_busy, ""
        if self.mode is EditorMode.VIEW:
            return False, "Showcased assistants keep their versions; duplicate one to change it."
        return False, ""
