"""Provider profiles and what the app keeps of them: the preferences file, keys in the keyring,
clients per profile, learned context windows, substitutes, prices, discovery of local servers,
and background requests that wait for replies and for the user to pause.

Real parts: a real preferences file, the real keyring code on an in-memory backend (no Secret
Service needed for what is tested here), loopback OpenAI-compatible servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from gptlab_desktop.config import ENVIRONMENT_PROFILE_ID, LocalServer, resolve_config
from gptlab_desktop.models import SessionType
from gptlab_desktop.preferences import (
    BUILT_IN_OPENAI,
    OPENAI_PROFILE_ID,
    ChatDefaults,
    Preferences,
    Prices,
    ProviderKind,
    ProviderProfile,
    read_preferences,
    write_preferences,
)
from gptlab_desktop.services.errors import InvalidApiKey
from gptlab_desktop.services.llm import OpenAIClient
from gptlab_desktop.services.provider_keys import ProviderKeys
from gptlab_desktop.services.providers import Providers, short_model_name
from gptlab_desktop.services.secrets import SecretName, SecretStore
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import FakeOpenAIServer, ModelsReply, unused_loopback_url

pytestmark = pytest.mark.asyncio


def saved_providers(path: Path, secrets: SecretStore, **kwargs: object) -> Providers:
    """Providers as the app builds them: the file read, every change saved back to it."""

    async def save(preferences: Preferences) -> None:
        write_preferences(path, preferences)

    return Providers(
        read_preferences(path),
        keys=ProviderKeys(secrets),
        save=save,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def secrets() -> SecretStore:
    return SecretStore(MemoryKeyring())


@pytest_asyncio.fixture
async def saved(tmp_path: Path, secrets: SecretStore) -> AsyncIterator[Providers]:
    """The app's providers on the test's preferences file; their clients closed afterwards."""
    providers = saved_providers(tmp_path / "p.json", secrets)
    yield providers
    await providers.aclose()


async def served_profile(
    providers: Providers, preset_id: str, server: FakeOpenAIServer, *models: str, **named: str
) -> ProviderProfile:
    """A saved profile of ``server`` (listing ``models``)."""
    server.script(ModelsReply(list(models)))
    key = named.pop("api_key", None)
    profile = providers.new_profile(preset_id, base_url=server.base_url, **named)
    await providers.save_profile(profile, api_key=key)
    return profile


# -- the preferences file ---------------------------------------------------------------------
async def test_a_first_run_has_the_built_in_openai_profile(tmp_path: Path) -> None:
    preferences = read_preferences(tmp_path / "preferences.json")
    assert preferences.profiles == (BUILT_IN_OPENAI,)
    assert preferences.chat == ChatDefaults()


async def test_a_profile_and_its_key_survive_a_restart_and_the_key_is_in_no_file(
    tmp_path: Path, secrets: SecretStore
) -> None:
    path = tmp_path / "preferences.json"
    providers = saved_providers(path, secrets)
    ollama = providers.new_profile("ollama")
    await providers.save_profile(ollama, api_key="sk-local-secret-1234")
    await providers.set_default(ollama.id)

    again = saved_providers(path, secrets)
    assert again.profile(ollama.id) == ollama
    assert again.default_profile == ollama
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "sk-local-secret-1234" not in path.read_text("utf-8")
    assert await ProviderKeys(secrets).get(ollama.id) == "sk-local-secret-1234"
    stored = json.loads(await secrets.get(SecretName.PROVIDER_API_KEYS) or "{}")
    assert stored == {ollama.id: "sk-local-secret-1234"}


async def test_a_damaged_or_half_valid_file_keeps_what_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    path.write_text("{not json", "utf-8")
    assert read_preferences(path) == Preferences()

    path.write_text(
        json.dumps(
            {
                "profiles": [
                    {"id": "a", "name": "Mine", "preset": "ollama", "base_url": "ftp://x"},
                    {"id": "b", "name": "Ok", "preset": "llamacpp", "base_url": "http://h:8080/v1"},
                    {"id": "c", "name": "Odd", "preset": "nonsense", "base_url": "http://h/v1"},
                    "a string",
                ],
                "chat": {"session_type": 99, "titles": False, "model": 7},
                "learned_context_windows": {"b": {"m": 2048, "n": "big", "o": -1}},
                "substitutes": {"b": {"gpt-4o": "llama3"}, "x": "not a table"},
            }
        ),
        "utf-8",
    )
    preferences = read_preferences(path)
    assert [each.id for each in preferences.profiles] == ["b"]
    assert preferences.chat == ChatDefaults(titles=False)
    assert preferences.learned_context_windows == {"b": {"m": 2048}}
    assert preferences.substitutes == {"b": {"gpt-4o": "llama3"}}


async def test_a_profile_that_cannot_be_used_is_refused_with_words(
    tmp_path: Path, secrets: SecretStore
) -> None:
    providers = saved_providers(tmp_path / "p.json", secrets)
    bad = ProviderProfile("x", "", "ollama", "localhost:11434")
    assert set(bad.problems()) == {"name", "base_url"}
    with pytest.raises(ValueError, match="name"):
        await providers.save_profile(bad)
    assert not (tmp_path / "p.json").exists()
    assert ProviderProfile("y", "A\u202eB", "ollama", "http://h/v1").problems()["name"]


async def test_removing_a_profile_forgets_its_key_and_what_was_learned(
    tmp_path: Path, secrets: SecretStore
) -> None:
    providers = saved_providers(tmp_path / "p.json", secrets)
    local = providers.new_profile("llamacpp")
    await providers.save_profile(local, api_key="k-1234")
    await providers.learn_context_window(local.id, "m", 2048)
    await providers.remember_substitute(local.id, "gpt-4o-mini", "m")
    await providers.remove_profile(local.id)
    assert providers.profile(local.id) is None
    assert await ProviderKeys(secrets).get(local.id) is None
    assert local.id not in providers.preferences.learned_context_windows
    assert local.id not in providers.preferences.substitutes


# -- the environment's profile ----------------------------------------------------------------
async def test_openai_base_url_defines_the_environment_profile_used_by_default(
    tmp_path: Path,
) -> None:
    config = resolve_config(
        str(tmp_path), {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_API_KEY": "k"}
    )
    profile = config.environment_profile
    assert profile is not None and profile.is_environment
    assert (profile.id, profile.name, profile.preset_id) == (
        ENVIRONMENT_PROFILE_ID,
        "Environment",
        "ollama",
    )
    providers = Providers(config.preferences, environment=profile, environment_key="k")
    assert providers.default_profile == profile
    assert providers.profiles[0] == profile
    with pytest.raises(ValueError):
        await providers.save_profile(profile)
    # Never written to the file.
    assert '"environment"' not in Preferences(profiles=(profile,)).to_json()
    assert resolve_config(str(tmp_path), {}).environment_profile is None


async def test_local_servers_to_look_for_come_from_config(tmp_path: Path) -> None:
    assert [each.preset_id for each in resolve_config(str(tmp_path), {}).local_servers] == [
        "ollama",
        "lmstudio",
        "llamacpp",
    ]
    environ = {"GPTLAB_LOCAL_SERVERS": "ollama=http://127.0.0.1:5/v1, bad, llamacpp=http://h:6/v1"}
    assert resolve_config(str(tmp_path), environ).local_servers == (
        LocalServer("ollama", "http://127.0.0.1:5/v1"),
        LocalServer("llamacpp", "http://h:6/v1"),
    )
    assert resolve_config(str(tmp_path), {"GPTLAB_LOCAL_SERVERS": "none"}).local_servers == ()


# -- clients and keys -------------------------------------------------------------------------
async def test_each_profile_gets_its_own_client_and_key(saved: Providers) -> None:
    with FakeOpenAIServer(api_key="key-of-a") as a, FakeOpenAIServer(api_key="key-of-b") as b:
        first = await served_profile(saved, "custom", a, "model-a", name="A", api_key="key-of-a")
        second = await served_profile(saved, "custom", b, "model-b", name="B", api_key="key-of-b")
        assert (await saved.list_models(first.id)).models == ("model-a",)
        assert (await saved.list_models(second.id)).models == ("model-b",)
        assert saved.client(first.id) is not saved.client(second.id)
        assert saved.serves(first.id, "model-a") is True
        assert saved.serves(first.id, "model-b") is False


async def test_a_local_server_without_a_key_is_sent_its_placeholder(saved: Providers) -> None:
    with FakeOpenAIServer(api_key="ollama") as server:
        profile = await served_profile(saved, "ollama", server, "llama3.2")
        assert await saved.has_key(profile.id)
        assert (await saved.list_models(profile.id)).models == ("llama3.2",)


async def test_the_built_in_and_environment_profiles_use_the_accounts_key(
    tmp_path: Path,
) -> None:
    asked: list[str] = []

    async def account_key() -> str | None:
        asked.append("asked")
        return "sk-account-key-1234"

    with FakeOpenAIServer(api_key="sk-account-key-1234") as server:
        server.script(ModelsReply(["gpt-4o-mini"]))
        built_in = replace(BUILT_IN_OPENAI, base_url=server.base_url)
        providers = Providers(Preferences(profiles=(built_in,)), account_key=account_key)
        try:
            assert (await providers.list_models(OPENAI_PROFILE_ID)).models == ("gpt-4o-mini",)
            assert asked == ["asked"]
        finally:
            await providers.aclose()


async def test_test_connection_says_what_the_server_said_and_saves_nothing(
    tmp_path: Path, secrets: SecretStore
) -> None:
    with FakeOpenAIServer(api_key="right") as server:
        providers = saved_providers(tmp_path / "p.json", secrets)
        profile = providers.new_profile("openrouter", base_url=server.base_url)
        with pytest.raises(InvalidApiKey):
            await providers.test_connection(profile, "wrong")
        server.script(ModelsReply(["a", "b"]))
        assert (await providers.test_connection(profile, "right")).models == ("a", "b")
        assert providers.profile(profile.id) is None
        assert await ProviderKeys(secrets).get(profile.id) is None


async def test_all_models_lists_every_provider_and_says_why_one_failed(saved: Providers) -> None:
    with FakeOpenAIServer() as server:
        await served_profile(saved, "custom", server, "here", name="Good")
        gone = saved.new_profile("custom", name="Gone", base_url=unused_loopback_url())
        await saved.save_profile(gone)
        await saved.remove_profile(OPENAI_PROFILE_ID)
        listed = {each.profile.name: each for each in await saved.all_models()}
    assert listed["Good"].models.models == ("here",) and not listed["Good"].problem
    assert listed["Gone"].problem


# -- what is known of models ------------------------------------------------------------------
async def saved_profile(providers: Providers, preset_id: str) -> ProviderProfile:
    profile = providers.new_profile(preset_id)
    await providers.save_profile(profile)
    return profile


async def test_context_windows_learned_beat_the_catalog_with_a_margin_for_other_tokenizers(
    tmp_path: Path, secrets: SecretStore
) -> None:
    providers = saved_providers(tmp_path / "p.json", secrets)
    local = await saved_profile(providers, "llamacpp")
    assert providers.context_window(local.id, "smollm2.gguf") == 4096  # the catalog's default
    await providers.learn_context_window(local.id, "smollm2.gguf", 2048)
    assert providers.context_window(local.id, "smollm2.gguf") == int(2048 * 0.85)
    # Named again: a request planned within it still overflowed, so a smaller one is kept.
    await providers.learn_context_window(local.id, "smollm2.gguf", 2048)
    assert providers.preferences.learned_context_windows[local.id]["smollm2.gguf"] < 2048
    # OpenAI's own models are counted with their own tokenizer: no margin.
    await providers.learn_context_window(OPENAI_PROFILE_ID, "gpt-4o-mini", 8000)
    assert providers.context_window(OPENAI_PROFILE_ID, "gpt-4o-mini") == 8000
    # Kept across runs.
    again = saved_providers(tmp_path / "p.json", secrets)
    assert again.context_window(local.id, "smollm2.gguf") < 2048


async def test_cost_is_known_only_for_openai_list_prices_or_a_profiles_own(
    saved: Providers,
) -> None:
    local = await saved_profile(saved, "ollama")
    priced = replace(saved.new_profile("openrouter"), prices=Prices(1.0, 2.0))
    await saved.save_profile(priced)
    assert saved.cost_usd(local.id, "gpt-4o-mini", 1000, 1000) is None
    assert saved.cost_usd(priced.id, "anything", 1_000_000, 500_000) == pytest.approx(2.0)
    assert (saved.cost_usd(OPENAI_PROFILE_ID, "gpt-4o-mini", 1000, 1000) or 0) > 0


async def test_a_substitute_is_remembered_per_provider(
    tmp_path: Path, secrets: SecretStore
) -> None:
    providers = saved_providers(tmp_path / "p.json", secrets)
    local = await saved_profile(providers, "ollama")
    await providers.remember_substitute(local.id, "gpt-4o-mini", "llama3.2")
    assert providers.substitute_for(local.id, "gpt-4o-mini") == "llama3.2"
    assert providers.substitute_for(OPENAI_PROFILE_ID, "gpt-4o-mini") is None
    assert saved_providers(tmp_path / "p.json", secrets).substitute_for(
        local.id, "gpt-4o-mini"
    ) == ("llama3.2")


async def test_the_chat_defaults_are_saved(tmp_path: Path, secrets: SecretStore) -> None:
    providers = saved_providers(tmp_path / "p.json", secrets)
    chat = ChatDefaults(model="llama3.2", session_type=SessionType.COACHING, titles=False)
    await providers.change_preferences(replace(providers.preferences, chat=chat))
    assert read_preferences(tmp_path / "p.json").chat == chat


async def test_model_names_are_shown_short() -> None:
    assert short_model_name("/models/SmolLM2-360M-Instruct-Q8_0.gguf") == (
        "SmolLM2-360M-Instruct-Q8_0.gguf"
    )
    assert short_model_name("C:\\models\\x.gguf") == "x.gguf"
    assert short_model_name("meta-llama/llama-3.1-8b-instruct") == (
        "meta-llama/llama-3.1-8b-instruct"
    )
    assert short_model_name("gpt-4o-mini") == "gpt-4o-mini"
    assert ProviderKind.ANTHROPIC.speaks_openai is False


# -- local servers ----------------------------------------------------------------------------
async def test_local_servers_answering_are_offered_once(
    tmp_path: Path, secrets: SecretStore
) -> None:
    with FakeOpenAIServer() as server:
        server.script(ModelsReply(["llama3.2"]))
        providers = saved_providers(tmp_path / "p.json", secrets)
        candidates = [
            LocalServer("ollama", server.base_url),
            LocalServer("llamacpp", unused_loopback_url()),
        ]
        offers = await providers.look_for_local_servers(candidates)
        assert [(each.preset_id, each.base_url, each.name) for each in offers] == [
            ("ollama", server.base_url, "Ollama")
        ]
    assert providers.profile(offers[0].id) is None  # offered, not added
    assert (
        await saved_providers(tmp_path / "p.json", secrets).look_for_local_servers(candidates) == []
    )


async def test_looking_for_local_servers_is_bounded_by_a_server_that_never_answers(
    tmp_path: Path, secrets: SecretStore
) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    port = silent.getsockname()[1]
    try:
        providers = saved_providers(tmp_path / "p.json", secrets)
        loop = asyncio.get_running_loop()
        started = loop.time()
        offers = await providers.look_for_local_servers(
            [LocalServer("ollama", f"http://127.0.0.1:{port}/v1")], timeout_s=0.3
        )
        assert offers == []
        assert loop.time() - started < 3
    finally:
        silent.close()


# -- replies first ----------------------------------------------------------------------------
async def test_a_background_request_waits_for_the_reply_and_for_the_user_to_pause(
    tmp_path: Path,
) -> None:
    providers = Providers(Preferences())
    order: list[str] = []

    async def title() -> None:
        await providers.wait_until_quiet(None, quiet_s=0.2)
        order.append("title")

    async with providers.busy(None):
        waiting = asyncio.ensure_future(title())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the reply is still due
        order.append("reply done")
    providers.note_typing()
    await asyncio.sleep(0.1)
    assert not waiting.done()  # the user typed 0.1 s ago
    await asyncio.wait_for(waiting, 2)
    assert order == ["reply done", "title"]


async def test_of_client_serves_one_provider() -> None:
    client = OpenAIClient.__new__(OpenAIClient)
    providers = Providers.of_client(client)
    assert providers.client(None) is client
    assert providers.client("anything") is client


async def test_the_start_asks_for_the_accounts_key_only_where_the_default_provider_needs_it(
    tmp_path: Path,
) -> None:
    from gptlab_desktop.app import build_services

    config = resolve_config(str(tmp_path), {})
    assert build_services(config).needs_account_key  # OpenAI's built-in profile
    local = ProviderProfile("home", "Home", "ollama", "http://127.0.0.1:11434/v1")
    write_preferences(
        config.paths.preferences_file,
        Preferences(profiles=(BUILT_IN_OPENAI, local), default_profile_id="home"),
    )
    assert not build_services(resolve_config(str(tmp_path), {})).needs_account_key
    environ = {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}
    assert not build_services(resolve_config(str(tmp_path), environ)).needs_account_key
