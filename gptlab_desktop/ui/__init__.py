"""PySide6 widgets, item models and dialogs. No business logic, no backend imports."""
