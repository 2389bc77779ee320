"""The lobby panel in the window: its filter, the counts it gives, and how it lays out.

Each test drives the app's own window (``open_window``) on a real SQLite file, its lobby filled
with the shipped showcase.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QListView

from tests.ui.conftest import OpenWindow, lobby_names, showcase_names


# -- the filter ------------------------------------------------------------------------------
def test_filter_narrows_the_lobby_by_name_ignoring_case(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.keyClicks(window.findChild(QLineEdit, "assistantFilter"), "COACH")
    assert lobby_names(window) == ["Career Coach", "Interview Coach"]


def test_filter_matches_the_tag_line(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.keyClicks(window.findChild(QLineEdit, "assistantFilter"), "second pair")
    assert lobby_names(window) == ["Code Reviewer"]


def test_filter_matches_the_description(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.keyClicks(window.findChild(QLineEdit, "assistantFilter"), "itinerary")
    assert lobby_names(window) == ["Travel Planner"]


def test_filter_keeps_the_lobby_order(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.keyClicks(window.findChild(QLineEdit, "assistantFilter"), "practise")
    narrowed = lobby_names(window)
    assert len(narrowed) > 1
    assert narrowed == [name for name in showcase_names() if name in narrowed]


def test_clearing_the_filter_restores_the_whole_lobby(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    line = window.findChild(QLineEdit, "assistantFilter")
    qtbot.keyClicks(line, "coach")
    line.clear()
    assert lobby_names(window) == showcase_names()


def test_filter_explains_itself_and_its_shortcut(open_window: OpenWindow) -> None:
    window = open_window()
    line = window.findChild(QLineEdit, "assistantFilter")
    assert line.placeholderText() == "Filter assistants… (Ctrl+F)"


# -- counts and layout -----------------------------------------------------------------------
def test_counts_say_how_many_assistants_the_filter_shows(qtbot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.keyClicks(window.findChild(QLineEdit, "assistantFilter"), "coach")
    counts = window.findChild(QLabel, "countsLabel").text()
    assert counts.startswith(f"2 of {len(showcase_names())} assistants")


def test_the_lobby_lays_out_in_batches(open_window: OpenWindow) -> None:
    window = open_window()
    assert window.lobby_list.layoutMode() is QListView.LayoutMode.Batched
    assert window.lobby_list.batchSize() == 100
