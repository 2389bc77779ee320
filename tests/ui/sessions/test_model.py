"""The panel's list model, on its own: the model checker, and which rows can be renamed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from gptlab_desktop.models import SessionStatus, new_id, utcnow
from gptlab_desktop.services.session_library import SessionSearchResult
from gptlab_desktop.ui.sessions.model import PanelRole, SessionPanelModel
from tests.ui.sessions.conftest import entry


def test_panel_model_passes_the_model_checker_through_every_change(qapp) -> None:
    from gptlab_desktop.models import SearchHit

    model = SessionPanelModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    first, second = entry("One"), entry("Two")
    model.set_entries([first, second])
    model.setData(model.index(0, 0), "Renamed")
    model.update_session(second.summary.with_changes(status=SessionStatus.COMPLETED))
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


def test_chat_list_model_passes_the_model_checker_through_groups_marks_and_removals(
    qapp,
) -> None:
    from gptlab_desktop.services.session_library import ChatGroup, ChatSection

    model = SessionPanelModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    one, two, three = entry("One"), entry("Two"), entry("Three")
    model.set_sections(
        [ChatSection(ChatGroup.PINNED, (one,)), ChatSection(ChatGroup.TODAY, (two, three))]
    )
    model.set_open_session(two.session_id)
    model.set_open_session(three.session_id)
    model.update_in_place(two.summary.with_changes(title="Two again"), ChatGroup.TODAY)
    model.remove_session(two.session_id)
    model.set_matches([three])
    model.set_open_session(None)
    model.set_sections([])
    assert tester is not None


def test_removing_the_first_chat_of_a_group_moves_its_header_to_the_next(qapp) -> None:
    from gptlab_desktop.services.session_library import ChatGroup, ChatSection

    model = SessionPanelModel()
    one, two, three = entry("One"), entry("Two"), entry("Three")
    model.set_sections(
        [ChatSection(ChatGroup.PINNED, (one,)), ChatSection(ChatGroup.TODAY, (two, three))]
    )

    model.remove_session(two.session_id)

    starts = [bool(model.index(row, 0).data(PanelRole.STARTS_GROUP)) for row in range(2)]
    assert starts == [True, True]
    assert model.index(1, 0).data(PanelRole.GROUP) is ChatGroup.TODAY
