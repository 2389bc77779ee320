"""Requests made before the data is open: accepted, shown as waiting, carried out once it is.

Nothing the user asks for during start-up is refused: ``PendingRequests.defer`` keeps the
request, sets the busy cursor and says "Opening your data…" with what will happen; ``release``
carries every request out in the order asked, once the data is open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gptlab_desktop.ui.messages import MessagePresenter

log = logging.getLogger(__name__)

OPENING_TEXT = "Opening your data…"


class PendingRequests:
    """What the user asked for while the data opened, in order."""

    def __init__(self, messages: MessagePresenter) -> None:
        self._messages = messages
        self._requests: list[Callable[[], object]] = []

    def __len__(self) -> int:
        return len(self._requests)

    def defer(self, request: Callable[[], object], what: str) -> None:
        """Keep ``request`` until ``release``; ``what`` says what then happens."""
        if not self._requests:
            QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._requests.append(request)
        self._messages.show_status(f"{OPENING_TEXT} {what}")

    def release(self) -> None:
        """The data is open: carry out every request, in the order asked."""
        requests, self._requests = self._requests, []
        if not requests:
            return
        QApplication.restoreOverrideCursor()
        self._messages.show_status("")
        for request in requests:
            try:
                request()
            except Exception:
                log.exception("A request made while the data opened failed")

    def drop(self) -> None:
        """Forget every request (the window is closing)."""
        if self._requests:
            self._requests = []
            QApplication.restoreOverrideCursor()
