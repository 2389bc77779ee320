"""The initial prompt's token count: counted once typing pauses, off the event loop."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from gptlab_desktop.services.aio import TaskGroupByName, run_blocking
from gptlab_desktop.services.model_catalog import context_window
from gptlab_desktop.services.tokens import CHARS_PER_TOKEN_ESTIMATE, TokenCounter

# Counting a long prompt's tokens waits until typing pauses, then runs off the loop.
TOKEN_COUNT_DELAY_MS = 300
# What the count assumes while no model is chosen.
_DEFAULT_MODEL = "gpt-4o-mini"
_TASK = "tokens"


class PromptTokenCount(QObject):
    """Counts a prompt's tokens for the chosen model and says how much of its window they fill.

    Without a ``TokenCounter`` the count is an estimate from the prompt's length.
    """

    #: A count finished (``tokens`` holds it).
    counted = Signal()

    def __init__(
        self,
        prompt_edit: QPlainTextEdit,
        label: QLabel,
        model: Callable[[], str],
        *,
        token_counter: TokenCounter | None,
        tasks: TaskGroupByName,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._prompt_edit = prompt_edit
        self._label = label
        self._model = model
        self._token_counter = token_counter
        self._tasks = tasks
        self._tokens: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TOKEN_COUNT_DELAY_MS)
        self._timer.timeout.connect(self._count)

    @property
    def tokens(self) -> int | None:
        """The prompt's last counted tokens; None until counted again after a change."""
        return self._tokens

    def schedule(self) -> None:
        """Forget the count and count again once typing pauses."""
        self._tokens = None
        self._label.setText("Counting tokens…")
        self._timer.start()

    def stop(self) -> None:
        """Count no more (the dialog closed)."""
        self._timer.stop()

    def _count(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a dialog built outside the app): nothing to count with
        self._tasks.start(_TASK, self._count_now())

    async def _count_now(self) -> None:
        text = self._prompt_edit.toPlainText()
        model = self._model() or _DEFAULT_MODEL
        if self._token_counter is None:
            tokens, how = math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE), "about "
        else:
            # A 2,000-character prompt counts in milliseconds, but the first use of a model's
            # encoding loads it from disk: never on the event loop.
            tokens = await run_blocking(self._token_counter.count, text, model)
            how = ""
        if text != self._prompt_edit.toPlainText():
            return  # typed meanwhile; the next count is scheduled
        self._tokens = tokens
        window = context_window(model)
        self._label.setText(f"{how}{tokens:,} tokens of {model}'s {window:,}-token context window.")
        self.counted.emit()
