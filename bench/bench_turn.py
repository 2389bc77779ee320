"""Per-turn overhead: the app's own time per chat turn, with a server that answers at once.

Run: ``python bench/bench_turn.py``. Each turn stores the user's message and the reply's row,
assembles the prompt (counting tokens where near a limit), streams the reply into the store,
asks the server's moderation about the message, and renders both messages in the chat view.
The app's own time is a turn's wall time minus the raw openai client's time for the same
requests (the chat stream, and the moderation request beside it) on the same loop, measured in
pairs, so the network and the server cancel out. Also printed: the figure counting the
moderation request's round trip as the app's own (subtracting only the raw chat request).
GPT Lab's backend spent 49.6 ms median per turn; target (issue 6): <= 5 ms median. Sessions of
100 and 300 turns show how the cost grows with the session.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from pathlib import Path

from harness import Figure, median_ms, open_store_with_assistant, p95_ms, report
from loopback_server import serve
from PySide6.QtCore import QCoreApplication, QEvent

from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.chat_events import (
    MessageStored,
    ReplyDelta,
    ReplyFinished,
    ReplyStarted,
)
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.event_loop import qt_event_loop

REPLY = "Sure. Here is a short answer with a few words in it."
QUESTION = "Tell me one more thing about fractions, please."


async def _turns(
    base_url: str, data_dir: Path, view: object, turns: int
) -> tuple[list[float], list[float]]:
    """Per turn, the app's wall time minus the raw client's for the same requests, and minus
    the raw client's for the chat request alone."""
    import openai

    raw = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    store, user, assistant = await open_store_with_assistant(
        data_dir / "bench.sqlite3", initial_prompt="You are a tutor. " * 20
    )
    llm = OpenAIClient(LlmSettings(base_url=base_url, api_key="sk-bench"))
    tokens = TokenCounter(data_dir / "tiktoken")
    engine = SessionEngine(store, Providers.of_client(llm), tokens)
    session = await engine.start_session(assistant.id, user.id)
    await llm.warm_up()  # as the app does after its first paint (not the tokenizer)
    gc.freeze()  # as the app does once warmed up (app.resume_collecting_after_start)
    transcript = view.transcript()  # type: ignore[attr-defined]

    async def raw_turn(*, moderated: bool) -> float:
        start = time.perf_counter()
        stream = await raw.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "x"}, {"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
        # as the app does: moderation asked once the chat request is out, awaited at the end
        moderation = asyncio.ensure_future(raw.moderations.create(input=QUESTION))
        if not moderated:
            moderation.cancel()
        async for _ in stream:
            pass
        if moderated:
            await moderation
        return time.perf_counter() - start

    async def app_turn() -> float:
        start = time.perf_counter()
        async for event in engine.send(session.id, QUESTION):
            # what the chat pane does with each event
            if isinstance(event, MessageStored | ReplyStarted):
                transcript.append(event.message)
            elif isinstance(event, ReplyDelta):
                view.set_streaming_text(event.message_id, event.text)  # type: ignore[attr-defined]
            elif isinstance(event, ReplyFinished):
                transcript.replace(event.message)
                view.flush_streaming()  # type: ignore[attr-defined]
        # What the turn left to paint (the finished reply's row), painted now as the event
        # loop would: the new rows were painted by the loop while the reply streamed.
        QCoreApplication.sendPostedEvents(view.window(), QEvent.Type.UpdateRequest)  # type: ignore[attr-defined]
        return time.perf_counter() - start

    for _ in range(5):  # warm every path
        await raw_turn(moderated=False)
        await raw_turn(moderated=True)
        await app_turn()
    overheads: list[float] = []
    with_moderation: list[float] = []
    for _ in range(turns):
        chat_only = await raw_turn(moderated=False)
        same_requests = await raw_turn(moderated=True)
        app = await app_turn()
        overheads.append(app - same_requests)
        with_moderation.append(app - chat_only)
    await raw.close()
    await llm.aclose()
    await store.close()
    return overheads, with_moderation


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from gptlab_desktop.ui.chat.view import ChatStreamView

    app = QApplication.instance() or QApplication([])
    figures: list[Figure] = []
    for turns in (100, 300):
        with (
            serve(REPLY, 8, requests=2 * turns + 20) as base_url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            view = ChatStreamView()
            view.resize(700, 800)
            view.show()
            with qt_event_loop(app) as loop:
                overheads, with_moderation = loop.run_until_complete(
                    _turns(base_url, Path(tmp), view, turns)
                )
            view.close()
        figures += [
            Figure(
                f"app's own time per turn, {turns} turns (median)",
                median_ms(overheads),
                "ms",
                target=5 if turns == 100 else None,
                baseline=49.6,
                baseline_name="GPT Lab's backend (measured before)",
            ),
            Figure(f"app's own time per turn, {turns} turns (p95)", p95_ms(overheads), "ms"),
            Figure(
                f"the same, counting the moderation round trip as the app's, {turns} turns "
                "(median)",
                median_ms(with_moderation),
                "ms",
            ),
        ]
    report("Per-turn overhead", figures)


if __name__ == "__main__":
    main()
