"""The one async repository interface every storage backend implements.

Each method is one operation and, where it touches several rows or documents, one transaction:
creating an assistant writes the bot, its prompts, its model config and the creator's counter
together or not at all. Ids are generated on the client (``models.new_id``) so a replayed write
is idempotent.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from gptlab_desktop.models import (
    Assistant,
    AssistantDetails,
    AssistantDraft,
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    SearchHit,
    Session,
    SessionStatus,
    SessionSummary,
    User,
    UserLiked,
    stable_id,
)

# A SearchHit's snippet marks each matched word between these, for the UI to emphasise.
SNIPPET_OPEN = "«"
SNIPPET_CLOSE = "»"


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """How the store opened: ``problem`` is a user-facing sentence when it could not."""

    is_usable: bool
    problem: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class ShowcaseEntry:
    """A showcased assistant as shipped in resources/, keyed so upgrades update it in place.

    Its ids are derived from the key (and a version's content), never drawn at random: every
    machine names the shipped assistant and its versions alike, so the cloud holds one of each
    however many machines start with the same resources.
    """

    key: str
    draft: AssistantDraft

    @property
    def bot_id(self) -> str:
        """The assistant's id on every machine."""
        return showcase_bot_id(self.key)

    def prompt_id(self, message_type: PromptType, message: str) -> str:
        """The id of the shipped version of one kind of prompt with this text."""
        return showcase_prompt_id(self.key, message_type, message)

    def model_config_id(self, config: ModelConfig) -> str:
        """The id of the shipped model config version with these parameters."""
        return showcase_model_config_id(self.key, config)


# The ids of what is shipped, the same on every machine. Never change these formulas: the
# cloud's showcase documents, and every cache of them, are named by them.
def showcase_bot_id(key: str) -> str:
    """The id of the showcased assistant shipped under ``key``."""
    return stable_id("showcase", key)


def showcase_prompt_id(key: str, message_type: PromptType, message: str) -> str:
    """The id of a showcased assistant's version of one kind of prompt with this text."""
    return stable_id("showcase", key, "prompt", PromptType(message_type).value, message)


def showcase_model_config_id(key: str, config: ModelConfig) -> str:
    """The id of a showcased assistant's model config version with these parameters."""
    canonical = json.dumps(config.to_dict(), sort_keys=True)
    return stable_id("showcase", key, "model_config", canonical)


class Store(ABC):
    """Async repository of users, assistants (with versions), sessions and messages."""

    # -- life -------------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> StoreHealth:
        """Open (creating or migrating as needed); never raises for a bad file, reports it."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the backend."""

    # -- users ------------------------------------------------------------------------------
    @abstractmethod
    async def local_user(self) -> User:
        """The one local user of this store: a random id made with the store, the same on every
        open. Needs no API key, so nothing waits for the keyring to know who the user is."""

    @abstractmethod
    async def record_user_hash(self, user_id: str, user_hash: str) -> User:
        """Write GPT Lab's ``user_hash`` on the user (and its ``user_hash`` record); the id stays.

        Only for the hash of a real OpenAI key (``identity.user_hash``). The hash is a field
        kept for GPT Lab's layout, never used to find a user.
        """

    @abstractmethod
    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, if any."""

    # -- assistants -------------------------------------------------------------------------
    @abstractmethod
    async def create_assistant(self, draft: AssistantDraft, creator_user_id: str) -> Assistant:
        """Create an assistant with its first prompt and config versions; counts bots_created."""

    @abstractmethod
    async def create_assistants(
        self, drafts: Sequence[AssistantDraft], creator_user_id: str
    ) -> list[Assistant]:
        """Create several assistants in one transaction (an import): all of them or none."""

    @abstractmethod
    async def update_assistant(self, assistant_id: str, draft: AssistantDraft) -> Assistant:
        """Apply a draft: a changed prompt or model config becomes a new active version."""

    @abstractmethod
    async def get_assistant(self, assistant_id: str) -> Assistant | None:
        """The assistant with this id, archived or not."""

    @abstractmethod
    async def get_assistant_details(self, assistant_id: str) -> AssistantDetails | None:
        """The assistant with its active prompts and model config."""

    @abstractmethod
    async def list_assistants(self, *, include_archived: bool = False) -> list[Assistant]:
        """Showcased first, then the others (own and other users' published ones), each group
        by name (a stable order)."""

    @abstractmethod
    async def set_assistant_active(self, assistant_id: str, is_active: bool) -> Assistant:
        """Archive (``False``) or restore (``True``) an own assistant."""

    @abstractmethod
    async def set_assistant_published(
        self, assistant_id: str, published: bool, *, author_name: str | None = None
    ) -> Assistant:
        """Publish an own assistant to a shared project's lobby (``True``), or withdraw it.

        Published, its active prompts and model config are readable by every member of the
        project, and ``author_name`` (the user's display name, where known) is written on it
        for the lobby; its sessions and messages stay the user's alone. ``ReadOnlyAssistant``
        for a showcased or another user's assistant.
        """

    @abstractmethod
    async def delete_assistant(self, assistant_id: str) -> None:
        """Delete an own assistant and its versions; its sessions keep their snapshots."""

    @abstractmethod
    async def list_prompts(self, assistant_id: str, message_type: PromptType) -> list[Prompt]:
        """Every version of one kind of prompt, newest first."""

    @abstractmethod
    async def list_model_configs(self, assistant_id: str) -> list[ModelConfigVersion]:
        """Every model config version, newest first."""

    @abstractmethod
    async def activate_prompt(self, assistant_id: str, prompt_id: str) -> Assistant:
        """Make an existing prompt version the active one of its kind."""

    @abstractmethod
    async def activate_model_config(self, assistant_id: str, config_id: str) -> Assistant:
        """Make an existing model config version the active one."""

    @abstractmethod
    async def sync_showcase(self, entries: Sequence[ShowcaseEntry]) -> int:
        """Insert or update showcased assistants by key (never duplicating); returns changes."""

    # -- sessions ---------------------------------------------------------------------------
    @abstractmethod
    async def create_session(self, session: Session) -> Session:
        """Store a new session; counts sessions_started on the user, bot and prompt."""

    @abstractmethod
    async def get_session(self, session_id: str) -> Session | None:
        """The session with this id, if any."""

    @abstractmethod
    async def list_sessions(
        self, *, bot_id: str | None = None, limit: int | None = None
    ) -> list[Session]:
        """Sessions newest-modified first, of one assistant or of all."""

    async def list_session_summaries(
        self, *, bot_id: str | None = None, limit: int | None = None
    ) -> list[SessionSummary]:
        """What a chat list shows of each session: pinned ones first, then newest-modified
        first; of one assistant or of all. A store that can read less than whole sessions
        does so (SQLite reads one index)."""
        sessions = await self.list_sessions(bot_id=bot_id)
        # Stable: within pinned and unpinned, the store's newest-modified order stays.
        summaries = sorted((SessionSummary.of(s) for s in sessions), key=lambda s: not s.is_pinned)
        return summaries if limit is None else summaries[: max(limit, 0)]

    @abstractmethod
    async def update_session_context(
        self, session_id: str, context: Sequence[ContextMessage]
    ) -> None:
        """Replace the context the model sees next (``messages_str``)."""

    @abstractmethod
    async def rename_session(self, session_id: str, title: str) -> None:
        """Give a session a title."""

    @abstractmethod
    async def pin_session(self, session_id: str, is_pinned: bool) -> None:
        """Pin a session to the top of the chat list, or unpin it (its last modified date,
        and so its place among the chats by date, stays)."""

    @abstractmethod
    async def show_branch(
        self,
        session_id: str,
        leaf_id: str | None,
        context: Sequence[ContextMessage],
        message_count: int,
    ) -> None:
        """Show the conversation's branch ending at ``leaf_id`` (None: the newest message's):
        the session's context and message count become that branch's."""

    @abstractmethod
    async def change_session_model(
        self, session_id: str, config: ModelConfig, provider_id: str | None
    ) -> None:
        """Make the chat talk to ``config``'s model (and sampling) on that provider profile
        (None: the default one): a per-chat override of the assistant's model."""

    @abstractmethod
    async def end_session(
        self,
        session_id: str,
        status: SessionStatus,
        *,
        user_liked: UserLiked | None = None,
        recap: str = "",
    ) -> Session:
        """Close a session with a final status; counts sessions_ended once."""

    @abstractmethod
    async def delete_session(self, session_id: str) -> None:
        """Delete a session and its messages."""

    # -- messages ---------------------------------------------------------------------------
    async def add_message(
        self, message: Message, *, context: Sequence[ContextMessage] | None = None
    ) -> None:
        """Append one message to its session's transcript (``add_messages`` with one)."""
        await self.add_messages((message,), context=context)

    @abstractmethod
    async def add_messages(
        self, messages: Sequence[Message], *, context: Sequence[ContextMessage] | None = None
    ) -> None:
        """Append messages of one session to its transcript, together; counts message_count.

        A message whose id is already stored changes and counts nothing (a replayed write).
        With ``context``, the session's context (``messages_str``) is replaced in the same
        transaction, so the transcript and what the model sees next never disagree.
        """

    @abstractmethod
    async def update_message(
        self,
        message_id: str,
        *,
        text: str,
        state: MessageState,
        meta: MessageDetails | None = None,
        context: Sequence[ContextMessage] | None = None,
    ) -> None:
        """Replace a message's text and state (a streaming reply as it grows, then complete).

        With ``context``, the session's context is replaced in the same transaction.
        """

    @abstractmethod
    async def delete_message(self, message_id: str) -> None:
        """Remove one message (regenerate, edit-and-resend); counts message_count down."""

    @abstractmethod
    async def delete_messages(self, message_ids: Sequence[str]) -> None:
        """Remove messages of one session together (a subtree), leaving tombstones where the
        store syncs; counts message_count down. Ids no longer stored are skipped."""

    @abstractmethod
    async def list_messages(self, session_id: str) -> list[Message]:
        """The transcript in ``created_date`` order."""

    @abstractmethod
    async def search_messages(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Full-text search over every cached message, best matches first."""

    # -- settings ---------------------------------------------------------------------------
    @abstractmethod
    async def get_setting(self, name: str) -> str | None:
        """A small named value kept with the data (e.g. the wrapped data key), or None."""

    @abstractmethod
    async def set_setting(self, name: str, value: str) -> None:
        """Store a small named value, replacing any previous one (never a secret)."""
