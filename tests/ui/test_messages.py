"""Errors become what the user reads in one place: a status line and a box that never blocks."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMainWindow, QMessageBox

from gptlab_desktop.services.errors import NotFound, StoreCorrupt
from gptlab_desktop.services.store.base import StoreHealth
from gptlab_desktop.ui.messages import (
    MessagePresenter,
    describe_error,
    describe_store_problem,
    store_status_text,
)


@pytest.fixture
def presenter(qtbot) -> tuple[QMainWindow, MessagePresenter]:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    return window, MessagePresenter(window, window.statusBar())


def test_typed_error_shows_its_own_title_and_sentence(qtbot, presenter) -> None:
    window, messages = presenter
    box = messages.show_error(NotFound("That session was deleted."), doing="Opening a session")
    qtbot.waitUntil(box.isVisible)
    assert (box.windowTitle(), box.text()) == ("Not found", "That session was deleted.")
    assert window.statusBar().currentMessage() == "That session was deleted."
    box.close()


def test_message_box_is_opened_without_blocking_the_caller(qtbot, presenter) -> None:
    # Reaching the next line at all shows that no nested event loop (exec) is running.
    _, messages = presenter
    box = messages.show_error(NotFound("Gone."), doing="Reading")
    assert box.isVisible()
    assert box.result() == 0
    box.close()


def test_untyped_error_shows_a_generic_sentence_not_its_own_text() -> None:
    shown = describe_error(RuntimeError("token sk-not-for-your-eyes"))
    assert "sk-not-for-your-eyes" not in shown.text
    assert "log file" in shown.text


def test_unusable_store_message_says_the_showcase_is_read_only() -> None:
    problem = describe_store_problem(StoreHealth(False, "The file is damaged.", "/x.db"))
    assert problem.text.startswith("The file is damaged.")
    assert "read-only" in problem.text


def test_unusable_store_error_says_the_app_keeps_running() -> None:
    shown = describe_error(StoreCorrupt("The file is damaged."))
    assert shown.text.startswith("The file is damaged.")
    assert "keeps running" in shown.text


def test_status_text_names_the_data_file_or_the_problem() -> None:
    assert store_status_text(StoreHealth(True, path="/d/g.db")) == "Data: /d/g.db"
    assert store_status_text(StoreHealth(False, "Damaged.", "/d/g.db")) == "Damaged."


def test_store_problem_box_is_found_by_its_name(qtbot, presenter) -> None:
    window, messages = presenter
    messages.show_store_problem(StoreHealth(False, "Damaged.", "/d/g.db"))
    box = window.findChild(QMessageBox, "storeProblemBox")
    assert box is not None and box.isVisible()
    box.close()


def test_an_unexpected_error_says_where_the_log_file_is(tmp_path) -> None:
    import logging

    from gptlab_desktop.ui.messages import describe_error

    handler = logging.FileHandler(tmp_path / "gptlab-desktop.log")
    logging.getLogger().addHandler(handler)
    try:
        text = describe_error(RuntimeError("boom")).text
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert str(tmp_path / "gptlab-desktop.log") in text
    assert "boom" not in text


def test_an_interrupted_reply_is_worded_from_its_kind_when_shown() -> None:
    from gptlab_desktop.models import FailureKind, MessageDetails
    from gptlab_desktop.ui.messages import interruption_text

    # Every kind has its words, so none is ever shown as a code.
    for kind in FailureKind:
        assert interruption_text(MessageDetails(failure=kind))
    assert interruption_text(MessageDetails(stopped=True)).startswith("stopped")
    assert interruption_text(MessageDetails()) == ""


def test_a_missing_or_unreachable_provider_points_to_settings_providers() -> None:
    from gptlab_desktop.models import FailureKind
    from gptlab_desktop.services.errors import MissingApiKey, ServerUnreachable
    from gptlab_desktop.ui.messages import failure_text

    assert "Settings → Providers" in failure_text(FailureKind.MISSING_API_KEY)
    assert "API Key…" not in failure_text(FailureKind.MISSING_API_KEY)
    assert "Settings → Providers" in MissingApiKey().message
    assert "Settings → Providers" in ServerUnreachable("http://127.0.0.1:1/v1").message
