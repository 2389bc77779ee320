"""Storage: one async repository interface with SQLite (default, and cache) and Firestore."""

from __future__ import annotations

from gptlab_desktop.services.store.base import ShowcaseEntry, Store, StoreHealth

__all__ = ["ShowcaseEntry", "Store", "StoreHealth"]
