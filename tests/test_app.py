"""The command line and the start-up path: run the real program in a subprocess.

``--smoke`` builds every service, shows the window offscreen, waits until the lobby is filled
and exits, so these tests start the app as a user would, on a private data directory.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import platformdirs
import pytest

from gptlab_desktop import __version__, app
from gptlab_desktop.app import main
from gptlab_desktop.paths import APP_NAME, DATA_DIR_ENV, AppPaths, resolve_data_dir
from gptlab_desktop.services.identity import user_hash

REPO = Path(__file__).resolve().parents[2]
# Libraries that cost more start-up time and memory than the whole window (DESIGN.md).
HEAVY_MODULES = (
    "openai",
    "google.cloud",
    "google.cloud.firestore",
    "tiktoken",
    "markdown_it",
    "pygments",
    "ziamath",
    "cryptography",
    "keyring",
)
# keyring honours this: the subprocesses keep secrets in memory, never in the real keyring.
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def run_python(
    *args: str, data_env: Path | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **NO_KEYRING, **(extra_env or {})}
    env.pop(DATA_DIR_ENV, None)
    if data_env is not None:
        env[DATA_DIR_ENV] = str(data_env)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=90
    )


# -- --version ---------------------------------------------------------------------------------
def test_version_prints_the_program_and_its_version() -> None:
    result = run_python("-m", "gptlab_desktop", "--version")
    assert (result.returncode, result.stdout) == (0, f"gptlab-desktop {__version__}\n")


def test_version_answers_without_importing_qt() -> None:
    result = run_python(
        "-c",
        "import sys; from gptlab_desktop.app import main; status = main(['--version']); "
        "print(status, 'PySide6' in sys.modules)",
    )
    assert result.stdout.splitlines()[-1] == "0 False"


def test_version_creates_no_data_directory(tmp_path: Path) -> None:
    run_python("-m", "gptlab_desktop", "--version", data_env=tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-option"]) == 2
    assert "usage: gptlab-desktop" in capsys.readouterr().err


# -- --smoke -----------------------------------------------------------------------------------
def test_smoke_run_exits_zero_offscreen(tmp_path: Path) -> None:
    result = run_python("-m", "gptlab_desktop", "--smoke", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr


def test_smoke_run_keeps_everything_in_a_private_data_directory(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "d")
    run_python("-m", "gptlab_desktop", "--smoke", "--data-dir", str(paths.data_dir))
    assert stat.S_IMODE(paths.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.log_file.stat().st_mode) == 0o600
    # Qt saves settings by replacing the file; the private mode survives that.
    assert stat.S_IMODE(paths.settings_file.stat().st_mode) == 0o600
    assert paths.database_file.is_file()
    assert paths.settings_file.is_file()
    assert paths.cache_dir.is_dir()


def test_smoke_run_takes_the_data_directory_from_the_environment(tmp_path: Path) -> None:
    result = run_python("-m", "gptlab_desktop", "--smoke", data_env=tmp_path / "env")
    assert result.returncode == 0, result.stderr
    assert AppPaths(tmp_path / "env").database_file.is_file()


def test_smoke_run_logs_start_and_stop_without_message_bodies(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "d")
    run_python("-m", "gptlab_desktop", "--smoke", "--data-dir", str(paths.data_dir))
    log = paths.log_file.read_text("utf-8")
    assert f"Starting gptlab-desktop {__version__}" in log
    assert "Stopped" in log
    # A showcased prompt is read at every start; its text must not reach the log.
    assert "You are" not in log


def test_smoke_run_fails_on_a_damaged_store_and_leaves_it_alone(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "d")
    paths.data_dir.mkdir(mode=0o700)
    paths.database_file.write_bytes(b"not a database" * 50)
    result = run_python("-m", "gptlab_desktop", "--smoke", "--data-dir", str(paths.data_dir))
    assert result.returncode == 1
    assert "damaged" in result.stderr
    assert paths.database_file.read_bytes() == b"not a database" * 50


# Runs the app as --smoke does, noting which heavy modules are loaded when the lobby first paints
# its assistants, and which when the run is over (after the background warm-up). Watched from
# the lobby's delegate, not with an event filter: a filter is handed every object Qt made, and
# PySide6 would load every widget class to find their types (which one test checks it avoids).
_FIRST_PAINT_SCRIPT = """
import gc, json, sys
from PySide6 import QtWidgets
from PySide6.QtWidgets import QApplication
from gptlab_desktop.app import main
from gptlab_desktop.ui.lobby_model import LobbyDelegate

HEAVY = {heavy!r}
seen = {{}}
paint = LobbyDelegate.paint


def first_paint(self, painter, option, index):
    if "paint" not in seen:
        seen["paint"] = [m for m in HEAVY if m in sys.modules]
        seen["collecting at paint"] = gc.isenabled()
        # a widget class the window never uses: loaded only if PySide6 was made to try every
        # widget class (it does to find the type of a widget Qt made itself)
        seen["every widget class loaded at paint"] = "QWizard" in QtWidgets.__dict__
    paint(self, painter, option, index)


LobbyDelegate.paint = first_paint
app = QApplication(["gptlab-desktop"])
gc.freeze = lambda freeze=gc.freeze: (
    seen.setdefault("frozen when", [gc.isenabled(), "openai" in sys.modules]), freeze()
)
status = main(["--smoke", "--data-dir", {data_dir!r}])
seen["frozen"] = gc.get_freeze_count()
seen["collecting at exit"] = gc.isenabled()
print(json.dumps([status, seen.get("paint"), [m for m in HEAVY if m in sys.modules], seen]))
"""


@pytest.fixture(scope="module")
def modules_at_first_paint_and_exit(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    data_dir = tmp_path_factory.mktemp("first-paint") / "d"
    script = _FIRST_PAINT_SCRIPT.format(heavy=HEAVY_MODULES, data_dir=str(data_dir))
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_first_paint_comes_before_any_network_client_tokenizer_or_renderer(
    modules_at_first_paint_and_exit: list[object],
) -> None:
    status, at_first_paint, _at_exit, _seen = modules_at_first_paint_and_exit
    assert (status, at_first_paint) == (0, [])


def test_chat_services_warm_up_in_the_background_after_the_first_paint(
    modules_at_first_paint_and_exit: list[object],
) -> None:
    _status, _at_first_paint, at_exit, _seen = modules_at_first_paint_and_exit
    assert {"openai", "markdown_it", "pygments"} <= set(at_exit)  # type: ignore[arg-type]


def test_the_tokenizer_stays_unloaded_until_a_request_nears_a_limit(
    modules_at_first_paint_and_exit: list[object],
) -> None:
    _status, _at_first_paint, at_exit, _seen = modules_at_first_paint_and_exit
    assert "tiktoken" not in at_exit  # type: ignore[operator]


def test_the_first_paint_does_not_make_pyside_load_every_widget_class(
    modules_at_first_paint_and_exit: list[object],
) -> None:
    status, _at_first_paint, _at_exit, seen = modules_at_first_paint_and_exit
    assert isinstance(seen, dict)
    assert (status, seen["every widget class loaded at paint"]) == (0, False)


def test_the_collector_rests_until_start_up_is_done_then_skips_what_start_up_made(
    modules_at_first_paint_and_exit: list[object],
) -> None:
    _status, _at_first_paint, _at_exit, seen = modules_at_first_paint_and_exit
    assert isinstance(seen, dict)
    assert seen["collecting at paint"] is False
    # frozen once the chat's libraries were warmed up, before collecting resumed
    assert seen["frozen when"] == [False, True]
    assert seen["frozen"] > 100_000
    assert seen["collecting at exit"] is True


@pytest.mark.asyncio
async def test_the_collector_resumes_even_when_start_up_never_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "COLLECTOR_PAUSE_MAX_S", 0.05)
    started = asyncio.ensure_future(asyncio.sleep(0))
    never = asyncio.get_running_loop().create_future()
    # Only the attribute the function reads: a whole run is not needed to hang a warm-up.
    run = SimpleNamespace(warm_up_task=never)
    gc.disable()
    try:
        await asyncio.wait_for(app.resume_collecting_after_start(run, started), 5)  # type: ignore[arg-type]
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
        never.cancel()


def test_smoke_run_creates_the_local_user_without_an_api_key(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "d")
    result = run_python("-m", "gptlab_desktop", "--smoke", "--data-dir", str(paths.data_dir))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(paths.database_file) as conn:
        users = conn.execute("SELECT id, user_hash FROM users").fetchall()
        local = conn.execute("SELECT user_id FROM local_user").fetchall()
    # The store's own user, with no hash: no key was in use.
    assert [(user_id, None) for (user_id,) in local] == users


# -- where the data lives ----------------------------------------------------------------------
def test_data_dir_option_wins_over_the_environment(tmp_path: Path) -> None:
    chosen = resolve_data_dir(str(tmp_path / "cli"), {DATA_DIR_ENV: str(tmp_path / "env")})
    assert chosen == tmp_path / "cli"


def test_environment_names_the_data_dir_without_the_option(tmp_path: Path) -> None:
    assert resolve_data_dir(None, {DATA_DIR_ENV: str(tmp_path / "env")}) == tmp_path / "env"


def test_platform_data_dir_is_the_default() -> None:
    assert resolve_data_dir(None, {}) == Path(platformdirs.user_data_dir(APP_NAME, False))


def test_everything_lives_inside_the_data_dir(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path)
    for path in (paths.database_file, paths.settings_file, paths.cache_dir, paths.log_file):
        assert path.is_relative_to(tmp_path)
    assert paths.log_file == tmp_path / "logs" / "gptlab-desktop.log"
    assert paths.cache_dir == tmp_path / "cache"


# -- the API key at start-up -------------------------------------------------------------------
def test_smoke_run_without_a_key_or_keyring_still_exits_zero(tmp_path: Path) -> None:
    # OpenAI's address and no key: the key dialog opens, and must not hold the run up.
    paths = AppPaths(tmp_path / "d")
    result = run_python("-m", "gptlab_desktop", "--smoke", "--data-dir", str(paths.data_dir))
    assert result.returncode == 0, result.stderr
    assert "System keyring not used" in paths.log_file.read_text("utf-8")


def test_smoke_run_with_an_openai_key_in_the_environment_records_its_hash_on_the_user(
    tmp_path: Path,
) -> None:
    paths = AppPaths(tmp_path / "d")
    key = "sk-test-SmokeKey0123456789abcdef0123456789"
    result = run_python(
        "-m",
        "gptlab_desktop",
        "--smoke",
        "--data-dir",
        str(paths.data_dir),
        extra_env={"OPENAI_API_KEY": key},
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(paths.database_file) as conn:
        hashes = [row[0] for row in conn.execute("SELECT user_hash FROM users")]
    assert hashes == [user_hash(key)]
    assert key not in paths.log_file.read_text("utf-8")


def test_the_log_rotates_and_every_log_file_stays_private(tmp_path) -> None:
    import logging
    import stat

    from gptlab_desktop import app
    from gptlab_desktop.paths import app_paths, ensure_created

    paths = app_paths(str(tmp_path / "data"))
    ensure_created(paths)
    handler = app.configure_logging(paths)
    try:
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        handler.doRollover()
        logging.getLogger("gptlab_desktop.test").warning("after the rotation")
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    files = sorted(paths.log_file.parent.iterdir())
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_http_libraries_do_not_log_request_urls(tmp_path) -> None:
    import logging

    from gptlab_desktop import app
    from gptlab_desktop.paths import app_paths, ensure_created

    paths = app_paths(str(tmp_path / "data"))
    ensure_created(paths)
    handler = app.configure_logging(paths)
    try:
        logging.getLogger("httpx2").info("HTTP Request: GET http://user:s3cret@host/v1/models")
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "s3cret" not in paths.log_file.read_text()


def test_the_services_repr_holds_no_api_key(tmp_path) -> None:
    from gptlab_desktop.app import build_services
    from gptlab_desktop.config import resolve_config

    config = resolve_config(str(tmp_path / "data"), {"OPENAI_API_KEY": "sk-test-do-not-print"})
    services = build_services(config)
    assert "sk-test-do-not-print" not in repr(services)
    assert "sk-test-do-not-print" not in repr(config)


def test_the_vault_is_given_the_configured_recovery_kit_and_no_repr_shows_it(tmp_path) -> None:
    from gptlab_desktop.app import build_services
    from gptlab_desktop.config import resolve_config
    from gptlab_desktop.services.recovery_kit import RecoveryKit

    kit = RecoveryKit.generate("Ab3dEfGh1jKlMnOpQr5t")
    config = resolve_config(str(tmp_path / "data"), {"GPTLAB_RECOVERY_KIT": kit.text})
    services = build_services(config)

    assert services.vault._configured_kit == kit
    shown = repr(services) + repr(config) + repr(services.vault)
    assert not any(group in shown for group in kit.code.split("-")[1:])


def test_a_run_whose_data_stays_local_starts_its_sync_without_loading_cryptography(
    tmp_path: Path,
) -> None:
    # The sync is built and started in every run; the vault (and cryptography, ~0.1 s to
    # import on the event loop right after the first paint) only when a cloud is configured.
    code = f"""
import asyncio, json, sys
from gptlab_desktop.app import build_services
from gptlab_desktop.config import resolve_config
services = build_services(resolve_config({str(tmp_path)!r}, {{}}))
async def run():
    await services.store.open()
    services.sync.start()
    await services.close()
asyncio.run(run())
heavy = ("cryptography", "gptlab_desktop.services.vault")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


_REOPEN_SCRIPT = """
import json, sys
from gptlab_desktop.app import main
from gptlab_desktop.config import SharedAccount, StorageMode, StorageSettings
from gptlab_desktop.ui.main_window import MainWindow

data_dir = {data_dir!r}
runs = []
finish_building = MainWindow.finish_building

async def then_reopen_once(self):
    await finish_building(self)
    runs.append(self._services.config.database_file.name)
    if len(runs) == 1:
        # What signing in does: the storage saved with the account, the window reopened.
        shared = StorageSettings(
            StorageMode.SHARED, "demo-team", firebase_api_key="web-key",
            account=SharedAccount("uid-7", "ada@example.com", "Ada"),
        )
        open(data_dir + "/storage.json", "w").write(shared.to_json())
        self.reopen()
    else:
        self.close()

MainWindow.finish_building = then_reopen_once
status = main(["--data-dir", data_dir])
print(json.dumps([status, runs]))
"""


def test_a_window_closed_to_reopen_starts_again_on_the_storage_saved(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    script = _REOPEN_SCRIPT.format(data_dir=str(data_dir))

    result = run_python("-c", script)

    assert result.returncode == 0, result.stderr
    status, runs = json.loads(result.stdout.splitlines()[-1])
    # The second run opened the account's own cache, in the same process.
    assert (status, runs) == (0, ["gptlab.sqlite3", "uid-7.sqlite3"])
    assert (data_dir / "shared" / "demo-team" / "uid-7.sqlite3").is_file()
