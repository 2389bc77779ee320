"""The editor's background work: named tasks, and the busy state and reporting around lab calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from gptlab_desktop.models import ValidationError
from gptlab_desktop.services.aio import TaskGroupByName
from gptlab_desktop.services.errors import ServiceError
from gptlab_desktop.ui.editor.questions import show_error

log = logging.getLogger(__name__)


class EditorWork(QObject):
    """Runs the editor's tasks by name (a new one replaces its namesake) and says how they went.

    ``guarded`` work marks the editor busy while it runs, and a failure is told in the status
    line (and, for a service error, a message box) rather than raised.
    """

    #: The editor became busy or idle.
    busyChanged = Signal()

    def __init__(self, status_label: QLabel, parent: QWidget) -> None:
        super().__init__(parent)
        self._status_label = status_label
        self._parent = parent
        self._is_busy = False
        self.tasks = TaskGroupByName()

    @property
    def is_busy(self) -> bool:
        """Whether a load, save or lifecycle change is under way."""
        return self._is_busy

    def set_busy(self, busy: bool, status: str | None = None) -> None:
        """Mark the editor busy or idle, with the status to show (else the status is kept)."""
        self._is_busy = busy
        if status is not None:
            self._status_label.setText(status)
        self.busyChanged.emit()

    def start(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as the task ``name``."""
        return self.tasks.start(name, coro)

    async def guarded(self, doing: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` with the editor busy; a service error is shown, never raised."""
        self.set_busy(True, f"{doing}…")
        try:
            await work()
        except ServiceError as error:
            log.warning("%s failed: %s", doing, type(error).__name__)
            self._status_label.setText(f"{doing} failed: {error.message}")
            show_error(self._parent, error)
        except ValidationError as error:
            self._status_label.setText(f"{doing} failed: {error}")
        finally:
            self.set_busy(False)

    async def cancel_all(self) -> None:
        """Cancel every task (the editor closed) and wait until they have stopped."""
        await self.tasks.cancel_all()
