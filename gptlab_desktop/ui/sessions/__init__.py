"""The sessions panel: browse, search, rename, export, end and delete (with undo) past sessions.

``panel.SessionPanel`` is the widget the window embeds; its rows come from ``model``
(``SessionPanelModel``), drawn by ``delegate``; ``search``, ``actions``, ``export`` and
``undo_bar`` are its parts. ``roles`` holds what every list of sessions shares.
"""
