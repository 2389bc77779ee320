"""Memory: peak RSS of the app with a long session open.

Run: ``python bench/bench_memory.py``. A data directory is seeded with a stored session, then
the app starts in a fresh process (``startup_probe.py``), opens that session and reports its
peak resident set size once the session is painted. Target (issue 6): <= 150 MB with a
2,000-message session open (GPT Lab's Streamlit backend alone peaked at 190 MB, before any
browser). Baseline: a bare PySide6 window's peak RSS. A 200-message session shows the growth.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

from bench_long_session import _text
from bench_startup import compile_bytecode, start
from harness import Figure, report

from gptlab_desktop.models import (
    Message,
    ModelConfig,
    Role,
    Session,
    SessionType,
    new_id,
    utcnow,
)
from gptlab_desktop.paths import app_paths, ensure_created
from gptlab_desktop.services.showcase import load_showcase_entries
from gptlab_desktop.services.store.sqlite import SqliteStore


async def _seed(data_dir: Path, count: int) -> str:
    paths = app_paths(str(data_dir))
    ensure_created(paths)
    store = SqliteStore(paths.database_file)
    await store.open()
    await store.sync_showcase(load_showcase_entries())
    assistant = (await store.list_assistants())[0]
    details = await store.get_assistant_details(assistant.id)
    assert details is not None
    user = await store.local_user()
    now = utcnow()
    session = await store.create_session(
        Session(
            id=new_id(),
            user_id=user.id,
            bot_id=assistant.id,
            bot_initial_prompt_msg=details.initial_prompt.message,
            bot_model_config=ModelConfig(model="gpt-4o-mini"),
            bot_session_type=SessionType.BRAINSTORMING,
            bot_summary_prompt_msg=details.summary_prompt.message,
            created_date=now,
            last_modified_date=now,
            title="A long session",
        )
    )
    rng = random.Random(7)
    start_at = now - timedelta(days=1)
    for i in range(count):
        role = Role.USER if i % 2 else Role.ASSISTANT
        await store.add_message(
            Message(new_id(), session.id, role, _text(rng, i), start_at + timedelta(seconds=i))
        )
    await store.close()
    return session.id


def main() -> None:
    compile_bytecode()
    figures: list[Figure] = []
    bare_mb = statistics.median(start("bare")["PAINTED"][1] or 0 for _ in range(3))
    for count in (200, 2_000):
        with tempfile.TemporaryDirectory() as tmp:
            session_id = asyncio.run(_seed(Path(tmp), count))
            runs = [start("app", tmp, "--open", session_id) for _ in range(3)]
        peak = statistics.median(run["SESSION_PAINTED"][1] or 0 for run in runs)
        figures.append(
            Figure(
                f"peak RSS with a {count:,}-message session open",
                peak,
                "MB",
                target=150 if count == 2_000 else None,
                baseline=bare_mb,
                baseline_name="bare PySide6 window",
            )
        )
    report("Memory", figures)


if __name__ == "__main__":
    main()
