"""Chatting through the main window, against a real loopback OpenAI-compatible server.

Each test drives the real window by objectName and keys, waits with ``qtbot.waitUntil`` while
the qasync loop runs the engine, and checks what the user sees and, where it matters, what the
SQLite file holds.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListView, QWidget

from gptlab_desktop.models import (
    MessageState,
    Role,
)
from gptlab_desktop.services.chat import CONCLUDE_AFTER_MESSAGES
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.ui.main_window import MainWindow
from tests.fakes.openai_server import ErrorReply, FakeOpenAIServer, ModerationReply, Reply
from tests.ui.chat.chatting import (
    API_KEY,
    ASSISTANT,
    button,
    label,
    listed_session_ids,
    message_input,
    open_session_id,
    send,
    start_chat,
    stored_messages,
    stored_session,
    texts,
    transcript,
    type_and_enter,
)
from tests.ui.conftest import (
    GREETING,
    WAIT_MS,
    close_window,
    is_idle,
    lobby_index_of,
    wait_for_greeting,
)


# -- starting and sending --------------------------------------------------------------------
def test_enter_on_a_lobby_assistant_starts_a_session_that_greets_first(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    assert texts(window) == [(Role.ASSISTANT, GREETING)]
    first_request = openai_server.requests_to("chat")[0].body
    assert [m["role"] for m in first_request["messages"]] == ["system"]


def test_the_header_names_the_assistant_and_the_model(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    assert label(window, "assistantNameLabel").text() == ASSISTANT
    assert label(window, "sessionInfoLabel").text().startswith("gpt-4o · ")


def test_a_message_sent_with_enter_is_answered_and_stored(
    qtbot, window: MainWindow, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    send(qtbot, window, "Please review my loop")
    expected = [
        (Role.ASSISTANT, GREETING),
        (Role.USER, "Please review my loop"),
        (Role.ASSISTANT, "Echo: Please review my loop"),
    ]
    assert texts(window) == expected
    stored = stored_messages(data_dir, open_session_id(window))
    assert [(role, text) for role, text, _ in stored] == [(str(r), t) for r, t in expected]
    assert {state for _, _, state in stored} == {"complete"}


def test_the_message_box_is_emptied_once_sent(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    send(qtbot, window, "Hi")
    assert message_input(window).toPlainText() == ""


def test_a_new_session_is_listed_first(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    qtbot.waitUntil(
        lambda: listed_session_ids(window)[:1] == [open_session_id(window)], timeout=WAIT_MS
    )


def test_ctrl_enter_also_sends(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    box = message_input(window)
    qtbot.keyClicks(box, "Sent with Ctrl")
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: is_idle(window) and len(transcript(window)) == 3, timeout=WAIT_MS)
    assert texts(window)[1] == (Role.USER, "Sent with Ctrl")


def test_shift_enter_inserts_a_newline_instead_of_sending(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    box = message_input(window)
    qtbot.keyClicks(box, "first line")
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(box, "second line")
    assert box.toPlainText() == "first line\nsecond line"
    assert len(transcript(window)) == 1


def test_the_usage_so_far_is_in_the_header_and_a_local_servers_cost_is_unknown(
    qtbot, window: MainWindow
) -> None:
    # The loopback server is no OpenAI: its prices are not known (none were given).
    start_chat(qtbot, window)
    send(qtbot, window, "Hi")
    info = label(window, "sessionInfoLabel").text()
    assert re.fullmatch(r"gpt-4o · [\d,]+ tokens · cost unknown", info), info


def test_sessions_are_titled_after_the_first_exchange(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    # The reply, then the title the model suggests for the exchange.
    openai_server.script(Reply(text="Happy to."), Reply(text="Reviewing a loop"))
    send(qtbot, window, "Review my loop")
    model = window.findChild(QListView, "sessionList").model()
    qtbot.waitUntil(
        lambda: model.rowCount() > 0 and model.index(0, 0).data().startswith("Reviewing a loop"),
        timeout=WAIT_MS,
    )
    assert label(window, "assistantTagLineLabel").text() == "Reviewing a loop"


# -- stopping and failures -------------------------------------------------------------------
def test_stop_during_a_slow_reply_keeps_it_marked_interrupted(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(text="one two three four five six seven", chunk_size=4, delay_s=0.3))
    type_and_enter(qtbot, window, "Go slowly")
    stop = button(window, "stopButton")
    reply_id: list[str] = []

    def some_text_arrived() -> bool:
        messages = transcript(window)
        if len(messages) < 3 or not stop.isEnabled():
            return False
        reply_id[:] = [messages[-1].id]
        return bool(window.chat_view.streaming_text(messages[-1].id))

    qtbot.waitUntil(some_text_arrived, timeout=WAIT_MS)
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: is_idle(window), timeout=WAIT_MS)
    last = transcript(window)[-1]
    assert (last.id, last.state) == (reply_id[0], MessageState.INTERRUPTED)
    assert last.message and "seven" not in last.message
    assert not stop.isEnabled()
    assert not label(window, "noticeLabel").isVisible()
    assert stored_messages(data_dir, open_session_id(window))[-1][2] == "interrupted"


def test_escape_stops_the_reply(qtbot, window: MainWindow, openai_server: FakeOpenAIServer) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(text="a b c d e f g h i j k l", chunk_size=2, delay_s=0.3))
    box = type_and_enter(qtbot, window, "Go")
    qtbot.waitUntil(lambda: button(window, "stopButton").isEnabled(), timeout=WAIT_MS)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: is_idle(window), timeout=WAIT_MS)
    assert transcript(window)[-1].state is MessageState.INTERRUPTED


def test_closing_the_window_during_a_reply_stores_it_as_interrupted(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(text="a b c d e f g h i j k l", chunk_size=2, delay_s=0.3))
    session_id = open_session_id(window)
    type_and_enter(qtbot, window, "Go")
    qtbot.waitUntil(lambda: button(window, "stopButton").isEnabled(), timeout=WAIT_MS)
    close_window(qtbot, window)
    assert [state for _, _, state in stored_messages(data_dir, session_id)] == [
        "complete",
        "complete",
        "interrupted",
    ]


def test_a_refused_api_key_is_explained_and_the_message_stays(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    openai_server.script(ErrorReply.invalid_api_key(API_KEY))
    send(qtbot, window, "Are you there?")
    notice = label(window, "noticeLabel")
    assert notice.isVisible()
    assert "did not accept your API key" in notice.text()
    assert API_KEY not in notice.text()
    assert (Role.USER, "Are you there?") in texts(window)
    assert transcript(window)[-1].state is MessageState.INTERRUPTED


def test_a_rate_limit_counts_down_then_the_reply_arrives(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    openai_server.script(ErrorReply.rate_limited(retry_after_s=2), Reply(text="Worth the wait."))
    type_and_enter(qtbot, window, "Hello?")
    countdown = label(window, "retryLabel")
    seen: list[str] = []

    def counting_down() -> bool:
        if countdown.isVisible():
            seen.append(countdown.text())
        return bool(seen)

    qtbot.waitUntil(counting_down, timeout=WAIT_MS)
    assert re.fullmatch(r"Rate limited — retrying in [12] s…", seen[0]), seen[0]
    qtbot.waitUntil(lambda: is_idle(window) and len(transcript(window)) == 3, timeout=WAIT_MS)
    assert texts(window)[-1] == (Role.ASSISTANT, "Worth the wait.")
    assert not countdown.isVisible()


def test_a_flagged_message_shows_a_warning_without_blocking_it(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer
) -> None:
    start_chat(qtbot, window)
    openai_server.script(ModerationReply(flagged=True, categories=("violence",)))
    send(qtbot, window, "A flagged message")
    warning = label(window, "warningLabel")
    qtbot.waitUntil(warning.isVisible, timeout=WAIT_MS)
    assert "violence" in warning.text()
    assert texts(window)[-1] == (Role.ASSISTANT, "Echo: A flagged message")


# -- regenerate, edit ------------------------------------------------------------------------
def test_regenerate_shows_the_new_reply_and_keeps_the_old_as_a_variant(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    openai_server.script(Reply(text="A better greeting."))
    regenerate = button(window, "regenerateButton")
    assert regenerate.isEnabled()
    qtbot.mouseClick(regenerate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: is_idle(window) and texts(window) == [(Role.ASSISTANT, "A better greeting.")],
        timeout=WAIT_MS,
    )
    stored = stored_messages(data_dir, open_session_id(window))
    assert [text for _, text, _ in stored] == [GREETING, "A better greeting."]


def test_edit_puts_the_last_message_back_and_resending_forks_there(
    qtbot, window: MainWindow, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    send(qtbot, window, "Reveiw this")
    last_user = transcript(window)[1]
    window.chat_view.editRequested.emit(last_user.id)
    box = message_input(window)
    assert box.toPlainText() == "Reveiw this"
    assert label(window, "editingLabel").isVisible()
    box.clear()
    qtbot.keyClicks(box, "Review this")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: is_idle(window) and texts(window)[-1] == (Role.ASSISTANT, "Echo: Review this"),
        timeout=WAIT_MS,
    )
    assert texts(window) == [
        (Role.ASSISTANT, GREETING),
        (Role.USER, "Review this"),
        (Role.ASSISTANT, "Echo: Review this"),
    ]
    stored = stored_messages(data_dir, open_session_id(window))
    assert [text for _, text, _ in stored] == [
        GREETING,
        "Reveiw this",
        "Echo: Reveiw this",
        "Review this",
        "Echo: Review this",
    ]


# -- concluding ------------------------------------------------------------------------------
def test_conclude_is_offered_only_after_more_than_five_messages(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    conclude = button(window, "concludeButton")
    for turn in range(2):
        send(qtbot, window, f"Message {turn}")
    assert len(transcript(window)) == CONCLUDE_AFTER_MESSAGES
    assert not conclude.isEnabled()
    send(qtbot, window, "One more")
    assert conclude.isEnabled()


def test_concluding_shows_the_recap_and_a_thumbs_up_completes_the_session(
    qtbot, window: MainWindow, openai_server: FakeOpenAIServer, data_dir: Path
) -> None:
    start_chat(qtbot, window)
    for turn in range(3):
        send(qtbot, window, f"Message {turn}")
    # Let the background title request go first, so the recap gets the scripted reply.
    qtbot.waitUntil(lambda: len(openai_server.requests_to("chat")) == 5, timeout=WAIT_MS)
    openai_server.script(Reply(text="**Recap**: three messages, all fine."))
    qtbot.mouseClick(button(window, "concludeButton"), Qt.MouseButton.LeftButton)
    rating = window.findChild(QWidget, "ratingBar")
    qtbot.waitUntil(lambda: is_idle(window) and rating.isVisible(), timeout=WAIT_MS)
    assert texts(window)[-1] == (Role.ASSISTANT, "**Recap**: three messages, all fine.")
    qtbot.mouseClick(button(window, "likeButton"), Qt.MouseButton.LeftButton)
    ended = label(window, "endedLabel")
    qtbot.waitUntil(lambda: is_idle(window) and ended.isVisible(), timeout=WAIT_MS)
    assert ended.text() == "This session has ended"
    assert not message_input(window).isEnabled()
    assert not rating.isVisible()
    assert stored_session(data_dir, open_session_id(window)) == (1, 1)


# -- opening past sessions -------------------------------------------------------------------
def test_opening_an_old_session_shows_its_messages(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    send(qtbot, window, "Remember this")
    first = open_session_id(window)
    first_texts = texts(window)
    start_chat(qtbot, window, "Travel Planner")
    assert open_session_id(window) != first
    session_list = window.findChild(QListView, "sessionList")
    # Selecting an assistant lists its sessions.
    window.findChild(QListView, "lobbyList").setCurrentIndex(lobby_index_of(window, ASSISTANT))
    qtbot.waitUntil(lambda: first in listed_session_ids(window), timeout=WAIT_MS)
    session_list.setCurrentIndex(
        session_list.model().index(listed_session_ids(window).index(first), 0)
    )
    # Enter opens it (selecting a row only selects: Del, F2 and the menu act on it).
    qtbot.keyClick(session_list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: is_idle(window) and open_session_id(window) == first, timeout=WAIT_MS)
    assert texts(window) == first_texts
    assert label(window, "assistantNameLabel").text() == ASSISTANT


def test_ctrl_n_starts_a_new_session_with_the_selected_assistant(qtbot, window: MainWindow) -> None:
    lobby = window.findChild(QListView, "lobbyList")
    lobby.setCurrentIndex(lobby_index_of(window, "Travel Planner"))
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    wait_for_greeting(qtbot, window)
    assert label(window, "assistantNameLabel").text() == "Travel Planner"


def test_ctrl_l_puts_the_cursor_in_the_message_box(qtbot, window: MainWindow) -> None:
    start_chat(qtbot, window)
    window.activateWindow()
    window.findChild(QListView, "lobbyList").setFocus()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert message_input(window).hasFocus()


def test_the_message_box_is_disabled_until_a_session_is_open(window: MainWindow) -> None:
    assert not message_input(window).isEnabled()
    assert not button(window, "sendButton").isEnabled()


def test_showcase_has_the_assistants_these_tests_use() -> None:
    names = {entry.draft.name for entry in load_showcase_entries()}
    assert {ASSISTANT, "Travel Planner"} <= names
