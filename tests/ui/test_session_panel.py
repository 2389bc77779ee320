"""The sessions panel, driven by objectName over a real SQLite store in the test's directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QWidget,
)

from gptlab_desktop.models import (
    AssistantDraft,
    Message,
    ModelConfig,
    Role,
    Session,
    SessionStatus,
    SessionType,
    new_id,
    utcnow,
)
from gptlab_desktop.services.session_library import (
    DeletionOutcome,
    ExportFormat,
    SessionEntry,
    SessionLibrary,
    SessionSearchResult,
)
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.ui.sessions.delegate import row_html
from gptlab_desktop.ui.sessions.model import PanelRole, RowKind, SessionPanelModel
from gptlab_desktop.ui.sessions.panel import SessionPanel
from gptlab_desktop.ui.sessions.roles import SessionRole
from tests.ui.conftest import WAIT_MS, run_in_fresh_loop

T = TypeVar("T")
DB_NAME = "gptlab.sqlite3"
LONG_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the test data holds: ids of two assistants' sessions and one message."""

    assistant_id: str
    pasta_session: str
    pasta_message: str
    chess_session: str
    other_session: str


async def seed(path: Path) -> Seeded:
    """Three sessions: two with Socrates (pasta, chess), one with Muse."""
    store = SqliteStore(path)
    assert (await store.open()).is_usable
    try:
        user = await store.get_or_create_user("c" * 64)
        socrates = await store.create_assistant(draft("Socrates"), user.id)
        muse = await store.create_assistant(draft("Muse"), user.id)
        ids: dict[str, str] = {}
        for key, assistant_id, title, texts in (
            ("other", muse.id, "Poems", ("Write a poem", "Roses are red")),
            ("chess", socrates.id, "Chess", ("Best opening?", "Ask yourself why", "Ok")),
            ("pasta", socrates.id, "Dinner", ("A pasta recipe please", "Boil water", "Thanks")),
        ):
            now = utcnow()
            session = await store.create_session(
                Session(
                    id=new_id(),
                    user_id=user.id,
                    bot_id=assistant_id,
                    bot_initial_prompt_msg="Be helpful.",
                    bot_model_config=ModelConfig("gpt-4o"),
                    bot_session_type=SessionType.BRAINSTORMING,
                    bot_summary_prompt_msg="Summarise.",
                    created_date=now,
                    last_modified_date=now,
                    title=title,
                )
            )
            ids[key] = session.id
            for number, text in enumerate(texts):
                role = Role.USER if number % 2 == 0 else Role.ASSISTANT
                message = Message(new_id(), session.id, role, text, utcnow())
                await store.add_message(message)
                if text.startswith("A pasta"):
                    ids["pasta_message"] = message.id
        return Seeded(socrates.id, ids["pasta"], ids["pasta_message"], ids["chess"], ids["other"])
    finally:
        await store.close()


def draft(name: str) -> AssistantDraft:
    return AssistantDraft(
        name=name,
        tag_line="A tag line",
        description="",
        initial_prompt=f"You are {name}.",
        summary_prompt="Summarise.",
        model_config=ModelConfig("gpt-4o"),
    )


def run(qtbot: Any, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the test's qasync loop by processing Qt events until it is done."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    return task.result()


@dataclass
class PanelWorld:
    """A shown panel over an open store, with the seeded ids."""

    panel: SessionPanel
    library: SessionLibrary
    store: SqliteStore
    ids: Seeded

    @property
    def view(self) -> QListView:
        return self.panel.findChild(QListView, "sessionList")

    @property
    def search(self) -> QLineEdit:
        return self.panel.findChild(QLineEdit, "sessionSearch")

    def row_of(self, session_id: str) -> QModelIndex:
        model = self.view.model()
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if (
                index.data(SessionRole.SESSION_ID) == session_id
                and index.data(PanelRole.ROW_KIND) is RowKind.SESSION
            ):
                return index
        raise AssertionError(f"{session_id} is not listed")

    def listed(self) -> list[str]:
        model = self.view.model()
        return [
            model.index(row, 0).data(SessionRole.SESSION_ID)
            for row in range(model.rowCount())
            if model.index(row, 0).data(PanelRole.ROW_KIND) is RowKind.SESSION
        ]


MakePanel = Callable[..., PanelWorld]


@pytest.fixture
def make_panel(qtbot: Any, qt_loop: qasync.QEventLoop, data_dir: Path) -> Iterator[MakePanel]:
    """Builds a shown, loaded ``SessionPanel`` on a real store; shuts both down afterwards."""
    path = data_dir / DB_NAME
    ids = run_in_fresh_loop(lambda: seed(path))
    worlds: list[PanelWorld] = []

    def build(*, undo_window_s: float = LONG_WINDOW_S, assistant: bool = False) -> PanelWorld:
        store = SqliteStore(path)
        assert run(qtbot, store.open()).is_usable
        library = SessionLibrary(store, undo_window_s=undo_window_s)
        # Not handed to qtbot, which would delete it before the store is flushed and closed.
        panel = SessionPanel(library, search_delay_ms=10)
        panel.resize(420, 600)
        panel.show()
        # Shortcuts only reach the focused widget of the active window.
        panel.activateWindow()
        qtbot.waitUntil(panel.isActiveWindow, timeout=WAIT_MS)
        panel.findChild(QListView, "sessionList").setFocus()
        world = PanelWorld(panel, library, store, ids)
        worlds.append(world)
        qtbot.waitUntil(
            panel.set_assistant(ids.assistant_id if assistant else None).done, timeout=WAIT_MS
        )
        return world

    yield build
    for world in worlds:
        run(qtbot, world.panel.shut_down())
        run(qtbot, world.store.close())
        world.panel.close()
        world.panel.deleteLater()


def stored_session(qtbot: Any, world: PanelWorld, session_id: str) -> Session | None:
    return run(qtbot, world.store.get_session(session_id))


# -- listing ---------------------------------------------------------------------------------
def test_lists_every_session_newest_first_with_assistant_model_and_count(make_panel) -> None:
    world = make_panel()
    ids = world.ids
    assert world.listed() == [ids.pasta_session, ids.chess_session, ids.other_session]
    title, details = world.row_of(ids.pasta_session).data().split("\n")
    assert title == "Dinner"
    assert details.startswith("Socrates · ")
    assert details.endswith(" · gpt-4o · 3 messages")


def test_scope_lists_this_assistants_sessions_or_all(make_panel, qtbot) -> None:
    world = make_panel(assistant=True)
    ids = world.ids
    assert world.listed() == [ids.pasta_session, ids.chess_session]
    scope = world.panel.findChild(QComboBox, "sessionScopeCombo")
    scope.setCurrentIndex(scope.findData("all"))
    qtbot.waitUntil(lambda: len(world.listed()) == 3, timeout=WAIT_MS)


def test_without_an_assistant_the_scope_is_all_sessions_and_fixed(make_panel) -> None:
    world = make_panel()
    scope = world.panel.findChild(QComboBox, "sessionScopeCombo")
    assert scope.currentData() == "all"
    assert not scope.isEnabled()


# -- search ----------------------------------------------------------------------------------
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


def test_activating_a_session_row_emits_its_id(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.chess_session))
    with qtbot.waitSignal(world.panel.sessionActivated, timeout=WAIT_MS) as opened:
        qtbot.keyClick(world.view, Qt.Key.Key_Return)
    assert opened.args == [world.ids.chess_session]


def test_ctrl_shift_f_puts_the_cursor_in_the_search_box(make_panel, qtbot) -> None:
    world = make_panel()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(world.view, Qt.Key.Key_F, modifiers)
    assert world.search.hasFocus()


# -- deleting with undo ----------------------------------------------------------------------
def test_delete_key_hides_the_row_and_shows_the_undo_bar(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.chess_session))
    with qtbot.waitSignal(world.panel.sessionDeleted, timeout=WAIT_MS) as deleted:
        qtbot.keyClick(world.view, Qt.Key.Key_Delete)
    assert deleted.args == [world.ids.chess_session]
    assert world.ids.chess_session not in world.listed()
    assert world.panel.findChild(QWidget, "undoBar").isVisible()
    assert world.panel.findChild(QPushButton, "undoDeleteButton").text() == "Undo (Ctrl+Z)"
    assert stored_session(qtbot, world, world.ids.chess_session) is not None


def test_undo_button_brings_the_deleted_session_back(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.chess_session))
    qtbot.keyClick(world.view, Qt.Key.Key_Delete)
    undo = world.panel.findChild(QPushButton, "undoDeleteButton")
    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: world.ids.chess_session in world.listed(), timeout=WAIT_MS)
    assert not world.panel.findChild(QWidget, "undoBar").isVisible()
    assert world.panel.current_session_id() == world.ids.chess_session
    run(qtbot, world.library.flush())
    assert stored_session(qtbot, world, world.ids.chess_session) is not None


def test_ctrl_z_undoes_the_last_deletion(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.other_session))
    qtbot.keyClick(world.view, Qt.Key.Key_Delete)
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
    world.view.setCurrentIndex(world.row_of(world.ids.pasta_session))
    qtbot.keyClick(world.view, Qt.Key.Key_Delete)
    assert world.panel.current_session_id() == world.ids.chess_session


# -- renaming --------------------------------------------------------------------------------
def test_f2_renames_the_session_in_place(make_panel, qtbot) -> None:
    world = make_panel()
    world.view.setFocus()
    world.view.setCurrentIndex(world.row_of(world.ids.chess_session))
    qtbot.keyClick(world.view, Qt.Key.Key_F2)
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


# -- ending and exporting --------------------------------------------------------------------
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


def test_export_to_a_chosen_path_writes_json_that_round_trips(make_panel, qtbot, tmp_path) -> None:
    world = make_panel()
    path = tmp_path / "dinner.json"
    task = world.panel.export_to(world.ids.pasta_session, str(path), ExportFormat.JSON)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert [m["message"] for m in doc["messages"]] == [
        "A pasta recipe please",
        "Boil water",
        "Thanks",
    ]


def test_export_to_a_missing_folder_tells_the_user(make_panel, qtbot, tmp_path) -> None:
    world = make_panel()
    path = tmp_path / "missing" / "dinner.md"
    task = world.panel.export_to(world.ids.pasta_session, path, ExportFormat.MARKDOWN)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    notice = world.panel.findChild(QWidget, "sessionNotice")
    assert notice.isVisible() and "could not be saved" in notice.text()


def test_the_export_dialog_suggests_a_file_name_and_exports_what_is_chosen(
    make_panel, qtbot, tmp_path
) -> None:
    world = make_panel()
    world.view.setCurrentIndex(world.row_of(world.ids.pasta_session))
    dialog = world.panel.ask_export_path(ExportFormat.MARKDOWN)
    assert dialog is not None and dialog.isVisible()
    assert Path(dialog.selectedFiles()[0]).name.startswith("Dinner ")
    assert dialog.defaultSuffix() == "md"
    path = tmp_path / "chosen.md"
    dialog.selectFile(str(path))
    dialog.accept()
    qtbot.waitUntil(path.exists, timeout=WAIT_MS)
    assert "A pasta recipe please" in path.read_text(encoding="utf-8")


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
    assert texts == ["Rename", "Export as Markdown…", "Export as JSON…", "End Session", "Delete"]
    assert world.panel.current_session_id() == world.ids.chess_session
    menu.close()


# -- names and the model ---------------------------------------------------------------------
def test_every_interactive_widget_has_a_stable_and_an_accessible_name(make_panel) -> None:
    world = make_panel()
    for name in ("sessionSearch", "sessionScopeCombo", "sessionList", "undoDeleteButton"):
        widget = world.panel.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
    assert world.search.placeholderText() == "Search all sessions… (Ctrl+Shift+F)"


def entry(title: str) -> SessionEntry:
    now = utcnow()
    session = Session(
        id=new_id(),
        user_id="u",
        bot_id="b",
        bot_initial_prompt_msg="p",
        bot_model_config=ModelConfig("gpt-4o"),
        bot_session_type=SessionType.COACHING,
        bot_summary_prompt_msg="s",
        created_date=now,
        last_modified_date=now,
        title=title,
        message_count=2,
    )
    return SessionEntry(session, "Socrates")


def test_panel_model_passes_the_model_checker_through_every_change(qapp) -> None:
    from gptlab_desktop.models import SearchHit

    model = SessionPanelModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    first, second = entry("One"), entry("Two")
    model.set_entries([first, second])
    model.setData(model.index(0, 0), "Renamed")
    model.update_session(second.session.with_changes(status=SessionStatus.COMPLETED))
    model.remove_session(first.session_id)
    hits = tuple(
        SearchHit(second.session_id, new_id(), "Two", f"hit {n}", utcnow()) for n in range(2)
    )
    model.set_results([SessionSearchResult(second, hits), SessionSearchResult(first, ())])
    model.remove_session(second.session_id)
    model.set_entries([])
    assert tester is not None


def test_panel_model_makes_only_session_rows_editable(qapp) -> None:
    from gptlab_desktop.models import SearchHit

    model = SessionPanelModel()
    one = entry("One")
    hit = SearchHit(one.session_id, "m", "One", "«x»", utcnow())
    model.set_results([SessionSearchResult(one, (hit,))])
    assert model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(model.index(1, 0)) & Qt.ItemFlag.ItemIsEditable
    assert model.index(1, 0).data(PanelRole.MESSAGE_ID) == "m"


def test_rows_render_matches_bold_and_escape_what_was_written(qapp) -> None:
    from gptlab_desktop.models import SearchHit

    model = SessionPanelModel()
    one = entry("<i>Tags</i>")
    hit = SearchHit(one.session_id, "m", "x", "use «<b>» & more", utcnow())
    model.set_results([SessionSearchResult(one, (hit,))])
    assert row_html(model.index(0, 0)).startswith("<b>&lt;i&gt;Tags&lt;/i&gt;</b>")
    assert "use <b>&lt;b&gt;</b> &amp; more" in row_html(model.index(1, 0))
