"""PySide6's per-import source scan: same answers, no source kept in memory.

Each case runs in a fresh interpreter: the scan is installed once per process, and what it does
depends on what was imported before it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Imports two modules after PySide6 (one mentions PySide6, one does not) and reports PySide6's
# __feature__ default for each and whether their source went into linecache.
_SCRIPT = """
import json, linecache, sys
sys.path.insert(0, {modules!r})
import PySide6.QtCore
from gptlab_desktop.ui.pyside_imports import scan_sources_cheaply
installed = scan_sources_cheaply() if {cheap!r} else None
import uses_qt, plain
feature = sys.modules["shibokensupport.feature"]
print(json.dumps({{
    "installed": installed,
    "defaults": [feature.pyside_feature_dict[name] for name in ("uses_qt", "plain")],
    "cached": [m.__file__ in linecache.cache for m in (uses_qt, plain)],
}}))
"""


def _run(tmp_path: Path, *, cheap: bool) -> dict[str, object]:
    modules = tmp_path / ("cheap" if cheap else "pyside")
    modules.mkdir()
    (modules / "uses_qt.py").write_text("from PySide6.QtCore import QObject\n")
    (modules / "plain.py").write_text("VALUE = 1\n")
    script = _SCRIPT.format(modules=str(modules), cheap=cheap)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture
def pyside_own(tmp_path: Path) -> dict[str, object]:
    return _run(tmp_path, cheap=False)


@pytest.fixture
def cheap(tmp_path: Path) -> dict[str, object]:
    return _run(tmp_path, cheap=True)


def test_the_pinned_pyside6_scans_sources_into_the_line_cache(
    pyside_own: dict[str, object],
) -> None:
    # The cost being removed: should a PySide6 upgrade drop the scan, this fails and the
    # module can go.
    assert pyside_own["cached"] == [True, True]


def test_the_scan_is_replaced_on_the_pinned_pyside6(cheap: dict[str, object]) -> None:
    assert cheap["installed"] is True


def test_the_cheap_scan_keeps_no_source_in_memory(cheap: dict[str, object]) -> None:
    assert cheap["cached"] == [False, False]


def test_the_cheap_scan_gives_pysides_own_feature_defaults(
    cheap: dict[str, object], pyside_own: dict[str, object]
) -> None:
    assert cheap["defaults"] == pyside_own["defaults"] == [0, -1]
