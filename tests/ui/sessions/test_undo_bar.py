"""Deleting a session: hidden at once, undoable from the undo bar until the window passes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget

from gptlab_desktop.services.session_library import DeletionOutcome
from tests.ui.conftest import WAIT_MS
from tests.ui.sessions.conftest import run, stored_session


def test_delete_key_hides_the_row_and_shows_the_undo_bar(make_panel, qtbot) -> None:
    world = make_panel()
    with qtbot.waitSignal(world.panel.sessionDeleted, timeout=WAIT_MS) as deleted:
        world.press_on(qtbot, world.ids.chess_session, Qt.Key.Key_Delete)
    assert deleted.args == [world.ids.chess_session]
    assert world.ids.chess_session not in world.listed()
    assert world.panel.findChild(QWidget, "undoBar").isVisible()
    assert world.panel.findChild(QPushButton, "undoDeleteButton").text() == "Undo (Ctrl+Z)"
    assert stored_session(qtbot, world, world.ids.chess_session) is not None


def test_undo_button_brings_the_deleted_session_back(make_panel, qtbot) -> None:
    world = make_panel()
    world.press_on(qtbot, world.ids.chess_session, Qt.Key.Key_Delete)
    undo = world.panel.findChild(QPushButton, "undoDeleteButton")
    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: world.ids.chess_session in world.listed(), timeout=WAIT_MS)
    assert not world.panel.findChild(QWidget, "undoBar").isVisible()
    assert world.panel.current_session_id() == world.ids.chess_session
    run(qtbot, world.library.flush())
    assert stored_session(qtbot, world, world.ids.chess_session) is not None


def test_ctrl_z_undoes_the_last_deletion(make_panel, qtbot) -> None:
    world = make_panel()
    world.press_on(qtbot, world.ids.other_session, Qt.Key.Key_Delete)
    qtbot.keyClick(world.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: world.ids.other_session in world.listed(), timeout=WAIT_MS)


def test_when_the_undo_window_passes_the_session_is_gone_and_the_bar_hides(
    make_panel, qtbot
) -> None:
    world = make_panel(undo_window_s=0.2)
    bar = world.panel.findChild(QWidget, "undoBar")
    task = world.panel.delete_session(world.ids.pasta_session)
    assert bar.isVisible()
    qtbot.waitUntil(lambda: task.done() and not bar.isVisible(), timeout=WAIT_MS)
    assert task.result().outcome is DeletionOutcome.DELETED
    assert stored_session(qtbot, world, world.ids.pasta_session) is None


def test_flush_pending_deletes_now_and_hides_the_bar(make_panel, qtbot) -> None:
    world = make_panel()
    world.panel.delete_session(world.ids.pasta_session)
    run(qtbot, world.panel.flush_pending())
    assert not world.panel.findChild(QWidget, "undoBar").isVisible()
    assert stored_session(qtbot, world, world.ids.pasta_session) is None


def test_delete_makes_the_next_session_current(make_panel, qtbot) -> None:
    world = make_panel()
    world.press_on(qtbot, world.ids.pasta_session, Qt.Key.Key_Delete)
    assert world.panel.current_session_id() == world.ids.chess_session
