"""The composition root: read the command line and paths, build every service once, run the UI.

The command line is parsed before Qt is imported, so ``--version`` answers at once. The window
is shown before any data is read; the store opens and the lobby fills in the background. Heavy
libraries (the OpenAI client, Firestore, tokenisers, Markdown) are never imported on this path:
they cost more start-up time than the whole window (DESIGN.md). Only the store is built before
the first paint; every other service is built on first use, and the chat's are warmed up in the
background once the lobby is on screen.

``build_services`` and ``build_main_window`` are the composition itself; ``main`` and the
end-to-end tests both use them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gptlab_desktop import __version__
from gptlab_desktop.config import AppConfig, ConfigError, apply_to_libraries, resolve_config
from gptlab_desktop.paths import AppPaths, create_private_file, ensure_created
from gptlab_desktop.services.errors import ServiceError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend
    from PySide6.QtCore import QSettings

    from gptlab_desktop.services.bundle import Services
    from gptlab_desktop.services.store.base import ShowcaseEntry, StoreHealth
    from gptlab_desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)

PROGRAM = "gptlab-desktop"
# How long --smoke lets the event loop run after showing the window, at least and at most.
SMOKE_RUN_SECONDS = 1.0
SMOKE_TIMEOUT_SECONDS = 30.0
# The longest the garbage collector stays paused for start-up (resume_collecting_after_start).
COLLECTOR_PAUSE_MAX_S = 30.0
# Closing, from the window's close to the store closed, takes at most this long; the window's
# own work (a reply stored as interrupted, pending deletions) gets all but the reserve.
SHUTDOWN_BUDGET_S = 5.0
SHUTDOWN_CLOSE_RESERVE_S = 1.5

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_services(config: AppConfig, *, keyring_backend: KeyringBackend | None = None) -> Services:
    """The services of a run on ``config``; cheap: nothing is opened or imported beyond the
    store's module (the rest is built on first use).

    ``keyring_backend`` is where secrets go; None is the system keyring that ``keyring`` picks
    (looked up on first use, after the first paint). Tests pass an in-memory stand-in.
    """
    from gptlab_desktop.services.bundle import Services
    from gptlab_desktop.services.store.cloud.synced import SyncedStore

    # The SQLite store of every run; it journals for the cloud once sync has been switched on.
    return Services(config, SyncedStore(config.database_file), keyring_backend)


def build_settings(paths: AppPaths) -> QSettings:
    """The app's INI settings in the data directory, private like everything else there."""
    from PySide6.QtCore import QSettings

    # Qt saves by replacing the file and keeps an existing file's permissions.
    create_private_file(paths.settings_file)
    return QSettings(str(paths.settings_file), QSettings.Format.IniFormat)


def build_main_window(services: Services) -> MainWindow:
    """The main window on these services (a QApplication must exist); not yet started."""
    from gptlab_desktop.ui.main_window import MainWindow

    return MainWindow(services, build_settings(services.config.paths))


class AppRun:
    """One run's lifecycle: the data and services start here, and close here, in order.

    ``start`` opens the store, brings the showcase in, fills the lobby and finds the local user
    (no keyring involved, so everything the user does from the first paint on works); once the
    lobby has painted it warms the chat's libraries up, builds the rest of the window, lists the
    sessions and reads the API key — which only the first request to the AI service waits for.

    Closing the window asks this to shut down: the window stops its work (a streaming reply is
    stored as interrupted, editors close, pending deletions are carried out), then the key
    read and the warm-up are cancelled, the AI client is closed and then the store — all within
    ``SHUTDOWN_BUDGET_S``; the window really closes last.
    """

    def __init__(self, services: Services, window: MainWindow) -> None:
        self.services = services
        self.window = window
        self._started: asyncio.Task[StoreHealth] | None = None
        self._warm_up: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Task[None] | None = None
        window.closeRequested.connect(self._on_close_requested)

    @property
    def warm_up_task(self) -> asyncio.Task[None] | None:
        """The background warm-up of the chat services, once started."""
        return self._warm_up

    @property
    def shutdown_task(self) -> asyncio.Task[None] | None:
        """The shutdown, once the window asked for it."""
        return self._shutdown

    def start(self, showcase: Sequence[ShowcaseEntry]) -> asyncio.Task[StoreHealth]:
        """Start the data and the services in the background; the task gives the store's health."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start(list(showcase)))
        return self._started

    async def _start(self, showcase: list[ShowcaseEntry]) -> StoreHealth:
        window = self.window
        data = await self.services.lobby.open(showcase if self.services.seeds_showcase else [])
        window.show_data(data)
        if not data.is_usable:
            return data.health
        await window.lobby_painted()
        # The lobby is on screen: the chat's libraries load in worker threads while the rest
        # of the window is built and the key is read.
        self._warm_up = asyncio.ensure_future(self._warm_up_services())
        await window.finish_building()
        # The cloud, if one is configured, connects in the background from here on.
        window.show_sync(self.services.sync)
        self.services.sync.start()
        await self._load_account()
        return data.health

    async def _warm_up_services(self) -> None:
        """Load the Markdown renderer and the OpenAI client off the loop.

        So that neither the first message shown nor the first reply stalls the window. The
        tokenizer is not among them: a request is counted only near a limit (``context.py``),
        and its ~50 MB load only then, in a worker thread.
        """
        from gptlab_desktop.services.aio import run_blocking
        from gptlab_desktop.ui.markdown import warm_up as warm_up_markdown

        try:
            await asyncio.gather(run_blocking(warm_up_markdown), self.services.llm.warm_up())
        except Exception:
            # The first request loads what it needs anyway, just more slowly.
            log.warning("Warming up the chat services failed", exc_info=True)

    async def _load_account(self) -> None:
        """Read the saved key (the chat waits for it, nothing else), and tell the window."""
        services = self.services
        try:
            state = await services.load_account()
        except Exception:
            # Keyring failures are handled inside (memory instead); anything else is a bug, and
            # the key from the environment, if any, still works.
            log.exception("Loading the API key failed")
            return
        try:
            await services.account.current_user()
        except ServiceError:
            log.warning("Recording the user's key hash failed", exc_info=True)
        self.window.show_key_state(state, needs_key=services.needs_account_key)

    def _on_close_requested(self) -> None:
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self.shut_down())

    async def shut_down(self) -> None:
        """Stop the window's work, then the services: the AI client, then the store (≤ 5 s)."""
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S
        try:
            async with asyncio.timeout(SHUTDOWN_BUDGET_S - SHUTDOWN_CLOSE_RESERVE_S):
                await self.window.wind_down()
        except TimeoutError:
            log.warning("The window's work did not stop in time; closing the services anyway")
        except Exception:
            log.exception("Stopping the window's work failed")
        for task in (self._started, self._warm_up):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=max(0.0, deadline - time.monotonic()))
        await self.services.close()
        self.window.finish_closing()


def launch(services: Services) -> AppRun:
    """The window on ``services`` and the lifecycle that starts and closes them."""
    return AppRun(services, build_main_window(services))


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Chat with AI assistants and build your own."
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep all data, settings and logs in DIR (default: $GPTLAB_DATA_DIR, "
        "else the platform's user data directory)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="start every service, show the window briefly, then exit (0 if all went well)",
    )
    return parser


# HTTP libraries log every request's full URL at INFO, and a base URL may carry credentials
# (http://user:password@host): only their warnings reach the log.
_CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai")
LOG_MAX_BYTES = 2_000_000
LOG_BACKUPS = 3


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, the fresh one after a rotation too, is 0600."""

    def _open(self) -> Any:
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(descriptor, "a", encoding=self.encoding)


def configure_logging(paths: AppPaths) -> logging.Handler:
    """Log INFO and above to the private, rotated log file; returns the handler (to remove)."""
    create_private_file(paths.log_file)
    handler = _PrivateRotatingFileHandler(
        paths.log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


class _FailureRecorder:
    """Counts errors nobody handled (asyncio callbacks, Qt slots) and logs them."""

    def __init__(self) -> None:
        self.count = 0

    def asyncio_handler(self, _loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.count += 1
        log.error(
            "Unhandled error in the event loop: %s",
            context.get("message", "no message"),
            exc_info=context.get("exception"),
        )

    def excepthook(
        self,
        kind: type[BaseException],
        error: BaseException,
        traceback: TracebackType | None,
    ) -> None:
        self.count += 1
        log.error("Unhandled error in a Qt slot", exc_info=(kind, error, traceback))


def main(argv: list[str] | None = None) -> int:
    """Run GPT Lab Desktop; returns the process exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:
        # --version, --help or a usage error: argparse has already said what it had to say.
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    try:
        config = resolve_config(args.data_dir)
    except ConfigError as error:
        # Before logging exists: the one place to say it is the terminal.
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2
    paths = config.paths
    try:
        ensure_created(paths)
        handler = configure_logging(paths)
    except OSError as error:
        print(
            f"{PROGRAM}: cannot use the data directory {paths.data_dir}: {error.strerror}",
            file=sys.stderr,
        )
        return 1
    log.info("Starting %s %s (data directory %s)", PROGRAM, __version__, paths.data_dir)
    apply_to_libraries(config)
    # Paused for start-up; resume_collecting_after_start resumes it once the window has started.
    gc.disable()
    try:
        return _run_gui(
            config, is_smoke=args.smoke, reconfigure=lambda: resolve_config(args.data_dir)
        )
    except Exception:
        log.exception("GPT Lab Desktop stopped on an unexpected error")
        print(f"{PROGRAM}: stopped on an unexpected error; see {paths.log_file}", file=sys.stderr)
        return 1
    finally:
        gc.enable()
        log.info("Stopped")
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run_gui(
    config: AppConfig, *, is_smoke: bool, reconfigure: Callable[[], AppConfig] | None = None
) -> int:
    """Run windows until one closes for good: a window closed to reopen the data (another
    storage or account chosen in Settings → Storage…) is followed by a new run on the
    configuration resolved again by ``reconfigure``, in the same process and event loop."""
    # Qt and the services are imported only now, so --version and usage errors stay instant.
    from PySide6.QtWidgets import QApplication

    from gptlab_desktop.ui.pyside_imports import scan_sources_cheaply

    # Before anything else is imported: PySide6 scans the source of every module imported after
    # it, and would keep each one in memory for the whole run.
    scan_sources_cheaply()
    from gptlab_desktop.ui.event_loop import qt_event_loop
    from gptlab_desktop.ui.main_window import APP_TITLE

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([PROGRAM])
    app.setApplicationName(PROGRAM)
    app.setApplicationDisplayName(APP_TITLE)
    app.setApplicationVersion(__version__)
    # The window's closed signal ends the run, after the store has been closed.
    quits_on_last_window = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)

    failures = _FailureRecorder()
    previous_excepthook = sys.excepthook
    sys.excepthook = failures.excepthook
    try:
        with qt_event_loop(app) as loop:
            loop.set_exception_handler(failures.asyncio_handler)
            while True:
                run = launch(build_services(config))
                status = loop.run_until_complete(_run_window(run, is_smoke=is_smoke))
                reopens = run.window.reopen_requested and reconfigure is not None
                # The window and its parts are freed here, on the GUI thread: left to a later
                # collection, they could be freed on a worker thread (a warm-up still
                # importing), and Qt objects must never be.
                del run
                gc.collect()
                if not reopens or reconfigure is None:
                    break
                log.info("Reopening the data with the storage chosen in Settings")
                config = reconfigure()
                apply_to_libraries(config)
    finally:
        sys.excepthook = previous_excepthook
        app.setQuitOnLastWindowClosed(quits_on_last_window)
    if is_smoke and failures.count:
        print(f"{PROGRAM}: smoke run saw {failures.count} unhandled error(s)", file=sys.stderr)
        return 1
    return status


async def _run_window(run: AppRun, *, is_smoke: bool) -> int:
    """Show the window, start its data, and run until it has closed."""
    from gptlab_desktop.services.aio import run_blocking
    from gptlab_desktop.services.showcase import load_showcase_entries

    window = run.window
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    window.closed.connect(on_closed)
    shown_at = time.monotonic()
    window.show()
    # Reading and validating the shipped files is disk and CPU work: off the event loop, which
    # paints the (still empty) window meanwhile.
    started = run.start(await run_blocking(load_showcase_entries))
    collecting = asyncio.ensure_future(resume_collecting_after_start(run, started))
    try:
        if not is_smoke:
            await closed
            return 0
        problems = await _smoke_check(run, started)
        # Let the loop run (painting, the sessions load) for the rest of the smoke second.
        await asyncio.sleep(max(0.0, SMOKE_RUN_SECONDS - (time.monotonic() - shown_at)))
        window.close()
        await closed
    finally:
        collecting.cancel()
    for problem in problems:
        print(f"{PROGRAM}: smoke run failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


async def resume_collecting_after_start(run: AppRun, started: asyncio.Task[Any]) -> None:
    """Turn the garbage collector, paused for start-up, back on once the window has started.

    Start-up creates a few hundred thousand objects (Qt's bindings, the window, then the chat's
    libraries) and frees almost none: the collector's ~75 passes over them cost ~10 ms before
    the lobby painted, to find a few hundred. Once the window has started and the chat's
    libraries are warmed up, everything alive is frozen (``gc.freeze``), so the full
    collections that come later skip it instead of scanning the whole heap (an 80-100 ms stall
    if one lands while a reply streams). A start-up that hangs keeps it paused for
    ``COLLECTOR_PAUSE_MAX_S`` at most.
    """
    deadline = time.monotonic() + COLLECTOR_PAUSE_MAX_S
    try:
        await asyncio.wait([started], timeout=COLLECTOR_PAUSE_MAX_S)
        if run.warm_up_task is not None:
            await asyncio.wait([run.warm_up_task], timeout=max(0.0, deadline - time.monotonic()))
    finally:
        gc.freeze()
        gc.enable()


async def _smoke_check(run: AppRun, started: asyncio.Task[Any]) -> list[str]:
    """What went wrong starting up, as sentences; empty when the lobby filled."""
    try:
        health = await asyncio.wait_for(asyncio.shield(started), SMOKE_TIMEOUT_SECONDS)
    except Exception as error:
        log.exception("Smoke run: start-up failed")
        return [f"start-up failed ({type(error).__name__})"]
    if not health.is_usable:
        return [f"the store is not usable: {health.problem}"]
    if run.window.lobby_model.rowCount() == 0:
        return ["the lobby is empty"]
    if run.window.current_user is None:
        return ["no user record"]
    warm_up = run.warm_up_task
    if warm_up is None:
        return ["the chat services were not warmed up"]
    try:
        await asyncio.wait_for(asyncio.shield(warm_up), SMOKE_TIMEOUT_SECONDS)
    except Exception as error:
        return [f"warming up the chat services failed ({type(error).__name__})"]
    return []
