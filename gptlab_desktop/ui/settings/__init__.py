"""The Settings window (Settings → Preferences…): one module per page, and its opener."""
