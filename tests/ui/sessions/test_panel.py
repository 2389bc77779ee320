"""The sessions panel: listing, opening, renaming and ending sessions; its menu and names."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit, QMenu, QWidget

from gptlab_desktop.models import SessionStatus
from tests.ui.conftest import WAIT_MS
from tests.ui.sessions.conftest import stored_session


def test_lists_every_session_newest_first_with_assistant_model_and_count(make_panel) -> None:
    world = make_panel()
    ids = world.ids
    assert world.listed() == [ids.pasta_session, ids.chess_session, ids.other_session]
    title, details = world.row_of(ids.pasta_session).data().split("\n")
    assert title == "Dinner"
    assert details.startswith("Socrates · ")
    assert details.endswith(" · gpt-4o · 3 messages")


def test_activating_a_session_row_emits_its_id(make_panel, qtbot) -> None:
    world = make_panel()
    with qtbot.waitSignal(world.panel.sessionActivated, timeout=WAIT_MS) as opened:
        world.press_on(qtbot, world.ids.chess_session, Qt.Key.Key_Return)
    assert opened.args == [world.ids.chess_session]


def test_f2_renames_the_session_in_place(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setFocus()
    world.press_on(qtbot, world.ids.chess_session, Qt.Key.Key_F2)
    qtbot.waitUntil(
        lambda: world.view.state() == QAbstractItemView.State.EditingState, timeout=WAIT_MS
    )
    editor = world.view.viewport().findChild(QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "  Openings  ")
    with qtbot.waitSignal(world.panel.sessionsChanged, timeout=WAIT_MS):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert world.row_of(world.ids.chess_session).data().split("\n")[0] == "Openings"
    stored = stored_session(qtbot, world, world.ids.chess_session)
    assert stored is not None and stored.title == "Openings"


def test_a_blank_title_is_refused_and_the_old_one_kept(make_panel, qtbot) -> None:
    world = make_panel()
    index = world.row_of(world.ids.chess_session)
    assert world.view.model().setData(index, "   ") is False
    assert index.data().split("\n")[0] == "Chess"


def test_end_session_marks_the_row_ended_and_disables_ending_again(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.other_session))
    end = world.panel.findChild(object, "endSessionAction")
    assert end.isEnabled()
    with qtbot.waitSignal(world.panel.sessionEnded, timeout=WAIT_MS):
        end.trigger()
    assert world.row_of(world.ids.other_session).data().endswith(" · ended")
    assert not end.isEnabled()
    stored = stored_session(qtbot, world, world.ids.other_session)
    assert stored is not None and stored.status is SessionStatus.ABANDONED_BY_USER


# A popup menu asks the platform for things the offscreen plugin does not have.
@pytest.mark.qt_log_ignore(
    "This plugin does not support raise\\(\\)",
    "This plugin does not support grabbing the keyboard",
)
def test_the_context_menu_offers_every_session_action(make_panel, qtbot) -> None:
    world = make_panel()
    position = world.view.visualRect(world.row_of(world.ids.chess_session)).center()
    QApplication.sendEvent(
        world.view.viewport(),
        QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, position, world.view.viewport().mapToGlobal(position)
        ),
    )
    menu = world.panel.findChild(QMenu, "sessionContextMenu")
    qtbot.waitUntil(menu.isVisible, timeout=WAIT_MS)
    texts = [action.text() for action in menu.actions() if not action.isSeparator()]
    assert texts == [
        "Rename",
        "Pin",
        "Export as Markdown…",
        "Export as JSON…",
        "End Session",
        "Delete",
    ]
    assert world.panel.current_session_id() == world.ids.chess_session
    menu.close()


def test_every_interactive_widget_has_a_stable_and_an_accessible_name(make_panel) -> None:
    world = make_panel()
    for name in ("sessionSearch", "sessionScopeCombo", "sessionList", "undoDeleteButton"):
        widget = world.panel.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
    assert world.search.placeholderText() == "Search all chats… (Ctrl+Shift+F)"
