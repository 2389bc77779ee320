"""Typed errors raised by services; each carries the sentence a user should read.

The UI turns them into messages in one place (``ui/messages.py``); services never show anything.
Messages never contain secrets or message bodies.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a service raises on purpose; ``str(error)`` is for the user."""

    title = "Something went wrong"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreError(ServiceError):
    """The store could not do what was asked."""

    title = "Storage problem"


class StoreUnavailable(StoreError):
    """The store cannot be used at all this run (the app still starts, read-only or empty)."""

    title = "Your data could not be opened"


class StoreCorrupt(StoreUnavailable):
    """The database file is damaged; it is left untouched for the user to recover."""


class StoreTooNew(StoreUnavailable):
    """The database was written by a newer version of the app; it is left untouched."""


class NotFound(StoreError):
    """An id that names nothing (perhaps deleted meanwhile)."""

    title = "Not found"


class ReadOnlyAssistant(StoreError):
    """Showcased assistants cannot be changed, only duplicated."""

    title = "Showcased assistant"
