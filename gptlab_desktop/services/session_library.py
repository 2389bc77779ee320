"""The library of past sessions: list (grouped by date, pinned first), search, rename, pin,
end, export, and delete with undo.

Qt-free; the sessions panel (``ui/sessions/panel.py``) is its only view. A listing reads each
session's summary only (``SessionSummary``), so ten thousand chats list quickly; the chat list
groups them into Pinned, Today, Yesterday, Previous 7 days and Older (``group_chats``) by the
library's clock, which tests replace. Titles are plain text (``titles.plain_title``).

Deleting is two-step so it can be undone: ``delete`` hides a session at once (every listing
and search here leaves it out) and the store forgets it only when the undo window has passed,
or when ``flush`` is called (on closing the app, so nothing is left half-done). Until then the
session and its messages are untouched in the store, so an undo restores them exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Protocol

from gptlab_desktop.models import Assistant, SearchHit, Session, SessionStatus, SessionSummary
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.branches import ConversationTree
from gptlab_desktop.services.errors import NotFound, ServiceError
from gptlab_desktop.services.export import session_to_json, session_to_markdown

# Re-exported for views: the marks the store puts around matched words in a hit's snippet.
from gptlab_desktop.services.store.base import SNIPPET_CLOSE as SNIPPET_CLOSE
from gptlab_desktop.services.store.base import SNIPPET_OPEN as SNIPPET_OPEN
from gptlab_desktop.services.store.base import Store
from gptlab_desktop.services.titles import plain_title

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

    summary: SessionSummary
    assistant_name: str = ""

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.summary.id

    def with_summary(self, summary: SessionSummary) -> SessionEntry:
        """The same entry showing a changed summary of its session."""
        return SessionEntry(summary, self.assistant_name)


class ChatGroup(Enum):
    """Where a chat goes in the chat list: pinned ones on top, then by its last change."""

    PINNED = "Pinned"
    TODAY = "Today"
    YESTERDAY = "Yesterday"
    PREVIOUS_7_DAYS = "Previous 7 days"
    OLDER = "Older"

    @property
    def label(self) -> str:
        """The group's header as the user reads it."""
        return self.value


@dataclass(frozen=True, slots=True)
class ChatSection:
    """One group of the chat list and its chats, newest-modified first."""

    group: ChatGroup
    entries: tuple[SessionEntry, ...]


class TitleIndex:
    """Chats found by their titles as shown (plain text), ignoring case: what the chat list
    narrows to as the user types, before the full-text search answers."""

    def __init__(self, entries: Iterable[SessionEntry]) -> None:
        self._entries = list(entries)
        self._titles = [plain_title(entry.summary.title).casefold() for entry in self._entries]

    def matching(self, query: str) -> list[SessionEntry]:
        """The chats whose title holds every word of ``query``, in the order given."""
        words = query.casefold().split()
        if not words:
            return []
        return [
            entry
            for entry, title in zip(self._entries, self._titles, strict=True)
            if all(word in title for word in words)
        ]


def assistant_for_new_chat(assistants: Sequence[Assistant], last_used_id: str | None) -> str | None:
    """Who a New Chat talks to: the assistant used (or selected) last if it is still among
    ``assistants`` (as the lobby lists them), else the first showcased one, else the first;
    None when there is none."""
    if last_used_id is not None and any(a.id == last_used_id for a in assistants):
        return last_used_id
    showcased = next((a.id for a in assistants if a.showcased), None)
    return showcased or (assistants[0].id if assistants else None)


def local_now() -> datetime:
    """Now, in the machine's time zone: the library's clock (days begin at local midnight)."""
    return datetime.now().astimezone()


@dataclass(frozen=True, slots=True)
class _DayStarts:
    """Where the date groups begin, seen at one moment: the local midnights of today,
    yesterday and seven days ago (aware datetimes compare across time zones)."""

    today: datetime
    yesterday: datetime
    week: datetime

    @classmethod
    def at(cls, now: datetime) -> _DayStarts:
        midnight = datetime.combine(now.date(), time(), now.tzinfo)
        # In UTC, as stored dates are: comparing within one time zone is the quick kind.
        return cls(
            midnight.astimezone(UTC),
            (midnight - timedelta(days=1)).astimezone(UTC),
            (midnight - timedelta(days=7)).astimezone(UTC),
        )

    def group_of(self, moment: datetime) -> ChatGroup:
        if moment >= self.today:
            return ChatGroup.TODAY
        if moment >= self.yesterday:
            return ChatGroup.YESTERDAY
        if moment >= self.week:
            return ChatGroup.PREVIOUS_7_DAYS
        return ChatGroup.OLDER


def date_group(moment: datetime, now: datetime) -> ChatGroup:
    """The date group of a chat last changed at ``moment``, seen at ``now`` (aware datetimes;
    days begin at midnight in ``now``'s time zone). A moment ahead of ``now`` (another
    machine's clock) is today's."""
    return _DayStarts.at(now).group_of(moment)


def chat_group(summary: SessionSummary, now: datetime) -> ChatGroup:
    """The group a chat is listed in: Pinned if pinned, else its date group."""
    return ChatGroup.PINNED if summary.is_pinned else date_group(summary.last_modified_date, now)


def group_chats(entries: Iterable[SessionEntry], now: datetime) -> list[ChatSection]:
    """Chats in their groups, in the groups' order (Pinned first), each newest-modified first;
    empty groups are left out."""
    starts = _DayStarts.at(now)
    pinned: list[SessionEntry] = []
    today: list[SessionEntry] = []
    yesterday: list[SessionEntry] = []
    week: list[SessionEntry] = []
    older: list[SessionEntry] = []
    # Written out rather than through ``group_of``: ten thousand chats are grouped per listing.
    for entry in entries:
        summary = entry.summary
        moment = summary.last_modified_date
        if summary.is_pinned:
            pinned.append(entry)
        elif moment >= starts.today:
            today.append(entry)
        elif moment >= starts.yesterday:
            yesterday.append(entry)
        elif moment >= starts.week:
            week.append(entry)
        else:
            older.append(entry)
    sections: list[ChatSection] = []
    for group, members in (
        (ChatGroup.PINNED, pinned),
        (ChatGroup.TODAY, today),
        (ChatGroup.YESTERDAY, yesterday),
        (ChatGroup.PREVIOUS_7_DAYS, week),
        (ChatGroup.OLDER, older),
    ):
        if members:
            # Nearly free on the store's order (already newest first); right on any other.
            members.sort(key=_modified, reverse=True)
            sections.append(ChatSection(group, tuple(members)))
    return sections


def _modified(entry: SessionEntry) -> datetime:
    return entry.summary.last_modified_date


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


def export_file_name(session: Session | SessionSummary, fmt: ExportFormat) -> str:
    """A file name to suggest for exporting ``session``: its title, made safe, and the suffix."""
    stem = _FILE_NAME_UNSAFE.sub(" ", plain_title(session.title))
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
    without one, ending marks the session ABANDONED_BY_USER in the store directly. ``clock``
    says what time it is for grouping chats by date (an aware datetime; the machine's local
    time by default).
    """

    def __init__(
        self,
        store: Store,
        *,
        ender: SessionEnder | None = None,
        undo_window_s: float = DEFAULT_UNDO_WINDOW_S,
        clock: Callable[[], datetime] = local_now,
    ) -> None:
        self._store = store
        self._ender = ender
        self._undo_window_s = undo_window_s
        self._clock = clock
        self._pending: dict[str, _PendingDeletion] = {}

    def now(self) -> datetime:
        """What time it is for the chat list's date groups."""
        return self._clock()

    def group_of(self, summary: SessionSummary) -> ChatGroup:
        """The group a chat is listed in now."""
        return chat_group(summary, self.now())

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
        """Sessions pinned first, then newest-modified first, of one assistant or of all
        (``None``).

        Leaves out sessions deleted but still undoable, and those with fewer than
        ``min_messages`` messages (GPT Lab's resume list used 3: "more than 2").
        """
        # The store cuts at its limit before we filter, so ask for enough to fill ours.
        is_filtered = min_messages > 0
        fetch_limit = None if limit is None or is_filtered else limit + len(self._pending)
        summaries = await self._store.list_session_summaries(bot_id=assistant_id, limit=fetch_limit)
        names = await self._assistant_names()
        pending = self._pending
        entries = [
            SessionEntry(s, names.get(s.bot_id or "", ""))
            for s in summaries
            if s.id not in pending and s.message_count >= min_messages
        ]
        return entries if limit is None else entries[: max(limit, 0)]

    async def list_chats(
        self,
        assistant_id: str | None = None,
        *,
        limit: int | None = None,
        min_messages: int = 0,
    ) -> list[ChatSection]:
        """The chat list: ``list_sessions`` in its groups (Pinned, Today, Yesterday, Previous 7
        days, Older) by the library's clock."""
        entries = await self.list_sessions(assistant_id, limit=limit, min_messages=min_messages)
        return group_chats(entries, self.now())

    async def get_entry(self, session_id: str) -> SessionEntry | None:
        """The session with this id and its assistant's name; ``None`` if gone or deleted."""
        if session_id in self._pending:
            return None
        session = await self._store.get_session(session_id)
        if session is None:
            return None
        return SessionEntry(SessionSummary.of(session), await self._assistant_name(session))

    async def search(
        self, query: str, *, limit: int = SEARCH_HIT_LIMIT
    ) -> list[SessionSearchResult]:
        """Search every cached session: first those whose title holds every word of ``query``
        (as listed: pinned, then newest first), then those whose messages match (full text,
        in the order of their best hit); each with its hits, best first.

        Deleted (still undoable) sessions are left out.
        """
        hits = await self._store.search_messages(query, limit=limit)
        entries = await self.list_sessions(limit=None)
        by_id = {entry.session_id: entry for entry in entries}
        grouped: dict[str, list[SearchHit]] = {}
        for hit in hits:
            # A session deleted (or being deleted) is not listed, so neither are its hits.
            if hit.session_id in by_id:
                grouped.setdefault(hit.session_id, []).append(hit)
        results = [
            SessionSearchResult(entry, tuple(grouped.pop(entry.session_id, ())))
            for entry in TitleIndex(entries).matching(query)
        ]
        results += [
            SessionSearchResult(by_id[session_id], tuple(session_hits))
            for session_id, session_hits in grouped.items()
        ]
        return results

    async def _assistant_names(self) -> dict[str, str]:
        assistants = await self._store.list_assistants(include_archived=True)
        return {assistant.id: assistant.name for assistant in assistants}

    async def _assistant_name(self, session: Session | SessionSummary) -> str:
        if session.bot_id is None:
            return ""
        assistant = await self._store.get_assistant(session.bot_id)
        return assistant.name if assistant is not None else ""

    # -- changing -----------------------------------------------------------------------------
    async def rename(self, session_id: str, title: str) -> str:
        """Give a session a title, as plain text on one line (Markdown taken out, whitespace
        collapsed, at most ``TITLE_MAX`` characters); returns the stored title."""
        cleaned = plain_title(title)[:TITLE_MAX].strip()
        if not cleaned:
            raise InvalidTitle()
        self._require_not_deleted(session_id)
        await self._store.rename_session(session_id, cleaned)
        return cleaned

    async def pin(self, session_id: str, is_pinned: bool = True) -> None:
        """Pin a chat to the top of the chat list (or unpin it, ``is_pinned=False``); where it
        goes by date does not change."""
        self._require_not_deleted(session_id)
        await self._store.pin_session(session_id, is_pinned)

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
