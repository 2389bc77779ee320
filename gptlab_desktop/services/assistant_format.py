"""The JSON document form of an assistant: shipped showcase files, and (later) import/export.

A document is one JSON object::

    {"format": "gptlab-desktop.assistant", "version": 1, "key": "optional-stable-key",
     "name": ..., "tag_line": ..., "description": ..., "session_type": "brainstorming"|"coaching",
     "initial_prompt": ..., "summary_prompt": ..., "guards_prompt_leak": false,
     "model_config": {"model": ..., "max_tokens": ..., "temperature": ..., "top_p": ...,
                      "frequency_penalty": ..., "presence_penalty": ...}}
"""

from __future__ import annotations

from typing import Any

from gptlab_desktop.models import AssistantDraft, ModelConfig, SessionType, ValidationError
from gptlab_desktop.services.errors import ServiceError

FORMAT = "gptlab-desktop.assistant"
VERSION = 1

_TEXT_FIELDS = ("name", "tag_line", "description", "initial_prompt", "summary_prompt")
_NUMBER_FIELDS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")


class MalformedAssistantDocument(ServiceError):
    """A document that is not a valid assistant; the message names the problem and its source."""

    title = "Not a valid assistant file"


def draft_from_document(doc: Any, *, source: str) -> tuple[str | None, AssistantDraft]:
    """Parse and validate one document; returns its optional key and the draft.

    ``source`` names where the document came from, for the error message.
    """

    def fail(problem: str) -> MalformedAssistantDocument:
        return MalformedAssistantDocument(f"{source}: {problem}")

    if not isinstance(doc, dict):
        raise fail("expected a JSON object describing one assistant.")
    if doc.get("format") != FORMAT:
        raise fail(f'"format" must be "{FORMAT}".')
    if doc.get("version") != VERSION:
        raise fail(f"unsupported version {doc.get('version')!r}; this app reads version {VERSION}.")
    for name in _TEXT_FIELDS:
        if not isinstance(doc.get(name), str):
            raise fail(f'"{name}" must be text.')
    key = doc.get("key")
    if key is not None and (not isinstance(key, str) or not key.strip()):
        raise fail('"key" must be non-empty text when present.')
    try:
        session_type = SessionType[str(doc.get("session_type", "brainstorming")).upper()]
    except KeyError:
        raise fail('"session_type" must be "brainstorming" or "coaching".') from None
    guards = doc.get("guards_prompt_leak", False)
    if not isinstance(guards, bool):
        raise fail('"guards_prompt_leak" must be true or false.')
    config = doc.get("model_config")
    if not isinstance(config, dict) or not isinstance(config.get("model"), str):
        raise fail('"model_config" must be an object with a "model" name.')
    max_tokens = config.get("max_tokens", 250)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise fail('"model_config.max_tokens" must be a whole number.')
    for name in _NUMBER_FIELDS:
        value = config.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f'"model_config.{name}" must be a number.')
    draft = AssistantDraft(
        name=doc["name"],
        tag_line=doc["tag_line"],
        description=doc["description"],
        initial_prompt=doc["initial_prompt"],
        summary_prompt=doc["summary_prompt"],
        session_type=session_type,
        guards_prompt_leak=guards,
        model_config=ModelConfig.from_dict(config),
    )
    try:
        draft.validated()
    except ValidationError as error:
        raise fail(str(error)) from None
    return key, draft


def document_from_draft(draft: AssistantDraft, *, key: str | None = None) -> dict[str, Any]:
    """The document form of a draft (the inverse of ``draft_from_document``)."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if key is not None:
        doc["key"] = key
    doc.update(
        name=draft.name,
        tag_line=draft.tag_line,
        description=draft.description,
        session_type=draft.session_type.name.lower(),
        guards_prompt_leak=draft.guards_prompt_leak,
        model_config=draft.model_config.to_dict(),
        initial_prompt=draft.initial_prompt,
        summary_prompt=draft.summary_prompt,
    )
    return doc
