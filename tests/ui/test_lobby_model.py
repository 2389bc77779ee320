"""The lobby's models and delegate: Qt's model checker through every change, the groups and
their order, the filter, the group headers' room, and the text given to assistive technology.

``QAbstractItemModelTester`` in Warning mode reports a broken model contract as a Qt warning,
which the suite's ``qt_log_level_fail = WARNING`` turns into a test failure.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QListView

from gptlab_desktop.models import Assistant
from gptlab_desktop.services.lobby import showcase_preview
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.ui.lobby_model import (
    LobbyDelegate,
    LobbyFilterModel,
    LobbyGroup,
    LobbyModel,
    LobbyRole,
)
from tests.builders import make_assistant


def check(model: QAbstractItemModel) -> QAbstractItemModelTester:
    """Attach Qt's model checker for the rest of the test (keep the returned object)."""
    return QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)


def assistant(name: str, *, showcased: bool = False, description: str = "") -> Assistant:
    return make_assistant(
        name,
        description=description,
        creator_user_id=None if showcased else "me",
        showcased=showcased,
    )


def names(model: QAbstractItemModel) -> list[str]:
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def test_lobby_model_passes_the_model_checker_through_loads_and_updates(qapp) -> None:
    model = LobbyModel()
    tester = check(model)
    first = [assistant("Zed", showcased=True), assistant("Mine"), assistant("Also mine")]
    model.set_assistants(first)
    model.set_assistants(first)  # the same rows again: updated in place
    model.update_assistant(first[1])
    model.set_assistants([assistant("Other")])
    model.set_assistants([])
    assert tester is not None


def test_lobby_filter_passes_the_model_checker_through_filtering(qapp) -> None:
    model = LobbyModel()
    proxy = LobbyFilterModel()
    proxy.setSourceModel(model)
    tester = check(proxy)
    model.set_assistants(showcase_preview(load_showcase_entries()))
    for text in ("c", "co", "coach", "nothing matches this", "", "tutor"):
        proxy.set_filter_text(text)
    model.set_assistants([])
    assert tester is not None


def test_lobby_puts_showcased_first_keeping_the_order_within_each_group(qapp) -> None:
    model = LobbyModel()
    model.set_assistants(
        [assistant("B mine"), assistant("Z shown", showcased=True), assistant("A mine")]
    )
    assert names(model) == ["Z shown", "B mine", "A mine"]
    groups = [model.index(row, 0).data(LobbyRole.GROUP) for row in range(3)]
    assert groups == [LobbyGroup.SHOWCASED, LobbyGroup.YOURS, LobbyGroup.YOURS]


def test_lobby_keeps_the_selection_when_a_refresh_brings_the_same_assistants(qtbot) -> None:
    model = LobbyModel()
    rows = [assistant("One", showcased=True), assistant("Two")]
    model.set_assistants(rows)
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setCurrentIndex(model.index(1, 0))
    model.set_assistants(rows)
    assert view.currentIndex().row() == 1


def test_lobby_filter_ignores_case_and_surrounding_spaces(qapp) -> None:
    model = LobbyModel()
    model.set_assistants([assistant("Alpha", description="Writes POEMS"), assistant("Beta")])
    proxy = LobbyFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("  poems ")
    assert names(proxy) == ["Alpha"]


def test_lobby_delegate_gives_the_first_row_of_each_group_room_for_its_header(qtbot) -> None:
    model = LobbyModel()
    model.set_assistants(
        [assistant("S1", showcased=True), assistant("S2", showcased=True), assistant("M1")]
    )
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    delegate = LobbyDelegate(view)
    view.setItemDelegate(delegate)
    view.show()
    heights = [view.sizeHintForIndex(model.index(row, 0)).height() for row in range(3)]
    assert heights[0] == heights[2] > heights[1]


def test_lobby_model_exposes_accessible_text(qapp) -> None:
    lobby = LobbyModel()
    lobby.set_assistants([assistant("Alpha")])
    assert lobby.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole) == "Alpha. Alpha tag"


def test_lobby_sections_others_published_between_showcased_and_yours_with_their_usage(
    qapp,
) -> None:
    model = LobbyModel()
    tester = check(model)
    model.set_user("me")
    mine = make_assistant("Mine", creator_user_id="me", published=True, sessions_started=3)
    theirs = make_assistant(
        "Theirs",
        creator_user_id="ada",
        published=True,
        creator_display_name="Ada",
        sessions_started=9,
        version_sessions_started=2,
    )
    model.set_assistants([mine, theirs, assistant("Shown", showcased=True)])

    rows = [model.index(row, 0) for row in range(3)]
    assert [(i.data(), i.data(LobbyRole.GROUP).label, i.data(LobbyRole.USAGE)) for i in rows] == [
        ("Shown", "Showcased", "No sessions yet"),
        ("Theirs", "Published by others", "By Ada · 2 sessions with this version"),
        ("Mine", "Yours", "Published · 3 sessions"),
    ]
    assert tester is not None
