"""The Settings window's typed settings: provider profiles, chat defaults, what was learned.

Kept in the data directory's ``preferences.json`` (``AppPaths.preferences_file``), private to
the user (0600) and written whole or not at all; never a secret (provider keys live in the
keyring, ``services/provider_keys.py``). Every value is validated when read: a damaged or
half-valid file never stops the app, it gives the defaults for what cannot be used and says so
in the log.

Besides what the user chose, the file remembers what the app learned per provider: the
substitute the user picked for a model a provider does not serve, and a context window a
server named in an error ("maximum context length is N tokens").

Qt-free and cheap: read once before the first paint.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from gptlab_desktop.models import SessionType

log = logging.getLogger(__name__)

PREFERENCES_VERSION = 1
_T = TypeVar("_T")
NAME_MAX_CHARS = 40


class ProviderKind(StrEnum):
    """Which protocol a provider speaks (and so which client serves it)."""

    OPENAI = "openai"  # OpenAI's own API
    OPENAI_COMPATIBLE = "openai_compatible"  # any server speaking it (Ollama, llama.cpp, …)
    GEMINI = "gemini"  # Google Gemini, through its OpenAI-compatible endpoint
    ANTHROPIC = "anthropic"  # Anthropic's Messages API, through the anthropic SDK

    @property
    def speaks_openai(self) -> bool:
        """Whether the OpenAI-compatible client serves it."""
        return self is not ProviderKind.ANTHROPIC


@dataclass(frozen=True, slots=True)
class ProviderPreset:
    """A kind of server people run, with its usual address and key habits."""

    id: str
    label: str
    kind: ProviderKind
    base_url: str
    needs_key: bool
    # The key a server that needs none is sent (its documentation's placeholder).
    placeholder_key: str = ""
    # The port it listens on by default on this machine, for discovery (None: not local).
    local_port: int | None = None
    # Where the user gets a key, in words (the key dialog says it).
    key_hint: str = ""
    # Whether it answers whatever model is named (llama.cpp serves the one it loaded).
    serves_any_model: bool = False


PRESETS: tuple[ProviderPreset, ...] = (
    ProviderPreset(
        "openai",
        "OpenAI",
        ProviderKind.OPENAI,
        "https://api.openai.com/v1",
        needs_key=True,
        key_hint="Create a key in your OpenAI account under API keys.",
    ),
    ProviderPreset(
        "anthropic",
        "Anthropic",
        ProviderKind.ANTHROPIC,
        "https://api.anthropic.com",
        needs_key=True,
        key_hint="Create a key in the Anthropic Console under API keys.",
    ),
    ProviderPreset(
        "gemini",
        "Google Gemini",
        ProviderKind.GEMINI,
        "https://generativelanguage.googleapis.com/v1beta/openai",
        needs_key=True,
        key_hint="Create a key in Google AI Studio.",
    ),
    ProviderPreset(
        "openrouter",
        "OpenRouter",
        ProviderKind.OPENAI_COMPATIBLE,
        "https://openrouter.ai/api/v1",
        needs_key=True,
        key_hint="Create a key in your OpenRouter account under Keys.",
    ),
    ProviderPreset(
        "ollama",
        "Ollama",
        ProviderKind.OPENAI_COMPATIBLE,
        "http://127.0.0.1:11434/v1",
        needs_key=False,
        placeholder_key="ollama",
        local_port=11434,
    ),
    ProviderPreset(
        "lmstudio",
        "LM Studio",
        ProviderKind.OPENAI_COMPATIBLE,
        "http://127.0.0.1:1234/v1",
        needs_key=False,
        placeholder_key="lm-studio",
        local_port=1234,
    ),
    ProviderPreset(
        "llamacpp",
        "llama.cpp",
        ProviderKind.OPENAI_COMPATIBLE,
        "http://127.0.0.1:8080/v1",
        needs_key=False,
        placeholder_key="EMPTY",
        local_port=8080,
        serves_any_model=True,
    ),
    ProviderPreset(
        "vllm",
        "vLLM",
        ProviderKind.OPENAI_COMPATIBLE,
        "http://127.0.0.1:8000/v1",
        needs_key=False,
        placeholder_key="EMPTY",
    ),
    ProviderPreset(
        "custom",
        "Other OpenAI-compatible server",
        ProviderKind.OPENAI_COMPATIBLE,
        "http://127.0.0.1:8000/v1",
        needs_key=False,
        placeholder_key="EMPTY",
    ),
)
_PRESETS_BY_ID = {preset.id: preset for preset in PRESETS}


def preset(preset_id: str) -> ProviderPreset:
    """The preset called ``preset_id`` (an unknown one is the custom compatible server)."""
    return _PRESETS_BY_ID.get(preset_id, _PRESETS_BY_ID["custom"])


@dataclass(frozen=True, slots=True)
class Prices:
    """What a provider charges, in US dollars per million tokens (read and written)."""

    input_usd_per_million: float
    output_usd_per_million: float


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """One provider the user set up: a name, a kind of server, its address (its key is in
    the keyring under the profile's id)."""

    id: str
    name: str
    preset_id: str
    base_url: str
    # What it charges, where the user said so (OpenAI's list prices are known without).
    prices: Prices | None = None
    # Defined by OPENAI_BASE_URL / OPENAI_API_KEY for this run: shown, not editable, not saved.
    is_environment: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        object.__setattr__(self, "name", self.name.strip())

    @property
    def preset(self) -> ProviderPreset:
        """The kind of server this is."""
        return preset(self.preset_id)

    @property
    def kind(self) -> ProviderKind:
        """The protocol it speaks."""
        return self.preset.kind

    @property
    def needs_key(self) -> bool:
        """Whether requests fail without a key."""
        return self.preset.needs_key

    def problems(self) -> dict[str, str]:
        """Every field that cannot be used, with a sentence a user understands."""
        found: dict[str, str] = {}
        if not self.name:
            found["name"] = "Give the provider a name."
        elif len(self.name) > NAME_MAX_CHARS or _CONTROL.search(self.name):
            found["name"] = f"A name has at most {NAME_MAX_CHARS} printable characters."
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found["base_url"] = (
                "The address starts with http:// or https:// and names a server, "
                "e.g. http://127.0.0.1:11434/v1."
            )
        if self.prices is not None and (
            self.prices.input_usd_per_million < 0 or self.prices.output_usd_per_million < 0
        ):
            found["prices"] = "Prices cannot be negative."
        return found


# The profile every install starts with: OpenAI, with the key the app always kept
# (``SecretName.OPENAI_API_KEY``; ``OPENAI_API_KEY`` in the environment wins).
OPENAI_PROFILE_ID = "openai"
BUILT_IN_OPENAI = ProviderProfile(OPENAI_PROFILE_ID, "OpenAI", "openai", preset("openai").base_url)

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class ChatDefaults:
    """How new chats start."""

    # The model new chats use instead of the assistant's ("" keeps the assistant's).
    model: str = ""
    # The session type new assistants get in the editor.
    session_type: SessionType = SessionType.BRAINSTORMING
    # Whether a chat is given a title suggested by the model after its first exchange.
    titles: bool = True
    # Whether the user's messages are checked by the provider's moderation (a warning only).
    moderation: bool = True


@dataclass(frozen=True, slots=True)
class Preferences:
    """Everything ``preferences.json`` holds."""

    profiles: tuple[ProviderProfile, ...] = (BUILT_IN_OPENAI,)
    # The profile new chats use ("" : the first one, or the environment's when it is set).
    default_profile_id: str = ""
    chat: ChatDefaults = field(default_factory=ChatDefaults)
    # The substitute chosen for a model a provider does not serve: {profile: {model: model}}.
    substitutes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Context windows servers named in errors: {profile: {model: tokens}}.
    learned_context_windows: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # Whether local servers were looked for already (first run only).
    looked_for_local_servers: bool = False

    def profile(self, profile_id: str) -> ProviderProfile | None:
        """The saved profile with that id."""
        return next((each for each in self.profiles if each.id == profile_id), None)

    def with_profile(self, profile: ProviderProfile) -> Preferences:
        """These preferences with ``profile`` added, or replacing the one with its id."""
        kept = tuple(each for each in self.profiles if each.id != profile.id)
        if len(kept) == len(self.profiles):
            return replace(self, profiles=(*self.profiles, profile))
        return replace(
            self,
            profiles=tuple(profile if each.id == profile.id else each for each in self.profiles),
        )

    def without_profile(self, profile_id: str) -> Preferences:
        """These preferences without that profile, nor anything learned about it."""
        return replace(
            self,
            profiles=tuple(each for each in self.profiles if each.id != profile_id),
            default_profile_id=""
            if self.default_profile_id == profile_id
            else self.default_profile_id,
            substitutes=_without(self.substitutes, profile_id),
            learned_context_windows=_without(self.learned_context_windows, profile_id),
        )

    def with_substitute(self, profile_id: str, model: str, substitute: str) -> Preferences:
        """Remember that ``substitute`` stands in for ``model`` on that provider."""
        return replace(self, substitutes=_with(self.substitutes, profile_id, model, substitute))

    def with_context_window(self, profile_id: str, model: str, tokens: int) -> Preferences:
        """Remember the context window a server named for ``model``."""
        return replace(
            self,
            learned_context_windows=_with(self.learned_context_windows, profile_id, model, tokens),
        )

    # -- the file ----------------------------------------------------------------------------
    def to_json(self) -> str:
        """The preferences as ``preferences.json`` holds them (the environment's profile is
        this run's only, never saved)."""
        data = {
            "version": PREFERENCES_VERSION,
            "profiles": [
                _profile_to_dict(profile) for profile in self.profiles if not profile.is_environment
            ],
            "default_profile_id": self.default_profile_id,
            "chat": {
                "model": self.chat.model,
                "session_type": int(self.chat.session_type),
                "titles": self.chat.titles,
                "moderation": self.chat.moderation,
            },
            "substitutes": {key: dict(value) for key, value in self.substitutes.items()},
            "learned_context_windows": {
                key: dict(value) for key, value in self.learned_context_windows.items()
            },
            "looked_for_local_servers": self.looked_for_local_servers,
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Preferences:
        """Preferences from ``to_json``'s text, keeping what is valid; ``ValueError`` when the
        text is no JSON object at all."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("preferences.json holds an object")
        if "profiles" not in data:
            data["profiles"] = [_profile_to_dict(BUILT_IN_OPENAI)]
        profiles: list[ProviderProfile] = []
        for entry in data.get("profiles") or ():
            profile = _profile_from(entry)
            if profile is None or profile.problems() or any(p.id == profile.id for p in profiles):
                log.warning("A provider in preferences.json cannot be used; it is left out")
                continue
            profiles.append(profile)
        chat = data.get("chat") if isinstance(data.get("chat"), dict) else {}
        return cls(
            profiles=tuple(profiles),
            default_profile_id=_text(data.get("default_profile_id")),
            chat=ChatDefaults(
                model=_text(chat.get("model")),
                session_type=_session_type(chat.get("session_type")),
                titles=chat.get("titles") is not False,
                moderation=chat.get("moderation") is not False,
            ),
            substitutes=_nested(data.get("substitutes"), str),
            learned_context_windows=_nested(data.get("learned_context_windows"), int),
            looked_for_local_servers=data.get("looked_for_local_servers") is True,
        )


def read_preferences(path: Path) -> Preferences:
    """The saved preferences; the defaults when there are none or the file cannot be read."""
    try:
        return Preferences.from_json(path.read_text("utf-8"))
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError) as error:
        log.warning("The preferences could not be read (%s); using the defaults", error)
        return Preferences()


def write_preferences(path: Path, preferences: Preferences) -> None:
    """Save the preferences whole or not at all, private to the user (blocking: from the event
    loop through ``run_blocking``)."""
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(preferences.to_json() + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


# -- reading, value by value -----------------------------------------------------------------
def _profile_to_dict(profile: ProviderProfile) -> dict[str, object]:
    data: dict[str, object] = {
        "id": profile.id,
        "name": profile.name,
        "preset": profile.preset_id,
        "base_url": profile.base_url,
    }
    if profile.prices is not None:
        data["prices"] = [
            profile.prices.input_usd_per_million,
            profile.prices.output_usd_per_million,
        ]
    return data


def _profile_from(entry: object) -> ProviderProfile | None:
    if not isinstance(entry, dict):
        return None
    profile_id, name = _text(entry.get("id")), _text(entry.get("name"))
    base_url, preset_id = _text(entry.get("base_url")), _text(entry.get("preset"))
    if not profile_id or preset_id not in _PRESETS_BY_ID:
        return None
    prices = None
    raw = entry.get("prices")
    if isinstance(raw, list) and len(raw) == 2 and all(_is_number(each) for each in raw):
        prices = Prices(float(raw[0]), float(raw[1]))
    return ProviderProfile(profile_id, name, preset_id, base_url, prices=prices)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _session_type(value: object) -> SessionType:
    try:
        return SessionType(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return SessionType.BRAINSTORMING


def _nested(value: object, kind: type[_T]) -> dict[str, dict[str, _T]]:
    """``{profile: {model: value}}`` keeping only entries of the right types."""
    if not isinstance(value, dict):
        return {}
    kept: dict[str, dict[str, _T]] = {}
    for profile_id, models in value.items():
        if not isinstance(profile_id, str) or not isinstance(models, dict):
            continue
        entries = {
            model: item
            for model, item in models.items()
            if isinstance(model, str)
            and isinstance(item, kind)
            and not isinstance(item, bool)
            and (not isinstance(item, int) or item > 0)
        }
        if entries:
            kept[profile_id] = entries
    return kept


def _with(
    table: Mapping[str, Mapping[str, _T]], profile_id: str, model: str, value: _T
) -> dict[str, dict[str, _T]]:
    copy = {key: dict(entries) for key, entries in table.items()}
    copy.setdefault(profile_id, {})[model] = value
    return copy


def _without(table: Mapping[str, Mapping[str, _T]], profile_id: str) -> dict[str, dict[str, _T]]:
    return {key: dict(entries) for key, entries in table.items() if key != profile_id}
