"""Every setting of a run, resolved once: the command line and the environment become typed values.

``app.py`` calls ``resolve_config`` at start-up and passes the parts on; no service reads the
environment. The environment variables the app understands:

* ``GPTLAB_DATA_DIR`` — the data directory (``--data-dir`` wins; ``paths.py``);
* ``OPENAI_BASE_URL`` — the AI server (default: OpenAI's own API);
* ``OPENAI_API_KEY`` — a key to use without saving it (it wins over the saved key);
* ``TIKTOKEN_CACHE_DIR`` — where tiktoken keeps its encoding files (default: the app's cache);
* ``GPTLAB_RECOVERY_KIT`` — a recovery kit's text (user id and secret key, never the
  passphrase): on a first machine it is used instead of a new secret key, on another it joins
  the encrypted history it opens (``services/vault.py``). A kit that does not read (a typo)
  stops the start with the reason (``ConfigError``), rather than setting up a second history;
* ``GPTLAB_STORAGE`` — ``local`` (the default), ``firestore`` (the user's own project) or
  ``shared`` (a team's shared project, signed in with Firebase Authentication);
* ``GPTLAB_FIRESTORE_PROJECT``, ``GPTLAB_FIRESTORE_DATABASE`` — that project, and its database
  (default ``(default)``);
* ``GPTLAB_FIREBASE_API_KEY`` — the shared project's Web API key (a team hands it out with the
  project id; it names the project to Firebase Authentication and is not a secret);
* ``FIRESTORE_EMULATOR_HOST`` — a Firestore emulator's ``host:port`` instead of Google's
  servers (the Firestore client library reads it itself, and then sends no user's credentials:
  a shared project is never reached through it);
* ``FIREBASE_AUTH_EMULATOR_HOST`` — a Firebase Authentication emulator's ``host:port`` instead
  of Google's sign-in servers (as Firebase's own SDKs read it);
* ``GPTLAB_FIRESTORE_ENDPOINT`` — the ``host:port`` the Firestore client connects to instead
  of Google's (its ``api_endpoint``, over TLS: a regional endpoint, a proxy, a test's TLS front);
* ``GPTLAB_LOCAL_SERVERS`` — where to look for local AI servers on the first run, as
  ``preset=base_url`` pairs separated by commas (``ollama=http://127.0.0.1:11434/v1,…``;
  ``none`` looks nowhere). Default: Ollama, LM Studio and llama.cpp on their usual ports.

``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``, where set, define a provider profile named
"Environment" (``environment_profile``) that new chats use by default; the profiles the user
set up in Settings → Providers live in ``preferences.json`` (``preferences.py``).

The storage choice made in Settings → Storage… lives in the data directory's ``storage.json``
(``read_storage_settings``); a variable set in the environment wins over it for this run.

Where a library itself reads a variable (tiktoken its cache folder), ``apply_to_libraries``
sets it here, once, instead of a service doing so behind the caller's back.

Qt-free and cheap: it runs before the first paint.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gptlab_desktop.paths import AppPaths, app_paths
from gptlab_desktop.preferences import (
    PRESETS,
    Preferences,
    ProviderProfile,
    read_preferences,
)

if TYPE_CHECKING:
    from gptlab_desktop.services.recovery_kit import RecoveryKit

BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"
TIKTOKEN_CACHE_ENV = "TIKTOKEN_CACHE_DIR"
STORAGE_ENV = "GPTLAB_STORAGE"
FIRESTORE_PROJECT_ENV = "GPTLAB_FIRESTORE_PROJECT"
FIRESTORE_DATABASE_ENV = "GPTLAB_FIRESTORE_DATABASE"
FIRESTORE_EMULATOR_ENV = "FIRESTORE_EMULATOR_HOST"
FIREBASE_API_KEY_ENV = "GPTLAB_FIREBASE_API_KEY"
AUTH_EMULATOR_ENV = "FIREBASE_AUTH_EMULATOR_HOST"
FIRESTORE_ENDPOINT_ENV = "GPTLAB_FIRESTORE_ENDPOINT"
LOCAL_SERVERS_ENV = "GPTLAB_LOCAL_SERVERS"
# The id of the profile OPENAI_BASE_URL / OPENAI_API_KEY define for a run.
ENVIRONMENT_PROFILE_ID = "environment"
DEFAULT_FIRESTORE_DATABASE = "(default)"

log = logging.getLogger(__name__)
RECOVERY_KIT_ENV = "GPTLAB_RECOVERY_KIT"

OPENAI_BASE_URL = "https://api.openai.com/v1"


def is_openai_url(url: str | None) -> bool:
    """Whether ``url`` (None: the default) is OpenAI's own API — the one place that decides.

    OpenAI's API needs a key and lists many models that are not chat models; compatible servers
    (Ollama, LM Studio, vLLM, llama.cpp) often need no key and serve what they list.
    """
    host = urlsplit((url or OPENAI_BASE_URL).strip()).hostname
    return host == urlsplit(OPENAI_BASE_URL).hostname


class ConfigError(ValueError):
    """A setting's value cannot be used; the sentence names the setting and why, never a secret."""


@dataclass(frozen=True, slots=True)
class AiEndpoint:
    """The AI server of this run and the key the environment gives for it, if any."""

    base_url: str = OPENAI_BASE_URL
    # OPENAI_API_KEY: a secret, so never part of a repr that could reach a log.
    env_api_key: str | None = field(default=None, repr=False)
    # Whether OPENAI_BASE_URL was set (else base_url is OpenAI's default).
    env_base_url: bool = False

    @property
    def is_from_environment(self) -> bool:
        """Whether the environment names a server or a key."""
        return self.env_base_url or self.env_api_key is not None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))

    @property
    def is_openai(self) -> bool:
        """Whether this is OpenAI's own API (which needs a key)."""
        return is_openai_url(self.base_url)

    @property
    def needs_key(self) -> bool:
        """Whether requests fail without a key (compatible servers may need none)."""
        return self.is_openai


@dataclass(frozen=True, slots=True)
class LocalServer:
    """Where a local AI server may be listening (looked for on the first run)."""

    preset_id: str
    base_url: str


def default_local_servers() -> tuple[LocalServer, ...]:
    """The usual addresses of the local servers people run (the presets with a local port)."""
    return tuple(
        LocalServer(each.id, f"http://127.0.0.1:{each.local_port}/v1")
        for each in PRESETS
        if each.local_port is not None
    )


class StorageMode(StrEnum):
    """Where the user's data is kept (the value is what ``GPTLAB_STORAGE`` takes)."""

    LOCAL = "local"  # one SQLite file on this machine
    FIRESTORE = "firestore"  # the user's own Firestore project, cached in that SQLite file
    # A team's shared project, as the signed-in user, cached in a SQLite file of that account's
    SHARED = "shared"


class CloudCredentials(StrEnum):
    """How the app signs in to the user's Firestore project."""

    APPLICATION_DEFAULT = "application_default"  # gcloud's Application Default Credentials
    SERVICE_ACCOUNT = "service_account"  # a service-account key, kept in the keyring


@dataclass(frozen=True, slots=True)
class SharedAccount:
    """Who is signed in to a shared project (no token: those live in the keyring)."""

    uid: str
    email: str = ""
    display_name: str = ""

    @property
    def label(self) -> str:
        """How the account is named to the user."""
        return self.display_name or self.email or "a guest (anonymous)"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where the data is kept: local only, the user's Firestore project, or a team's shared
    project (never a secret: the shared project's Web API key is not one)."""

    mode: StorageMode = StorageMode.LOCAL
    project_id: str = ""
    database_id: str = DEFAULT_FIRESTORE_DATABASE
    credentials: CloudCredentials = CloudCredentials.APPLICATION_DEFAULT
    # The shared project's Web API key (Firebase Authentication's name for the project).
    firebase_api_key: str = ""
    # The account signed in to the shared project, if any: its cache is its own file.
    account: SharedAccount | None = None
    # ``host:port`` of a Firestore emulator (development and tests): no credentials needed.
    emulator_host: str | None = None
    # ``host:port`` of a Firebase Authentication emulator (development and tests).
    auth_emulator_host: str | None = None
    # The Firestore client's ``api_endpoint`` instead of Google's (TLS), e.g. a test's front.
    firestore_endpoint: str | None = None

    @property
    def is_shared(self) -> bool:
        """Whether this is a team's shared project (signed in with Firebase Authentication)."""
        return self.mode is StorageMode.SHARED

    @property
    def is_cloud(self) -> bool:
        """Whether a cloud store is configured (and complete enough to try)."""
        if self.is_shared:
            return bool(self.project_id and self.firebase_api_key)
        return self.mode is not StorageMode.LOCAL and bool(self.project_id)

    @property
    def signed_in_account(self) -> SharedAccount | None:
        """The shared project's account whose data this run opens (None: the local data)."""
        return self.account if self.is_cloud and self.is_shared else None

    def to_json(self) -> str:
        """The settings as ``storage.json`` holds them (the emulators and the endpoint are the
        environment's)."""
        data: dict[str, object] = {
            "mode": self.mode.value,
            "project_id": self.project_id,
            "database_id": self.database_id,
            "credentials": self.credentials.value,
            "firebase_api_key": self.firebase_api_key,
        }
        if self.account is not None:
            data["account"] = {
                "uid": self.account.uid,
                "email": self.account.email,
                "display_name": self.account.display_name,
            }
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> StorageSettings:
        """Settings from ``to_json``'s text; ``ValueError`` when it is not that."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("storage.json holds an object")
        return cls(
            mode=StorageMode(data.get("mode", StorageMode.LOCAL.value)),
            project_id=str(data.get("project_id", "")).strip(),
            database_id=str(data.get("database_id") or DEFAULT_FIRESTORE_DATABASE).strip(),
            credentials=CloudCredentials(
                data.get("credentials", CloudCredentials.APPLICATION_DEFAULT.value)
            ),
            firebase_api_key=str(data.get("firebase_api_key", "")).strip(),
            account=_account_from(data.get("account")),
        )


def _account_from(value: object) -> SharedAccount | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not str(value.get("uid", "")).strip():
        raise ValueError("storage.json's account has a uid")
    return SharedAccount(
        uid=str(value["uid"]).strip(),
        email=str(value.get("email", "")),
        display_name=str(value.get("display_name", "")),
    )


def read_storage_settings(path: Path) -> StorageSettings:
    """The storage chosen in Settings (``storage.json``); local only when none or unreadable.

    A damaged file is not fatal: the app opens its local data, and says so in the log.
    """
    try:
        return StorageSettings.from_json(path.read_text("utf-8"))
    except FileNotFoundError:
        return StorageSettings()
    except (OSError, ValueError) as error:
        log.warning("The storage settings could not be read (%s); using local storage", error)
        return StorageSettings()


def write_storage_settings(path: Path, settings: StorageSettings) -> None:
    """Save the storage choice to ``storage.json``, whole or not at all, private to the user
    (blocking: from the event loop, through ``run_blocking``)."""
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(settings.to_json() + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def resolve_storage(saved: StorageSettings, environ: Mapping[str, str]) -> StorageSettings:
    """The saved storage settings with the environment's overrides applied."""
    settings = saved
    mode = _value(environ, STORAGE_ENV)
    if mode is not None:
        try:
            settings = replace(settings, mode=StorageMode(mode.lower()))
        except ValueError:
            log.warning("%s=%r is not local, firestore or shared; ignored", STORAGE_ENV, mode)
    project = _value(environ, FIRESTORE_PROJECT_ENV)
    if project is not None and project != settings.project_id:
        # Another project: the account signed in to the saved one is not this one's.
        settings = replace(settings, project_id=project, account=None)
    database = _value(environ, FIRESTORE_DATABASE_ENV)
    if database is not None:
        settings = replace(settings, database_id=database)
    api_key = _value(environ, FIREBASE_API_KEY_ENV)
    if api_key is not None:
        settings = replace(settings, firebase_api_key=api_key)
    return replace(
        settings,
        emulator_host=_value(environ, FIRESTORE_EMULATOR_ENV),
        auth_emulator_host=_value(environ, AUTH_EMULATOR_ENV),
        firestore_endpoint=_value(environ, FIRESTORE_ENDPOINT_ENV),
    )


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The resolved configuration of one run."""

    paths: AppPaths
    ai: AiEndpoint = field(default_factory=AiEndpoint)
    # Where tiktoken's files live; None: the app's cache folder.
    tiktoken_cache_dir: Path | None = None
    storage: StorageSettings = field(default_factory=StorageSettings)
    # GPTLAB_RECOVERY_KIT, read; None: a first machine makes a new secret key. Its repr is safe,
    # but it is a secret's holder, so it stays out of this one's.
    recovery_kit: RecoveryKit | None = field(default=None, repr=False)
    # The Settings window's preferences as saved when the run started (providers, chat).
    preferences: Preferences = field(default_factory=Preferences)
    # Where the first run looks for local AI servers.
    local_servers: tuple[LocalServer, ...] = field(default_factory=default_local_servers)

    @property
    def environment_profile(self) -> ProviderProfile | None:
        """The provider ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` define, if either is set."""
        return environment_profile(self.ai) if self.ai.is_from_environment else None

    @property
    def database_file(self) -> Path:
        """The SQLite file this run opens: the local data, or the cache of the account signed
        in to a shared project (its own file: a team's project never receives the local
        user's history, and two accounts never mix)."""
        account = self.storage.signed_in_account
        if account is None:
            return self.paths.database_file
        return self.paths.shared_database_file(self.storage.project_id, account.uid)

    @property
    def tokenizer_cache_dir(self) -> Path:
        """tiktoken's cache folder: the user's choice, else inside the app's cache."""
        return self.tiktoken_cache_dir or self.paths.cache_dir / "tiktoken"


def _value(environ: Mapping[str, str], name: str) -> str | None:
    """An environment variable's value; blank counts as unset."""
    value = environ.get(name, "").strip()
    return value or None


def resolve_ai_endpoint(environ: Mapping[str, str]) -> AiEndpoint:
    """The AI server and the environment's key, from ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``."""
    base_url = _value(environ, BASE_URL_ENV)
    return AiEndpoint(
        base_url=base_url or OPENAI_BASE_URL,
        env_api_key=_value(environ, API_KEY_ENV),
        env_base_url=base_url is not None,
    )


def environment_profile(endpoint: AiEndpoint) -> ProviderProfile:
    """The "Environment" profile: the server and key the environment names (the preset is
    the one whose usual address it is, else OpenAI's or any compatible server)."""
    preset_id = "openai" if endpoint.is_openai else "custom"
    for each in PRESETS:
        if each.local_port is not None and urlsplit(endpoint.base_url).port == each.local_port:
            preset_id = each.id
    return ProviderProfile(
        ENVIRONMENT_PROFILE_ID,
        "Environment",
        preset_id,
        endpoint.base_url,
        is_environment=True,
    )


def resolve_local_servers(environ: Mapping[str, str]) -> tuple[LocalServer, ...]:
    """Where to look for local servers: ``GPTLAB_LOCAL_SERVERS``, else the usual ports."""
    value = _value(environ, LOCAL_SERVERS_ENV)
    if value is None:
        return default_local_servers()
    if value.lower() == "none":
        return ()
    known = {each.id for each in PRESETS}
    found: list[LocalServer] = []
    for pair in value.split(","):
        preset_id, _, base_url = pair.strip().partition("=")
        if preset_id.strip() in known and base_url.strip().startswith(("http://", "https://")):
            found.append(LocalServer(preset_id.strip(), base_url.strip().rstrip("/")))
        else:
            log.warning("%s: %r is not preset=http://host:port/v1", LOCAL_SERVERS_ENV, pair)
    return tuple(found)


def resolve_recovery_kit(environ: Mapping[str, str]) -> RecoveryKit | None:
    """The recovery kit in ``GPTLAB_RECOVERY_KIT``, or None; ``ConfigError`` if it does not read."""
    text = _value(environ, RECOVERY_KIT_ENV)
    if text is None:
        return None
    # Imported only when set: --version and a plain start stay as cheap as before.
    from gptlab_desktop.services.recovery_kit import RecoveryKit

    try:
        return RecoveryKit.parse(text)
    except ValueError as error:
        raise ConfigError(f"{RECOVERY_KIT_ENV} cannot be used: {error}") from None


def resolve_config(
    data_dir: str | None = None, environ: Mapping[str, str] | None = None
) -> AppConfig:
    """The configuration of a run: ``--data-dir`` (``data_dir``) and the environment.

    Raises ``ConfigError`` when a value cannot be used (``GPTLAB_RECOVERY_KIT``).
    """
    env = os.environ if environ is None else environ
    tiktoken_dir = _value(env, TIKTOKEN_CACHE_ENV)
    paths = app_paths(data_dir, env)
    return AppConfig(
        paths=paths,
        ai=resolve_ai_endpoint(env),
        tiktoken_cache_dir=Path(tiktoken_dir) if tiktoken_dir else None,
        storage=resolve_storage(read_storage_settings(paths.storage_file), env),
        recovery_kit=resolve_recovery_kit(env),
        preferences=read_preferences(paths.preferences_file),
        local_servers=resolve_local_servers(env),
    )


def apply_to_libraries(config: AppConfig, environ: MutableMapping[str, str] | None = None) -> None:
    """Set the variables that libraries read themselves (tiktoken's cache folder, and the
    Firestore emulator's address, which the Firestore client looks up on its own)."""
    env = os.environ if environ is None else environ
    env[TIKTOKEN_CACHE_ENV] = str(config.tokenizer_cache_dir)
    if config.storage.is_shared:
        # The client would send no user's credentials while it is set (rules bypassed): a
        # shared project is reached as the signed-in user, through GPTLAB_FIRESTORE_ENDPOINT.
        if env.pop(FIRESTORE_EMULATOR_ENV, None) is not None:
            log.warning(
                "%s is ignored for a shared project; set %s to reach an emulator through TLS",
                FIRESTORE_EMULATOR_ENV,
                FIRESTORE_ENDPOINT_ENV,
            )
    elif config.storage.emulator_host:
        env[FIRESTORE_EMULATOR_ENV] = config.storage.emulator_host
