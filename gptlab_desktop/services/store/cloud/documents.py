"""The documents a remote (Firestore) store receives, and reading them back: the one way out.

**Everything destined for the cloud passes through this module**, and nothing else builds a
remote document: a remote store (and the outbox that replays writes to it) takes the
``CloudDocument`` values made here and writes their ``data`` as they are, and reads back only
through the ``*_from_document`` decoders. So what leaves the machine in plaintext is decided,
and can be reviewed, in this one file.

The layout is GPT Lab's (DESIGN.md, data model), so its data and ours stay interchangeable:
``users/{id}``, ``user_hash/{hash}``, ``bots/{id}`` with ``model_configs/{id}`` and
``prompts/{id}`` below it, ``sessions/{id}`` with ``messages/{id}`` below it. Fields GPT Lab did
not have are additions (a session's title and recap, a message's state and details, an
assistant's prompt-leak guard), never renamings.

What is encrypted, with the user's data key (``RecordCipher``, AES-256-GCM, crypto.py):

* a message's ``message`` (the body) and ``meta`` (its details: model, usage, error text);
* a session's ``messages_str`` (the JSON of the context the model sees next), ``title``
  (written from the conversation) and ``recap`` (the assistant's summary of it).

Each ciphertext's associated data names the user id, the document's path and the field, and
what the document says in plain of it that never changes (a message's role and creation, and
for its body the state it was written in; a session's creation), so a message token is bound to
its user, its session, its own id and its role: copied to another message, session or user,
passed off as complete or as the user's, or damaged, it fails to decrypt (``DecryptionFailed``)
instead of reading as something else.

What stays plain, on purpose: ids, dates, counters, status codes, roles, model settings, and the
assistants' prompts — the ``prompts`` documents and a session's snapshot of them
(``bot_initial_prompt_msg``, ``bot_summary_prompt_msg``). Prompts are an assistant's definition,
written to be shared (showcased assistants, assistants published to a shared project's lobby,
assistants passed on by their code), not what a user said; GPT Lab stored them in plaintext too.
A bot's ``published`` (an addition, plain like ``showcased``) lists it in a shared project's
lobby, where every member reads it and its active versions (firestore.rules), and
``creator_display_name`` (an addition) is the name its author chose to be shown by there.
The ``user_hash`` is plain because it is GPT Lab's field, a one-way hash of a real OpenAI key
(services/identity.py explains why it is safe; null for a user who has used no such key), and
the user's wrapped data key is plain because it is itself encrypted under a key derived from
the sync secret, which never leaves the user's machines (``services/vault.py``).

Additions of this app's own (fields and collections GPT Lab did not have; nothing renamed):

* ``server_modified_date`` on every document the app writes, set by the server itself
  (``SERVER_MODIFIED_FIELD``): what another machine's pull queries, because a client's
  ``last_modified_date`` of an offline change replayed later can be older than that machine's
  last pull. ``last_modified_date`` (the client's time of the change) decides conflicts.
* ``last_modified_date`` on messages (a message changes while it streams, and when regenerated).
* ``users/{id}/tombstones/{id}``: one per deleted session, message or assistant (its ``path``,
  ``collection`` and ``deleted_date``), so a deletion reaches the other machines and nothing
  deleted on one returns from another's cache. Plain: paths and dates only.
* ``users/{id}/applied_writes/{marker}``: one per replayed outbox entry, created in the same
  batch as its writes, so a batch sent twice fails instead of counting twice.
* ``users/{id}/settings/{name}``: the store's small named values (never a secret).

Dates are ``datetime`` values (Firestore stores them as timestamps); ``CloudDocument.to_json``
gives a JSON form (ISO dates) for an outbox, and the decoders accept either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gptlab_desktop.models import (
    SESSION_SCHEMA_VERSION,
    Assistant,
    AssistantDraft,
    ContextMessage,
    Message,
    MessageDetails,
    MessageState,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    Role,
    Session,
    SessionStatus,
    SessionType,
    User,
    UserLiked,
    stable_id,
)
from gptlab_desktop.services.crypto import (
    DataKey,
    WrappedKey,
    associated_data_for,
    decrypt_context,
    encrypt_context,
)
from gptlab_desktop.services.errors import DecryptionFailed
from gptlab_desktop.services.identity import USER_HASH_TYPE
from gptlab_desktop.services.store.base import ShowcaseEntry
from gptlab_desktop.services.store.outbox import COUNTER_FIELDS as OUTBOX_COUNTERS
from gptlab_desktop.services.store.outbox import DocumentKind

USERS = "users"
USER_HASHES = "user_hash"
BOTS = "bots"
PROMPTS = "prompts"
MODEL_CONFIGS = "model_configs"
SESSIONS = "sessions"
MESSAGES = "messages"
TOMBSTONES = "tombstones"
APPLIED_WRITES = "applied_writes"
SETTINGS = "settings"

# Set by the server (a server timestamp) on every document the app writes; pulls query it.
SERVER_MODIFIED_FIELD = "server_modified_date"

# Counted only with atomic increments, never written as values over an existing document:
# another machine may have counted meanwhile.
COUNTER_FIELDS: dict[str, tuple[str, ...]] = {
    collection: OUTBOX_COUNTERS[kind]
    for collection, kind in (
        (USERS, DocumentKind.USER),
        (BOTS, DocumentKind.BOT),
        (PROMPTS, DocumentKind.PROMPT),
        (SESSIONS, DocumentKind.SESSION),
    )
}

# The fields sealed with the data key, by collection (documentation and tests read these).
ENCRYPTED_SESSION_FIELDS = ("messages_str", "title", "recap")
ENCRYPTED_MESSAGE_FIELDS = ("message", "meta")

_UNREADABLE = "A document from the cloud could not be read: it is incomplete or damaged."


@dataclass(frozen=True, slots=True)
class CloudDocument:
    """One remote document: its full path (``sessions/{id}/messages/{id}``) and its fields."""

    path: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The document's own id (the last path segment)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def collection(self) -> str:
        """The path of the collection holding the document."""
        return self.path.rsplit("/", 1)[0]

    def to_json(self) -> str:
        """The fields as JSON, dates in ISO 8601 (for an outbox payload)."""
        return json.dumps(self.data, default=_json_default, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, path: str, text: str) -> CloudDocument:
        """A document from ``to_json``'s output."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("A document's fields are a JSON object.")
        return cls(path, data)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a document value")


class RecordCipher:
    """One user's data key, bound to their user id: seals and opens the secret fields."""

    __slots__ = ("_key", "user_id")

    def __init__(self, key: DataKey, user_id: str) -> None:
        if not user_id:
            raise ValueError("A record cipher needs the user id its data belongs to.")
        self._key = key
        self.user_id = user_id

    def __repr__(self) -> str:
        return f"RecordCipher(user_id={self.user_id!r}, key=<hidden>)"

    def associated_data(self, path: str, field_name: str, **context: Any) -> bytes:
        """What a ciphertext in ``field_name`` of the document at ``path`` is bound to, with
        what else the document says of it (``role``, ``state``, ``created_date``)."""
        return associated_data_for(self.user_id, path, field_name, **context)

    def seal(self, plaintext: str, path: str, field_name: str, **context: Any) -> str:
        """``plaintext`` encrypted for ``field_name`` of the document at ``path``."""
        return self._key.encrypt(plaintext, self.associated_data(path, field_name, **context))

    def open(self, token: object, path: str, field_name: str, **context: Any) -> str:
        """The plaintext of a sealed field; ``DecryptionFailed`` unless it belongs right here."""
        if not isinstance(token, str):
            raise DecryptionFailed(_UNREADABLE)
        return self._key.decrypt(token, self.associated_data(path, field_name, **context))

    @property
    def data_key(self) -> DataKey:
        """The data key (for the context helpers of ``crypto``)."""
        return self._key


# -- paths ---------------------------------------------------------------------------------------


def user_path(user_id: str) -> str:
    """``users/{id}``."""
    return f"{USERS}/{_segment(user_id)}"


def user_hash_path(user_hash: str) -> str:
    """``user_hash/{hash}``."""
    return f"{USER_HASHES}/{_segment(user_hash)}"


def bot_path(bot_id: str) -> str:
    """``bots/{id}``."""
    return f"{BOTS}/{_segment(bot_id)}"


def prompt_path(bot_id: str, prompt_id: str) -> str:
    """``bots/{bot}/prompts/{id}``."""
    return f"{bot_path(bot_id)}/{PROMPTS}/{_segment(prompt_id)}"


def model_config_path(bot_id: str, config_id: str) -> str:
    """``bots/{bot}/model_configs/{id}``."""
    return f"{bot_path(bot_id)}/{MODEL_CONFIGS}/{_segment(config_id)}"


def session_path(session_id: str) -> str:
    """``sessions/{id}``."""
    return f"{SESSIONS}/{_segment(session_id)}"


def message_path(session_id: str, message_id: str) -> str:
    """``sessions/{session}/messages/{id}``."""
    return f"{session_path(session_id)}/{MESSAGES}/{_segment(message_id)}"


def showcase_ids(key: str, draft: AssistantDraft) -> tuple[str, str, str, str]:
    """The ids of a showcased assistant and of its shipped versions (bot, initial prompt,
    summary prompt, model config), the same on every machine (``ShowcaseEntry``'s, the one
    formula every store uses, so the local cache and the cloud name the showcase alike)."""
    entry = ShowcaseEntry(key, draft)
    return (
        entry.bot_id,
        entry.prompt_id(PromptType.INITIAL, draft.initial_prompt),
        entry.prompt_id(PromptType.SUMMARY, draft.summary_prompt),
        entry.model_config_id(draft.model_config),
    )


def tombstone_path(user_id: str, deleted_path: str) -> str:
    """``users/{user}/tombstones/{id}``, the id derived from the deleted document's path."""
    return f"{user_path(user_id)}/{TOMBSTONES}/{stable_id('tombstone', deleted_path)}"


def applied_write_path(user_id: str, marker_id: str) -> str:
    """``users/{user}/applied_writes/{marker}``."""
    return f"{user_path(user_id)}/{APPLIED_WRITES}/{_segment(marker_id)}"


def setting_path(user_id: str, name: str) -> str:
    """``users/{user}/settings/{name}``."""
    return f"{user_path(user_id)}/{SETTINGS}/{_segment(name)}"


def collection_of(path: str) -> str:
    """The name of the collection a document path is in (``messages`` for a message)."""
    parts = path.split("/")
    if len(parts) < 2 or len(parts) % 2 or not all(parts):
        raise ValueError(f"{path!r} is not a document path.")
    return parts[-2]


def _segment(value: str) -> str:
    if not value or "/" in value or value in {".", ".."}:
        raise ValueError("A document id is non-empty and has no slash.")
    return value


def _ids(document: CloudDocument, *collections: str) -> list[str]:
    """The ids in ``document.path`` for the collections given, outermost first."""
    parts = document.path.split("/")
    if len(parts) != 2 * len(collections) or tuple(parts[0::2]) != collections:
        raise ValueError(f"{document.path!r} is not a {'/'.join(collections)} document path.")
    return parts[1::2]


# -- users -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserHashRecord:
    """A ``user_hash/{hash}`` document: which kind of secret the hash was made from, and when."""

    user_hash: str
    user_hash_type: str
    created_date: datetime


def user_document(user: User, wrapped_key: WrappedKey | None = None) -> CloudDocument:
    """``users/{id}``; with ``wrapped_key``, the user's data key as only their sync secret opens
    it (``Vault.wrapped_data_key``)."""
    data: dict[str, Any] = {
        "user_hash": user.user_hash,
        "created_date": user.created_date,
        "last_modified_date": user.last_modified_date,
        "sessions_started": user.sessions_started,
        "sessions_ended": user.sessions_ended,
        "bots_created": user.bots_created,
    }
    if wrapped_key is not None:
        data["data_key"] = wrapped_key.to_dict()
    return CloudDocument(user_path(user.id), data)


def user_from_document(document: CloudDocument) -> User:
    """The user in a ``users/{id}`` document."""
    (user_id,) = _ids(document, USERS)
    data = document.data
    with _reading():
        created = _date(data["created_date"])
        return User(
            id=user_id,
            user_hash=None if data.get("user_hash") is None else str(data["user_hash"]),
            created_date=created,
            last_modified_date=_date(data.get("last_modified_date", created)),
            sessions_started=int(data.get("sessions_started", 0)),
            sessions_ended=int(data.get("sessions_ended", 0)),
            bots_created=int(data.get("bots_created", 0)),
        )


def wrapped_key_from_document(document: CloudDocument) -> WrappedKey | None:
    """The wrapped data key in a ``users/{id}`` document, if it has one."""
    _ids(document, USERS)
    record = document.data.get("data_key")
    if record is None:
        return None
    if not isinstance(record, Mapping):
        raise DecryptionFailed(_UNREADABLE)
    return WrappedKey.from_dict(record)


def user_hash_document(user_hash: str, created_date: datetime) -> CloudDocument:
    """``user_hash/{hash}``: the hash is the id, made from an OpenAI-style API key."""
    return CloudDocument(
        user_hash_path(user_hash),
        {"user_hash_type": USER_HASH_TYPE, "created_date": created_date},
    )


def user_hash_from_document(document: CloudDocument) -> UserHashRecord:
    """The record in a ``user_hash/{hash}`` document."""
    (user_hash,) = _ids(document, USER_HASHES)
    with _reading():
        return UserHashRecord(
            user_hash=user_hash,
            user_hash_type=str(document.data.get("user_hash_type", USER_HASH_TYPE)),
            created_date=_date(document.data["created_date"]),
        )


# -- assistants (plain: an assistant's definition is meant to be shared) ------------------------


def bot_document(assistant: Assistant) -> CloudDocument:
    """``bots/{id}``."""
    return CloudDocument(
        bot_path(assistant.id),
        {
            "name": assistant.name,
            "tag_line": assistant.tag_line,
            "description": assistant.description,
            "session_type": int(assistant.session_type),
            "creator_user_id": assistant.creator_user_id,
            "created_date": assistant.created_date,
            "last_modified_date": assistant.last_modified_date,
            "active_initial_prompt_id": assistant.active_initial_prompt_id,
            "active_model_config_id": assistant.active_model_config_id,
            "active_summary_prompt_id": assistant.active_summary_prompt_id,
            "showcased": assistant.showcased,
            "is_active": assistant.is_active,
            "guards_prompt_leak": assistant.guards_prompt_leak,
            "sessions_started": assistant.sessions_started,
            "sessions_ended": assistant.sessions_ended,
            "showcase_key": assistant.showcase_key,
            "published": assistant.published,
            "creator_display_name": assistant.creator_display_name,
        },
    )


def bot_from_document(document: CloudDocument) -> Assistant:
    """The assistant in a ``bots/{id}`` document."""
    (bot_id,) = _ids(document, BOTS)
    data = document.data
    with _reading():
        created = _date(data["created_date"])
        return Assistant(
            id=bot_id,
            name=str(data["name"]),
            tag_line=str(data.get("tag_line", "")),
            description=str(data.get("description", "")),
            session_type=SessionType(int(data["session_type"])),
            creator_user_id=_optional_str(data.get("creator_user_id")),
            created_date=created,
            last_modified_date=_date(data.get("last_modified_date", created)),
            active_initial_prompt_id=str(data["active_initial_prompt_id"]),
            active_model_config_id=str(data["active_model_config_id"]),
            active_summary_prompt_id=str(data["active_summary_prompt_id"]),
            showcased=bool(data.get("showcased", False)),
            is_active=bool(data.get("is_active", True)),
            guards_prompt_leak=bool(data.get("guards_prompt_leak", False)),
            sessions_started=int(data.get("sessions_started", 0)),
            sessions_ended=int(data.get("sessions_ended", 0)),
            showcase_key=_optional_str(data.get("showcase_key")),
            published=bool(data.get("published", False)),
            creator_display_name=_optional_str(data.get("creator_display_name")),
        )


def prompt_document(prompt: Prompt) -> CloudDocument:
    """``bots/{bot}/prompts/{id}``; the prompt text is plain, as in GPT Lab (module docstring)."""
    return CloudDocument(
        prompt_path(prompt.bot_id, prompt.id),
        {
            "message_type": prompt.message_type.value,
            "message": prompt.message,
            "created_date": prompt.created_date,
            "is_active": prompt.is_active,
            "sessions_started": prompt.sessions_started,
            "sessions_ended": prompt.sessions_ended,
        },
    )


def prompt_from_document(document: CloudDocument) -> Prompt:
    """The prompt version in a ``bots/{bot}/prompts/{id}`` document."""
    bot_id, prompt_id = _ids(document, BOTS, PROMPTS)
    data = document.data
    with _reading():
        return Prompt(
            id=prompt_id,
            bot_id=bot_id,
            message_type=PromptType(data["message_type"]),
            message=str(data["message"]),
            created_date=_date(data["created_date"]),
            is_active=bool(data.get("is_active", True)),
            sessions_started=int(data.get("sessions_started", 0)),
            sessions_ended=int(data.get("sessions_ended", 0)),
        )


def model_config_document(version: ModelConfigVersion) -> CloudDocument:
    """``bots/{bot}/model_configs/{id}``."""
    return CloudDocument(
        model_config_path(version.bot_id, version.id),
        {
            "config": version.config.to_dict(),
            "created_date": version.created_date,
            "is_active": version.is_active,
        },
    )


def model_config_from_document(document: CloudDocument) -> ModelConfigVersion:
    """The model config version in a ``bots/{bot}/model_configs/{id}`` document."""
    bot_id, config_id = _ids(document, BOTS, MODEL_CONFIGS)
    data = document.data
    with _reading():
        return ModelConfigVersion(
            id=config_id,
            bot_id=bot_id,
            config=ModelConfig.from_dict(dict(data["config"])),
            created_date=_date(data["created_date"]),
            is_active=bool(data.get("is_active", True)),
        )


# -- sessions and messages (their text sealed with the data key) --------------------------------


def session_document(session: Session, cipher: RecordCipher) -> CloudDocument:
    """``sessions/{id}``, with the context, title and recap encrypted."""
    if session.user_id != cipher.user_id:
        raise ValueError("A session is encrypted only with its own user's data key.")
    path = session_path(session.id)
    return CloudDocument(
        path,
        {
            "user_id": session.user_id,
            "bot_id": session.bot_id,
            "bot_initial_prompt_msg": session.bot_initial_prompt_msg,
            "bot_initial_prompt_id": session.bot_initial_prompt_id,
            "bot_model_config": session.bot_model_config.to_dict(),
            "bot_session_type": int(session.bot_session_type),
            "bot_summary_prompt_msg": session.bot_summary_prompt_msg,
            "bot_summary_prompt_id": session.bot_summary_prompt_id,
            "guards_prompt_leak": session.guards_prompt_leak,
            "created_date": session.created_date,
            "last_modified_date": session.last_modified_date,
            "session_schema_version": session.session_schema_version,
            "status": int(session.status),
            "message_count": session.message_count,
            "messages_str": encrypt_context(
                session.context,
                cipher.data_key,
                cipher.associated_data(path, "messages_str", **_session_context(session)),
            ),
            "title": cipher.seal(session.title, path, "title", **_session_context(session)),
            "recap": cipher.seal(session.recap, path, "recap", **_session_context(session)),
            "user_liked": None if session.user_liked is None else int(session.user_liked),
            # Additions to GPT Lab's layout: the provider profile the chat talks to, the
            # last message of the branch it shows, and whether it is pinned in the chat list.
            "provider_id": session.provider_id,
            "shown_leaf_id": session.shown_leaf_id,
            "is_pinned": session.is_pinned,
        },
    )


def session_from_document(document: CloudDocument, cipher: RecordCipher) -> Session:
    """The session in a ``sessions/{id}`` document; ``DecryptionFailed`` if it is not readable
    with ``cipher`` (another user's, moved, damaged)."""
    (session_id,) = _ids(document, SESSIONS)
    data = document.data
    path = document.path
    if data.get("user_id") != cipher.user_id:
        raise DecryptionFailed("This session belongs to another user.")
    token = data.get("messages_str")
    if not isinstance(token, str):
        raise DecryptionFailed(_UNREADABLE)
    with _reading():
        bound = {"created_date": _date(data["created_date"])}
    context = decrypt_context(
        token, cipher.data_key, cipher.associated_data(path, "messages_str", **bound)
    )
    title = cipher.open(data["title"], path, "title", **bound) if "title" in data else ""
    recap = cipher.open(data["recap"], path, "recap", **bound) if "recap" in data else ""
    with _reading():
        created = _date(data["created_date"])
        liked = data.get("user_liked")
        return Session(
            id=session_id,
            user_id=cipher.user_id,
            bot_id=_optional_str(data.get("bot_id")),
            bot_initial_prompt_msg=str(data["bot_initial_prompt_msg"]),
            bot_model_config=ModelConfig.from_dict(dict(data["bot_model_config"])),
            bot_session_type=SessionType(int(data["bot_session_type"])),
            bot_summary_prompt_msg=str(data.get("bot_summary_prompt_msg", "")),
            created_date=created,
            last_modified_date=_date(data.get("last_modified_date", created)),
            bot_initial_prompt_id=_optional_str(data.get("bot_initial_prompt_id")),
            bot_summary_prompt_id=_optional_str(data.get("bot_summary_prompt_id")),
            guards_prompt_leak=bool(data.get("guards_prompt_leak", False)),
            title=title,
            status=SessionStatus(int(data.get("status", SessionStatus.STARTED))),
            message_count=int(data.get("message_count", 0)),
            context=context,
            user_liked=None if liked is None else UserLiked(int(liked)),
            recap=recap,
            session_schema_version=int(data.get("session_schema_version", SESSION_SCHEMA_VERSION)),
            provider_id=_optional_str(data.get("provider_id")),
            shown_leaf_id=_optional_str(data.get("shown_leaf_id")),
            is_pinned=bool(data.get("is_pinned", False)),
        )


def message_document(
    message: Message, cipher: RecordCipher, *, last_modified_date: datetime | None = None
) -> CloudDocument:
    """``sessions/{session}/messages/{id}``, with the body and its details encrypted;
    ``last_modified_date`` (an addition) is when it last changed, its creation by default."""
    path = message_path(message.session_id, message.id)
    return CloudDocument(
        path,
        {
            "created_date": message.created_date,
            "last_modified_date": last_modified_date or message.created_date,
            "role": message.role.value,
            "state": message.state.value,
            # An addition to GPT Lab's layout: the message it follows in the tree (absent for
            # messages stored before branches, whose parent is the one before them).
            **({} if message.parent_id is None else {"parent_id": message.parent_id}),
            "message": cipher.seal(
                message.message,
                path,
                "message",
                **_body_context(message.role, message.state, message.created_date),
            ),
            "meta": cipher.seal(
                json.dumps(message.meta.to_dict(), ensure_ascii=False),
                path,
                "meta",
                **_meta_context(message.role, message.created_date),
            ),
        },
    )


def message_from_document(document: CloudDocument, cipher: RecordCipher) -> Message:
    """The message in a ``sessions/{session}/messages/{id}`` document; ``DecryptionFailed``
    unless it was written for exactly this user, session and message id."""
    session_id, message_id = _ids(document, SESSIONS, MESSAGES)
    data = document.data
    path = document.path
    with _reading():
        role = Role(data["role"])
        state = MessageState(data.get("state", MessageState.COMPLETE.value))
        created = _date(data["created_date"])
    body = cipher.open(data.get("message"), path, "message", **_body_context(role, state, created))
    meta = MessageDetails()
    if "meta" in data:
        try:
            opened = cipher.open(data["meta"], path, "meta", **_meta_context(role, created))
            loaded = json.loads(opened)
        except ValueError:
            raise DecryptionFailed(_UNREADABLE) from None
        meta = MessageDetails.from_dict(loaded)
    with _reading():
        return Message(
            id=message_id,
            session_id=session_id,
            role=Role(data["role"]),
            message=body,
            created_date=_date(data["created_date"]),
            state=MessageState(data.get("state", MessageState.COMPLETE.value)),
            meta=meta,
            parent_id=_parent_id(data.get("parent_id")),
        )


def _parent_id(value: object) -> str | None:
    """A message document's parent: an id, ``ROOT_PARENT`` (""), or None when absent."""
    return value if isinstance(value, str) else None


# What else a sealed field is bound to, besides its user, document and field (crypto's
# associated data): what its document says of it and never changes — a message's role and
# creation, and for the body the state it was written in (a reply sealed as streaming cannot be
# passed off as complete). A session's fields are bound to its creation only: its status
# changes without its title, recap and context being sealed again.
def _session_context(session: Session) -> dict[str, Any]:
    return {"created_date": session.created_date}


def _body_context(role: Role, state: MessageState, created_date: datetime) -> dict[str, Any]:
    return {"role": role, "state": state, "created_date": created_date}


def _meta_context(role: Role, created_date: datetime) -> dict[str, Any]:
    return {"role": role, "created_date": created_date}


# -- changes to part of a document --------------------------------------------------------------


def session_changes(
    session_id: str,
    cipher: RecordCipher,
    *,
    created_date: datetime,
    last_modified_date: datetime | None,
    context: Sequence[ContextMessage] | None = None,
    title: str | None = None,
    recap: str | None = None,
    status: SessionStatus | None = None,
    user_liked: UserLiked | None = None,
    model: tuple[ModelConfig, str | None] | None = None,
    shown_branch: tuple[str | None, int] | None = None,
    is_pinned: bool | None = None,
) -> CloudDocument:
    """The fields of ``sessions/{id}`` that change (the given ones), sealed as in
    ``session_document``: for an update that leaves the rest, counters included, alone.
    ``last_modified_date`` is None for a change that is no activity (a pin)."""
    path = session_path(session_id)
    bound = {"created_date": created_date}
    data: dict[str, Any] = {}
    if last_modified_date is not None:
        data["last_modified_date"] = last_modified_date
    if context is not None:
        data["messages_str"] = encrypt_context(
            tuple(context), cipher.data_key, cipher.associated_data(path, "messages_str", **bound)
        )
    if title is not None:
        data["title"] = cipher.seal(title, path, "title", **bound)
    if recap is not None:
        data["recap"] = cipher.seal(recap, path, "recap", **bound)
    if status is not None:
        data["status"] = int(status)
    if user_liked is not None:
        data["user_liked"] = int(user_liked)
    if model is not None:
        data["bot_model_config"] = model[0].to_dict()
        data["provider_id"] = model[1]
    if shown_branch is not None:
        data["shown_leaf_id"], data["message_count"] = shown_branch
    if is_pinned is not None:
        data["is_pinned"] = is_pinned
    return CloudDocument(path, data)


def message_changes(
    session_id: str,
    message_id: str,
    cipher: RecordCipher,
    *,
    role: Role,
    created_date: datetime,
    text: str,
    state: MessageState,
    meta: MessageDetails | None,
    last_modified_date: datetime,
) -> CloudDocument:
    """The fields of a message that change as it streams or is replaced, sealed as in
    ``message_document``; ``meta=None`` leaves the stored details."""
    path = message_path(session_id, message_id)
    state = MessageState(state)
    data: dict[str, Any] = {
        "message": cipher.seal(text, path, "message", **_body_context(role, state, created_date)),
        "state": state.value,
        "last_modified_date": last_modified_date,
    }
    if meta is not None:
        data["meta"] = cipher.seal(
            json.dumps(meta.to_dict(), ensure_ascii=False),
            path,
            "meta",
            **_meta_context(role, created_date),
        )
    return CloudDocument(path, data)


def fields_of(document: CloudDocument, names: Iterable[str]) -> CloudDocument:
    """Only the named fields of ``document`` (a selection; no value is made here)."""
    wanted = set(names)
    return CloudDocument(
        document.path, {key: value for key, value in document.data.items() if key in wanted}
    )


def without_counters(document: CloudDocument) -> CloudDocument:
    """``document`` without its counters (``COUNTER_FIELDS``), to write over an existing one."""
    counters = set(COUNTER_FIELDS.get(collection_of(document.path), ()))
    return CloudDocument(
        document.path,
        {key: value for key, value in document.data.items() if key not in counters},
    )


def modified_document(path: str, last_modified_date: datetime) -> CloudDocument:
    """Only ``last_modified_date`` of the document at ``path`` (e.g. beside its counters)."""
    return CloudDocument(path, {"last_modified_date": last_modified_date})


def version_activity_document(path: str, is_active: bool) -> CloudDocument:
    """Only ``is_active`` of a prompt or model config version."""
    if collection_of(path) not in (PROMPTS, MODEL_CONFIGS):
        raise ValueError(f"{path!r} is not a prompt or model config version.")
    return CloudDocument(path, {"is_active": is_active})


# -- tombstones, markers, settings -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A deleted document: where it was, and when it was deleted."""

    path: str
    collection: str
    deleted_date: datetime


def tombstone_document(user_id: str, deleted_path: str, deleted_date: datetime) -> CloudDocument:
    """``users/{user}/tombstones/{id}`` for the document at ``deleted_path``."""
    return CloudDocument(
        tombstone_path(user_id, deleted_path),
        {
            "path": deleted_path,
            "collection": collection_of(deleted_path),
            "deleted_date": deleted_date,
            "last_modified_date": deleted_date,
        },
    )


def tombstone_from_document(document: CloudDocument) -> Tombstone:
    """The tombstone in a ``users/{user}/tombstones/{id}`` document."""
    _ids(document, USERS, TOMBSTONES)
    with _reading():
        path = str(document.data["path"])
        return Tombstone(
            path=path,
            collection=collection_of(path),
            deleted_date=_date(document.data["deleted_date"]),
        )


def applied_write_document(user_id: str, marker_id: str, applied_date: datetime) -> CloudDocument:
    """``users/{user}/applied_writes/{marker}``: the outbox entry ``marker_id`` has landed."""
    return CloudDocument(applied_write_path(user_id, marker_id), {"applied_date": applied_date})


def setting_document(user_id: str, name: str, value: str, when: datetime) -> CloudDocument:
    """``users/{user}/settings/{name}``: a small named value (never a secret)."""
    return CloudDocument(setting_path(user_id, name), {"value": value, "last_modified_date": when})


def setting_from_document(document: CloudDocument) -> str:
    """The value in a ``users/{user}/settings/{name}`` document."""
    _ids(document, USERS, SETTINGS)
    with _reading():
        return str(document.data["value"])


# -- reading helpers ---------------------------------------------------------------------------


@contextmanager
def _reading() -> Iterator[None]:
    """Turn a missing or malformed field into ``DecryptionFailed`` with a plain sentence."""
    try:
        yield
    except (KeyError, ValueError, TypeError):
        raise DecryptionFailed(_UNREADABLE) from None


def date_of(value: object) -> datetime:
    """A stored date (a timestamp, or ISO text from an outbox) as an aware datetime;
    ``ValueError`` for anything else."""
    return _date(value)


def _date(value: object) -> datetime:
    """A stored date: a ``datetime`` (Firestore's timestamps are) or ISO text; UTC if naive."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise TypeError("not a date")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
