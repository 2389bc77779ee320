"""The session engine with several providers: a chat remembers its provider and model, can
switch both mid-way, is asked for a substitute rather than sending a model its server does not
list, counts usage a server did not report, continues a reply cut at the length limit, and
asks for a title only once no reply is due and the user has paused.

Real parts: a real SQLite file, the real openai client, loopback OpenAI-compatible servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from gptlab_desktop.models import MessageState, Role, User
from gptlab_desktop.preferences import ChatDefaults, Preferences, ProviderProfile
from gptlab_desktop.services.chat import ModelNeedsSubstitute, SessionEngine
from gptlab_desktop.services.chat_events import ReplyFinished
from gptlab_desktop.services.provider_keys import ProviderKeys
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.secrets import SecretStore
from gptlab_desktop.services.store.sqlite import SqliteStore
from gptlab_desktop.services.tokens import TokenCounter
from tests.fakes.anthropic_server import FakeAnthropicServer, MessageReply
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.openai_server import FakeOpenAIServer, ModelsReply, Ollama, Reply
from tests.services.conftest import ProviderChat
from tests.services.test_chat import chat_bodies, collect, make_assistant

pytestmark = pytest.mark.asyncio


@pytest.fixture
def second_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        server.models = ("llama3.2", "gpt-4o-mini")
        yield server


@pytest.fixture
def chat(
    chat_on: Callable[..., ProviderChat],
    openai_server: FakeOpenAIServer,
    second_server: FakeOpenAIServer,
) -> ProviderChat:
    return chat_on(
        ProviderProfile("one", "One", "custom", openai_server.base_url),
        ProviderProfile("two", "Two", "custom", second_server.base_url),
    )


async def test_a_chat_remembers_its_provider_and_can_switch_model_and_provider(
    chat: ProviderChat, openai_server: FakeOpenAIServer, second_server: FakeOpenAIServer
) -> None:
    session, _ = await chat.exchange(openai_server, Reply("From one."), "Hello")
    assert session.provider_id == "one"

    changed = await chat.engine.change_model(
        session.id, "llama3.2", provider_id="two", temperature=1.3
    )
    stored = await chat.store.get_session(session.id)
    assert stored is not None
    assert (stored.provider_id, stored.bot_model_config.model) == ("two", "llama3.2")
    assert stored.bot_model_config.temperature == 1.3
    assert (changed.provider_id, changed.bot_model_config) == ("two", stored.bot_model_config)
    second_server.script(Reply("From two."))
    await collect(chat.engine.send(session.id, "Again"))
    [body] = chat_bodies(second_server)
    assert (body["model"], body["temperature"]) == ("llama3.2", 1.3)
    assert len(chat_bodies(openai_server)) == 1
    # The assistant itself is unchanged.
    assert stored.bot_id is not None
    details = await chat.store.get_assistant_details(stored.bot_id)
    assert details is not None and details.model_config.config.model == "gpt-4o-mini"


async def test_a_chat_whose_provider_is_gone_uses_the_default_one(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    session = await chat.start()
    await chat.engine.change_model(session.id, "gpt-4o-mini", provider_id="two")
    await chat.providers.remove_profile("two")
    openai_server.script(Reply("Still here."))
    events = await collect(chat.engine.send(session.id, "Hello"))
    assert isinstance(events[-1], ReplyFinished)


async def test_a_model_the_server_does_not_list_asks_for_a_substitute_remembered(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script(ModelsReply(["llama3.2", "qwen2.5"]))
    await chat.providers.list_models("one")
    session = await chat.start(model="gpt-4o-mini")

    with pytest.raises(ModelNeedsSubstitute) as asked:
        await collect(chat.engine.send(session.id, "Hello"))
    assert asked.value.available == ("llama3.2", "qwen2.5")
    assert "One" in asked.value.message and "gpt-4o-mini" in asked.value.message
    assert await chat.store.list_messages(session.id) == []  # nothing stored, nothing sent
    assert chat_bodies(openai_server) == []

    await chat.engine.choose_substitute(session.id, "qwen2.5")
    openai_server.script(Reply("Hi."), Reply("Hi again."))
    await collect(chat.engine.send(session.id, "Hello"))
    assert chat_bodies(openai_server)[-1]["model"] == "qwen2.5"
    # The next chat with that assistant on that provider takes the substitute by itself.
    later = await chat.start(model="gpt-4o-mini")
    await collect(chat.engine.send(later.id, "Hello"))
    assert chat_bodies(openai_server)[-1]["model"] == "qwen2.5"
    assert chat.providers.substitute_for("one", "gpt-4o-mini") == "qwen2.5"


async def test_usage_a_server_did_not_report_is_counted_and_marked_an_estimate(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    more = Reply("Three quarters is more than a half.", usage=False)
    session, _ = await chat.exchange(openai_server, more, "Which is more, 3/4 or 1/2?")
    reply = (await chat.store.list_messages(session.id))[-1]
    assert reply.meta.usage_estimated
    assert (reply.meta.prompt_tokens or 0) > 20 and (reply.meta.completion_tokens or 0) >= 5


async def test_a_reply_cut_at_the_length_limit_can_be_continued(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    cut_short = Reply("The answer begins", finish_reason="length")
    session, _ = await chat.exchange(openai_server, cut_short, "Explain")
    cut = (await chat.store.list_messages(session.id))[-1]
    assert cut.state is MessageState.COMPLETE and cut.meta.is_cut_at_length

    openai_server.script(Reply(" and ends here."))
    await collect(chat.engine.continue_reply(session.id))
    messages = await chat.store.list_messages(session.id)
    assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT]
    assert messages[-1].message == "The answer begins and ends here."
    assert not messages[-1].meta.is_cut_at_length


async def test_a_title_waits_for_the_reply_and_shares_its_system_prompt(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    session = await chat.start()
    openai_server.script(Reply("A half is less.", delay_s=0.05), Reply("Comparing fractions"))
    events = chat.engine.send(session.id, "Is 1/2 < 3/4?")
    await anext(events)  # the question is stored; the reply is under way
    sending = asyncio.ensure_future(collect(events))
    chat.engine.note_typing()
    titled = asyncio.ensure_future(chat.engine.suggest_title(session.id))
    await sending
    assert not titled.done()  # the user typed less than 2 s ago
    assert await asyncio.wait_for(titled, 5) == "Comparing fractions"
    reply_body, title_body = chat_bodies(openai_server)
    assert title_body["messages"][0] == reply_body["messages"][0]  # type: ignore[index]
    assert title_body["messages"][0]["role"] == "system"  # type: ignore[index]


async def test_titles_and_moderation_switched_off_send_nothing_extra(
    chat: ProviderChat, openai_server: FakeOpenAIServer
) -> None:
    off = ChatDefaults(titles=False, moderation=False)
    await chat.providers.change_preferences(replace(chat.providers.preferences, chat=off))
    session, _ = await chat.exchange(openai_server, Reply("Sure."), "Call me Ada")
    assert await chat.engine.suggest_title(session.id) == "Call me Ada"
    assert len(chat_bodies(openai_server)) == 1
    assert openai_server.requests_to("moderations") == []


async def test_the_chat_pages_default_model_starts_new_chats(chat: ProviderChat) -> None:
    await chat.providers.change_preferences(
        replace(chat.providers.preferences, chat=ChatDefaults(model="llama3.2"))
    )
    assert (await chat.start()).bot_model_config.model == "llama3.2"


async def test_one_chat_switches_between_a_local_server_and_anthropic(
    store: SqliteStore, user: User, tokens: TokenCounter
) -> None:
    keys = ProviderKeys(SecretStore(MemoryKeyring()))
    with (
        FakeOpenAIServer(personality=Ollama({"llama3.2:3b": 131_072})) as local,
        FakeAnthropicServer(api_key="sk-ant-test-1234") as claude,
    ):
        providers = Providers(
            Preferences(
                profiles=(
                    ProviderProfile("home", "Ollama", "ollama", local.base_url),
                    ProviderProfile("claude", "Anthropic", "anthropic", claude.base_url),
                ),
                default_profile_id="home",
            ),
            keys=keys,
        )
        await keys.save("claude", "sk-ant-test-1234")
        engine = SessionEngine(store, providers, tokens, flush_interval_s=0.05)
        try:
            listed = {each.profile.id: each.models for each in await providers.all_models()}
            assert listed["home"].context_windows["llama3.2:3b"] == 131_072
            assert "claude-haiku-4-5" in listed["claude"].models
            assert listed["claude"].context_windows["claude-haiku-4-5"] == 200_000

            assistant_id = await make_assistant(store, user, model="llama3.2:3b")
            session = await engine.start_session(assistant_id, user.id)
            local.script(Reply("From the local model.", usage=False))
            await collect(engine.send(session.id, "Hello"))
            await engine.change_model(session.id, "claude-haiku-4-5", provider_id="claude")
            claude.script(MessageReply(text="From Claude."))
            events = await collect(engine.send(session.id, "And you?"))
            assert isinstance(events[-1], ReplyFinished)

            [to_claude] = claude.requests_to("messages")
            assert to_claude.body["model"] == "claude-haiku-4-5"
            # The whole conversation went along, the local model's reply included.
            texts = [m["content"] for m in to_claude.body["messages"]]
            assert any("From the local model." in str(text) for text in texts)
            messages = await store.list_messages(session.id)
            assert [m.message for m in messages if m.role is Role.ASSISTANT] == [
                "From the local model.",
                "From Claude.",
            ]
            # Neither has prices: cost unknown, never a wrong figure.
            assert providers.cost_usd("home", "llama3.2:3b", 100, 100) is None
            assert providers.cost_usd("claude", "claude-haiku-4-5", 100, 100) is None
        finally:
            await providers.aclose()
