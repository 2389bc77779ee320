"""``python -m gptlab_desktop`` runs the app."""

from __future__ import annotations

import sys

from gptlab_desktop.app import main

sys.exit(main())
