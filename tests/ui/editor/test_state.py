"""The editor's rules, without Qt: what is dirty, what blocks saving, titles, rollback notes."""

from __future__ import annotations

from dataclasses import replace

from gptlab_desktop.models import Assistant, SessionType, new_id, utcnow
from gptlab_desktop.ui.editor.state import EditorMode, EditorState
from tests.builders import make_draft


def assistant(**changes: object) -> Assistant:
    now = utcnow()
    made = Assistant(
        id=new_id(),
        name="Socrates",
        tag_line="Asks",
        description="",
        session_type=SessionType.BRAINSTORMING,
        creator_user_id="u",
        created_date=now,
        last_modified_date=now,
        active_initial_prompt_id="p",
        active_model_config_id="c",
        active_summary_prompt_id="s",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_a_draft_differing_from_the_baseline_is_dirty() -> None:
    state = EditorState("u", make_draft())
    assert not state.is_dirty(make_draft())
    assert state.is_dirty(make_draft(name="Plato"))


def test_an_unsaved_copy_is_dirty_until_saved() -> None:
    state = EditorState("u", make_draft())
    state.copy()
    assert state.mode is EditorMode.DUPLICATE
    assert state.is_dirty(make_draft())
    stored = assistant()
    state.saved(stored, make_draft())
    assert (state.mode, state.assistant_id) == (EditorMode.EDIT, stored.id)
    assert not state.is_dirty(make_draft())


def test_a_showcased_assistant_is_read_only_never_dirty_and_never_blocked() -> None:
    state = EditorState(None, make_draft())
    state.show(assistant(showcased=True))
    assert state.mode is EditorMode.VIEW
    assert state.is_read_only
    assert not state.is_dirty(make_draft(name="Changed"))
    assert state.problems({"name": "Give the assistant a name."}) == {}


def test_another_users_published_assistant_is_read_only_and_ones_own_published_is_edited() -> None:
    state = EditorState("me", make_draft())
    state.show(assistant(creator_user_id="ada", published=True))
    assert state.is_read_only
    state.show(assistant(creator_user_id="me", published=True))
    assert state.mode is EditorMode.EDIT


def test_creating_without_a_user_lists_sign_in_first() -> None:
    state = EditorState(None, make_draft())
    found = state.problems({"model": "Choose a model.", "name": "Give the assistant a name."})
    assert list(found) == ["creator", "name", "model"]


def test_an_archived_assistant_says_so_in_the_heading() -> None:
    state = EditorState("u", make_draft())
    state.show(assistant(is_active=False))
    assert state.titles() == ("Edit “Socrates”", "Edit “Socrates” (archived)")


def test_rollback_waits_for_unsaved_changes_and_is_refused_for_showcased() -> None:
    state = EditorState("u", make_draft())
    state.show(assistant())
    assert state.activation(is_dirty=False, is_busy=False) == (True, "")
    allowed, note = state.activation(is_dirty=True, is_busy=False)
    assert not allowed and "Save or undo" in note
    state.show(assistant(showcased=True))
    allowed, note = state.activation(is_dirty=False, is_busy=False)
    assert not allowed and "Showcased" in note
