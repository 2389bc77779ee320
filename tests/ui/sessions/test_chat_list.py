"""The chat list: grouped by date on a fixed clock, pinned chats on top (and still pinned in a
second panel on the same file), renamed in place by a double-click, opened by one click, the
open chat marked, Down from the search box into the list."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit

from gptlab_desktop.services.session_library import ChatGroup
from gptlab_desktop.services.store.sqlite_rows import to_text
from gptlab_desktop.ui.sessions.model import PanelRole, RowKind
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.builders import make_session, raw
from tests.ui.conftest import WAIT_MS
from tests.ui.sessions.conftest import MakePanel, PanelWorld, run, stored_session

# A Wednesday afternoon, two hours east of UTC: days begin at this zone's midnight.
NOW = datetime(2026, 3, 18, 15, 0, tzinfo=timezone(timedelta(hours=2)))


def fixed_clock() -> datetime:
    return NOW


def set_modified(data_dir: Any, session_id: str, moment: datetime) -> None:
    with raw(data_dir) as conn:
        conn.execute(
            "UPDATE sessions SET last_modified_date = ? WHERE id = ?", (to_text(moment), session_id)
        )


def groups(world: PanelWorld) -> list[tuple[str, ChatGroup, bool]]:
    """Each listed chat's id, group, and whether it carries its group's header."""
    model = world.view.model()
    return [
        (
            model.index(row, 0).data(SessionRole.SESSION_ID),
            model.index(row, 0).data(PanelRole.GROUP),
            bool(model.index(row, 0).data(PanelRole.STARTS_GROUP)),
        )
        for row in range(model.rowCount())
    ]


def dated_world(qtbot: Any, make_panel: MakePanel, data_dir: Any) -> tuple[PanelWorld, str]:
    """The seeded chats on the fixed clock: Dinner today, Chess just before midnight
    yesterday, Poems three days ago, and a fourth, Ancient, a month ago."""
    world = make_panel(clock=fixed_clock)
    ids = world.ids
    user = run(qtbot, world.store.local_user())
    ancient = make_session(user.id, ids.assistant_id, title="Ancient")
    run(qtbot, world.store.create_session(ancient))
    set_modified(data_dir, ids.pasta_session, NOW.replace(hour=0, minute=10))
    set_modified(data_dir, ids.chess_session, NOW.replace(hour=0) - timedelta(minutes=10))
    set_modified(data_dir, ids.other_session, NOW - timedelta(days=3))
    set_modified(data_dir, ancient.id, NOW - timedelta(days=30))
    qtbot.waitUntil(world.panel.refresh().done, timeout=WAIT_MS)
    return world, ancient.id


def test_chats_are_grouped_today_yesterday_previous_7_days_and_older_by_the_clock(
    qtbot, make_panel: MakePanel, data_dir
) -> None:
    world, ancient = dated_world(qtbot, make_panel, data_dir)
    ids = world.ids

    assert groups(world) == [
        (ids.pasta_session, ChatGroup.TODAY, True),
        (ids.chess_session, ChatGroup.YESTERDAY, True),
        (ids.other_session, ChatGroup.PREVIOUS_7_DAYS, True),
        (ancient, ChatGroup.OLDER, True),
    ]
    first = world.row_of(ids.pasta_session)
    assert first.data(Qt.ItemDataRole.AccessibleTextRole).startswith("Today: Dinner")


def test_a_group_shows_its_header_once_above_its_newest_chat(
    qtbot, make_panel: MakePanel, data_dir
) -> None:
    world, _ancient = dated_world(qtbot, make_panel, data_dir)
    ids = world.ids
    set_modified(data_dir, ids.chess_session, NOW - timedelta(hours=2))
    qtbot.waitUntil(world.panel.refresh().done, timeout=WAIT_MS)

    today = [entry for entry in groups(world) if entry[1] is ChatGroup.TODAY]
    assert today == [
        (ids.chess_session, ChatGroup.TODAY, True),
        (ids.pasta_session, ChatGroup.TODAY, False),
    ]
    header_row = world.view.visualRect(world.row_of(ids.chess_session)).height()
    plain_row = world.view.visualRect(world.row_of(ids.pasta_session)).height()
    assert header_row > plain_row


def test_pinning_a_chat_puts_it_on_top_under_pinned_and_it_stays_pinned_in_the_next_panel(
    qtbot, make_panel: MakePanel, data_dir
) -> None:
    world, _ancient = dated_world(qtbot, make_panel, data_dir)
    ids = world.ids
    pin = world.panel.findChild(QAction, "pinSessionAction")
    world.view.setCurrentIndex(world.row_of(ids.other_session))
    assert pin.text() == "Pin"

    pin.trigger()

    qtbot.waitUntil(lambda: world.listed()[0] == ids.other_session, timeout=WAIT_MS)
    assert groups(world)[0] == (ids.other_session, ChatGroup.PINNED, True)
    assert world.panel.current_session_id() == ids.other_session
    assert pin.text() == "Unpin"
    stored = stored_session(qtbot, world, ids.other_session)
    assert stored is not None and stored.is_pinned
    # Pinning is no activity: the chat keeps its date.
    assert stored.last_modified_date == NOW - timedelta(days=3)

    again = make_panel(clock=fixed_clock)
    assert groups(again)[0] == (ids.other_session, ChatGroup.PINNED, True)


def test_unpinning_puts_a_chat_back_in_its_date_group(
    qtbot, make_panel: MakePanel, data_dir
) -> None:
    world, _ancient = dated_world(qtbot, make_panel, data_dir)
    ids = world.ids
    qtbot.waitUntil(world.panel.pin_session(ids.chess_session).done, timeout=WAIT_MS)
    assert groups(world)[0][1] is ChatGroup.PINNED

    qtbot.waitUntil(world.panel.pin_session(ids.chess_session, False).done, timeout=WAIT_MS)

    assert (ids.chess_session, ChatGroup.YESTERDAY, True) in groups(world)
    assert all(group is not ChatGroup.PINNED for _id, group, _starts in groups(world))


def test_a_double_click_renames_a_chat_in_place_as_plain_text(qtbot, make_panel: MakePanel) -> None:
    world = make_panel()
    index = world.row_of(world.ids.chess_session)
    position = world.view.visualRect(index).center()

    # A double-click as the user makes it: a click (which opens the chat), then the second.
    qtbot.mouseClick(world.view.viewport(), Qt.MouseButton.LeftButton, pos=position)
    qtbot.mouseDClick(world.view.viewport(), Qt.MouseButton.LeftButton, pos=position)

    qtbot.waitUntil(
        lambda: world.view.state() == QAbstractItemView.State.EditingState, timeout=WAIT_MS
    )
    editor = world.view.viewport().findChild(QLineEdit)
    assert editor.text() == "Chess"
    editor.selectAll()
    qtbot.keyClicks(editor, "**Openings** to `learn`")
    with qtbot.waitSignal(world.panel.sessionsChanged, timeout=WAIT_MS):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert world.row_of(world.ids.chess_session).data(PanelRole.TITLE) == "Openings to learn"
    stored = stored_session(qtbot, world, world.ids.chess_session)
    assert stored is not None and stored.title == "Openings to learn"


def test_a_single_click_opens_a_chat(qtbot, make_panel: MakePanel) -> None:
    world = make_panel()
    position = world.view.visualRect(world.row_of(world.ids.other_session)).center()

    with qtbot.waitSignal(world.panel.sessionActivated, timeout=WAIT_MS) as opened:
        qtbot.mouseClick(world.view.viewport(), Qt.MouseButton.LeftButton, pos=position)

    assert opened.args == [world.ids.other_session]


def test_the_open_chat_stays_marked_while_the_cursor_moves_and_the_list_is_read_again(
    qtbot, make_panel: MakePanel
) -> None:
    world = make_panel()
    ids = world.ids

    world.panel.mark_open(ids.chess_session)

    assert world.panel.current_session_id() == ids.chess_session
    world.view.setFocus()
    qtbot.keyClick(world.view, Qt.Key.Key_Down)
    assert world.panel.current_session_id() == ids.other_session
    qtbot.waitUntil(world.panel.refresh().done, timeout=WAIT_MS)
    marked = [
        session_id
        for session_id in world.listed()
        if world.row_of(session_id).data(PanelRole.IS_OPEN)
    ]
    assert marked == [ids.chess_session]
    spoken = world.row_of(ids.chess_session).data(Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.startswith("Chess, open.")


def test_down_from_the_search_box_moves_into_the_list(qtbot, make_panel: MakePanel) -> None:
    world = make_panel()
    world.search.setFocus()
    qtbot.waitUntil(world.search.hasFocus, timeout=WAIT_MS)

    qtbot.keyClick(world.search, Qt.Key.Key_Down)

    assert QApplication.focusWidget() is world.view
    assert world.panel.current_session_id() == world.ids.pasta_session


def test_down_from_the_search_box_goes_to_the_search_results(qtbot, make_panel: MakePanel) -> None:
    world = make_panel()
    world.search.setFocus()
    qtbot.keyClicks(world.search, "pasta")
    qtbot.waitUntil(lambda: world.listed() == [world.ids.pasta_session], timeout=WAIT_MS)

    qtbot.keyClick(world.search, Qt.Key.Key_Down)

    assert world.view.hasFocus()
    assert world.panel.current_session_id() == world.ids.pasta_session


def test_a_changed_chat_first_in_its_group_is_shown_where_it_is_without_reading_the_list(
    qtbot, make_panel: MakePanel
) -> None:
    world = make_panel()
    ids = world.ids
    session = stored_session(qtbot, world, ids.pasta_session)
    assert session is not None
    resets: list[None] = []
    world.panel.model.modelReset.connect(lambda: resets.append(None))

    assert world.panel.show_session(session.with_changes(title="Pasta night")) is None

    assert world.row_of(ids.pasta_session).data(PanelRole.TITLE) == "Pasta night"
    assert resets == []
    # One further down moves to the top: the list is read again.
    chess = stored_session(qtbot, world, ids.chess_session)
    assert chess is not None
    moved = chess.with_changes(last_modified_date=NOW + timedelta(days=365))
    reading = world.panel.show_session(moved)
    assert reading is not None
    qtbot.waitUntil(reading.done, timeout=WAIT_MS)


def test_typing_narrows_the_list_to_matching_titles_at_once_then_adds_message_hits(
    qtbot, make_panel: MakePanel
) -> None:
    world = make_panel()
    ids = world.ids

    qtbot.keyClicks(world.search, "din")

    # At once, before the full-text search (which waits for a pause) has answered.
    assert world.listed() == [ids.pasta_session]
    qtbot.keyClicks(world.search, "ner")
    assert world.listed() == [ids.pasta_session]
    world.search.clear()
    qtbot.keyClicks(world.search, "chess")
    assert world.listed() == [ids.chess_session]
    # The search's answer: the title matches first, then the chats whose messages match.
    world.search.clear()
    run(qtbot, world.library.rename(ids.chess_session, "Roses"))
    qtbot.waitUntil(world.panel.refresh().done, timeout=WAIT_MS)
    qtbot.keyClicks(world.search, "roses")
    qtbot.waitUntil(
        lambda: world.listed() == [ids.chess_session, ids.other_session], timeout=WAIT_MS
    )
    kinds = [world.view.model().index(row, 0).data(PanelRole.ROW_KIND) for row in range(3)]
    assert kinds == [RowKind.SESSION, RowKind.SESSION, RowKind.HIT]
