"""Dialogs of the application shell (template gallery, recovery offer)."""
