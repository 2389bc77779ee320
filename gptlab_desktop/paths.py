"""Every file and directory the app uses, decided in this one module.

The data directory comes from ``--data-dir``, else the ``GPTLAB_DATA_DIR`` environment variable,
else the platform's per-user data directory. Everything else lives inside it — the database, the
settings (an INI file, so a test or a second ``--data-dir`` never shares the user's settings),
the cache and the log — so one directory is the whole state of one installation.

Qt-free, so ``--version`` and the command-line parsing stay instant.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "gptlab-desktop"
DATA_DIR_ENV = "GPTLAB_DATA_DIR"

# Private: transcripts, settings and logs belong to the user alone.
_DIR_MODE = 0o700
_FILE_MODE = 0o600


@dataclass(frozen=True, slots=True)
class AppPaths:
    """The app's locations, all derived from one data directory."""

    data_dir: Path

    @property
    def database_file(self) -> Path:
        """The SQLite database (the default store, and the cache of every other backend)."""
        return self.data_dir / "gptlab.sqlite3"

    def shared_database_file(self, project_id: str, uid: str) -> Path:
        """The cache of one account of a shared project: a file of its own, so the local
        data never reaches a team's project and two accounts never mix."""
        return self.data_dir / "shared" / _file_name(project_id) / f"{_file_name(uid)}.sqlite3"

    @property
    def settings_file(self) -> Path:
        """The INI file behind ``QSettings`` (window geometry, preferences)."""
        return self.data_dir / "settings.ini"

    @property
    def preferences_file(self) -> Path:
        """The typed settings of the Settings window (providers, chat defaults): JSON, 0600."""
        return self.data_dir / "preferences.json"

    @property
    def storage_file(self) -> Path:
        """Where the data is kept (local only, or a Firestore project): JSON, read before start."""
        return self.data_dir / "storage.json"

    @property
    def cache_dir(self) -> Path:
        """Files that can be rebuilt at any time."""
        return self.data_dir / "cache"

    @property
    def log_dir(self) -> Path:
        """Where the log file lives."""
        return self.data_dir / "logs"

    @property
    def log_file(self) -> Path:
        """The app's log (INFO and above; never secrets or message bodies)."""
        return self.log_dir / f"{APP_NAME}.log"


def _file_name(value: str) -> str:
    """``value`` as one safe path segment (project ids and uids are letters, digits, ``-``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in value.strip())
    if safe.strip(".") == "":
        raise ValueError(f"{value!r} cannot name a file")
    return safe


def resolve_data_dir(cli_value: str | None, environ: Mapping[str, str]) -> Path:
    """The data directory: ``--data-dir``, else ``GPTLAB_DATA_DIR``, else the platform's."""
    if cli_value:
        return Path(cli_value).expanduser().absolute()
    from_env = environ.get(DATA_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser().absolute()
    # Imported here: only needed when nothing was given, and platformdirs is not free to import.
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def app_paths(cli_value: str | None = None, environ: Mapping[str, str] | None = None) -> AppPaths:
    """The app's locations for this run (not yet created; see ``ensure_created``)."""
    return AppPaths(resolve_data_dir(cli_value, os.environ if environ is None else environ))


def ensure_created(paths: AppPaths) -> None:
    """Create the data, cache and log directories, private to the user.

    An existing directory keeps its permissions: ``--data-dir`` may name one the user made.
    """
    for directory in (paths.data_dir, paths.cache_dir, paths.log_dir):
        directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path) -> Path:
    """Create ``path`` (or keep its content) readable and writable by the user only."""
    descriptor = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, _FILE_MODE)
    try:
        # Also for a file that already existed with wider permissions: it is ours.
        os.fchmod(descriptor, _FILE_MODE)
    finally:
        os.close(descriptor)
    return path
