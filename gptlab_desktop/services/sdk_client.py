"""An AI provider's SDK client for the key in use, and what every SDK-based ``LlmClient`` shares.

The SDKs are slow to import (anthropic ~1.6 s, openai ~0.4 s) and their clients slow to build
(a TLS context), so ``import_sdk`` and ``SdkClientHolder`` do both in a worker thread, never
at module import and never on the event loop. The holder builds the client again when the key
changes, and lets requests wait for a saved key still being read from the keyring.

``SdkLlmClient`` is the part of an ``LlmClient`` that is the same whatever the provider: the
key and the SDK client (a holder), the warm-up, closing, ``complete`` and the model list asked
once. ``OpenAIClient`` (services/llm.py) and ``AnthropicClient`` build on it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from gptlab_desktop.models import ModelConfig
from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.errors import LlmError
from gptlab_desktop.services.llm_api import ChatTurn, LlmSettings, ModelList, StreamEvent, TextDelta
from gptlab_desktop.services.llm_errors import display_url

log = logging.getLogger(__name__)

# One lock per SDK: importing one never waits for another.
_SDK_IMPORT_LOCKS: dict[str, threading.Lock] = {}


def import_sdk(name: str) -> ModuleType:
    """The SDK module ``name`` (``"anthropic"``), imported by one thread at a time.

    A warm-up and a first request (a key being checked) may import it from two worker threads
    at once; Python's import locks then break the pydantic import cycle by handing one thread a
    half-initialised module, and the import fails.
    """
    with _SDK_IMPORT_LOCKS.setdefault(name, threading.Lock()):
        return importlib.import_module(name)


class SdkHttpClient(Protocol):
    """What is used of an SDK's client here: posting a request, closing its connections."""

    async def post(self, path: str, **options: Any) -> Any:
        """The answer to a request posted to ``path``."""
        ...

    async def close(self) -> None:
        """Close the HTTP connections."""
        ...


ClientT = TypeVar("ClientT", bound=SdkHttpClient)


class SdkClientHolder(Generic[ClientT]):
    """The SDK client sending the key in use, built off the loop on first use.

    ``build`` makes a client for a key (in a worker thread); ``missing_key`` is the error a
    request gets while there is no key; ``on_key_change`` runs when another key is used (to
    forget what the old key was told, such as its model list); ``default_key`` is sent where
    no key is set (None: requests need one).
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        build: Callable[[str], ClientT],
        missing_key: Callable[[], LlmError],
        on_key_change: Callable[[], None],
        default_key: str | None = None,
    ) -> None:
        self._default_key = default_key
        self._api_key = default_key if api_key is None else api_key
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
        if api_key is None:
            api_key = self._default_key
        if api_key == self._api_key:
            return
        await self.close()
        self._api_key = api_key
        self._on_key_change()


class SdkLlmClient(ABC, Generic[ClientT]):
    """The part of an ``LlmClient`` on a provider's SDK that is the same for every provider.

    A subclass names its SDK (``sdk_name``), builds the SDK's client (``_new_client``),
    streams replies (``stream_chat``), fetches the models (``_fetch_models``), names a built-in
    model list (``_fallback_models``) and moderates. ``missing_key`` is the error a request
    gets while there is no key; ``default_key`` is sent where none is set.
    """

    # The SDK's module ("openai", "anthropic"), imported on first use.
    sdk_name: ClassVar[str]

    def __init__(
        self,
        settings: LlmSettings,
        base_url: str,
        *,
        missing_key: Callable[[], LlmError],
        default_key: str | None = None,
    ) -> None:
        self._settings = settings
        self.base_url = base_url
        self._models: ModelList | None = None
        self._clients: SdkClientHolder[ClientT] = SdkClientHolder(
            settings.api_key or None,
            build=self._new_client,
            missing_key=missing_key,
            on_key_change=self._forget_models,
            default_key=default_key,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={display_url(self.base_url)!r})"

    # -- facts -------------------------------------------------------------------------------

    @property
    def has_api_key(self) -> bool:
        """Whether a key is configured (or not needed: a server that needs none gets a
        placeholder)."""
        return self._clients.api_key is not None

    @property
    def cached_models(self) -> ModelList | None:
        """The model list fetched earlier in this client's life, if any."""
        return self._models

    # -- lifecycle ---------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Import the SDK and build its client in a worker thread, off the event loop.

        Both are slow the first time (the import, the client's TLS context ~0.1 s), so doing
        them here keeps the first request from stalling the window.
        """
        await run_blocking(import_sdk, self.sdk_name)
        if self._clients.api_key is not None:
            await self._clients.client()

    async def use_api_key(self, api_key: str | None) -> None:
        """Send ``api_key`` from now on (a key saved or removed in Settings)."""
        await self._clients.use_key(api_key)

    def use_api_key_when_read(self, api_key: Awaitable[str | None]) -> None:
        """Send the key that ``api_key`` gives once it is read; requests wait for it till then.

        Start-up reads the saved key from the keyring, which may take seconds: only the first
        request to the AI service waits for it, never the window or the data. A failed read
        means no key (the request then says what is missing).
        """
        self._clients.use_key_when_read(api_key)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._clients.close()

    @abstractmethod
    def _new_client(self, api_key: str) -> ClientT:
        """The SDK's client sending ``api_key`` (built in a worker thread)."""

    def _client_options(self, sdk: ModuleType, api_key: str) -> dict[str, Any]:
        """What every SDK client is built with: the key, the server, the settings' timeouts."""
        return {
            # Given explicitly, so the SDK reads no key, profile or address of its own.
            "api_key": api_key,
            "base_url": self.base_url,
            "timeout": sdk.Timeout(
                self._settings.timeout_s, connect=self._settings.connect_timeout_s
            ),
            # The client retries itself (services/llm_retry.py), telling the caller each wait.
            "max_retries": 0,
        }

    async def _post_for_events(
        self, client: ClientT, path: str, request: Mapping[str, Any], **options: Any
    ) -> Any:
        """The reply stream to ``request`` posted to ``path`` as plain JSON: the SDK's
        server-sent-event stream, yielding each event's JSON as it came (a dict).

        Not through the SDK's typed calls: their streams build a pydantic model per token where
        a few fields are read. The stream still raises the SDK's errors for error events and
        broken connections. The SDK is loaded by now (``client`` exists), so nothing waits for
        an import on the event loop.
        """
        sdk = importlib.import_module(self.sdk_name)
        return await client.post(
            path,
            body=request,
            cast_to=object,
            stream=True,
            stream_cls=sdk.AsyncStream[object],
            **options,
        )

    # -- chat --------------------------------------------------------------------------------

    @abstractmethod
    def stream_chat(
        self, messages: Sequence[ChatTurn], config: ModelConfig
    ) -> AsyncIterator[StreamEvent]:
        """Retry notices (before any text), the reply's text, then one ``StreamEnd``."""

    async def complete(self, messages: Sequence[ChatTurn], config: ModelConfig) -> str:
        """The whole reply as one string (titles, summaries); retries are waited for silently."""
        parts: list[str] = []
        async for event in self.stream_chat(messages, config):
            if isinstance(event, TextDelta):
                parts.append(event.text)
        return "".join(parts)

    # -- models and keys ---------------------------------------------------------------------

    async def list_models(self) -> ModelList:
        """The models to offer, asked once per client; a flagged built-in list when that fails."""
        if self._models is not None:
            return self._models
        try:
            return await self._fetch_models()
        except LlmError as error:
            log.warning("Could not list the models (%s); offering the built-in list", error.title)
            return ModelList(self._fallback_models(), is_fallback=True)

    async def check_key(self) -> None:
        """Ask the server for its models; raises ``InvalidApiKey`` (and other ``LlmError``)."""
        await self._fetch_models()

    @abstractmethod
    async def _fetch_models(self) -> ModelList:
        """The server's models, kept as ``cached_models``; raises an ``LlmError``."""

    @abstractmethod
    def _fallback_models(self) -> tuple[str, ...]:
        """The built-in list offered when the server cannot be asked."""

    def _forget_models(self) -> None:
        self._models = None
