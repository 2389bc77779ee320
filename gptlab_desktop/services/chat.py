"""The session engine: start a session, stream replies, and persist every turn as it happens.

Nothing is lost: the user's message is stored before the request goes out, together with the
reply's empty row (one write); the reply is rewritten at least every ``flush_interval_s`` while
it streams and completed at the end. A reply cut short (an error, Stop, a dropped connection)
stays stored and is marked interrupted; one left streaming by a crash is marked interrupted when
its session is next opened.
Each operation is an async iterator of ``ChatEvent`` values that the UI renders as they come.

Which provider answers is the session's (``Session.provider_id``, resolved by ``Providers``);
the engine never knows which kind of server it is. What it does know of a provider's limits
comes from there: a context window the server listed or named in an error. A request a server
refuses as too long, with the limit in its words, is planned again within that limit (older
turns trimmed or condensed) and sent once more, instead of failing the session for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from gptlab_desktop.models import (
    ROOT_PARENT,
    ContextMessage,
    FailureKind,
    Message,
    MessageDetails,
    MessageKind,
    MessageState,
    ModelConfig,
    Role,
    Session,
    SessionStatus,
    UserLiked,
    new_id,
    utcnow,
)
from gptlab_desktop.preferences import ProviderKind
from gptlab_desktop.services import context as context_policy
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.branches import Conversation, ConversationTree, branch_context
from gptlab_desktop.services.chat_events import (
    BranchShown,
    ChatEvent,
    MessageRemoved,
    MessageStored,
    ModerationWarning,
    ReplyDelta,
    ReplyFinished,
    ReplyInterrupted,
    ReplyStarted,
    RetryScheduled,
    SessionUpdated,
)
from gptlab_desktop.services.errors import ContextTooLong, NotFound, ServiceError
from gptlab_desktop.services.llm_api import ChatTurn, LlmClient, Usage
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.services.reply_recorder import ReplyRecorder, ReplyRequest
from gptlab_desktop.services.store.base import Store
from gptlab_desktop.services.titles import first_line, plain_title
from gptlab_desktop.services.tokens import (
    TOKENS_PER_MESSAGE,
    TOKENS_REPLY_PRIMING,
    TokenCounter,
    token_ceiling,
)

log = logging.getLogger(__name__)

CONCLUDE_AFTER_MESSAGES = 5
# How many times one request refused as too long is planned again within a named limit (the
# second with a smaller window: the server's tokenizer may count more than the app's).
MAX_REFITS = 2
# How long a chat's first request waits for its provider's model list (to check the model).
MODEL_LIST_WAIT_S = 3.0
CONTINUE_INSTRUCTION = "Continue your last reply exactly where it stopped, without repeating it."
TITLE_INSTRUCTION = (
    "Give this conversation a short title of at most six words. Reply with the title only, "
    "without quotes or a final full stop."
)


class SessionClosed(ServiceError):
    """A completed or abandoned session takes no more messages."""

    title = "Session ended"


class NothingToDo(ServiceError):
    """The operation does not apply to the session as it is (e.g. nothing to regenerate)."""

    title = "Not possible"


class ModelNeedsSubstitute(ServiceError):
    """The chat's provider does not serve its model: the user picks one it does (remembered
    for that provider), rather than the app sending a name the server does not list."""

    title = "Choose a model"

    def __init__(self, model: str, provider_name: str, available: Sequence[str]) -> None:
        super().__init__(
            f"{provider_name} does not serve “{model}”. Choose one of its models for this "
            "assistant; the choice is remembered for this provider."
        )
        self.model = model
        self.provider_name = provider_name
        self.available = tuple(available)


# -- events ------------------------------------------------------------------------------------
# Events that show the model's answer has begun (or ended): the request is out.
_REPLY_UNDER_WAY = (ReplyDelta, ReplyFinished, ReplyInterrupted, RetryScheduled)


class SessionEngine:
    """Runs chat sessions against an LLM and a store; Qt-free, driven by async iterators."""

    def __init__(
        self,
        store: Store,
        providers: Providers,
        tokens: TokenCounter,
        *,
        flush_interval_s: float = 0.5,
    ) -> None:
        self._store = store
        self._providers = providers
        self._tokens = tokens
        self._recorder = ReplyRecorder(
            store,
            flush_interval_s=flush_interval_s,
            with_context_entry=self._with_context_entry,
            estimate_usage=self._estimate_usage,
        )
        # Each message is tokenised once, not on every turn of a long session.
        self._turn_tokens = functools.lru_cache(maxsize=16_384)(self._count_turn)
        # The last message of each open session's shown branch: what a new message follows.
        self._leaves: dict[str, str] = {}
        # The providers whose model lists were asked for this run (to check a chat's model).
        self._asked_for_models: set[str] = set()

    def _count_turn(self, role: Role, content: str, model: str) -> int:
        return (
            TOKENS_PER_MESSAGE
            + self._tokens.count(str(role), model)
            + self._tokens.count(content, model)
        )

    def _llm(self, session: Session) -> LlmClient:
        return self._providers.client(session.provider_id)

    async def _estimate_usage(self, turns: Sequence[ChatTurn], reply: str, model: str) -> Usage:
        """A reply's tokens counted here (the server reported none), off the event loop."""

        def count() -> Usage:
            prompt = TOKENS_REPLY_PRIMING + sum(
                self._turn_tokens(turn.role, turn.content, model) for turn in turns
            )
            completion = self._tokens.count(reply, model)
            return Usage(prompt, completion, prompt + completion)

        return await run_blocking(count)

    def note_typing(self) -> None:
        """The user is typing: background requests (titles) wait until they pause."""
        self._providers.note_typing()

    # -- sessions -----------------------------------------------------------------------------
    async def start_session(
        self,
        assistant_id: str,
        user_id: str,
        *,
        model: str | None = None,
        provider_id: str | None = None,
    ) -> Session:
        """Create a session with a snapshot of the assistant's active prompts and config, on
        ``provider_id``'s provider (None: the default one) with ``model`` if given (else the
        Chat page's default model, else the assistant's)."""
        details = await self._store.get_assistant_details(assistant_id)
        if details is None:
            raise NotFound("That assistant no longer exists.")
        config = details.model_config.config
        model = model or self._providers.preferences.chat.model
        if model and model != config.model:
            config = replace(config, model=model)
        provider = self._providers.resolve(provider_id)
        now = utcnow()
        session = Session(
            id=new_id(),
            user_id=user_id,
            bot_id=details.assistant.id,
            bot_initial_prompt_msg=details.initial_prompt.message,
            bot_model_config=config,
            bot_session_type=details.assistant.session_type,
            bot_summary_prompt_msg=details.summary_prompt.message,
            bot_initial_prompt_id=details.initial_prompt.id,
            bot_summary_prompt_id=details.summary_prompt.id,
            guards_prompt_leak=details.assistant.guards_prompt_leak,
            created_date=now,
            last_modified_date=now,
            title=details.assistant.name,
            provider_id=provider.id,
        )
        return await self._store.create_session(session)

    async def change_model(
        self,
        session_id: str,
        model: str,
        *,
        provider_id: str | None = None,
        temperature: float | None = None,
    ) -> Session:
        """Make the chat talk to ``model`` on ``provider_id``'s provider (None: keep the
        chat's), at ``temperature`` if given; the assistant itself is unchanged."""
        session = await self._require(session_id)
        config = replace(session.bot_model_config, model=model.strip())
        if temperature is not None:
            config = replace(config, temperature=temperature)
        problems = config.problems()
        if problems:
            raise NothingToDo(next(iter(problems.values())))
        provider = self._providers.resolve(provider_id or session.provider_id)
        await self._store.change_session_model(session_id, config, provider.id)
        return session.with_changes(bot_model_config=config, provider_id=provider.id)

    async def _served_config(self, session: Session) -> Session:
        """The session with a model its provider serves: the one it has, or the substitute
        chosen earlier for that provider; ``ModelNeedsSubstitute`` when none was chosen."""
        model = session.bot_model_config.model
        served = self._providers.serves(session.provider_id, model)
        profile = self._providers.resolve(session.provider_id)
        provider = profile.id
        if profile.kind is ProviderKind.OPENAI or profile.preset.serves_any_model:
            return session  # no verdict: a filtered list, or a server that serves any name
        if served is None and provider not in self._asked_for_models:
            # Not asked yet this run (a chat's first request): asked now, once, briefly.
            self._asked_for_models.add(provider)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MODEL_LIST_WAIT_S):
                    await self._llm(session).list_models()
            served = self._providers.serves(session.provider_id, model)
        if served is not False:
            return session
        substitute = self._providers.substitute_for(session.provider_id, model)
        if substitute is not None and self._providers.serves(session.provider_id, substitute):
            return await self.change_model(session.id, substitute)
        provider = self._providers.resolve(session.provider_id)
        listed = self._llm(session).cached_models
        raise ModelNeedsSubstitute(model, provider.name, listed.models if listed else ())

    async def choose_substitute(self, session_id: str, model: str) -> Session:
        """Use ``model`` for this chat, and for the chat's original model on this provider
        from now on (``ModelNeedsSubstitute``'s answer)."""
        session = await self._require(session_id)
        await self._providers.remember_substitute(
            session.provider_id, session.bot_model_config.model, model
        )
        return await self.change_model(session_id, model)

    async def open_session(self, session_id: str) -> tuple[Session, list[Message]]:
        """A session and its shown branch (``open_conversation``)."""
        conversation = await self.open_conversation(session_id)
        return conversation.session, conversation.shown

    async def open_conversation(self, session_id: str) -> Conversation:
        """A session, its conversation's tree and the branch it shows; replies a crash left
        streaming become interrupted."""
        session = await self._require(session_id)
        messages = await self._store.list_messages(session_id)
        for index, message in enumerate(messages):
            left_by_crash = not self._recorder.is_streaming(message.id)
            if message.state is MessageState.STREAMING and left_by_crash:
                await self._store.update_message(
                    message.id, text=message.message, state=MessageState.INTERRUPTED
                )
                messages[index] = replace(message, state=MessageState.INTERRUPTED)
        return self._conversation(session, ConversationTree(messages))

    def _conversation(self, session: Session, tree: ConversationTree) -> Conversation:
        shown = tree.branch(session.shown_leaf_id)
        self._follow(session.id, shown[-1].id if shown else None)
        return Conversation(session, tree, shown)

    def _follow(self, session_id: str, leaf_id: str | None) -> None:
        """Remember what a new message of that session follows."""
        if leaf_id is None:
            self._leaves.pop(session_id, None)
        else:
            self._leaves[session_id] = leaf_id

    async def _leaf(self, session: Session) -> str:
        """The id of the shown branch's last message (``ROOT_PARENT`` for an empty one)."""
        leaf = self._leaves.get(session.id)
        if leaf is None:
            shown = ConversationTree(await self._store.list_messages(session.id)).branch(
                session.shown_leaf_id
            )
            leaf = shown[-1].id if shown else ROOT_PARENT
            self._follow(session.id, leaf or None)
        return leaf

    async def _tracked(
        self, session_id: str, events: AsyncIterator[ChatEvent]
    ) -> AsyncIterator[ChatEvent]:
        """``events``, following the shown branch's end as messages are stored and removed."""
        async for event in events:
            if isinstance(event, MessageStored | ReplyStarted):
                self._follow(session_id, event.message.id)
            elif isinstance(event, MessageRemoved) and self._leaves.get(session_id) == (
                event.message_id
            ):
                self._follow(session_id, None)
            yield event

    # -- branches -----------------------------------------------------------------------------
    async def show_variant(self, session_id: str, message_id: str) -> Conversation:
        """Show the branch through ``message_id`` (one of a message's variants), to the newest
        message under it; remembered with the session."""
        session = await self._require(session_id)
        tree = ConversationTree(await self._store.list_messages(session_id))
        leaf = tree.newest_leaf(message_id)
        if leaf is None:
            raise NotFound("That message no longer exists.")
        return await self._show(session, tree, leaf.id)

    async def delete_message(self, session_id: str, message_id: str) -> Conversation:
        """Delete a message and everything that followed it (its subtree, on every branch);
        the shown branch stays where it can, else the newest one is shown."""
        session = await self._require(session_id)
        messages = await self._store.list_messages(session_id)
        doomed = set(ConversationTree(messages).subtree(message_id))
        if not doomed:
            raise NotFound("That message no longer exists.")
        await self._store.delete_messages([m.id for m in messages if m.id in doomed])
        kept = [m for m in messages if m.id not in doomed]
        leaf = session.shown_leaf_id if session.shown_leaf_id not in doomed else None
        return await self._show(session, ConversationTree(kept), leaf)

    async def _show(
        self, session: Session, tree: ConversationTree, leaf_id: str | None
    ) -> Conversation:
        """Make the branch ending at ``leaf_id`` (None: the newest) the session's: its context
        and message count (GPT Lab's meaning, for the branch shown)."""
        shown = tree.branch(leaf_id)
        newest = tree.newest_leaf()
        stored_leaf = None if newest is None or (shown and shown[-1].id == newest.id) else leaf_id
        context = branch_context(shown, session.bot_session_type)
        await self._store.show_branch(session.id, stored_leaf, context, len(shown))
        session = session.with_changes(
            shown_leaf_id=stored_leaf, context=context, message_count=len(shown)
        )
        return self._conversation(session, tree)

    async def _settle_fork(self, session_id: str) -> AsyncIterator[ChatEvent]:
        """After a fork (an edit, a regeneration), show the new branch and say so."""
        session = await self._require(session_id)
        tree = ConversationTree(await self._store.list_messages(session_id))
        conversation = await self._show(session, tree, None)
        yield BranchShown(conversation)

    def can_conclude(self, messages: Sequence[Message]) -> bool:
        """GPT Lab's rule: a session can be concluded after more than five messages."""
        return sum(m.role is not Role.SYSTEM for m in messages) > CONCLUDE_AFTER_MESSAGES

    # -- turns ----------------------------------------------------------------------------------
    async def greet(self, session_id: str) -> AsyncIterator[ChatEvent]:
        """The assistant speaks first, from its system prompt alone."""
        session = await self._served_config(await self._require_open(session_id))
        request = ReplyRequest(
            session=session,
            llm=self._llm(session),
            turns=[ChatTurn(Role.SYSTEM, session.bot_initial_prompt_msg)],
            config=session.bot_model_config,
            parent_id=ROOT_PARENT,
        )
        async with self._providers.busy(session.provider_id):
            async for event in self._tracked(session.id, self._recorder.record(request)):
                yield event

    async def send(self, session_id: str, text: str) -> AsyncIterator[ChatEvent]:
        """Store the user's message at the end of the shown branch, then stream the reply."""
        text = _required(text)
        session = await self._served_config(await self._require_open(session_id))
        try:
            async for event in self._ask(session, text, await self._leaf(session)):
                yield event
        finally:
            if session.shown_leaf_id is not None:
                await self._unpin(session_id)

    async def _unpin(self, session_id: str) -> None:
        """The branch shown was an older one, and grew: from now on the newest is shown."""
        session = await self._require(session_id)
        await self._store.show_branch(session_id, None, session.context, session.message_count)

    async def edit_message(
        self, session_id: str, message_id: str, text: str
    ) -> AsyncIterator[ChatEvent]:
        """Ask ``text`` instead of one of the user's messages (any of them): the conversation
        forks there, the original and what followed it kept as the other branch."""
        text = _required(text)
        session = await self._served_config(await self._require_open(session_id))
        tree = ConversationTree(await self._store.list_messages(session_id))
        edited = tree.get(message_id)
        if edited is None or edited.role is not Role.USER:
            raise NothingToDo("Only your own messages can be edited.")
        before = tree.branch(edited.id)[:-1]
        shown = tree.branch(session.shown_leaf_id)
        for left in shown[len(before) :]:
            yield MessageRemoved(left.id)  # on the other branch from now on
        forked = session.with_changes(context=branch_context(before, session.bot_session_type))
        parent = before[-1].id if before else ROOT_PARENT
        async for event in self._ask(forked, text, parent):
            yield event
        async for event in self._settle_fork(session_id):
            yield event

    async def _ask(self, session: Session, text: str, parent_id: str) -> AsyncIterator[ChatEvent]:
        """Store ``text`` as the user's message after ``parent_id`` and stream the reply to the
        session's context with it; moderation, where on, once the reply is under way."""
        message = Message(
            id=new_id(),
            session_id=session.id,
            role=Role.USER,
            message=text,
            created_date=utcnow(),
            parent_id=parent_id,
        )
        session = self._with_context_entry(session, message)
        moderates = self._moderates(session)
        # Moderation is asked once the reply is under way, not before: its request would
        # otherwise go out first and hold back the one the user waits for.
        moderation: asyncio.Future[object] | None = None
        llm = self._llm(session)
        try:
            async for event in self._tracked(session.id, self._answer(session, question=message)):
                if moderates and moderation is None and isinstance(event, _REPLY_UNDER_WAY):
                    moderation = asyncio.ensure_future(llm.moderate(text))
                yield event
        except BaseException:
            if moderation is not None:
                moderation.cancel()
            raise
        if not moderates:
            return
        if moderation is None:
            moderation = asyncio.ensure_future(llm.moderate(text))
        flagged = await _flagged_categories(moderation)
        if flagged:
            yield ModerationWarning(flagged)

    def _moderates(self, session: Session) -> bool:
        """Whether the user's messages are moderated: where the Chat page says so, by servers
        speaking OpenAI's API (one without the endpoint is asked once, ``OpenAIClient``);
        Anthropic has none."""
        if not self._providers.preferences.chat.moderation:
            return False
        return self._providers.resolve(session.provider_id).kind.speaks_openai

    async def regenerate(
        self, session_id: str, message_id: str | None = None
    ) -> AsyncIterator[ChatEvent]:
        """Ask again for a reply (the shown branch's last one, or ``message_id``): the
        conversation forks there, the old reply and what followed it kept as a variant."""
        session = await self._served_config(await self._require_open(session_id))
        tree = ConversationTree(await self._store.list_messages(session_id))
        shown = tree.branch(session.shown_leaf_id)
        target = tree.get(message_id) if message_id is not None else (shown or [None])[-1]
        if target is None or target.role is not Role.ASSISTANT or target.kind is not None:
            raise NothingToDo("There is no reply to regenerate.")
        before = tree.branch(target.id)[:-1]
        for left in shown[len(before) :]:
            yield MessageRemoved(left.id)  # on the other branch from now on
        forked = session.with_changes(context=branch_context(before, session.bot_session_type))
        parent = before[-1].id if before else ROOT_PARENT
        async for event in self._tracked(session.id, self._answer(forked, parent_id=parent)):
            yield event
        async for event in self._settle_fork(session_id):
            yield event

    async def continue_reply(self, session_id: str) -> AsyncIterator[ChatEvent]:
        """Ask the model to carry on an interrupted reply, or one cut at the length limit,
        extending the same message."""
        session = await self._served_config(await self._require_open(session_id))
        shown = ConversationTree(await self._store.list_messages(session_id)).branch(
            session.shown_leaf_id
        )
        last = shown[-1] if shown else None
        if last is None or not can_continue(last):
            raise NothingToDo("There is no interrupted reply to continue.")
        session = await self._drop_context_reply(session, last)
        plan = await self._plan(session)
        turns = [
            *self._request_turns(session, plan.context),
            ChatTurn(Role.ASSISTANT, last.message),
            ChatTurn(Role.USER, CONTINUE_INSTRUCTION),
        ]
        request = ReplyRequest(
            session, self._llm(session), turns, session.bot_model_config, extend=last
        )
        async with self._providers.busy(session.provider_id):
            async for event in self._recorder.record(request):
                yield event

    async def edit_last_user_message(self, session_id: str, text: str) -> AsyncIterator[ChatEvent]:
        """Ask ``text`` instead of the shown branch's last user message (``edit_message``)."""
        _, shown = await self.open_session(session_id)
        users = [m for m in shown if m.role is Role.USER]
        if not users:
            raise NothingToDo("There is no message of yours to edit.")
        async for event in self.edit_message(session_id, users[-1].id, text):
            yield event

    async def conclude(self, session_id: str) -> AsyncIterator[ChatEvent]:
        """Run the summary prompt as a user turn; its reply becomes the session's recap."""
        session = await self._require_open(session_id)
        messages = await self._store.list_messages(session_id)
        if not self.can_conclude(messages):
            raise NothingToDo(
                f"A session can be concluded after more than {CONCLUDE_AFTER_MESSAGES} messages."
            )
        plan = await self._plan(session)
        turns = [
            *self._request_turns(session, plan.context),
            ChatTurn(Role.USER, session.bot_summary_prompt_msg),
        ]
        request = ReplyRequest(
            session,
            self._llm(session),
            turns,
            session.bot_model_config,
            details=MessageDetails(kind=MessageKind.RECAP),
            parent_id=await self._leaf(session),
        )
        async with self._providers.busy(session.provider_id):
            recorded = self._recorder.record(request, add_to_context=False)
            async for event in self._tracked(session.id, recorded):
                yield event
        if session.shown_leaf_id is not None:
            await self._unpin(session_id)

    async def finish(self, session_id: str, liked: UserLiked | None) -> Session:
        """Close a concluded session as completed with the user's rating."""
        await self._require(session_id)
        messages = await self._store.list_messages(session_id)
        recap = next((m.message for m in reversed(messages) if m.kind is MessageKind.RECAP), "")
        return await self._store.end_session(
            session_id, SessionStatus.COMPLETED, user_liked=liked, recap=recap
        )

    async def abandon(self, session_id: str) -> Session:
        """End a session without concluding it; the status records why, as GPT Lab did."""
        messages = await self._store.list_messages(session_id)
        status = SessionStatus.ABANDONED_BY_USER
        if messages and messages[-1].state is MessageState.INTERRUPTED:
            failure = messages[-1].meta.failure
            if failure is FailureKind.STORAGE:
                status = SessionStatus.ABANDONED_STORAGE_ERROR
            elif failure is not None:
                status = SessionStatus.ABANDONED_LLM_ERROR
        return await self._store.end_session(session_id, status)

    async def suggest_title(self, session_id: str) -> str:
        """A short title from the first exchange; falls back to the first user words.

        The model is asked only where the Chat page allows it, and only once no reply is due
        on the chat's provider and the user has paused typing (``Providers.wait_until_quiet``):
        a local server serves one request at a time and caches one prompt. The request begins
        like the chat's own (its system prompt, then the exchange), so it shares that prefix.
        """
        session = await self._require(session_id)
        messages = await self._store.list_messages(session_id)
        exchange = [m for m in messages if m.role in (Role.USER, Role.ASSISTANT)][:3]
        first_user = next((m.message for m in exchange if m.role is Role.USER), "")
        title = ""
        if first_user and self._providers.preferences.chat.titles:
            await self._providers.wait_until_quiet(session.provider_id)
            turns = [
                ChatTurn(Role.SYSTEM, session.bot_initial_prompt_msg),
                *(ChatTurn(m.role, m.message[:2000]) for m in exchange),
                ChatTurn(Role.USER, TITLE_INSTRUCTION),
            ]
            config = ModelConfig(model=session.bot_model_config.model, max_tokens=20)
            try:
                title = (await self._llm(session).complete(turns, config)).strip()
                title = title.strip("\"'").strip()
            except ServiceError as error:
                log.info("Title suggestion failed: %s", type(error).__name__)
        # Plain text on one line: a model likes to answer in Markdown (**bold**, # headings).
        title = plain_title(first_line(title))
        if not title:
            title = plain_title(" ".join(first_user.split()[:6])) or session.title
        title = title[:80]
        await self._store.rename_session(session_id, title)
        return title

    # -- internals -----------------------------------------------------------------------------
    async def _require(self, session_id: str) -> Session:
        session = await self._store.get_session(session_id)
        if session is None:
            raise NotFound("That session no longer exists.")
        return session

    async def _require_open(self, session_id: str) -> Session:
        session = await self._require(session_id)
        if not session.status.is_open:
            raise SessionClosed("This session has ended; start a new one to keep talking.")
        return session

    def _with_context_entry(self, session: Session, message: Message) -> Session:
        """The session with ``message`` added to the context it will store."""
        entry = ContextMessage(message.role, message.message, message.created_date)
        new_context = context_policy.kept_context(
            session.bot_session_type, (*session.context, entry)
        )
        return session.with_changes(context=new_context)

    async def _drop_context_reply(self, session: Session, reply: Message) -> Session:
        kept = session.context
        if kept and kept[-1].role is Role.ASSISTANT and kept[-1].message == reply.message:
            kept = kept[:-1]
            await self._store.update_session_context(session.id, kept)
        return session.with_changes(context=kept)

    def _request_turns(self, session: Session, context: Sequence[ContextMessage]) -> list[ChatTurn]:
        return [
            ChatTurn(Role.SYSTEM, session.bot_initial_prompt_msg),
            *(ChatTurn(entry.role, entry.message) for entry in context),
        ]

    async def _plan(self, session: Session) -> context_policy.ContextPlan:
        """The context to send.

        A request whose byte length already proves it fits is planned at once; only one near a
        limit loads the tokenizer and is counted, off the event loop.
        """
        model = session.bot_model_config.model
        prompt = session.bot_initial_prompt_msg
        limits = {
            "context_window": self._providers.context_window(session.provider_id, model),
            "max_reply_tokens": session.bot_model_config.max_tokens,
        }

        def ceiling(context: Sequence[ContextMessage]) -> int:
            return (
                TOKENS_REPLY_PRIMING
                + _turn_ceiling(Role.SYSTEM, prompt)
                + sum(_turn_ceiling(e.role, e.message) for e in context)
            )

        def count(context: Sequence[ContextMessage]) -> int:
            return (
                TOKENS_REPLY_PRIMING
                + self._turn_tokens(Role.SYSTEM, prompt, model)
                + sum(self._turn_tokens(e.role, e.message, model) for e in context)
            )

        quick = context_policy.plan_within_ceiling(
            session.bot_session_type, session.context, ceiling, **limits
        )
        if quick is not None:
            return quick
        try:
            return await run_blocking(
                context_policy.plan_context,
                session.bot_session_type,
                session.context,
                count,
                **limits,
            )
        except context_policy.MessageTooLong as error:
            raise NothingToDo(str(error)) from None

    async def _answer(
        self,
        session: Session,
        *,
        question: Message | None = None,
        parent_id: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream a reply to the session's context, condensing it first where due.

        ``question`` is the user's message the context ends with, not yet stored: a message
        too long for the model is refused before anything is stored; otherwise it is stored
        with the reply's first row, or before the condensing that must come first. The reply
        follows the question, else ``parent_id`` (a regeneration), else a condensing note.
        """
        parent = question.id if question is not None else parent_id
        async with self._providers.busy(session.provider_id):
            refits = 0
            while True:
                plan = await self._plan(session)
                if plan.should_condense:
                    if question is not None:
                        await self._store.add_message(question, context=session.context)
                        yield MessageStored(question)
                        question = None
                    async for event in self._condense(session, plan.context, parent):
                        if isinstance(event, SessionUpdated):
                            session = event.session
                        elif isinstance(event, MessageStored):
                            parent = event.message.id
                        yield event
                    plan = await self._plan(session)
                request = ReplyRequest(
                    session,
                    self._llm(session),
                    self._request_turns(session, plan.context),
                    session.bot_model_config,
                    question=question,
                    parent_id=parent,
                )
                retry = False
                async for event in self._recorder.record(request):
                    if refits < MAX_REFITS and await self._learned_from(session, event):
                        # Nothing arrived: the empty reply goes, and the request is planned
                        # again within the limit the server named.
                        await self._store.delete_message(event.message.id)
                        yield MessageRemoved(event.message.id)
                        retry = True
                        continue
                    yield event
                if not retry:
                    return
                refits += 1
                question = None  # stored with the first attempt's reply

    async def _learned_from(self, session: Session, event: ChatEvent) -> bool:
        """Whether ``event`` is a reply refused as too long before any text, by a server that
        named its context window; that window is then remembered for the chat's model."""
        if not isinstance(event, ReplyInterrupted) or event.message.message:
            return False
        error = event.error
        if not isinstance(error, ContextTooLong) or not error.limit:
            return False
        model = session.bot_model_config.model
        before = self._providers.context_window(session.provider_id, model)
        await self._providers.learn_context_window(session.provider_id, model, error.limit)
        # Planned again only where the window shrank: otherwise trimming to it changes nothing.
        return self._providers.context_window(session.provider_id, model) < before

    async def _condense(
        self, session: Session, context: Sequence[ContextMessage], parent_id: str | None
    ) -> AsyncIterator[ChatEvent]:
        """Summarise the context with the summary prompt; the summary stands in for it."""
        turns = [
            *self._request_turns(session, context[:-1]),
            ChatTurn(Role.USER, session.bot_summary_prompt_msg),
        ]
        summary = await self._llm(session).complete(turns, session.bot_model_config)
        now = utcnow()
        new_context = context_policy.condensed(
            session.context, ContextMessage(Role.ASSISTANT, summary, now)
        )
        await self._store.update_session_context(session.id, new_context)
        notice = Message(
            id=new_id(),
            session_id=session.id,
            role=Role.SYSTEM,
            message=summary,
            created_date=now,
            meta=MessageDetails(
                kind=MessageKind.CONTEXT_SUMMARY, summarised_messages=len(context) - 1
            ),
            parent_id=parent_id,
        )
        await self._store.add_message(notice)
        yield MessageStored(notice)
        yield SessionUpdated(session.with_changes(context=new_context))

    def stop(self, session_id: str) -> bool:
        """Stop the reply streaming in a session; it ends as interrupted, what arrived kept.

        Whoever reads the reply's events then gets its ``ReplyInterrupted`` (``error`` None).
        False when no reply streams there.
        """
        return self._recorder.stop(session_id)


def _required(text: str) -> str:
    """A message's text without surrounding space; ``NothingToDo`` when there is none."""
    text = text.strip()
    if not text:
        raise NothingToDo("Type a message first.")
    return text


def can_continue(message: Message) -> bool:
    """Whether a reply can be continued: interrupted, or cut at the response token limit."""
    if message.role is not Role.ASSISTANT:
        return False
    return message.state is not MessageState.COMPLETE or message.meta.is_cut_at_length


def _turn_ceiling(role: Role, content: str) -> int:
    """At least as many tokens as one message of a request costs (``tokens.token_ceiling``)."""
    return TOKENS_PER_MESSAGE + token_ceiling(str(role)) + token_ceiling(content)


async def _flagged_categories(moderation: asyncio.Future[object]) -> tuple[str, ...]:
    """The categories the moderation flagged, or none if it failed or is unavailable."""
    with contextlib.suppress(Exception):
        # One already done needs no timer (under qasync each is a QTimer that outlives it).
        if moderation.done():
            result = moderation.result()
        else:
            result = await asyncio.wait_for(moderation, timeout=5)
        if result is not None and getattr(result, "flagged", False):
            return tuple(getattr(result, "categories", ()))
    return ()
