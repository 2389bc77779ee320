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
