"""An AI provider's SDK client for the key in use, kept by that provider's ``LlmClient``.

The SDKs are slow to import (anthropic ~1.6 s, openai ~0.4 s) and their clients slow to build
(a TLS context), so ``import_sdk`` and ``SdkClientHolder`` do both in a worker thread, never
at module import and never on the event loop. The holder builds the client again when the key
changes, and lets requests wait for a saved key still being read from the keyring.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Generic, Protocol, TypeVar

from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import LlmError

log = logging.getLogger(__name__)

_SDK_IMPORT_LOCK = threading.Lock()


def import_sdk(name: str) -> ModuleType:
    """The SDK module ``name`` (``"anthropic"``), imported by one thread at a time.

    A warm-up and a first request (a key being checked) may import it from two worker threads
    at once; Python's import locks then break the pydantic import cycle by handing one thread a
    half-initialised module, and the import fails.
    """
    with _SDK_IMPORT_LOCK:
        return importlib.import_module(name)


class ClosableClient(Protocol):
    """What the holder needs of an SDK client: a way to close its connections."""

    async def close(self) -> None:
        """Close the HTTP connections."""
        ...


ClientT = TypeVar("ClientT", bound=ClosableClient)


class SdkClientHolder(Generic[ClientT]):
    """The SDK client sending the key in use, built off the loop on first use.

    ``build`` makes a client for a key (in a worker thread); ``missing_key`` is the error a
    request gets while there is no key; ``on_key_change`` runs when another key is used (to
    forget what the old key was told, such as its model list).
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        build: Callable[[str], ClientT],
        missing_key: Callable[[], LlmError],
        on_key_change: Callable[[], None],
    ) -> None:
        self._api_key = api_key
        self._build = build
        self._missing_key = missing_key
        self._on_key_change = on_key_change
        # The key being read (the keyring may take seconds): requests wait for it, nothing else.
        self._pending_key: asyncio.Future[str | None] | None = None
        self._client: ClientT | None = None
        self._building = asyncio.Lock()

    @property
    def api_key(self) -> str | None:
        """The key sent now (None: none is set)."""
        return self._api_key

    @property
    def is_building(self) -> bool:
        """Whether a client is being built in a worker thread right now."""
        return self._building.locked()

    async def use_key(self, api_key: str | None) -> None:
        """Send ``api_key`` from now on (a key saved or removed in Settings)."""
        self._pending_key = None
        await self._switch_key(api_key)

    def use_key_when_read(self, api_key: Awaitable[str | None]) -> None:
        """Send the key that ``api_key`` gives once it is read; requests wait for it till then.

        A failed read means no key (the request then says what is missing).
        """
        self._pending_key = asyncio.ensure_future(api_key)

    async def client(self) -> ClientT:
        """The client for the key in use, built in a worker thread the first time.

        It is kept only if the key did not change while it was being built (a key saved while
        the warm-up builds one); otherwise it is dropped and built again with the new key.
        Raises ``missing_key()`` while there is no key.
        """
        await self._settle_key()
        while self._client is None:
            async with self._building:  # a chat and a key check may start together
                if self._client is not None:
                    break
                api_key = self._api_key
                if api_key is None:
                    raise self._missing_key()
                client = await run_blocking(self._build, api_key)
                if api_key == self._api_key and self._client is None:
                    self._client = client
                else:
                    await client.close()
        return self._client

    async def close(self) -> None:
        """Close the client's HTTP connections (a later request builds a new one)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _settle_key(self) -> None:
        """Wait for a key still being read, and use it."""
        pending = self._pending_key
        if pending is None:
            return
        try:
            key = await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise
            key = None
        except Exception:
            log.warning("Reading the saved API key failed", exc_info=True)
            key = None
        if self._pending_key is pending:  # not replaced by a key chosen meanwhile
            self._pending_key = None
            await self._switch_key(key)

    async def _switch_key(self, api_key: str | None) -> None:
        if api_key == self._api_key:
            return
        await self.close()
        self._api_key = api_key
        self._on_key_change()
