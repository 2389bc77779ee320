"""Run every benchmark, each in a fresh process, and print each figure beside its target.

Run: ``scripts/run-bench`` (sets up the environment first) or ``python bench/run_all.py``.
A fresh process per benchmark keeps start-up and memory figures honest and keeps each well
under the processEvents() budget of DESIGN.md's pitfall. Exit status 0 always: benchmarks
report, they do not judge; a missed target is printed as MISSED.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_startup.py",
    "bench_streaming.py",
    "bench_long_session.py",
    "bench_lobby_search.py",
    "bench_memory.py",
    "bench_turn.py",
    "bench_sync.py",
]


def main() -> int:
    records: list[dict[str, object]] = []
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            print(f"!! {name} is missing")
            continue
        print(f"-- {name}", flush=True)
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE, check=False
        )
        for line in done.stdout.splitlines():
            if line.startswith("BENCH-JSON "):
                records.append(json.loads(line.removeprefix("BENCH-JSON ")))
        if done.returncode != 0:
            print(f"!! {name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    print(
        f"\n== Summary ({time.strftime('%Y-%m-%d')}, {platform.node()}, "
        f"{platform.machine()}, Python {platform.python_version()})"
    )
    for record in records:
        verdict = {True: "met", False: "MISSED", None: "info"}[record["is_met"]]  # type: ignore[index]
        target = []
        if record["target"] is not None:
            target.append(f"<= {record['target']:g} {record['unit']}")
        if record["ratio_target"] is not None:
            target.append(f"<= {record['ratio_target']:g}x {record['baseline_name']}")
        ratio = f" ({record['ratio']:.2f}x {record['baseline_name']})" if record["ratio"] else ""
        print(
            f"  [{verdict:>6}] {record['name']}: {record['value']:,.1f} {record['unit']}{ratio}"
            + (f"  target {' and '.join(target)}" if target else "")
        )
    missed = sum(record["is_met"] is False for record in records)
    print(f"\n{len(records)} figures, {missed} targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
