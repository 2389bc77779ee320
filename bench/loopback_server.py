"""Run the loopback OpenAI-compatible server in its own process, for benchmarks.

In the benchmark's own process the server's thread would compete with the client for the GIL,
so every bit of client work would also slow the server down and be counted twice.
``serve(reply)`` starts ``python bench/loopback_server.py`` answering every chat request
with the same reply, and yields its base URL.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator

from harness import ROOT

sys.path.insert(0, str(ROOT))
from tests.fakes.openai_server import FakeOpenAIServer, Reply


@contextlib.contextmanager
def serve(text: str, chunk_size: int, *, requests: int = 50) -> Iterator[str]:
    """A server process answering up to ``requests`` chat requests with ``text``."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--chunk-size", str(chunk_size), "--requests", str(requests)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(text)
    process.stdin.close()
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunk-size", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True)
    options = parser.parse_args()
    text = sys.stdin.read()
    with FakeOpenAIServer() as server:
        server.script(*[Reply(text=text, chunk_size=options.chunk_size)] * options.requests)
        print(server.base_url, flush=True)
        threading.Event().wait()  # until terminated


if __name__ == "__main__":
    main()
