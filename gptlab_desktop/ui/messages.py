"""The one place where errors and store problems become what the user reads.

Services raise typed errors (``services/errors.py``) whose text is already a sentence for the
user; this module decides how it is shown: a line in the status bar, and a message box opened
with ``open()`` (never ``exec()``, which would nest an event loop inside a coroutine). Anything
untyped is a bug: the user gets a plain sentence, the log gets the traceback.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStatusBar, QWidget

from gptlab_desktop.models import FailureKind, MessageDetails
from gptlab_desktop.services.errors import ServiceError, StoreUnavailable
from gptlab_desktop.services.store.base import StoreHealth
from gptlab_desktop.services.sync_status import SyncState, SyncStatus

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

    from gptlab_desktop.services.llm_api import RetryNotice

log = logging.getLogger(__name__)

# How long a transient status bar message stays, in milliseconds.
STATUS_TIMEOUT_MS = 8000


class Severity(Enum):
    """How serious a message is; decides the icon of its box."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A title and a sentence for the user, with its severity."""

    title: str
    text: str
    severity: Severity = Severity.ERROR


def describe_error(error: BaseException) -> UserMessage:
    """What the user reads for ``error``: its own sentence if typed, a generic one if not."""
    if isinstance(error, StoreUnavailable):
        return UserMessage(
            error.title, f"{error.message}\n\nThe app keeps running without your saved data."
        )
    if isinstance(error, ServiceError):
        return UserMessage(error.title, error.message)
    return UserMessage(
        "Something went wrong",
        f"An unexpected error occurred. Details are in the log file{_log_file_hint()}.",
    )


def describe_failure(error: BaseException, *, doing: str) -> UserMessage:
    """Log ``error`` raised while ``doing`` and return what the user reads about it.

    Typed errors are expected (a wrong key, a lost connection): one line, never their text,
    which could quote a server. Anything else is a bug: logged with its traceback.
    """
    if isinstance(error, ServiceError):
        log.warning("%s failed: %s", doing, type(error).__name__)
    else:
        log.error("%s failed unexpectedly", doing, exc_info=error)
    return describe_error(error)


def _log_file_hint() -> str:
    """Where the app's log file is, as `` (path)``, found from the configured handler."""
    for handler in reversed(logging.getLogger().handlers):
        if isinstance(handler, logging.FileHandler) and handler.baseFilename != os.devnull:
            return f" ({handler.baseFilename})"
    return ""


# Why a reply is interrupted, by the kind stored with it: worded here, when shown, so a better
# wording reaches old messages too.
_FAILURE_TEXT = {
    FailureKind.MISSING_API_KEY: "no API key is set; add one in Settings → Providers",
    FailureKind.INVALID_API_KEY: "the AI service did not accept your API key",
    FailureKind.MODEL_NOT_AVAILABLE: "the model is not available with your API key",
    FailureKind.RATE_LIMITED: "the AI service was busy with too many requests",
    FailureKind.QUOTA_EXHAUSTED: "your API key has run out of quota or credit",
    FailureKind.CONTEXT_TOO_LONG: "the conversation is longer than the model can read",
    FailureKind.REQUEST_REJECTED: "the AI service refused the request",
    FailureKind.SERVER_ERROR: "the AI service had a problem on its side",
    FailureKind.TIMEOUT: "the AI service stopped answering in time",
    FailureKind.CONNECTION_LOST: "the connection to the AI service was lost",
    FailureKind.SERVER_UNREACHABLE: "the AI service could not be reached",
    FailureKind.AI_SERVICE: "the AI service could not answer",
    FailureKind.STORAGE: "the reply could not be saved",
}
_STOPPED_TEXT = "stopped before the reply was complete"


def failure_text(kind: FailureKind) -> str:
    """Why a reply was cut short, as a clause ("the connection … was lost")."""
    return _FAILURE_TEXT[kind]


def interruption_text(details: MessageDetails) -> str:
    """Why an interrupted reply stopped; empty when nothing is known (a crash)."""
    if details.failure is not None:
        return failure_text(details.failure)
    return _STOPPED_TEXT if details.stopped else ""


# How a complete reply ended, where that is worth a mark under it.
_CUT_AT_LENGTH_TEXT = "Cut at the length limit"
_FILTERED_TEXT = "Stopped by the provider's content filter"


def reply_mark_text(details: MessageDetails) -> str:
    """The mark under a complete reply that did not end on its own; empty when it did."""
    if details.is_cut_at_length:
        return _CUT_AT_LENGTH_TEXT
    if details.is_filtered:
        return _FILTERED_TEXT
    return ""


def retry_cause(notice: RetryNotice) -> str:
    """Why a request waits before it is tried again."""
    return "Rate limited" if notice.is_rate_limit else "The AI service failed"


def retry_text(notice: RetryNotice, remaining_s: int | None = None) -> str:
    """The countdown to a retry: ``remaining_s`` seconds (None: the whole wait) to go."""
    seconds = max(1, math.ceil(notice.wait_s)) if remaining_s is None else remaining_s
    if seconds <= 0:
        return f"{retry_cause(notice)} — retrying now…"
    return f"{retry_cause(notice)} — retrying in {seconds} s…"


def describe_store_problem(health: StoreHealth) -> UserMessage:
    """What the user reads when the store opened but cannot be used this run."""
    # The store's sentence names the file and says it was left untouched.
    problem = health.problem or "Your data could not be opened."
    return UserMessage(
        StoreUnavailable.title,
        f"{problem}\n\nThe showcased assistants are shown read-only, and nothing is saved "
        "this run.",
        Severity.WARNING,
    )


def store_status_text(health: StoreHealth) -> str:
    """The status bar's permanent line about the store: its path, or its problem."""
    if health.is_usable:
        return f"Data: {health.path}" if health.path else "Data: ready"
    return health.problem or "Your data could not be opened."


def sync_status_text(status: SyncStatus) -> str:
    """The status bar's words for the sync: where the data is, what waits, what went wrong."""
    waiting = f"{status.pending:,} change{'s' if status.pending != 1 else ''} waiting"
    if status.state is SyncState.LOCAL:
        return "Data kept on this computer only"
    if status.state is SyncState.SYNCING:
        return f"Syncing… ({waiting})" if status.pending else "Syncing…"
    if status.state is SyncState.OFFLINE:
        suffix = f" ({waiting}; they are sent when it is back)" if status.pending else ""
        return f"Offline{suffix}"
    if status.state is SyncState.PROBLEM:
        return f"Sync problem: {status.reason}" if status.reason else "Sync problem"
    return f"Synced ({waiting})" if status.pending else "Synced"


class MessagePresenter:
    """Shows messages for one window: its status bar and message boxes parented to it."""

    def __init__(self, parent: QWidget, status_bar: QStatusBar) -> None:
        self._parent = parent
        self._status_bar = status_bar

    def show_status(self, text: str, timeout_ms: int = STATUS_TIMEOUT_MS) -> None:
        """A transient line in the status bar."""
        self._status_bar.showMessage(text, timeout_ms)

    def show_message(self, message: UserMessage, *, object_name: str = "messageBox") -> QMessageBox:
        """Put ``message`` in the status bar and in a box that does not block the caller."""
        # Imported here: the window paints without ever needing a message box.
        from PySide6.QtWidgets import QMessageBox

        self.show_status(message.text.split("\n", 1)[0])
        icons = {
            Severity.INFO: QMessageBox.Icon.Information,
            Severity.WARNING: QMessageBox.Icon.Warning,
            Severity.ERROR: QMessageBox.Icon.Critical,
        }
        box = QMessageBox(
            icons[message.severity],
            message.title,
            message.text,
            QMessageBox.StandardButton.Ok,
            self._parent,
        )
        box.setObjectName(object_name)
        box.setAccessibleName(message.title)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_error(self, error: BaseException, *, doing: str) -> QMessageBox:
        """Report ``error`` raised while ``doing`` (logged; untyped errors with a traceback)."""
        return self.show_message(
            describe_failure(error, doing=doing), object_name="errorMessageBox"
        )

    def show_store_problem(self, health: StoreHealth) -> QMessageBox:
        """Report a store that cannot be used this run."""
        log.warning("Store unavailable: %s", health.problem)
        return self.show_message(describe_store_problem(health), object_name="storeProblemBox")
