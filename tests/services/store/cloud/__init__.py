"""Tests of gptlab_desktop.services.store.cloud."""
