"""The panel's search bar: the scope while browsing, full-text search, and opening a hit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from gptlab_desktop.ui.sessions.model import PanelRole, RowKind
from tests.ui.conftest import WAIT_MS


def test_every_chat_is_listed_until_the_scope_narrows_it_to_this_assistant(
    make_panel, qtbot
) -> None:
    world = make_panel(assistant=True)
    ids = world.ids
    assert len(world.listed()) == 3
    scope = world.panel.findChild(QComboBox, "sessionScopeCombo")
    scope.setCurrentIndex(scope.findData("assistant"))
    qtbot.waitUntil(
        lambda: world.listed() == [ids.pasta_session, ids.chess_session], timeout=WAIT_MS
    )
    scope.setCurrentIndex(scope.findData("all"))
    qtbot.waitUntil(lambda: len(world.listed()) == 3, timeout=WAIT_MS)


def test_without_an_assistant_the_scope_is_all_sessions_and_fixed(make_panel) -> None:
    world = make_panel()
    scope = world.panel.findChild(QComboBox, "sessionScopeCombo")
    assert scope.currentData() == "all"
    assert not scope.isEnabled()


def test_typing_a_search_narrows_the_list_to_the_matching_session(make_panel, qtbot) -> None:
    world = make_panel()
    qtbot.keyClicks(world.search, "pasta")
    qtbot.waitUntil(lambda: world.listed() == [world.ids.pasta_session], timeout=WAIT_MS)
    hit = world.view.model().index(1, 0)
    assert hit.data(PanelRole.ROW_KIND) is RowKind.HIT
    assert "«pasta»" in hit.data()


def test_clearing_the_search_brings_back_the_listing(make_panel, qtbot) -> None:
    world = make_panel()
    qtbot.keyClicks(world.search, "pasta")
    qtbot.waitUntil(lambda: len(world.listed()) == 1, timeout=WAIT_MS)
    world.search.clear()
    qtbot.waitUntil(lambda: len(world.listed()) == 3, timeout=WAIT_MS)


def test_a_search_without_matches_says_so(make_panel, qtbot) -> None:
    world = make_panel()
    qtbot.keyClicks(world.search, "zebra")
    notice = world.panel.findChild(QWidget, "sessionNotice")
    qtbot.waitUntil(lambda: notice.isVisible() and world.listed() == [], timeout=WAIT_MS)
    assert "zebra" in notice.text()


def test_activating_a_search_hit_emits_the_session_and_message_ids(make_panel, qtbot) -> None:
    world = make_panel()
    qtbot.keyClicks(world.search, "pasta")
    qtbot.waitUntil(lambda: world.view.model().rowCount() == 2, timeout=WAIT_MS)
    world.view.setCurrentIndex(world.view.model().index(1, 0))
    with (
        qtbot.waitSignal(world.panel.searchHitActivated, timeout=WAIT_MS) as hit,
        qtbot.waitSignal(world.panel.sessionActivated, timeout=WAIT_MS) as opened,
    ):
        qtbot.keyClick(world.view, Qt.Key.Key_Return)
    assert hit.args == [world.ids.pasta_session, world.ids.pasta_message]
    assert opened.args == [world.ids.pasta_session]


def test_ctrl_shift_f_puts_the_cursor_in_the_search_box(make_panel, qtbot) -> None:
    world = make_panel()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(world.view, Qt.Key.Key_F, modifiers)
    assert world.search.hasFocus()
