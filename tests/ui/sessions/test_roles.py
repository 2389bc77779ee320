"""What the sessions' rows say: a session's title."""

from __future__ import annotations

from gptlab_desktop.ui.sessions.roles import session_title
from tests.ui.sessions.conftest import entry


def test_an_untitled_session_is_named_by_its_start(qapp) -> None:
    untitled = entry("").summary
    expected = f"Session of {untitled.created_date.astimezone():%Y-%m-%d %H:%M}"
    assert session_title(untitled) == expected


def test_a_titled_session_is_named_by_its_title(qapp) -> None:
    assert session_title(entry("Dinner plans").summary) == "Dinner plans"


def test_a_title_is_shown_as_plain_text(qapp) -> None:
    assert session_title(entry("**Dinner** `plans` for [Friday](https://x.y)").summary) == (
        "Dinner plans for Friday"
    )
