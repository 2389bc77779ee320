"""Start-up: process start to the main window painted with the lobby filled, and its memory.

Run: ``python bench/bench_startup.py``. Each start is a fresh process (``startup_probe.py``),
timed from the moment it was launched; median of 11 after one warm-up start. Baseline: a bare
PySide6 window (a QMainWindow with a label) started the same way. Targets (issue 6): <= 2x the
bare window's time and <= 1.5x its peak RSS at first paint; the chat usable (its clients
loaded in the background) within 1 s of the process starting. Starts alternate, bare then app,
and the time ratio is the median of each app start's against the bare start just before it.

A third series (issue 20) starts a session with the first assistant at the lobby's first paint:
process start to the session existing (data open, user known, stored and shown; the greeting,
a request to the AI service, not included), target <= 500 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Figure, report

PROBE = Path(__file__).resolve().parent / "startup_probe.py"
RUNS = 11


def start(*args: str) -> dict[str, tuple[float, float | None]]:
    """Run the probe once; each line it printed, with seconds since launch and its number."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(PROBE), *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    seen: dict[str, tuple[float, float | None]] = {}
    for line in process.stdout:
        at = time.perf_counter() - began
        word, _, number = line.strip().partition(" ")
        seen[word] = (at, float(number) if number else None)
    if process.wait() != 0:
        raise RuntimeError(f"the probe failed: {args}")
    return seen


def compile_bytecode() -> None:
    """Compile the app's modules, as ``pip install`` does (and a first run would).

    Without it, where PYTHONDONTWRITEBYTECODE is set every start recompiles every module
    from source, while the baseline's PySide6 and standard library come precompiled.
    """
    root = PROBE.parent.parent
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(root / "gptlab_desktop")], check=True
    )


def main() -> None:
    compile_bytecode()
    with tempfile.TemporaryDirectory() as data_dir:
        start("app", data_dir)  # first run: creates the database and the showcase
        start("bare")
        bare_runs, app_runs, session_runs = [], [], []
        for _ in range(RUNS):  # interleaved, so drifting load hits both alike
            bare_runs.append(start("bare"))
            app_runs.append(start("app", data_dir))
            session_runs.append(start("app", data_dir, "--start-session"))
    bare_s = statistics.median(run["PAINTED"][0] for run in bare_runs)
    bare_mb = statistics.median(run["PAINTED"][1] or 0 for run in bare_runs)
    app_s = statistics.median(run["PAINTED"][0] for run in app_runs)
    app_mb = statistics.median(run["PAINTED"][1] or 0 for run in app_runs)
    # Each app start against the bare start just before it: the machine's speed drifts between
    # starts more than the medians of separate series can hide.
    pairs = zip(bare_runs, app_runs, strict=True)
    ratio = statistics.median(app["PAINTED"][0] / bare["PAINTED"][0] for bare, app in pairs)
    ready_s = statistics.median(run["CHAT_READY"][0] for run in app_runs)
    session_s = statistics.median(run["SESSION_STARTED"][0] for run in session_runs)
    report(
        "Start-up",
        [
            Figure(
                f"process start to lobby painted (median of {RUNS}; ratio: median of the pairs')",
                app_s * 1000,
                "ms",
                baseline=bare_s * 1000,
                baseline_name="bare PySide6 window",
                ratio_target=2.0,
                paired_ratio=ratio,
            ),
            Figure(
                "peak RSS at first paint",
                app_mb,
                "MB",
                baseline=bare_mb,
                baseline_name="bare PySide6 window",
                ratio_target=1.5,
            ),
            Figure("process start to chat usable", ready_s * 1000, "ms", target=1000),
            Figure(
                "process start to a session started (greeting not included)",
                session_s * 1000,
                "ms",
                target=500,
            ),
        ],
    )


if __name__ == "__main__":
    main()
