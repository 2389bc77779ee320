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
  stops the start with the reason (``ConfigError``), rather than setting up a second history.

Where a library itself reads a variable (tiktoken its cache folder), ``apply_to_libraries``
sets it here, once, instead of a service doing so behind the caller's back.

Qt-free and cheap: it runs before the first paint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gptlab_desktop.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from gptlab_desktop.services.recovery_kit import RecoveryKit

BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"
TIKTOKEN_CACHE_ENV = "TIKTOKEN_CACHE_DIR"
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
class AppConfig:
    """The resolved configuration of one run."""

    paths: AppPaths
    ai: AiEndpoint = field(default_factory=AiEndpoint)
    # Where tiktoken's files live; None: the app's cache folder.
    tiktoken_cache_dir: Path | None = None
    # GPTLAB_RECOVERY_KIT, read; None: a first machine makes a new secret key. Its repr is safe,
    # but it is a secret's holder, so it stays out of this one's.
    recovery_kit: RecoveryKit | None = field(default=None, repr=False)

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
    return AiEndpoint(
        base_url=_value(environ, BASE_URL_ENV) or OPENAI_BASE_URL,
        env_api_key=_value(environ, API_KEY_ENV),
    )


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
    return AppConfig(
        paths=app_paths(data_dir, env),
        ai=resolve_ai_endpoint(env),
        tiktoken_cache_dir=Path(tiktoken_dir) if tiktoken_dir else None,
        recovery_kit=resolve_recovery_kit(env),
    )


def apply_to_libraries(config: AppConfig, environ: MutableMapping[str, str] | None = None) -> None:
    """Set the variables that libraries read themselves (tiktoken's cache folder)."""
    env = os.environ if environ is None else environ
    env[TIKTOKEN_CACHE_ENV] = str(config.tokenizer_cache_dir)
