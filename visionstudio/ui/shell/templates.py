"""Template documents for File › New, the welcome page's cards and the app's start.

One place turns a template that cannot be read into a sentence for the user, so the
shell, the welcome page and the New dialog all depend on this module and never on
each other.
"""

from __future__ import annotations

from visionstudio.core.project import ProjectDocument, ProjectFormatError
from visionstudio.core.templates import load_template


class TemplatesUnavailable(RuntimeError):
    """A template's file is missing or cannot be loaded; the message says which and why."""


def template_document(key: str) -> ProjectDocument:
    """A fresh document of template ``key``; raises TemplatesUnavailable with the reason."""
    try:
        return load_template(key)
    except (KeyError, ProjectFormatError, OSError) as exc:
        raise TemplatesUnavailable(f"template {key!r} cannot be loaded: {exc}") from exc
