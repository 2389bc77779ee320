"""The lab: making, editing, versioning, trying, archiving and moving assistants.

Everything the assistant editor does goes through ``AssistantLab`` (no Qt here): saving a draft
creates or updates, editing leaves versions behind that can be compared and made active again,
a try-it conversation streams from the draft without storing anything, and assistants travel
as JSON files (services/assistant_format.py) that are checked whole before anything is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from gptlab_desktop.models import (
    NAME_MAX,
    Assistant,
    AssistantDetails,
    AssistantDraft,
    ModelConfig,
    ModelConfigVersion,
    Prompt,
    PromptType,
    Role,
    ValidationError,
)
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.assistant_format import (
    MAX_IMPORT_BYTES,
    MalformedAssistantDocument,
    bundle_document,
    document_from_draft,
    drafts_from_bytes,
    encode_document,
)
from gptlab_desktop.services.errors import NotFound, ServiceError
from gptlab_desktop.services.llm_api import ChatTurn, LlmClient, ModelList
from gptlab_desktop.services.model_catalog import max_output_tokens, ranked_model_ids
from gptlab_desktop.services.replies import ReplyEnd, ReplyEvent, ReplyStream
from gptlab_desktop.services.store.base import Store

if TYPE_CHECKING:
    from gptlab_desktop.services.providers import Providers

log = logging.getLogger(__name__)

COPY_PREFIX = "Copy of "
# Like a brainstorming session: a test drive keeps only the latest turns in the context.
TRY_IT_CONTEXT_TURNS = 20


@dataclass(frozen=True, slots=True)
class PersonalityTemplate:
    """GPT Lab's named presets for the four sampling parameters."""

    name: str
    temperature: float
    top_p: float
    frequency_penalty: float
    presence_penalty: float

    def matches(self, config: ModelConfig) -> bool:
        """Whether ``config`` samples exactly as this template does."""
        return (
            config.temperature,
            config.top_p,
            config.frequency_penalty,
            config.presence_penalty,
        ) == (self.temperature, self.top_p, self.frequency_penalty, self.presence_penalty)

    def applied_to(self, config: ModelConfig) -> ModelConfig:
        """``config`` with this template's sampling parameters (model and limit kept)."""
        return replace(
            config,
            temperature=self.temperature,
            top_p=self.top_p,
            frequency_penalty=self.frequency_penalty,
            presence_penalty=self.presence_penalty,
        )


# GPT Lab's lab offered these (GPTLAB.md); "Custom" is where a hand-tuned config starts.
PERSONALITY_TEMPLATES: tuple[PersonalityTemplate, ...] = (
    PersonalityTemplate("Coaching", 0.5, 0.9, 0.3, 0.2),
    PersonalityTemplate("Creative", 1.0, 0.7, 0.1, 0.1),
    PersonalityTemplate("Sarcastic", 0.8, 0.9, 0.1, 0.1),
    PersonalityTemplate("Truthful", 0.5, 0.9, 0.1, 0.2),
    PersonalityTemplate("Witty", 0.7, 0.9, 0.1, 0.1),
    PersonalityTemplate("Custom", 0.7, 1.0, 0.0, 0.0),
)
CUSTOM_TEMPLATE = PERSONALITY_TEMPLATES[-1]


def template_for(config: ModelConfig) -> PersonalityTemplate:
    """The named template ``config`` follows, else Custom."""
    for template in PERSONALITY_TEMPLATES[:-1]:
        if template.matches(config):
            return template
    return CUSTOM_TEMPLATE


@dataclass(frozen=True, slots=True)
class AssistantHistory:
    """Every version of an assistant's prompts and model config, newest first."""

    initial_prompts: tuple[Prompt, ...]
    summary_prompts: tuple[Prompt, ...]
    model_configs: tuple[ModelConfigVersion, ...]

    def prompts(self, message_type: PromptType) -> tuple[Prompt, ...]:
        """The versions of one kind of prompt."""
        if message_type is PromptType.INITIAL:
            return self.initial_prompts
        return self.summary_prompts


def copy_name(name: str) -> str:
    """The name of a duplicate: "Copy of …", within the name limit."""
    return (COPY_PREFIX + name)[:NAME_MAX].rstrip()


def duplicate_draft(draft: AssistantDraft) -> AssistantDraft:
    """A draft for an own copy of ``draft`` (renamed "Copy of …")."""
    return AssistantDraft(
        name=copy_name(draft.name),
        tag_line=draft.tag_line,
        description=draft.description,
        initial_prompt=draft.initial_prompt,
        summary_prompt=draft.summary_prompt,
        model_config=draft.model_config,
        session_type=draft.session_type,
        guards_prompt_leak=draft.guards_prompt_leak,
    )


def prompt_diff(older: Prompt, newer: Prompt) -> str:
    """A unified diff from one prompt version to another (empty when the texts are equal)."""
    lines = difflib.unified_diff(
        older.message.splitlines(keepends=True),
        newer.message.splitlines(keepends=True),
        fromfile=f"version of {_when(older)}",
        tofile=f"version of {_when(newer)}",
    )
    # A last line without a newline would run into the next one in the diff text.
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _when(prompt: Prompt) -> str:
    return prompt.created_date.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class TryItConversation:
    """A test drive of a draft: kept in memory only, never stored, never counted."""

    def __init__(self, llm: LlmClient, draft: AssistantDraft) -> None:
        self._llm = llm
        self.draft = draft
        self._turns: list[ChatTurn] = []
        self._reply: ReplyStream | None = None

    @property
    def turns(self) -> tuple[ChatTurn, ...]:
        """The conversation so far (no system prompt)."""
        return tuple(self._turns)

    def reset(self, draft: AssistantDraft | None = None) -> None:
        """Forget the conversation; continue with ``draft`` when given."""
        self._turns.clear()
        if draft is not None:
            self.draft = draft

    def request(self) -> list[ChatTurn]:
        """What is sent: the draft's initial prompt as the system message, then recent turns."""
        system = ChatTurn(Role.SYSTEM, self.draft.initial_prompt)
        return [system, *self._turns[-TRY_IT_CONTEXT_TURNS:]]

    async def send(self, text: str | None) -> AsyncIterator[ReplyEvent | ReplyEnd]:
        """Stream the assistant's answer to ``text`` (None: its greeting, as sessions start).

        The same reply stream as a chat's (``replies.ReplyStream``): retry notices, the text as
        it grows, and last always a ``ReplyEnd`` (a failure is its ``error``, a Stop its
        ``stopped``). The reply joins the conversation when it is complete, or as far as it
        came when it was stopped or broke, so the next message has the context the user saw;
        a guarded draft's reply that reveals its prompt is the refusal.
        """
        if text is not None:
            self._turns.append(ChatTurn(Role.USER, text))
        guarded = self.draft.initial_prompt if self.draft.guards_prompt_leak else None
        reply = ReplyStream(
            self._llm, self.request(), self.draft.model_config, guarded_prompt=guarded
        )
        self._reply = reply
        error: ServiceError | None = None
        cancelled = False
        try:
            async with contextlib.aclosing(reply.events()) as events:
                async for event in events:
                    yield event
        except ServiceError as failure:
            error = failure
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            self._reply = None
            end = reply.end(error, cancelled=cancelled)
            if end.text:
                self._turns.append(ChatTurn(Role.ASSISTANT, end.text))
        yield end

    def stop(self) -> bool:
        """Stop the reply streaming now (it ends as stopped); False when none streams."""
        if self._reply is None:
            return False
        self._reply.stop()
        return True


class AssistantLab:
    """What the assistant editor does, on a store and (for try-it and models) the providers:
    the editor lists and tries with the provider new chats use."""

    def __init__(self, store: Store, providers: Providers | None = None) -> None:
        self._store = store
        self._providers = providers

    @property
    def _llm(self) -> LlmClient | None:
        return None if self._providers is None else self._providers.client(None)

    # -- reading ------------------------------------------------------------------------------

    async def details(self, assistant_id: str) -> AssistantDetails:
        """The assistant with its active versions, or ``NotFound``."""
        details = await self._store.get_assistant_details(assistant_id)
        if details is None:
            raise NotFound("This assistant no longer exists.")
        return details

    async def history(self, assistant_id: str) -> AssistantHistory:
        """Every prompt and config version, newest first, prompts with their statistics."""
        return AssistantHistory(
            initial_prompts=tuple(await self._store.list_prompts(assistant_id, PromptType.INITIAL)),
            summary_prompts=tuple(await self._store.list_prompts(assistant_id, PromptType.SUMMARY)),
            model_configs=tuple(await self._store.list_model_configs(assistant_id)),
        )

    async def list_models(self) -> ModelList:
        """The models to offer in the editor; the built-in list, flagged, without a server."""
        llm = self._llm
        if llm is None:
            return ModelList(ranked_model_ids(), is_fallback=True)
        return await llm.list_models()

    # -- saving -------------------------------------------------------------------------------

    async def save(
        self,
        draft: AssistantDraft,
        *,
        assistant_id: str | None = None,
        creator_user_id: str | None = None,
    ) -> Assistant:
        """Create (no ``assistant_id``) or update an assistant; ``ValidationError`` if invalid.

        An update adds a version for a changed prompt or model config and keeps the old ones.
        """
        draft.validated(max_output_tokens(draft.model_config.model))
        if assistant_id is not None:
            return await self._store.update_assistant(assistant_id, draft)
        if creator_user_id is None:
            raise ValidationError({"creator": "Sign in before creating an assistant."})
        return await self._store.create_assistant(draft, creator_user_id)

    async def make_prompt_active(self, assistant_id: str, prompt_id: str) -> Assistant:
        """Roll a prompt back (or forward) to an existing version."""
        return await self._store.activate_prompt(assistant_id, prompt_id)

    async def make_model_config_active(self, assistant_id: str, config_id: str) -> Assistant:
        """Roll the model config back (or forward) to an existing version."""
        return await self._store.activate_model_config(assistant_id, config_id)

    # -- lifecycle ----------------------------------------------------------------------------

    async def archive(self, assistant_id: str) -> Assistant:
        """Hide an own assistant from the lobby (sessions and versions stay)."""
        return await self._store.set_assistant_active(assistant_id, False)

    async def restore(self, assistant_id: str) -> Assistant:
        """Bring an archived assistant back to the lobby."""
        return await self._store.set_assistant_active(assistant_id, True)

    async def delete(self, assistant_id: str) -> None:
        """Delete an own assistant; its sessions keep their snapshots."""
        await self._store.delete_assistant(assistant_id)

    async def duplicate_draft(self, assistant_id: str) -> AssistantDraft:
        """The draft of an own copy of any assistant (showcased ones included)."""
        return duplicate_draft((await self.details(assistant_id)).to_draft())

    async def duplicate(self, assistant_id: str, creator_user_id: str) -> Assistant:
        """Create an own copy of any assistant, named "Copy of …"."""
        draft = await self.duplicate_draft(assistant_id)
        return await self._store.create_assistant(draft, creator_user_id)

    # -- try it -------------------------------------------------------------------------------

    @property
    def can_try_it(self) -> bool:
        """Whether test drives are possible (providers were given)."""
        return self._providers is not None

    def try_it(self, draft: AssistantDraft) -> TryItConversation:
        """A test drive of ``draft`` that stores nothing; needs an LLM client."""
        llm = self._llm
        if llm is None:
            raise RuntimeError("AssistantLab was built without providers")
        return TryItConversation(llm, draft)

    # -- import and export --------------------------------------------------------------------

    async def export_bytes(self, assistant_ids: Sequence[str]) -> bytes:
        """The JSON file of one assistant (a single document) or of several (a bundle)."""
        drafts = [(await self.details(assistant_id)).to_draft() for assistant_id in assistant_ids]
        if not drafts:
            raise ValueError("Nothing to export")
        if len(drafts) == 1:
            return encode_document(document_from_draft(drafts[0]))
        return encode_document(bundle_document(drafts))

    async def export_file(self, assistant_ids: Sequence[str], path: Path) -> None:
        """Write the export of ``assistant_ids`` to ``path``."""
        data = await self.export_bytes(assistant_ids)
        await run_blocking(path.write_bytes, data)

    async def import_bytes(
        self, data: bytes, creator_user_id: str, *, source: str = "The file"
    ) -> list[Assistant]:
        """Create every assistant in ``data`` as the user's own, all at once or not at all.

        Everything is checked before anything is written; ``MalformedAssistantDocument`` names
        the first problem (and, in a bundle, the entry's number and name).
        """
        # Parsing a few megabytes is CPU work; keep it off the event loop.
        entries = await run_blocking(drafts_from_bytes, data, source=source)
        created = await self._store.create_assistants(
            [draft for _key, draft in entries], creator_user_id
        )
        log.info("Imported %d assistants", len(created))
        return created

    async def import_file(self, path: Path, creator_user_id: str) -> list[Assistant]:
        """Import the assistants in the file at ``path`` (see ``import_bytes``)."""
        data = await run_blocking(_read_bounded, path)
        return await self.import_bytes(data, creator_user_id, source=path.name)


def _read_bounded(path: Path) -> bytes:
    """The file's bytes; a file over the import cap is refused without reading it whole."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_IMPORT_BYTES + 1)
    except OSError as error:
        raise MalformedAssistantDocument(
            f"{path.name}: the file could not be read ({error.strerror or error})."
        ) from None
    if len(data) > MAX_IMPORT_BYTES:
        raise MalformedAssistantDocument(
            f"{path.name}: the file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB; "
            "assistant files are far smaller."
        )
    return data
