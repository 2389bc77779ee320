"""The library of past sessions: list, search, rename, end, export, and delete with undo.

Qt-free; the sessions panel (``ui/sessions/panel.py``) is its only view. Deleting is two-step so
it can be undone: ``delete`` hides a session at once (every listing and search here leaves it
out) and the store forgets it only when the undo window has passed, or when ``flush`` is called
(on closing the app, so nothing is left half-done). Until then the session and its messages are
untouched in the store, so an undo restores them exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Protocol

from gptlab_desktop.models import SearchHit, Session, SessionStatus
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.branches import ConversationTree
from gptlab_desktop.services.errors import NotFound, ServiceError
from gptlab_desktop.services.export import session_to_json, session_to_markdown

# Re-exported for views: the marks the store puts around matched words in a hit's snippet.
from gptlab_desktop.services.store.base import SNIPPET_CLOSE as SNIPPET_CLOSE
from gptlab_desktop.services.store.base import SNIPPET_OPEN as SNIPPET_OPEN
from gptlab_desktop.services.store.base import Store

log = logging.getLogger(__name__)

#: How long a deleted session can be brought back, in seconds.
DEFAULT_UNDO_WINDOW_S = 8.0
#: GPT Lab's resume list: the newest 50 sessions with more than 2 messages.
RESUME_LIST_LIMIT = 50
RESUME_LIST_MIN_MESSAGES = 3
#: Most message hits one search returns (across all sessions).
SEARCH_HIT_LIMIT = 200
#: Longest title kept; a longer one is cut (a title is one line in a list).
TITLE_MAX = 120

_FILE_NAME_UNSAFE = re.compile(r"[^\w\- ]+")


class InvalidTitle(ServiceError):
    """A session title that is empty once trimmed."""

    title = "Title needed"

    def __init__(self) -> None:
        super().__init__("A session title cannot be empty.")


class ExportFailed(ServiceError):
    """The export file could not be written (permissions, full disk, a missing folder)."""

    title = "Export failed"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"The session could not be saved to {path}: {reason}.")
        self.path = path


class SessionEnder(Protocol):
    """Ends a session as the chat engine does (``SessionEngine.abandon``)."""

    async def abandon(self, session_id: str) -> Session:
        """End the session without concluding it; returns the ended session."""
        ...


class ExportFormat(StrEnum):
    """The file formats a session can be exported to."""

    MARKDOWN = "markdown"
    JSON = "json"

    @property
    def suffix(self) -> str:
        """The file name extension, with its dot."""
        return ".md" if self is ExportFormat.MARKDOWN else ".json"

    @property
    def label(self) -> str:
        """The format's name as a user reads it."""
        return "Markdown" if self is ExportFormat.MARKDOWN else "JSON"


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """A session as the library lists it, with its assistant's name ("" when unknown)."""

    session: Session
    assistant_name: str = ""

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.session.id


@dataclass(frozen=True, slots=True)
class SessionSearchResult:
    """The hits of one search in one session, best first."""

    entry: SessionEntry
    hits: tuple[SearchHit, ...]


class DeletionOutcome(Enum):
    """How a scheduled deletion ended."""

    DELETED = "deleted"
    UNDONE = "undone"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Deletion:
    """The outcome of one ``delete``; ``error`` says why it failed (the session is kept)."""

    session_id: str
    outcome: DeletionOutcome
    error: ServiceError | None = None


@dataclass(slots=True)
class _PendingDeletion:
    session_id: str
    # Set by undo or flush: stop waiting for the undo window.
    decided: asyncio.Event = field(default_factory=asyncio.Event)
    is_undone: bool = False
    is_committing: bool = False
    task: asyncio.Task[Deletion] | None = None


def export_file_name(session: Session, fmt: ExportFormat) -> str:
    """A file name to suggest for exporting ``session``: its title, made safe, and the suffix."""
    stem = _FILE_NAME_UNSAFE.sub(" ", session.title)
    stem = " ".join(stem.split())[:60].strip() or "Session"
    return f"{stem} {session.created_date.astimezone():%Y-%m-%d}{fmt.suffix}"


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temp file beside it, then a rename.

    The temp file (and so the export) is readable by its owner only: a transcript is private.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


class SessionLibrary:
    """Past sessions of a store: list, search, rename, end, export, and delete with undo.

    ``ender`` ends sessions as the chat engine does (recording an interrupted session's cause);
    without one, ending marks the session ABANDONED_BY_USER in the store directly.
    """

    def __init__(
        self,
        store: Store,
        *,
        ender: SessionEnder | None = None,
        undo_window_s: float = DEFAULT_UNDO_WINDOW_S,
    ) -> None:
        self._store = store
        self._ender = ender
        self._undo_window_s = undo_window_s
        self._pending: dict[str, _PendingDeletion] = {}

    @property
    def undo_window_s(self) -> float:
        """How long a deleted session can be brought back, in seconds."""
        return self._undo_window_s

    # -- reading ------------------------------------------------------------------------------
    async def list_sessions(
        self,
        assistant_id: str | None = None,
        *,
        limit: int | None = RESUME_LIST_LIMIT,
        min_messages: int = 0,
    ) -> list[SessionEntry]:
        """Sessions newest-modified first, of one assistant or of all (``None``).

        Leaves out sessions deleted but still undoable, and those with fewer than
        ``min_messages`` messages (GPT Lab's resume list used 3: "more than 2").
        """
        # The store cuts at its limit before we filter, so ask for enough to fill ours.
        is_filtered = min_messages > 0
        fetch_limit = None if limit is None or is_filtered else limit + len(self._pending)
        sessions = await self._store.list_sessions(bot_id=assistant_id, limit=fetch_limit)
        kept = [
            s for s in sessions if s.id not in self._pending and s.message_count >= min_messages
        ]
        if limit is not None:
            kept = kept[: max(limit, 0)]
        names = await self._assistant_names()
        return [SessionEntry(s, names.get(s.bot_id or "", "")) for s in kept]

    async def get_entry(self, session_id: str) -> SessionEntry | None:
        """The session with this id and its assistant's name; ``None`` if gone or deleted."""
        if session_id in self._pending:
            return None
        session = await self._store.get_session(session_id)
        if session is None:
            return None
        return SessionEntry(session, await self._assistant_name(session))

    async def search(
        self, query: str, *, limit: int = SEARCH_HIT_LIMIT
    ) -> list[SessionSearchResult]:
        """Full-text search over every cached session, hits grouped by session.

        Sessions come in the order of their best hit; hits within a session best first.
        Deleted (still undoable) sessions are left out.
        """
        hits = await self._store.search_messages(query, limit=limit)
        grouped: dict[str, list[SearchHit]] = {}
        for hit in hits:
            if hit.session_id not in self._pending:
                grouped.setdefault(hit.session_id, []).append(hit)
        if not grouped:
            return []
        names = await self._assistant_names()
        results: list[SessionSearchResult] = []
        for session_id, session_hits in grouped.items():
            session = await self._store.get_session(session_id)
            if session is None:
                continue  # deleted between the search and now
            entry = SessionEntry(session, names.get(session.bot_id or "", ""))
            results.append(SessionSearchResult(entry, tuple(session_hits)))
        return results

    async def _assistant_names(self) -> dict[str, str]:
        assistants = await self._store.list_assistants(include_archived=True)
        return {assistant.id: assistant.name for assistant in assistants}

    async def _assistant_name(self, session: Session) -> str:
        if session.bot_id is None:
            return ""
        assistant = await self._store.get_assistant(session.bot_id)
        return assistant.name if assistant is not None else ""

    # -- changing -----------------------------------------------------------------------------
    async def rename(self, session_id: str, title: str) -> str:
        """Give a session a title (whitespace trimmed and collapsed); returns the stored title."""
        cleaned = " ".join(title.split())[:TITLE_MAX].strip()
        if not cleaned:
            raise InvalidTitle()
        self._require_not_deleted(session_id)
        await self._store.rename_session(session_id, cleaned)
        return cleaned

    async def end(self, session_id: str) -> Session:
        """End an open session as abandoned by the user; an ended session stays as it is."""
        self._require_not_deleted(session_id)
        session = await self._store.get_session(session_id)
        if session is None:
            raise NotFound("This session no longer exists.")
        if not session.status.is_open:
            # Ending again would overwrite how it ended (a concluded session stays concluded).
            return session
        if self._ender is not None:
            return await self._ender.abandon(session_id)
        return await self._store.end_session(session_id, SessionStatus.ABANDONED_BY_USER)

    async def export(
        self, session_id: str, path: Path, fmt: ExportFormat, *, all_branches: bool = False
    ) -> Path:
        """Write the session's transcript — the branch it shows — to ``path`` (replaced whole,
        never half-written); a JSON file can also hold every branch (``all_branches``)."""
        session = await self._store.get_session(session_id)
        if session is None or session_id in self._pending:
            raise NotFound("This session no longer exists.")
        messages = await self._store.list_messages(session_id)
        shown = ConversationTree(messages).branch(session.shown_leaf_id)
        if fmt is ExportFormat.MARKDOWN:
            name = await self._assistant_name(session)
            text = session_to_markdown(session, shown, assistant_name=name or None)
        else:
            text = session_to_json(session, shown, every_branch=messages if all_branches else None)
        try:
            await run_blocking(_write_atomically, path, text)
        except OSError as error:
            raise ExportFailed(path, error.strerror or type(error).__name__) from error
        log.info("Exported a session as %s", fmt.label)
        return path

    def _require_not_deleted(self, session_id: str) -> None:
        if session_id in self._pending:
            raise NotFound("This session has been deleted.")

    # -- deleting with undo -------------------------------------------------------------------
    def delete(self, session_id: str) -> asyncio.Task[Deletion]:
        """Hide a session now and delete it from the store once the undo window has passed.

        Needs a running event loop. The returned task ends with the ``Deletion`` outcome and
        never raises a ``ServiceError`` (a failed deletion keeps the session: it reappears).
        Deleting a session already pending returns its task.
        """
        pending = self._pending.get(session_id)
        if pending is not None and pending.task is not None:
            return pending.task
        pending = _PendingDeletion(session_id)
        self._pending[session_id] = pending
        pending.task = asyncio.ensure_future(self._delete_later(pending))
        return pending.task

    def undo(self, session_id: str) -> bool:
        """Bring back a deleted session; ``False`` when it is too late (or was never deleted)."""
        pending = self._pending.get(session_id)
        if pending is None or pending.is_committing:
            return False
        pending.is_undone = True
        del self._pending[session_id]
        pending.decided.set()
        return True

    def is_pending(self, session_id: str) -> bool:
        """Whether the session is deleted but can still be brought back."""
        pending = self._pending.get(session_id)
        return pending is not None and not pending.is_committing

    @property
    def pending_deletions(self) -> list[str]:
        """Ids of sessions deleted and waiting for their undo window, oldest first."""
        return list(self._pending)

    async def flush(self) -> list[Deletion]:
        """Carry out every pending deletion now and wait for them (on closing the app)."""
        tasks = [p.task for p in self._pending.values() if p.task is not None]
        for pending in list(self._pending.values()):
            pending.decided.set()
        return list(await asyncio.gather(*tasks))

    async def _delete_later(self, pending: _PendingDeletion) -> Deletion:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pending.decided.wait(), self._undo_window_s)
            if pending.is_undone:
                return Deletion(pending.session_id, DeletionOutcome.UNDONE)
            pending.is_committing = True
            try:
                await self._store.delete_session(pending.session_id)
            except NotFound:
                pass  # gone already: what was asked for is done
            except ServiceError as error:
                log.warning("Deleting a session failed: %s", type(error).__name__)
                return Deletion(pending.session_id, DeletionOutcome.FAILED, error)
            return Deletion(pending.session_id, DeletionOutcome.DELETED)
        finally:
            # Done, failed or cancelled (the loop closing): either way no longer hidden here.
            if self._pending.get(pending.session_id) is pending:
                del self._pending[pending.session_id]
