"""The JSON document form of an assistant: shipped showcase files, import and export.

A document is one JSON object::

    {"format": "gptlab-desktop.assistant", "version": 1, "key": "optional-stable-key",
     "name": ..., "tag_line": ..., "description": ..., "session_type": "brainstorming"|"coaching",
     "initial_prompt": ..., "summary_prompt": ..., "guards_prompt_leak": false,
     "model_config": {"model": ..., "max_tokens": ..., "temperature": ..., "top_p": ...,
                      "frequency_penalty": ..., "presence_penalty": ...}}

A bundle carries several::

    {"format": "gptlab-desktop.assistants", "version": 1, "assistants": [<document>, ...]}

Files to import come from anywhere, so ``drafts_from_bytes`` treats them as hostile: a size cap,
strict UTF-8, no duplicate keys, no NaN, bounded nesting, and every entry checked before any is
used. docs/assistant-format.md describes the format for users.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from gptlab_desktop.models import AssistantDraft, ModelConfig, SessionType, ValidationError
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.model_catalog import max_output_tokens

FORMAT = "gptlab-desktop.assistant"
BUNDLE_FORMAT = "gptlab-desktop.assistants"
VERSION = 1

# Bounds for files to import: far above any real export, far below what hurts.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_BUNDLE_ASSISTANTS = 1000
MAX_NESTING = 16
MAX_MODEL_NAME = 200
# No real model answers with more; a bigger number is a mistake, not a wish.
MAX_TOKENS_LIMIT = 1_000_000

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
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise fail(f"unsupported version {_shown(version)}; this app reads version {VERSION}.")
    for name in _TEXT_FIELDS:
        if not isinstance(doc.get(name), str):
            raise fail(f'"{name}" must be text.')
        if not _is_encodable(doc[name]):
            raise fail(f'"{name}" contains characters that are not valid Unicode text.')
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
    if len(config["model"]) > MAX_MODEL_NAME or not _is_encodable(config["model"]):
        raise fail(
            f'"model_config.model" must be a model name of at most {MAX_MODEL_NAME} characters.'
        )
    max_tokens = config.get("max_tokens", 250)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise fail('"model_config.max_tokens" must be a whole number.')
    if max_tokens > MAX_TOKENS_LIMIT:
        raise fail(f'"model_config.max_tokens" must be at most {MAX_TOKENS_LIMIT:,}.')
    for name in _NUMBER_FIELDS:
        value = config.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f'"model_config.{name}" must be a number.')
        try:
            float(value)
        except OverflowError:
            raise fail(f'"model_config.{name}" is far out of range.') from None
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


def bundle_document(drafts: Sequence[AssistantDraft]) -> dict[str, Any]:
    """The bundle form of several drafts (what ``drafts_from_bytes`` reads back)."""
    return {
        "format": BUNDLE_FORMAT,
        "version": VERSION,
        "assistants": [document_from_draft(draft) for draft in drafts],
    }


def encode_document(doc: dict[str, Any]) -> bytes:
    """A document or bundle as the UTF-8 JSON text written to a file."""
    return (json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")


def drafts_from_bytes(data: bytes, *, source: str) -> list[tuple[str | None, AssistantDraft]]:
    """Every assistant in a file's bytes (one document or a bundle), all checked first.

    Raises ``MalformedAssistantDocument`` for the first problem found, naming ``source`` and,
    inside a bundle, the entry's number and name; never returns part of a bad file.
    """
    doc = _load_json(data, source=source)
    if not isinstance(doc, dict):
        raise MalformedAssistantDocument(
            f"{source}: expected a JSON object describing one assistant or a bundle of them."
        )
    if doc.get("format") == FORMAT:
        return [_checked_entry(doc, source=source)]
    if doc.get("format") != BUNDLE_FORMAT:
        raise MalformedAssistantDocument(
            f'{source}: "format" must be "{FORMAT}" (one assistant) or "{BUNDLE_FORMAT}" (several).'
        )
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise MalformedAssistantDocument(
            f"{source}: unsupported version {_shown(version)}; this app reads version {VERSION}."
        )
    entries = doc.get("assistants")
    if not isinstance(entries, list):
        raise MalformedAssistantDocument(f'{source}: "assistants" must be a list of assistants.')
    if not entries:
        raise MalformedAssistantDocument(f"{source}: the bundle contains no assistants.")
    if len(entries) > MAX_BUNDLE_ASSISTANTS:
        raise MalformedAssistantDocument(
            f"{source}: the bundle holds {len(entries):,} assistants; at most "
            f"{MAX_BUNDLE_ASSISTANTS:,} can be imported at once."
        )
    return [
        _checked_entry(entry, source=f"{source}, {_entry_label(number, entry)}")
        for number, entry in enumerate(entries, start=1)
    ]


def _checked_entry(entry: Any, *, source: str) -> tuple[str | None, AssistantDraft]:
    key, draft = draft_from_document(entry, source=source)
    # As strict as the editor: a response limit beyond what the model can write is refused.
    limit = max_output_tokens(draft.model_config.model)
    problems = draft.problems(limit)
    if problems:
        raise MalformedAssistantDocument(f"{source}: {'; '.join(problems.values())}")
    return key, draft


class _DuplicateKey(ValueError):
    """A JSON object names the same key twice (which one wins is anyone's guess)."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _load_json(data: bytes, *, source: str) -> Any:
    """Parse untrusted bytes as one JSON value, within the import bounds."""

    def fail(problem: str) -> MalformedAssistantDocument:
        return MalformedAssistantDocument(f"{source}: {problem}")

    if len(data) > MAX_IMPORT_BYTES:
        raise fail(
            f"the file is {len(data) / 1024 / 1024:.1f} MB; assistant files are at most "
            f"{MAX_IMPORT_BYTES // 1024 // 1024} MB."
        )
    try:
        # utf-8-sig: a byte-order mark some editors write is not part of the text.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise fail(f"the file is not UTF-8 text (bad byte at position {error.start:,}).") from None
    if not text.strip():
        raise fail("the file is empty.")
    try:
        doc = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except _DuplicateKey as error:
        raise fail(f'the key "{_clip(str(error))}" appears twice in one object.') from None
    except json.JSONDecodeError as error:
        raise fail(
            f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from None
    except RecursionError:
        raise fail(f"the JSON is nested too deeply (at most {MAX_NESTING} levels).") from None
    except ValueError as error:
        # Huge integers (Python's digit limit) and NaN/Infinity end up here.
        raise fail(f"not valid JSON ({_clip(str(error))}).") from None
    if _nesting(doc) > MAX_NESTING:
        raise fail(f"the JSON is nested too deeply (at most {MAX_NESTING} levels).")
    return doc


def _nesting(value: Any) -> int:
    """How deeply containers nest in a parsed JSON value (iterative: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _entry_label(number: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str) and name.strip() and _is_encodable(name):
        return f"assistant {number} (“{_clip(name)}”)"
    return f"assistant {number}"


def _clip(text: str, limit: int = 40) -> str:
    """Text from a file, safe to put in a message: control characters removed, shortened."""
    clean = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _shown(value: Any) -> str:
    return _clip(repr(value)) if isinstance(value, int | float | str | None) else "given"


def _is_encodable(text: str) -> bool:
    # JSON's \ud800 escapes decode to lone surrogates, which no file or database can store.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
