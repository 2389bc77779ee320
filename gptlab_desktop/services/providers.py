"""The AI providers of a run: profiles, their clients and keys, and what is known of models.

``Providers`` is the one place that knows which provider serves a chat. It holds the profiles
(the environment's, when ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` are set, then the user's from
``preferences.json``), builds one ``LlmClient`` per profile on first use — ``OpenAIClient`` for
OpenAI and every compatible server, ``AnthropicClient`` for Anthropic — and hands each the key
it needs, read from the keyring only when its first request goes out.

It also keeps what the app learns about models per provider: the context windows servers list
or name in errors, the substitute the user chose for a model a provider does not serve, and
prices (OpenAI's list prices, or the ones the user gave a profile; otherwise cost is unknown).

Background requests (titles) must never compete with a reply on the same provider: a local
server has one request slot and one prompt cache, and a side request interrupts the reply or
costs it seconds. ``busy`` marks a reply as due; ``wait_until_quiet`` waits until none is due
and the user has not typed for ``QUIET_AFTER_TYPING_S``.

Qt-free; nothing here reads the environment (``config.py`` resolved it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID, LocalServer
from gptlab_desktop.models import new_id
from gptlab_desktop.preferences import (
    OPENAI_PROFILE_ID,
    Preferences,
    ProviderKind,
    ProviderProfile,
    preset,
)
from gptlab_desktop.services.errors import LlmError, LlmTimeout
from gptlab_desktop.services.llm_api import LlmClient, LlmSettings, ModelList
from gptlab_desktop.services.model_catalog import context_window as catalog_context_window
from gptlab_desktop.services.model_catalog import estimate_cost_usd, model_facts

log = logging.getLogger(__name__)

# How long the user must not have typed before a background request goes out.
QUIET_AFTER_TYPING_S = 2.0
# A window learned from a server whose tokenizer is not ours is used with this margin: the
# app counts with tiktoken, the server with its own model's tokenizer.
FOREIGN_TOKENIZER_MARGIN = 0.85
TEST_TIMEOUT_S = 20.0
LOCAL_PROBE_TIMEOUT_S = 0.8

# Builds a profile's client: (profile, settings) -> client.
ClientFactory = Callable[[ProviderProfile, LlmSettings], LlmClient]
# Reads the key of the profiles whose key the account owns (OpenAI's, the environment's).
AccountKey = Callable[[], Awaitable[str | None]]
SavePreferences = Callable[[Preferences], Awaitable[None]]


def make_client(profile: ProviderProfile, settings: LlmSettings) -> LlmClient:
    """The client for a profile's protocol (its SDK is imported on first use, not here)."""
    if profile.kind is ProviderKind.ANTHROPIC:
        from gptlab_desktop.services.anthropic_client import AnthropicClient

        return AnthropicClient(settings)
    from gptlab_desktop.services.llm import OpenAIClient

    return OpenAIClient(settings)


def short_model_name(model: str) -> str:
    """A model's name as shown: a file's name rather than its path (llama.cpp lists paths)."""
    name = model.rstrip("/\\")
    for separator in ("/", "\\"):
        if separator in name and (name.startswith((separator, ".")) or ":" in name[:3]):
            name = name.rsplit(separator, 1)[-1]
    return name or model


@dataclass(frozen=True, slots=True)
class ProviderModels:
    """One provider's models, or why they could not be listed."""

    profile: ProviderProfile
    models: ModelList
    problem: str = ""


class ProviderKeysLike(Protocol):
    """What ``Providers`` needs of the keyring's provider keys (``ProviderKeys``)."""

    async def get(self, profile_id: str) -> str | None:
        """The saved key, or None."""
        ...

    async def save(self, profile_id: str, key: str) -> None:
        """Save a key."""
        ...

    async def forget(self, profile_id: str) -> None:
        """Forget a key."""
        ...


class _Activity:
    """Replies due on one provider, and when the last one ended."""

    def __init__(self) -> None:
        self.due = 0
        self.changed = asyncio.Event()


class Providers:
    """The run's provider profiles, their clients and what is known about their models."""

    def __init__(
        self,
        preferences: Preferences,
        *,
        environment: ProviderProfile | None = None,
        environment_key: str | None = None,
        account_key: AccountKey | None = None,
        keys: ProviderKeysLike | None = None,
        save: SavePreferences | None = None,
        client_factory: ClientFactory = make_client,
        timeout_s: float = 60.0,
    ) -> None:
        self._preferences = preferences
        self._environment = environment
        self._environment_key = environment_key
        self._account_key = account_key
        self._keys = keys
        self._save = save
        self._client_factory = client_factory
        self._timeout_s = timeout_s
        self._clients: dict[str, LlmClient] = {}
        self._activity: dict[str, _Activity] = {}
        self._last_typed = 0.0
        self._saving = asyncio.Lock()

    @classmethod
    def of_client(cls, client: LlmClient, profile: ProviderProfile | None = None) -> Providers:
        """One provider served by ``client`` (tests, benchmarks, a one-off check)."""
        from gptlab_desktop.preferences import BUILT_IN_OPENAI

        chosen = profile or BUILT_IN_OPENAI
        providers = cls(Preferences(profiles=(chosen,), default_profile_id=chosen.id))
        providers._clients[chosen.id] = client
        return providers

    # -- profiles ----------------------------------------------------------------------------
    @property
    def preferences(self) -> Preferences:
        """The preferences as they stand (saved after each change)."""
        return self._preferences

    @property
    def profiles(self) -> tuple[ProviderProfile, ...]:
        """Every profile: the environment's first (when set), then the user's."""
        head = () if self._environment is None else (self._environment,)
        return (*head, *self._preferences.profiles)

    def profile(self, profile_id: str | None) -> ProviderProfile | None:
        """The profile with that id, if it exists."""
        return next((each for each in self.profiles if each.id == profile_id), None)

    @property
    def default_profile(self) -> ProviderProfile:
        """The profile new chats use: the environment's when set, else the chosen default,
        else the first (OpenAI's built-in one when the user removed them all)."""
        if self._environment is not None:
            return self._environment
        chosen = self.profile(self._preferences.default_profile_id)
        if chosen is not None:
            return chosen
        if self._preferences.profiles:
            return self._preferences.profiles[0]
        from gptlab_desktop.preferences import BUILT_IN_OPENAI

        return BUILT_IN_OPENAI

    def resolve(self, profile_id: str | None) -> ProviderProfile:
        """The profile ``profile_id`` names, or the default one when it is gone (or None)."""
        return self.profile(profile_id) or self.default_profile

    async def save_profile(self, profile: ProviderProfile, api_key: str | None = None) -> None:
        """Add ``profile`` (or replace the one with its id) and, if given, save its key; the
        profile's client is rebuilt on its next use."""
        if profile.is_environment:
            raise ValueError("The environment's provider is set by OPENAI_BASE_URL.")
        problems = profile.problems()
        if problems:
            raise ValueError(next(iter(problems.values())))
        if api_key:
            await self._save_key(profile, api_key)
        await self._change(self._preferences.with_profile(profile))
        await self._drop_client(profile.id)

    async def remove_profile(self, profile_id: str) -> None:
        """Forget a profile, its key and what was learned about it."""
        profile = self.profile(profile_id)
        if profile is None or profile.is_environment:
            return
        if self._keys is not None and profile_id != OPENAI_PROFILE_ID:
            await self._keys.forget(profile_id)
        await self._change(self._preferences.without_profile(profile_id))
        await self._drop_client(profile_id)

    async def set_default(self, profile_id: str) -> None:
        """Make that profile the one new chats use."""
        if self.profile(profile_id) is None:
            raise ValueError("That provider no longer exists.")
        await self._change(replace(self._preferences, default_profile_id=profile_id))

    async def change_preferences(self, preferences: Preferences) -> None:
        """Replace the preferences (the Settings window's Chat page), and save them."""
        await self._change(preferences)

    def new_profile(self, preset_id: str, name: str = "", base_url: str = "") -> ProviderProfile:
        """A profile not yet saved, from a preset (a fresh id; its usual address and name)."""
        chosen = preset(preset_id)
        taken = {each.name for each in self.profiles}
        label = name or chosen.label
        count = 2
        while not name and label in taken:
            label = f"{chosen.label} {count}"
            count += 1
        return ProviderProfile(new_id(), label, chosen.id, base_url or chosen.base_url)

    # -- keys and clients --------------------------------------------------------------------
    def client(self, profile_id: str | None = None) -> LlmClient:
        """The client of that profile (the default one for None or a profile now gone)."""
        profile = self.resolve(profile_id)
        client = self._clients.get(profile.id)
        if client is None:
            client = self._clients[profile.id] = self._build(profile)
        return client

    def _build(self, profile: ProviderProfile, api_key: str | None = None) -> LlmClient:
        settings = LlmSettings(
            base_url=profile.base_url,
            api_key=api_key or self._fixed_key(profile),
            timeout_s=self._timeout_s,
            preset=profile.preset_id,
        )
        client = self._client_factory(profile, settings)
        if api_key is None and settings.api_key is None:
            client.use_api_key_when_read(self._read_key(profile))
        return client

    def _fixed_key(self, profile: ProviderProfile) -> str | None:
        if profile.is_environment and self._environment_key:
            return self._environment_key
        return None

    async def _read_key(self, profile: ProviderProfile) -> str | None:
        """The key a profile's requests send: the account's for OpenAI's built-in profile and
        the environment's, the profile's own otherwise; a placeholder where none is needed."""
        key: str | None = None
        if profile.id in (OPENAI_PROFILE_ID, ENVIRONMENT_PROFILE_ID):
            key = await self._account_key() if self._account_key is not None else None
        elif self._keys is not None:
            key = await self._keys.get(profile.id)
        if key is None and not profile.needs_key:
            key = profile.preset.placeholder_key or None
        return key

    async def has_key(self, profile_id: str) -> bool:
        """Whether a key is saved for that profile (or it needs none)."""
        profile = self.profile(profile_id)
        if profile is None:
            return False
        if self._fixed_key(profile) is not None:
            return True
        return bool(await self._read_key(profile))

    async def _save_key(self, profile: ProviderProfile, api_key: str) -> None:
        if profile.id == OPENAI_PROFILE_ID:
            raise ValueError("OpenAI's key is saved through the account (Settings → API Key).")
        if self._keys is None:
            raise ValueError("Keys cannot be saved in this run.")
        await self._keys.save(profile.id, api_key)

    async def use_key(self, profile_id: str, api_key: str | None) -> None:
        """Make that profile's client send ``api_key`` now (one saved or removed)."""
        if profile_id in self._clients:
            await self._clients[profile_id].use_api_key(api_key)

    async def _drop_client(self, profile_id: str) -> None:
        client = self._clients.pop(profile_id, None)
        if client is not None:
            await client.aclose()

    async def test_connection(
        self, profile: ProviderProfile, api_key: str | None = None
    ) -> ModelList:
        """Ask the server of ``profile`` (not necessarily saved) for its models with this key
        (None: the saved one); raises the typed ``LlmError`` that says what is wrong."""
        key = api_key or self._fixed_key(profile) or await self._read_key(profile)
        settings = LlmSettings(
            base_url=profile.base_url,
            api_key=key,
            timeout_s=TEST_TIMEOUT_S,
            max_retries=0,
            preset=profile.preset_id,
        )
        client = self._client_factory(profile, settings)
        try:
            async with asyncio.timeout(TEST_TIMEOUT_S):
                await client.check_key()
                return await client.list_models()
        except TimeoutError:
            raise LlmTimeout(TEST_TIMEOUT_S) from None
        finally:
            await client.aclose()

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, profile_id: str | None = None) -> ModelList:
        """That provider's models (asked once per client)."""
        return await self.client(profile_id).list_models()

    async def all_models(self, timeout_s: float = 10.0) -> list[ProviderModels]:
        """Every profile's models, asked at once; a provider that fails says why."""

        async def one(profile: ProviderProfile) -> ProviderModels:
            try:
                async with asyncio.timeout(timeout_s):
                    models = await self.client(profile.id).list_models()
            except TimeoutError:
                return ProviderModels(profile, ModelList((), is_fallback=True), "no answer")
            except LlmError as error:
                return ProviderModels(profile, ModelList((), is_fallback=True), error.message)
            problem = "the server could not be asked" if models.is_fallback else ""
            return ProviderModels(profile, models, problem)

        return list(await asyncio.gather(*(one(profile) for profile in self.profiles)))

    def serves(self, profile_id: str | None, model: str) -> bool | None:
        """Whether that provider lists ``model`` (None: not known yet, or it lists none, or it
        is OpenAI's, whose list the app filters to the chat models it knows, or it answers
        whatever model is named, as llama.cpp does)."""
        profile = self.resolve(profile_id)
        if profile.kind is ProviderKind.OPENAI or profile.preset.serves_any_model:
            return None
        client = self._clients.get(profile.id)
        listed = client.cached_models if client is not None else None
        if listed is None or listed.is_fallback or not listed.models:
            return None
        return model in listed.models

    def substitute_for(self, profile_id: str | None, model: str) -> str | None:
        """The model the user chose to stand in for ``model`` on that provider."""
        profile = self.resolve(profile_id)
        return self._preferences.substitutes.get(profile.id, {}).get(model)

    async def remember_substitute(self, profile_id: str | None, model: str, other: str) -> None:
        """Remember ``other`` as the stand-in for ``model`` on that provider."""
        profile = self.resolve(profile_id)
        await self._change(self._preferences.with_substitute(profile.id, model, other))

    def context_window(self, profile_id: str | None, model: str) -> int:
        """How many tokens ``model`` reads at once on that provider: what its server said in
        an error, else what it lists, else the catalog's (4,096 for a name it does not know),
        with a margin where the server's tokenizer is not the one the app counts with."""
        profile = self.resolve(profile_id)
        learned = self._preferences.learned_context_windows.get(profile.id, {}).get(model)
        client = self._clients.get(profile.id)
        listed = client.cached_models if client is not None else None
        reported = listed.context_windows.get(model) if listed is not None else None
        window = learned or reported
        if window is None:
            return catalog_context_window(model)
        if profile.kind is ProviderKind.OPENAI or model_facts(model).id is not None:
            return window
        return max(256, int(window * FOREIGN_TOKENIZER_MARGIN))

    async def learn_context_window(self, profile_id: str | None, model: str, tokens: int) -> None:
        """Remember the context window a server named for ``model`` (kept across runs).

        Named again while already known, a request planned within it still overflowed (the
        server's tokenizer counts more than the app's): a smaller window is remembered.
        """
        profile = self.resolve(profile_id)
        known = self._preferences.learned_context_windows.get(profile.id, {}).get(model)
        if known is not None and known <= tokens:
            tokens = max(256, int(known * FOREIGN_TOKENIZER_MARGIN))
        log.info("Learned a context window of %d tokens for a model of %s", tokens, profile.id)
        await self._change(self._preferences.with_context_window(profile.id, model, tokens))

    def cost_usd(
        self, profile_id: str | None, model: str, prompt_tokens: int, completion_tokens: int
    ) -> float | None:
        """What a request cost, where prices are known: OpenAI's list prices, or the prices
        the user gave the profile; None (unknown) otherwise."""
        profile = self.resolve(profile_id)
        if profile.prices is not None:
            prices = profile.prices
            return (
                prompt_tokens * prices.input_usd_per_million
                + completion_tokens * prices.output_usd_per_million
            ) / 1_000_000
        if profile.kind is ProviderKind.OPENAI:
            return estimate_cost_usd(model, prompt_tokens, completion_tokens)
        return None

    # -- replies first -----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def busy(self, profile_id: str | None) -> AsyncIterator[None]:
        """Mark a reply as due on that provider while the block runs."""
        activity = self._activity_of(profile_id)
        activity.due += 1
        activity.changed.set()
        try:
            yield
        finally:
            activity.due -= 1
            activity.changed.set()

    def note_typing(self) -> None:
        """The user typed: background requests wait until they pause."""
        self._last_typed = time.monotonic()

    async def wait_until_quiet(
        self, profile_id: str | None, quiet_s: float = QUIET_AFTER_TYPING_S
    ) -> None:
        """Return once no reply is due on that provider and the user has not typed for
        ``quiet_s`` seconds (a title request goes out then)."""
        activity = self._activity_of(profile_id)
        while True:
            if activity.due:
                activity.changed.clear()
                await activity.changed.wait()
                continue
            idle_for = time.monotonic() - self._last_typed
            if idle_for >= quiet_s:
                return
            activity.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(quiet_s - idle_for):
                    await activity.changed.wait()

    def _activity_of(self, profile_id: str | None) -> _Activity:
        key = self.resolve(profile_id).id
        activity = self._activity.get(key)
        if activity is None:
            activity = self._activity[key] = _Activity()
        return activity

    # -- first run: local servers ------------------------------------------------------------
    async def look_for_local_servers(
        self, candidates: Sequence[LocalServer], timeout_s: float = LOCAL_PROBE_TIMEOUT_S
    ) -> list[ProviderProfile]:
        """Local servers answering on their usual ports that no profile names yet, as
        profiles to offer (not saved); asked once per data directory, each bounded."""
        if self._preferences.looked_for_local_servers:
            return []
        known = {each.base_url for each in self.profiles}
        wanted = [each for each in candidates if each.base_url.rstrip("/") not in known]
        answers = await asyncio.gather(
            *(_answers(each.base_url, timeout_s) for each in wanted), return_exceptions=True
        )
        found = [
            self.new_profile(each.preset_id, base_url=each.base_url)
            for each, answered in zip(wanted, answers, strict=True)
            if answered is True
        ]
        await self._change(replace(self._preferences, looked_for_local_servers=True))
        if found:
            log.info("Found %d local AI server(s) to offer", len(found))
        return found

    # -- saving and closing ------------------------------------------------------------------
    async def _change(self, preferences: Preferences) -> None:
        async with self._saving:
            self._preferences = preferences
            if self._save is not None:
                await self._save(preferences)

    async def aclose(self) -> None:
        """Close every client's connections."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                await client.aclose()
            except Exception:
                log.exception("Closing an AI provider's connections failed")


async def _answers(base_url: str, timeout_s: float) -> bool:
    """Whether an OpenAI-compatible server answers ``GET {base_url}/models`` with a list."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(f"{base_url.rstrip('/')}/models")
        if response.status_code != 200:
            return False
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(body, dict) and isinstance(body.get("data"), list)
