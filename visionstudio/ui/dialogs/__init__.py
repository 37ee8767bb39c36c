"""Dialogs of the application shell (new project, template gallery, recovery offer)."""
