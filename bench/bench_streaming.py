"""Streaming a long reply: the app's total time against two baselines, and stalls.

Run: ``python bench/bench_streaming.py``. The loopback server sends a 20,000-token reply (one
token per SSE event) as fast as it can. Baselines, each consuming the same stream on a plain
asyncio loop: the raw ``openai.AsyncOpenAI`` client, and the floor — a bare ``httpx`` +
``json`` consumer doing no UI work at all. The app: the session engine storing the reply as it
streams, with the chat view rendering it, on the qasync loop the window uses. Targets: app
<= 1.25x the raw client (issue 6) and <= 1.5x the floor (issue 24); the longest event-loop
stall <= 16 ms, one frame at 60 Hz (issue 24; 50 ms before), also for a reply with math and a
50-row table. A second, 2,000-token size shows how the cost grows.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tempfile
import time
from pathlib import Path

from harness import Figure, StallMeter, open_store_with_assistant, report
from loopback_server import serve

from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.chat_events import ReplyDelta, ReplyFinished, ReplyStarted
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.llm_api import LlmSettings
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.tokens import TokenCounter
from gptlab_desktop.ui.chat.pane import STREAM_PUSH_INTERVAL_MS
from gptlab_desktop.ui.event_loop import qt_event_loop

TOKEN = "tok "  # four characters: about one token of English


async def _raw_client(base_url: str) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = []
    async for chunk in stream:
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                text.append(choice.delta.content)
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


async def _floor(base_url: str) -> float:
    """The least a consumer of the stream can do: read its lines and decode each event."""
    import httpx

    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Go"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": "Bearer sk-bench"}
    async with httpx.AsyncClient(timeout=60) as client:
        start = time.perf_counter()
        text: list[str] = []
        async with client.stream(
            "POST", f"{base_url}/chat/completions", json=body, headers=headers
        ) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        text.append(content)
        return time.perf_counter() - start


def _rich_reply(rows: int = 50) -> str:
    """A reply with math and a table of ``rows`` rows, streamed a few characters at a time."""
    table = "| n | square | note |\n|---:|---:|---|\n" + "".join(
        f"| {n} | {n * n} | the square of {n} |\n" for n in range(1, rows + 1)
    )
    math = (
        "The sum is $\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$, and\n\n"
        "$$\\int_0^1 x^2 \\, dx = \\frac{1}{3}$$\n\n"
    )
    return "Here are the squares.\n\n" + math + table + "\nThat is all."


async def _app(base_url: str, data_dir: Path, view: object) -> float:
    store, user, assistant = await open_store_with_assistant(
        data_dir / "bench.sqlite3",
        initial_prompt="Be brief.",
        config=ModelConfig(model="gpt-4o-mini", max_tokens=4000),
    )
    llm = OpenAIClient(LlmSettings(base_url=base_url, api_key="sk-bench"))
    tokens = TokenCounter(data_dir / "tiktoken")
    engine = SessionEngine(store, Providers.of_client(llm), tokens)
    session = await engine.start_session(assistant.id, user.id)
    # The app warms the client up in the background right after its first paint; the
    # tokenizer is loaded only for a request near a limit (this one is far from it).
    await llm.warm_up()
    gc.freeze()  # as the app does once warmed up (app.resume_collecting_after_start)
    start = time.perf_counter()
    pushed_at = 0.0
    async for event in engine.send(session.id, "Go"):
        # what the chat pane does with each event (ui/chat/pane.py: the streamed text is
        # handed to the view at most every STREAM_PUSH_INTERVAL_MS)
        if isinstance(event, ReplyStarted):
            view.transcript().append(event.message)  # type: ignore[attr-defined]
        elif isinstance(event, ReplyDelta):
            now = time.perf_counter()
            if now - pushed_at >= STREAM_PUSH_INTERVAL_MS / 1000:
                pushed_at = now
                view.set_streaming_text(event.message_id, event.text)  # type: ignore[attr-defined]
        elif isinstance(event, ReplyFinished):
            view.transcript().replace(event.message)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    await llm.aclose()
    await store.close()
    return elapsed


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from gptlab_desktop.ui.chat.view import ChatStreamView
    from gptlab_desktop.ui.markdown import warm_up

    warm_up()  # the app does this in the background after its first paint

    app = QApplication.instance() or QApplication([])
    figures: list[Figure] = []
    replies = ((2_000, TOKEN * 2_000, len(TOKEN)), (20_000, TOKEN * 20_000, len(TOKEN)))
    for tokens, text, chunk in (*replies, (0, _rich_reply(), 4)):
        with serve(text, chunk) as base_url, tempfile.TemporaryDirectory() as tmp:
            raw = min(asyncio.run(_raw_client(base_url)) for _ in range(2))
            floor = min(asyncio.run(_floor(base_url)) for _ in range(2))

            view = ChatStreamView()
            view.resize(700, 800)
            view.show()
            with qt_event_loop(app) as loop:
                meter = StallMeter()
                meter.start()
                elapsed = loop.run_until_complete(_app(base_url, Path(tmp), view))
                stall = meter.stop()
            view.close()
        size = f"{tokens:,}-token reply" if tokens else "reply with math and a 50-row table"
        is_target = tokens in (0, 20_000)
        figures += [
            Figure(
                f"stream a {size}",
                elapsed * 1000,
                "ms",
                baseline=raw * 1000,
                baseline_name="raw openai client",
                ratio_target=1.25 if tokens == 20_000 else None,
            ),
            Figure(
                f"stream a {size}, against the floor",
                elapsed * 1000,
                "ms",
                baseline=floor * 1000,
                baseline_name="bare httpx + json consumer",
                ratio_target=1.5 if tokens == 20_000 else None,
            ),
            Figure(
                f"longest event-loop stall, {size}",
                stall * 1000,
                "ms",
                target=16 if is_target else None,
            ),
        ]
    report("Streaming", figures)


if __name__ == "__main__":
    main()
