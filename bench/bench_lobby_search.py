"""Lobby and search at scale: load the lobby, filter it per keystroke, search every message.

Run: ``python bench/bench_lobby_search.py``. Targets (issue 6): 10,000 assistants load in
<= 150 ms and one filter keystroke takes <= 30 ms; a full-text search over 100,000 cached
messages takes <= 100 ms. Each size is measured twice (1k/10k assistants, 10k/100k messages)
to show how the cost grows, with same-run baselines: the raw SQL read of the same rows, a
plain Python substring scan, and a LIKE scan of the messages.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from harness import Figure, median_ms, open_store_with_assistant, report, timed

from gptlab_desktop.models import (
    ModelConfig,
    Session,
    SessionType,
    new_id,
    utcnow,
)
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
    return [
        Figure(
            f"lobby load, {size:,} assistants",
            load_s * 1000,
            "ms",
            target=150 if size == 10_000 else None,
            baseline=raw_s * 1000,
            baseline_name="raw SQL read",
        ),
        Figure(
            f"filter keystroke, {size:,} assistants (median)",
            median_ms(keystrokes),
            "ms",
            target=30 if size == 10_000 else None,
            baseline=median_ms(scan),
            baseline_name="Python substring scan",
        ),
        Figure(
            f"filter keystroke, {size:,} assistants (worst)",
            max(keystrokes) * 1000,
            "ms",
            target=30 if size == 10_000 else None,
        ),
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
    report("Lobby and search", figures)


if __name__ == "__main__":
    main()
