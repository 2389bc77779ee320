"""Changing the open chat's model and temperature, and keeping the picker's list of models.

The picker says what the user wants; this asks the session engine for it in the background
(``SessionEngine.change_model``), one change at a time with the latest wish winning, so quick
changes (a model, then the temperature) are all applied and none cancels another halfway.
The models are asked of every provider (``Providers.all_models``) in the background too: once
when a session first opens, and again whenever the picker's list is about to show.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from gptlab_desktop.models import Session
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.chat import SessionEngine
from gptlab_desktop.services.providers import Providers
from gptlab_desktop.ui.chat.model_choices import model_choices
from gptlab_desktop.ui.chat.model_picker import ModelPicker

log = logging.getLogger(__name__)

_CHANGE_TASK = "model"
_LIST_TASK = "models"


@dataclass(frozen=True, slots=True)
class _Wish:
    """The model, provider and temperature the user last asked for in one session."""

    session_id: str
    model: str
    provider_id: str | None
    temperature: float


class ModelSwitcher(QObject):
    """Applies the picker's choices to the open chat, and fills the picker with models."""

    #: A chat's model or temperature changed: the session as stored now.
    sessionChanged = Signal(object)
    #: A change could not be made: the error (the session keeps what it had).
    failed = Signal(object)

    def __init__(
        self,
        engine: SessionEngine,
        providers: Providers,
        picker: ModelPicker,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._providers = providers
        self._picker = picker
        self._tasks = TaskGroupByName()
        self._wish: _Wish | None = None
        self._has_listed = False

    # -- the list -------------------------------------------------------------------------
    def list_models(self) -> asyncio.Task[None]:
        """Ask every provider for its models in the background (one asking at a time)."""
        running = self._tasks.running(_LIST_TASK)
        if running is not None:
            return running
        self._picker.show_loading()
        return self._tasks.start(_LIST_TASK, self._list_models())

    def list_models_once(self) -> asyncio.Task[None] | None:
        """List the models unless they were listed already (a session opened)."""
        if self._has_listed:
            return None
        return self.list_models()

    def listing(self) -> asyncio.Task[None] | None:
        """The asking under way, if any (tests wait on it)."""
        return self._tasks.running(_LIST_TASK)

    async def _list_models(self) -> None:
        try:
            listings = await self._providers.all_models()
        except Exception:
            # Each provider's failure is part of the answer; anything else is a bug.
            log.exception("Listing the providers' models failed")
            return
        self._has_listed = True
        names = [(profile.id, profile.name) for profile in self._providers.profiles]
        self._picker.set_choices(model_choices(listings), names)

    # -- changes --------------------------------------------------------------------------
    def want(
        self,
        session: Session,
        *,
        model: str | None = None,
        provider_id: str | None = None,
        temperature: float | None = None,
    ) -> asyncio.Task[None]:
        """Ask for a change to the chat's model (on a provider) or temperature; what is not
        given stays as last asked for (or as the session has it)."""
        config = session.bot_model_config
        base = self._wish
        if base is None or base.session_id != session.id:
            base = _Wish(session.id, config.model, session.provider_id, config.temperature)
        self._wish = _Wish(
            session.id,
            model if model is not None else base.model,
            provider_id if provider_id is not None else base.provider_id,
            temperature if temperature is not None else base.temperature,
        )
        running = self._tasks.running(_CHANGE_TASK)
        if running is not None:
            return running  # it takes the new wish once the change in hand is stored
        return self._tasks.start(_CHANGE_TASK, self._apply_wishes())

    def changing(self) -> asyncio.Task[None] | None:
        """The change under way, if any: a reply waits for it, to be sent with the choice."""
        return self._tasks.running(_CHANGE_TASK)

    def forget_wishes(self) -> None:
        """Drop a wish not yet applied (the session it was for is gone)."""
        self._wish = None

    async def _apply_wishes(self) -> None:
        while self._wish is not None:
            wish = self._wish
            try:
                session = await self._engine.change_model(
                    wish.session_id,
                    wish.model,
                    provider_id=wish.provider_id,
                    temperature=wish.temperature,
                )
            except Exception as error:
                if self._wish == wish:
                    self._wish = None
                self.failed.emit(error)
                continue
            if self._wish == wish:
                self._wish = None
            self.sessionChanged.emit(session)

    async def aclose(self) -> None:
        """Cancel the asking and the change under way."""
        self._wish = None
        await self._tasks.cancel_all()
