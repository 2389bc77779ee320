"""GPT Lab Desktop: chat with AI assistants and build your own, natively."""

from __future__ import annotations

__version__ = "0.1.0"
