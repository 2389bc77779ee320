"""Each provider profile's API key, in the keyring (one entry, JSON by profile id).

The built-in OpenAI profile keeps the key it always had (``SecretName.OPENAI_API_KEY``, owned
by ``services/account.py``, with ``OPENAI_API_KEY`` from the environment winning); every other
profile's key is here, under its profile's id. Nothing here logs or repeats a key.

Qt-free; the keyring is reached through ``SecretStore`` (off the event loop, bounded).
"""

from __future__ import annotations

import asyncio
import json
import logging

from gptlab_desktop.services.secrets import SecretName, SecretStore

log = logging.getLogger(__name__)


class ProviderKeys:
    """Get, save and forget a profile's key; one change at a time."""

    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._lock = asyncio.Lock()

    async def get(self, profile_id: str) -> str | None:
        """The key saved for that profile, or None."""
        return (await self._read()).get(profile_id)

    async def save(self, profile_id: str, key: str) -> None:
        """Save ``key`` for that profile, replacing any other."""
        key = key.strip()
        if not key:
            raise ValueError("The API key is empty.")
        async with self._lock:
            keys = await self._read()
            keys[profile_id] = key
            await self._secrets.set(SecretName.PROVIDER_API_KEYS, json.dumps(keys))
        log.info("Saved the API key of provider %s", profile_id)

    async def forget(self, profile_id: str) -> None:
        """Forget that profile's key (nothing happens when none is saved)."""
        async with self._lock:
            keys = await self._read()
            if keys.pop(profile_id, None) is None:
                return
            if keys:
                await self._secrets.set(SecretName.PROVIDER_API_KEYS, json.dumps(keys))
            else:
                await self._secrets.delete(SecretName.PROVIDER_API_KEYS)
        log.info("Forgot the API key of provider %s", profile_id)

    async def _read(self) -> dict[str, str]:
        text = await self._secrets.get(SecretName.PROVIDER_API_KEYS)
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("The saved provider keys could not be read; they are ignored")
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and v}
