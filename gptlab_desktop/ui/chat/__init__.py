"""The chat: its transcript (model, delegate, view) and the pane around it."""
