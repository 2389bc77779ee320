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
import functools
import gc
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gptlab_desktop import __version__
from gptlab_desktop.paths import AppPaths, app_paths, create_private_file, ensure_created

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend
    from PySide6.QtCore import QSettings

    from gptlab_desktop.models import User
    from gptlab_desktop.services.account import Account
    from gptlab_desktop.services.assistant_lab import AssistantLab
    from gptlab_desktop.services.chat import SessionEngine
    from gptlab_desktop.services.llm import LlmClient
    from gptlab_desktop.services.secrets import SecretStore
    from gptlab_desktop.services.session_library import SessionLibrary
    from gptlab_desktop.services.store.base import Store
    from gptlab_desktop.services.tokens import TokenCounter
    from gptlab_desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)

PROGRAM = "gptlab-desktop"
# How long --smoke lets the event loop run after showing the window, at least and at most.
SMOKE_RUN_SECONDS = 1.0
SMOKE_TIMEOUT_SECONDS = 30.0
# The longest the garbage collector stays paused for start-up (resume_collecting_after_start).
COLLECTOR_PAUSE_MAX_S = 30.0

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class Services:
    """Every service of one run, each built once; the window gets them as constructor arguments.

    The store is built at once (the lobby is read from it). Every other service is built on first
    use: their modules alone cost more start-up time than painting the lobby, and the account
    brings the cryptography library.
    """

    paths: AppPaths
    store: Store
    # The environment may hold OPENAI_API_KEY: never part of a repr that could reach a log.
    environ: Mapping[str, str] = field(repr=False)
    # Where secrets go; None is the system keyring that ``keyring`` picks.
    keyring_backend: KeyringBackend | None = field(default=None, repr=False)

    @functools.cached_property
    def llm(self) -> LlmClient:
        """The AI service's client; its base URL (OPENAI_BASE_URL) and maybe its key
        (OPENAI_API_KEY) come from the environment, else the account gives the saved key."""
        from gptlab_desktop.services.llm import LlmClient, LlmSettings

        return LlmClient(LlmSettings(), environ=self.environ)

    @functools.cached_property
    def tokens(self) -> TokenCounter:
        """Token counting, with tiktoken's files cached in the data directory."""
        from gptlab_desktop.services.tokens import TokenCounter

        return TokenCounter(self.paths.cache_dir / "tiktoken")

    @functools.cached_property
    def engine(self) -> SessionEngine:
        """Chat sessions: sending, streaming, storing."""
        from gptlab_desktop.services.chat import SessionEngine

        return SessionEngine(self.store, self.llm, self.tokens)

    @functools.cached_property
    def library(self) -> SessionLibrary:
        """Past sessions: listing, searching, renaming, exporting, deleting."""
        from gptlab_desktop.services.session_library import SessionLibrary

        return SessionLibrary(self.store, ender=self.engine)

    @functools.cached_property
    def lab(self) -> AssistantLab:
        """Writing assistants: create, version, try, import and export."""
        from gptlab_desktop.services.assistant_lab import AssistantLab

        return AssistantLab(self.store, self.llm)

    @functools.cached_property
    def secrets(self) -> SecretStore:
        """Named secrets in the keyring (looked up on first use)."""
        from gptlab_desktop.services.secrets import SecretStore

        return SecretStore(self.keyring_backend)

    @functools.cached_property
    def account(self) -> Account:
        """Who the user is and which API key the chat uses (environment, keyring or memory)."""
        from gptlab_desktop.services.account import Account

        return Account(self.secrets, self.store, environ=self.environ)

    async def current_user(self) -> User:
        """The user of this run (the key's, else the local user); the store must be open."""
        if not self.account.is_loaded:
            await self.account.load()
        return await self.account.current_user()

    async def warm_up(self) -> None:
        """Load the Markdown renderer and the OpenAI client off the loop.

        So that neither the first message shown nor the first reply stalls the window. The
        tokenizer is not among them: a request is counted only near a limit (``context.py``),
        and its ~50 MB load only then, in a worker thread.
        """
        from gptlab_desktop.services.aio import run_blocking
        from gptlab_desktop.ui.markdown import warm_up as warm_up_markdown

        await asyncio.gather(run_blocking(warm_up_markdown), self.llm.warm_up())

    async def release(self) -> None:
        """Close the AI service's connections (the window closes the store after this)."""
        if "llm" in self.__dict__:  # built: there may be connections
            await self.llm.aclose()


def build_services(
    paths: AppPaths,
    environ: Mapping[str, str] | None = None,
    *,
    keyring_backend: KeyringBackend | None = None,
) -> Services:
    """The services of a run on the store in ``paths``; cheap: nothing is opened or imported
    beyond the store's module (the rest is built on first use).

    ``keyring_backend`` is where secrets go; None is the system keyring that ``keyring`` picks
    (looked up on first use, after the first paint). Tests pass an in-memory stand-in.
    """
    from gptlab_desktop.services.store.sqlite import SqliteStore

    env = dict(os.environ if environ is None else environ)
    return Services(paths, SqliteStore(paths.database_file), env, keyring_backend)


def build_settings(paths: AppPaths) -> QSettings:
    """The app's INI settings in the data directory, private like everything else there."""
    from PySide6.QtCore import QSettings

    # Qt saves by replacing the file and keeps an existing file's permissions.
    create_private_file(paths.settings_file)
    return QSettings(str(paths.settings_file), QSettings.Format.IniFormat)


def build_main_window(services: Services) -> MainWindow:
    """The main window on these services (a QApplication must exist)."""
    from gptlab_desktop.ui.main_window import MainWindow

    return MainWindow(
        services.store,
        build_settings(services.paths),
        engine=lambda: services.engine,
        library=lambda: services.library,
        lab=lambda: services.lab,
        account=lambda: services.account,
        use_api_key=lambda key: services.llm.use_api_key(key),
        base_url=lambda: services.llm.base_url,
        token_counter=lambda: services.tokens,
        warm_up=services.warm_up,
        release=services.release,
    )


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
    paths = app_paths(args.data_dir)
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
    # Paused for start-up; resume_collecting_after_start resumes it once the window has started.
    gc.disable()
    try:
        return _run_gui(paths, is_smoke=args.smoke)
    except Exception:
        log.exception("GPT Lab Desktop stopped on an unexpected error")
        print(f"{PROGRAM}: stopped on an unexpected error; see {paths.log_file}", file=sys.stderr)
        return 1
    finally:
        gc.enable()
        log.info("Stopped")
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run_gui(paths: AppPaths, *, is_smoke: bool) -> int:
    # Qt and the services are imported only now, so --version and usage errors stay instant.
    from PySide6.QtWidgets import QApplication

    from gptlab_desktop.ui.pyside_imports import scan_sources_cheaply

    # Before anything else is imported: PySide6 scans the source of every module imported after
    # it, and would keep each one in memory for the whole run.
    scan_sources_cheaply()
    import qasync

    from gptlab_desktop.ui.main_window import APP_TITLE

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([PROGRAM])
    app.setApplicationName(PROGRAM)
    app.setApplicationDisplayName(APP_TITLE)
    app.setApplicationVersion(__version__)
    # The window's closed signal ends the run, after the store has been closed.
    quits_on_last_window = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)

    # Python 3.11 has no asyncio.run(loop_factory=...): build the loop by hand.
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # qasync's run_forever skips asyncio's own set-up: without these hooks an async generator
    # left early (a stream the user stopped) fails when it is finalised.
    previous_hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,
        finalizer=loop._asyncgen_finalizer_hook,
    )
    failures = _FailureRecorder()
    loop.set_exception_handler(failures.asyncio_handler)
    previous_excepthook = sys.excepthook
    sys.excepthook = failures.excepthook

    window = build_main_window(build_services(paths))
    try:
        status = loop.run_until_complete(_run_window(window, is_smoke=is_smoke))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        sys.excepthook = previous_excepthook
        loop.close()
        asyncio.set_event_loop(None)
        sys.set_asyncgen_hooks(*previous_hooks)
        app.setQuitOnLastWindowClosed(quits_on_last_window)
    if is_smoke and failures.count:
        print(f"{PROGRAM}: smoke run saw {failures.count} unhandled error(s)", file=sys.stderr)
        return 1
    return status


async def _run_window(window: MainWindow, *, is_smoke: bool) -> int:
    """Show the window, start its data, and run until it has closed."""
    from gptlab_desktop.services.aio import run_blocking
    from gptlab_desktop.services.showcase import load_showcase_entries

    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    window.closed.connect(on_closed)
    shown_at = time.monotonic()
    window.show()
    # Reading and validating the shipped files is disk and CPU work: off the event loop, which
    # paints the (still empty) window meanwhile.
    started = window.start(await run_blocking(load_showcase_entries))
    collecting = asyncio.ensure_future(resume_collecting_after_start(window, started))
    try:
        if not is_smoke:
            await closed
            return 0
        problems = await _smoke_check(window, started)
        # Let the loop run (painting, the sessions load) for the rest of the smoke second.
        await asyncio.sleep(max(0.0, SMOKE_RUN_SECONDS - (time.monotonic() - shown_at)))
        window.close()
        await closed
    finally:
        collecting.cancel()
    for problem in problems:
        print(f"{PROGRAM}: smoke run failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


async def resume_collecting_after_start(window: MainWindow, started: asyncio.Task[Any]) -> None:
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
        if window.warm_up_task is not None:
            await asyncio.wait([window.warm_up_task], timeout=max(0.0, deadline - time.monotonic()))
    finally:
        gc.freeze()
        gc.enable()


async def _smoke_check(window: MainWindow, started: asyncio.Task[Any]) -> list[str]:
    """What went wrong starting up, as sentences; empty when the lobby filled."""
    try:
        health = await asyncio.wait_for(asyncio.shield(started), SMOKE_TIMEOUT_SECONDS)
    except Exception as error:
        log.exception("Smoke run: start-up failed")
        return [f"start-up failed ({type(error).__name__})"]
    if not health.is_usable:
        return [f"the store is not usable: {health.problem}"]
    if window.lobby_model.rowCount() == 0:
        return ["the lobby is empty"]
    if window.current_user is None:
        return ["no user record"]
    warm_up = window.warm_up_task
    if warm_up is None:
        return ["the chat services were not warmed up"]
    try:
        await asyncio.wait_for(asyncio.shield(warm_up), SMOKE_TIMEOUT_SECONDS)
    except Exception as error:
        return [f"warming up the chat services failed ({type(error).__name__})"]
    return []
