"""Lobby, chat list and search at scale: load the lobby and the chat list, narrow each per
keystroke, search every message.

Run: ``python bench/bench_lobby_search.py``. Targets (issue 6): 10,000 assistants load in
<= 150 ms and one filter keystroke takes <= 30 ms; a full-text search over 100,000 cached
messages takes <= 100 ms. Issue 28's for the chat list: 10,000 chats (each with a context of
20 messages, as a brainstorming chat keeps) load in <= 100 ms (store → groups → model →
painted) and one keystroke narrows them by title in <= 16 ms (worst). Each size is measured
twice (1k/10k assistants and chats, 10k/100k messages) to show how the cost grows, with
same-run baselines: the raw SQL read of the same rows, a plain Python substring scan, and a
LIKE scan of the messages.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from harness import Figure, median_ms, open_store_with_assistant, report, timed

from gptlab_desktop.models import (
    ModelConfig,
    Session,
    SessionType,
    new_id,
    utcnow,
)
from gptlab_desktop.services.session_library import SessionLibrary
from gptlab_desktop.services.store.sqlite import SqliteStore

WORDS = [f"word{i}" for i in range(5_000)]
KEYSTROKES = ["c", "co", "coa", "coac", "coach"]


async def _seed(path: Path, assistants: int, messages: int) -> SqliteStore:
    store, user, seed = await open_store_with_assistant(path)
    details = await store.get_assistant_details(seed.id)
    assert details is not None
    now = utcnow()
    session = await store.create_session(
        Session(
            id=new_id(),
            user_id=user.id,
            bot_id=seed.id,
            bot_initial_prompt_msg="p",
            bot_model_config=ModelConfig(model="gpt-4o-mini"),
            bot_session_type=SessionType.BRAINSTORMING,
            bot_summary_prompt_msg="s",
            created_date=now,
            last_modified_date=now,
        )
    )
    await store.close()
    # Bulk rows go in with plain SQL: the benchmark is about reading them back.
    with sqlite3.connect(path) as conn:
        stamp = now.isoformat()
        kinds = ["Coach", "Writer", "Tutor", "Planner", "Critic", "Partner"]
        conn.executemany(
            "INSERT INTO bots (id, name, tag_line, description, session_type, creator_user_id,"
            " created_date, last_modified_date, active_initial_prompt_id,"
            " active_model_config_id, active_summary_prompt_id) "
            "VALUES (?, ?, ?, ?, 2, ?, ?, ?, ?, ?, ?)",
            (
                (
                    new_id(),
                    f"{kinds[i % 6]} {i}",
                    f"Helps with {kinds[(i * 7) % 6]}",
                    f"An assistant for task {i}, mostly about {WORDS[i % 5_000]}.",
                    user.id,
                    stamp,
                    stamp,
                    details.initial_prompt.id,
                    details.model_config.id,
                    details.summary_prompt.id,
                )
                for i in range(assistants - 1)
            ),
        )
        conn.executemany(
            "INSERT INTO messages (id, session_id, role, message, created_date) "
            "VALUES (?, ?, 'user', ?, ?)",
            (
                (
                    new_id(),
                    session.id,
                    " ".join(WORDS[(i * 7 + j * 13) % 5_000] for j in range(12))
                    + (" needle" if i % 1_000 == 0 else ""),
                    stamp,
                )
                for i in range(messages)
            ),
        )
    store = SqliteStore(path)
    await store.open()
    return store


def _lobby_figures(app: object, store: SqliteStore, path: Path, size: int) -> list[Figure]:
    from PySide6.QtWidgets import QListView

    from gptlab_desktop.ui.lobby_model import LobbyDelegate, LobbyFilterModel, LobbyModel

    model = LobbyModel()
    proxy = LobbyFilterModel()
    proxy.setSourceModel(model)
    view = QListView()
    # As in the main window: rows laid out in batches, so the first screenful paints at once.
    view.setLayoutMode(QListView.LayoutMode.Batched)
    view.setBatchSize(100)
    view.setItemDelegate(LobbyDelegate(view))
    view.setModel(proxy)
    view.resize(360, 800)
    view.show()

    def load() -> None:
        assistants = asyncio.run(store.list_assistants())
        model.set_assistants(assistants)
        view.doItemsLayout()
        view.viewport().repaint()

    def raw_read() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "SELECT * FROM bots JOIN prompts ON prompts.id = bots.active_initial_prompt_id"
            ).fetchall()

    load_s = min(timed(load) for _ in range(3))
    raw_s = min(timed(raw_read) for _ in range(3))

    def keystroke_samples() -> list[float]:
        samples = []
        for text in KEYSTROKES + list(reversed(KEYSTROKES[:-1])) + [""]:
            start = time.perf_counter()
            proxy.set_filter_text(text)
            view.doItemsLayout()
            view.viewport().repaint()
            samples.append(time.perf_counter() - start)
        return samples

    keystrokes = keystroke_samples() + keystroke_samples()
    haystacks = [f"{a.name} {a.tag_line} {a.description}".casefold() for a in model.assistants()]
    scan = [timed(lambda t=t: [h for h in haystacks if t in h]) for t in KEYSTROKES]
    view.close()
    return _load_and_filter_figures(
        f"lobby load, {size:,} assistants",
        f"filter keystroke, {size:,} assistants",
        load_s * 1000,
        raw_s * 1000,
        keystrokes,
        scan,
        load_target=150 if size == 10_000 else None,
        filter_target=30 if size == 10_000 else None,
    )


def _load_and_filter_figures(
    load_name: str,
    filter_name: str,
    load_ms: float,
    raw_ms: float,
    keystrokes: list[float],
    scan: list[float],
    *,
    load_target: float | None,
    filter_target: float | None,
) -> list[Figure]:
    """A list's load beside the raw read, and its keystrokes (median, worst) beside a scan."""
    return [
        Figure(
            load_name,
            load_ms,
            "ms",
            target=load_target,
            baseline=raw_ms,
            baseline_name="raw SQL read",
        ),
        Figure(
            f"{filter_name} (median)",
            median_ms(keystrokes),
            "ms",
            target=filter_target,
            baseline=median_ms(scan),
            baseline_name="Python substring scan",
        ),
        Figure(f"{filter_name} (worst)", max(keystrokes) * 1000, "ms", target=filter_target),
    ]


def _search_figures(store: SqliteStore, path: Path, size: int) -> list[Figure]:
    queries = ["needle", "word42", "word4200 word42", "word17 word99"]
    asyncio.run(store.search_messages("warm up"))
    samples = [timed(lambda q=q: asyncio.run(store.search_messages(q))) for q in queries * 3]

    def like_scan() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "SELECT id FROM messages WHERE message LIKE '%needle%' LIMIT 50"
            ).fetchall()

    like = [timed(like_scan) for _ in range(3)]
    return [
        Figure(
            f"full-text search, {size:,} messages (worst of {len(samples)})",
            max(samples) * 1000,
            "ms",
            target=100 if size == 100_000 else None,
            baseline=median_ms(like),
            baseline_name="LIKE scan",
        )
    ]


async def _seed_chats(path: Path, chats: int) -> SqliteStore:
    """``chats`` sessions over the last 60 days, each holding a 20-message context."""
    store, user, seed = await open_store_with_assistant(path, initial_prompt="You help. " * 80)
    await store.close()
    context = json.dumps(
        [
            {
                "role": "user" if n % 2 == 0 else "assistant",
                "message": "Some words of the conversation so far. " * 12,
                "created_date": utcnow().isoformat(),
            }
            for n in range(20)
        ]
    )
    now = utcnow()
    kinds = ["Coaching", "Writing", "Tutoring", "Planning", "Critique", "Partner"]
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO sessions (id, user_id, bot_id, bot_initial_prompt_msg, bot_model_config,"
            " bot_session_type, bot_summary_prompt_msg, created_date, last_modified_date, title,"
            " message_count, messages_str) VALUES (?, ?, ?, ?, ?, 2, 's', ?, ?, ?, 20, ?)",
            (
                (
                    new_id(),
                    user.id,
                    seed.id,
                    "You help. " * 80,
                    '{"model": "gpt-4o-mini", "max_tokens": 250}',
                    (now - timedelta(minutes=9 * i)).isoformat(),
                    (now - timedelta(minutes=9 * i)).isoformat(),
                    # One title in ten in a model's Markdown.
                    (f"**{kinds[i % 6]}** {WORDS[i % 5_000]}" if i % 10 == 0 else "")
                    or f"{kinds[i % 6]} about {WORDS[(i * 7) % 5_000]} ({i})",
                    context,
                )
                for i in range(chats)
            ),
        )
    store = SqliteStore(path)
    await store.open()
    return store


def _chat_list_figures(path: Path, size: int) -> list[Figure]:
    from PySide6.QtWidgets import QListView

    from gptlab_desktop.services.session_library import TitleIndex
    from gptlab_desktop.ui.sessions.delegate import SessionRowDelegate
    from gptlab_desktop.ui.sessions.model import SessionPanelModel
    from gptlab_desktop.ui.sessions.panel import LIST_BATCH_SIZE

    # One event loop for the run, as the app's (qasync) is: ``asyncio.run`` per call would
    # add the making and closing of a loop (~70 ms here) to every figure.
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(_seed_chats(path, size))
    library = SessionLibrary(store)
    model = SessionPanelModel()
    view = QListView()
    # As in the sessions panel: rows laid out in batches, each of one of two heights.
    view.setLayoutMode(QListView.LayoutMode.Batched)
    view.setBatchSize(LIST_BATCH_SIZE)
    view.setUniformItemSizes(False)
    view.setItemDelegate(SessionRowDelegate(view))
    view.setModel(model)
    view.resize(320, 800)
    view.show()
    sections_seen: list[object] = []

    def load() -> None:
        sections = loop.run_until_complete(library.list_chats())
        model.set_sections(sections)
        view.doItemsLayout()
        view.viewport().repaint()
        sections_seen[:] = sections

    def raw_read() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "SELECT id, bot_id, title, created_date, last_modified_date, status, "
                "message_count, is_pinned, bot_model_config FROM sessions "
                "ORDER BY is_pinned DESC, last_modified_date DESC"
            ).fetchall()

    load_s = [timed(load) for _ in range(5)]
    raw_s = min(timed(raw_read) for _ in range(3))
    entries = [entry for section in sections_seen for entry in section.entries]  # type: ignore[attr-defined]

    # As the panel does: the listed chats' titles are indexed in a worker thread once listed,
    # and each keystroke narrows the list through the index at once.
    index_s = timed(lambda: TitleIndex(entries))
    titles = TitleIndex(entries)

    def keystroke_samples() -> list[float]:
        samples = []
        for text in KEYSTROKES + list(reversed(KEYSTROKES[:-1])):
            start = time.perf_counter()
            model.set_matches(titles.matching(text))
            view.doItemsLayout()
            view.viewport().repaint()
            samples.append(time.perf_counter() - start)
        return samples

    keystrokes = keystroke_samples() + keystroke_samples()
    haystacks = [entry.summary.title.casefold() for entry in entries]
    scan = [timed(lambda t=t: [h for h in haystacks if t in h]) for t in KEYSTROKES]
    view.close()
    loop.run_until_complete(store.close())
    loop.close()
    figures = _load_and_filter_figures(
        f"chat list load, {size:,} chats (median of 5)",
        f"chat list title filter keystroke, {size:,} chats",
        median_ms(load_s),
        raw_s * 1000,
        keystrokes,
        scan,
        load_target=100 if size == 10_000 else None,
        filter_target=16 if size == 10_000 else None,
    )
    index_name = f"chat list title index, {size:,} chats (built in a worker thread)"
    return [*figures, Figure(index_name, index_s * 1000, "ms")]


def main() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    figures: list[Figure] = []
    for assistants, messages in ((1_000, 10_000), (10_000, 100_000)):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.sqlite3"
            store = asyncio.run(_seed(path, assistants, messages))
            figures += _lobby_figures(app, store, path, assistants)
            figures += _search_figures(store, path, messages)
            asyncio.run(store.close())
    for chats in (1_000, 10_000):
        with tempfile.TemporaryDirectory() as tmp:
            figures += _chat_list_figures(Path(tmp) / "chats.sqlite3", chats)
    report("Lobby, chat list and search", figures)


if __name__ == "__main__":
    main()
