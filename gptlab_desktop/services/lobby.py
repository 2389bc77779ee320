"""The lobby's data: open the store, bring the shipped showcase in, list and find assistants.

The lobby has three sections (``LobbySection``): *Showcased*, *Published by others* (in a team's
shared project: other members' assistants, with their author's name) and *Yours*. Publishing
an own assistant to the shared project's lobby is possible only where the storage is such a
project: the composition root says so (``Lobby.publishing_enabled``, ``Lobby.author_name``).

``open`` is the first thing a run does with its data: it opens the store, updates the showcased
assistants from the shipped files, lists the lobby and finds the local user — in that order,
and without the keyring: the user is the store's own (``Store.local_user``), so nothing waits
for a key. A store that cannot be used is not an error here: ``LobbyData`` then carries the
shipped showcase as read-only rows (``showcase_preview``) and says why.

Qt-free; the window shows what it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from gptlab_desktop.models import Assistant, User, utcnow
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.services.store.base import ShowcaseEntry, Store, StoreHealth

log = logging.getLogger(__name__)

# The ids of read-only preview rows: made from the showcase keys, naming no stored record.
SHOWCASE_PREVIEW_PREFIX = "showcase:"


class LobbySection(Enum):
    """The lobby's sections, in display order; the value is the section's label."""

    SHOWCASED = "Showcased"
    PUBLISHED_BY_OTHERS = "Published by others"
    YOURS = "Yours"

    @property
    def label(self) -> str:
        """The section's header, as shown."""
        return self.value

    @classmethod
    def of(cls, assistant: Assistant, user_id: str | None) -> LobbySection:
        """The section ``assistant`` is shown in to the user ``user_id``."""
        if assistant.showcased:
            return cls.SHOWCASED
        if assistant.is_read_only_for(user_id):
            return cls.PUBLISHED_BY_OTHERS
        return cls.YOURS


def in_sections(
    assistants: Iterable[Assistant], user_id: str | None
) -> list[tuple[LobbySection, Assistant]]:
    """``assistants`` with their sections, section by section, each in the order given."""
    # One pass into buckets, no sort: the lobby places 10,000 rows at every fill.
    showcased: list[tuple[LobbySection, Assistant]] = []
    others: list[tuple[LobbySection, Assistant]] = []
    yours: list[tuple[LobbySection, Assistant]] = []
    for assistant in assistants:
        if assistant.showcased:
            showcased.append((_SHOWCASED, assistant))
        elif assistant.is_read_only_for(user_id):
            others.append((_OTHERS, assistant))
        else:
            yours.append((_YOURS, assistant))
    return showcased + others + yours


_SHOWCASED, _OTHERS, _YOURS = (
    LobbySection.SHOWCASED,
    LobbySection.PUBLISHED_BY_OTHERS,
    LobbySection.YOURS,
)


class PublishingUnavailable(ServiceError):
    """Publishing needs a team's shared project as the storage."""

    title = "Publishing is not available"


@dataclass(frozen=True, slots=True)
class LobbyData:
    """What opening the data found: the store's health, the lobby's rows and the user.

    ``user`` is None only when the store is unusable (the rows are then the read-only preview)
    or the user record could not be read (``problems`` says so). ``problems`` are the errors
    that did not stop the lobby — the showcase could not be updated, the list not read.
    """

    health: StoreHealth
    assistants: list[Assistant]
    user: User | None
    problems: list[tuple[str, ServiceError]] = field(default_factory=list)

    @property
    def is_usable(self) -> bool:
        """Whether the store opened: sessions can be started and assistants changed."""
        return self.health.is_usable


class Lobby:
    """The assistants of the lobby, read from the store."""

    def __init__(
        self, store: Store, *, publishing_enabled: bool = False, author_name: str | None = None
    ) -> None:
        self._store = store
        self._health: StoreHealth | None = None
        # From the storage mode: True only for an account of a team's shared project, where a
        # published assistant has a lobby to appear in (fixed for a run: another account or
        # storage reopens the window).
        self.publishing_enabled = publishing_enabled
        # The signed-in user's display name, written on what they publish (None: not known).
        self.author_name = author_name

    @property
    def health(self) -> StoreHealth | None:
        """How the store opened; None before ``open``."""
        return self._health

    async def open(self, showcase: Sequence[ShowcaseEntry]) -> LobbyData:
        """Open the store, update the showcase, list the lobby and find the local user."""
        health = await self._store.open()
        self._health = health
        if not health.is_usable:
            # Never touch the file; what ships is still worth showing.
            log.warning("The store is not usable; showing the showcase read-only")
            return LobbyData(health, showcase_preview(showcase), None)
        problems: list[tuple[str, ServiceError]] = []
        try:
            await self._store.sync_showcase(showcase)
        except ServiceError as error:
            # The lobby still shows whatever the store has.
            problems.append(("Updating the showcased assistants", error))
        user: User | None = None
        try:
            user = await self._store.local_user()
        except ServiceError as error:
            problems.append(("Finding your user record", error))
        try:
            assistants = await self._store.list_assistants()
        except ServiceError as error:
            problems.append(("Reading the assistants", error))
            assistants = []
        return LobbyData(health, assistants, user, problems)

    async def assistants(self) -> list[Assistant]:
        """The lobby's assistants, as the store orders them; raises ``ServiceError``."""
        return await self._store.list_assistants()

    async def assistant(self, assistant_id: str) -> Assistant | None:
        """One assistant, or None when it no longer exists."""
        return await self._store.get_assistant(assistant_id)

    async def publish(self, assistant_id: str) -> Assistant:
        """Publish an own assistant to the shared project's lobby, under ``author_name``.

        Its prompts and settings become readable by every member (say so before calling);
        its sessions and messages stay the user's. ``PublishingUnavailable`` unless
        ``publishing_enabled``; ``ReadOnlyAssistant`` for one that is not the user's.
        """
        return await self._set_published(assistant_id, True)

    async def unpublish(self, assistant_id: str) -> Assistant:
        """Take an own assistant out of the shared project's lobby."""
        return await self._set_published(assistant_id, False)

    async def _set_published(self, assistant_id: str, published: bool) -> Assistant:
        if not self.publishing_enabled:
            raise PublishingUnavailable(
                "Assistants can be published only to a team's shared project: choose one in "
                "Settings → Storage…."
            )
        assistant = await self._store.set_assistant_published(
            assistant_id, published, author_name=self.author_name
        )
        log.info("Assistant %s", "published" if published else "unpublished")
        return assistant


def showcase_preview(entries: Sequence[ShowcaseEntry]) -> list[Assistant]:
    """The shipped showcased assistants as read-only lobby rows, for when no store is usable.

    Nothing is stored: the ids are made from the showcase keys and name no stored record.
    """
    now = utcnow()
    assistants = [
        Assistant(
            id=f"{SHOWCASE_PREVIEW_PREFIX}{entry.key}",
            name=entry.draft.name,
            tag_line=entry.draft.tag_line,
            description=entry.draft.description,
            session_type=entry.draft.session_type,
            creator_user_id=None,
            created_date=now,
            last_modified_date=now,
            active_initial_prompt_id="",
            active_model_config_id="",
            active_summary_prompt_id="",
            showcased=True,
            guards_prompt_leak=entry.draft.guards_prompt_leak,
            showcase_key=entry.key,
        )
        for entry in entries
    ]
    # The store's order: by name.
    return sorted(assistants, key=lambda assistant: assistant.name.casefold())
