"""The domain: plain typed values for users, assistants, their versions, sessions and messages.

GPT Lab's numeric codes (session type, status, rating) are the values of the enums here, so
data stays compatible with its Firestore layout (see DESIGN.md and GPTLAB.md).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

SESSION_SCHEMA_VERSION = 1

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_id() -> str:
    """A 20-character random id in Firestore's auto-ID style, generated on the client."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def stable_id(*parts: str) -> str:
    """A 20-character id in ``new_id``'s alphabet, the same for the same parts on every machine.

    For records every machine must name alike without asking a server, e.g. a showcased
    assistant (``("showcase", key)``) and its shipped versions, so two machines that start with
    the same resources write one cloud document each, not a copy apiece.
    """
    digest = hashlib.sha256("\x00".join(("gptlab-desktop/id/v1", *parts)).encode("utf-8"))
    number = int.from_bytes(digest.digest(), "big")
    chars: list[str] = []
    for _ in range(20):
        number, index = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[index])
    return "".join(chars)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every stored date is)."""
    return datetime.now(UTC)


class SessionType(IntEnum):
    """How a session manages its context (GPT Lab's codes)."""

    BRAINSTORMING = 2
    COACHING = 3

    @property
    def label(self) -> str:
        return self.name.capitalize()


class SessionStatus(IntEnum):
    """Where a session stands (GPT Lab's codes)."""

    STARTED = 0
    COMPLETED = 1
    ABANDONED_BY_USER = 2
    ABANDONED_STORAGE_ERROR = 3
    ABANDONED_LLM_ERROR = 4

    @property
    def is_open(self) -> bool:
        return self is SessionStatus.STARTED


class UserLiked(IntEnum):
    """The rating a user gives when concluding a session."""

    DISLIKED = 0
    LIKED = 1


class Role(StrEnum):
    """Who wrote a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class PromptType(StrEnum):
    """The two kinds of prompt an assistant keeps versions of (GPT Lab's message_type)."""

    INITIAL = "initial"
    SUMMARY = "summary"


class MessageState(StrEnum):
    """Whether a stored message is whole: a reply cut short stays stored, marked interrupted."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    INTERRUPTED = "interrupted"


class MessageKind(StrEnum):
    """A message's part in the session beyond its role (``MessageDetails.kind``)."""

    RECAP = "recap"  # the reply to the summary prompt that concludes a session
    CONTEXT_SUMMARY = "context_summary"  # older turns condensed (a note, role SYSTEM)


class FailureKind(StrEnum):
    """What cut a reply short. Stored as this code; the sentence is made when it is shown
    (``ui/messages.py``), so a better wording reaches old messages too."""

    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    MODEL_NOT_AVAILABLE = "model_not_available"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    CONTEXT_TOO_LONG = "context_too_long"
    REQUEST_REJECTED = "request_rejected"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    SERVER_UNREACHABLE = "server_unreachable"
    AI_SERVICE = "ai_service"  # any other failure of the AI service
    STORAGE = "storage"  # the reply could not be stored

    @property
    def is_storage(self) -> bool:
        """Whether storing failed (else the AI service did)."""
        return self is FailureKind.STORAGE


@dataclass(frozen=True, slots=True)
class MessageDetails:
    """What is kept with a message besides its text: who wrote it, how it ended, what it cost.

    Stored as JSON of the fields that are set (``to_dict``); ``from_dict`` reads any stored
    form, the free-form details of schema 3 included.
    """

    model: str | None = None
    kind: MessageKind | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # Why a reply is interrupted: a failure, or the user's Stop (or the window closing).
    failure: FailureKind | None = None
    stopped: bool = False
    # The reply revealed a guarded prompt and was replaced by the refusal.
    withheld: bool = False
    # A condensing note: how many messages it stands for.
    summarised_messages: int | None = None
    # The token counts were counted here: the server reported no usage (local servers).
    usage_estimated: bool = False

    @property
    def is_cut_at_length(self) -> bool:
        """Whether the reply stopped at the response token limit (it can be continued)."""
        return self.finish_reason == "length"

    @property
    def is_filtered(self) -> bool:
        """Whether the provider's content filter stopped the reply."""
        return self.finish_reason == "content_filter"

    def with_changes(self, **changes: object) -> MessageDetails:
        """A copy with the given fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The fields that are set, as JSON values."""
        values: dict[str, object] = {}
        for name in _DETAIL_FIELDS:
            value = getattr(self, name)
            if value is None or value is False:
                continue
            values[name] = value.value if isinstance(value, StrEnum) else value
        return values

    @classmethod
    def from_dict(cls, data: object) -> MessageDetails:
        """The details in a stored dict; unknown or malformed entries are left out."""
        if not isinstance(data, dict):
            return cls()
        kind = data.get("kind")
        failure = data.get("failure")
        return cls(
            model=_text_or_none(data.get("model")),
            kind=MessageKind(kind) if kind in MessageKind._value2member_map_ else None,
            finish_reason=_text_or_none(data.get("finish_reason")),
            prompt_tokens=_int_or_none(data.get("prompt_tokens")),
            completion_tokens=_int_or_none(data.get("completion_tokens")),
            failure=_failure(failure, data.get("error")),
            stopped=bool(data.get("stopped")),
            withheld=bool(data.get("withheld")),
            summarised_messages=_int_or_none(data.get("summarised_messages")),
            usage_estimated=bool(data.get("usage_estimated")),
        )


_DETAIL_FIELDS = (
    "model",
    "kind",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "failure",
    "stopped",
    "withheld",
    "summarised_messages",
    "usage_estimated",
)


# Schema 3 stored the error's sentence and "llm" or "storage"; each sentence began the same way.
_SCHEMA3_SENTENCES = (
    ("No API key is set", FailureKind.MISSING_API_KEY),
    ("The AI service did not accept your API key", FailureKind.INVALID_API_KEY),
    ("The model “", FailureKind.MODEL_NOT_AVAILABLE),
    ("The AI service is busy with too many requests", FailureKind.RATE_LIMITED),
    ("Your API key has run out of quota", FailureKind.QUOTA_EXHAUSTED),
    ("The conversation is longer than", FailureKind.CONTEXT_TOO_LONG),
    ("The AI service refused the request", FailureKind.REQUEST_REJECTED),
    ("The AI service had a problem on its side", FailureKind.SERVER_ERROR),
    ("The AI service did not answer within", FailureKind.TIMEOUT),
    ("The connection to the AI service was lost", FailureKind.CONNECTION_LOST),
    ("Cannot connect to the AI service at", FailureKind.SERVER_UNREACHABLE),
)


def _failure(code: object, sentence: object) -> FailureKind | None:
    """The failure of stored details: a ``FailureKind`` code, or schema 3's sentence."""
    if code in FailureKind._value2member_map_:
        return FailureKind(str(code))
    if code == "storage":
        return FailureKind.STORAGE
    if code != "llm":
        return None
    text = sentence if isinstance(sentence, str) else ""
    for start, kind in _SCHEMA3_SENTENCES:
        if text.startswith(start):
            return kind
    return FailureKind.AI_SERVICE


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ValidationError(ValueError):
    """User-facing problems with a value; ``problems`` maps a field name to a sentence."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems.values()))


# Limits from GPT Lab's lab (GPTLAB.md); the initial prompt is also bounded in tokens elsewhere.
NAME_MAX = 30
TAG_LINE_MAX = 25
DESCRIPTION_MAX = 250
SUMMARY_PROMPT_MAX = 500
INITIAL_PROMPT_MAX = 2000
DEFAULT_MAX_TOKENS = 250


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The model and its sampling parameters, as sent with every request."""

    model: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.7
    top_p: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0

    def problems(self, max_output_tokens: int | None = None) -> dict[str, str]:
        """Every invalid parameter with a sentence a user understands; empty when valid.

        ``max_output_tokens`` is the model's own response limit, where known.
        """
        found: dict[str, str] = {}
        if not self.model.strip():
            found["model"] = "Choose a model."
        if not 0.0 <= self.temperature <= 2.0:
            found["temperature"] = (
                f"Temperature must be between 0 and 2 (it is {self.temperature:g}); "
                "lower is more focused, higher more varied."
            )
        if not 0.0 <= self.top_p <= 1.0:
            found["top_p"] = f"Top P must be between 0 and 1 (it is {self.top_p:g})."
        if not -2.0 <= self.frequency_penalty <= 2.0:
            found["frequency_penalty"] = (
                f"Frequency penalty must be between -2 and 2 (it is {self.frequency_penalty:g})."
            )
        if not -2.0 <= self.presence_penalty <= 2.0:
            found["presence_penalty"] = (
                f"Presence penalty must be between -2 and 2 (it is {self.presence_penalty:g})."
            )
        if self.max_tokens < 1:
            found["max_tokens"] = "The response token limit must be at least 1."
        elif max_output_tokens is not None and self.max_tokens > max_output_tokens:
            found["max_tokens"] = (
                f"{self.model} answers with at most {max_output_tokens:,} tokens; "
                f"the response token limit is {self.max_tokens:,}."
            )
        return found

    def validated(self, max_output_tokens: int | None = None) -> ModelConfig:
        """This config, or ``ValidationError`` naming every invalid parameter."""
        found = self.problems(max_output_tokens)
        if found:
            raise ValidationError(found)
        return self

    def to_dict(self) -> dict[str, str | int | float]:
        """The config as GPT Lab stored it (``bots/{id}/model_configs/{id}.config``)."""
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        """Read a stored config; missing parameters take their defaults."""
        return cls(
            model=str(data["model"]),
            max_tokens=int(data.get("max_tokens", DEFAULT_MAX_TOKENS)),  # type: ignore[arg-type]
            temperature=float(data.get("temperature", 0.7)),  # type: ignore[arg-type]
            top_p=float(data.get("top_p", 1.0)),  # type: ignore[arg-type]
            frequency_penalty=float(data.get("frequency_penalty", 0.0)),  # type: ignore[arg-type]
            presence_penalty=float(data.get("presence_penalty", 0.0)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class User:
    """Who uses the app: a random id (``Store.local_user``), never derived from a key.

    ``user_hash`` is GPT Lab's salted one-way hash of a real OpenAI key, recorded while one is
    in use (``Store.record_user_hash``) and None before; it is never used to find a user.
    """

    id: str
    user_hash: str | None
    created_date: datetime
    last_modified_date: datetime
    sessions_started: int = 0
    sessions_ended: int = 0
    bots_created: int = 0


@dataclass(frozen=True, slots=True)
class AssistantDraft:
    """What a user writes to make or change an assistant (no ids, no counters)."""

    name: str
    tag_line: str
    description: str
    initial_prompt: str
    summary_prompt: str
    model_config: ModelConfig
    session_type: SessionType = SessionType.BRAINSTORMING
    guards_prompt_leak: bool = False

    def problems(self, max_output_tokens: int | None = None) -> dict[str, str]:
        """Every invalid field with a sentence a user understands; empty when valid."""
        found: dict[str, str] = {}
        for field_name, label, value, limit in (
            ("name", "Name", self.name, NAME_MAX),
            ("tag_line", "Tag line", self.tag_line, TAG_LINE_MAX),
            ("description", "Description", self.description, DESCRIPTION_MAX),
            ("initial_prompt", "Initial prompt", self.initial_prompt, INITIAL_PROMPT_MAX),
            ("summary_prompt", "Summary prompt", self.summary_prompt, SUMMARY_PROMPT_MAX),
        ):
            if len(value) > limit:
                found[field_name] = f"{label} is {len(value):,} characters; the limit is {limit:,}."
        if not self.name.strip():
            found["name"] = "Give the assistant a name."
        if not self.initial_prompt.strip():
            found["initial_prompt"] = "Write the initial prompt: it tells the assistant who it is."
        found.update(self.model_config.problems(max_output_tokens))
        return found

    def validated(self, max_output_tokens: int | None = None) -> AssistantDraft:
        """This draft, or ``ValidationError`` naming every invalid field."""
        found = self.problems(max_output_tokens)
        if found:
            raise ValidationError(found)
        return self


@dataclass(frozen=True, slots=True)
class Assistant:
    """A bot: its identity, pointers to its active versions, and its counters."""

    id: str
    name: str
    tag_line: str
    description: str
    session_type: SessionType
    creator_user_id: str | None
    created_date: datetime
    last_modified_date: datetime
    active_initial_prompt_id: str
    active_model_config_id: str
    active_summary_prompt_id: str
    showcased: bool = False
    is_active: bool = True
    guards_prompt_leak: bool = False
    sessions_started: int = 0
    sessions_ended: int = 0
    # The stable key of a showcased assistant in resources/, so upgrades update it in place.
    showcase_key: str | None = None
    # Published to a shared project's lobby: its prompts and config readable by every member.
    published: bool = False
    # The author's display name, written on the bot when it is published (the lobby shows it).
    creator_display_name: str | None = None
    # How many sessions the active initial prompt version started (that prompt's counter, read
    # with the bot; not a field of the bot document).
    version_sessions_started: int = 0

    def is_read_only_for(self, user_id: str | None) -> bool:
        """Whether ``user_id`` may only use this assistant: a showcased one, or another user's
        published one (chatting counts its sessions; editing and publishing are the author's)."""
        return self.showcased or (
            self.published and self.creator_user_id is not None and self.creator_user_id != user_id
        )


@dataclass(frozen=True, slots=True)
class Prompt:
    """One version of an assistant's initial or summary prompt, with its own statistics."""

    id: str
    bot_id: str
    message_type: PromptType
    message: str
    created_date: datetime
    is_active: bool = True
    sessions_started: int = 0
    sessions_ended: int = 0


@dataclass(frozen=True, slots=True)
class ModelConfigVersion:
    """One version of an assistant's model config."""

    id: str
    bot_id: str
    config: ModelConfig
    created_date: datetime
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class AssistantDetails:
    """An assistant with its active prompts and model config resolved."""

    assistant: Assistant
    initial_prompt: Prompt
    summary_prompt: Prompt
    model_config: ModelConfigVersion

    def to_draft(self) -> AssistantDraft:
        """The editable form of this assistant."""
        return AssistantDraft(
            name=self.assistant.name,
            tag_line=self.assistant.tag_line,
            description=self.assistant.description,
            initial_prompt=self.initial_prompt.message,
            summary_prompt=self.summary_prompt.message,
            model_config=self.model_config.config,
            session_type=self.assistant.session_type,
            guards_prompt_leak=self.assistant.guards_prompt_leak,
        )


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """One entry of the context the model sees next (GPT Lab's ``messages_str`` items)."""

    role: Role
    message: str
    created_date: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """A conversation with a snapshot of the assistant version it started with."""

    id: str
    user_id: str
    bot_id: str | None
    bot_initial_prompt_msg: str
    bot_model_config: ModelConfig
    bot_session_type: SessionType
    bot_summary_prompt_msg: str
    created_date: datetime
    last_modified_date: datetime
    # The prompt versions the session started with, so their statistics can be kept.
    bot_initial_prompt_id: str | None = None
    bot_summary_prompt_id: str | None = None
    guards_prompt_leak: bool = False
    title: str = ""
    status: SessionStatus = SessionStatus.STARTED
    message_count: int = 0
    context: tuple[ContextMessage, ...] = ()
    user_liked: UserLiked | None = None
    recap: str = ""
    session_schema_version: int = SESSION_SCHEMA_VERSION
    # The provider profile the chat talks to (None: the default one); a profile's id is this
    # machine's (``preferences.py``): another machine's default serves a session it lacks.
    provider_id: str | None = None
    # The last message of the branch shown (None: the branch of the newest message).
    shown_leaf_id: str | None = None
    # Kept at the top of the chat list, above the chats grouped by date.
    is_pinned: bool = False

    def with_changes(self, **changes: object) -> Session:
        """A copy with the given fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What a list of chats shows of a session: no prompts, no context (open it for those).

    Reading ten thousand of these is cheap; reading as many whole sessions is not.
    """

    id: str
    bot_id: str | None
    title: str
    created_date: datetime
    last_modified_date: datetime
    status: SessionStatus = SessionStatus.STARTED
    message_count: int = 0
    # The model the chat talks to (its per-chat choice, else its assistant's).
    model: str = ""
    is_pinned: bool = False

    @classmethod
    def of(cls, session: Session) -> SessionSummary:
        """The summary of a whole session."""
        return cls(
            id=session.id,
            bot_id=session.bot_id,
            title=session.title,
            created_date=session.created_date,
            last_modified_date=session.last_modified_date,
            status=session.status,
            message_count=session.message_count,
            model=session.bot_model_config.model,
            is_pinned=session.is_pinned,
        )

    def with_changes(self, **changes: object) -> SessionSummary:
        """A copy with the given fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


NO_DETAILS = MessageDetails()


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a session's transcript."""

    id: str
    session_id: str
    role: Role
    message: str
    created_date: datetime
    state: MessageState = MessageState.COMPLETE
    # What is kept with it: model, kind, how it ended, token usage.
    meta: MessageDetails = field(default_factory=lambda: NO_DETAILS, compare=False, hash=False)
    # The message it answers or follows in the conversation's tree (``services/branches.py``):
    # ``ROOT_PARENT`` for a first message; None for one stored before branches existed, whose
    # parent is the message before it.
    parent_id: str | None = None

    @property
    def kind(self) -> MessageKind | None:
        """What the message is beyond its role, if anything special."""
        return self.meta.kind


# ``Message.parent_id`` of a message that starts the conversation (a tree may have several).
ROOT_PARENT = ""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message that matched a full-text search, with a highlighted snippet."""

    session_id: str
    message_id: str
    session_title: str
    snippet: str
    created_date: datetime
